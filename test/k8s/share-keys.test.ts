// Issue 22: the session keys on the real API server. The operator's ServiceAccount may get and
// update the one Secret the manifests create and nothing else; replicas that start together agree
// on one key (the write is preconditioned on the resourceVersion); rotation puts a new key in front
// and keeps the previous one for one session lifetime, so a cookie signed before still verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { env, createNamespace, deleteNamespace, mustKubectl, kubectlJson } from './expose-lib.js';
import { loadKubeClient, KubeApiError, type KubeClient } from '../../src/apply/k8s/client.js';
import { loadKeyRing, sessionKeyManifests, SESSION_KEYS_SECRET } from '../../src/operator/login/key-store.js';
import { signSession, verifySession } from '../../src/operator/login/cookie.js';

const dir = mkdtempSync(join(tmpdir(), 'envserve-share-keys-'));
let ns: string;
let kc: string;
const clients: KubeClient[] = [];
const opClient = () => {
  const c = loadKubeClient({ kubeconfig: kc });
  clients.push(c);
  return c;
};
const H = 3_600_000;

before(() => {
  ns = createNamespace('share-keys');
  mustKubectl(['-n', ns, 'create', 'serviceaccount', 'op']);
  mustKubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: sessionKeyManifests(ns, 'op') }));
  mustKubectl(['-n', ns, 'create', 'secret', 'generic', 'someone-elses', '--from-literal=x=y']);
  const admin = YAML.parse(readFileSync(env.kubeconfig, 'utf8'));
  const token = mustKubectl(['-n', ns, 'create', 'token', 'op', '--duration=1h']).trim();
  kc = join(dir, 'op.kubeconfig');
  writeFileSync(kc, YAML.stringify({ ...admin, users: [{ name: 'u', user: { token } }], contexts: [{ name: 'c', context: { cluster: admin.clusters[0].name, user: 'u' } }], 'current-context': 'c' }), { mode: 0o600 });
});
after(() => {
  for (const c of clients) c.close();
  if (ns) deleteNamespace(ns);
});

test('the operator\'s ServiceAccount reads and updates its Secret and no other; it cannot list Secrets', async () => {
  const c = opClient();
  await c.request(`/api/v1/namespaces/${ns}/secrets/${SESSION_KEYS_SECRET}`);
  for (const path of [`/api/v1/namespaces/${ns}/secrets/someone-elses`, `/api/v1/namespaces/${ns}/secrets`]) {
    await assert.rejects(c.request(path), (e: unknown) => e instanceof KubeApiError && e.code === 403, path);
  }
});

test('five replicas starting together agree on one key; rotation keeps the previous key for one session lifetime', async () => {
  const t0 = Date.now();
  const rings = await Promise.all(Array.from({ length: 5 }, () => loadKeyRing(opClient(), ns, { now: t0, lifetimeMs: 8 * H, rotateAfterMs: 24 * H })));
  assert.equal(new Set(rings.map((r) => r.current.id)).size, 1, 'one current key');
  assert.equal(rings[0]!.keys.length, 1);
  const stored = kubectlJson(['-n', ns, 'get', 'secret', SESSION_KEYS_SECRET]);
  assert.ok(stored.data.keys, 'the ring is stored');
  const cookie = signSession({ host: 'h.apps.test', setUid: 'u', accessGeneration: 1, user: 'alice', groups: [], expires: t0 + 48 * H }, rings[0]!);

  // a day later three replicas find the key due at once: one rotation, all agree
  const later = t0 + 24 * H;
  const rotated = await Promise.all(Array.from({ length: 3 }, () => loadKeyRing(opClient(), ns, { now: later, lifetimeMs: 8 * H, rotateAfterMs: 24 * H })));
  assert.equal(new Set(rotated.map((r) => r.current.id)).size, 1);
  const ring = rotated[0]!;
  assert.notEqual(ring.current.id, rings[0]!.current.id);
  assert.deepEqual(ring.keys.map((k) => [k.id, k.retiredUntil]), [[ring.current.id, undefined], [rings[0]!.current.id, later + 8 * H]]);
  const expect = { host: 'h.apps.test', setUid: 'u', accessGeneration: 1 };
  assert.ok(verifySession(cookie, ring, { ...expect, now: later + 8 * H - 1 }).ok, 'the old key still verifies within one session lifetime');
  assert.deepEqual(verifySession(cookie, ring, { ...expect, now: later + 8 * H }), { ok: false, why: 'key' });
  // a replica loading before the next rotation is due gets the same ring
  assert.equal((await loadKeyRing(opClient(), ns, { now: later + H, lifetimeMs: 8 * H, rotateAfterMs: 24 * H })).current.id, ring.current.id);
});
