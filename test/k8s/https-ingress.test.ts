// HTTPS through the test cluster's Ingress controller (Traefik's websecure entry point on :443),
// with certificates issued by the test set-up's CA (tls-lib.ts): envserve's TLS Ingress
// (`tls_secret=`) answers over HTTPS with SNI = its host, verified against the test CA, and
// `status` says so; `check`'s HTTPS probe tells a valid certificate from a wrong host name, an
// expired one and one from an unknown authority, each with its own reason code and fix. envserve
// trusts the test CA the way a user trusts a company CA: NODE_EXTRA_CA_CERTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { envserve } from '../helpers/cli.js';
import { BIN } from './cli-proc.js';
import { httpRequest } from './cluster.js';
import { env, rand, createNamespace, deleteNamespace, mustKubectl, backedDeployment, waitReadyPod, ingressRouted, writeEnvFile, ownedObjects, eventually } from './expose-lib.js';
import { httpsGet, issueCert, tlsEnv, tlsSecret } from './tls-lib.js';

const T = tlsEnv();
const [httpIp, httpPort] = env.ingressAddress.split(':');
const trusting = { KUBECONFIG: env.kubeconfig, NODE_EXTRA_CA_CERTS: T.caCert };
let ns: string;

before(async () => {
  ns = createNamespace('es-https');
  backedDeployment(ns, 'web', { app: 'web' });
  mustKubectl(['-n', ns, 'expose', 'deployment', 'web', '--port=80', '--target-port=8080']);
  await waitReadyPod(ns, 'app=web', undefined, 60_000);
});
after(() => deleteNamespace(ns));

/** An Ingress (made with kubectl, as ops would) for `host` to the web Service, TLS from `secret`. */
function tlsIngress(name: string, host: string, secret: string): void {
  mustKubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: ns },
    spec: {
      ingressClassName: 'traefik', tls: [{ hosts: [host], secretName: secret }],
      rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
    },
  }));
}

