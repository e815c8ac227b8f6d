// Shared by the login tests (and bench:share): their users (one per kubeconfig form), the wait for
// the Login admission policy, which takes effect a moment after it is created, and the
// ExposureSet `lab` they submit to the operator with its wait for Ready.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { eventually, kubectl } from './cluster.js';
import { createNamespace, env, kubectlJson, mustKubectl } from './expose-lib.js';
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

export type LoginUser = 'A' | 'B' | 'C' | 'D';

/**
 * A new namespace and the login tests' users, each with its own kubeconfig file: A (bearer token)
 * and B (exec credential plugin printing its token) are ServiceAccounts that may `get` ExposureSets
 * there (level `namespace`), C is the cluster admin (client certificate), D a ServiceAccount
 * without rights there.
 */
export function loginUsers(prefix: string): { ns: string; dir: string; kubeconfigs: Record<LoginUser, string> } {
  const dir = mkdtempSync(join(tmpdir(), `envserve-${prefix}-`));
  const admin = YAML.parse(readFileSync(env.kubeconfig, 'utf8'));
  const kubeconfigWith = (name: string, user: Record<string, unknown>): string => {
    const file = join(dir, `${name}.kubeconfig`);
    writeFileSync(file, YAML.stringify({ ...admin, users: [{ name: 'u', user }], contexts: [{ name: 'c', context: { cluster: admin.clusters[0].name, user: 'u' } }], 'current-context': 'c' }), { mode: 0o600 });
    return file;
  };
  const ns = createNamespace(prefix);
  for (const sa of ['sa-a', 'sa-b', 'sa-d']) mustKubectl(['-n', ns, 'create', 'serviceaccount', sa]);
  // (a Role object, not `kubectl create role`: that needs the ExposureSet CRD installed, RBAC does not)
  mustKubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'exposure-reader', namespace: ns }, rules: [{ apiGroups: ['envserve.dev'], resources: ['exposuresets'], verbs: ['get'] }] }));
  mustKubectl(['-n', ns, 'create', 'rolebinding', 'a-reads', '--role=exposure-reader', `--serviceaccount=${ns}:sa-a`]);
  mustKubectl(['-n', ns, 'create', 'rolebinding', 'b-reads', '--role=exposure-reader', `--serviceaccount=${ns}:sa-b`]);
  const token = (sa: string) => mustKubectl(['-n', ns, 'create', 'token', sa, '--duration=1h']).trim();
  // B's token file is only the plugin's business
  writeFileSync(join(dir, 'b.token'), token('sa-b'), { mode: 0o600 });
  const plugin = join(dir, 'cred-plugin.sh');
  writeFileSync(plugin, `#!/bin/sh\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat ${join(dir, 'b.token')})"\n`);
  chmodSync(plugin, 0o755);
  return {
    ns, dir,
    kubeconfigs: {
      A: kubeconfigWith('a', { token: token('sa-a') }),
      B: kubeconfigWith('b', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } }),
      C: env.kubeconfig,
      D: kubeconfigWith('d', { token: token('sa-d') }),
    },
  };
}

/** A URL of the set `lab`: an Ingress for `host` to its Service, at this access level. */
export const labIngress = (id: string, host: string, tlsSecret: string, access: string) =>
  ({ id, kind: 'k8s-ingress', envPort: 8080, protocol: 'http', position: 'build.envd:3:5', declaredBy: 'cloud.k8s.bind', serviceId: 'service-lab', servicePort: 80, host, path: '/', className: 'traefik', tlsSecret, access });

/** Submits the ExposureSet `lab` (env `lab`): a ClusterIP Service `service-lab` to port 8080, and these URLs — once the operator's CRDs are served. */
export function applyLabSet(ns: string, urls: object[]): void {
  mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/exposuresets.envserve.dev', 'crd/logins.envserve.dev']);
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify({
    apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposureSet', metadata: { name: 'lab' },
    spec: {
      env: 'lab',
      exposures: [
        { id: 'service-lab', kind: 'k8s-service', envPort: 8080, protocol: 'http', position: 'build.envd:3:5', declaredBy: 'cloud.k8s.bind', serviceType: 'ClusterIP', servicePort: 80 },
        ...urls,
      ],
    },
  }));
}

/** Waits (≤ 90 s) for the ExposureSet's Ready condition; on a timeout prints the operator's log. */
export async function waitSetReady(ns: string, name: string, operatorNs: string): Promise<void> {
  await eventually(async () => {
    const s = kubectlJson(['-n', ns, 'get', 'exposureset', name]);
    const ready = (s.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
    if (ready?.status !== 'True') throw new Error(`not Ready: ${JSON.stringify(s.status ?? {})}`);
  }, 90_000, 500).catch((e) => {
    console.log(`# the operator's log:\n${kubectl(env.kubeconfig, ['-n', operatorNs, 'logs', '-l', 'app.kubernetes.io/name=envserve-operator', '--tail=40']).stdout}`);
    throw e;
  });
}
