// The inside-the-cluster vantage point: the tutorials' "debug deployment", made short-lived. A
// labelled pod in the namespace runs envserve's published image with `envserve probe --json --spec
// ...` (the one prober, src/probe), prints one JSON line of what it saw, and exits; `check` reads
// that line from the pod's log (pods/log — never pods/exec), deletes the pod and classifies the
// results as it does its own. When the node cannot pull that image, a minimal probe pod runs
// instead (busybox's wget and nc: src/probe/busybox.ts) and the report says what it could not
// check. When RBAC forbids creating pods, the cluster vantage is skipped with ForbiddenToCreatePods
// and the other vantages still run.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { KubeApiError, isNotFound, type KubeClient } from '../apply/k8s/client.js';
import { MANAGED_BY } from '../apply/k8s/manifests.js';
import { busyboxScript, parseBusyboxLog, parseProbeLog, type ProbeSpec, type SeenResult } from '../probe/index.js';
import { PUBLISHED_IMAGE } from '../version.js';
import type { Obj } from './snapshot.js';

export { formatProbeLine, parseProbeLog, RESULT_PREFIX } from '../probe/index.js';

/** The image the release publishes for this version; `--debug-image` or ENVSERVE_DEBUG_IMAGE overrides it. */
export const DEFAULT_DEBUG_IMAGE = PUBLISHED_IMAGE;
/**
 * The minimal probe's image, when the node cannot pull the debug image: busybox (wget, nc), fully
 * qualified (CRI-O refuses short names). `--fallback-image` or ENVSERVE_FALLBACK_IMAGE overrides it.
 */
export const DEFAULT_FALLBACK_IMAGE = 'docker.io/library/busybox:1.36';
export const LABEL_ROLE = 'envserve.dev/role';
export const DEBUG_ROLE = 'check-debug';

export interface DebugPodOptions {
  namespace: string;
  image: string;
  /** Run the busybox probe with this image when the node cannot pull `image` (absent: no fallback). */
  fallbackImage?: string;
  specs: ProbeSpec[];
  /** Until the pod must have finished (default 20 s; the fallback pod gets as long again). */
  timeoutMs?: number;
  name?: string;
}

export function debugPodName(): string {
  return `envserve-check-${randomBytes(3).toString('hex')}`;
}

/** The pod: no service-account token, no privileges, a deadline, and removed by `check` afterwards. */
export function debugPodManifest(o: DebugPodOptions & { name: string; busybox?: boolean }): Obj {
  const deadline = Math.ceil((o.timeoutMs ?? 20_000) / 1000) + 10;
  const timeoutMs = Math.max(1000, ...o.specs.map((s) => s.timeoutMs ?? 2000));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: { 'app.kubernetes.io/managed-by': MANAGED_BY, [LABEL_ROLE]: DEBUG_ROLE },
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: deadline,
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      containers: [{
        name: 'probe',
        image: o.image,
        imagePullPolicy: 'IfNotPresent',
        command: o.busybox ? ['sh', '-c', busyboxScript(o.specs, timeoutMs)] : ['envserve', 'probe', '--json', '--spec', JSON.stringify(o.specs)],
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 65532, capabilities: { drop: ['ALL'] } },
        resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
      }],
    },
  };
}

export type DebugPodResult =
  /** `fallback`: the debug image could not be pulled (why), and the busybox probe ran with this image. */
  | { status: 'ok'; pod: string; outcomes: SeenResult[]; ms: number; fallback?: { image: string; because: string } }
  | { status: 'skipped'; reason: 'ForbiddenToCreatePods'; message: string }
  | { status: 'failed'; reason: 'DebugPodFailed'; message: string; pod?: string };

type Api = Pick<KubeClient, 'request' | 'settings' | 'url'> & Partial<Pick<KubeClient, 'agent'>>;

/** The envserve debug pod; the busybox probe pod when the node cannot pull its image. */
export async function runDebugPod(client: Api, o: DebugPodOptions): Promise<DebugPodResult> {
  const t0 = Date.now();
  const first = await runProbePod(client, o, false);
  if (first.status !== 'pull-failed') return first.status === 'ok' ? { ...first, ms: Date.now() - t0 } : first;
  const failed = `the debug pod's image ${o.image} cannot start (${first.why})`;
  if (!o.fallbackImage) return { status: 'failed', reason: 'DebugPodFailed', pod: first.pod, message: `${failed}; pass --debug-image` };
  const second = await runProbePod(client, { ...o, image: o.fallbackImage, name: debugPodName() }, true);
  if (second.status === 'ok') return { ...second, ms: Date.now() - t0, fallback: { image: o.fallbackImage, because: first.why } };
  if (second.status === 'pull-failed') {
    return { status: 'failed', reason: 'DebugPodFailed', pod: second.pod, message: `${failed}, nor can the minimal probe's image ${o.fallbackImage} (${second.why}); pass --debug-image or --fallback-image` };
  }
  return second.status === 'failed' ? { ...second, message: `${failed}; the minimal probe (${o.fallbackImage}) failed too: ${second.message}` } : second;
}

