// The real CLI with the docker runtime against a real engine (Podman's Docker-compatible API,
// started by scripts/testenv/podman/up.sh). No engine → these tests fail; they never skip.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { DockerEngine, type Container } from '../../src/apply/docker/client.js';
import { envDir, freePort, httpGetEventually, listening, runCli, seedHostOnFreePort, startCli, stateDirEnv, assertReleased } from '../local/cli-helpers.js';

const IMAGE = process.env.ENVSERVE_TEST_IMAGE ?? '';
let docker: DockerEngine;

before(async () => {
  assert.ok(process.env.DOCKER_HOST, 'DOCKER_HOST is not set: run through scripts/run-tests.mjs, which starts Podman');
  assert.ok(IMAGE, 'ENVSERVE_TEST_IMAGE is not set (scripts/testenv/podman/up.sh writes it)');
  docker = new DockerEngine(process.env.DOCKER_HOST!);
  await docker.ping();
});

/** A running container of testsrv's HTTP server on port 8888 (answering `${reply} /path`) that publishes no ports; removed after `body`. */
async function withTargetContainer(label: string, reply: string, body: (c: Container, name: string) => Promise<void>): Promise<void> {
  const name = `envserve-test-${label}-${process.pid}`;
  const c = await docker.createContainer({ name, Image: IMAGE, Cmd: ['testsrv', 'http', '0.0.0.0:8888', reply] });
  await c.start();
  try {
    await body(c, name);
  } finally {
    await c.remove({ force: true });
  }
}

async function containersFor(file: string) {
  return docker.listContainers({ all: true, filters: { label: [`io.envserve.env-file=${file}`] } });
}

test("the proposal's host example in a container (on a free host port): Jupyter (the image's stand-in) answers, the hash reaches its command line", async () => {
  const env = stateDirEnv();
  const { file, port } = await seedHostOnFreePort();
  const up = startCli(['up', '-f', file, '--runtime', 'docker', '--image', IMAGE], env);
  try {
    await up.waitFor(/Press Ctrl-C/, 30000);
    assert.match(up.out(), new RegExp(`http://127\\.0\\.0\\.1:${port}/\\s+-> container envserve-seed-host-[0-9a-f]{8} port 8888`));
    assert.match(up.out(), /password configured/);
    const res = await httpGetEventually(`http://127.0.0.1:${port}/lab`);
    assert.equal(res.status, 200);
    assert.match(res.body, /^jupyter-standin lab --no-browser --ip=0\.0\.0\.0 --port=8888 --PasswordIdentityProvider\.hashed_password=sha1:[0-9a-f]+:[0-9a-f]{40} .*--allow-root \/lab$/m);
    assert.doesNotMatch(res.body, /=password\b/);
    const [c] = await containersFor(file);
    assert.ok(c, 'a container labelled with the env file');
    assert.equal(c.State, 'running');
    // published by the engine on 127.0.0.1 only
    const info = await docker.getContainer(c.Id).inspect();
    assert.equal(info.HostConfig.PortBindings!['8888/tcp']![0]!.HostIp, '127.0.0.1');
    assert.ok(!JSON.stringify(info.Config).includes('"password"'), 'the password is not in the container config');
  } finally {
    up.proc.kill('SIGTERM');
  }
  assert.equal(await up.exited, 0, up.err());
  assert.deepEqual(await containersFor(file), [], 'SIGTERM removes the container');
  await assertReleased(port, [up.proc.pid]);
});

test('down after up (from another terminal) removes the container and the listener', async () => {
  const env = stateDirEnv();
  const port = await freePort();
  const file = envDir(`
def build():
    base(image="${IMAGE}")
    runtime.daemon(commands=[["testsrv", "http", "0.0.0.0:8080", "env-daemon"]])
def serve():
    host.bind(env_port=8080, host_port=${port}, protocol="http")
`, 'dockerdown');
  const up = startCli(['up', '-f', file, '--runtime', 'docker'], env);
  await up.waitFor(/Press Ctrl-C/, 30000);
  const res = await httpGetEventually(`http://127.0.0.1:${port}/x`);
  assert.equal(res.body, 'env-daemon /x\n');
  const st = await runCli(['status', '-f', file, '-o', 'json'], env);
  const s = JSON.parse(st.stdout);
  assert.equal(s.runtime, 'docker');
  assert.equal(s.container.state, 'running');
  assert.equal(s.exposures[0].state, 'ready');
  const d = await runCli(['down', '-f', file], env);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(await up.exited, 0);
  assert.deepEqual(await containersFor(file), []);
  assert.equal(await listening(port), false);
});

