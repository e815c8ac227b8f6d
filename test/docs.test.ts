// The docs run: every env file in README.md and docs/*.md goes through `envserve plan` (and
// `render` where tagged), every ```console block that needs no running environment is run against
// its expected output, and the tables that mirror code are the code's (scripts/doc-tests/).
// Scenarios on a runtime run in test/local/docs-scenarios.test.ts and test/k8s/docs-scenarios.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { docPages, kindOf, readBlocks, REPO, untagged, where, type Block } from '../scripts/doc-tests/blocks.js';
import { checkConsole, checkEnvd, checkPolicy, newWorkspace, writeBlockFile, type Workspace } from '../scripts/doc-tests/run.js';
import { cliProgram, regenerate, sectionsIn } from '../scripts/doc-tests/generated.js';
import { ensureBuilt } from './helpers/cli.js';
import { policyFromObject } from '../src/policy/parse.js';

const blocks = readBlocks();

test('every block that shows an env file or an envserve command is tagged to run (or to be skipped, with a reason)', () => {
  assert.deepEqual(blocks.map((b) => [where(b), untagged(b)]).filter(([, why]) => why), []);
  for (const b of blocks.filter((x) => kindOf(x) === 'skip')) assert.ok(b.tags.skip!.length >= 10, `${where(b)}: a skip says why`);
});

test('skipped blocks stay few: at most 10 % of the runnable ones', () => {
  const runnable = blocks.filter((b) => kindOf(b) !== 'other' && kindOf(b) !== 'file');
  const skipped = runnable.filter((b) => kindOf(b) === 'skip');
  console.log(`doc blocks: ${runnable.length} runnable, ${skipped.length} skipped (${skipped.map(where).join(', ')})`);
  assert.ok(runnable.length >= 20, `the docs show ${runnable.length} runnable blocks`);
  assert.ok(skipped.length * 10 <= runnable.length, `${skipped.length} of ${runnable.length} blocks are skipped`);
});

test('every env file, policy and command of the docs does what the docs say', async () => {
  ensureBuilt();
  const problems: string[] = [];
  let ran = 0;
  for (const page of docPages()) {
    let ws: Workspace | undefined;
    for (const b of blocks.filter((x) => x.page === page)) {
      ws ??= newWorkspace();
      const kind = kindOf(b);
      if (kind === 'envd') problems.push(...checkEnvd(ws, b));
      else if (kind === 'policy') problems.push(...checkPolicy(ws, b));
      else if (kind === 'lib' || kind === 'file') writeBlockFile(ws, b);
      else if (kind === 'console' && b.tags.scenario === undefined) problems.push(...(await checkConsole(ws, b)));
      else continue;
      ran++;
    }
  }
  console.log(`doc blocks run here: ${ran}`);
  assert.deepEqual(problems, []);
});

test('scenario blocks name a runtime the scenario tests run', () => {
  const scen = blocks.filter((b) => kindOf(b) === 'console' && b.tags.scenario !== undefined);
  for (const b of scen) assert.ok(['local', 'k8s'].includes(b.tags.scenario!), `${where(b)}: scenario=${b.tags.scenario}`);
  assert.ok(scen.some((b: Block) => b.tags.scenario === 'local') && scen.some((b) => b.tags.scenario === 'k8s'));
});

test('the generated tables are what the code gives now (npx tsx scripts/doc-tests/generated.ts --write)', () => {
  const found: string[] = [];
  for (const page of docPages()) {
    const md = readFileSync(join(REPO, page), 'utf8');
    found.push(...sectionsIn(md));
    assert.equal(md, regenerate(md), `${page}: a generated table differs from the code`);
  }
  assert.deepEqual(found.sort(), ['cli-options', 'presets']);
});

test('the policy reference lists exactly the fields the policy parser accepts', () => {
  // The parser names the fields it knows when it meets an unknown one.
  const known = (spec: object, at: string) => {
    const { errors } = policyFromObject({ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: 'p' }, spec });
    const m = errors.map((e) => new RegExp(`^${at.replace(/\./g, '\\.')}\\.zz: unknown field \\(known: (.*)\\)$`).exec(e)).find(Boolean);
    assert.ok(m, `the parser names its known fields at ${at}: ${errors.join('; ')}`);
    return m[1]!.split(', ');
  };
  const fields = [
    ...known({ zz: 1 }, 'spec'),
    ...known({ ingress: { zz: 1 } }, 'spec.ingress').map((f) => `ingress.${f}`),
  ].filter((f) => f !== 'ingress');
  const md = readFileSync(join(REPO, 'docs/ops.md'), 'utf8');
  const section = md.slice(md.indexOf('## Policy reference'), md.indexOf('\n## ', md.indexOf('## Policy reference') + 1));
  const documented = new Set<string>();
  for (const line of section.split('\n')) {
    const first = /^\|([^|]+)\|/.exec(line)?.[1];
    if (first) for (const f of first.matchAll(/`([\w.]+)`/g)) documented.add(f[1]!.replace(/^ingress\.tls\..*$/, 'ingress.tls'));
  }
  documented.delete('field');
  assert.deepEqual([...documented].sort(), fields.sort());
});

test('every flag an inline `envserve …` of the docs shows is a flag of that command', () => {
  const program = cliProgram();
  const problems: string[] = [];
  let checked = 0;
  for (const page of docPages()) {
    const md = readFileSync(join(REPO, page), 'utf8').replace(/^(`{3,}).*\n[\s\S]*?^\1\s*$/gm, '');
    for (const m of md.matchAll(/`(envserve [^`]+)`/g)) {
      const words = m[1]!.replace(/\\\|/g, '|').split(/\s+/).slice(1);
      let cmd = program;
      for (let sub = cmd.commands.find((c) => c.name() === words[0]); sub; sub = cmd.commands.find((c) => c.name() === words[0])) {
        cmd = sub;
        words.shift();
      }
      if (cmd === program) continue; // `envserve up|serve ...`: a summary of several commands
      const known = new Set(['--help', '-h', ...cmd.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => !!f)]);
      for (const w of words) {
        const flag = /^\[?(--?[a-zA-Z][\w-]*)/.exec(w)?.[1];
        if (flag === undefined) continue;
        checked++;
        if (!known.has(flag)) problems.push(`${page}: \`${m[1]}\`: ${cmd.name()} has no ${flag}`);
      }
    }
  }
  console.log(`inline envserve flags checked: ${checked}`);
  assert.ok(checked > 50);
  assert.deepEqual(problems, []);
});
