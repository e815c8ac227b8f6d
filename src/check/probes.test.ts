// The probe side without a cluster: what HTTP answers mean, the debug pod's manifest, its log line,
// its fallback when RBAC forbids creating pods, the probe planning, and real probes on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import { KubeApiError } from '../apply/k8s/client.js';
import { debugPodManifest, formatProbeLine, parseProbeLog, runDebugPod } from './debug-pod.js';
import { classifyApiProxy, classifyHttp, probeFromHere } from './probes.js';
import { readProxyAnswer } from '../probe/proxy-answer.js';
import { planK8sProbes } from './k8s.js';
import { verdicts } from './report.js';
import type { Check } from './types.js';
import type { KubernetesReason } from '../reasons.js';
import { parseProbeSpecs } from '../cli/commands/probe.js';

test('an auth wall answers: 401, 403 and a redirect to a login page are "login required"', () => {
  assert.deepEqual([401, 403].map((s) => classifyHttp(s, undefined, '', 'direct').reason), ['LoginRequired', 'LoginRequired']);
  assert.equal(classifyHttp(302, '/login?next=%2Flab', '', 'direct').reason, 'LoginRequired');
  assert.equal(classifyHttp(302, '/lab', '', 'direct').reason, 'Answers');
  assert.equal(classifyHttp(500, undefined, '', 'direct').ok, true, 'an app error is still an answer');
  assert.equal(classifyHttp(404, undefined, '404 page not found\n', 'ingress').reason, 'ProxyNoRoute');
  assert.equal(classifyHttp(404, undefined, '{"not":"found"}', 'ingress').ok, true, 'the app\'s own 404');
  assert.equal(classifyHttp(503, undefined, '', 'ingress').reason, 'ProxyNoRoute');
});

test('the API server proxy: its own Status errors against the app\'s answers (bodies are the app\'s, never parsed)', () => {
  const answer = (status: number, body: string, type = 'text/plain', location?: string) =>
    classifyApiProxy(readProxyAnswer({ status, headers: { 'content-type': type, ...(location && { location }) }, body: Buffer.from(body) }));
  const st = (code: number, reason: KubernetesReason, message: string) => answer(code, JSON.stringify({ kind: 'Status', apiVersion: 'v1', code, reason, message }), 'application/json');
  assert.equal(st(503, 'ServiceUnavailable', 'no endpoints available for service "web"').reason, 'NoEndpoints');
  assert.equal(st(502, '', 'error trying to reach service: dial tcp 10.244.0.5:8081: connect: connection refused').reason, 'ConnectionRefused');
  // The API server's words (Kubernetes 1.37) for an app that accepts and closes without an answer, and for one that speaks first and not HTTP (sshd).
  assert.equal(st(503, 'ServiceUnavailable', 'error trying to reach service: EOF').reason, 'ConnectionReset');
  assert.equal(st(503, 'ServiceUnavailable', 'error trying to reach service: net/http: HTTP/1.x transport connection broken: malformed HTTP response "SSH-2.0-OpenSSH_9.2"').reason, 'NotHttp');
  assert.equal(st(503, 'ServiceUnavailable', 'error trying to reach service: read tcp 10.245.0.1:38608->10.245.0.2:8093: read: connection reset by peer').reason, 'ConnectionReset');
  assert.equal(st(403, 'Forbidden', 'services "web" is forbidden').reason, 'Forbidden');
  assert.equal(answer(403, 'Forbidden by the app').reason, 'LoginRequired');
  assert.equal(answer(200, '{"pod":"x"}', 'application/json').reason, 'Answers');
  const text = answer(200, 'bar13-df55 says hello\n');
  assert.deepEqual([text.ok, text.reason, text.detail], [true, 'Answers', 'answers HTTP 200: "bar13-df55 says hello"'], 'plain text is an answer, with an excerpt');
  const html = answer(200, `<!doctype html><html><body>${'x'.repeat(5000)}</body></html>`, 'text/html');
  assert.equal(html.reason, 'Answers');
  assert.ok(JSON.parse(html.detail.slice(html.detail.indexOf(': ') + 2)).length <= 200, 'the excerpt is at most 200 characters');
  assert.equal(answer(302, '', 'text/html', '/login?next=%2F').reason, 'LoginRequired');
  assert.deepEqual([answer(503, '<h1>down for maintenance</h1>', 'text/html').ok, answer(500, 'Internal Server Error').ok], [true, true], "the app's own 5xx is an answer");
  assert.equal(answer(503, '{"kind":"Status","apiVersion":"v1","message":"no endpoints', 'application/json').ok, true, 'cut JSON is not the API server\'s Status');
});