type PodRun =
  | { status: 'ok'; pod: string; outcomes: SeenResult[] }
  | { status: 'pull-failed'; pod: string; why: string }
  | Extract<DebugPodResult, { status: 'skipped' | 'failed' }>;

/** Creates the pod, waits for it to finish, reads its log, deletes it (always). */
async function runProbePod(client: Api, o: DebugPodOptions, busybox: boolean): Promise<PodRun> {
  const t0 = Date.now();
  const name = o.name ?? debugPodName();
  const ns = encodeURIComponent(o.namespace);
  const podPath = `/api/v1/namespaces/${ns}/pods/${name}`;
  try {
    await client.request(`/api/v1/namespaces/${ns}/pods`, { method: 'POST', body: debugPodManifest({ ...o, name, busybox }) });
  } catch (e) {
    if (e instanceof KubeApiError && e.code === 403) {
      return { status: 'skipped', reason: 'ForbiddenToCreatePods', message: `skipped: forbidden to create pods in namespace ${o.namespace}, so nothing was checked from inside the cluster (${e.message})` };
    }
    if (e instanceof KubeApiError) return { status: 'failed', reason: 'DebugPodFailed', message: `the debug pod could not be created: ${e.message}` };
    throw e;
  }
  try {
    const deadline = t0 + (o.timeoutMs ?? 20_000);
    let pod: Obj | undefined;
    for (;;) {
      pod = await client.request<Obj>(podPath);
      const phase = pod.status?.phase;
      const state = ((pod.status?.containerStatuses ?? []) as Obj[])[0]?.state;
      // The kubelet reports the container terminated about a second before it moves the phase
      // on (its next sync): the log is complete once the container has terminated.
      if (phase === 'Succeeded' || phase === 'Failed' || state?.terminated) break;
      const waiting = state?.waiting;
      if (waiting && /ImagePull|ErrImage|InvalidImageName|ImageNeverPull/.test(waiting.reason ?? '')) {
        return { status: 'pull-failed', pod: name, why: `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
      }
      if (waiting && /CreateContainer/.test(waiting.reason ?? '')) {
        return { status: 'failed', reason: 'DebugPodFailed', pod: name, message: `the debug pod's image ${o.image} cannot start (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}); pass --debug-image` };
      }
      if (Date.now() > deadline) {
        return { status: 'failed', reason: 'DebugPodFailed', pod: name, message: `the debug pod did not finish within ${Math.round((o.timeoutMs ?? 20_000) / 1000)} s (phase ${phase ?? '?'})` };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    let log: string;
    try {
      log = await getText(client, `${podPath}/log`);
    } catch (e) {
      if (e instanceof KubeApiError && e.code === 403) return { status: 'failed', reason: 'DebugPodFailed', pod: name, message: `this user may not read pods/log, so the debug pod's result cannot be read` };
      throw e;
    }
    const outcomes = busybox ? parseBusyboxLog(log, o.specs) : parseProbeLog(log);
    if (!outcomes) return { status: 'failed', reason: 'DebugPodFailed', pod: name, message: `the debug pod printed no result (phase ${pod.status?.phase}, exit code ${((pod.status?.containerStatuses ?? []) as Obj[])[0]?.state?.terminated?.exitCode ?? '?'}): ${log.trim().split('\n').slice(-3).join(' | ').slice(0, 300)}` };
    return { status: 'ok', pod: name, outcomes };
  } finally {
    await client.request(podPath, { method: 'DELETE', query: { gracePeriodSeconds: 0 } }).catch((e: unknown) => {
      if (!isNotFound(e)) process.stderr.write(`warning: could not delete the debug pod ${o.namespace}/${name}: ${(e as Error).message}\n`);
    });
  }
}

/** A GET whose answer is text (pods/log), through the client's TLS and credentials. */
async function getText(client: Api, path: string): Promise<string> {
  const s = await client.settings();
  const u = client.url(path);
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(u, {
      // The client's agent: its Dialer takes the cluster's proxy (tests' fakes have none).
      method: 'GET', headers: { ...s.headers }, agent: client.agent ?? false, ca: s.ca, cert: s.cert, key: s.key, rejectUnauthorized: s.rejectUnauthorized, servername: s.servername,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 300) resolve(body);
        else {
          let msg = body.slice(0, 300);
          let reason = String(code);
          try { const j = JSON.parse(body); msg = j.message ?? msg; reason = j.reason ?? reason; } catch { /* text */ }
          reject(new KubeApiError(code, reason, msg, 'GET', path));
        }
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}
