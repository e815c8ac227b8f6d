// Kubeconfig forms kubectl accepts, on the real cluster, with kubectl (same file, same variables)
// run beside envserve as the reference: a user's `tokenFile` (rotated to another valid token and to
// an invalid one), `proxy-url` with http://, https:// and socks5://, HTTPS_PROXY + NO_PROXY,
// `tls-server-name`, a server without a scheme (`kubectl proxy`), `insecure-skip-tls-verify` (warned once) and an exec plugin that fails.
// The proxy forms name the API server kube.envserve.test, which resolves only through the test
// proxy (test/helpers/tunnel-proxy.ts), so whatever works went through it; its tunnel counter
// also shows a plain request, a watch and a port-forward upgrade each taking a tunnel of their own.
// Also: exec plugins (v1 with interactiveMode and provideClusterInfo: kubectl and envserve hand the
// plugin the same KUBERNETES_EXEC_INFO; v1beta1 giving a client certificate; one not installed),
// a KUBECONFIG list whose cluster, user and context come from three files (relative paths),
// impersonation (as, as-groups, as-user-extra), in-cluster config (the operator's pod), and forms
// kubectl reads that envserve once refused or read otherwise (YAML 1.1 booleans, merge keys, a key
// written twice, UTF-16; a static credential beside an exec plugin that is not installed; a token
// beside a missing tokenFile; a plugin's stderr shown whatever its interactiveMode).
// Each form: `up` of an env with a port-forward and a ClusterIP Service → bytes through the
// forward (counted by the proxy), `status` Ready, `down` removes everything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { httpRequest, podAnswer, eventually, curlInNetns } from './cluster.js';
import { cli, run } from './cli-proc.js';
import { env, rand, writeEnvFile, createNamespace, deleteNamespace, mustKubectl, ownedObjects, backedDeployment, waitReadyPod, freePort } from './expose-lib.js';
import { TunnelProxy, type ProxyKind } from '../helpers/tunnel-proxy.js';
import { Writable } from 'node:stream';
import { loadKubeClient, KubeApiError, KubeClient } from '../../src/apply/k8s/client.js';
import { loadConfig } from '../../src/apply/k8s/kubeconfig/load.js';
import { Tunnel } from '../../src/apply/k8s/pf/tunnel.js';
import { apply, condition, manifests, OPERATOR_IMAGE, ENVSERVE_CLUSTER_OBJECTS } from './operator-lib.js';

const NAME = 'kube.envserve.test';
const dir = mkdtempSync(join(tmpdir(), 'envserve-kcforms-'));
const admin = YAML.parse(readFileSync(env.kubeconfig, 'utf8'));
const real = new URL(admin.clusters[0].cluster.server as string);
const apiPort = Number(real.port || 443);
const caData = admin.clusters[0].cluster['certificate-authority-data'] as string;
const adminUser = admin.users[0].user as Record<string, string>;
let ns: string;
let pod: string;
const tokens: Record<string, string> = {};
const proxies = {} as Record<ProxyKind, TunnelProxy>;
let bundle: string; // the cluster's CA and the test CA (which signed the https proxy's certificate)

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: dir });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  ns = createNamespace('kcforms');
  backedDeployment(ns, 'web', { app: 'web' });
  for (const sa of ['sa-a', 'sa-b']) mustKubectl(['-n', ns, 'create', 'serviceaccount', sa]);
  mustKubectl(['-n', ns, 'create', 'rolebinding', 'forms-admin', '--clusterrole=admin', `--serviceaccount=${ns}:sa-a`, `--serviceaccount=${ns}:sa-b`]);
  for (const sa of ['sa-a', 'sa-b']) tokens[sa] = mustKubectl(['-n', ns, 'create', 'token', sa, '--duration=2h']).trim();
  // a test CA and the https proxy's certificate for 127.0.0.1
  sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=envserve proxy test CA']);
  sh('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'proxy.key', '-out', 'proxy.csr', '-subj', '/CN=127.0.0.1']);
  // kubectl checks an https proxy against the cluster's tls-server-name when it has one (Go's
  // transport reuses the server's TLS config), so the proxy's certificate names both.
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:kubernetes\n');
  sh('openssl', ['x509', '-req', '-in', 'proxy.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'proxy.crt', '-days', '1', '-extfile', 'san.ext']);
  bundle = join(dir, 'bundle.crt');
  writeFileSync(bundle, Buffer.from(caData, 'base64').toString() + readFileSync(join(dir, 'ca.crt'), 'utf8'));
  const map = { [`${NAME}:${apiPort}`]: { host: real.hostname, port: apiPort } };
  proxies.http = await new TunnelProxy('http', map).start();
  proxies.https = await new TunnelProxy('https', map, { cert: readFileSync(join(dir, 'proxy.crt'), 'utf8'), key: readFileSync(join(dir, 'proxy.key'), 'utf8') }).start();
  proxies.socks5 = await new TunnelProxy('socks5', map).start();
  pod = await waitReadyPod(ns, 'app=web');
});

after(async () => {
  for (const p of Object.values(proxies)) await p.close();
  deleteNamespace(ns);
});

/** A kubeconfig of one cluster, one user, one context (namespace ns). */
function kubeconfig(name: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(file, YAML.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'forms',
    clusters: [{ name: 'forms', cluster }],
    users: [{ name: `user-${name}`, user }],
    contexts: [{ name: 'forms', context: { cluster: 'forms', user: `user-${name}`, namespace: ns } }],
  }), { mode: 0o600 });
  return file;
}
const certUser = { 'client-certificate-data': adminUser['client-certificate-data'], 'client-key-data': adminUser['client-key-data'] };
const viaName = { server: `https://${NAME}:${apiPort}`, 'tls-server-name': 'kubernetes' };

