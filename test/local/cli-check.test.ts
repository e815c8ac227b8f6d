// `envserve check` for the local runtime, with real processes and sockets: up running → every check
// passes and says where the app listens; the app killed → ProcessNotRunning / NotListening, exit 1;
// up not running → NotRunning with the command to start it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, runCli, startCli, stateDirEnv, envDir } from './cli-helpers.js';
import type { CheckReport } from '../../src/check/types.js';

test('local runtime: up running passes (process, listener address, proxy); the app killed is found; up stopped says NotRunning', async () => {
  const env = stateDirEnv();
  const appPort = await freePort();
  const hostPort = await freePort();
  const file = envDir(`def build():
    base(os="ubuntu20.04", language="python")
    runtime.daemon(commands=[["python3", "-m", "http.server", "${appPort}", "--bind", "127.0.0.1"]])

def serve():
    host.bind(env_port=${appPort}, host_port=${hostPort}, protocol="http")
`, 'checklocal');
  // --no-restart: the killed app stays down for check to find (up would start it again after 1 s).
  const up = startCli(['up', '-f', file, '--no-restart'], env);
  try {
    await up.waitFor(/Press Ctrl-C/);
    let r: CheckReport | undefined;
    for (let i = 0; i < 40; i++) {
      const c = await runCli(['check', '-f', file, '-o', 'json'], env);
      r = JSON.parse(c.stdout) as CheckReport;
      if (c.code === 0) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    assert.equal(r!.ok, true, JSON.stringify(r!.checks));
    const byId = (id: string) => r!.checks.find((c) => c.id === id)!;
    assert.equal(byId('up.running').status, 'pass');
    assert.equal(r!.checks.find((c) => c.id.startsWith('process.'))!.status, 'pass');
    assert.match(byId('env.listening').message, new RegExp(`listens on 127\\.0\\.0\\.1:${appPort} \\(pid \\d+ \\S*python3`));
    assert.equal(byId('probe.local.listen').reason, 'Answers');
    assert.deepEqual(r!.exposures.map((e) => e.verdict), ['answers']);

    // Kill the app behind the proxy: check finds it.
    const status = JSON.parse((await runCli(['status', '-f', file, '-o', 'json'], env)).stdout);
    process.kill(status.processes[0].pid, 'SIGKILL');
    let bad: { code: number | null; stdout: string } | undefined;
    for (let i = 0; i < 40; i++) {
      bad = await runCli(['check', '-f', file], env);
      if (bad.code === 1) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    assert.equal(bad!.code, 1, bad!.stdout);
    assert.match(bad!.stdout, /=> ProcessNotRunning: \S+ is not running/);
    assert.match(bad!.stdout, /FAIL\s+local\s+env\.listening\s+NotListening\s+nothing listens on port/);
  } finally {
    up.proc.kill('SIGTERM');
    await up.exited;
  }
  const stopped = await runCli(['check', '-f', file], env);
  assert.equal(stopped.code, 1);
  assert.match(stopped.stdout, /NotRunning\s+envserve up is not running/);
  assert.match(stopped.stdout, /fix: envserve up -f /);
});
