// Tables in the docs that mirror code are written from the code: each sits between
// `<!-- generated: NAME -->` and `<!-- /generated -->`, and test/docs.test.ts fails when one differs
// from what the code gives now. Rewrite them with: npx tsx scripts/doc-tests/generated.ts --write
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, type Option } from 'commander';
import { commands } from '../../src/cli/commands/index.js';
import { PRESETS, PRESET_ALIASES } from '../../src/plan/presets.js';
import { docPages, REPO } from './blocks.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function presetsTable(): string {
  const rows = PRESETS.map((p) => `| \`${p.name}\` | ${p.port} | ${p.protocol} | ${cell(p.description)} | ${p.urlPath ?? '/'} |`);
  const aliases = Object.entries(PRESET_ALIASES).map(([a, n]) => `\`${a}\` → \`${n}\``).join(', ');
  return ['| preset | port | protocol | what | URL path |', '| --- | ---: | --- | --- | --- |', ...rows, '', `Accepted misspellings, with a warning: ${aliases}.`].join('\n');
}

/** The command line as commander knows it: every command and subcommand with its options. */
export function cliProgram(): Command {
  const program = new Command('envserve');
  for (const register of commands) register(program);
  return program;
}

function walk(cmd: Command, prefix: string): { path: string; cmd: Command }[] {
  return cmd.commands.flatMap((c) => [{ path: `${prefix} ${c.name()}`, cmd: c }, ...walk(c, `${prefix} ${c.name()}`)]);
}

function optionRow(o: Option): string {
  const dflt = o.defaultValue === undefined || o.negate ? '' : `\`${String(o.defaultValue)}\``;
  const choices = o.argChoices ? ` (${o.argChoices.join(', ')})` : '';
  return `| \`${cell(o.flags)}\` | ${cell(o.description)}${cell(choices)} | ${dflt} |`;
}

export function cliTables(): string {
  const out: string[] = [];
  for (const { path, cmd } of walk(cliProgram(), 'envserve')) {
    out.push(`### \`${path}\``, '', cell(cmd.description()), '');
    const opts = cmd.options as readonly Option[];
    if (opts.length === 0) out.push('No options.', '');
    else out.push('| option | meaning | default |', '| --- | --- | --- |', ...opts.map(optionRow), '');
  }
  return out.join('\n').trimEnd();
}

export const GENERATORS: Record<string, () => string> = { presets: presetsTable, 'cli-options': cliTables };

const SECTION = /(<!-- generated: ([\w-]+) -->\n)([\s\S]*?)(<!-- \/generated -->)/g;

/** The page with every generated section written from the code now. */
export function regenerate(markdown: string): string {
  return markdown.replace(SECTION, (_m, open: string, name: string, _old: string, close: string) => {
    const gen = GENERATORS[name];
    if (!gen) throw new Error(`unknown generated section "${name}" (known: ${Object.keys(GENERATORS).join(', ')})`);
    return `${open}${gen()}\n${close}`;
  });
}

export function sectionsIn(markdown: string): string[] {
  return [...markdown.matchAll(SECTION)].map((m) => m[2]!);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/')) && process.argv.includes('--write')) {
  for (const page of docPages()) {
    const path = join(REPO, page);
    const before = readFileSync(path, 'utf8');
    const after = regenerate(before);
    if (after !== before) {
      writeFileSync(path, after);
      console.log(`rewrote the generated sections of ${page}`);
    }
  }
}