test('a crashed up (SIGKILL) leaves a container; status says stale; down removes it', async () => {
  const env = stateDirEnv();
  const file = envDir(`
def build():
    base(image="${IMAGE}")
    runtime.daemon(commands=[["testsrv", "echo", "0.0.0.0:7000"]])
def serve():
    host.bind(env_port=7000, host_port=0)
`, 'dockercrash');
  const up = startCli(['up', '-f', file, '--runtime', 'docker'], env);
  await up.waitFor(/Press Ctrl-C/, 30000);
  // host_port=0: the engine picked a port, and status reports it
  const s = JSON.parse((await runCli(['status', '-f', file, '-o', 'json'], env)).stdout);
  const port = s.exposures[0].listen.port;
  assert.ok(port > 0);
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  sock.end('echo me');
  let got = '';
  sock.on('data', (d) => (got += d));
  await once(sock, 'end');
  assert.equal(got, 'echo me');
  up.proc.kill('SIGKILL');
  await up.exited;
  assert.equal((await containersFor(file)).length, 1);
  const st = await runCli(['status', '-f', file], env);
  assert.equal(st.code, 1);
  assert.match(st.stdout, /STALE/);
  const d = await runCli(['down', '-f', file], env);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /removed container envserve-dockercrash-/);
  assert.deepEqual(await containersFor(file), []);
  assert.equal(await listening(port), false);
});

test('host port in use: exit 2, nothing created in the engine', async () => {
  const env = stateDirEnv();
  const port = await freePort();
  const holder = net.createServer().listen(port, '127.0.0.1');
  await once(holder, 'listening');
  const file = envDir(`
def build():
    base(image="${IMAGE}")
def serve():
    host.bind(env_port=80, host_port=${port})
`, 'dockerbusy');
  const r = await runCli(['up', '-f', file, '--runtime', 'docker'], env);
  holder.close();
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`host port ${port} is already in use by pid ${process.pid}`));
  assert.deepEqual(await containersFor(file), []);
});

