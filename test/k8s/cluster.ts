// Helpers for tests against the real test cluster started by scripts/testenv/k8s/up.sh.
// The test runner passes the variables of .testenv/k8s/env.json to the test process.
// A missing variable is an error, never a skip: the cluster tests must not pass vacuously.
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import * as k8s from '@kubernetes/client-node';
import WebSocket from 'ws';

export interface ClusterEnv {
  kubeconfig: string;
  kubeconfigRestricted: string;
  restrictedNamespace: string;
  netns: string;
  nodeIP: string;
  ingressAddress: string; // ip:port
  lbPool: string;
  serviceCIDR: string;
  /** The real node's pod IPs (its CNI bridge). */
  podCIDR: string;
  nodePortRange: [number, number];
  /** The real node (kubelet + containerd). */
  nodeName: string;
  /** The tainted KWOK node beside it, for tests that need many pods (see kwokPod). */
  kwokNodeName: string;
  kwokPodCIDR: string;
  /** The kube-dns Service's ClusterIP (CoreDNS). */
  clusterDNS: string;
}

function need(name: string): string {
  const v = process.env[name];
  if (!v) {
    throw new Error(
      `${name} is not set: the k8s tests need the test cluster. Run them through ` +
        '`node scripts/run-tests.mjs test/k8s/...` (it runs scripts/testenv/k8s/up.sh), or start it with ' +
        '`bash scripts/testenv/k8s/up.sh` and export the variables of .testenv/k8s/env.json.',
    );
  }
  return v;
}

export function clusterEnv(): ClusterEnv {
  const [lo, hi] = need('ENVSERVE_TEST_NODEPORT_RANGE').split('-').map(Number);
  return {
    kubeconfig: need('ENVSERVE_TEST_KUBECONFIG'),
    kubeconfigRestricted: need('ENVSERVE_TEST_KUBECONFIG_RESTRICTED'),
    restrictedNamespace: need('ENVSERVE_TEST_RESTRICTED_NAMESPACE'),
    netns: need('ENVSERVE_TEST_NETNS'),
    nodeIP: need('ENVSERVE_TEST_NODE_IP'),
    ingressAddress: need('ENVSERVE_TEST_INGRESS_ADDRESS'),
    lbPool: need('ENVSERVE_TEST_LB_POOL'),
    serviceCIDR: need('ENVSERVE_TEST_SERVICE_CIDR'),
    podCIDR: need('ENVSERVE_TEST_POD_CIDR'),
    nodePortRange: [lo!, hi!],
    nodeName: need('ENVSERVE_TEST_NODE_NAME'),
    kwokNodeName: need('ENVSERVE_TEST_KWOK_NODE_NAME'),
    kwokPodCIDR: need('ENVSERVE_TEST_KWOK_POD_CIDR'),
    clusterDNS: need('ENVSERVE_TEST_CLUSTER_DNS'),
  };
}

export function kubeConfig(file: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

export function inCidr(ip: string, cidr: string): boolean {
  const toN = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toN(base!) / size) * size;
  return toN(ip) >= start && toN(ip) < start + size;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries fn until it returns without throwing, or throws the last error after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(everyMs);
    }
  }
}

export interface HttpResult { status: number; body: Buffer; headers: http.IncomingHttpHeaders }

