// The prober: an exposure's target list (pure), the summary of several results, and the reason
// codes of real probes on loopback sockets and through a fake API server requester.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import type { HostExposure, K8sIngressExposure, K8sPortForwardExposure, K8sServiceExposure } from '../plan/types.js';
import { probe, probeAll, summarize, targetsFor, type ApiRequester } from './index.js';
import { FORWARD_HOLD_MS } from './targets.js';

const common = { envPort: 8888, position: 'f:1:1', protocol: 'http' as const };
const hostE: HostExposure = { ...common, id: 'h', kind: 'host', declaredBy: 'host.bind', hostPort: 1234, listenAddress: '0.0.0.0' };
const pfE: K8sPortForwardExposure = { ...common, id: 'pf', kind: 'k8s-port-forward', declaredBy: 'cloud.k8s.bind', hostPort: 1234, listenAddress: '127.0.0.1', protocol: 'tcp' };
const svcE: K8sServiceExposure = { ...common, id: 's', kind: 'k8s-service', declaredBy: 'cloud.k8s.bind', serviceType: 'NodePort', servicePort: 80, nodePort: 30090 };
const ingE: K8sIngressExposure = { ...common, id: 'i', kind: 'k8s-ingress', declaredBy: 'cloud.k8s.bind', serviceId: 's', servicePort: 80, host: 'lab.example.com', path: '/lab', tlsSecret: 'lab-tls' };

test('targets: a local HTTP exposure is probed end to end through its listener (a wildcard on loopback)', () => {
  assert.deepEqual(targetsFor(hostE, { listener: { address: '0.0.0.0', port: 1234 }, backend: { address: '127.0.0.1', port: 8888 } }), [
    { vantage: 'local', target: { kind: 'http', url: 'http://127.0.0.1:1234/', scope: 'listener' } },
  ]);
  assert.deepEqual(targetsFor({ ...hostE, listenAddress: '::' }, { listener: { address: '::', port: 1234 } })[0]!.target, { kind: 'http', url: 'http://[::1]:1234/', scope: 'listener' });
});

test('targets: a TCP exposure is probed at its backend (a proxy accepts by itself), else its listener', () => {
  assert.deepEqual(targetsFor({ ...hostE, protocol: 'tcp' }, { listener: { address: '127.0.0.1', port: 1234 }, backend: { address: '::1', port: 8888 } }), [
    { vantage: 'local', target: { kind: 'tcp', address: '::1', port: 8888, scope: 'backend' } },
  ]);
  assert.deepEqual(targetsFor(pfE, { listener: { address: '127.0.0.1', port: 1234 } }), [
    { vantage: 'local', target: { kind: 'tcp', address: '127.0.0.1', port: 1234, scope: 'listener', holdMs: FORWARD_HOLD_MS } },
  ]);
  assert.deepEqual(targetsFor(pfE, {}), []);
});

test('probe: a TCP target with holdMs fails when the accepted connection is reset, passes when it stays or answers', async () => {
  // What a port-forward's listener does: it accepts, then resets what the pod refused.
  const resets = net.createServer((s) => setTimeout(() => s.resetAndDestroy(), 30)).listen(0, '127.0.0.1');
  const stays = net.createServer(() => undefined).listen(0, '127.0.0.1');
  const speaks = net.createServer((s) => s.write('SSH-2.0-x\r\n')).listen(0, '127.0.0.1');
  await Promise.all([once(resets, 'listening'), once(stays, 'listening'), once(speaks, 'listening')]);
  const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
  try {
    const reset = await probe({ kind: 'tcp', address: '127.0.0.1', port: port(resets), holdMs: 500 }, 'local');
    assert.deepEqual([reset.ok, reset.reason], [false, 'ConnectionReset']);
    // Without holdMs the accept alone counts (a local proxy's backend, a published port).
    assert.equal((await probe({ kind: 'tcp', address: '127.0.0.1', port: port(resets) }, 'local')).ok, true);
    const stayed = await probe({ kind: 'tcp', address: '127.0.0.1', port: port(stays), holdMs: 200 }, 'local');
    assert.deepEqual([stayed.ok, stayed.reason], [true, 'Ready']);
    assert.ok(stayed.latencyMs! >= 190, `held ${stayed.latencyMs} ms`);
    const spoke = await probe({ kind: 'tcp', address: '127.0.0.1', port: port(speaks), holdMs: 5000 }, 'local');
    assert.deepEqual([spoke.ok, spoke.reason], [true, 'Ready']);
  } finally {
    for (const s of [resets, stays, speaks]) s.close();
  }
});

