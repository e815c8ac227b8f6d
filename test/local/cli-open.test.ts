// `envserve open <exposure>` (issue 22) on a real `serve` of the proposal's host example: the
// exposure by name or id opens its URL in the browser ($BROWSER) with no login (it is on this
// machine); an unknown exposure exits 2 [NotFound] naming the ones there are; a file with nothing
// running exits 1 [NotRunning]. The resolution rules for cluster exposures are unit-tested in
// src/cli/open-target.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, seedHostOnFreePort, startCli, stateDirEnv, statusJson, type CliRun } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'envserve-open-'));
const opened = join(dir, 'opened');
const browser = join(dir, 'browser.sh');
const stateEnv = { ...stateDirEnv(), BROWSER: browser };
let file: string;
let port: number;
let serve: CliRun;

before(async () => {
  writeFileSync(browser, `#!/bin/sh\nprintf '%s' "$1" > ${opened}\n`);
  chmodSync(browser, 0o755);
  ({ file, port } = await seedHostOnFreePort());
  serve = startCli(['serve', '-f', file], stateEnv);
  await serve.waitFor(/Press Ctrl-C/);
});

after(async () => {
  serve?.proc.kill('SIGTERM');
  await serve?.exited;
  rmSync(dir, { recursive: true, force: true });
});

test('open <name> and open <id>: the exposure\'s URL goes to the browser, no login on this machine', async () => {
  const { status: s } = await statusJson(file, stateEnv);
  const e = s.exposures[0];
  assert.equal(e.name, 'jupyter');
  for (const which of ['jupyter', e.id]) {
    rmSync(opened, { force: true });
    const r = await runCli(['open', which, '-f', file], stateEnv);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(opened, 'utf8'), e.urls[0]);
    assert.match(e.urls[0], new RegExp(`^http://127\\.0\\.0\\.1:${port}/`));
    assert.match(r.stderr, new RegExp(`opening ${e.urls[0].replace(/[.?]/g, '\\$&')} \\(${e.id}; no login needed\\)`));
  }
});

test('an exposure the environment does not have: exit 2 [NotFound], naming the ones it has; nothing opened', async () => {
  rmSync(opened, { force: true });
  const r = await runCli(['open', 'tensorboard', '-f', file], stateEnv);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /no exposure "tensorboard" in environment seed-host \[NotFound\]/);
  assert.match(r.stderr, /hint: its exposures: host-jupyter-\d+/);
  assert.equal(existsSync(opened), false);
});

test('an env file with nothing running: exit 1 [NotRunning]', async () => {
  const other = join(dir, 'other.envd');
  writeFileSync(other, 'def serve():\n    host.bind(env_port=8888, host_port=0)\n');
  const r = await runCli(['open', 'jupyter', '-f', other], stateEnv);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /nothing is running for .*other\.envd, so it has no exposure "jupyter"/);
});
