#!/usr/bin/env node
// npm run release:dry — what .github/workflows/release.yml does on a tag, except the pushes:
//   1. build, `npm pack`, install the tarball into a clean prefix (`npm i -g --prefix`) and fail
//      on any install-script warning (the install must run no script and build nothing native);
//   2. from that install: `envserve --version`, `plan` and `up` of examples/local/build.envd (a
//      copy on free ports, so parallel runs do not collide), the exposure answered, then SIGINT
//      and nothing left listening;
//   3. the image from the Dockerfile with Podman: BASE is an image made here from local files
//      (no registry is reachable for images): busybox, the node binary running this script, its
//      libraries, and the npm running it — cached by their content hash; then `envserve
//      --version` and `envserve probe` in the image.
// Last line: `release:dry: {...}` (a JSON summary), read by test/docker/release-dry.test.ts.
//
// Usage: node scripts/release-dry.mjs [--no-build]   (--no-build: dist/ was just built)
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
const T0 = Date.now();
const work = mkdtempSync(join(tmpdir(), 'envserve-release-dry-'));
const summary = { version: pkg.version, steps: {} };
const log = (m) => console.log(`release:dry: ${m}`);
const fail = (m) => {
  console.error(`release:dry: FAILED: ${m}`);
  process.exitCode = 1;
  throw new Error(m);
};
// The node running this script is the one the installed CLI and the image's base use.
const NODE_DIR = dirname(process.execPath);
const PATH = `${NODE_DIR}:${process.env.PATH}`;

/** run(), without blocking: the image builds while the package is installed and tried. */
function runAsync(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { ...opts, env: { ...process.env, PATH, ...opts.env } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.once('exit', (code, sig) => resolve({ code: code ?? sig, out }));
  });
}
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts, env: { ...process.env, PATH, ...opts.env } });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0 && !opts.allowFail) fail(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${out.slice(-4000)}`);
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', out };
}
async function step(name, fn) {
  const t = Date.now();
  log(`${name}...`);
  const r = await fn();
  summary.steps[name] = Date.now() - t;
  return r;
}
function treeBytes(p) {
  const st = lstatSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((n, e) => n + treeBytes(join(p, e)), 0);
}
function freePort() {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}
const accepts = (port) => new Promise((res) => {
  const s = net.connect(port, '127.0.0.1');
  s.once('connect', () => (s.destroy(), res(true)));
  s.once('error', () => res(false));
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- 1. the package ---------------------------------------------------------------------------
async function pack() {
  const packed = await step('pack', () => JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO }).stdout)[0]);
  summary.tarball = { file: packed.filename, bytes: packed.size, unpackedBytes: packed.unpackedSize, files: packed.entryCount };
  const prefix = join(work, 'prefix');
  const inst = await step('install', () =>
    run('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', join(work, packed.filename)], { cwd: work }));
  console.log(inst.out.trim().replace(/^/gm, '  npm: '));
  // npm ≥ 11 leaves install scripts unrun and says so ("install-scripts"); older npm runs them
  // (node-gyp, prebuild-install): either way the install is not clean.
  const warnings = inst.out.split('\n').filter((l) => /install-scripts|install script|node-gyp|gyp (info|ERR)|prebuild/i.test(l));
  summary.installWarnings = warnings;
  const root = join(prefix, 'lib', 'node_modules', pkg.name);
  summary.installedBytes = treeBytes(root);
  summary.installedPackages = readdirSync(join(root, 'node_modules')).flatMap((d) => (d.startsWith('@') ? readdirSync(join(root, 'node_modules', d)) : [d])).length;
  log(`installed ${(summary.installedBytes / 1e6).toFixed(1)} MB, ${summary.installedPackages} packages`);
  if (warnings.length) fail(`the install printed install-script warnings:\n${warnings.join('\n')}`);
  return join(prefix, 'bin', 'envserve');
}

// ---- 2. the CLI from the install ------------------------------------------------------------
async function cliFromInstall(bin) {
  const version = run(bin, ['--version']).stdout.trim();
  summary.installedVersion = version;
  if (version !== pkg.version) fail(`envserve --version printed ${JSON.stringify(version)}, package.json says ${pkg.version}`);
  // The example on free ports: it names host port 1234 and env port 8888.
  const [hostPort, envPort] = [await freePort(), await freePort()];
  const src = readFileSync(join(REPO, 'examples/local/build.envd'), 'utf8');
  const text = src.replaceAll('host_port=1234', `host_port=${hostPort}`).replaceAll('8888', String(envPort));
  if (!text.includes(`host_port=${hostPort}`) || !text.includes(`env_port=${envPort}`)) fail('examples/local/build.envd no longer binds host_port=1234 to env_port=8888: update release-dry');
  const dir = join(work, 'example');
  mkdirSync(dir);
  const file = join(dir, 'build.envd');
  writeFileSync(file, text);
  const env = { ENVSERVE_STATE_DIR: join(work, 'state') };
  await step('plan', () => {
    const p = run(bin, ['plan', '-f', file], { env });
    if (!p.stdout.includes(String(hostPort))) fail(`plan does not show host port ${hostPort}:\n${p.stdout}`);
  });
  await step('up', async () => {
    const up = spawn(bin, ['up', '-f', file], { env: { ...process.env, PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    up.stdout.on('data', (d) => (out += d));
    up.stderr.on('data', (d) => (out += d));
    const exited = new Promise((r) => up.once('exit', (code, sig) => r(code ?? sig)));
    try {
      for (let i = 0; i < 300 && !/Press Ctrl-C/.test(out) && up.exitCode === null; i++) await sleep(100);
      if (!/Press Ctrl-C/.test(out)) fail(`up did not come up within 30 s:\n${out}`);
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = await new Promise((r) => http.get(`http://127.0.0.1:${hostPort}/`, (res) => (res.resume(), r(res.statusCode))).once('error', () => r(0)));
        if (status !== 200) await sleep(100);
      }
      if (status !== 200) fail(`the exposure on 127.0.0.1:${hostPort} did not answer 200 (got ${status}):\n${out}`);
      summary.upAnswered = status;
    } finally {
      up.kill('SIGINT');
    }
    const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout')]);
    if (code !== 0) fail(`up did not exit 0 on SIGINT (${code}):\n${out}`);
    // Nothing left: neither the exposure nor the environment's own server listens.
    for (const p of [hostPort, envPort]) if (await accepts(p)) fail(`port ${p} still accepts connections after up stopped`);
    summary.upStoppedClean = true;
  });
}