/**
 * kubectl with the same file and variables: the reference. Asynchronous: the proxies it goes
 * through run in this process.
 */
function kubectlWith(kc: string, vars: Record<string, string>, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('kubectl', ['--request-timeout=20s', ...args], { env: { PATH: process.env.PATH, HOME: dir, KUBECONFIG: kc, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, out }); });
  });
}

/** loadKubeClient with `vars` in the environment while it reads them (HTTPS_PROXY...). */
function clientWith(kc: string, vars: Record<string, string> = {}): KubeClient {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return loadKubeClient({ kubeconfig: kc });
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

/** A plain request, a watch and a port-forward upgrade, each on a fresh client: one new tunnel each. */
async function eachPathTakesATunnel(kc: string, proxy: TunnelProxy, vars: Record<string, string> = {}): Promise<void> {
  const fresh = async (what: string, f: (c: KubeClient) => Promise<void>) => {
    const c = clientWith(kc, vars);
    const before = proxy.tunnels;
    try { await f(c); } finally { c.close(); }
    assert.equal(proxy.tunnels - before, 1, `${what}: one tunnel through the ${proxy.kind} proxy`);
  };
  await fresh('request', async (c) => {
    const list = await c.request<{ items: { metadata: { name: string } }[] }>(`/api/v1/namespaces/${ns}/pods`);
    assert.ok(list.items.some((p) => p.metadata.name === pod));
  });
  await fresh('watch', async (c) => {
    const ac = new AbortController();
    let seen = '';
    await c.watch(`/api/v1/namespaces/${ns}/pods`, { timeoutSeconds: 10 }, (e) => { seen = e.object.metadata.name; ac.abort(); }, ac.signal);
    assert.equal(seen, pod);
  });
  await fresh('port-forward upgrade', async (c) => {
    let got = Buffer.alloc(0);
    const done = new Promise<void>((resolve) => {
      void Tunnel.open(c, { namespace: ns, pod, port: 8080 }, {
        data: (b) => { got = Buffer.concat([got, b]); if (got.includes('"pod"')) resolve(); },
        close: () => resolve(),
      }).then((t) => { t.write(Buffer.from('GET /via-tunnel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')); setTimeout(() => t.close(), 5000).unref(); });
    });
    await done;
    assert.match(got.toString(), /"path":"\/via-tunnel"/);
  });
}

/**
 * `up` with a port-forward and a ClusterIP Service → bytes through the forward, `status` Ready,
 * `down` removes everything. Returns the output of `up`.
 */
async function upStatusDown(form: string, kc: string, vars: Record<string, string> = {}, proxy?: TunnelProxy): Promise<string> {
  const envName = `${form}-${rand()}`;
  const home = mkdtempSync(join(tmpdir(), 'envserve-home-'));
  const all = { HOME: home, KUBECONFIG: kc, ...vars };
  const pf = await freePort();
  const file = writeEnvFile(envName, `def serve():\n    cloud.k8s.bind(env_port=8080, host_port=${pf}, name="web")\n    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=8081, name="web")\n`);
  const up = cli(['up', '--runtime', 'k8s', '-f', file, '-n', ns, '--selector', 'app=web', '--probe-interval', '300'], all);
  try {
    await up.waitFor(/Press Ctrl-C/);
    assert.equal(podAnswer(await eventually(() => httpRequest('127.0.0.1', pf, { path: `/${form}` }))).pod, pod);
    const payload = randomBytes(256 * 1024);
    const bytesBefore = proxy?.bytes ?? 0;
    const echo = await httpRequest('127.0.0.1', pf, { method: 'POST', path: '/echo', body: payload, timeoutMs: 15_000 });
    assert.ok(echo.body.equals(payload), 'POST /echo through the forward, byte for byte');
    if (proxy) assert.ok(proxy.bytes - bytesBefore >= 2 * payload.length, `the forward's bytes crossed the ${proxy.kind} proxy (${proxy.bytes - bytesBefore})`);
    const st = await eventually(async () => {
      const r = await run(['status', '-f', file, '-o', 'json'], all);
      const s = JSON.parse(r.out) as { envId: string; exposures: { id: string; reason: string }[] };
      if (s.exposures.length !== 2 || s.exposures.some((e) => e.reason !== 'Ready')) throw new Error(r.out);
      return s;
    }, 30_000);
    const record = readFileSync(join(home, '.local/state/envserve', `${st.envId}.json`), 'utf8');
    assert.ok(record.includes(kc), 'the state record names the kubeconfig file');
    for (const t of [...Object.values(tokens), adminUser['client-key-data']!]) assert.ok(!record.includes(t), 'no credential in the state record');
    assert.deepEqual(ownedObjects(ns, envName), [`service/${envName}-web`]);
    const d = await run(['down', '-f', file], all);
    assert.equal(d.code, 0, d.out);
    assert.equal(await up.exited, 0, up.out());
    assert.deepEqual(ownedObjects(ns, envName), [], 'down removed everything');
    return up.out();
  } finally {
    up.proc.kill('SIGTERM');
  }
}

test('the proxy names resolve only through the proxies', async () => {
  await assert.rejects(lookup(NAME), /ENOTFOUND|EAI_AGAIN/);
});

test('tokenFile: sent, re-read when it rotates (another valid token, then an invalid one); up/status/down', async () => {
  const tf = join(dir, 'token');
  writeFileSync(tf, `${tokens['sa-a']}\n`);
  const kc = kubeconfig('tokenfile', { server: real.href.replace(/\/$/, ''), 'certificate-authority-data': caData }, { tokenFile: tf });
  const ref = await kubectlWith(kc, {}, ['get', 'pods']);
  assert.equal(ref.code, 0, ref.out);
  assert.match(ref.out, new RegExp(pod));
  const c = loadKubeClient({ kubeconfig: kc });
  const who = async () => (await c.request<{ status: { userInfo: { username: string } } }>('/apis/authentication.k8s.io/v1/selfsubjectreviews', { method: 'POST', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } })).status.userInfo.username;
  try {
    assert.equal(await who(), `system:serviceaccount:${ns}:sa-a`);
    writeFileSync(`${tf}.new`, tokens['sa-b']!);
    renameSync(`${tf}.new`, tf); // as the kubelet rotates a projected token
    assert.equal(await who(), `system:serviceaccount:${ns}:sa-b`, 'the next request sends the rotated token');
    writeFileSync(tf, 'invalid-token');
    await assert.rejects(who(), (e: unknown) => e instanceof KubeApiError && e.code === 401);
    assert.notEqual((await kubectlWith(kc, {}, ['get', 'pods'])).code, 0, 'kubectl rejects the invalid token too');
    writeFileSync(tf, tokens['sa-a']!);
    assert.equal(await who(), `system:serviceaccount:${ns}:sa-a`);
  } finally {
    c.close();
  }
  await upStatusDown('tokenfile', kc);
});

