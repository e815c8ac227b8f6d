// The kubeconfig loader and credential layer against files and real plugin scripts (sh), with a
// local HTTP server standing in for the API server where headers matter: client-go's merge and
// path rules, exec plugins (caching, expiry, 401 re-run, interactiveMode, provideClusterInfo,
// failures), impersonation, basic auth, oidc, in-cluster. The real cluster runs the same forms
// beside kubectl in test/k8s/kubeconfig-forms.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import YAML from 'yaml';
import { loadConfig, type ResolvedConfig } from './load.js';
import { sameServer } from './server-url.js';
import { inClusterConfig } from './in-cluster.js';
import { Credentials } from './credentials.js';
import { clearExecCache } from './exec.js';
import { writeBackAuthProvider } from './oidc.js';
import { WebSocketServer } from 'ws';
import { KubeClient } from '../client.js';
import { openWebSocket, TunnelRefused } from '../pf/tunnel.js';
import { RuntimeFailure, UserError } from '../../../errors.js';
import { selfSigned } from '../../../../test/helpers/self-signed.js';

const dir = mkdtempSync(join(tmpdir(), 'envserve-kc-'));
// The stand-in API server speaks TLS: over plain http no credential is sent (as kubectl).
const cert = selfSigned();
let server: https.Server;
let url = '';
let seen: http.IncomingHttpHeaders[] = [];

before(async () => {
  server = https.createServer(cert, (req, res) => {
    seen.push(req.headers);
    if (req.headers.authorization === 'Bearer expired-1') return res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401,"reason":"Unauthorized","message":"Unauthorized"}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ auth: req.headers.authorization ?? '' }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

function write(rel: string, doc: unknown): string {
  const f = join(dir, rel);
  mkdirSync(join(f, '..'), { recursive: true });
  writeFileSync(f, typeof doc === 'string' ? doc : YAML.stringify(doc), { mode: 0o700 });
  return f;
}

/** One cluster (at the stand-in server), one user, one context. */
function single(name: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}): ResolvedConfig {
  const f = write(`${name}.yaml`, {
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'k', cluster: { server: url, 'certificate-authority-data': cert.caData, ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u', namespace: 'ns1' } }],
  });
  return loadConfig({ kubeconfig: f });
}

const script = (name: string, body: string) => write(name, `#!/bin/sh\n${body}\n`);
const cred = (status: string) => `printf '%s' '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":${status}}'`;

test('KUBECONFIG list: first file to name a cluster/user/context wins; current-context from the first that sets it; paths relative to each file', () => {
  const a = write('a/config', {
    clusters: [{ name: 'shared', cluster: { server: 'https://from-a:6443', 'certificate-authority': 'ca.crt' } }],
    users: [{ name: 'me', user: { 'client-certificate': 'certs/me.crt', 'client-key': 'certs/me.key' } }],
  });
  const b = write('b/config', {
    'current-context': 'dev',
    clusters: [{ name: 'shared', cluster: { server: 'https://from-b:6443' } }],
    users: [{ name: 'me', user: { token: 'from-b' } }, { name: 'tf', user: { tokenFile: 'tok', exec: undefined } }],
    contexts: [{ name: 'dev', context: { cluster: 'shared', user: 'me', namespace: 'team' } }, { name: 'other', context: { cluster: 'shared', user: 'tf' } }],
  });
  const c = write('c/config', { 'current-context': 'other', contexts: [{ name: 'dev', context: { cluster: 'x', user: 'y' } }] });
  const r = loadConfig({}, { KUBECONFIG: `${a}:${join(dir, 'missing')}:${b}:${c}` });
  assert.equal(r.contextName, 'dev', 'current-context of the first file that sets it');
  assert.equal(r.namespace, 'team');
  assert.equal(r.cluster.server, 'https://from-a:6443', 'the first file to name the cluster wins');
  assert.equal(r.cluster.certificateAuthority, join(dir, 'a/ca.crt'));
  assert.equal(r.user.clientCertificate, join(dir, 'a/certs/me.crt'));
  assert.equal(r.user.clientKey, join(dir, 'a/certs/me.key'));
  assert.equal(r.user.token, undefined, "b's user of the same name is not merged in");
  assert.deepEqual(r.paths, [a, b, c], 'missing files in KUBECONFIG are skipped, as client-go does');
  const o = loadConfig({ context: 'other', namespace: 'mine' }, { KUBECONFIG: `${a}:${b}` });
  assert.equal(o.user.tokenFile, join(dir, 'b/tok'));
  assert.equal(o.namespace, 'mine');
  assert.equal(loadConfig({ context: 'other' }, { KUBECONFIG: `${a}:${b}` }).namespace, 'default');
  assert.throws(() => loadConfig({ context: 'dve' }, { KUBECONFIG: `${a}:${b}` }), (e: unknown) => e instanceof UserError && /context "dve" is not in the kubeconfig/.test(e.message) && /did you mean "dev"/.test(e.hint ?? ''));
  assert.throws(() => loadConfig({ kubeconfig: `${a}:${join(dir, 'missing')}` }), /kubeconfig file .*missing does not exist/);
  assert.throws(() => loadConfig({}, { KUBECONFIG: join(dir, 'missing') }), /no file of KUBECONFIG/);
});

test('exec command: relative to its file when it has a path separator, looked up in PATH when bare', () => {
  const f = write('x/config', {
    'current-context': 'c', clusters: [{ name: 'k', cluster: { server: url } }],
    users: [{ name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './bin/login', interactiveMode: 'Never' } } }, { name: 'v', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'aws' } } }],
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }, { name: 'd', context: { cluster: 'k', user: 'v' } }],
  });
  assert.equal(loadConfig({ kubeconfig: f }).user.exec?.command, join(dir, 'x/bin/login'));
  const v = loadConfig({ kubeconfig: f, context: 'd' }).user.exec!;
  assert.equal(v.command, 'aws');
  assert.equal(v.interactiveMode, 'IfAvailable', 'v1beta1 defaults to IfAvailable');
});

