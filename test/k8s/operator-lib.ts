// Helpers for the operator tests: install it from `envserve operator manifests` and reach its pod
// (or run it out of the cluster with its own ServiceAccount's token, never admin credentials),
// users with tokens, and clients for its HTTP API and event stream.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/apply/k8s/kubeconfig/load.js';
import { parseAllDocuments } from 'yaml';
import { envserve, BIN } from '../helpers/cli.js';
import { env, kubectlJson, mustKubectl } from './expose-lib.js';

const dir = mkdtempSync(join(tmpdir(), 'envserve-operator-'));

/** A kubeconfig that authenticates with a bearer token, against the test cluster. */
export function tokenKubeconfig(name: string, token: string): string {
  const { cluster } = loadConfig({ kubeconfig: env.kubeconfig });
  const ca = cluster.certificateAuthorityData ?? readFileSync(cluster.certificateAuthority!).toString('base64');
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': name,
    clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority-data': ca } }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: 'test', user: name } }],
  }));
  return file;
}

export function createToken(namespace: string, serviceAccount: string): string {
  return mustKubectl(['-n', namespace, 'create', 'token', serviceAccount, '--duration=3600s']).trim();
}

/**
 * What a test removes to leave no envserve behind: the CRDs and the host-claim admission policy
 * with them — left alone, that policy reads ExposurePolicies that are gone, and after an API server
 * restart it fails closed, refusing every Ingress outside the operator's namespace.
 */
export const ENVSERVE_CLUSTER_OBJECTS = [
  'validatingadmissionpolicybinding/envserve-host-claim',
  'validatingadmissionpolicy/envserve-host-claim',
  'crd/exposuresets.envserve.dev',
  'crd/exposurepolicies.envserve.dev',
];