test('serve --target docker:<name> proxies to a running container that publishes no ports', async () => {
  const env = stateDirEnv();
  await withTargetContainer('target', 'inside-the-container', async (c, name) => {
    const port = await freePort();
    const file = envDir(`
def serve():
    host.bind(env_port=8888, host_port=${port}, protocol="http")
`, 'dockertarget');
    const serve = startCli(['serve', '-f', file, '--runtime', 'docker', '--target', `docker:${name}`], env);
    try {
      await serve.waitFor(/Press Ctrl-C/, 30000);
      assert.match(serve.out(), new RegExp(`-> container ${name} 10\\.88\\.\\d+\\.\\d+:8888\\s+ready`));
      const res = await httpGetEventually(`http://127.0.0.1:${port}/hello`);
      assert.equal(res.body, 'inside-the-container /hello\n');
    } finally {
      serve.proc.kill('SIGTERM');
    }
    assert.equal(await serve.exited, 0);
    assert.equal(await listening(port), false);
    // serve does not own the container: it still runs
    assert.equal((await c.inspect()).State.Running, true);
    // an unknown container is a clear user error
    const r = await runCli(['serve', '-f', file, '--target', 'docker:no-such-container'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no container named no-such-container/);
  });
});

test('serve --target docker:<name> follows the container to its new address when it is started again', async () => {
  const env = stateDirEnv();
  await withTargetContainer('readdress', 'the-target', async (c, name) => {
    const port = await freePort();
    const file = envDir(`
def serve():
    host.bind(env_port=8888, host_port=${port}, protocol="http")
`, 'dockerreaddress');
    const serve = startCli(['serve', '-f', file, '--runtime', 'docker', '--target', `docker:${name}`, '--probe-interval', '500'], env);
    try {
      await serve.waitFor(/Press Ctrl-C/, 30000);
      const before = (await c.inspect()).NetworkSettings.IPAddress;
      assert.equal((await httpGetEventually(`http://127.0.0.1:${port}/a`)).body, 'the-target /a\n');
      await c.stop({ t: 0 });
      await c.start();
      const after = (await c.inspect()).NetworkSettings.IPAddress;
      assert.notEqual(after, before, 'the engine gave the container another address (else this test proves nothing)');
      const res = await httpGetEventually(`http://127.0.0.1:${port}/b`, 15000);
      assert.equal(res.body, 'the-target /b\n');
      const status = await runCli(['status', '-f', file, '-o', 'json'], env);
      assert.match(status.stdout, new RegExp(`container ${name} ${after!.replace(/\./g, '\\.')}:8888`));
    } finally {
      serve.proc.kill('SIGTERM');
    }
    assert.equal(await serve.exited, 0);
  });
});

test('serve --target docker: editing the env file adds, changes and removes host.bind exposures while it runs', async () => {
  const env = stateDirEnv();
  await withTargetContainer('reload', 'reloaded', async (c, name) => {
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    const bind = (...ports: number[]) => `
def serve():
${ports.map((p, i) => `    host.bind(env_port=8888, host_port=${p}, protocol="http", name="web${i}")`).join('\n')}
`;
    const file = envDir(bind(p1), 'dockerreload');
    const serve = startCli(['serve', '-f', file, '--runtime', 'docker', '--target', `docker:${name}`, '--probe-interval', '200'], env);
    try {
      await serve.waitFor(/Press Ctrl-C/, 30000);
      assert.equal((await httpGetEventually(`http://127.0.0.1:${p1}/a`)).body, 'reloaded /a\n');
      const { writeFileSync } = await import('node:fs');
      await new Promise((r) => setTimeout(r, 20));
      writeFileSync(file, bind(p1, p2)); // added
      await serve.waitFor(/changed: 1 exposure\(s\) started, 0 stopped, 1 unchanged/, 15000);
      assert.equal((await httpGetEventually(`http://127.0.0.1:${p2}/b`)).body, 'reloaded /b\n');
      writeFileSync(file, bind(p1, p3)); // web1 moves to another port: changed (a new id) → old stopped, new started
      await serve.waitFor(/changed: 1 exposure\(s\) started, 1 stopped, 1 unchanged/, 15000);
      assert.equal((await httpGetEventually(`http://127.0.0.1:${p3}/c`)).body, 'reloaded /c\n');
      assert.equal(await listening(p2), false);
      writeFileSync(file, bind(p3).replace('web0', 'web1')); // p1 removed
      await serve.waitFor(/changed: 0 exposure\(s\) started, 1 stopped, 1 unchanged/, 15000);
      assert.equal(await listening(p1), false);
      const st = JSON.parse((await runCli(['status', '-f', file, '-o', 'json'], env)).stdout);
      assert.deepEqual(st.exposures.map((e: { listen: { port: number } }) => e.listen.port), [p3]);
      // the container stops under the running serve: its exposures say so
      await c.stop({ t: 0 });
      let e: { state: string; reason: string; message?: string } | undefined;
      for (let i = 0; i < 100 && e?.reason !== 'ContainerNotRunning'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        e = JSON.parse((await runCli(['status', '-f', file, '-o', 'json'], env)).stdout).exposures[0];
      }
      assert.equal(e?.reason, 'ContainerNotRunning', JSON.stringify(e));
      assert.equal(e?.state, 'failed');
      assert.match(e!.message!, /container is exited/);
    } finally {
      serve.proc.kill('SIGTERM');
    }
    assert.equal(await serve.exited, 0);
  });
});

test('a process the image lacks is reported (the others still run)', async () => {
  const env = stateDirEnv();
  const port = await freePort();
  const file = envDir(`
def build():
    base(image="${IMAGE}")
    runtime.daemon(commands=[["tensorboard", "--logdir", "/logs"], ["testsrv", "http", "0.0.0.0:8080", "still-here"]])
def serve():
    host.bind(env_port=8080, host_port=${port}, protocol="http")
`, 'dockermissing');
  const up = startCli(['up', '-f', file, '--runtime', 'docker', '--probe-interval', '300'], env);
  try {
    await up.waitFor(/note: tensorboard is not installed in this image \(daemon-1 not started\): use an image that has it/, 30000);
    assert.equal((await httpGetEventually(`http://127.0.0.1:${port}/`)).body, 'still-here /\n');
  } finally {
    up.proc.kill('SIGTERM');
  }
  assert.equal(await up.exited, 0);
  assert.deepEqual(await containersFor(file), []);
});

test('an image the engine does not have and cannot pull: exit 2 with a hint, nothing created', async () => {
  const env = stateDirEnv();
  const file = envDir(`
def serve():
    host.bind(env_port=80, host_port=0)
`, 'dockernoimage');
  const r = await runCli(['up', '-f', file, '--runtime', 'docker', '--image', 'localhost/envserve-no-such-image:1'], env);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /image localhost\/envserve-no-such-image:1 is not here and could not be pulled/);
  assert.match(r.stderr, /hint: pass --image/);
  assert.deepEqual(await containersFor(file), []);
});