/** One HTTP request from this process (host side). Only for loopback or the namespace's addresses. */
export function httpRequest(
  host: string, port: number,
  opts: { path?: string; method?: string; hostHeader?: string; body?: Buffer; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { connection: 'close' };
    if (opts.hostHeader) headers.host = opts.hostHeader;
    if (opts.body) headers['content-length'] = opts.body.length;
    const req = http.request({ host, port, path: opts.path ?? '/', method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 5000, () => req.destroy(new Error(`timeout: ${host}:${port}${opts.path ?? '/'}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface PodAnswer { pod: string; namespace: string; port: number; ip: string; method: string; path: string; host: string | null }

export function podAnswer(r: HttpResult): PodAnswer {
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.toString().slice(0, 200)}`);
  return JSON.parse(r.body.toString()) as PodAnswer;
}

/** Runs a command inside the test cluster's network namespace (for pod IPs and ClusterIPs). */
export function inNetns(netns: string, args: string[], timeoutMs = 10_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', netns, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** curl inside the namespace; returns the body, throws on a failed request. */
export function curlInNetns(netns: string, url: string, extra: string[] = []): string {
  const r = inNetns(netns, ['curl', '-sS', '--fail', '-m', '5', ...extra, url]);
  if (r.code !== 0) throw new Error(`curl ${url} in ${netns}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

export function kubectl(kubeconfig: string, args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('kubectl', ['--kubeconfig', kubeconfig, '--request-timeout=20s', ...args], { encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** `kubectl port-forward` in the background; resolves with the local port once it forwards. */
export function kubectlPortForward(kubeconfig: string, namespace: string, target: string, remotePort: number): Promise<{ localPort: number; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, '-n', namespace, 'port-forward', '--address', '127.0.0.1', target, `:${remotePort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { child.kill(); reject(new Error(`kubectl port-forward ${target}: no "Forwarding from" after 20 s: ${out}${err}`)); }, 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ localPort: Number(m[1]), stop: () => child.kill() }); }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`kubectl port-forward exited ${code}: ${out}${err}`)); });
  });
}

