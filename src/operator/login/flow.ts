// The two API-server halves of a login (issue 22). The CLI side asks the API server who this
// kubeconfig is (SelfSubjectReview) and creates a Login with exactly that identity plus a
// verifier's hash; the admission policy refuses any other identity. The gateway side redeems a
// ticket once: it reads the Login, checks age, verifier and host, and deletes it with a uid +
// resourceVersion precondition — the API server lets one delete win, across replicas and restarts.
import type { KubeClient } from '../../apply/k8s/client.js';
import { KubeApiError } from '../../apply/k8s/client.js';
import { loginObject, loginPath } from './manifests.js';
import { checkTicket, formatTicket, newVerifier, parseTicket, verifierHash, type TicketCheck } from './ticket.js';

type Api = Pick<KubeClient, 'request'>;

export interface Identity {
  username: string;
  uid?: string;
  groups?: string[];
}

/** Who the API server says this client is (authentication.k8s.io/v1, GA since 1.28). */
export async function whoAmI(client: Api): Promise<Identity> {
  const r = await client.request<{ status?: { userInfo?: Identity } }>('/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    method: 'POST',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  const u = r.status?.userInfo;
  if (!u?.username) throw new Error('the API server did not say who this kubeconfig is (SelfSubjectReview without a user)');
  return { username: u.username, ...(u.uid && { uid: u.uid }), ...(u.groups && { groups: u.groups }) };
}

/** Creates this client's Login for `host`; the ticket (name + verifier) never leaves this process except in the login URL. */
export async function createLogin(client: Api, host: string, who?: Identity): Promise<{ ticket: string; name: string; identity: Identity }> {
  const identity = who ?? (await whoAmI(client));
  const verifier = newVerifier();
  const body = loginObject({ user: identity.username, ...(identity.uid && { uid: identity.uid }), ...(identity.groups && { groups: identity.groups }), host, verifierHash: verifierHash(verifier) });
  const made = await client.request<{ metadata: { name: string } }>(loginPath(), { method: 'POST', body });
  return { ticket: formatTicket(made.metadata.name, verifier), name: made.metadata.name, identity };
}

interface LoginObj {
  metadata: { name: string; uid: string; resourceVersion: string; creationTimestamp: string };
  spec: { user: string; uid?: string; groups?: string[]; host: string; verifierHash: string };
}

export type Redeemed =
  | { ok: true; identity: Identity }
  | { ok: false; why: 'malformed' | 'unknown' | 'used' | Extract<TicketCheck, { ok: false }>['why'] };

/**
 * Redeems a ticket for `host` at most once. A wrong verifier or host leaves the Login in place
 * (so a guess cannot burn someone's ticket); an expired one is deleted.
 */
export async function redeemTicket(client: Api, ticket: string, host: string, now = Date.now()): Promise<Redeemed> {
  const t = parseTicket(ticket);
  if (!t) return { ok: false, why: 'malformed' };
  let login: LoginObj;
  try {
    login = await client.request<LoginObj>(loginPath(t.name));
  } catch (e) {
    if (e instanceof KubeApiError && e.code === 404) return { ok: false, why: 'unknown' };
    throw e;
  }
  const m = login.metadata;
  const check = checkTicket({ name: m.name, uid: m.uid, resourceVersion: m.resourceVersion, createdAt: Date.parse(m.creationTimestamp), host: login.spec.host, verifierHash: login.spec.verifierHash }, t.verifier, host, now);
  if (!check.ok && check.why !== 'expired') return check;
  try {
    await client.request(loginPath(t.name), {
      method: 'DELETE',
      body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: m.uid, resourceVersion: m.resourceVersion } },
    });
  } catch (e) {
    // Another redeemer deleted it first (404), or it changed under us (409): not ours to use.
    if (e instanceof KubeApiError && (e.code === 404 || e.code === 409)) return { ok: false, why: 'used' };
    throw e;
  }
  if (!check.ok) return check;
  const s = login.spec;
  return { ok: true, identity: { username: s.user, ...(s.uid && { uid: s.uid }), ...(s.groups && { groups: s.groups }) } };
}
