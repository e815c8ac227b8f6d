// Shared by the login tests: the Login admission policy takes effect a moment after it is created.
import { eventually } from './cluster.js';
import { mustKubectl } from './expose-lib.js';
import { KubeApiError, type KubeClient } from '../../src/apply/k8s/client.js';
import { loginObject, loginPath } from '../../src/operator/login/manifests.js';
import { newVerifier, verifierHash } from '../../src/operator/login/ticket.js';

/** Waits until `client`'s forged Login (claiming another user) is refused with 403 (and `message`, if given). */
export async function waitForLoginAdmission(client: Pick<KubeClient, 'request'>, host: string, message?: RegExp): Promise<void> {
  await eventually(async () => {
    try {
      const made = await client.request<{ metadata: { name: string } }>(loginPath(), { method: 'POST', body: loginObject({ user: 'someone-else', host, verifierHash: verifierHash(newVerifier()) }) });
      mustKubectl(['delete', 'login', made.metadata.name, '--ignore-not-found']);
      throw new Error('the admission policy is not in effect yet');
    } catch (e) {
      if (e instanceof KubeApiError && e.code === 403 && (!message || message.test(e.message))) return;
      throw e;
    }
  }, 60_000, 500);
}