test('targets: a Service — its ClusterIP through the API server, node ports and the LB from here', () => {
  const list = targetsFor(svcE, {
    object: { namespace: 'team', name: 'lab-jupyter-80' },
    addresses: [
      { scope: 'cluster', address: '10.96.0.10', port: 80 },
      { scope: 'node', address: '192.168.1.5', port: 30090 },
      { scope: 'load-balancer', address: '192.168.1.200', port: 80 },
    ],
  });
  assert.deepEqual(list, [
    { vantage: 'apiserver', target: { kind: 'service', namespace: 'team', name: 'lab-jupyter-80', port: 80, protocol: 'http', scope: 'cluster' } },
    { vantage: 'local', target: { kind: 'http', url: 'http://192.168.1.5:30090/', scope: 'node' } },
    { vantage: 'local', target: { kind: 'http', url: 'http://192.168.1.200:80/', scope: 'load-balancer' } },
  ]);
  const tcp = targetsFor({ ...svcE, protocol: 'tcp' }, { object: { namespace: 'team', name: 'x' }, addresses: [{ scope: 'node', address: '192.168.1.5', port: 30090 }] });
  assert.deepEqual(tcp, [{ vantage: 'local', target: { kind: 'tcp', address: '192.168.1.5', port: 30090, scope: 'node' } }]);
});

test('targets: an Ingress — its controller address with the Host header and path; HTTPS when it has TLS', () => {
  assert.deepEqual(targetsFor(ingE, { addresses: [{ scope: 'ingress', address: '10.0.0.9', port: 443 }] }), [
    { vantage: 'local', target: { kind: 'http', url: 'https://10.0.0.9:443/lab', hostHeader: 'lab.example.com', viaProxy: true, scope: 'ingress' } },
  ]);
  const plain = { ...ingE, path: '/' } as K8sIngressExposure;
  delete (plain as { tlsSecret?: string }).tlsSecret;
  assert.equal((targetsFor(plain, { addresses: [{ scope: 'ingress', address: '10.0.0.9', port: 8080 }] })[0]!.target as { url: string }).url, 'http://10.0.0.9:8080/');
});

test('summary: any answering target makes the exposure answer; else the first reason; details name each target', () => {
  const ok = { ok: true, reason: 'Ready' as const };
  const refused = { ok: false, reason: 'ConnectionRefused' as const, detail: 'connection refused' };
  const t1 = { vantage: 'local' as const, target: { kind: 'tcp' as const, address: '1.2.3.4', port: 1, scope: 'node' as const } };
  const t2 = { vantage: 'apiserver' as const, target: { kind: 'service' as const, namespace: 'n', name: 's', port: 80, protocol: 'tcp' as const, scope: 'cluster' as const } };
  assert.deepEqual(summarize([]), { ok: false, reason: 'Starting', detail: 'no address to probe yet' });
  assert.deepEqual(summarize([{ ...t1, result: refused }]), { ok: false, reason: 'ConnectionRefused', detail: 'connection refused' });
  const two = summarize([{ ...t1, result: refused }, { ...t2, result: ok }]);
  assert.equal(two.ok, true);
  assert.equal(two.reason, 'Ready');
  assert.equal(two.detail, 'node 1.2.3.4:1 does not answer (connection refused); cluster service n/s:80 answers');
  // A target that could not be probed from there (no right to the API server's proxy) does not hide why another fails.
  const cannot = { ok: false, reason: 'VantageUnavailable' as const, detail: 'cannot check from outside the cluster' };
  assert.equal(summarize([{ ...t2, result: cannot }, { ...t1, result: refused }]).reason, 'ConnectionRefused');
  assert.equal(summarize([{ ...t2, result: cannot }]).reason, 'VantageUnavailable');
});

