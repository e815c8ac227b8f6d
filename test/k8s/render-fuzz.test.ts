// Seeded fuzzing of `render` against the real API server: random env files (long and hostile
// names, many Services and Ingresses, odd paths, annotations, env vars) are planned; each one
// either fails with a user error (exit 2, nothing rendered) or renders objects that the API server
// accepts with server-side dry run — through @kubernetes/client-node, in this process.
// FUZZ_SEED and RENDER_FUZZ_N override the defaults.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { renderManifests } from '../../src/apply/k8s/manifests.js';
import { evaluateEnvSource } from '../../src/envfile/load.js';
import { UserError } from '../../src/errors.js';
import { planEnvFile } from '../../src/envfile/from-file.js';
import { mulberry32 } from '../helpers/prng.js';
import { clusterEnv, kubeConfig } from './cluster.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const N = Number(process.env.RENDER_FUZZ_N ?? 200);

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

function word(r: Rand, alphabet: string, min: number, max: number): string {
  let s = '';
  for (let i = int(r, min, max); i > 0; i--) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789-';
const ANY = 'abcXYZ019-_. /:!é';

/** A name users might give: often plain, sometimes long, sometimes hostile. */
function exposureName(r: Rand): string {
  switch (int(r, 0, 4)) {
    case 0: return word(r, LOWER, 1, 12);
    case 1: return word(r, LOWER, 60, 120); // long: derived names must be shortened with a hash
    case 2: return word(r, ANY, 1, 30); // hostile characters
    case 3: return `svc-${'x'.repeat(int(r, 50, 70))}-${int(r, 0, 9)}`; // long names sharing a prefix
    default: return pick(r, ['jupyter', 'tensorboard', 'API', '--', '9lives', '']);
  }
}

function host(r: Rand): string {
  const label = () => word(r, 'abcdefghijklmnopqrstuvwxyz', 1, 1) + word(r, LOWER.replace('-', ''), 0, int(r, 0, 1) ? 10 : 62);
  const h = Array.from({ length: int(r, 1, 4) }, label).join('.');
  return r() < 0.1 ? `*.${h}` : h;
}

function path(r: Rand): string {
  return pick(r, ['/', '/x', '/x/', '/lab/', '/a/b', `/${word(r, 'abc-_~.', 1, 20)}`, `/${word(r, 'ab', 1, 5)}/`]);
}

function annotationKey(r: Rand): string {
  switch (int(r, 0, 3)) {
    case 0: return word(r, 'abc', 1, 10);
    case 1: return `${host(r).replace('*.', '')}/${word(r, 'abc-_.', 0, 20)}z`;
    case 2: return word(r, ANY, 1, 20); // often invalid: must be refused with exit 2
    default: return `example.com/${'k'.repeat(int(r, 60, 70))}`;
  }
}

const str = (s: string) => JSON.stringify(s);

/** A random env file with Kubernetes exposures. */
function envFile(r: Rand, nodePorts: [number, number]): string {
  const lines = ['def build():', `    base(image=${str(pick(r, ['localhost/envserve-test:1', 'python:3.11-slim', 'quay.io/jupyter/base-notebook:latest']))})`];
  if (r() < 0.5) lines.push(`    config.jupyter(password="pw")`);
  if (r() < 0.5) {
    const vars = Array.from({ length: int(r, 1, 3) }, () => `${str(r() < 0.85 ? word(r, 'ABC_', 1, 1) + word(r, 'ABC_09', 0, 20) : word(r, ANY, 0, 8))}: ${str(word(r, ANY, 0, 10))}`);
    lines.push(`    runtime.environ(env={${vars.join(', ')}})`);
  }
  if (r() < 0.3) lines.push(`    runtime.daemon(commands=[["python3", "-m", "http.server", "${int(r, 1024, 9000)}"]])`);
  lines.push('def serve():');
  const count = int(r, 1, 8);
  for (let i = 0; i < count; i++) {
    const envPort = pick(r, [8888, 6006, 8000, 80, int(r, 1, 65535)]);
    const args = [`env_port=${envPort}`];
    if (r() < 0.7) args.push(`name=${str(exposureName(r))}`);
    const type = pick(r, ['cloud.k8s.clusterIP', 'cloud.k8s.nodePort', 'cloud.k8s.loadBalancer']);
    args.push(`type=${type}`, `service_port=${int(r, 1, 65535)}`);
    if (type !== 'cloud.k8s.clusterIP' && r() < 0.5) args.push(`node_port=${int(r, nodePorts[0], nodePorts[1])}`);
    if (r() < 0.6) {
      const ing = [`host=${str(host(r))}`, `path=${str(path(r))}`];
      if (r() < 0.3) ing.push(`class_name=${str(pick(r, ['traefik', 'nginx', 'a.b-c', 'Bad Class']))}`);
      if (r() < 0.3) ing.push(`tls_secret=${str(pick(r, ['tls', 'my-cert.v1', 'x'.repeat(70)]))}`);
      if (r() < 0.4) ing.push(`annotations={${str(annotationKey(r))}: ${str(word(r, ANY, 0, 30))}}`);
      args.push('access="public"', `ingress=cloud.k8s.ingress(${ing.join(', ')})`); // render refuses URLs that need a login
    }
    lines.push(`    cloud.k8s.bind(${args.join(', ')})`);
  }
  return lines.join('\n') + '\n';
}

function envName(r: Rand): string {
  return pick(r, ['e', 'render-fuzz', word(r, 'abcdefghij', 1, 1) + word(r, LOWER.replace('-', ''), 0, 62)]);
}

test(`render fuzz: ${N} random env files render only objects the API server accepts (server-side dry run, seed ${SEED})`, async () => {
  const env = clusterEnv();
  const client = k8s.KubernetesObjectApi.makeApiClient(kubeConfig(env.kubeconfig));
  // Node ports the plan accepts and the cluster allocates.
  const nodePorts: [number, number] = [Math.max(30000, env.nodePortRange[0]), Math.min(32767, env.nodePortRange[1])];
  const rand = mulberry32(SEED);
  let rendered = 0;
  let refused = 0;
  let objects = 0;
  for (let i = 0; i < N; i++) {
    const source = envFile(rand, nodePorts);
    const name = envName(rand);
    let manifests: Record<string, unknown>[];
    try {
      const plan = planEnvFile(evaluateEnvSource('fuzz/build.envd', source, { print: () => {} }), name);
      manifests = renderManifests(plan, { namespace: 'default' });
    } catch (err) {
      assert.ok(err instanceof UserError, `input #${i}: not a user error: ${(err as Error).stack}\n${source}`);
      refused++;
      continue;
    }
    rendered++;
    const names = new Set<string>();
    for (const obj of manifests) {
      const meta = obj.metadata as { name: string };
      const key = `${obj.kind as string}/${meta.name}`;
      assert.ok(!names.has(key), `input #${i}: two objects named ${key}\n${source}`);
      names.add(key);
      try {
        await client.create(obj as k8s.KubernetesObject, undefined, 'All');
      } catch (err) {
        const body = (err as { body?: unknown }).body;
        assert.fail(`input #${i} (seed ${SEED}, --name ${name}): the API server refused ${key}: ${typeof body === 'string' ? body : JSON.stringify(body ?? String(err))}\n${source}`);
      }
      objects++;
    }
  }
  console.log(`render fuzz seed ${SEED}: ${N} files, ${rendered} rendered (${objects} objects accepted by dry run), ${refused} refused with exit 2`);
  assert.ok(rendered > N / 4 && refused > 0, 'the generator should produce both valid and invalid files');
});
