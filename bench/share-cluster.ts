// The real path of bench/share.bench.ts (issue 22): one testsrv pod on the test cluster behind
// Ingresses through Traefik over HTTPS, made by the operator (installed with `--login-check
// traefik`) from one ExposureSet — `public` (its Ingress in the user's namespace → the Service) and
// `namespace` (the login Ingress in the operator's namespace → the login gateway, and the fast
// route: the user's Ingress → the Service behind envserve's check in Traefik) — loaded by the same
// client (bench/httpsload, Go: keep-alive HTTPS, TLS verified against the test CA). The login path
// twice: as a browser (a cookie jar that starts with the session cookie from `envserve open` and
// the one-time link, and keeps the passes the gateway hands out: the check lets most requests
// straight through), and with the session cookie alone (never a pass: the check hands every
// request to the gateway, which decides it — what every request cost with `--login-check
// gateway`, plus the hand-off). And a third Ingress in front of a TCP relay (testsrv pod --relay:
// kernel splice, no parsing, no check) → the Service, the floor of any process in the path.
// Alternating rounds, medians. CPU: Traefik's process and the in-path pods' processes (found by
// their container ID in /proc/PID/cgroup), per request. BENCH_OPERATOR_CPU_PROF=DIR: each operator
// pod writes a --cpu-prof profile into DIR on the node (a hostPath) when it stops;
// BENCH_OPERATOR_NODE_OPTIONS: the operator pods' NODE_OPTIONS.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TESTENV_DIR } from './cluster.js';
import { cpuSeconds, goTool } from './local-lib.js';

const REPO = new URL('..', import.meta.url).pathname;
const OP_NS = 'envserve-system';

/** The processes of these pods' containers: the test node's runc puts each in a cgroup named by its container ID. */
function podPids(pods: { status?: { containerStatuses?: { containerID?: string }[] } }[]): number[] {
  const keys = pods.flatMap((p) => (p.status?.containerStatuses ?? []).map((c) => `/${String(c.containerID).replace(/^\w+:\/\//, '')}`));
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cg = readFileSync(`/proc/${d}/cgroup`, 'utf8');
      if (keys.some((k) => cg.includes(k))) out.push(Number(d));
    } catch { /* exited */ }
  }
  return out;
}

interface Load { requests: number; seconds: number; errors: number; p50: number; p99: number }
function runLoad(bin: string, args: string[]): Promise<Load> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (c) => (c === 0 ? resolve(JSON.parse(out)) : reject(new Error(`httpsload exited ${c}`))));
  });
}

/** GET over HTTPS to Traefik's address with SNI and Host = host; the status and headers. */
function get(address: string, port: number, host: string, path: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, any> }> {
  return new Promise((resolve, reject) => {
    https.get({ host: address, port, path, servername: host, ca, headers: { host: `${host}:${port}`, ...headers } }, (res) => {
      res.resume().on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    }).on('error', reject);
  });
}

export interface ClusterRow { rps: number[]; p50: number[]; p99: number[]; traefik: number[]; operator: number[] }