// ---- 3. the image ---------------------------------------------------------------------------
const CACHE = join(process.env.ENVSERVE_TESTENV_CACHE || join(homedir(), '.cache', 'envserve-testenv'), 'release');

/** A private Podman store under the cache: the same layers whether run alone or by the tests. */
function podmanEnv() {
  mkdirSync(CACHE, { recursive: true });
  const conf = join(CACHE, 'containers.conf');
  writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  const storage = join(CACHE, 'storage.conf');
  writeFileSync(storage, `[storage]\ndriver="overlay"\ngraphroot="${CACHE}/storage"\nrunroot="${CACHE}/runroot"\n`);
  return { CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage };
}
const podman = (args, opts = {}) => run('podman', args, { ...opts, env: { ...podmanEnv(), ...opts.env } });

function hashFiles(files) {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex').slice(0, 12);
}
/** Shared libraries `ldd` lists for a binary. */
function libsOf(bin) {
  return [...run('ldd', [bin]).stdout.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((m) => m[1]);
}

/** The base image: busybox for sh, this node and its libraries, this npm. Tag carries the hash. */
function baseImage() {
  const nodeBin = realpathSync(process.execPath);
  const npmCli = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)
    ? realpathSync(process.env.npm_execpath)
    : realpathSync(run('sh', ['-c', 'command -v npm']).stdout.trim());
  const npmDir = dirname(dirname(npmCli));
  const busybox = '/bin/busybox';
  if (!existsSync(busybox)) fail('/bin/busybox is missing (apt-get install busybox-static)');
  // The machine's trust store (a base image has its own; here a TLS-inspecting proxy signs the
  // registry's certificate, and `npm ci` in the build needs to trust it).
  const caBundle = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'].find((f) => existsSync(f));
  const key = hashFiles([nodeBin, join(npmDir, 'package.json'), busybox, fileURLToPath(import.meta.url), ...(caBundle ? [caBundle] : [])]);
  const ref = `localhost/envserve-release-base:${key}`;
  if (podman(['image', 'exists', ref], { allowFail: true }).code === 0) return ref;
  for (const old of podman(['images', '--format', '{{.Repository}}:{{.Tag}}', 'localhost/envserve-release-base'], { allowFail: true }).stdout.split('\n').filter(Boolean)) {
    podman(['rmi', '-f', old], { allowFail: true }); // another node or npm: its base is not needed again
  }
  log(`building the base image ${ref} (node ${process.version} from ${nodeBin}, npm from ${npmDir})`);
  const r = join(work, 'base-rootfs');
  for (const d of ['bin', 'tmp', 'root', 'etc', 'usr/bin', 'usr/local/bin', 'usr/local/lib/node_modules']) mkdirSync(join(r, d), { recursive: true });
  chmodSync(join(r, 'tmp'), 0o1777);
  cpSync(busybox, join(r, 'bin/busybox'));
  for (const a of run(busybox, ['--list']).stdout.split('\n').filter(Boolean)) if (!existsSync(join(r, 'bin', a))) symlinkSync('busybox', join(r, 'bin', a));
  symlinkSync('/bin/busybox', join(r, 'usr/bin/env')); // package bins start with #!/usr/bin/env node
  cpSync(nodeBin, join(r, 'usr/local/bin/node'));
  for (const lib of libsOf(nodeBin)) if (!existsSync(join(r, lib))) cpSync(realpathSync(lib), join(r, lib), { recursive: true });
  cpSync(npmDir, join(r, 'usr/local/lib/node_modules/npm'), { recursive: true });
  writeFileSync(join(r, 'usr/local/bin/npm'), '#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js "$@"\n', { mode: 0o755 });
  writeFileSync(join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:65532:65532::/tmp:/bin/sh\n');
  writeFileSync(join(r, 'etc/group'), 'root:x:0:\n');
  writeFileSync(join(r, 'etc/nsswitch.conf'), 'hosts: files dns\n');
  const ca = '/etc/ssl/certs/ca-certificates.crt';
  if (caBundle) cpSync(caBundle, join(r, ca));
  const changes = ['ENV PATH=/usr/local/bin:/usr/bin:/bin', ...(caBundle ? [`ENV NODE_EXTRA_CA_CERTS=${ca}`] : []), 'CMD ["node"]'];
  run('sh', ['-c', 'chmod -R a+rX "$0" && tar -C "$0" -c . | podman import -q "$@" - "$REF" >/dev/null', r, ...changes.flatMap((c) => ['--change', c])], { env: { ...podmanEnv(), REF: ref } });
  rmSync(r, { recursive: true, force: true });
  return ref;
}

/** The build context: the files git knows (tracked, or new and not ignored), as a fresh checkout has them. */
function context() {
  const dir = join(work, 'context');
  const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO }).stdout.split('\0').filter(Boolean);
  for (const f of files) {
    if (!existsSync(join(REPO, f))) continue; // deleted, not yet committed
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(REPO, f), join(dir, f));
  }
  return dir;
}