for (const kind of ['http', 'https', 'socks5'] as const) {
  test(`proxy-url ${kind}://: kubectl and every path of envserve go through the proxy`, async () => {
    const proxy = proxies[kind];
    const kc = kubeconfig(`proxy-${kind}`, { ...viaName, 'certificate-authority': bundle, 'proxy-url': proxy.url }, certUser);
    const t0 = proxy.tunnels;
    const ref = await kubectlWith(kc, {}, ['get', 'pods']);
    assert.equal(ref.code, 0, ref.out);
    assert.ok(proxy.tunnels > t0, 'kubectl went through the proxy');
    await eachPathTakesATunnel(kc, proxy);
    await upStatusDown(`proxy-${kind}`, kc, {}, proxy);
  });
}

test('HTTPS_PROXY + NO_PROXY (not matching) with insecure-skip-tls-verify: through the proxy, one warning; NO_PROXY matching: direct', async () => {
  const proxy = proxies.http;
  const kc = kubeconfig('env-proxy', { server: `https://${NAME}:${apiPort}`, 'insecure-skip-tls-verify': true }, certUser);
  const vars = { HTTPS_PROXY: `127.0.0.1:${proxy.port}`, NO_PROXY: `.svc,10.0.0.0/8,${real.hostname},example.com,${NAME}:1` };
  const t0 = proxy.tunnels;
  const ref = await kubectlWith(kc, vars, ['get', 'pods']);
  assert.equal(ref.code, 0, ref.out);
  assert.ok(proxy.tunnels > t0, 'kubectl went through the proxy');
  await eachPathTakesATunnel(kc, proxy, vars);
  const out = await upStatusDown('env-proxy', kc, vars, proxy);
  assert.equal(out.match(/insecure-skip-tls-verify/g)?.length, 1, `one warning:\n${out}`);
  // NO_PROXY naming the server: a direct connection, which cannot resolve the name (kubectl alike)
  const direct = { ...vars, NO_PROXY: `.envserve.test` };
  const t1 = proxy.tunnels;
  assert.notEqual((await kubectlWith(kc, direct, ['get', 'pods'])).code, 0);
  const c = clientWith(kc, direct);
  try {
    assert.equal(c.dialer.proxy, undefined);
    await assert.rejects(c.request('/version'), /ENOTFOUND|EAI_AGAIN/);
  } finally { c.close(); }
  assert.equal(proxy.tunnels, t1, 'nothing went through the proxy');
});

