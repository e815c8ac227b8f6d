// Which way envserve's port-forward takes on this cluster, proven from both ends and compared with
// what the cluster's release and feature gates call for (cluster.ts, expectedPortForwardPath): the
// protocol envserve's session pool opened its streams on, and the API server's and the kubelet's own
// counters (apiserver_websocket_streaming_requests_total{proxy_type}, apiserver_stream_tunnel_
// requests_total, kubelet_websocket_streaming_requests_total). Runs in every pass of the version
// matrix (scripts/run-tests.mjs), so each release's path is covered by a run that took it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { clusterVersion, expectedPortForwardPath, httpRequest, podAnswer } from './cluster.js';
import { env, createNamespace, deleteNamespace, backedDeployment, waitReadyPod } from './expose-lib.js';
import { loadKubeClient, type KubeClient } from '../../src/apply/k8s/client.js';
import { PodTracker } from '../../src/apply/k8s/pod-tracker.js';
import { PortForwarder } from '../../src/apply/k8s/pf/forwarder.js';
import { PortForwardSessions } from '../../src/apply/k8s/pf/pool.js';

const v = clusterVersion();
const path = expectedPortForwardPath(v);
let ns: string;
let client: KubeClient;

before(async () => {
  console.log(`pf-path: ${v.label}: expecting the port-forward path ${path}`);
  ns = createNamespace('es-pfpath');
  client = loadKubeClient({ kubeconfig: env.kubeconfig, namespace: ns });
  backedDeployment(ns, 'path', { app: 'path' });
  await waitReadyPod(ns, 'app=path', undefined, 60_000);
});
after(() => {
  client?.close();
  if (ns) deleteNamespace(ns);
});

/** Prometheus text → sum of the samples of `name` whose labels include every one of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, val]) => have[k] === val)) sum += Number(m[4]);
  }
  return sum;
}

interface Counters { proxied: number; translated: number; tunnel101: number; kubelet: number; connects: number }
async function metrics(path: string): Promise<string> {
  const r = await client.requestRaw(path, { maxBytes: 64 << 20, timeoutMs: 30_000 });
  if (r.status !== 200 || r.truncated) throw new Error(`GET ${path}: HTTP ${r.status}${r.truncated ? ' (cut short)' : ''}: ${r.body.toString('utf8', 0, 300)}`);
  return r.body.toString('utf8');
}

async function counters(): Promise<Counters> {
  const api = await metrics('/metrics');
  const kubelet = await metrics(`/api/v1/nodes/${env.nodeName}/proxy/metrics`);
  const pf = { subresource: 'portforward' };
  return {
    proxied: sample(api, 'apiserver_websocket_streaming_requests_total', { ...pf, proxy_type: 'proxied_to_kubelet' }),
    translated: sample(api, 'apiserver_websocket_streaming_requests_total', { ...pf, proxy_type: 'translated_at_apiserver' }),
    tunnel101: sample(api, 'apiserver_stream_tunnel_requests_total', { code: '101' }),
    kubelet: sample(kubelet, 'kubelet_websocket_streaming_requests_total', pf),
    connects: sample(api, 'apiserver_request_total', { ...pf, verb: 'CONNECT' }),
  };
}

test(`the port-forward takes the path its release calls for (${path})`, async (t) => {
  const c0 = await counters();
  const tracker = new PodTracker(client, { namespace: ns, labelSelector: 'app=path', description: 'the path test app' });
  await tracker.start();
  const sessions = new PortForwardSessions();
  const pf = new PortForwarder({ client, tracker, namespace: ns, remotePort: 8080, listenAddress: '127.0.0.1', localPort: 0, sessions });
  const { port } = await pf.start();
  try {
    for (let i = 0; i < 5; i++) {
      const r = await httpRequest('127.0.0.1', port, { path: `/path-${i}`, timeoutMs: 15_000 });
      assert.equal(r.status, 200);
      assert.equal(podAnswer(r).path, `/path-${i}`);
    }
  } finally {
    await pf.stop();
    tracker.stop();
  }
  const c1 = await counters();
  const d = Object.fromEntries(Object.keys(c0).map((k) => [k, c1[k as keyof Counters] - c0[k as keyof Counters]])) as unknown as Counters;
  const seen = `${v.label}: envserve opened ${sessions.opened.spdy} SPDY-over-WebSocket, ${sessions.opened.direct} SPDY-upgrade and ${sessions.opened.v4} v4.channel.k8s.io streams; ` +
    `API server: proxied_to_kubelet +${d.proxied}, translated_at_apiserver +${d.translated}, stream tunnel 101 +${d.tunnel101}, portforward CONNECTs +${d.connects}; kubelet websocket portforward +${d.kubelet}`;
  console.log(`pf-path: ${seen}`);
  t.diagnostic(seen);
  switch (path) {
    case 'websocket-proxied-to-kubelet':
      assert.ok(sessions.opened.spdy >= 1 && sessions.opened.v4 === 0, seen);
      assert.ok(d.proxied >= 1 && d.translated === 0 && d.tunnel101 === 0, seen);
      assert.ok(d.kubelet >= 1, `the kubelet did not count the WebSocket: ${seen}`);
      break;
    case 'websocket-tunnel-at-apiserver':
      assert.ok(sessions.opened.spdy >= 1 && sessions.opened.v4 === 0, seen);
      assert.ok(d.translated >= 1 && d.tunnel101 >= 1 && d.proxied === 0, seen);
      assert.equal(d.kubelet, 0, `the kubelet took a WebSocket it should not have: ${seen}`);
      break;
    case 'spdy-upgrade-to-kubelet':
      // The API server has no WebSocket tunnel here: envserve's tunnel request was refused and its
      // session went on an upgraded SPDY connection (as kubectl of that release does).
      assert.ok(sessions.opened.direct >= 1 && sessions.opened.spdy === 0 && sessions.opened.v4 === 0, seen);
      assert.ok(d.proxied === 0 && d.translated === 0 && d.tunnel101 === 0, seen);
      break;
  }
});
