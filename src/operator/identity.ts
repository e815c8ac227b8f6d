// Who this operator process is, for leader election and for the objects it writes: the pod's name
// (the Deployment passes POD_NAME and POD_NAMESPACE from the downward API; the host name
// otherwise) and a random suffix, so a restarted container is a new candidate and never mistakes
// the Lease of its previous life for its own.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeClient } from '../apply/k8s/client.js';
import { LeaderElector } from './leader.js';
import { DEFAULT_NAMESPACE, LEASE_NAME, OPERATOR_NAME } from './manifests.js';

export function leaderElector(client: Pick<KubeClient, 'request'>, o: { namespace?: string; log?: (level: 'info' | 'warn' | 'error', m: string) => void } = {}): { leader: LeaderElector; fieldManager: string } {
  const pod = process.env.POD_NAME || hostname();
  const leader = new LeaderElector(client, {
    namespace: o.namespace ?? (process.env.POD_NAMESPACE || DEFAULT_NAMESPACE),
    name: LEASE_NAME,
    identity: `${pod}_${randomBytes(4).toString('hex')}`,
    ...(o.log && { log: o.log }),
  });
  // One field manager per pod: an object's managedFields show which replica wrote its status.
  return { leader, fieldManager: `${OPERATOR_NAME}/${pod}`.slice(0, 128) };
}
