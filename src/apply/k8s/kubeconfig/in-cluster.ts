// In-cluster config as client-go's rest.InClusterConfig builds it: the API server from
// KUBERNETES_SERVICE_HOST/PORT, the pod's service-account token (a bound token the kubelet
// rotates, so it is a tokenFile, read again when it changes), its CA and namespace.
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { ResolvedConfig } from './types.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export const IN_CLUSTER_SOURCE = 'in-cluster service account';

/** The in-cluster config, or undefined when this is not a pod (no service host or no token). */
export function inClusterConfig(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): ResolvedConfig | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const token = join(dir, 'token');
  if (!host || !port || !existsSync(token)) return undefined;
  // As client-go: POD_NAMESPACE (the downward API), else the service account's, else "default".
  let namespace = env.POD_NAMESPACE || 'default';
  if (!env.POD_NAMESPACE) {
    try {
      namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || namespace;
    } catch {
      // client-go falls back to "default" too
    }
  }
  const ca = join(dir, 'ca.crt');
  return {
    cluster: {
      name: 'in-cluster',
      server: `https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`,
      ...(existsSync(ca) && { certificateAuthority: ca }),
      insecureSkipTlsVerify: false,
      disableCompression: false,
    },
    user: { name: 'service-account', tokenFile: token },
    contextName: 'in-cluster',
    namespace,
    source: IN_CLUSTER_SOURCE,
    paths: [],
  };
}