test('tls-server-name: the certificate is checked against it (a wrong one fails, as in kubectl); up/status/down', async () => {
  const server = real.href.replace(/\/$/, '');
  const wrong = kubeconfig('tls-wrong', { server, 'certificate-authority-data': caData, 'tls-server-name': 'wrong.envserve.test' }, certUser);
  assert.notEqual((await kubectlWith(wrong, {}, ['get', 'pods'])).code, 0);
  const c = loadKubeClient({ kubeconfig: wrong });
  try {
    await assert.rejects(c.request('/version'), /wrong\.envserve\.test|altnames/);
  } finally { c.close(); }
  const kc = kubeconfig('tls-name', { server, 'certificate-authority-data': caData, 'tls-server-name': 'kubernetes.default.svc' }, certUser);
  const ref = await kubectlWith(kc, {}, ['get', 'pods']);
  assert.equal(ref.code, 0, ref.out);
  await upStatusDown('tls-name', kc);
});

test('server as host:port without a scheme is plain http, as in kubectl: through `kubectl proxy` (no user), kubectl and envserve reach the cluster; up/status/down', async () => {
  const proxy = spawn('kubectl', ['--kubeconfig', env.kubeconfig, 'proxy', '--port=0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      proxy.stdout.on('data', (d) => {
        out += d;
        const m = /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      proxy.on('exit', (code) => reject(new Error(`kubectl proxy exited (${code}): ${out}`)));
    });
    const file = kubeconfig('no-scheme', { server: `127.0.0.1:${port}` }, {}); // no credentials: kubectl proxy adds its own
    const ref = await kubectlWith(file, {}, ['get', 'pods']);
    assert.equal(ref.code, 0, ref.out);
    await upStatusDown('no-scheme', file);
  } finally {
    proxy.kill();
  }
});

