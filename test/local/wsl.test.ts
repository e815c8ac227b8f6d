// WSL detection and what envserve tells WSL users, against fixture /proc trees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { detectWsl, lanCommands, wslNotes } from '../../src/apply/local/wsl.js';
import { FIXTURES, envDir, runCli, stateDirEnv } from './cli-helpers.js';

const proc = (name: string) => join(FIXTURES, 'proc', name);
const eth0 = { eth0: [{ address: '172.28.144.5', netmask: '255.255.240.0', family: 'IPv4' as const, mac: '00:15:5d:00:00:01', internal: false, cidr: '172.28.144.5/20' }] };

test('detects WSL2 and WSL1 from the kernel release; plain Linux is not WSL', () => {
  assert.deepEqual(detectWsl(proc('wsl2'), eth0), { version: 2, kernelRelease: '5.15.153.1-microsoft-standard-WSL2', vmAddress: '172.28.144.5' });
  assert.equal(detectWsl(proc('wsl1'), {})?.version, 1);
  assert.equal(detectWsl(proc('linux'), eth0), undefined);
  assert.equal(detectWsl(join(FIXTURES, 'proc', 'missing'), eth0), undefined);
});

test('Windows-side URLs and warnings', () => {
  const wsl = detectWsl(proc('wsl2'), eth0)!;
  const notes = wslNotes(wsl, [
    { name: 'jupyter', address: '127.0.0.1', port: 1234, protocol: 'http' },
    { name: 'v6', address: '::', port: 2000, protocol: 'tcp' },
    { name: 'vm', address: '172.28.144.5', port: 3000, protocol: 'http' },
  ]);
  assert.match(notes[0]!, /^from Windows: http:\/\/localhost:1234\/ \(WSL2 forwards localhost/);
  assert.match(notes[1]!, /v6 listens on IPv6 \[::\]:2000 only; .*--listen 127\.0\.0\.1/);
  assert.match(notes[2]!, /http:\/\/172\.28\.144\.5:3000\/ \(bound to 172\.28\.144\.5 only/);
  assert.match(notes[3]!, /mirrored networking/);
  const v1 = wslNotes(detectWsl(proc('wsl1'), {})!, [{ name: 'j', address: '127.0.0.1', port: 1234, protocol: 'http' }]);
  assert.match(v1[0]!, /WSL1 shares Windows' network: open http:\/\/localhost:1234\//);
});

test('--lan commands: portproxy to the WSL address and a firewall rule, with the undo commands', () => {
  const wsl = detectWsl(proc('wsl2'), eth0)!;
  const cmds = lanCommands(wsl, [{ name: 'jupyter', address: '0.0.0.0', port: 1234, protocol: 'http' }]);
  assert.deepEqual(cmds, [
    '# run in an elevated PowerShell on Windows (the WSL address changes when WSL restarts):',
    'netsh interface portproxy add v4tov4 listenport=1234 listenaddress=0.0.0.0 connectport=1234 connectaddress=172.28.144.5',
    'netsh advfirewall firewall add rule name="envserve jupyter 1234" dir=in action=allow protocol=TCP localport=1234',
    '# to undo:',
    'netsh interface portproxy delete v4tov4 listenport=1234 listenaddress=0.0.0.0',
    'netsh advfirewall firewall delete rule name="envserve jupyter 1234"',
  ]);
  // a loopback-only listener cannot be reached by portproxy: say what to change
  const lo = lanCommands(wsl, [{ name: 'jupyter', address: '127.0.0.1', port: 1234, protocol: 'http' }]);
  assert.match(lo[1]!, /listens on 127\.0\.0\.1 only: .*--listen 0\.0\.0\.0/);
});

test('the CLI in (fixture) WSL prints the Windows URL and, with --lan, the netsh commands without running them', async () => {
  const file = envDir(`
def serve():
    host.bind(env_port=9, host_port=0, protocol="http")
`);
  const env = { ...stateDirEnv(), ENVSERVE_PROC_ROOT: proc('wsl2') };
  const { startCli } = await import('./cli-helpers.js');
  const up = startCli(['serve', '-f', file, '--lan', '--listen', '0.0.0.0'], env);
  try {
    const m = await up.waitFor(/note: from Windows: http:\/\/localhost:(\d+)\//);
    await up.waitFor(/Press Ctrl-C/);
    assert.match(up.out(), new RegExp(`netsh interface portproxy add v4tov4 listenport=${m[1]} listenaddress=0\\.0\\.0\\.0 connectport=${m[1]} connectaddress=`));
    assert.match(up.out(), /netsh advfirewall firewall add rule name="envserve /);
  } finally {
    up.proc.kill('SIGTERM');
  }
  assert.equal(await up.exited, 0);
  // outside WSL --lan explains instead
  const plain = await runCli(['serve', '-f', file, '--lan', '--probe-interval', '100'], { ...stateDirEnv(), ENVSERVE_PROC_ROOT: proc('linux') }, 5000);
  assert.match(plain.stdout, /--lan: not in WSL/);
});
