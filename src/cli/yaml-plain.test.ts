// The YAML fast path writes exactly what the `yaml` package writes, or leaves the value to it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { mulberry32 } from '../../test/helpers/prng.js';
import { renderManifests } from '../apply/k8s/manifests.js';
import { planEnvFile } from '../envfile/from-file.js';
import { evaluateEnvSource } from '../envfile/load.js';
import { toYaml } from './output.js';
import { plainYaml } from './yaml-plain.js';

const pkg = (x: unknown) => stringify(x, { version: '1.1' });

/** The fast path either declines or agrees with the package, byte for byte. */
function check(x: unknown): boolean {
  const fast = plainYaml(x);
  if (fast !== undefined) assert.equal(fast, pkg(x), JSON.stringify(x));
  assert.equal(toYaml(x), pkg(x));
  return fast !== undefined;
}

describe('plainYaml', () => {
  it('writes rendered manifests as the yaml package does, and takes the fast path for them', () => {
    const source = [
      'def serve():',
      '    cloud.k8s.bind(env_port=8888, type=cloud.k8s.clusterIP, name="jupyter")',
      '    cloud.k8s.bind(env_port=6006, type=cloud.k8s.nodePort, node_port=30006, name="tb")',
      '    cloud.k8s.bind(env_port=5000, type=cloud.k8s.clusterIP, name="web", ingress=cloud.k8s.ingress(host="h.example.com", path="/x/", annotations={"example.com/k": "v"}))',
      '',
    ].join('\n');
    const plan = planEnvFile(evaluateEnvSource('/tmp/p/build.envd', source, { print: () => {} }), 'bench');
    const objects = renderManifests(plan, { namespace: 'default' });
    assert.ok(objects.length >= 4);
    let fast = 0;
    for (const o of objects) if (check(o)) fast++;
    assert.ok(fast >= objects.length - 1, `the fast path took ${fast} of ${objects.length} manifests`);
  });

  it('leaves strings that need quotes, floats and lists of lists to the package', () => {
    for (const s of ['8888', 'yes', 'No', 'on', 'null', '~', '', 'a b', 'x: y', 'a#b', '-x', '0x1F', '1e3', '1:20', '2001-12-14', 'é', 'a.', 'http://x', '.5']) {
      assert.equal(check({ k: s }), false, s);
      assert.equal(check({ [s]: 1 }), false, s);
    }
    assert.equal(check({ f: 1.5 }), false);
    assert.equal(check([[1]]), false);
    assert.equal(check({ u: undefined }), false);
  });

  it('agrees with the package on random nested data', () => {
    const r = mulberry32(20261206);
    const words = ['a', 'b-c', 'x.y/z', '/p/q', 'Name_1', 'v1', '8080', 'yes', 'a b', 'true', ''];
    const gen = (depth: number): unknown => {
      const k = Math.floor(r() * (depth > 3 ? 4 : 7));
      if (k === 0) return words[Math.floor(r() * words.length)];
      if (k === 1) return Math.floor(r() * 70000) - 100;
      if (k === 2) return r() < 0.5;
      if (k === 3) return null;
      if (k === 4) return Array.from({ length: Math.floor(r() * 3) }, () => gen(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 4); i > 0; i--) o[words[Math.floor(r() * 6)]!] = gen(depth + 1);
      return o;
    };
    let fast = 0;
    for (let i = 0; i < 2000; i++) if (check(gen(0))) fast++;
    assert.ok(fast > 300, `the fast path took ${fast} of 2000`);
  });
});