test('an exec plugin that fails: exit 1, the plugin named with what it printed (kubectl fails too)', async () => {
  const plugin = join(dir, 'cloud-login');
  writeFileSync(plugin, '#!/bin/sh\necho "error: run cloud-login first" >&2\nexit 1\n', { mode: 0o755 });
  const kc = kubeconfig('exec-fails', { server: real.href.replace(/\/$/, ''), 'certificate-authority-data': caData }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } });
  assert.notEqual((await kubectlWith(kc, {}, ['get', 'pods'])).code, 0);
  const file = writeEnvFile(`exec-${rand()}`, 'def serve():\n    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=8081, name="web")\n');
  const r = await run(['up', '--runtime', 'k8s', '-f', file, '-n', ns, '--selector', 'app=web'], { HOME: mkdtempSync(join(tmpdir(), 'envserve-home-')), KUBECONFIG: kc });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`credential plugin "${plugin}" .*failed: error: run cloud-login first`));
});

test("check's debug pod through a socks5 proxy-url: created, its log read, deleted — all through the proxy", async () => {
  const proxy = proxies.socks5;
  const kc = kubeconfig('check-socks5', { ...viaName, 'certificate-authority': bundle, 'proxy-url': proxy.url }, certUser);
  const t0 = proxy.tunnels;
  const r = await run(['check', '--target', `k8s:${ns}/deployment/web`, '--port', '8080', '--debug-image', 'envserve.test/envserve:1', '-o', 'json'], { HOME: dir, KUBECONFIG: kc });
  const report = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { checks: { id: string; status: string; vantage?: string; message: string }[] };
  const inside = report.checks.find((c) => c.id === 'probe.cluster.pod');
  assert.equal(inside?.status, 'pass', r.out);
  assert.equal(inside?.vantage, 'cluster');
  assert.ok(proxy.tunnels > t0, 'check went through the proxy');
  assert.deepEqual(mustKubectl(['-n', ns, 'get', 'pods', '-l', 'envserve.dev/role=check-debug', '-o', 'name']).trim(), '', 'the debug pod was deleted');
});

/** Who the API server takes the client for (SelfSubjectReview), as envserve and as `kubectl auth whoami`. */
async function whoami(kc: string): Promise<{ envserve: any; kubectl: any }> {
  const c = loadKubeClient({ kubeconfig: kc });
  try {
    const mine = await c.request<{ status: { userInfo: any } }>('/apis/authentication.k8s.io/v1/selfsubjectreviews', { method: 'POST', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    const ref = await kubectlWith(kc, {}, ['auth', 'whoami', '-o', 'json']);
    assert.equal(ref.code, 0, ref.out);
    return { envserve: mine.status.userInfo, kubectl: JSON.parse(ref.out).status.userInfo };
  } finally {
    c.close();
  }
}

test('exec plugin (v1, interactiveMode IfAvailable, provideClusterInfo, a relative command, the server written with a trailing slash): kubectl and envserve give it the same KUBERNETES_EXEC_INFO; run once; up/status/down', async () => {
  const out = join(dir, 'exec-info');
  mkdirSync(join(dir, 'plugins'), { recursive: true });
  mkdirSync(out, { recursive: true });
  // The plugin writes what it was given (one file per run) and answers with sa-a's token.
  writeFileSync(join(dir, 'plugins', 'token-login'), `#!/bin/sh\nprintf '%s' "$KUBERNETES_EXEC_INFO" > "$OUT/$FORM-$$.json"\nprintf '%s' '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${tokens['sa-a']}"}}'\n`, { mode: 0o755 });
  const kc = kubeconfig('exec-token', {
    server: real.href, 'certificate-authority-data': caData,
    extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'envserve-forms', region: 'test' } }],
  }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './plugins/token-login', env: [{ name: 'OUT', value: out }, { name: 'FORM', value: 'kubectl' }], interactiveMode: 'IfAvailable', provideClusterInfo: true } });
  const ref = await kubectlWith(kc, {}, ['get', 'pods']);
  assert.equal(ref.code, 0, ref.out);
  const runs = (who: string) => readdirSync(out).filter((f) => f.startsWith(`${who}-`));
  const refInfo = JSON.parse(readFileSync(join(out, runs('kubectl')[0]!), 'utf8'));
  writeFileSync(kc, readFileSync(kc, 'utf8').replace('value: kubectl', 'value: envserve'));
  const c = loadKubeClient({ kubeconfig: kc });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await c.request<{ status: { userInfo: { username: string } } }>('/apis/authentication.k8s.io/v1/selfsubjectreviews', { method: 'POST', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
      assert.equal(r.status.userInfo.username, `system:serviceaccount:${ns}:sa-a`);
    }
  } finally {
    c.close();
  }
  assert.equal(runs('envserve').length, 1, 'the credential is cached: one run for three requests');
  const mine = JSON.parse(readFileSync(join(out, runs('envserve')[0]!), 'utf8'));
  assert.deepEqual(mine, refInfo, 'the same KUBERNETES_EXEC_INFO as kubectl');
  assert.equal(mine.spec.interactive, false, 'stdin is not a terminal here');
  assert.equal(mine.spec.cluster.config.audience, 'envserve-forms');
  await upStatusDown('exec-token', kc);
});

