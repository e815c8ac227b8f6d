// `access=` on cloud.k8s.bind (issue 22): recorded on the Service and its Ingresses, checked where
// it has no URL to guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planFromFile } from './from-file.js';
import type { K8sIngressExposure, K8sServiceExposure } from '../plan/types.js';

function plan(serve: string) {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-access-'));
  const file = join(dir, 'build.envd');
  writeFileSync(file, `def build():\n    base(os="ubuntu20.04", language="python")\n\ndef serve():\n${serve.split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  return planFromFile(file, { envName: 'demo' });
}

test('access= is recorded on the Service binding and on its declared Ingress; absent stays absent (namespace)', () => {
  const p = plan(
    [
      'cloud.k8s.bind(env_port=8000, type=cloud.k8s.clusterIP, name="docs", access="public", ingress=cloud.k8s.ingress(host="docs.example.test"))',
      'cloud.k8s.bind(env_port=6006, type=cloud.k8s.clusterIP, name="tb")',
      'cloud.k8s.bind(env_port=8501, type=cloud.k8s.clusterIP, name="demo", access="authenticated")',
    ].join('\n'),
  );
  const svc = (n: string) => p.exposures.find((e): e is K8sServiceExposure => e.kind === 'k8s-service' && e.name === n)!;
  assert.equal(svc('docs').access, 'public');
  assert.equal(svc('tb').access, undefined);
  assert.equal(svc('demo').access, 'authenticated');
  const ing = p.exposures.find((e): e is K8sIngressExposure => e.kind === 'k8s-ingress')!;
  assert.equal(ing.access, 'public');
});

test('access= is refused on a port-forward, with ingress=False, and for an unknown level (with a suggestion)', () => {
  assert.throws(() => plan('cloud.k8s.bind(env_port=8888, host_port=8888, access="public")'), /access applies to a URL.*port-forward \(host_port\) is private/);
  assert.throws(() => plan('cloud.k8s.bind(env_port=8888, type=cloud.k8s.clusterIP, ingress=False, access="public")'), /ingress=False gives it none/);
  assert.throws(
    () => plan('cloud.k8s.bind(env_port=8888, type=cloud.k8s.clusterIP, access="publik")'),
    (e: Error & { hint?: string }) => /access must be "namespace", "authenticated", "public", got "publik"/.test(e.message) && /public/.test(String(e.hint ?? e.message)),
  );
  assert.throws(() => plan('cloud.k8s.bind(env_port=8888, type=cloud.k8s.clusterIP, access=True)'), /access/);
});
