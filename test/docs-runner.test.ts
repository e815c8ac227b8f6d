// The doc-test runner fails an example that no longer works: a broken env file, output that
// changed, a wrong exit code, a background command left running, an untagged example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindOf, parseBlocks, untagged } from '../scripts/doc-tests/blocks.js';
import { checkConsole, checkEnvd, newWorkspace, outputMatches, parseConsole } from '../scripts/doc-tests/run.js';
import { ensureBuilt } from './helpers/cli.js';

const page = (md: string) => parseBlocks(md, 'page.md');

test('output matching: [..] within a line, ... for lines, nothing else is loose', () => {
  assert.ok(outputMatches(['a [..] c', '...', 'z'], 'a b c\nx\ny\nz\n'));
  assert.ok(outputMatches(['a', '...'], 'a\n'));
  assert.ok(!outputMatches(['a [..] c'], 'a b d\n'));
  assert.ok(!outputMatches(['a'], 'a\nb\n'), 'an extra line fails');
  assert.ok(!outputMatches(['a', 'b'], 'a\n'), 'a missing line fails');
  assert.ok(!outputMatches(['a.c'], 'abc\n'), 'the rest of a line is literal');
  assert.ok(outputMatches([], ''));
  assert.deepEqual(parseConsole('$ x &\nout\n$ y\n[exit 2]\n').map((s) => [s.cmd, s.background, s.exit, s.expected]), [['x', true, 0, ['out']], ['y', false, 2, []]]);
});

test('tags: info-string words, quoted values, and the comment form for fences that must stay as they are', () => {
  const [a, b, c] = page('```python envd file=x/build.envd render\nx\n```\n<!-- doctest: skip="needs a registry" -->\n```bash\nenvserve up\n```\n```bash\nenvserve plan\n```\n');
  assert.deepEqual([a!.tags, kindOf(a!)], [{ envd: '', file: 'x/build.envd', render: '' }, 'envd']);
  assert.deepEqual([b!.tags.skip, kindOf(b!)], ['needs a registry', 'skip']);
  assert.match(untagged(c!) ?? '', /outside a ```console block/);
  assert.match(untagged(page('```python\ndef build(): pass\n```\n')[0]!) ?? '', /no envd/);
});

test('a broken env file, changed output and a wrong exit code each fail', async () => {
  ensureBuilt();
  const ws = newWorkspace();
  const [good, broken, wrongExit] = page(
    '```python envd file=a/build.envd\ndef build():\n    base(os="ubuntu20.04")\n\ndef serve():\n    host.bind(env_port=8888, host_port=1234)\n```\n' +
      '```python envd\ndef build():\n    base(os="ubuntu20.04")\n\ndef serve():\n    host.bind(env_port=8888, host_prot=1234)\n```\n' +
      '```python envd exit=2 fragment=serve\nhost.bind(env_port=8888, host_port=1234)\n```\n',
  );
  assert.deepEqual(checkEnvd(ws, good!), []);
  assert.match(checkEnvd(ws, broken!).join('\n'), /exited 2, the doc says 0[\s\S]*host_prot/);
  assert.match(checkEnvd(ws, wrongExit!).join('\n'), /exited 0, the doc says 2/);
  const [same, changed, code] = page(
    '```console\n$ envserve plan -f a/build.envd -o json | grep -c host-8888-1234\n1\n```\n' +
      '```console\n$ envserve plan -f a/build.envd -o json | grep -c host-8888-1234\n2\n```\n' +
      '```console\n$ envserve plan -f nowhere.envd\n...\n```\n',
  );
  assert.deepEqual(await checkConsole(ws, same!), []);
  assert.match((await checkConsole(ws, changed!)).join('\n'), /exited 0 \(the doc says 0\) and printed:\n1\n\n--- the doc expects:\n2/);
  assert.match((await checkConsole(ws, code!)).join('\n'), /exited 2 \(the doc says 0\)/);
});

test('a background command still running at the end of its block fails it', async () => {
  const ws = newWorkspace();
  const [b] = page('```console scenario=local\n$ sleep 60 &\n$ true\n```\n');
  const t0 = Date.now();
  assert.match((await checkConsole(ws, b!, { endMs: 1000 })).join('\n'), /still ran at the end of the example/);
  assert.ok(Date.now() - t0 < 10_000);
});