test("YAML as kubectl decodes it (go-yaml v2, YAML 1.1): unquoted yes/on/y are true, << merges a mapping in, a repeated key's last value counts; UTF-16 with a byte-order mark; the first of several documents", () => {
  const f = write('yaml11/config', [
    'current-context: first',
    'clusters:',
    '- name: base',
    '  cluster: &base',
    `    server: ${url}`,
    '    insecure-skip-tls-verify: yes',
    '    disable-compression: On',
    '- name: named',
    '  cluster:',
    '    <<: *base',
    '    tls-server-name: kubernetes',
    'users:',
    '- name: u',
    '  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: x, interactiveMode: Never, provideClusterInfo: y}}',
    'contexts:',
    '- {name: c, context: {cluster: named, user: u, namespace: ns1}}',
    'current-context: c',
    '',
  ].join('\n'));
  const r = loadConfig({ kubeconfig: f });
  assert.equal(r.contextName, 'c', 'the last current-context line');
  assert.equal(r.cluster.server, url, 'merged in from the anchor');
  assert.equal(r.cluster.tlsServerName, 'kubernetes');
  assert.equal(r.cluster.insecureSkipTlsVerify, true);
  assert.equal(r.cluster.disableCompression, true);
  assert.equal(r.user.exec?.provideClusterInfo, true);
  const quoted = write('yaml11/quoted', `current-context: c\nclusters: [{name: k, cluster: {server: "${url}", insecure-skip-tls-verify: "no"}}]\ncontexts: [{name: c, context: {cluster: k}}]\n`);
  assert.equal(loadConfig({ kubeconfig: quoted }).cluster.insecureSkipTlsVerify, false, 'a quoted "no" is no boolean');
  const twoDocs = write('yaml11/two-docs', `current-context: c\nclusters: [{name: k, cluster: {server: "${url}"}}]\ncontexts: [{name: c, context: {cluster: k}}]\n---\ncurrent-context: other\n`);
  assert.equal(loadConfig({ kubeconfig: twoDocs }).contextName, 'c', 'two documents: the first is read, the rest ignored (go-yaml Unmarshal)');
  // Windows PowerShell 5's `kubectl config view --raw > config` writes UTF-16LE with a byte-order mark.
  const text = `current-context: c\nclusters: [{name: k, cluster: {server: "${url}"}}]\ncontexts: [{name: c, context: {cluster: k}}]\n`;
  for (const [name, bytes] of [['utf16le', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])], ['utf16be', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()])], ['utf8bom', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])]] as const) {
    writeFileSync(join(dir, `yaml11/${name}`), bytes);
    assert.equal(loadConfig({ kubeconfig: join(dir, `yaml11/${name}`) }).cluster.server, url, name);
  }
});

