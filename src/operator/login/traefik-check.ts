// `--login-check traefik` at the operator's start (issue 22): Traefik's CRDs must be served (the
// check is a Middleware), and the check reaches the gateway at its Service's cluster IP (Traefik
// may run outside the cluster's DNS, as on the test cluster; a cluster IP answers from any node).
import { isNotFound, type KubeClient } from '../../apply/k8s/client.js';
import { UserError } from '../../errors.js';

export async function traefikGatewayUrl(client: Pick<KubeClient, 'request'>, namespace: string, service: string): Promise<string> {
  try {
    await client.request('/apis/traefik.io/v1alpha1');
  } catch (e) {
    if (isNotFound(e)) throw new UserError('--login-check traefik: this cluster serves no traefik.io/v1alpha1 (Traefik\'s CRDs, its kubernetescrd provider)', 'install Traefik with its CRDs and envserve\'s plugin (docs/sharing.md), or use --login-check gateway');
    throw e;
  }
  const svc = await client.request<{ spec: { clusterIP?: string; ports: { port: number }[] } }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(service)}`);
  const ip = svc.spec.clusterIP;
  if (!ip || ip === 'None') throw new UserError(`--login-check traefik: the Service ${namespace}/${service} has no cluster IP`);
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${svc.spec.ports[0]!.port}`;
}
