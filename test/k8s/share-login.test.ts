// Issue 22 on the real API server: the Login object's identity is the API server's. With the
// Login CRD and its ValidatingAdmissionPolicy installed, a Login created through a bearer-token,
// an exec-plugin and a client-certificate kubeconfig carries exactly the identity the API server
// authenticated; one claiming another user (or extra groups, or another uid) is refused by the
// API server; a Login cannot be changed; a ticket is redeemed at most once even by racing
// redeemers, never with a wrong or missing verifier or for another host, and not after 60 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loginUsers, waitForLoginAdmission } from './share-lib.js';
import { env, deleteNamespace, mustKubectl, kubectlJson } from './expose-lib.js';
import { loadKubeClient, KubeApiError, type KubeClient } from '../../src/apply/k8s/client.js';
import { loginManifests, loginObject, loginPath } from '../../src/operator/login/manifests.js';
import { createLogin, redeemTicket, whoAmI } from '../../src/operator/login/flow.js';
import { newVerifier, parseTicket, TICKET_TTL_MS, verifierHash } from '../../src/operator/login/ticket.js';

let ns: string;
let clients: { token: KubeClient; exec: KubeClient; cert: KubeClient; redeemer: KubeClient };
const HOST = 'app-demo.apps.share.test';

before(async () => {
  mustKubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: loginManifests() }));
  mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/logins.envserve.dev']);
  const u = loginUsers('share-login');
  ns = u.ns;
  clients = {
    token: loadKubeClient({ kubeconfig: u.kubeconfigs.A }),
    exec: loadKubeClient({ kubeconfig: u.kubeconfigs.B }), // an exec credential plugin
    cert: loadKubeClient({ kubeconfig: env.kubeconfig }), // the admin kubeconfig: a client certificate
    redeemer: loadKubeClient({ kubeconfig: env.kubeconfig }),
  };
  await waitForLoginAdmission(clients.token, HOST, /spec\.user must be/);
});

after(() => {
  for (const c of Object.values(clients ?? {})) c.close();
  if (ns) deleteNamespace(ns);
  mustKubectl(['delete', 'logins', '--all', '--ignore-not-found']);
});

test('a Login made through a bearer token, an exec plugin and a client certificate carries exactly the identity the API server authenticated', async () => {
  const want = { token: `system:serviceaccount:${ns}:sa-a`, exec: `system:serviceaccount:${ns}:sa-b`, cert: (await whoAmI(clients.cert)).username };
  assert.ok(want.cert && !want.cert.startsWith('system:serviceaccount:'), `the client-certificate user is not a ServiceAccount: ${want.cert}`);
  for (const form of ['token', 'exec', 'cert'] as const) {
    const { name, identity } = await createLogin(clients[form], HOST);
    assert.equal(identity.username, want[form], form);
    const stored = kubectlJson(['get', 'login', name]);
    assert.equal(stored.spec.user, want[form], form);
    assert.deepEqual(stored.spec.groups, identity.groups, form);
    if (form !== 'cert') assert.ok(stored.spec.groups.includes(`system:serviceaccounts:${ns}`), form);
    assert.match(stored.metadata.creationTimestamp, /^\d{4}-/);
  }
});

test('a Login claiming another user, more groups or another uid is refused by the API server; nothing is stored', async () => {
  const me = await whoAmI(clients.token);
  const before = kubectlJson(['get', 'logins']).items.length;
  const forged = [
    { user: `system:serviceaccount:${ns}:sa-b`, ...(me.uid && { uid: me.uid }), ...(me.groups && { groups: me.groups }) },
    { user: me.username, ...(me.uid && { uid: me.uid }), groups: [...(me.groups ?? []), 'system:masters'] },
    { user: me.username, uid: 'not-my-uid', ...(me.groups && { groups: me.groups }) },
  ];
  for (const f of forged) {
    await assert.rejects(
      clients.token.request(loginPath(), { method: 'POST', body: loginObject({ ...f, host: HOST, verifierHash: verifierHash(newVerifier()) }) }),
      (e: unknown) => e instanceof KubeApiError && e.code === 403 && /must be the (identity|groups|uid)/.test(e.message),
      JSON.stringify(f),
    );
  }
  assert.equal(kubectlJson(['get', 'logins']).items.length, before);
});

test('a Login cannot be changed, not even by a cluster admin', async () => {
  const { name } = await createLogin(clients.token, HOST);
  const r = await clients.cert.request(loginPath(name), { method: 'PATCH', contentType: 'application/merge-patch+json', body: { spec: { host: 'other.apps.share.test' } } }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(r instanceof KubeApiError && r.code === 403 && /cannot be changed/.test(r.message), String(r));
  assert.equal(kubectlJson(['get', 'login', name]).spec.host, HOST);
});

test('the stored Login holds only the verifier hash: whoever reads it cannot redeem the ticket', async () => {
  const { ticket, name } = await createLogin(clients.token, HOST);
  const { verifier } = parseTicket(ticket)!;
  const raw = JSON.stringify(kubectlJson(['get', 'login', name]));
  assert.ok(!raw.includes(verifier));
  const stored = kubectlJson(['get', 'login', name]).spec.verifierHash as string;
  assert.deepEqual(await redeemTicket(clients.redeemer, `${name}.${stored}`, HOST), { ok: false, why: 'verifier' });
  assert.deepEqual(await redeemTicket(clients.redeemer, name, HOST), { ok: false, why: 'malformed' }); // no verifier at all
});

test('a ticket is redeemed at most once, even by ten racing redeemers; a wrong host or verifier leaves it redeemable', async () => {
  const { ticket, name } = await createLogin(clients.exec, HOST);
  const { verifier } = parseTicket(ticket)!;
  assert.deepEqual(await redeemTicket(clients.redeemer, `${name}.${newVerifier()}`, HOST), { ok: false, why: 'verifier' });
  assert.deepEqual(await redeemTicket(clients.redeemer, ticket, 'other.apps.share.test'), { ok: false, why: 'host' });
  assert.equal(kubectlJson(['get', 'login', name]).metadata.name, name);
  const racers = Array.from({ length: 10 }, () => loadKubeClient({ kubeconfig: env.kubeconfig }));
  try {
    const results = await Promise.all(racers.map((c) => redeemTicket(c, `${name}.${verifier}`, HOST)));
    const won = results.filter((r) => r.ok);
    assert.equal(won.length, 1, JSON.stringify(results));
    assert.equal(won[0]!.ok && won[0]!.identity.username, `system:serviceaccount:${ns}:sa-b`);
    for (const r of results.filter((x) => !x.ok)) assert.ok(['used', 'unknown'].includes((r as { why: string }).why), JSON.stringify(r));
  } finally {
    for (const c of racers) c.close();
  }
  assert.deepEqual(await redeemTicket(clients.redeemer, ticket, HOST), { ok: false, why: 'unknown' });
});

test('a ticket older than 60 s is refused and its Login removed', async () => {
  const { ticket, name } = await createLogin(clients.token, HOST);
  const created = Date.parse(kubectlJson(['get', 'login', name]).metadata.creationTimestamp);
  assert.deepEqual(await redeemTicket(clients.redeemer, ticket, HOST, created + TICKET_TTL_MS + 1_000), { ok: false, why: 'expired' });
  assert.deepEqual(await redeemTicket(clients.redeemer, ticket, HOST), { ok: false, why: 'unknown' });
});