test('what kubectl refuses is refused, naming the field', () => {
  assert.throws(() => single('two', { token: 't', username: 'a', password: 'b' }), /more than one authentication method/);
  assert.throws(() => single('certnokey', { 'client-certificate-data': 'QQ==' }), /certificate without its key/);
  assert.throws(() => single('insecca', {}, { 'insecure-skip-tls-verify': true, 'certificate-authority-data': 'QQ==' }), /both a certificate authority and insecure-skip-tls-verify/);
  assert.throws(() => single('v1nomode', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x' } }), /interactiveMode must be Never, IfAvailable or Always \(required/);
  assert.throws(() => single('alpha', { exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' } }), (e: unknown) => e instanceof UserError && e.reason === 'KubeconfigUnsupported' && /v1alpha1/.test(e.message));
  assert.throws(() => new Credentials(single('gcp', { 'auth-provider': { name: 'gcp', config: {} } })), (e: unknown) => e instanceof UserError && e.reason === 'KubeconfigUnsupported' && /auth-provider "gcp"/.test(e.message) && /gke-gcloud-auth-plugin/.test(e.hint ?? ''));
  assert.throws(() => single('asgroups', { 'as-groups': ['g'] }), /need "as"/);
});

test('server as kubectl reads it: host:port without a scheme is http://, any case, a default port dropped, a path prefix kept; no credential over http', async () => {
  const plainSeen: http.IncomingHttpHeaders[] = [];
  const plainServer = http.createServer((req, res) => { plainSeen.push(req.headers); res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); });
  plainServer.listen(0, '127.0.0.1');
  await once(plainServer, 'listening');
  const hostPort = `127.0.0.1:${(plainServer.address() as AddressInfo).port}`;
  const plain = single('noscheme', { token: 't', as: 'bob' }, { server: hostPort, 'certificate-authority-data': undefined });
  assert.equal(plain.cluster.server, `http://${hostPort}`);
  const client = new KubeClient(plain);
  try {
    await client.request('/x');
  } finally {
    client.close();
    plainServer.close();
  }
  assert.equal(plainSeen.length, 1, 'the request reached the server named without a scheme');
  assert.equal(plainSeen[0]!.authorization, undefined, 'no token over plain http, as kubectl');
  assert.equal(plainSeen[0]!['impersonate-user'], 'bob', 'impersonation is sent, as kubectl does');
  assert.equal(single('v4ca', {}, { server: '10.0.0.1:6443', 'certificate-authority-data': 'QQ==' }).cluster.server, 'http://10.0.0.1:6443', 'a CA does not make it https: clientcmd decides before it reads the CA');
  assert.equal(single('v6', {}, { server: '[fd00::1]:6443' }).cluster.server, 'http://[fd00::1]:6443');
  assert.equal(single('bare', {}, { server: 'kube.example.com' }).cluster.server, 'http://kube.example.com');
  assert.equal(single('prefix', {}, { server: 'HTTPS://Rancher.Example.com:443/k8s/clusters/c-1/' }).cluster.server, 'https://rancher.example.com/k8s/clusters/c-1');
  assert.throws(() => single('pathnoscheme', {}, { server: 'kube.example.com:6443/k8s' }), (e: unknown) => e instanceof UserError && /a path but no scheme/.test(e.message));
  assert.throws(() => single('ftp', {}, { server: 'ftp://x' }), (e: unknown) => e instanceof UserError && /scheme ftp: only https:\/\/ and http:\/\//.test(e.message));
  assert.throws(() => single('junk', {}, { server: 'a b:c' }), (e: unknown) => e instanceof UserError && /no URL or host:port: "a b:c"/.test(e.message));
});

test('exec plugin: run once, its token cached until expirationTimestamp, run again after it and on a 401', async () => {
  clearExecCache();
  const count = join(dir, 'count');
  // token-N for the Nth run; the first run's token is one the server refuses (401).
  const plugin = script('plugin-cache', `n=$(($(cat ${count} 2>/dev/null || echo 0) + 1)); echo $n > ${count}\n[ $n = 1 ] && t=expired-1 || t=token-$n\n${cred('{"token":"\'$t\'","expirationTimestamp":"\'$EXP\'"}')}`);
  const exp = new Date(Date.now() + 1500).toISOString();
  const client = new KubeClient(single('exec-cache', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never', env: [{ name: 'EXP', value: exp }] } }));
  try {
    assert.equal((await client.settings()).headers.Authorization, 'Bearer expired-1');
    await client.settings();
    assert.equal(readFileSync(count, 'utf8').trim(), '1', 'cached: one run');
    const r = await client.request<{ auth: string }>('/x');
    assert.equal(r.auth, 'Bearer token-2', 'a 401 drops the credential and the request is tried once more with a fresh one');
    assert.equal(readFileSync(count, 'utf8').trim(), '2');
    await new Promise((res) => setTimeout(res, Date.parse(exp) - Date.now() + 50));
    assert.equal((await client.request<{ auth: string }>('/x')).auth, 'Bearer token-3', 'expired: run again');
  } finally {
    client.close();
  }
});

test('exec plugin: a client certificate as its output; provideClusterInfo hands over the cluster in KUBERNETES_EXEC_INFO, its server as written', async () => {
  clearExecCache();
  const out = join(dir, 'exec-info.json');
  const ca = write('pci/ca.crt', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const plugin = script('plugin-pci', `printf '%s' "$KUBERNETES_EXEC_INFO" > ${out}\n${cred('{"clientCertificateData":"CERT-PEM","clientKeyData":"KEY-PEM"}')}`);
  const c = new Credentials(single('pci', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never', provideClusterInfo: true } }, {
    server: `${url}/`, 'certificate-authority': ca, 'certificate-authority-data': undefined, 'tls-server-name': 'kubernetes.default', 'proxy-url': 'socks5://127.0.0.1:1080',
    extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'team-a' } }],
  }));
  const s = await c.settings();
  assert.equal(s.cert?.toString(), 'CERT-PEM');
  assert.equal(s.key?.toString(), 'KEY-PEM');
  assert.equal(s.headers.Authorization, undefined);
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), {
    apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential',
    // the server as the kubeconfig writes it (client-go hands over its Host unchanged)
    spec: { interactive: false, cluster: { server: `${url}/`, 'tls-server-name': 'kubernetes.default', 'certificate-authority-data': readFileSync(ca).toString('base64'), 'proxy-url': 'socks5://127.0.0.1:1080', config: { audience: 'team-a' } } },
  });
});

test("exec plugin's stderr reaches the user whatever the mode (a device-code login prints where to go, then waits), as kubectl passes it through", async () => {
  clearExecCache();
  const plugin = script('plugin-stderr', `echo "open https://login.example/device and enter ABCD-EFGH" >&2\n${cred('{"token":"t"}')}`);
  const lines: string[] = [];
  const stderr = new Writable({ write: (d, _e, cb) => (lines.push(String(d)), cb()) });
  const c = new Credentials(single('stderr', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } }), { stdinIsTTY: false, stderr });
  assert.equal((await c.settings()).headers.Authorization, 'Bearer t');
  assert.match(lines.join(''), /open https:\/\/login.example\/device and enter ABCD-EFGH/);
});

