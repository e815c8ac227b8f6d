// The HTTPS side of the prober: what a certificate's check means (pure), how check words it, and
// real probes on loopback — a self-signed certificate (unknown authority, whatever the name) and a
// plain-HTTP port spoken to with TLS (the handshake fails). The cases a CA this machine trusts
// gives (valid, wrong name, expired) run against the test cluster: test/k8s/https-ingress.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tlsVerdict, isTlsHandshakeError } from './tls.js';
import { probeHttp } from './local.js';
import { selfSigned } from '../../test/helpers/self-signed.js';
import { classifySpec } from '../check/probes.js';

test('a certificate: trusted, in date and for the name passes; each failure has its own reason, the chain first', () => {
  const base = { subject: 'a.test', issuer: 'ca', name: 'a.test' };
  assert.equal(tlsVerdict(base), undefined);
  const cases: [Parameters<typeof tlsVerdict>[0], string][] = [
    [{ ...base, untrusted: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'TlsUnknownAuthority'],
    [{ ...base, untrusted: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'TlsUnknownAuthority'],
    [{ ...base, untrusted: 'SELF_SIGNED_CERT_IN_CHAIN', mismatch: 'not a.test' }, 'TlsUnknownAuthority'],
    [{ ...base, untrusted: 'CERT_HAS_EXPIRED', validTo: 'Jan  2 00:00:00 2020 GMT' }, 'TlsCertificateExpired'],
    [{ ...base, untrusted: 'CERT_NOT_YET_VALID' }, 'TlsCertificateExpired'],
    [{ ...base, mismatch: "Host: b.test. is not in the cert's altnames: DNS:a.test", name: 'b.test' }, 'TlsHostnameMismatch'],
    [{ ...base, untrusted: 'ERR_TLS_CERT_ALTNAME_INVALID', name: 'b.test' }, 'TlsHostnameMismatch'],
    [{ ...base, untrusted: 'CERT_REVOKED' }, 'TlsFailed'],
  ];
  for (const [c, reason] of cases) assert.equal(tlsVerdict(c)?.reason, reason, JSON.stringify(c));
  assert.match(tlsVerdict(cases[3]![0])!.detail, /certificate CN=a\.test issued by CN=ca is out of date \(CERT_HAS_EXPIRED, valid to Jan {2}2 00:00:00 2020 GMT\)/);
  assert.match(tlsVerdict(cases[5]![0])!.detail, /does not cover b\.test/);
  assert.ok(isTlsHandshakeError({ code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: 'wrong version number' }));
  assert.ok(!isTlsHandshakeError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }));
});

test('real probes on loopback: a self-signed certificate is an unknown authority (not ready); TLS to a plain-HTTP port fails the handshake', async () => {
  const tlsServer = https.createServer(selfSigned(['self.envserve.test']), (_q, s) => s.end('hello'));
  const plain = http.createServer((_q, s) => s.end('plain'));
  await Promise.all([new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r)), new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))]);
  try {
    const p = (tlsServer.address() as AddressInfo).port;
    for (const name of ['self.envserve.test', 'other.envserve.test']) {
      const r = await probeHttp(`https://127.0.0.1:${p}/`, { hostHeader: name, viaProxy: true });
      assert.deepEqual([r.ok, r.reason, r.httpStatus], [false, 'TlsUnknownAuthority', 200], `${name}: ${r.detail}`);
      assert.equal(r.certificate?.untrusted, 'DEPTH_ZERO_SELF_SIGNED_CERT');
      assert.equal(r.certificate?.mismatch !== undefined, name !== 'self.envserve.test', 'the name is still judged');
    }
    const h = await probeHttp(`https://127.0.0.1:${(plain.address() as AddressInfo).port}/`, { hostHeader: 'self.envserve.test' });
    assert.deepEqual([h.ok, h.reason], [false, 'TlsFailed'], h.detail);
    const plainOk = await probeHttp(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/`);
    assert.equal(plainOk.reason, 'Ready', 'plain HTTP is not judged');
  } finally {
    tlsServer.close();
    plain.close();
  }
});

test('real probes on loopback: an HTTPS-only app probed with plain HTTP is up and speaks TLS (NotHttp naming https), not a reset', async () => {
  const cert = selfSigned(['127.0.0.1']);
  // Node's (and Python's, Tornado's: Jupyter with a certificate) drops a plain request without a word.
  const node = https.createServer(cert, (_q, s) => s.end('hello'));
  // Go's and nginx's answer it with a 400 naming HTTPS, and speak TLS on the same port.
  const tlsSide = https.createServer(cert, (_q, s) => s.end('hello'));
  const goLike = net.createServer((c) => c.once('data', (d) => {
    c.pause();
    c.unshift(d);
    if (d[0] === 0x16) tlsSide.emit('connection', c);
    else c.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n');
  }));
  // Not TLS: a port that closes, and one that speaks first, keep their reasons.
  const closes = net.createServer((c) => c.once('data', () => c.end()));
  const ssh = net.createServer((c) => c.write('SSH-2.0-OpenSSH_9.2\r\n'));
  const all = [node, goLike, closes, ssh];
  await Promise.all(all.map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const url = (s: net.Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
  try {
    for (const s of [node, goLike]) {
      const r = await probeHttp(url(s));
      assert.deepEqual([r.ok, r.reason], [false, 'NotHttp'], `${url(s)}: ${r.detail}`);
      assert.match(r.detail!, /speaks TLS.*https:\/\/127\.0\.0\.1:\d+\//, r.detail);
      const c = classifySpec({ id: 'x', host: '127.0.0.1', port: (s.address() as AddressInfo).port, protocol: 'http' }, r);
      assert.deepEqual([c.ok, c.reason], [false, 'NotHttp'], c.detail);
      assert.match(c.detail, /speaks TLS/);
    }
    const closed = await probeHttp(url(closes));
    assert.deepEqual([closed.ok, closed.reason], [false, 'ConnectionReset'], closed.detail);
    const banner = await probeHttp(url(ssh));
    assert.deepEqual([banner.ok, banner.reason], [false, 'NotHttp'], banner.detail);
    assert.doesNotMatch(banner.detail!, /TLS/);
  } finally {
    for (const s of all) s.close();
    tlsSide.close();
  }
});
