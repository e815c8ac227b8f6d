// The session keys in the cluster (issue 22): one Secret in the operator's namespace, created empty
// by the installer's manifests (RBAC cannot limit `create` by name, so the operator gets only `get`
// and `update` on that one Secret). Every replica loads the same ring; the first to find it empty
// (or its current key older than the rotation age) writes a new ring with the Secret's
// resourceVersion as a precondition — a replica that loses the race reads the winner's ring, so
// all replicas sign with one key. Key material is never logged.
import { KubeApiError, type KubeClient } from '../../apply/k8s/client.js';
import { randomBytes } from 'node:crypto';
import { KeyRing } from './keys.js';

export const SESSION_KEYS_SECRET = 'envserve-session-keys';
/**
 * The pass key (`--login-check traefik`): the gateway signs passes with it, the ingress controller's
 * check verifies them, reading it from this Secret itself (the Middleware names it). Apart from the
 * session keys, so the controller never holds what signs a session.
 */
export const PASS_KEY_SECRET = 'envserve-login-pass';
export const PASS_KEY_FIELD = 'key';

type Obj = Record<string, unknown>;
interface SecretObj {
  metadata: { name: string; namespace: string; resourceVersion: string };
  data?: Record<string, string>;
}

/** The Secret (empty; with `passKey`, the pass key's too) and the operator's rights on it: get and update, by name, nothing else. */
export function sessionKeyManifests(namespace: string, serviceAccount: string, o: { passKey?: boolean } = {}): Obj[] {
  const labels = { 'app.kubernetes.io/part-of': 'envserve' };
  const role = `${serviceAccount}-session-keys`;
  const names = [SESSION_KEYS_SECRET, ...(o.passKey ? [PASS_KEY_SECRET] : [])];
  return [
    ...names.map((name) => ({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name, namespace, labels } })),
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: role, namespace, labels }, rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: names, verbs: ['get', 'update'] }] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: role, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
    },
  ];
}

/**
 * The ring every replica uses now: the stored one, or a new or rotated one written with a
 * resourceVersion precondition (on a conflict, the winner's). Rotation keeps the old key for
 * `lifetimeMs` (one session lifetime).
 */
export function loadKeyRing(client: Pick<KubeClient, 'request'>, namespace: string, o: { now?: number; lifetimeMs: number; rotateAfterMs: number }): Promise<KeyRing> {
  return storedOrWritten(client, namespace, SESSION_KEYS_SECRET, (data) => {
    const now = o.now ?? Date.now();
    const stored = KeyRing.fromSecretData(data);
    if (stored && now - (stored.current.createdAt ?? 0) < o.rotateAfterMs) return { value: stored };
    const next = stored ? stored.rotate(now, o.lifetimeMs) : KeyRing.fresh(now);
    return { value: next, write: next.toSecretData() };
  });
}

/**
 * The pass key every replica signs with: the stored one, or a new one. Stored as base64 text, the
 * form the ingress controller's check reads.
 */
export function loadPassKey(client: Pick<KubeClient, 'request'>, namespace: string): Promise<Buffer> {
  return storedOrWritten(client, namespace, PASS_KEY_SECRET, (data) => {
    const stored = data?.[PASS_KEY_FIELD];
    if (stored) return { value: Buffer.from(Buffer.from(stored, 'base64').toString('utf8'), 'base64') };
    const key = randomBytes(32);
    return { value: key, write: { [PASS_KEY_FIELD]: Buffer.from(key.toString('base64')).toString('base64') } };
  });
}

/**
 * What one of the operator's Secrets holds for every replica: `decide` keeps the stored value or
 * says what to write, which is written with the Secret's resourceVersion as a precondition — a
 * replica that loses the race reads the winner's, so all replicas use one value.
 */
async function storedOrWritten<T>(client: Pick<KubeClient, 'request'>, namespace: string, name: string, decide: (data: Record<string, string> | undefined) => { value: T; write?: Record<string, string> }): Promise<T> {
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${name}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    let secret: SecretObj;
    try {
      secret = await client.request<SecretObj>(path);
    } catch (e) {
      if (e instanceof KubeApiError && e.code === 404) throw new Error(`the Secret ${namespace}/${name} is missing: apply the operator's manifests (they create it empty)`);
      throw e;
    }
    const { value, write } = decide(secret.data);
    if (!write) return value;
    try {
      await client.request(path, { method: 'PUT', body: { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: secret.metadata, data: { ...(secret.data ?? {}), ...write } } });
      return value;
    } catch (e) {
      if (!(e instanceof KubeApiError && e.code === 409)) throw e; // another replica wrote first: read its value
    }
  }
  throw new Error(`the Secret ${namespace}/${name} kept changing while being read`);
}