test('exec interactiveMode: stdin only when allowed and a terminal; Always without one fails', async () => {
  const out = join(dir, 'interactive.txt');
  const plugin = script('plugin-tty', `echo "$(readlink /proc/$$/fd/0) $KUBERNETES_EXEC_INFO" > ${out}\n${cred('{"token":"t"}')}`);
  const run = async (mode: string, tty: boolean) => {
    clearExecCache();
    const cfg = single(`tty-${mode}-${tty}`, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: mode } });
    await new Credentials(cfg, { stdinIsTTY: tty }).settings();
    const [stdin, info] = readFileSync(out, 'utf8').trim().split(' ');
    return { stdin, interactive: JSON.parse(info!).spec.interactive as boolean };
  };
  assert.deepEqual(await run('Never', true), { stdin: '/dev/null', interactive: false });
  assert.deepEqual(await run('IfAvailable', false), { stdin: '/dev/null', interactive: false });
  const ifa = await run('IfAvailable', true);
  assert.equal(ifa.interactive, true);
  assert.notEqual(ifa.stdin, '/dev/null', 'stdin handed over');
  clearExecCache();
  await assert.rejects(new Credentials(single('tty-always', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Always' } }), { stdinIsTTY: false }).settings(),
    (e: unknown) => e instanceof RuntimeFailure && e.reason === 'CredentialPluginFailed' && /needs a terminal/.test(e.message));
});

test("exec command: a bare name is looked up in envserve's own PATH, not one the exec env sets (as Go's exec.Command); installHint without terminal escapes", async () => {
  clearExecCache();
  const bin = join(dir, 'path-bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'envserve-path-login'), `#!/bin/sh\n${cred('{"token":"path-\'$PATH\'"}')}\n`, { mode: 0o755 });
  const saved = process.env.PATH;
  process.env.PATH = `${bin}:${saved}`;
  try {
    const c = new Credentials(single('path', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'envserve-path-login', interactiveMode: 'Never', env: [{ name: 'PATH', value: '/nonexistent' }] } }));
    assert.equal((await c.settings()).headers.Authorization, 'Bearer path-/nonexistent', "found on envserve's PATH, run with the plugin's");
  } finally {
    process.env.PATH = saved;
  }
  const hint = 'run \u001b[1mbrew install login\u001b[0m\tthen retry\n';
  await assert.rejects(new Credentials(single('ansi', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'envserve-no-such-plugin', interactiveMode: 'Never', installHint: hint } })).settings(),
    (e: unknown) => e instanceof RuntimeFailure && e.hint === 'run U+001B[1mbrew install loginU+001B[0m\tthen retry', 'escapes shown as U+001B (client-go cleanANSIEscapeCodes)');
});