/** Starts the image build; resolves to its tag once built. */
async function buildImage() {
  if (run('sh', ['-c', 'command -v podman'], { allowFail: true }).code !== 0) fail('podman is missing (apt-get install podman runc)');
  // The build cache stays a day (the `npm ci` layer is what saves time); older layers go.
  podman(['image', 'prune', '-f', '--filter', 'until=24h'], { allowFail: true });
  const base = await step('base image', () => baseImage());
  const tag = `localhost/envserve:${pkg.version}-dry-${process.pid}`; // runs side by side do not share it
  const ctx = context();
  const t = Date.now();
  log('image build (in the background)...');
  const b = await runAsync('podman', ['build', '-q', '--pull=never', '--network=host', '--build-arg', `BASE=${base}`, '-t', tag, '-f', 'Dockerfile', ctx], { env: podmanEnv() });
  summary.steps['image build'] = Date.now() - t;
  if (b.code !== 0) fail(`podman build exited ${b.code}:\n${b.out.slice(-4000)}`);
  return tag;
}

async function tryImage(tag) {
  summary.image = tag;
  const version = podman(['run', '--rm', '--network=host', tag, '--version']).stdout.trim();
  summary.imageVersion = version;
  if (version !== pkg.version) fail(`envserve --version in the image printed ${JSON.stringify(version)}, package.json says ${pkg.version}`);
  // probe from inside the image, to a server of ours on this machine (host network).
  const srv = http.createServer((_q, s) => s.end('release-dry\n')).listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  try {
    const spec = JSON.stringify([{ id: 'here', host: '127.0.0.1', port: srv.address().port, protocol: 'http' }]);
    const p = await step('image probe', () => new Promise((res) => {
      const c = spawn('podman', ['run', '--rm', '--network=host', tag, 'probe', '--json', '--spec', spec], { env: { ...process.env, ...podmanEnv() } });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      c.once('exit', (code) => res({ code, out }));
    }));
    const line = p.out.split('\n').find((l) => l.startsWith('{"envserveProbe":'));
    const result = line && JSON.parse(line).results[0];
    summary.imageProbe = result;
    if (p.code !== 0 || !result?.ok) fail(`envserve probe in the image did not succeed (exit ${p.code}):\n${p.out}`);
  } finally {
    srv.close();
    podman(['rmi', tag], { allowFail: true }); // its layers stay in the build cache
  }
}

try {
  log(`envserve ${pkg.version}, node ${process.version}, work folder ${work}`);
  if (!process.argv.includes('--no-build')) await step('build', () => run('npm', ['run', 'build'], { cwd: REPO }));
  const built = buildImage();
  built.catch(() => undefined); // awaited below; a failure is reported there
  const bin = await pack();
  await cliFromInstall(bin);
  await tryImage(await built);
  // What release.yml would push from here (it checks that src/version.ts names the same image).
  summary.notPushed = { image: `ghcr.io/envserve/envserve:${pkg.version} (linux/amd64, linux/arm64)`, npm: `${pkg.name}@${pkg.version}` };
  summary.seconds = Math.round((Date.now() - T0) / 1000);
  summary.ok = true;
} catch (e) {
  if (!process.exitCode) {
    console.error(`release:dry: FAILED: ${e.stack ?? e}`);
    process.exitCode = 1;
  }
  summary.ok = false;
} finally {
  rmSync(work, { recursive: true, force: true });
  console.log(`release:dry: ${JSON.stringify(summary)}`);
}
