// Addresses and routes by meaning, and Kubernetes names: unit tests of the pure helpers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalAddress, PortListeners, routeKey } from './addresses.js';
import { fitName, isEnvVarName, isLabelValue, isQualifiedName } from './k8s-names.js';

describe('canonicalAddress', () => {
  it('gives one form to every spelling of an address', () => {
    const same = [
      ['::', '0:0:0:0:0:0:0:0', '0::0'],
      ['::1', '0:0:0:0:0:0:0:1', '0000::0001'],
      ['127.0.0.1', '::ffff:127.0.0.1', '::FFFF:7f00:1'],
      ['2001:db8::1', '2001:DB8:0:0:0:0:0:1'],
    ];
    for (const group of same) {
      const keys = new Set(group.map((a) => canonicalAddress(a)?.key));
      assert.equal(keys.size, 1, `${group.join(', ')} → ${[...keys].join(', ')}`);
    }
    assert.equal(canonicalAddress('localhost'), undefined);
    assert.equal(canonicalAddress('127.1'), undefined);
    assert.deepEqual(canonicalAddress('::ffff:0.0.0.0'), { key: '0.0.0.0', family: 4, wildcard: true });
  });
});

describe('PortListeners', () => {
  const clash = (a: string, b: string) => {
    const p = new PortListeners<string>();
    p.add(canonicalAddress(a)!, a);
    return p.add(canonicalAddress(b)!, b);
  };
  it('finds the listeners that would collide', () => {
    assert.equal(clash('127.0.0.1', '::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(clash('0.0.0.0', '127.0.0.5'), '0.0.0.0');
    assert.equal(clash('127.0.0.5', '0.0.0.0'), '127.0.0.5');
    assert.equal(clash('::', '127.0.0.1'), '::');
    assert.equal(clash('::1', '::'), '::1');
    assert.equal(clash('0:0:0:0:0:0:0:0', '::'), '0:0:0:0:0:0:0:0');
  });
  it('lets different sockets be', () => {
    assert.equal(clash('127.0.0.1', '127.0.0.2'), undefined);
    assert.equal(clash('0.0.0.0', '::1'), undefined);
    assert.equal(clash('::1', '0.0.0.0'), undefined);
    assert.equal(clash('fe80::1%eth0', 'fe80::1%eth1'), undefined);
  });
});

describe('routeKey', () => {
  it('treats /x and /x/ (pathType Prefix) and host case as the same route', () => {
    assert.equal(routeKey('A.example.com', '/x/'), routeKey('a.example.com', '/x'));
    assert.equal(routeKey('a.example.com', '//'), routeKey('a.example.com', '/'));
    assert.notEqual(routeKey('a.example.com', '/x'), routeKey('a.example.com', '/xy'));
  });
});

describe('Kubernetes names', () => {
  it('shortens long names with a hash, so long names sharing a prefix stay distinct', () => {
    const a = fitName(`svc-${'x'.repeat(80)}-1`, 63);
    const b = fitName(`svc-${'x'.repeat(80)}-2`, 63);
    assert.equal(a.length, 63);
    assert.notEqual(a, b);
    assert.ok(isLabelValue(a) && isLabelValue(b));
    assert.equal(fitName('short', 63), 'short');
    assert.equal(fitName(`svc-${'x'.repeat(80)}-1`, 63), a, 'the same name stays the same');
  });
  it('checks annotation keys and env var names as the API server does', () => {
    for (const ok of ['a', 'example.com/key', 'nginx.ingress.kubernetes.io/rewrite-target', 'a_b.c-d']) assert.ok(isQualifiedName(ok), ok);
    for (const bad of ['', 'bad key', '-a', 'a/', '/a', 'Example.com/a', `${'k'.repeat(64)}`, 'a/b/c']) assert.ok(!isQualifiedName(bad), bad);
    for (const ok of ['A', 'MY_VAR', 'a.b-c', '_x']) assert.ok(isEnvVarName(ok), ok);
    for (const bad of ['', '1A', 'A B', 'A=B', '..', '.']) assert.ok(!isEnvVarName(bad), bad);
  });
});
