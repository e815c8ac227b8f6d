// Issue 22 at the command line: `plan` shows each URL's access level; `render` (objects for
// kubectl apply, where nothing checks a login) refuses a level that needs one with exit 2,
// naming the two ways out, and prints nothing; `access="public"` renders; a policy ceiling
// denies `public` with PolicyDenied naming it.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { envserve } from './helpers/cli.js';

const NO_DOMAIN = { ENVSERVE_INGRESS_DOMAIN: '' };
function envFile(serve: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-share-cli-'));
  const file = join(dir, 'build.envd');
  writeFileSync(file, `def build():\n    base(os="ubuntu20.04", language="python")\n    config.jupyter()\n\ndef serve():\n${serve}`);
  return file;
}
const FILE = envFile(`    cloud.k8s.bind(env_port=presets.jupyter.port, type=cloud.k8s.clusterIP)
    cloud.k8s.bind(env_port=presets.tensorboard.port, type=cloud.k8s.clusterIP, access="authenticated")
    cloud.k8s.bind(env_port=presets.mlflow.port, type=cloud.k8s.clusterIP, access="public")
`);

test('plan shows who may open each URL; the JSON carries access where the file set it', () => {
  const t = envserve(['plan', '-f', FILE, '-n', 'team-a', '--name', 'demo', '--ingress-domain', 'apps.example.test'], { env: NO_DOMAIN });
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /ingress-jupyter .*http:\/\/jupyter-demo-team-a\.apps\.example\.test\/ \(Ingress, access: namespace\)/);
  assert.match(t.stdout, /ingress-6006 .*\(Ingress, access: authenticated\)/);
  assert.match(t.stdout, /ingress-5000 .*\(Ingress, access: public\)/);
  const j = envserve(['plan', '-f', FILE, '-n', 'team-a', '--name', 'demo', '--ingress-domain', 'apps.example.test', '-o', 'json'], { env: NO_DOMAIN });
  const ings = JSON.parse(j.stdout).exposures.filter((e: { kind: string }) => e.kind === 'k8s-ingress');
  assert.deepEqual(ings.map((e: { id: string; access?: string }) => [e.id, e.access]), [['ingress-jupyter', undefined], ['ingress-6006', 'authenticated'], ['ingress-5000', 'public']]);
});

test('render refuses a URL that needs a login (exit 2, LoginUnavailable, both ways out, nothing on stdout); access="public" renders', () => {
  const r = envserve(['render', '-f', FILE, '-n', 'team-a', '--name', 'demo', '--ingress-domain', 'apps.example.test'], { env: NO_DOMAIN });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /build\.envd:6:5: ingress-jupyter: access "namespace" needs a login, and nothing checks one without the envserve operator: install the operator .*, or declare access="public" on cloud\.k8s\.bind .*\[LoginUnavailable\]/);
  assert.match(r.stderr, /ingress-6006: access "authenticated" needs a login/);
  assert.doesNotMatch(r.stderr, /ingress-5000/);
  assert.match(r.stderr, /2 URLs need a login that nothing checks here; nothing was applied/);

  const pub = envFile('    cloud.k8s.bind(env_port=presets.jupyter.port, type=cloud.k8s.clusterIP, access="public")\n');
  const ok = envserve(['render', '-f', pub, '-n', 'team-a', '--name', 'demo', '--ingress-domain', 'apps.example.test'], { env: NO_DOMAIN });
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(parseAllDocuments(ok.stdout).map((d) => d.toJS().kind), ['Service', 'Ingress']);
  // without a domain there is no URL, so nothing to refuse
  const noUrl = envserve(['render', '-f', FILE, '-n', 'team-a', '--name', 'demo'], { env: NO_DOMAIN });
  assert.equal(noUrl.code, 0, noUrl.stderr);
});

test('plan --policy with access.max: public is PolicyDenied naming the ceiling; within it is admitted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-share-policy-'));
  const policy = join(dir, 'p.yaml');
  writeFileSync(policy, 'apiVersion: envserve.dev/v1alpha1\nkind: ExposurePolicy\nmetadata: {name: team-ceiling}\nspec:\n  access: {max: authenticated, sessionLifetime: 8h}\n');
  const r = envserve(['plan', '-f', FILE, '-n', 'team-a', '--name', 'demo', '--ingress-domain', 'apps.example.test', '--policy', policy], { env: NO_DOMAIN });
  assert.equal(r.code, 2);
  assert.match(r.stdout, /ingress-jupyter .* admitted/);
  assert.match(r.stdout, /ingress-6006 .* admitted/);
  assert.match(r.stdout, /ingress-5000 .* DENIED \(PolicyDenied\)/);
  assert.match(r.stderr, /ingress-5000: access "public" is not allowed in namespace team-a by policy team-ceiling \(access\.max: authenticated\); allowed: access up to "authenticated" \[PolicyDenied\]/);
});
