// `envserve dashboard`: one page for every environment on this machine, each followed through its
// control socket — two real `envserve up` processes sharing a state folder, in a real browser.
// Environments that stop disappear from the page, new ones appear, and actions go through the
// socket of the right one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { delimiter, join } from 'node:path';
import { envDir, FIXTURES, freePort, startCli, stateDirEnv, type CliRun } from '../local/cli-helpers.js';
import { openBrowser, type Browser } from './browser.js';

const env = { ...stateDirEnv(), PATH: `${join(FIXTURES, 'bin')}${delimiter}${process.env.PATH}` };
const source = (port: number) => `
def build():
    base(os="ubuntu20.04", language="python")
    config.jupyter(password="", port=${port})
    runtime.daemon(commands=[["sh", "-c", "echo hello from ${port}; echo second line; exec sleep 600"]])
def serve():
    host.bind(env_port=${port}, host_port=0)
`;
// Jupyter's ports are picked free: two runs on one machine must not collide.
const [portA, portB] = [await freePort(), await freePort()];
const fileA = envDir(source(portA), 'alpha');
const fileB = envDir(source(portB), 'beta');
const runs: CliRun[] = [];
let b: Browser;

async function up(file: string): Promise<CliRun> {
  const run = startCli(['up', '-f', file], env);
  runs.push(run);
  await run.waitFor(/Press Ctrl-C/, 30_000);
  return run;
}

before(async () => {
  b = await openBrowser('all');
});
after(async () => {
  await b?.close();
  for (const r of runs) if (r.proc.exitCode === null) r.proc.kill('SIGTERM');
  await Promise.all(runs.map((r) => r.exited));
});

test('the dashboard lists every running environment, follows them through their sockets, and drops the ones that stop', async () => {
  await up(fileA);
  const dash = startCli(['dashboard'], env);
  runs.push(dash);
  const url = (await dash.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/, 20_000))[1]!;
  assert.match((await dash.waitFor(/\d+ environments? running/))[0], /^1 environment running/);
  const { page } = b;
  await page.goto(url);
  const sections = page.locator('section[data-env]');
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('section[data-env]').length === 1);
  assert.match((await sections.first().locator('h2').textContent())!, /^alpha$/);
  // Each process with the last lines of its log.
  await page.locator('section[data-env^="alpha-"] .procs pre', { hasText: `hello from ${portA}\nsecond line` }).waitFor({ timeout: 10_000 });

  // A second environment starts: it appears without a reload.
  const beta = await up(fileB);
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('section[data-env]').length === 2, undefined, { timeout: 10_000 });
  const betaSection = page.locator('section[data-env^="beta-"]');
  await betaSection.locator('[data-field=state]', { hasText: 'ready' }).waitFor({ timeout: 10_000 });
  await b.shot('two-envs');

  // An action on beta goes to beta's envserve (through its socket), not alpha's.
  await betaSection.locator('button[data-action=stop]').click();
  await betaSection.locator('[data-field=state]', { hasText: 'stopped' }).waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('section[data-env^="alpha-"] [data-field=state]').textContent(), 'ready');
  await betaSection.locator('button[data-action=start]').click();
  await betaSection.locator('[data-field=state]', { hasText: 'ready' }).waitFor({ timeout: 10_000 });
  await b.shot('beta-restarted');

  // beta's envserve stops: its section goes.
  beta.proc.kill('SIGTERM');
  await beta.exited;
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('section[data-env]').length === 1, undefined, { timeout: 10_000 });
  assert.equal(await page.locator('section[data-env^="beta-"]').count(), 0);
  await b.shot('beta-gone');
  assert.deepEqual(b.offHost, []);
});