export async function measureCluster(o: { seconds: number; conns: number; rounds: number; kubeconfig: string }): Promise<{ public: ClusterRow; relay: ClusterRow; login: ClusterRow; gateway: ClusterRow; operatorPods: number; loadavg: string }> {
  const { eventually, TESTSRV_IMAGE } = await import('../test/k8s/cluster.js');
  const { backedDeployment, createNamespace, deleteNamespace, kubectlJson, mustKubectl } = await import('../test/k8s/expose-lib.js');
  const { apply, manifests, OPERATOR_IMAGE } = await import('../test/k8s/operator-lib.js');
  const { issueCert, tlsEnv, tlsSecret } = await import('../test/k8s/tls-lib.js');
  const { applyLabSet, labIngress, waitSetReady } = await import('../test/k8s/share-lib.js');
  const { runCli } = await import('../test/local/cli-helpers.js');
  const T = tlsEnv();
  const ca = readFileSync(T.caCert, 'utf8');
  const load = goTool('bench/httpsload', 'httpsload');
  const tag = Date.now().toString(36);
  const PUB = `pub-${tag}.apps.share.test`;
  const LOGIN = `login-${tag}.apps.share.test`;
  const RELAY = `relay-${tag}.apps.share.test`;
  const dir = mkdtempSync(join(tmpdir(), 'envserve-share-bench-'));
  let ns = '';
  try {
    const objs = manifests(['--image', OPERATOR_IMAGE, '--image-pull-policy', 'Never', '--login-check', 'traefik']);
    const PROF = process.env.BENCH_OPERATOR_CPU_PROF;
    const nodeOptions = [process.env.BENCH_OPERATOR_NODE_OPTIONS ?? '', PROF ? '--cpu-prof --cpu-prof-dir=/prof' : ''].join(' ').trim();
    const spec = (objs.find((x: any) => x.kind === 'Deployment') as any).spec.template.spec;
    if (nodeOptions) spec.containers[0].env = [...(spec.containers[0].env ?? []), { name: 'NODE_OPTIONS', value: nodeOptions }];
    if (PROF) {
      const c = spec.containers[0];
      spec.volumes = [...(spec.volumes ?? []), { name: 'prof', hostPath: { path: PROF, type: 'DirectoryOrCreate' } }];
      c.volumeMounts = [...(c.volumeMounts ?? []), { name: 'prof', mountPath: '/prof' }];
      c.securityContext = { ...(c.securityContext ?? {}), readOnlyRootFilesystem: false };
    }
    mustKubectl(['-n', OP_NS, 'delete', 'lease', 'envserve-operator', '--ignore-not-found']);
    apply(objs);
    ns = createNamespace('share-bench');
    backedDeployment(ns, 'lab', { 'envserve.dev/env': 'lab' }); // testsrv: JSON on 8080
    tlsSecret(o.kubeconfig, ns, 'pub-tls', issueCert(PUB));
    tlsSecret(o.kubeconfig, OP_NS, `${ns}-login-tls`, issueCert(LOGIN));
    applyLabSet(ns, [labIngress('ingress-pub', PUB, 'pub-tls', 'public'), labIngress('ingress-login', LOGIN, `${ns}-login-tls`, 'namespace')]);
    await waitSetReady(ns, 'lab', OP_NS);
    await eventually(async () => {
      const p = await get(T.httpsAddress, T.httpsPort, PUB, '/', ca);
      const l = await get(T.httpsAddress, T.httpsPort, LOGIN, '/', ca);
      if (p.status !== 200 || l.status !== 401) throw new Error(`public HTTP ${p.status}, login HTTP ${l.status}`);
    }, 60_000, 250);
    // The session cookie as a user gets it: `envserve open` hands a one-time link to the "browser"; following it sets the cookie.
    const opened = join(dir, 'opened');
    const browser = join(dir, 'browser.sh');
    writeFileSync(browser, `#!/bin/sh\nprintf '%s' "$1" > ${opened}\n`);
    chmodSync(browser, 0o755);
    const base = `https://${LOGIN}${T.httpsPort === 443 ? '' : `:${T.httpsPort}`}`;
    const r = await runCli(['open', `${base}/`, '--kubeconfig', o.kubeconfig], { BROWSER: browser }, 60_000);
    if (r.code !== 0) throw new Error(`envserve open: ${r.stderr}`);
    const link = new URL(readFileSync(opened, 'utf8'));
    const landed = await get(T.httpsAddress, T.httpsPort, LOGIN, link.pathname + link.search, ca);
    const cookie = String(landed.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
    if (!cookie.includes('=')) throw new Error(`the link answered HTTP ${landed.status} without a session cookie`);
    if ((await get(T.httpsAddress, T.httpsPort, LOGIN, '/', ca, { cookie })).status !== 200) throw new Error('the session cookie does not open the login Ingress');
    // The floor of anything in the path: the same place as the gateway (its own pods, as many,
    // behind an Ingress), but a TCP relay that parses and checks nothing (testsrv --relay, Go, splice).
    const [svc] = kubectlJson(['-n', ns, 'get', 'services']).items.map((x: any) => `${x.metadata.name}.${ns}.svc:${x.spec.ports[0].port}`);
    mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'relay' }, spec: { replicas: 2, selector: { matchLabels: { app: 'relay' } }, template: { metadata: { labels: { app: 'relay' } }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'relay', image: TESTSRV_IMAGE, imagePullPolicy: 'Never', command: ['testsrv', 'pod', '--relay', `8070=${svc}`], readinessProbe: { tcpSocket: { port: 8070 }, periodSeconds: 1 } }] } } } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'relay' }, spec: { selector: { app: 'relay' }, ports: [{ port: 80, targetPort: 8070 }] } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'relay' }, spec: { ingressClassName: 'traefik', tls: [{ hosts: [RELAY], secretName: 'relay-tls' }], rules: [{ host: RELAY, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'relay', port: { number: 80 } } } }] } }] } },
    ] }));
    tlsSecret(o.kubeconfig, ns, 'relay-tls', issueCert(RELAY));
    mustKubectl(['-n', ns, 'rollout', 'status', 'deployment/relay', '--timeout=120s']);
    await eventually(async () => {
      const r = await get(T.httpsAddress, T.httpsPort, RELAY, '/', ca);
      if (r.status !== 200) throw new Error(`relay HTTP ${r.status}`);
    }, 60_000, 250);

    const traefik = [Number(readFileSync(join(REPO, TESTENV_DIR, 'run/traefik.pid'), 'utf8'))];
    const pods = kubectlJson(['-n', OP_NS, 'get', 'pods', '-l', 'app.kubernetes.io/name=envserve-operator']).items;
    const operator = podPids(pods);
    if (operator.length < pods.length) throw new Error(`found ${operator.length} processes of the ${pods.length} operator pods in /proc`);
    const relay = podPids(kubectlJson(['-n', ns, 'get', 'pods', '-l', 'app=relay']).items);
    const row = (): ClusterRow => ({ rps: [], p50: [], p99: [], traefik: [], operator: [] });
    const rows = { public: row(), relay: row(), login: row(), gateway: row() };
    const hosts = { public: PUB, relay: RELAY, login: LOGIN, gateway: LOGIN };
    const cookies = { public: [], relay: [], login: [cookie, 'jar'], gateway: [cookie] };
    await runLoad(load, [`${T.httpsAddress}:${T.httpsPort}`, PUB, '/', String(o.conns), '2', T.caCert]); // warm-up
    await runLoad(load, [`${T.httpsAddress}:${T.httpsPort}`, LOGIN, '/', String(o.conns), '2', T.caCert, cookie, 'jar']);
    for (let i = 0; i < o.rounds; i++) {
      for (const which of ['public', 'relay', 'login', 'gateway'] as const) {
        const inPath = which === 'relay' ? relay : operator;
        const t0 = cpuSeconds(traefik), op0 = cpuSeconds(inPath);
        const m = await runLoad(load, [`${T.httpsAddress}:${T.httpsPort}`, hosts[which], '/', String(o.conns), String(o.seconds), T.caCert, ...cookies[which]]);
        const t = cpuSeconds(traefik) - t0, op = cpuSeconds(inPath) - op0;
        if (m.errors) throw new Error(`${which}: ${m.errors} failed requests of ${m.requests + m.errors}`);
        const r = rows[which];
        r.rps.push(m.requests / m.seconds); r.p50.push(m.p50); r.p99.push(m.p99);
        r.traefik.push((t / m.requests) * 1e6); r.operator.push((op / m.requests) * 1e6);
      }
    }
    return { ...rows, operatorPods: pods.length, loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') };
  } finally {
    const q = (args: string[]) => spawnSync('kubectl', ['--kubeconfig', o.kubeconfig, ...args], { encoding: 'utf8' });
    q(['-n', OP_NS, 'delete', 'deployment', 'envserve-operator', '--ignore-not-found', '--wait=false']);
    q(['-n', OP_NS, 'delete', 'secret', `${ns}-login-tls`, '--ignore-not-found']);
    q(['-n', OP_NS, 'delete', 'ingress,httproute,middlewares.traefik.io', '-l', 'envserve.dev/login=true', '--ignore-not-found']);
    if (ns) deleteNamespace(ns);
    q(['delete', 'logins', '--all', '--ignore-not-found']);
    q(['delete', 'crd', 'exposuresets.envserve.dev', 'exposurepolicies.envserve.dev', '--ignore-not-found', '--wait=true']);
  }
}
