// The operator's first check at start: are envserve's CRDs installed, and by which version.
import { UserError } from '../errors.js';
import { isNotFound, KubeApiError, type KubeClient } from '../apply/k8s/client.js';
import type { Obj } from '../apply/k8s/owned.js';
import { sameMinor, VERSION } from '../version.js';
import { API_VERSION, CRD_NAMES, PLURAL, VERSION_ANNOTATION } from './resource.js';

export interface VersionInfo {
  version: string;
  apiVersion: string;
  /** The envserve version that installed the CRDs (their annotation), if readable. */
  crdVersion?: string;
  /** Set when the CRDs and this operator disagree on the minor version. */
  skew?: string;
}

/** CRDs missing: the operator cannot run (exit 2). */
export class CrdsMissingError extends UserError {}

/** The installed CRDs against this envserve's version; throws CrdsMissingError when they are absent. */
export async function checkCrds(client: Pick<KubeClient, 'request'>, version = VERSION): Promise<VersionInfo> {
  const missing = () => new CrdsMissingError(
    `the envserve CRDs are not installed in this cluster (the API ${API_VERSION} does not exist)`,
    'install them with: envserve operator manifests | kubectl apply -f -',
  );
  try {
    // The group can exist with only the Login CRD (issue 22): the ExposureSet resource must be in it.
    const list = await client.request<{ resources?: { name: string }[] }>(`/apis/${API_VERSION}`);
    if (list.resources && !list.resources.some((r) => r.name === PLURAL)) throw missing();
  } catch (e) {
    if (isNotFound(e)) throw missing();
    throw e;
  }
  const info: VersionInfo = { version, apiVersion: API_VERSION };
  try {
    const crd = await client.request<Obj>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAMES[0]}`);
    const v = crd.metadata.annotations?.[VERSION_ANNOTATION];
    if (v) {
      info.crdVersion = v;
      if (!sameMinor(v, version)) info.skew = `the CRDs were installed by envserve ${v}, this is envserve ${version}: re-apply \`envserve operator manifests\` of the version you run`;
    }
  } catch (e) {
    if (!(e instanceof KubeApiError && (e.code === 403 || e.code === 404))) throw e;
  }
  return info;
}

/** How a start-up read waits out the API server (`whileApiServerAway`). */
export interface AwayOptions {
  signal?: AbortSignal;
  log?: (level: string, msg: string) => void;
  awayMs?: number;
  refusedMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * A start-up read, waiting out an API server that is away (restarting, overloaded, its authorizer
 * not synced yet): a replica started during an outage waits, Not Ready, instead of crash-looping
 * — also when the API server goes away between two of its start-up reads. A definite answer
 * ends it at once (`definite`, the signal); an outage or a refusal (401/403 right after a restart
 * can be the API server's caches still filling) that outlasts its patience ends it too, so a
 * wrong kubeconfig still fails.
 */
export async function whileApiServerAway<T>(read: () => Promise<T>, opts: AwayOptions & { definite?: (e: unknown) => boolean } = {}): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const started = now();
  for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await read();
    } catch (e) {
      if (opts.definite?.(e) || opts.signal?.aborted) throw e;
      const away = !(e instanceof KubeApiError) || e.code >= 500 || e.code === 429;
      if (now() - started >= (away ? (opts.awayMs ?? 120_000) : (opts.refusedMs ?? 30_000))) throw e;
      opts.log?.('warn', `waiting for the API server: ${(e as Error).message} (retrying in ${delay} ms)`);
      await sleep(delay);
    }
  }
}

/** checkCrds, waiting out an API server that is away; the CRDs missing is a definite answer. */
export function waitForCrds(client: Pick<KubeClient, 'request'>, opts: AwayOptions = {}): Promise<VersionInfo> {
  return whileApiServerAway(() => checkCrds(client), { ...opts, definite: (e) => e instanceof CrdsMissingError });
}