/** `envserve operator manifests [...]` parsed into objects. */
export function manifests(args: string[] = []): any[] {
  const r = envserve(['operator', 'manifests', ...args]);
  if (r.code !== 0) throw new Error(`envserve operator manifests: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS());
}

export function apply(objects: unknown[]): void {
  mustKubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

export interface RunningOperator {
  url: string;
  child: ChildProcess;
  log: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/**
 * Starts `envserve operator` as a process with the given kubeconfig; resolves once its API listens.
 * `node` and `nodeFlags`: the Node binary and its flags (the bench runs it as the image does).
 */
export function startOperator(kubeconfig: string, listen = '127.0.0.1:0', node = process.execPath, nodeFlags: string[] = []): Promise<RunningOperator> {
  // A Lease left by operator pods of an earlier test would make this one wait for it to expire.
  mustKubectl(['-n', 'envserve-system', 'delete', 'lease', 'envserve-operator', '--ignore-not-found']);
  return new Promise((resolve, reject) => {
    const child = spawn(node, [...nodeFlags, BIN, 'operator', '--kubeconfig', kubeconfig, '--listen', listen], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`operator did not start in 20 s:\n${log}`)); }, 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /HTTP API on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!, child, log: () => log,
          stop: (signal = 'SIGTERM') => new Promise((r) => { if (child.exitCode !== null) return r(); child.once('exit', () => r()); child.kill(signal); }),
        });
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`operator exited ${code} before listening:\n${log}`)); });
  });
}

export interface ApiAnswer { status: number; body: any }

export function api(base: string, method: string, path: string, token?: string, body?: unknown): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(`${base}${path}`, {
      method,
      agent: false, // no pooled sockets: through a port-forward an idle one may be closed at the far end
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...(data && { 'content-type': 'application/json', 'content-length': data.length }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }); } catch { resolve({ status: res.statusCode ?? 0, body: text }); }
      });
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    req.end(data);
  });
}

export interface SseEvent { event: string; data: any }

/**
 * Subscribes to /v1/namespaces/{ns}/events; resolves with every event seen up to and including the
 * first one `until` accepts (rejects after timeoutMs, listing what came).
 */
export function events(base: string, ns: string, token: string, until: (e: SseEvent) => boolean, timeoutMs = 30_000): Promise<SseEvent[]> {
  return new Promise((resolve, reject) => {
    const seen: SseEvent[] = [];
    const req = http.get(`${base}/v1/namespaces/${ns}/events`, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`events: HTTP ${res.statusCode}`)); res.resume(); return; }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!ev || !data) continue;
          const e = { event: ev, data: JSON.parse(data) };
          seen.push(e);
          if (until(e)) { clearTimeout(timer); req.destroy(); resolve(seen); return; }
        }
      });
    });
    const timer = setTimeout(() => { req.destroy(); reject(new Error(`no matching event in ${timeoutMs} ms; saw:\n${seen.map((e) => JSON.stringify(e.data.status?.conditions ?? e.data)).join('\n')}`)); }, timeoutMs);
    req.on('error', (e) => { if (!req.destroyed) reject(e); });
  });
}

export const condition = (status: any, type: string) => (status?.conditions ?? []).find((c: any) => c.type === type);

/**
 * The operator's HTTP API as a user reaches it: envserve's own port-forward (through the API server,
 * with the user's credentials) to the operator's pod. Returns the local base URL.
 */
export async function apiThroughPortForward(kubeconfig: string, namespace: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const { loadKubeClient } = await import('../../src/apply/k8s/client.js');
  const { PodTracker } = await import('../../src/apply/k8s/pod-tracker.js');
  const { PortForwarder } = await import('../../src/apply/k8s/pf/forwarder.js');
  const client = loadKubeClient({ kubeconfig });
  const tracker = new PodTracker(client, { namespace, labelSelector: 'app.kubernetes.io/name=envserve-operator', description: 'the envserve operator' });
  await tracker.start();
  const pf = new PortForwarder({ client, tracker, namespace, remotePort: 8080, listenAddress: '127.0.0.1', localPort: 0 });
  const a = await pf.start();
  return { url: `http://127.0.0.1:${a.port}`, stop: async () => { await pf.stop(); tracker.stop(); client.close(); } };
}

/** The operator's image in the test cluster (scripts/testenv/k8s/images.sh imports it into the node; never pulled). */
export const OPERATOR_IMAGE = 'envserve.test/envserve:1';

/** The leader-election Lease: who holds it (the pod name is the identity's part before "_"). */
export function lease(namespace: string): { holder: string; pod: string; transitions: number } {
  const l = kubectlJson<any>(['-n', namespace, 'get', 'lease', 'envserve-operator']);
  const holder: string = l.spec?.holderIdentity ?? '';
  return { holder, pod: holder.split('_')[0]!, transitions: l.spec?.leaseTransitions ?? 0 };
}

export interface OperatorPod {
  /** The HTTP API, through envserve's port-forward to an operator pod (it follows a new pod). */
  url: string;
  /** A Ready operator pod now; `previous` is the tail of the last ended container's log (why it restarted). */
  pod: () => Promise<{ name: string; restarts: number; previous: string }>;
  /** The pod holding the Lease now (waits until one does). */
  leader: () => Promise<string>;
  /** Deletes the leader's pod at once (no grace); the other replica takes over, the Deployment starts another. */
  kill: () => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * The operator as it runs for users: the Deployment from `envserve operator manifests` on the real
 * node, in-cluster config, its own ServiceAccount. Call after the manifests are applied.
 */
export async function operatorPod(kubeconfig: string, namespace: string): Promise<OperatorPod> {
  const { eventually, kubectl } = await import('./cluster.js');
  const { kubectlJson } = await import('./expose-lib.js');
  const ready = () => eventually(async () => {
    const items = kubectlJson<{ items: any[] }>(['-n', namespace, 'get', 'pods', '-l', 'app.kubernetes.io/name=envserve-operator']).items;
    const p = items.find((x) => !x.metadata.deletionTimestamp && (x.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'));
    if (!p) throw new Error(`no Ready operator pod: ${items.map((x) => `${x.metadata.name} ${x.status?.phase} ${JSON.stringify(x.status?.containerStatuses?.[0]?.state)}`).join('; ')}`);
    const name = p.metadata.name as string;
    const restarts = (p.status.containerStatuses ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0) as number;
    const previous = restarts ? `${JSON.stringify(p.status.containerStatuses?.[0]?.lastState)}\n${kubectl(kubeconfig, ['-n', namespace, 'logs', name, '--previous', '--tail=30']).stdout}` : '';
    return { name, restarts, previous };
  }, 90_000, 500);
  await ready();
  // A forward that answers: the pod is Ready for the kubelet a moment before the API server's view of it is.
  const fwd = await eventually(async () => {
    const f = await apiThroughPortForward(kubeconfig, namespace);
    try {
      const r = await api(f.url, 'GET', '/healthz');
      if (r.status !== 200) throw new Error(`healthz: HTTP ${r.status}`);
      return f;
    } catch (e) {
      await f.stop();
      throw e;
    }
  }, 60_000, 1000);
  const leader = () => eventually(async () => {
    const l = lease(namespace);
    if (!l.holder) throw new Error('nobody holds the Lease');
    return l.pod;
  }, 60_000, 250);
  return {
    url: fwd.url,
    pod: ready,
    leader,
    kill: async () => {
      mustKubectl(['-n', namespace, 'delete', 'pod', await leader(), '--grace-period=0', '--force', '--wait=false']);
    },
    stop: fwd.stop,
  };
}