test('exec plugin missing, failing or printing garbage: the plugin named, its installHint as the hint, CredentialPluginFailed', async () => {
  clearExecCache();
  const hint = 'install it with: brew install cloud-login';
  const missing = new Credentials(single('missing', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'envserve-no-such-plugin', interactiveMode: 'Never', installHint: hint } }));
  await assert.rejects(missing.settings(), (e: unknown) => e instanceof RuntimeFailure && e.reason === 'CredentialPluginFailed'
    && e.message === `the credential plugin "envserve-no-such-plugin" of user "u" (KUBECONFIG=${join(dir, 'missing.yaml')}) was not found` && e.hint === hint);
  const failing = script('plugin-fail', 'echo "token expired: run cloud-login" >&2\nexit 2');
  await assert.rejects(new Credentials(single('failing', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: failing, interactiveMode: 'Never', installHint: hint } })).settings(),
    (e: unknown) => e instanceof RuntimeFailure && e.reason === 'CredentialPluginFailed' && /"[^"]*plugin-fail" of user "u" .* failed: token expired: run cloud-login$/.test(e.message) && e.hint === hint);
  const garbage = script('plugin-garbage', 'echo "hello"');
  await assert.rejects(new Credentials(single('garbage', { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: garbage } }), { stdinIsTTY: false }).settings(), /printed no ExecCredential/);
  const wrongVersion = script('plugin-v1beta1', cred('{"token":"t"}'));
  await assert.rejects(new Credentials(single('wrongv', { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: wrongVersion } }), { stdinIsTTY: false }).settings(), /not an ExecCredential of client.authentication.k8s.io\/v1beta1/);
});

test('a token, tokenFile, username or client certificate beside an exec plugin or oidc: the static one is used and the plugin never run (as client-go)', async () => {
  clearExecCache();
  const ran = join(dir, 'static-ran');
  const plugin = script('plugin-static', `touch ${ran}\n${cred('{"token":"from-plugin"}')}`);
  const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' };
  const missing = { ...exec, command: 'envserve-no-such-plugin' };
  const tf = write('static/tok', 'from-file\n');
  const pem = Buffer.from(cert.cert).toString('base64');
  const key = Buffer.from(cert.key).toString('base64');
  const cases: [string, Record<string, unknown>, (s: Awaited<ReturnType<Credentials['settings']>>) => void][] = [
    ['token', { token: 'static' }, (s) => assert.equal(s.headers.Authorization, 'Bearer static')],
    ['tokenFile', { tokenFile: tf }, (s) => assert.equal(s.headers.Authorization, 'Bearer from-file')],
    ['username', { username: 'alice', password: 'pw' }, (s) => assert.equal(s.headers.Authorization, `Basic ${Buffer.from('alice:pw').toString('base64')}`)],
    ['cert', { 'client-certificate-data': pem, 'client-key-data': key }, (s) => {
      assert.equal(s.cert?.toString(), cert.cert.toString(), 'the kubeconfig certificate, not the plugin one');
      assert.equal(s.headers.Authorization, undefined);
    }],
  ];
  for (const [name, user, check] of cases) {
    check(await new Credentials(single(`static-${name}`, { ...user, exec })).settings());
    check(await new Credentials(single(`static-missing-${name}`, { ...user, exec: missing })).settings());
  }
  assert.equal(existsSync(ran), false, 'the plugin never ran');
  const oidc = { 'auth-provider': { name: 'oidc', config: { 'id-token': 'e30.e30.sig' } } };
  assert.equal((await new Credentials(single('static-oidc', { token: 'static', ...oidc })).settings()).headers.Authorization, 'Bearer static', 'a token wins over oidc');
  assert.equal((await new Credentials(single('password-only', { password: 'pw' })).settings()).headers.Authorization, undefined, 'no username: no basic auth (client-go)');
});

test('token beside a tokenFile: the file while it can be read, else the token; a tokenFile gone missing or empty keeps its last token', async () => {
  const tf = join(dir, 'both/tok');
  const both = new Credentials(single('token-and-file', { token: 'static', tokenFile: tf }));
  assert.equal((await both.settings()).headers.Authorization, 'Bearer static', 'the file does not exist: the token');
  write('both/tok', '\n');
  assert.equal((await both.settings()).headers.Authorization, 'Bearer static', 'an empty file: the token');
  write('both/tok', 'from-file\n');
  assert.equal((await both.settings()).headers.Authorization, 'Bearer from-file');
  const alone = new Credentials(single('file-alone', { tokenFile: tf }));
  assert.equal((await alone.settings()).headers.Authorization, 'Bearer from-file');
  write('both/tok', '');
  assert.equal((await alone.settings()).headers.Authorization, 'Bearer from-file', 'emptied while rotated: the last token');
  rmSync(tf);
  assert.equal((await alone.settings()).headers.Authorization, 'Bearer from-file', 'gone: the last token');
  await assert.rejects(new Credentials(single('file-never', { tokenFile: tf })).settings(), (e: unknown) => e instanceof RuntimeFailure && /tokenFile .*ENOENT/.test(e.message), 'never read: refused');
});