test('exec plugin (v1beta1) giving a client certificate with an expirationTimestamp: the same identity as kubectl; up/status/down', async () => {
  const cert = Buffer.from(adminUser['client-certificate-data']!, 'base64').toString();
  const key = Buffer.from(adminUser['client-key-data']!, 'base64').toString();
  const cred = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { clientCertificateData: cert, clientKeyData: key, expirationTimestamp: new Date(Date.now() + 3600_000).toISOString() } });
  writeFileSync(join(dir, 'cred.json'), cred);
  const plugin = join(dir, 'cert-login');
  writeFileSync(plugin, `#!/bin/sh\ncat ${join(dir, 'cred.json')}\n`, { mode: 0o755 });
  const kc = kubeconfig('exec-cert', { server: real.href.replace(/\/$/, ''), 'certificate-authority-data': caData }, { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: plugin } });
  const who = await whoami(kc);
  assert.deepEqual(who.envserve, who.kubectl);
  await upStatusDown('exec-cert', kc);
});

test('an exec plugin that is not installed: named, its installHint shown, exit 1 (kubectl fails too and shows the hint)', async () => {
  const hint = 'envserve-forms-login is in the team toolbox: brew install envserve-forms-login';
  const kc = kubeconfig('exec-missing', { server: real.href.replace(/\/$/, ''), 'certificate-authority-data': caData }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'envserve-forms-login', interactiveMode: 'Never', installHint: hint } });
  const ref = await kubectlWith(kc, {}, ['get', 'pods']);
  assert.notEqual(ref.code, 0);
  assert.ok(ref.out.includes(hint), ref.out);
  const file = writeEnvFile(`exec-missing-${rand()}`, 'def serve():\n    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=8081, name="web")\n');
  const r = await run(['up', '--runtime', 'k8s', '-f', file, '-n', ns, '--selector', 'app=web'], { HOME: mkdtempSync(join(tmpdir(), 'envserve-home-')), KUBECONFIG: kc });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /credential plugin "envserve-forms-login" of user "user-exec-missing" .*was not found/);
  assert.ok(r.out.includes(hint), r.out);
});