test('the debug pod: labelled, no token, no privileges, a deadline, runs envserve probe --json', () => {
  const m = debugPodManifest({ name: 'envserve-check-abc', namespace: 'dev', image: 'envserve:1', specs: [{ id: 'a', host: '10.0.0.1', port: 80, protocol: 'http' }] });
  assert.equal(m.metadata.labels['app.kubernetes.io/managed-by'], 'envserve');
  assert.equal(m.metadata.labels['envserve.dev/role'], 'check-debug');
  assert.equal(m.spec.restartPolicy, 'Never');
  assert.equal(m.spec.automountServiceAccountToken, false);
  assert.ok(m.spec.activeDeadlineSeconds > 0);
  const c = m.spec.containers[0];
  assert.deepEqual(c.command.slice(0, 4), ['envserve', 'probe', '--json', '--spec']);
  assert.deepEqual(parseProbeSpecs(c.command[4]), [{ id: 'a', host: '10.0.0.1', port: 80, protocol: 'http' }]);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
});

test('the probe line round-trips through a pod log with other lines around it', () => {
  const results = [{ id: 'x/probe.cluster.pod', ok: true, reason: 'Ready' as const, detail: 'HTTP/1.1 200 OK', latencyMs: 3, httpStatus: 200, excerpt: 'hello' }];
  const log = `some warning\n${formatProbeLine(results)}\n`;
  assert.deepEqual(parseProbeLog(log), results);
  assert.equal(parseProbeLog('no result here\n'), undefined);
  assert.equal(parseProbeLog('{"envserveProbe":1,"results":[tru'), undefined);
});

test('the debug pod falls back when RBAC forbids creating pods: skipped, nothing else tried', async () => {
  const calls: string[] = [];
  const client = {
    request: async (path: string, o: { method?: string } = {}) => {
      calls.push(`${o.method ?? 'GET'} ${path}`);
      throw new KubeApiError(403, 'Forbidden', 'pods is forbidden: User "u" cannot create resource "pods"', o.method ?? 'GET', path);
    },
    settings: async () => ({ headers: {} }),
    url: (p: string) => new URL(`https://x${p}`),
  };
  const r = await runDebugPod(client as never, { namespace: 'dev', image: 'envserve:1', specs: [] });
  assert.equal(r.status, 'skipped');
  assert.match((r as { message: string }).message, /^skipped: forbidden to create pods in namespace dev/);
  assert.deepEqual(calls, ['POST /api/v1/namespaces/dev/pods']);
});

test('the debug pod is deleted even when it never finishes', async () => {
  const calls: string[] = [];
  const client = {
    request: async (path: string, o: { method?: string } = {}) => {
      calls.push(`${o.method ?? 'GET'} ${path}`);
      return { status: { phase: 'Running' } };
    },
    settings: async () => ({ headers: {} }),
    url: (p: string) => new URL(`https://x${p}`),
  };
  const r = await runDebugPod(client as never, { namespace: 'dev', image: 'envserve:1', specs: [], timeoutMs: 300, name: 'envserve-check-t' });
  assert.equal(r.status, 'failed');
  assert.match((r as { message: string }).message, /did not finish within/);
  assert.equal(calls.at(-1), 'DELETE /api/v1/namespaces/dev/pods/envserve-check-t');
});