test('impersonation and basic auth: the headers kubectl sends', async () => {
  seen = [];
  const client = new KubeClient(single('imp', { username: 'alice', password: 'p:w', as: 'bob', 'as-uid': '42', 'as-groups': ['devs', 'ops'], 'as-user-extra': { 'scopes.example.com/x': ['a', 'b'] } }));
  try {
    await client.request('/x');
  } finally {
    client.close();
  }
  const h = seen[0]!;
  assert.equal(h.authorization, `Basic ${Buffer.from('alice:p:w').toString('base64')}`);
  assert.equal(h['impersonate-user'], 'bob');
  assert.equal(h['impersonate-uid'], '42');
  assert.equal(h['impersonate-group'], 'devs, ops');
  assert.equal(h['impersonate-extra-scopes.example.com%2fx'], 'a, b', 'the key %-encoded (Node lowercases header names)');
});

test('oidc auth-provider: a live id-token is sent; an expired one is refreshed with the refresh-token at the issuer, or refused by name', async () => {
  const jwt = (exp: number) => `e30.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.sig`;
  const live = jwt(Math.floor(Date.now() / 1000) + 3600);
  assert.equal((await new Credentials(single('oidc', { 'auth-provider': { name: 'oidc', config: { 'id-token': live, 'client-id': 'k' } } })).settings()).headers.Authorization, `Bearer ${live}`);
  await assert.rejects(new Credentials(single('oidc-old', { 'auth-provider': { name: 'oidc', config: { 'id-token': jwt(1000) } } })).settings(), /oidc id-token of user "u" is expired/);
  const soon = jwt(Math.floor(Date.now() / 1000) + 5);
  await assert.rejects(new Credentials(single('oidc-soon', { 'auth-provider': { name: 'oidc', config: { 'id-token': soon } } })).settings(), /is expired/, 'within 10 s of its exp it counts as expired (client-go expiryDelta)');
  // An expired one with a refresh-token: discovery, then the token endpoint (a local issuer).
  const fresh = jwt(Math.floor(Date.now() / 1000) + 3600);
  const forms: string[] = [];
  const issuer = http.createServer((req, res) => {
    if (req.url === '/realm/.well-known/openid-configuration') return res.writeHead(200).end(JSON.stringify({ token_endpoint: `http://127.0.0.1:${(issuer.address() as AddressInfo).port}/token` }));
    let body = '';
    req.on('data', (d) => (body += d)).on('end', () => {
      forms.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id_token: fresh, refresh_token: 'r2' }));
    });
  });
  issuer.listen(0, '127.0.0.1');
  await once(issuer, 'listening');
  try {
    const c = new Credentials(single('oidc-refresh', { 'auth-provider': { name: 'oidc', config: { 'id-token': jwt(1000), 'refresh-token': 'r1', 'client-id': 'kube', 'client-secret': 's', 'idp-issuer-url': `http://127.0.0.1:${(issuer.address() as AddressInfo).port}/realm` } } }));
    assert.equal((await c.settings()).headers.Authorization, `Bearer ${fresh}`);
    assert.equal((await c.settings()).headers.Authorization, `Bearer ${fresh}`);
    assert.deepEqual(forms.map((f) => Object.fromEntries(new URLSearchParams(f))), [{ grant_type: 'refresh_token', refresh_token: 'r1', client_id: 'kube', client_secret: 's' }], 'refreshed once');
    // Written back to the file that defines the user, as client-go: the issuer may have spent r1.
    const file = c.config.user.authProvider!.file!;
    const saved = YAML.parse(readFileSync(file, 'utf8')).users[0].user['auth-provider'].config;
    assert.deepEqual([saved['id-token'], saved['refresh-token'], saved['client-id']], [fresh, 'r2', 'kube']);
    assert.equal(existsSync(`${file}.lock`), false);
    // Comments and the other users stay; another writer's lock is respected.
    writeFileSync(file, `# mine\n${readFileSync(file, 'utf8')}`);
    assert.equal(writeBackAuthProvider(file, 'u', { 'id-token': 'x' }), undefined);
    assert.match(readFileSync(file, 'utf8'), /^# mine\n/);
    writeFileSync(`${file}.lock`, '');
    assert.match(writeBackAuthProvider(file, 'u', { 'id-token': 'y' }) ?? '', /lock exists/);
    assert.equal(YAML.parse(readFileSync(file, 'utf8')).users[0].user['auth-provider'].config['id-token'], 'x');
    assert.equal(writeBackAuthProvider(file, 'nobody', { 'id-token': 'y' }) !== undefined, true);
  } finally {
    issuer.close();
  }
});

