// check's words for the prober's TLS results (src/probe/tls.ts judges the certificate; check names
// the reason, keeps what answered, and gives the fix). The real cases: test/k8s/https-ingress.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySpec } from './probes.js';

test('check words a TLS result with its reason, fails it, and keeps the HTTP status it answered with', () => {
  const spec = { id: 'x/probe.local.ingress.tls', host: '10.0.0.1', port: 443, protocol: 'http' as const, hostHeader: 'a.test', tls: true, via: 'ingress' as const };
  const o = classifySpec(spec, { ok: false, reason: 'TlsCertificateExpired', httpStatus: 200, certificate: { name: 'a.test', subject: 'a.test', untrusted: 'CERT_HAS_EXPIRED' } });
  assert.deepEqual([o.ok, o.reason, o.httpStatus], [false, 'TlsCertificateExpired', 200]);
  assert.match(o.detail, /^https:\/\/10\.0\.0\.1:443\/ \(SNI and Host: a\.test\): certificate CN=a\.test is out of date/);
  const ok = classifySpec(spec, { ok: true, reason: 'Ready', httpStatus: 200, certificate: { name: 'a.test', subject: 'a.test' } });
  assert.deepEqual([ok.ok, ok.reason], [true, 'Answers']);
  const hs = classifySpec(spec, { ok: false, reason: 'TlsFailed', error: { code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: 'wrong version number' } });
  assert.equal(hs.reason, 'TlsFailed');
});