/** Sends bytes on a raw TCP connection and resolves with what came back once `expectLen` bytes arrived. */
export function tcpEcho(host: string, port: number, payload: Buffer, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`tcp echo ${host}:${port}: got ${got} of ${payload.length} bytes`)); }, timeoutMs);
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d: Buffer) => {
      chunks.push(d); got += d.length;
      if (got >= payload.length) { clearTimeout(timer); sock.end(); resolve(Buffer.concat(chunks)); }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Opens a WebSocket, sends one binary message and resolves with the echoed one. `hostHeader` picks an Ingress rule. */
export function wsEcho(host: string, port: number, payload: Buffer, opts: { hostHeader?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${host}:${port}/ws`, {
      headers: opts.hostHeader ? { host: opts.hostHeader } : {},
      handshakeTimeout: opts.timeoutMs ?? 10_000,
    });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`websocket ${host}:${port}: no echo`)); }, opts.timeoutMs ?? 10_000);
    ws.on('open', () => ws.send(payload));
    ws.on('message', (data: Buffer) => { clearTimeout(timer); ws.close(); resolve(Buffer.from(data)); });
    ws.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** The test server's image on the real node (scripts/testenv/k8s/images.sh; never pulled). */
export const TESTSRV_IMAGE = 'envserve.test/testsrv:1';

/**
 * How a test pod's HTTP port behaves, like a real app (testsrv --mode, scripts/testenv/podman/
 * testsrv/modes.go; the pod backer's envserve-testenv/mode annotation for KWOK pods):
 * json (the default: 200 JSON naming the pod), text, html (200 pages), login (302 to /login, 403
 * on /api/..., as Jupyter), 5xx (503 page), hang (accepts, never answers), reset (RST after the
 * first bytes), close (closes after the first bytes without an answer), banner (speaks first and
 * not HTTP: "SSH-2.0-testsrv"), api (FastAPI with no page at /: 404 JSON, /docs 200), tls (HTTPS only, a
 * self-signed certificate; Go's 400 to plain HTTP), sse (200 text/event-stream that never ends), websocket (a page on /, WebSocket echo on /ws).
 */
export type AppMode = 'json' | 'text' | 'html' | 'login' | '5xx' | 'hang' | 'reset' | 'close' | 'banner' | 'api' | 'tls' | 'sse' | 'websocket';

/**
 * The container of a test pod on the real node: `testsrv pod` answers HTTP on 8080 ("http") in
 * the given mode (json: JSON naming the pod, its hostname, which is the pod's name) and echoes raw
 * TCP on 9000 ("echo"). Ready once HTTP answers 2xx/3xx on /ready (a real readiness probe); in
 * the modes whose answer is not that (5xx, hang, reset, close, banner, api, tls, sse, websocket), once the port accepts.
 * `port` other than 8080: HTTP there and no echo port, for a pod with one container per mode.
 */
export function testsrvContainer(mode: AppMode = 'json', port = 8080): k8s.V1Container {
  const httpReady = mode === 'json' || mode === 'text' || mode === 'html' || mode === 'login';
  // On another port (several containers in one pod share its ports): no echo port, a named port of its own.
  const main = port === 8080;
  return {
    name: 'app', image: TESTSRV_IMAGE, imagePullPolicy: 'Never',
    command: ['testsrv', 'pod', '--http', String(port), '--echo', main ? '9000' : '', ...(mode === 'json' ? [] : ['--mode', mode])],
    ports: main ? [{ name: 'http', containerPort: 8080 }, { name: 'echo', containerPort: 9000 }] : [{ name: `http-${port}`, containerPort: port }],
    env: [{ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
    readinessProbe: {
      ...(httpReady ? { httpGet: { path: '/ready', port } } : { tcpSocket: { port } }),
      periodSeconds: 1, failureThreshold: 1,
    },
  };
}

/** A pod of the test server on the real node: a real container answers for it (see testsrvContainer). */
export function backedPod(name: string, labels: Record<string, string>, mode: AppMode = 'json'): k8s.V1Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, labels },
    spec: { terminationGracePeriodSeconds: 2, containers: [testsrvContainer(mode)] },
  };
}

/** A Deployment of the test server on the real node, its pods in the given mode. */
export function backedDeploymentManifest(name: string, labels: Record<string, string>, mode: AppMode = 'json', replicas = 1): k8s.V1Deployment {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: backedPod(name, labels, mode).spec! },
    },
  };
}

/**
 * A pod for the KWOK node beside the real one (for tests that need many pods: a kubelet takes
 * 110 at most). No container runs: the pod backer answers on its IP (inside the namespace) in the
 * given mode (json: the same JSON as testsrv), and KWOK serves its port-forward.
 */
export function kwokPod(name: string, labels: Record<string, string>, mode: AppMode = 'json'): k8s.V1Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, labels, ...(mode !== 'json' && { annotations: { 'envserve-testenv/mode': mode } }) },
    spec: {
      nodeSelector: { type: 'kwok' },
      tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
      containers: [{
        name: 'app', image: 'envserve.test/backed:1',
        ports: [{ name: 'http', containerPort: 8080 }, { name: 'echo', containerPort: 9000 }],
      }],
    },
  };
}

/**
 * Starts a test app in a mode (kubectl apply; it does not wait): a pod or a Deployment on the real
 * node, or a pod on the KWOK node.
 */
export function startApp(kubeconfig: string, namespace: string, kind: 'pod' | 'deployment' | 'kwok-pod', name: string, labels: Record<string, string>, mode: AppMode = 'json'): void {
  const obj = kind === 'pod' ? backedPod(name, labels, mode) : kind === 'kwok-pod' ? kwokPod(name, labels, mode) : backedDeploymentManifest(name, labels, mode);
  const r = kubectl(kubeconfig, ['-n', namespace, 'apply', '-f', '-'], JSON.stringify(obj));
  if (r.code !== 0) throw new Error(`kubectl apply ${kind} ${namespace}/${name} (${mode}): ${r.stderr}`);
}

export async function waitPodReady(core: k8s.CoreV1Api, namespace: string, name: string, timeoutMs = 30_000): Promise<k8s.V1Pod> {
  return eventually(async () => {
    const p = await core.readNamespacedPod({ name, namespace });
    const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (!ready || !p.status?.podIP) throw new Error(`pod ${namespace}/${name} not Ready (phase ${p.status?.phase})`);
    return p;
  }, timeoutMs);
}

/**
 * A long-lived node process inside the namespace that polls pod addresses on request, so that
 * timing a pod's first answer does not include starting a process. waitServed(ip, port, text)
 * resolves with the ms from the call until an HTTP GET / on ip:port answered with a body
 * containing text (polling every 5 ms, up to timeoutMs).
 */
export class NetnsProber {
  private child;
  private buf = '';
  private waiters = new Map<number, (v: { ms?: number; error?: string }) => void>();
  private next = 1;
  constructor(netns: string) {
    const script = `
      const net = require('net');
      let buf = '';
      process.stdin.on('data', (d) => {
        buf += d; let i;
        while ((i = buf.indexOf('\\n')) >= 0) { const q = JSON.parse(buf.slice(0, i)); buf = buf.slice(i + 1); probe(q); }
      });
      function probe(q) {
        const t0 = Date.now();
        const go = () => {
          const s = net.connect(q.port, q.ip); let b = '';
          const retry = () => { s.destroy(); if (Date.now() - t0 > q.timeoutMs) out({ id: q.id, error: 'timeout: ' + b.slice(0, 100) }); else setTimeout(go, 5); };
          s.on('connect', () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'));
          s.on('data', (d) => { b += d; });
          s.on('end', () => { if (b.includes(q.text)) out({ id: q.id, ms: Date.now() - t0 }); else retry(); });
          s.on('error', retry);
        };
        go();
      }
      function out(o) { process.stdout.write(JSON.stringify(o) + '\\n'); }`;
    this.child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const r = JSON.parse(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
        this.waiters.get(r.id)?.(r);
        this.waiters.delete(r.id);
      }
    });
  }
  waitServed(ip: string, port: number, text: string, timeoutMs = 5000): Promise<number> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, (r) => (r.error ? reject(new Error(`${ip}:${port} (${text}): ${r.error}`)) : resolve(r.ms!)));
      this.child.stdin.write(JSON.stringify({ id, ip, port, text, timeoutMs }) + '\n');
    });
  }
  close(): void { this.child.kill(); }
}

/** The test cluster's Kubernetes release and API server feature gates, as up.sh started it. */
export interface ClusterVersion { version: string; minor: number; gates: string; label: string }

export function clusterVersion(): ClusterVersion {
  const version = need('ENVSERVE_TEST_K8S_VERSION');
  const m = /^v1\.(\d+)\.\d+$/.exec(version);
  if (!m) throw new Error(`ENVSERVE_TEST_K8S_VERSION=${version}: not a v1.X.Y release`);
  const gates = process.env.ENVSERVE_TEST_APISERVER_FEATURE_GATES ?? '';
  return { version, minor: Number(m[1]), gates, label: `Kubernetes ${version}${gates ? ` (API server feature gates ${gates})` : ''}` };
}

/**
 * The way a port-forward takes through the API server on such a cluster:
 * - before 1.31 the API server offers no WebSocket port-forward tunnel (PortForwardWebsockets was
 *   alpha, off): envserve's tunnel request is refused and it upgrades the connection to SPDY/3.1
 *   (as kubectl of that age does), which the API server passes through to the kubelet;
 * - 1.31–1.35, or ExtendWebSocketsToKubelet off: the WebSocket is tunnelled at the API server, which
 *   speaks SPDY to the kubelet;
 * - 1.36+ (ExtendWebSocketsToKubelet, beta, on): the API server proxies the WebSocket to a kubelet
 *   that declares it can take it.
 */
export type PortForwardPath = 'spdy-upgrade-to-kubelet' | 'websocket-tunnel-at-apiserver' | 'websocket-proxied-to-kubelet';

export function expectedPortForwardPath(v = clusterVersion()): PortForwardPath {
  if (v.minor < 31) return 'spdy-upgrade-to-kubelet';
  const off = /(^|,)\s*ExtendWebSocketsToKubelet=false\s*(,|$)/.test(v.gates);
  return v.minor >= 36 && !off ? 'websocket-proxied-to-kubelet' : 'websocket-tunnel-at-apiserver';
}