/** Runs a command in the container and waits for it. */
async function execIn(id: string, cmd: string[]): Promise<void> {
  const r = await docker.getContainer(id).exec(cmd);
  assert.equal(r.exitCode, 0, r.stderr);
}

async function statusUntil(file: string, env: NodeJS.ProcessEnv, ok: (s: any) => boolean, ms = 30_000): Promise<any> {
  const deadline = Date.now() + ms;
  let s: any;
  while (Date.now() < deadline) {
    const r = await runCli(['status', '-f', file, '-o', 'json'], env);
    s = r.stdout ? JSON.parse(r.stdout) : undefined;
    if (s && ok(s)) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`status never matched: ${JSON.stringify(s)}`);
}

// The daemon keeps its pid where the test can find it and kill it (busybox has no pkill).
const restartEnv = (name: string) => envDir(`
def build():
    base(image="${IMAGE}")
    runtime.daemon(commands=[["sh", "-c", "echo $$ > /tmp/daemon.pid; exec testsrv http 0.0.0.0:8080 env-daemon"]])
def serve():
    host.bind(env_port=8080, host_port=0, protocol="http")
`, name);

test("up's container has a restart policy: its process killed, the engine restarts it; status shows the restart count and the last exit", async () => {
  const env = stateDirEnv();
  const file = restartEnv('dockerrestart');
  const up = startCli(['up', '-f', file, '--runtime', 'docker', '--probe-interval', '500'], env);
  try {
    await up.waitFor(/Press Ctrl-C/, 30000);
    const ready = await statusUntil(file, env, (s) => s.exposures[0].state === 'ready');
    const url = ready.exposures[0].urls[0];
    assert.equal(ready.container.restarts, 0);
    assert.equal(ready.exposures[0].restarts, 0);
    const info = await docker.getContainer(ready.container.id).inspect();
    assert.equal(info.HostConfig.RestartPolicy?.Name, 'unless-stopped');
    const t0 = Date.now();
    await execIn(ready.container.id, ['sh', '-c', 'kill -9 $(cat /tmp/daemon.pid)']);
    // The exit code comes with the engine's 'die' event, which may land a probe round after the restart shows.
    const back = await statusUntil(file, env, (s) => s.container.restarts === 1 && s.exposures[0].state === 'ready' && s.container.lastExit?.code !== undefined);
    console.log(`# docker: process killed -> status ready again with restarts 1 in ${Date.now() - t0} ms (Podman restarts at once; the script notices within 1 s)`);
    assert.equal((await docker.getContainer(ready.container.id).inspect()).RestartCount, 1, "the engine's own count");
    assert.equal(back.container.lastExit.code, 137, 'sh exits with 128 + 9 for the killed process');
    assert.deepEqual([back.exposures[0].restarts, back.exposures[0].lastExit], [1, back.container.lastExit]);
    assert.equal((await httpGetEventually(`${url}x`)).body, 'env-daemon /x\n', 'the same URL answers from the restarted container');
    await up.waitFor(/container envserve-dockerrestart-[0-9a-f]+: running; restarts 1, last exit code 137 at/, 10000);
  } finally {
    up.proc.kill('SIGTERM');
  }
  assert.equal(await up.exited, 0, up.err());
  assert.deepEqual(await containersFor(file), [], 'SIGTERM removes the container (the restart policy does not bring it back)');
});

test('up --runtime docker --no-restart: no restart policy; the killed process stays down', async () => {
  const env = stateDirEnv();
  const file = restartEnv('dockernorestart');
  const up = startCli(['up', '-f', file, '--runtime', 'docker', '--probe-interval', '500', '--no-restart'], env);
  try {
    await up.waitFor(/Press Ctrl-C/, 30000);
    const ready = await statusUntil(file, env, (s) => s.exposures[0].state === 'ready');
    const info = await docker.getContainer(ready.container.id).inspect();
    assert.ok(['', 'no'].includes(info.HostConfig.RestartPolicy?.Name ?? ''), JSON.stringify(info.HostConfig.RestartPolicy));
    await execIn(ready.container.id, ['sh', '-c', 'kill -9 $(cat /tmp/daemon.pid)']);
    await statusUntil(file, env, (s) => s.exposures[0].state !== 'ready');
    await new Promise((r) => setTimeout(r, 3000));
    const s = await statusUntil(file, env, () => true);
    assert.notEqual(s.exposures[0].state, 'ready');
    assert.equal((await docker.getContainer(ready.container.id).inspect()).RestartCount, 0);
    assert.equal(s.container.restarts, 0);
  } finally {
    up.proc.kill('SIGTERM');
  }
  assert.equal(await up.exited, 0, up.err());
});