test('probe planning: the port-forward, the API server proxy, node port, load balancer, Ingress with Host, and the inside addresses', () => {
  const pod = { metadata: { name: 'p', labels: { app: 'a' } }, spec: { containers: [{ ports: [{ name: 'http', containerPort: 8888 }] }] }, status: { podIP: '10.244.0.5', conditions: [{ type: 'Ready', status: 'True' }] } };
  const svc = { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', clusterIP: '10.96.0.9', selector: { app: 'a' }, ports: [{ port: 80, targetPort: 'http', nodePort: 31000 }] }, status: { loadBalancer: { ingress: [{ ip: '10.250.1.2' }] } } };
  const ing = { metadata: { name: 'lab' }, spec: { tls: [{ secretName: 's' }], rules: [{ host: 'lab.example.com' }] }, status: { loadBalancer: { ingress: [{ ip: '10.0.0.2' }] } } };
  const plan = planK8sProbes({
    namespace: 'dev', workload: { kind: 'selector', labels: { app: 'a' } },
    exposures: [
      { id: 'pf', kind: 'k8s-port-forward', protocol: 'http', port: 8888 },
      { id: 'svc', kind: 'k8s-service', protocol: 'http', service: 'web', port: 80 },
      { id: 'ing', kind: 'k8s-ingress', protocol: 'http', ingress: 'lab' },
    ],
  }, { namespace: 'dev', pods: [pod], services: [svc], endpointSlices: [], ingresses: [ing], ingressClasses: [], networkPolicies: [], secrets: {}, clusterDNS: false, nodeAddresses: ['10.0.0.2'] },
  new Map([['pf', { address: '127.0.0.1', port: 1234 }]]));
  const show = (xs: { target: { id: string; host?: string; port: number | string; hostHeader?: string } }[]) => xs.map((p) => `${p.target.id} ${p.target.host ?? ''}:${p.target.port}${p.target.hostHeader ? ` ${p.target.hostHeader}` : ''}`);
  assert.deepEqual(show(plan.local), [
    'pf/probe.local.forward 127.0.0.1:1234',
    'svc/probe.local.nodePort 10.0.0.2:31000',
    'svc/probe.local.loadBalancer 10.250.1.2:80',
    'ing/probe.local.ingress 10.0.0.2:80 lab.example.com',
    'ing/probe.local.ingress.tls 10.0.0.2:443 lab.example.com',
  ]);
  assert.deepEqual(plan.apiserver.map((p) => `${p.target.resource}/${p.target.name}:${p.target.port}`), ['pods/p:8888', 'services/web:80']);
  assert.deepEqual(plan.forward, [], 'envserve up\'s forward runs: no one-shot forward');
  assert.deepEqual(show(plan.cluster), [
    'pf/probe.cluster.pod 10.244.0.5:8888',
    'svc/probe.cluster.clusterIP 10.96.0.9:80',
    'svc/probe.cluster.pod 10.244.0.5:8888',
    'ing/probe.cluster.ingress 10.0.0.2:80 lab.example.com',
  ], 'no DNS name without kube-dns');
});

test('verdicts: a failure is the cause; skipped and login required still answer', () => {
  const c = (exposure: string, status: Check['status'], reason: Check['reason'], vantage: Check['vantage'] = 'local'): Check => ({ id: `${status}`, exposure, title: '', status, reason, message: '', vantage });
  const v = verdicts([{ id: 'a', kind: 'k8s-service', protocol: 'http' }, { id: 'b', kind: 'k8s-service', protocol: 'http' }, { id: 'c', kind: 'host', protocol: 'http' }], [
    c('a', 'pass', 'Ok', 'static'), c('a', 'skipped', 'ForbiddenToCreatePods', 'cluster'), c('a', 'pass', 'LoginRequired'),
    c('b', 'pass', 'Answers'), c('b', 'fail', 'NoEndpoints', 'static'),
    c('c', 'skipped', 'Forbidden'),
  ]);
  assert.deepEqual(v.map((x) => x.verdict), ['answers, login required', 'problem', 'not checked']);
  assert.equal(v[1]!.cause!.reason, 'NoEndpoints');
});

test('probes on loopback: HTTP with a Host header, a WebSocket upgrade, a refused port, a TCP listener', async () => {
  const srv = http.createServer((req, res) => {
    if (req.headers.host !== 'lab.example.com') { res.writeHead(404); res.end('404 page not found\n'); return; }
    res.writeHead(302, { location: '/login?next=/' }); res.end();
  });
  new WebSocketServer({ server: srv });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  try {
    const ok = await probeFromHere({ id: 'a', host: '127.0.0.1', port, protocol: 'http', hostHeader: 'lab.example.com', via: 'ingress', websocket: true });
    assert.equal(ok.reason, 'LoginRequired');
    assert.equal(ok.ok, true);
    assert.equal(ok.websocket?.ok, true);
    const wrongHost = await probeFromHere({ id: 'b', host: '127.0.0.1', port, protocol: 'http', hostHeader: 'x.example.com', via: 'ingress' });
    assert.equal(wrongHost.reason, 'ProxyNoRoute');
    const tcp = await probeFromHere({ id: 'c', host: '127.0.0.1', port, protocol: 'tcp' });
    assert.equal(tcp.ok, true);
  } finally {
    await new Promise((r) => srv.close(r));
  }
  const refused = await probeFromHere({ id: 'd', host: '127.0.0.1', port, protocol: 'http' });
  assert.equal(refused.reason, 'ConnectionRefused');
});

test('app bound to 127.0.0.1 in the pod: the forward answers, the pod IP refuses → AppBoundToLoopback with the fix', async () => {
  const { markLoopback } = await import('./k8s.js');
  const pod = { metadata: { name: 'p', labels: { app: 'a' } }, spec: { containers: [{ ports: [{ containerPort: 8888 }] }] }, status: { podIP: '10.244.0.5', conditions: [{ type: 'Ready', status: 'True' }] } };
  const subject = { namespace: 'dev', workload: { kind: 'pod' as const, name: 'p' }, exposures: [{ id: 'pf', kind: 'k8s-port-forward' as const, protocol: 'http' as const, port: 8888 }] };
  const snap = { namespace: 'dev', pods: [pod], services: [], endpointSlices: [], ingresses: [], ingressClasses: [], networkPolicies: [], secrets: {}, clusterDNS: false, nodeAddresses: [] };
  const mk = (id: string, status: Check['status'], reason: Check['reason']): Check => ({ id, exposure: 'pf', title: '', status, reason, message: '', vantage: 'apiserver' });
  const checks = [mk('probe.apiserver.forward', 'pass', 'Answers'), mk('probe.apiserver.pod', 'fail', 'ConnectionRefused')];
  markLoopback(checks, subject, snap);
  assert.equal(checks[1]!.reason, 'AppBoundToLoopback');
  assert.match(checks[1]!.message, /the pod IP 10\.244\.0\.5 does not: the app listens on 127\.0\.0\.1:8888 inside the pod/);
  assert.match(checks[1]!.fix!, /--ip=0\.0\.0\.0 \(Jupyter\) or --bind_all \(TensorBoard\)/);
  // Without a forward that answers, a refusal stays a refusal.
  const down = [mk('probe.apiserver.forward', 'fail', 'ConnectionRefused'), mk('probe.apiserver.pod', 'fail', 'ConnectionRefused')];
  markLoopback(down, subject, snap);
  assert.deepEqual(down.map((c) => c.reason), ['ConnectionRefused', 'ConnectionRefused']);
});

test('a refused WebSocket upgrade: WebSocketRejected (warn) where the app needs WebSockets (Jupyter), an info line elsewhere', async () => {
  const { outcomeCheck } = await import('./k8s.js');
  const o = { id: 'x/probe.local.nodePort', ok: true, reason: 'Answers' as const, detail: 'answers HTTP 200', latencyMs: 2, websocket: { ok: false, reason: 'WebSocketRejected' as const, detail: 'the WebSocket upgrade was answered 200 instead of 101 (a proxy on the way may not pass Upgrade, or the app wants another path)' } };
  const p = { exposure: 'x', title: 't', vantage: 'local' as const, target: {} };
  const [, needs] = outcomeCheck({ ...p, needsWebSocket: true }, o);
  assert.deepEqual([needs!.status, needs!.reason], ['warn', 'WebSocketRejected']);
  const [, plain] = outcomeCheck(p, o);
  assert.deepEqual([plain!.status, plain!.reason, plain!.message], ['info', 'NotApplicable', 'the WebSocket upgrade was answered 200 instead of 101: fine for an app that does not use WebSockets']);
  const { needsWebSocket } = await import('./subject.js');
  assert.deepEqual([needsWebSocket(8888), needsWebSocket(8080), needsWebSocket(9000, 'jupyter'), needsWebSocket(undefined)], [true, false, true, false]);
});

test("a failed probe through up's forward takes the pod's side: a refusal there is ConnectionRefused with the pod's words", async () => {
  const { withPodSide } = await import('./k8s.js');
  const local = { id: 'x', ok: false, reason: 'ConnectionReset' as const, detail: 'the connection was reset after it was accepted', latencyMs: 3 };
  const refused = { id: 'y', ok: false, reason: 'ConnectionRefused' as const, detail: 'port-forward: nothing listens on port 9999 in pod web-1 (connection refused inside the pod)', latencyMs: 40 };
  assert.deepEqual(withPodSide(local, refused), { ...local, reason: 'ConnectionRefused', detail: 'the port-forward accepts, and the pod behind it refuses: nothing listens on port 9999 in pod web-1 (connection refused inside the pod)' });
  assert.deepEqual(withPodSide(local, { ...refused, reason: 'Timeout' }), local, 'another failure on the pod side leaves the local one as it was');
});

test('the debug image cannot be pulled: the busybox probe pod runs the same specs, its log is read, both pods are deleted', async () => {
  const M = '@@envserve-probe';
  const logs = http.createServer((_q, s) => s.end(`${M} 0 0 30\n  HTTP/1.1 200 OK\n  \nhello\n${M} end 0\n${M} 1 1 10\nnc: can't connect to remote host (10.0.0.1): Connection refused\n${M} end 1\n${M} done\n`));
  await new Promise<void>((r) => logs.listen(0, '127.0.0.1', r));
  const calls: string[] = [];
  const created: any[] = [];
  const client = {
    request: async (path: string, o: { method?: string; body?: any } = {}) => {
      calls.push(`${o.method ?? 'GET'} ${path}`);
      if (o.method === 'POST') { created.push(o.body); return o.body; }
      if (o.method === 'DELETE') return {};
      const pod = created.find((p) => path.endsWith(`/${p.metadata.name}`));
      return pod.spec.containers[0].image === 'envserve:1'
        ? { status: { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ErrImagePull', message: 'not found' } } }] } }
        : { status: { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { exitCode: 0 } } }] } };
    },
    settings: async () => ({ headers: {} }),
    url: (p: string) => new URL(`http://127.0.0.1:${(logs.address() as net.AddressInfo).port}${p}`),
  };
  try {
    const specs = [{ id: 'x/probe.cluster.pod', host: '10.0.0.1', port: 8080, protocol: 'http' as const }, { id: 'x/probe.cluster.clusterIP', host: '10.0.0.1', port: 9999, protocol: 'tcp' as const }];
    const r = await runDebugPod(client as never, { namespace: 'dev', image: 'envserve:1', fallbackImage: 'busybox:test', specs });
    assert.equal(r.status, 'ok');
    const ok = r as Extract<typeof r, { status: 'ok' }>;
    assert.deepEqual(ok.fallback, { image: 'busybox:test', because: 'ErrImagePull: not found' });
    assert.deepEqual(ok.outcomes.map((o) => [o.id, o.ok, o.reason, o.httpStatus]), [['x/probe.cluster.pod', true, 'Ready', 200], ['x/probe.cluster.clusterIP', false, 'ConnectionRefused', undefined]]);
    assert.deepEqual(created.map((p) => [p.spec.containers[0].image, p.spec.containers[0].command[0]]), [['envserve:1', 'envserve'], ['busybox:test', 'sh']]);
    assert.equal(created[1].spec.containers[0].securityContext.runAsNonRoot, true);
    assert.deepEqual(calls.filter((c) => c.startsWith('DELETE')).length, 2, 'both pods are deleted');
    // Without a fallback image: DebugPodFailed, as before.
    const none = await runDebugPod(client as never, { namespace: 'dev', image: 'envserve:1', specs });
    assert.equal(none.status, 'failed');
    assert.match((none as { message: string }).message, /the debug pod's image envserve:1 cannot start \(ErrImagePull: not found\); pass --debug-image/);
  } finally {
    logs.close();
  }
});

test('websocket= in the env file decides whether an exposure needs WebSockets (over its preset), in the plan and in check', async () => {
  const { evaluateEnvSource } = await import('../envfile/load.js');
  const { planEnvFile } = await import('../envfile/from-file.js');
  const { subjectFromPlan } = await import('./subject.js');
  const src = [
    'def build():', '    base(os="ubuntu20.04", language="python")',
    'def serve():',
    '    cloud.k8s.bind(env_port=8501, host_port=8501, name="streamlit", websocket=True)',
    '    cloud.k8s.bind(env_port=8888, type=cloud.k8s.clusterIP, websocket=False)',
    '    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP)',
    '    host.bind(env_port=9000, host_port=9000, websocket=True)', '',
  ].join('\n');
  const plan = planEnvFile(evaluateEnvSource('/tmp/ws/build.envd', src), 'ws');
  assert.deepEqual(plan.exposures.map((e) => e.websocket), [true, false, undefined, true]);
  const subject = subjectFromPlan(plan, 'dev');
  assert.deepEqual(subject.exposures.map((x) => [x.kind, x.websocket === true]), [['k8s-port-forward', true], ['k8s-service', false], ['k8s-service', false]]);
  assert.throws(() => evaluateEnvSource('/tmp/ws/build.envd', src.replace('websocket=True', 'websocket="yes"')), /websocket/);
});

test('a timeout: an app that accepted and does not answer is told apart from packets dropped on the way (its fix names the app)', async () => {
  const { outcomeCheck } = await import('./k8s.js');
  // Accepts, reads the request, never answers: a hung or busy app (a Jupyter stuck on a kernel, a server at its limit).
  const silent = net.createServer((c) => c.resume()).listen(0, '127.0.0.1');
  await once(silent, 'listening');
  try {
    const o = await probeFromHere({ id: 'x/probe.local.nodePort', host: '127.0.0.1', port: (silent.address() as net.AddressInfo).port, protocol: 'http', timeoutMs: 300 });
    assert.deepEqual([o.ok, o.reason], [false, 'Timeout'], o.detail);
    assert.match(o.detail, /connected, and no answer within 300 ms/);
    const [c] = outcomeCheck({ exposure: 'x', title: 't', vantage: 'local', target: {} }, o);
    assert.doesNotMatch(c!.fix ?? '', /packets are dropped/, c!.fix);
    assert.match(c!.fix ?? '', /the app/, c!.fix);
  } finally {
    silent.close();
  }
  // The API server answers and the app behind its proxy does not: the app's fix too.
  const viaApi = { id: 'x/probe.apiserver.service', ok: false, reason: 'Timeout' as const, detail: "services/s:80 through the API server: no answer through the API server's service proxy within 3000 ms: the API server answers, the app does not", latencyMs: 3000 };
  assert.doesNotMatch(outcomeCheck({ exposure: 'x', title: 't', vantage: 'apiserver', target: {} }, viaApi)[0]!.fix ?? '', /packets are dropped/);
  // No connection at all in time: packets dropped on the way.
  const dropped = { id: 'x/probe.local.nodePort', ok: false, reason: 'Timeout' as const, detail: 'http://10.0.0.9:30080/: ETIMEDOUT no answer within 2000 ms', latencyMs: 2000 };
  assert.match(outcomeCheck({ exposure: 'x', title: 't', vantage: 'local', target: {} }, dropped)[0]!.fix ?? '', /packets are dropped/);
});

test("a dev server's Host check (Vite's allowedHosts, webpack-dev-server) is not a login: HostNotAllowed, with the fix", async () => {
  const { outcomeCheck } = await import('./k8s.js');
  // Vite 6 and webpack-dev-server as they answer a Host they were not told about; a login's 403 stays a login.
  const answers: Record<string, [number, string]> = {
    vite: [403, 'Blocked request. This host ("lab.example.com") is not allowed.\nTo allow this host, add "lab.example.com" to `server.allowedHosts` in vite.config.js.'],
    webpack: [403, 'Invalid Host header'],
    webpack3: [200, 'Invalid Host header'],
    login: [403, '{"message": "Forbidden", "reason": null}'],
  };
  const web = http.createServer((q, s) => {
    const [status, body] = answers[q.url!.slice(1)]!;
    s.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  }).listen(0, '127.0.0.1');
  await once(web, 'listening');
  try {
    const port = (web.address() as net.AddressInfo).port;
    const seen = async (path: string) => probeFromHere({ id: 'x/probe.local.ingress', host: '127.0.0.1', port, path: `/${path}`, protocol: 'http', hostHeader: 'lab.example.com', via: 'ingress' });
    for (const name of ['vite', 'webpack', 'webpack3']) {
      const o = await seen(name);
      assert.deepEqual([o.ok, o.reason, o.httpStatus], [false, 'HostNotAllowed', answers[name]![0]], `${name}: ${o.detail}`);
      const [c] = outcomeCheck({ exposure: 'x', title: 't', vantage: 'local', target: {} }, o);
      assert.match(c!.fix ?? '', /allowedHosts/, c!.fix);
    }
    assert.equal((await seen('login')).reason, 'LoginRequired');
  } finally {
    web.close();
  }
});
