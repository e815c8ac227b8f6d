// The library example (examples/library/k8s-up.ts) as a user of the package meets it: compiled by
// tsc in a folder of its own where `envserve` is an installed package (node_modules/envserve → this
// repository, so imports go through package.json's exports map to dist/ and its .d.ts), then run
// against the test cluster: its port-forwards answer from the pod with the pod's own bytes, and it
// stops cleanly on SIGTERM. The docs quote the example verbatim (a ```ts block in README.md or docs/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest, podAnswer, startApp, tcpEcho } from './cluster.js';
import { createNamespace, deleteNamespace, env, waitReadyPod, writeEnvFile } from './expose-lib.js';

const REPO = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const EXAMPLE = join(REPO, 'examples/library/k8s-up.ts');
const work = mkdtempSync(join(tmpdir(), 'envserve-library-'));
const stateDir = mkdtempSync(join(tmpdir(), 'envserve-library-state-'));
let ns: string;
let child: ChildProcess | undefined;

before(async () => {
  ns = createNamespace('es-lib');
  startApp(env.kubeconfig, ns, 'pod', 'web', { app: 'web' });
  // The package as installed: node_modules/envserve is this repository (its package.json, dist/).
  mkdirSync(join(work, 'node_modules'));
  symlinkSync(REPO, join(work, 'node_modules/envserve'), 'dir');
  writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  copyFileSync(EXAMPLE, join(work, 'k8s-up.ts'));
  writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true,
      types: ['node'], typeRoots: [join(REPO, 'node_modules/@types')], outDir: '.',
    },
    files: ['k8s-up.ts'],
  }));
  await waitReadyPod(ns, 'app=web');
});

after(() => {
  child?.kill('SIGKILL');
  deleteNamespace(ns);
});

test('the example compiles with tsc against the package\'s types, reached through its exports map', () => {
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', work, '--listFiles'], { encoding: 'utf8', cwd: work });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
  const files = r.stdout.split('\n').map((l) => l.trim());
  assert.ok(files.includes(join(REPO, 'dist/index.d.ts')), `'envserve' did not resolve to dist/index.d.ts:\n${files.filter((f) => f.includes('envserve') || f.includes(REPO)).slice(0, 20).join('\n')}`);
  assert.ok(existsSync(join(work, 'k8s-up.js')));
  // The exports map is what resolves it: a deep import by the package's name is refused.
  const deep = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('envserve/dist/index.js')"], { encoding: 'utf8', cwd: work });
  assert.notEqual(deep.status, 0);
  assert.match(deep.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
});

test('the compiled example runs `up` on the test cluster: its port-forwards answer from the pod with the pod\'s bytes, and SIGTERM stops it', async () => {
  assert.ok(existsSync(join(work, 'k8s-up.js')), 'the compile test runs first');
  const file = writeEnvFile('libweb', `
def build():
    base(image="envserve.test/backed:1")
def serve():
    cloud.k8s.bind(env_port=8080, host_port=0, name="http")
    cloud.k8s.bind(env_port=9000, host_port=0, name="echo", protocol="tcp")
`);
  const c = spawn(process.execPath, [join(work, 'k8s-up.js'), file, `k8s:${ns}/pod/web`], {
    cwd: work,
    env: { ...process.env, KUBECONFIG: env.kubeconfig, ENVSERVE_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = c;
  let out = '';
  let err = '';
  c.stdout!.on('data', (d: Buffer) => (out += d));
  c.stderr!.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
  // One line per exposure once started: "http: http://127.0.0.1:PORT -> … (ready)".
  const lines = await new Promise<string[]>((resolveLines, reject) => {
    const t = setTimeout(() => reject(new Error(`no status lines within 90 s\nstdout: ${out}\nstderr: ${err}`)), 90_000);
    const look = () => {
      const ls = out.split('\n').filter((l) => /^(http|echo): /.test(l));
      if (ls.length === 2) { clearTimeout(t); resolveLines(ls); }
    };
    c.stdout!.on('data', look);
    void exited.then((code) => { clearTimeout(t); reject(new Error(`the example exited (${code}) before it started\nstdout: ${out}\nstderr: ${err}`)); });
  });
  const port = (name: string) => Number(new RegExp(`^${name}: \\w+://127\\.0\\.0\\.1:(\\d+)`).exec(lines.find((l) => l.startsWith(`${name}:`))!)?.[1]);
  assert.ok(port('http') > 0 && port('echo') > 0, lines.join('\n'));
  assert.ok(lines.every((l) => l.endsWith('(ready)')), lines.join('\n'));

  // The pod's server names itself (its hostname is the pod's name) and the port it answered on.
  const answer = podAnswer(await httpRequest('127.0.0.1', port('http'), { path: '/library' }));
  assert.deepEqual({ pod: answer.pod, namespace: answer.namespace, port: answer.port, path: answer.path }, { pod: 'web', namespace: ns, port: 8080, path: '/library' });
  const payload = randomBytes(256 * 1024);
  assert.ok((await tcpEcho('127.0.0.1', port('echo'), payload)).equals(payload), 'the echo port returned other bytes');

  c.kill('SIGTERM');
  assert.equal(await exited, 0, `exit code; stderr: ${err}`);
  child = undefined;
  assert.deepEqual(readdirSync(stateDir).filter((f) => f.endsWith('.json')), [], 'the state record is removed when it stops');
});

test('the docs quote the example verbatim (a ```ts block in README.md or docs/**/*.md)', () => {
  const text = readFileSync(EXAMPLE, 'utf8');
  const mdFiles = [join(REPO, 'README.md'), ...mdUnder(join(REPO, 'docs'))];
  const blocks = mdFiles.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!));
  assert.ok(blocks.includes(text), `no \`\`\`ts block in README.md or docs/ is examples/library/k8s-up.ts verbatim (${blocks.length} ts blocks looked at)`);
});

function mdUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? mdUnder(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : []));
}
