// Removing and listing what envserve owns for an environment, outside a running runtime: `down`
// (from the state record, or from flags) and `status`.
import { UserError } from '../../errors.js';
import type { ClusterRecord, OwnedObject } from '../../status/records.js';
import { explainKubeError, loadKubeClient, type ConnectOptions, type KubeClient } from './client.js';
import { sameServer } from './kubeconfig/server-url.js';
import { deleteAndWait, DOWN_KINDS, listOwned, type Obj, type OwnedKind } from './owned.js';

/** `down`: deletes every object envserve owns for the environment (of these kinds) and waits until each is gone. */
export async function removeOwned(client: KubeClient, namespace: string, envName: string, kinds: readonly OwnedKind[] = DOWN_KINDS): Promise<Obj[]> {
  try {
    const objs = await listOwned(client, namespace, envName, kinds);
    // The operator's ExposureSet and Ingresses first, then Services, then the Deployment.
    objs.sort((a, b) => DOWN_KINDS.indexOf(a.kind as OwnedKind) - DOWN_KINDS.indexOf(b.kind as OwnedKind));
    await deleteAndWait(client, objs);
    return objs;
  } catch (e) {
    throw explainKubeError(e, `removing the objects of environment ${envName} in namespace ${namespace}`);
  }
}

/**
 * `down` from the state record: reconnects with the recorded kubeconfig path, context and
 * namespace (no flags, no KUBECONFIG) and deletes every object envserve owns for the environment
 * there (listed by label, so objects applied just before a SIGKILL are found too).
 */
export async function removeOwnedFromRecord(cluster: ClusterRecord, envName: string): Promise<OwnedObject[]> {
  const client = loadKubeClient({ ...(cluster.kubeconfig !== undefined && { kubeconfig: cluster.kubeconfig }), context: cluster.context, namespace: cluster.namespace });
  try {
    if (!sameServer(cluster.server, client.server)) {
      throw new UserError(`context "${cluster.context}" in ${cluster.kubeconfig ?? 'the kubeconfig'} now points at ${client.server}, not ${cluster.server} where envserve applied the environment; nothing was deleted`);
    }
    const objs = await removeOwned(client, cluster.namespace, envName);
    return objs.map((o) => ({ kind: o.kind, namespace: o.metadata.namespace ?? cluster.namespace, name: o.metadata.name }));
  } finally {
    client.close();
  }
}

/** `down --runtime k8s` without a state record: the cluster from flags and KUBECONFIG. */
export async function downK8s(connect: ConnectOptions, envName: string): Promise<Obj[]> {
  const client = loadKubeClient(connect);
  try {
    return await removeOwned(client, client.namespace, envName);
  } finally {
    client.close();
  }
}

/** `status`: what envserve owns for the environment, as the cluster has it. */
export async function listOwnedK8s(connect: ConnectOptions, envName: string): Promise<Obj[]> {
  const client = loadKubeClient(connect);
  try {
    return await listOwned(client, client.namespace, envName, DOWN_KINDS);
  } catch (e) {
    throw explainKubeError(e, `listing the objects of environment ${envName}`);
  } finally {
    client.close();
  }
}

