// envserve's check in Traefik (traefik-plugin/, Go): its own unit tests with the Go toolchain the
// test cluster is built with (Traefik runs the same source through its interpreter; the cluster's
// end-to-end test is test/ui/k8s/share-traefik.test.ts). Here: which requests go straight to the
// app (a valid, unexpired pass for this host, set and generation; envserve's cookies stripped) and
// which to the gateway as they came (no pass, an expired, forged or foreign one, upgrades, the login
// link, cross-site writes), and a configuration without a usable key, host or gateway is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('traefik-plugin: go test passes (with no module download: the check uses the standard library only)', () => {
  const dir = new URL('../../traefik-plugin/', import.meta.url).pathname;
  const r = spawnSync('go', ['test', '-count=1', '-v', './...'], { cwd: dir, encoding: 'utf8', env: { ...process.env, GOPROXY: 'off', GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' }, timeout: 180_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const passed = r.stdout.split('\n').filter((l) => l.startsWith('--- PASS')).length;
  assert.ok(passed >= 5, `${passed} Go tests passed:\n${r.stdout}`);
});
