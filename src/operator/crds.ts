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