test("in a pod, a context without a namespace means the pod's (POD_NAMESPACE, else the service account's), as kubectl's deferred loading", () => {
  const sa = join(dir, 'sa-ns');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'token'), 't');
  writeFileSync(join(sa, 'namespace'), 'sa-ns\n');
  const pod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const f = write('ns/config', {
    'current-context': 'none', clusters: [{ name: 'k', cluster: { server: url } }],
    contexts: [{ name: 'none', context: { cluster: 'k' } }, { name: 'def', context: { cluster: 'k', namespace: 'default' } }, { name: 'team', context: { cluster: 'k', namespace: 'team' } }],
  });
  assert.equal(loadConfig({}, { ...pod, KUBECONFIG: f }, sa).namespace, 'sa-ns');
  assert.equal(loadConfig({}, { ...pod, POD_NAMESPACE: 'pod-ns', KUBECONFIG: f }, sa).namespace, 'pod-ns');
  assert.equal(loadConfig({ context: 'def' }, { ...pod, KUBECONFIG: f }, sa).namespace, 'default', 'a context that names default keeps it');
  assert.equal(loadConfig({ context: 'team' }, { ...pod, KUBECONFIG: f }, sa).namespace, 'team');
  assert.equal(loadConfig({ namespace: 'mine' }, { ...pod, KUBECONFIG: f }, sa).namespace, 'mine');
  assert.equal(loadConfig({}, { KUBECONFIG: f }, sa).namespace, 'default', 'not a pod');
  assert.equal(inClusterConfig({ ...pod, POD_NAMESPACE: 'pod-ns' }, sa)?.namespace, 'pod-ns', 'in-cluster: POD_NAMESPACE first');
});

test('without HOME, ~/.kube/config is .kube/config in the working directory (client-go reads $HOME, nothing else); a pod without HOME still finds its service account', () => {
  const sa = join(dir, 'sa-nohome');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'token'), 't');
  const cwd = process.cwd();
  const work = join(dir, 'nohome');
  write('nohome/.kube/config', { 'current-context': 'c', clusters: [{ name: 'k', cluster: { server: url, 'certificate-authority': 'ca.crt' } }], contexts: [{ name: 'c', context: { cluster: 'k' } }] });
  process.chdir(work);
  try {
    const r = loadConfig({}, {}, sa);
    assert.equal(r.source, '~/.kube/config');
    assert.equal(r.cluster.certificateAuthority, join(work, '.kube/ca.crt'));
    process.chdir(dir);
    assert.equal(loadConfig({}, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, sa).source, 'in-cluster service account');
  } finally {
    process.chdir(cwd);
  }
});

test("in a pod, a KUBECONFIG whose files are all missing, or hold nothing, gives way to the pod's service account (as kubectl's deferred loading)", () => {
  const sa = join(dir, 'sa-fallback');
  mkdirSync(sa);
  writeFileSync(join(sa, 'token'), 't');
  writeFileSync(join(sa, 'namespace'), 'pod-ns');
  const pod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const empty = write('empty/config', '# nothing yet\n');
  for (const kc of [join(dir, 'missing-a'), `${join(dir, 'missing-a')}:${empty}`]) {
    const r = loadConfig({}, { ...pod, KUBECONFIG: kc }, sa);
    assert.equal(r.source, 'in-cluster service account', kc);
    assert.equal(r.namespace, 'pod-ns');
  }
  assert.equal(loadConfig({ namespace: 'mine' }, { ...pod, KUBECONFIG: empty }, sa).namespace, 'mine');
  assert.throws(() => loadConfig({}, { KUBECONFIG: join(dir, 'missing-a') }, sa), /no file of KUBECONFIG/, 'not a pod: the error as before');
  assert.throws(() => loadConfig({}, { KUBECONFIG: empty }, sa), /has no current-context/);
  assert.throws(() => loadConfig({ kubeconfig: join(dir, 'missing-a') }, pod, sa), /does not exist/, 'a file named on the command line must exist, pod or not');
});