test('forms kubectl reads and envserve refused or read otherwise: the same identity as kubectl', async (t) => {
  const server = real.href.replace(/\/$/, '');
  const notInstalled = { apiVersion: 'client.authentication.k8s.io/v1', command: 'envserve-forms-not-installed', interactiveMode: 'Never' };
  const same = async (kc: string, username?: string) => {
    const who = await whoami(kc);
    assert.deepEqual(who.envserve, who.kubectl);
    if (username) assert.equal(who.envserve.username, username);
  };
  await t.test('YAML 1.1 as go-yaml reads it: insecure-skip-tls-verify: yes, a << merge key, current-context written twice; also in UTF-16LE', async () => {
    const file = join(dir, 'yaml11.kubeconfig');
    writeFileSync(file, [
      'apiVersion: v1', 'kind: Config', 'current-context: not-this-one',
      'clusters:', '- name: base', '  cluster: &base', `    server: ${server}`, '    insecure-skip-tls-verify: yes',
      '- name: forms', '  cluster:', '    <<: *base',
      'users:', '- name: u', '  user:', `    token: ${tokens['sa-a']}`,
      'contexts:', `- {name: forms, context: {cluster: forms, user: u, namespace: ${ns}}}`,
      'current-context: forms', '',
    ].join('\n'), { mode: 0o600 });
    await same(file, `system:serviceaccount:${ns}:sa-a`);
    // the same file as Windows PowerShell 5's `>` writes it: UTF-16LE with a byte-order mark
    writeFileSync(`${file}.utf16`, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(readFileSync(file, 'utf8'), 'utf16le')]), { mode: 0o600 });
    await same(`${file}.utf16`, `system:serviceaccount:${ns}:sa-a`);
  });
  await t.test('a token beside an exec plugin that is not installed: the plugin is not run', async () => {
    await same(kubeconfig('token-and-exec', { server, 'certificate-authority-data': caData }, { token: tokens['sa-b'], exec: notInstalled }), `system:serviceaccount:${ns}:sa-b`);
  });
  await t.test('a client certificate beside an exec plugin that is not installed: the plugin is not run', async () => {
    await same(kubeconfig('cert-and-exec', { server, 'certificate-authority-data': caData }, { ...certUser, exec: notInstalled }));
  });
  await t.test('a token beside a tokenFile that does not exist: the token', async () => {
    await same(kubeconfig('token-and-tokenfile', { server, 'certificate-authority-data': caData }, { token: tokens['sa-a'], tokenFile: join(dir, 'no-such-token') }), `system:serviceaccount:${ns}:sa-a`);
  });
  await t.test('a bare exec command found on the PATH of kubectl and envserve, though the exec env sets another PATH', async () => {
    const bin = join(dir, 'path-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'envserve-forms-path-login'), `#!/bin/sh\nprintf '%s' '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${tokens['sa-b']}"}}'\n`, { mode: 0o755 });
    const kc = kubeconfig('exec-path', { server, 'certificate-authority-data': caData }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'envserve-forms-path-login', interactiveMode: 'Never', env: [{ name: 'PATH', value: '/nonexistent' }] } });
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`; // kubectlWith passes this PATH on
    try {
      await same(kc, `system:serviceaccount:${ns}:sa-b`);
    } finally {
      process.env.PATH = saved;
    }
  });
  await t.test("an exec plugin's stderr (interactiveMode Never, no terminal) reaches the user, as kubectl shows it", async () => {
    const plugin = join(dir, 'device-login');
    writeFileSync(plugin, `#!/bin/sh\necho "open https://login.envserve.test/device and enter ABCD-EFGH" >&2\nprintf '%s' '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${tokens['sa-b']}"}}'\n`, { mode: 0o755 });
    const kc = kubeconfig('exec-stderr', { server, 'certificate-authority-data': caData }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } });
    const ref = await kubectlWith(kc, {}, ['auth', 'whoami']);
    assert.equal(ref.code, 0, ref.out);
    assert.match(ref.out, /open https:\/\/login.envserve.test\/device/, 'kubectl shows it');
    let err = '';
    const c = new KubeClient(loadConfig({ kubeconfig: kc }), { stdinIsTTY: false, stderr: new Writable({ write: (d, _e, cb) => ((err += d), cb()) }) });
    try {
      await c.request('/apis/authentication.k8s.io/v1/selfsubjectreviews', { method: 'POST', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    } finally {
      c.close();
    }
    assert.match(err, /open https:\/\/login.envserve.test\/device and enter ABCD-EFGH/);
  });
});

test('KUBECONFIG list: cluster, user and context from three files in three folders (relative CA and certificate files); up/status/down', async () => {
  const d = mkdtempSync(join(tmpdir(), 'envserve-kclist-'));
  for (const sub of ['clusters', 'users/certs', 'contexts']) mkdirSync(join(d, sub), { recursive: true });
  writeFileSync(join(d, 'clusters', 'ca.crt'), Buffer.from(caData, 'base64'));
  writeFileSync(join(d, 'users', 'certs', 'me.crt'), Buffer.from(adminUser['client-certificate-data']!, 'base64'));
  writeFileSync(join(d, 'users', 'certs', 'me.key'), Buffer.from(adminUser['client-key-data']!, 'base64'), { mode: 0o600 });
  const files = {
    clusters: { clusters: [{ name: 'team', cluster: { server: real.href.replace(/\/$/, ''), 'certificate-authority': 'ca.crt' } }] },
    users: { users: [{ name: 'me', user: { 'client-certificate': 'certs/me.crt', 'client-key': 'certs/me.key' } }] },
    // Later files lose: a cluster and a user of the same names that would not work.
    contexts: {
      'current-context': 'team', contexts: [{ name: 'team', context: { cluster: 'team', user: 'me', namespace: ns } }],
      clusters: [{ name: 'team', cluster: { server: 'https://127.0.0.1:1' } }], users: [{ name: 'me', user: { token: 'not-a-token' } }],
    },
  };
  for (const [k, v] of Object.entries(files)) writeFileSync(join(d, k, 'config'), YAML.stringify({ apiVersion: 'v1', kind: 'Config', ...v }));
  const list = ['clusters', 'users', 'contexts'].map((k) => join(d, k, 'config')).join(':');
  const ref = await kubectlWith(list, {}, ['get', 'pods']);
  assert.equal(ref.code, 0, ref.out);
  const who = await whoami(list);
  assert.deepEqual(who.envserve, who.kubectl);
  await upStatusDown('kc-list', list);
  rmSync(d, { recursive: true, force: true });
});