function checkJson(target: string, vars: Record<string, string>): { code: number; report: any } {
  const r = envserve(['check', '--target', target, '--no-debug-pod', '-o', 'json'], { env: vars });
  assert.ok(r.stdout.trim().startsWith('{'), `check printed JSON: ${r.stdout}${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) };
}
const tlsProbe = (report: any, exposure: string) => report.checks.find((c: any) => c.id === 'probe.local.ingress.tls' && c.exposure === exposure);

test('check: a valid certificate passes; a wrong host name, an expired one and an unknown CA each fail with their own reason and fix', async () => {
  const id = rand();
  const cases = [
    { name: 'valid', host: `valid-${id}.envserve.test`, cert: (h: string) => issueCert(h), reason: 'Answers', fix: undefined },
    // The Secret's certificate names another host: Traefik finds none for the SNI and serves its
    // default one (from the test CA, for ingress-default.envserve.test), as a cluster's wildcard would.
    { name: 'wrong', host: `wrong-${id}.envserve.test`, cert: (_h: string) => issueCert(`other-${id}.envserve.test`), reason: 'TlsHostnameMismatch', fix: /certificate for another name/ },
    { name: 'expired', host: `expired-${id}.envserve.test`, cert: (h: string) => issueCert(h, { expired: true }), reason: 'TlsCertificateExpired', fix: /renew the certificate/ },
    { name: 'unknown', host: `unknown-${id}.envserve.test`, cert: (h: string) => issueCert(h, { ca: 'unknown' }), reason: 'TlsUnknownAuthority', fix: /NODE_EXTRA_CA_CERTS/ },
  ];
  for (const c of cases) {
    tlsSecret(env.kubeconfig, ns, `${c.name}-tls`, c.cert(c.host));
    tlsIngress(c.name, c.host, `${c.name}-tls`);
  }
  // Settled: each routed over plain HTTP, and the valid one over HTTPS (Traefik has loaded its Secret).
  for (const c of cases) await ingressRouted(ns, c.name, c.host);
  await eventually(async () => assert.equal((await httpsGet(T.httpsAddress, T.httpsPort, cases[0]!.host)).status, 200), 30_000, 200);

  for (const c of cases) {
    const { code, report } = checkJson(`k8s:${ns}/ingress/${c.name}`, trusting);
    const p = tlsProbe(report, `ingress-${c.name}`);
    assert.ok(p, `a probe.local.ingress.tls check for ${c.name}: ${JSON.stringify(report.checks.map((x: any) => x.id))}`);
    assert.equal(p.reason, c.reason, `${c.name}: ${p.message}`);
    assert.equal(p.status, c.fix ? 'fail' : 'pass', c.name);
    assert.equal(code, c.fix ? 1 : 0, `${c.name}: exit code`);
    if (c.fix) {
      assert.match(p.fix, c.fix, `${c.name}: fix`);
      assert.match(p.message, new RegExp(`SNI and Host: ${c.host.replace(/\./g, '\\.')}`));
      assert.equal(report.exposures.find((e: any) => e.exposure === `ingress-${c.name}`).cause.reason, c.reason, `${c.name}: the cause`);
    }
    // Plain HTTP on :80 is routed for all four: only the certificate differs.
    assert.equal(report.checks.find((x: any) => x.id === 'probe.local.ingress' && x.exposure === `ingress-${c.name}`)?.status, 'pass', c.name);
  }
  const wrong = tlsProbe(checkJson(`k8s:${ns}/ingress/wrong`, trusting).report, 'ingress-wrong');
  assert.match(wrong.message, new RegExp(`CN=${T.defaultHost.replace(/\./g, '\\.')} issued by CN=envserve-test-ca does not cover`));
  // The same valid certificate, from a machine that does not trust the test CA: unknown authority.
  const untrusting = tlsProbe(checkJson(`k8s:${ns}/ingress/valid`, { KUBECONFIG: env.kubeconfig, NODE_EXTRA_CA_CERTS: '' }).report, 'ingress-valid');
  assert.equal(untrusting.reason, 'TlsUnknownAuthority', untrusting.message);
});

test('up: a TLS Ingress (tls_secret=) answers over HTTPS with SNI = its host; status shows the https URL, ready, and turns when the certificate expires', async () => {
  const envName = `tls-${rand()}`;
  const host = `${envName}.envserve.test`;
  const secret = `${envName}-cert`;
  tlsSecret(env.kubeconfig, ns, secret, issueCert(host));
  const file = writeEnvFile(envName, `
def build():
    base(image="envserve.test/web:1")
def serve():
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=80, name="web",
                   access="public", ingress=cloud.k8s.ingress(host="${host}", path="/", class_name="traefik", tls_secret="${secret}"))
`);
  const child = spawn(process.execPath, [BIN, 'up', '--runtime', 'k8s', '-n', ns, '-f', file], { env: { ...process.env, ...trusting }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const ingressStatus = () => {
    const st = envserve(['status', '-f', file, '-o', 'json'], { env: trusting });
    assert.equal(st.code === 0 || st.code === 1, true, st.stderr);
    return JSON.parse(st.stdout).exposures.find((e: any) => e.kind === 'k8s-ingress');
  };
  try {
    await eventually(async () => assert.match(out, /Press Ctrl-C/), 60_000, 100);
    const ing = mustKubectl(['-n', ns, 'get', 'ingress', `${envName}-web`, '-o', 'jsonpath={.spec.tls[0].secretName} {.spec.tls[0].hosts[0]}']);
    assert.equal(ing, `${secret} ${host}`, 'the Ingress names the Secret for its host');
    assert.match(out, new RegExp(`https://${host.replace(/\./g, '\\.')}/`), `up prints the https URL:\n${out}`);

    // A real HTTPS GET through Traefik, SNI = host, verified against the test CA only.
    const pod = await waitReadyPod(ns, `envserve.dev/env=${envName}`);
    const viaTls = await eventually(() => httpsGet(T.httpsAddress, T.httpsPort, host, { path: '/tls-bytes' }), 20_000, 200);
    assert.equal(viaTls.status, 200, viaTls.body.toString());
    assert.equal(viaTls.subject, host);
    assert.equal(viaTls.issuer, 'envserve-test-ca');
    const answer = JSON.parse(viaTls.body.toString());
    assert.deepEqual([answer.pod, answer.port, answer.path, answer.host], [pod, 8080, '/tls-bytes', host], "the pod's own answer");
    const viaHttp = await httpRequest(httpIp!, Number(httpPort), { hostHeader: host, path: '/tls-bytes' });
    assert.ok(viaTls.body.equals(viaHttp.body), 'the same bytes over HTTPS as over HTTP');

    const ready = await eventually(async () => {
      const e = ingressStatus();
      assert.equal(e.reason, 'Ready', JSON.stringify(e));
      return e;
    }, 20_000, 250);
    assert.ok(ready.urls.includes(`https://${host}/`), JSON.stringify(ready.urls));
    assert.equal(ready.answering, true);

    // The Secret now holds an expired certificate: Traefik serves it, and status stops saying ready.
    tlsSecret(env.kubeconfig, ns, secret, issueCert(host, { expired: true }));
    const expired = await eventually(async () => {
      const e = ingressStatus();
      assert.equal(e.reason, 'TlsCertificateExpired', JSON.stringify(e));
      return e;
    }, 20_000, 250);
    assert.notEqual(expired.state, 'ready');
    assert.match(expired.message, /out of date \(CERT_HAS_EXPIRED/);
  } finally {
    const d = envserve(['down', '-f', file, '--runtime', 'k8s', '-n', ns], { env: trusting });
    assert.equal(d.code, 0, d.stderr);
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
  assert.deepEqual(ownedObjects(ns, envName), []);
});