test('in-cluster: server from KUBERNETES_SERVICE_HOST/PORT, the service-account token re-read when it rotates, its CA and namespace', async () => {
  const sa = join(dir, 'sa');
  mkdirSync(sa);
  assert.equal(inClusterConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, sa), undefined, 'no token: not a pod');
  writeFileSync(join(sa, 'token'), 'sa-token-1');
  writeFileSync(join(sa, 'ca.crt'), 'CA-PEM');
  writeFileSync(join(sa, 'namespace'), 'team-ns\n');
  assert.equal(inClusterConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, sa), undefined, 'no port: not a pod');
  const cfg = inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, sa)!;
  assert.equal(cfg.cluster.server, 'https://[fd00::1]:6443');
  assert.equal(cfg.namespace, 'team-ns');
  assert.deepEqual(cfg.paths, [], 'nothing recorded but the source');
  const c = new Credentials(cfg);
  const s = await c.settings();
  assert.equal(s.headers.Authorization, 'Bearer sa-token-1');
  assert.equal(s.ca?.toString(), 'CA-PEM');
  writeFileSync(join(sa, 'token.new'), 'sa-token-2');
  renameSync(join(sa, 'token.new'), join(sa, 'token')); // as the kubelet rotates a bound token
  assert.equal((await c.settings()).headers.Authorization, 'Bearer sa-token-2');
});

test('the client records paths and names only', () => {
  const cfg = single('record', { token: 'secret-token' });
  const client = new KubeClient(cfg);
  try {
    const record = JSON.stringify({ kubeconfig: client.kubeconfigPath, context: client.contextName, namespace: client.namespace, source: client.source });
    assert.equal(client.kubeconfigPath, join(dir, 'record.yaml'));
    assert.ok(!record.includes('secret-token'));
  } finally {
    client.close();
  }
});

test('@kubernetes/client-node stays out of envserve: no src file imports it, and it is no runtime dependency', () => {
  // The repository's src/ (this file may run from src/ or from a build of it).
  let root = new URL('./', import.meta.url);
  while (!existsSync(new URL('package.json', root))) root = new URL('../', root);
  const src = new URL('src/', root);
  const offenders = (readdirSync(src, { recursive: true }) as string[])
    .filter((f) => /\.ts$/.test(f) && !f.endsWith('.test.ts'))
    .filter((f) => /from '@kubernetes\/client-node'|import\('@kubernetes\/client-node'\)/.test(readFileSync(new URL(f, src), 'utf8')));
  assert.ok(offenders.length === 0 && readdirSync(src, { recursive: true }).length > 100, `imports of client-node: ${offenders.join(', ')}`);
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  assert.equal(pkg.dependencies['@kubernetes/client-node'], undefined);
});

test("exec plugin: a port-forward upgrade refused with 401 drops the credential, so the next dial runs the plugin again", async () => {
  clearExecCache();
  const count = join(dir, 'count-ws');
  const plugin = script('plugin-ws', `n=$(($(cat ${count} 2>/dev/null || echo 0) + 1)); echo $n > ${count}\n[ $n = 1 ] && t=expired-1 || t=token-$n\n${cred('{"token":"\'$t\'"}')}`);
  const srv = https.createServer(cert);
  const wss = new WebSocketServer({ server: srv, verifyClient: (info: { req: http.IncomingMessage }, done: (ok: boolean, code?: number) => void) => done(info.req.headers.authorization === 'Bearer token-2', 401) });
  wss.on('connection', (ws) => ws.close());
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const client = new KubeClient({ ...single('ws-401', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } }), cluster: { name: 'k', server: `https://127.0.0.1:${(srv.address() as AddressInfo).port}`, certificateAuthorityData: cert.caData, insecureSkipTlsVerify: false, disableCompression: false } });
  try {
    await assert.rejects(openWebSocket(client, '/api/v1/namespaces/n/pods/p/portforward?ports=80', 'v4.channel.k8s.io'), (e: unknown) => e instanceof TunnelRefused && e.code === 401);
    const { ws } = await openWebSocket(client, '/api/v1/namespaces/n/pods/p/portforward?ports=80', 'v4.channel.k8s.io');
    ws.terminate();
    assert.equal(readFileSync(count, 'utf8').trim(), '2', 'the plugin ran again after the 401');
  } finally {
    client.close();
    wss.close();
    srv.close();
  }
});

test("a state record's server written before the loader normalized it still names the same server", () => {
  assert.equal(sameServer('https://Kube.example.com:443/', 'https://kube.example.com'), true);
  assert.equal(sameServer('https://kube.example.com:6443', 'https://kube.example.com'), false);
  assert.equal(sameServer('not a url', 'not a url'), true);
});