test('impersonation (as, as-groups, as-user-extra): the API server sees the same user as with kubectl; up/status/down as that user', async () => {
  const kc = kubeconfig('impersonate', { server: real.href.replace(/\/$/, ''), 'certificate-authority-data': caData }, {
    ...certUser, as: `system:serviceaccount:${ns}:sa-b`, 'as-groups': ['system:serviceaccounts', 'envserve-forms'], 'as-user-extra': { 'envserve.dev/team': ['forms'] },
  });
  const who = await whoami(kc);
  assert.equal(who.envserve.username, `system:serviceaccount:${ns}:sa-b`);
  assert.ok(who.envserve.groups.includes('envserve-forms'), JSON.stringify(who.envserve));
  assert.deepEqual(who.envserve.extra, { 'envserve.dev/team': ['forms'] });
  assert.deepEqual(who.envserve, who.kubectl);
  await upStatusDown('impersonate', kc);
});

test("in-cluster config: the operator's pod (its image on the real node) reads the service account and serves an ExposureSet", async () => {
  apply(manifests(['--image', OPERATOR_IMAGE, '--image-pull-policy', 'Never']));
  mustKubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/exposuresets.envserve.dev']);
  mustKubectl(['-n', 'envserve-system', 'rollout', 'status', 'deployment/envserve-operator', '--timeout=120s']);
  const name = `ic-${rand()}`;
  mustKubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposureSet', metadata: { name, namespace: ns },
    spec: { env: name, selector: { app: 'web' }, exposures: [{ id: 'service-web-8080', kind: 'k8s-service', envPort: 8080, protocol: 'tcp', position: `${name}:1:1`, declaredBy: 'cloud.k8s.bind', serviceType: 'ClusterIP', servicePort: 8080 }] },
  }));
  try {
    const set = await eventually(async () => {
      const s = JSON.parse(mustKubectl(['-n', ns, 'get', 'exposureset', name, '-o', 'json']));
      if (condition(s.status, 'Ready')?.status !== 'True') throw new Error(JSON.stringify(s.status ?? {}));
      return s;
    }, 90_000, 500);
    assert.ok(set);
    const svc = JSON.parse(mustKubectl(['-n', ns, 'get', 'service', '-l', `envserve.dev/exposure-set=${name}`, '-o', 'json'])).items[0];
    assert.ok(svc, 'the operator made the Service');
    const answer = await eventually(async () => JSON.parse(curlInNetns(env.netns, `http://${svc.spec.clusterIP}:8080/in-cluster`)), 15_000);
    assert.equal(answer.path, '/in-cluster');
    const logs = mustKubectl(['-n', 'envserve-system', 'logs', '-l', 'app.kubernetes.io/name=envserve-operator', '--tail=-1']);
    assert.match(logs, /\(in-cluster service account, server https:\/\/[^)]+\): HTTP API on/);
  } finally {
    mustKubectl(['-n', ns, 'delete', 'exposureset', name, '--ignore-not-found']);
  }
  try {
    await eventually(async () => {
      const left = mustKubectl(['-n', ns, 'get', 'services', '-l', `envserve.dev/exposure-set=${name}`, '-o', 'name']).trim();
      if (left) throw new Error(left);
    }, 30_000);
  } finally {
    // Later files share the cluster: with the CRDs left, their `serve` would hand exposures to an
    // operator that no longer runs (as operator.test.ts cleans up).
    mustKubectl(['-n', 'envserve-system', 'delete', 'deployment', 'envserve-operator', '--ignore-not-found', '--wait=false']);
    mustKubectl(['delete', ...ENVSERVE_CLUSTER_OBJECTS, '--ignore-not-found', '--wait=true']);
  }
});