test('local probes: refused, answering TCP, HTTP status, a proxy without a route, not HTTP, a timeout', async () => {
  const closed = net.createServer().listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const freePort = (closed.address() as net.AddressInfo).port;
  closed.close();
  await once(closed, 'close');
  const refused = await probe({ kind: 'tcp', address: '127.0.0.1', port: freePort }, 'local');
  assert.equal(refused.reason, 'ConnectionRefused');

  let status = 302;
  const web = http.createServer((_q, s) => s.writeHead(status).end()).listen(0, '127.0.0.1');
  await once(web, 'listening');
  const wp = (web.address() as net.AddressInfo).port;
  const tcp = await probe({ kind: 'tcp', address: '127.0.0.1', port: wp }, 'local');
  assert.equal(tcp.ok, true);
  assert.equal(typeof tcp.latencyMs, 'number');
  const h = await probe({ kind: 'http', url: `http://127.0.0.1:${wp}/` }, 'local');
  assert.deepEqual([h.ok, h.reason, h.httpStatus], [true, 'Ready', 302]);
  status = 503;
  const viaProxy = await probe({ kind: 'http', url: `http://127.0.0.1:${wp}/`, hostHeader: 'a.example', viaProxy: true }, 'local');
  assert.deepEqual([viaProxy.ok, viaProxy.reason, viaProxy.httpStatus], [false, 'IngressRouteNotAnswering', 503]);
  web.close();

  // Through an Ingress controller: its own 404 (no rule for this Host and path) is not an answer,
  // the app's 404 is — an API with no page at / (FastAPI, Express) answers through its route.
  for (const [name, type, body, ok] of [
    ['FastAPI', 'application/json', '{"detail":"Not Found"}', true],
    ['Express', 'text/html; charset=utf-8', '<!DOCTYPE html><html><body><pre>Cannot GET /</pre></body></html>', true],
    ['Traefik', 'text/plain; charset=utf-8', '404 page not found\n', false],
    ['ingress-nginx', 'text/html', '<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>', false],
    ['Envoy (Contour, Istio)', 'text/plain', '', false],
  ] as const) {
    const ctl = http.createServer((_q, s) => s.writeHead(404, { 'content-type': type }).end(body)).listen(0, '127.0.0.1');
    await once(ctl, 'listening');
    try {
      const r = await probe({ kind: 'http', url: `http://127.0.0.1:${(ctl.address() as net.AddressInfo).port}/`, hostHeader: 'api.example', viaProxy: true }, 'local');
      assert.deepEqual([r.ok, r.reason, r.httpStatus], [ok, ok ? 'Ready' : 'IngressRouteNotAnswering', 404], `${name}: ${r.detail}`);
    } finally {
      ctl.close();
    }
  }

  const junk = net.createServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n')).listen(0, '127.0.0.1');
  await once(junk, 'listening');
  const notHttp = await probe({ kind: 'http', url: `http://127.0.0.1:${(junk.address() as net.AddressInfo).port}/` }, 'local');
  assert.deepEqual([notHttp.ok, notHttp.reason], [false, 'NotHttp']);
  junk.close();

  // What browsers and curl read as a page is a page: bare-LF lines (`printf ... | nc -l` servers),
  // obsolete header folding, a control character in a header value.
  for (const answer of ['HTTP/1.1 200 OK\nContent-Type: text/html\nContent-Length: 5\n\nhello', 'HTTP/1.0 200 OK\r\nX-Note: a\r\n b\r\nX-Raw: a\x01b\r\n\r\nhello']) {
    const loose = net.createServer((s) => s.once('data', () => s.end(answer))).listen(0, '127.0.0.1');
    await once(loose, 'listening');
    try {
      const page = await probe({ kind: 'http', url: `http://127.0.0.1:${(loose.address() as net.AddressInfo).port}/` }, 'local');
      assert.deepEqual([page.ok, page.reason, page.httpStatus, page.excerpt], [true, 'Ready', 200, 'hello'], JSON.stringify(answer));
    } finally {
      loose.close();
    }
  }

  const silent = net.createServer(() => {}).listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const slow = await probe({ kind: 'http', url: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/` }, 'local', { timeoutMs: 200 });
  assert.deepEqual([slow.ok, slow.reason], [false, 'Timeout']);
  silent.close();
});

test('vantages: in-cluster targets need the API server; a fake requester shows the reasons', async () => {
  const svc = { kind: 'service' as const, namespace: 'n', name: 's', port: 80, protocol: 'http' as const };
  assert.equal((await probe(svc, 'local')).reason, 'VantageUnavailable');
  assert.equal((await probe(svc, 'apiserver')).reason, 'VantageUnavailable', 'no API server given');
  assert.equal((await probe(svc, 'cluster')).reason, 'VantageUnavailable');
  const apiError = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });
  // The proxy's answer: the app's bytes (never JSON here), or the API server's own v1 Status.
  const app = (status: number, body: string, type = 'text/plain') => ({ status, headers: { 'content-type': type }, body: Buffer.from(body) });
  const apiStatus = (code: number, message: string) => app(code, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code }), 'application/json');
  const api = (proxy: ReturnType<typeof app>, endpoints: number | 'forbidden'): ApiRequester => ({
    async requestRaw() {
      return proxy;
    },
    async request<T>(path: string): Promise<T> {
      // As KubeClient.request would: JSON for a 2xx, else an error with the status.
      if (path.includes('/proxy/')) {
        if (proxy.status >= 300) throw apiError(proxy.status);
        return JSON.parse(proxy.body.toString()) as T;
      }
      if (endpoints === 'forbidden') throw apiError(403);
      return { items: [{ endpoints: Array.from({ length: endpoints }, () => ({ conditions: { ready: true } })) }] } as T;
    },
  });
  const page = app(200, 'bar13-df55 is not JSON');
  assert.deepEqual(await probe(svc, 'apiserver', { api: api(page, 1) }).then((r) => [r.reason, r.httpStatus]), ['Ready', 200], 'a plain-text page is an answer');
  assert.equal((await probe(svc, 'apiserver', { api: api(app(200, '<!doctype html><title>x</title>', 'text/html'), 1) })).reason, 'Ready');
  assert.equal((await probe(svc, 'apiserver', { api: api(app(401, 'login'), 1) })).ok, true, "the service's own 401 is an answer");
  const own503 = await probe(svc, 'apiserver', { api: api(app(503, '<h1>maintenance</h1>', 'text/html'), 1) });
  assert.deepEqual([own503.ok, own503.httpStatus], [true, 503], "the app's own 503 is an answer");
  const noEndpoints = apiStatus(503, 'no endpoints available for service "s"');
  assert.equal((await probe(svc, 'apiserver', { api: api(noEndpoints, 0) })).reason, 'NoEndpoints');
  const refused = await probe(svc, 'apiserver', { api: api(apiStatus(503, 'error trying to reach service: dial tcp 10.0.0.9:80: connect: connection refused'), 1) });
  assert.deepEqual([refused.ok, refused.reason], [false, 'ConnectionRefused']);
  assert.match(refused.detail!, /connection refused/);
  const viaEndpoints = await probe(svc, 'apiserver', { api: api(apiStatus(403, 'forbidden'), 2) });
  assert.deepEqual([viaEndpoints.ok, viaEndpoints.detail], [true, '2 ready endpoints']);
  assert.equal((await probe(svc, 'apiserver', { api: api(apiStatus(403, 'forbidden'), 'forbidden') })).reason, 'VantageUnavailable');
  assert.equal((await probe({ ...svc, protocol: 'tcp' }, 'apiserver', { api: api(page, 0) })).reason, 'NoEndpoints');
  const pod = { kind: 'pod' as const, namespace: 'n', name: 'p', port: 8080 };
  assert.equal((await probe(pod, 'apiserver', { api: api(app(302, '', 'text/html'), 0) })).reason, 'Ready', 'a redirect to a login is an answer');
  assert.equal((await probe(pod, 'apiserver', { api: api(apiStatus(502, 'error trying to reach service: dial tcp: connect: connection refused'), 0) })).reason, 'ConnectionRefused');
  const unreachable: ApiRequester = { request: async () => { throw new Error('connect ECONNREFUSED'); }, requestRaw: async () => { throw new Error('connect ECONNREFUSED'); } };
  assert.equal((await probe(svc, 'apiserver', { api: unreachable })).reason, 'ClusterUnreachable');
  // No answer in time: the app (the API server still answers /version) or the API server.
  const silent = (apiAnswers: boolean): ApiRequester => ({
    requestRaw: async () => { throw new Error('cannot reach the Kubernetes API server at https://x: no answer within 3000 ms'); },
    request: async <T>() => { if (!apiAnswers) throw new Error('no answer within 3000 ms'); return { major: '1' } as T; },
  });
  assert.equal((await probe(svc, 'apiserver', { api: silent(true) })).reason, 'Timeout', 'an app that accepts and never answers');
  assert.equal((await probe(svc, 'apiserver', { api: silent(false) })).reason, 'ClusterUnreachable');
  const reset = await probe(svc, 'apiserver', { api: api(apiStatus(502, 'error trying to reach service: read tcp 10.0.0.1:5->10.0.0.9:80: read: connection reset by peer'), 1) });
  assert.equal(reset.reason, 'ConnectionReset');
  // An app that accepts and closes without an answer, and one that speaks first and not HTTP (sshd): something listens.
  const eof = await probe(svc, 'apiserver', { api: api(apiStatus(503, 'error trying to reach service: EOF'), 1) });
  assert.deepEqual([eof.ok, eof.reason], [false, 'ConnectionReset'], eof.detail);
  assert.match(eof.detail!, /closed the connection without an answer/);
  const ssh = await probe({ kind: 'pod', namespace: 'n', name: 'p', port: 22 }, 'apiserver', { api: api(apiStatus(503, 'error trying to reach service: net/http: HTTP/1.x transport connection broken: malformed HTTP response "SSH-2.0-OpenSSH_9.2"'), 0) });
  assert.deepEqual([ssh.ok, ssh.reason], [false, 'NotHttp'], ssh.detail);
  // An HTTPS-only app behind the proxy: Go's 400 to plain HTTP, or Node's closed connection (EOF).
  // The API server's proxy speaks TLS to it when asked (https:NAME:PORT): then it speaks TLS.
  const tlsApp = (plain: ReturnType<typeof app>, https: ReturnType<typeof app>): ApiRequester & { paths: string[] } => {
    const paths: string[] = [];
    return { paths, requestRaw: async (path: string) => (paths.push(path), /\/https:/.test(path) ? https : plain), request: async <T>() => ({ items: [{ endpoints: [{ conditions: { ready: true } }] }] }) as T };
  };
  const page200 = app(200, '<html>lab</html>', 'text/html');
  const goTls = tlsApp(app(400, 'Client sent an HTTP request to an HTTPS server.\n'), page200);
  const go = await probe(svc, 'apiserver', { api: goTls });
  assert.deepEqual([go.ok, go.reason], [false, 'NotHttp'], go.detail);
  assert.match(go.detail!, /speaks TLS/);
  assert.deepEqual(goTls.paths, ['/api/v1/namespaces/n/services/s:80/proxy/', '/api/v1/namespaces/n/services/https:s:80/proxy/']);
  const nodeTls = await probe({ kind: 'pod', namespace: 'n', name: 'p', port: 8443 }, 'apiserver', { api: tlsApp(apiStatus(503, 'error trying to reach service: EOF'), page200) });
  assert.deepEqual([nodeTls.ok, nodeTls.reason], [false, 'NotHttp'], nodeTls.detail);
  const closes = await probe(svc, 'apiserver', { api: tlsApp(apiStatus(503, 'error trying to reach service: EOF'), apiStatus(503, 'error trying to reach service: tls: first record does not look like a TLS handshake')) });
  assert.deepEqual([closes.ok, closes.reason], [false, 'ConnectionReset'], 'a port that closes and does not speak TLS either');
  const plain400 = tlsApp(app(400, 'bad request: missing parameter'), page200);
  assert.equal((await probe(svc, 'apiserver', { api: plain400 })).reason, 'Ready', "an app's own 400 is an answer");
  assert.equal(plain400.paths.length, 1, 'and TLS is not tried');
  const all = await probeAll([{ vantage: 'apiserver', target: svc }], { api: api(page, 1) });
  assert.equal(all[0]!.result.ok, true);
});
