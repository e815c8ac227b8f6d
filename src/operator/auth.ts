// Who is calling, and may they? The operator keeps no user store: the caller's bearer token goes to
// the API server (TokenReview), and each request is authorized there (SubjectAccessReview) as the
// verb on ExposureSets in the namespace it touches. There is no "no auth" mode.
import { createHash } from 'node:crypto';
import type { KubeClient } from '../apply/k8s/client.js';
import type { KubernetesReason } from '../reasons.js';
import { GROUP, PLURAL } from './resource.js';

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

type Api = Pick<KubeClient, 'request'>;

export class Authenticator {
  /** TokenReviews are cached briefly (by the token's hash, never the token) to spare the API server. */
  private readonly cache = new Map<string, { at: number; user: UserInfo | undefined }>();

  constructor(
    private readonly client: Api,
    private readonly ttlMs = 10_000,
  ) {}

  /** The user behind a bearer token, or undefined when the API server does not know it. */
  async authenticate(token: string): Promise<UserInfo | undefined> {
    const k = createHash('sha256').update(token).digest('hex');
    const hit = this.cache.get(k);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.user;
    const r = await this.client.request<{ status?: { authenticated?: boolean; user?: UserInfo } }>('/apis/authentication.k8s.io/v1/tokenreviews', {
      method: 'POST',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
    });
    const user = r.status?.authenticated && r.status.user?.username ? r.status.user : undefined;
    if (this.cache.size > 1000) this.cache.clear();
    this.cache.set(k, { at: Date.now(), user });
    return user;
  }

  /** May `user` do `verb` on ExposureSets in `namespace` (optionally one by name)? */
  authorize(user: UserInfo, verb: string, namespace: string, name?: string): Promise<{ allowed: boolean; reason?: KubernetesReason }> {
    return reviewExposureSetAccess(this.client, user, verb, namespace, name);
  }
}

/** A SubjectAccessReview for `verb` on ExposureSets in `namespace` (one by name if given), asked for `user`. */
export async function reviewExposureSetAccess(client: Api, user: UserInfo, verb: string, namespace: string, name?: string): Promise<{ allowed: boolean; reason?: KubernetesReason }> {
  const r = await client.request<{ status?: { allowed?: boolean; reason?: KubernetesReason } }>('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    method: 'POST',
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: user.username,
        ...(user.uid && { uid: user.uid }),
        ...(user.groups && { groups: user.groups }),
        ...(user.extra && { extra: user.extra }),
        resourceAttributes: { group: GROUP, resource: PLURAL, verb, namespace, ...(name && { name }) },
      },
    },
  });
  return { allowed: r.status?.allowed === true, ...(r.status?.reason && { reason: r.status.reason }) };
}
