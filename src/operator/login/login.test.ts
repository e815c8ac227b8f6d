// Tickets, verifiers, session cookies and key rotation: each refusal the login gateway relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTicket, formatTicket, newVerifier, parseTicket, TICKET_TTL_MS, verifierHash, type LoginRecord } from './ticket.js';
import { KeyRing } from './keys.js';
import { COOKIE_NAME, setCookieHeader, signSession, verifySession, type Session } from './cookie.js';

const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);

function login(verifier: string, over: Partial<LoginRecord> = {}): LoginRecord {
  return { name: 'login-abc12', uid: 'u-1', resourceVersion: '7', createdAt: T0, host: 'app.apps.example.test', verifierHash: verifierHash(verifier), ...over };
}

test('ticket: the verifier redeems within 60 s on its host; expired, wrong verifier, other host, future-dated are refused', () => {
  const v = newVerifier();
  assert.match(v, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(newVerifier(), v);
  assert.deepEqual(checkTicket(login(v), v, 'APP.apps.example.test', T0 + 5_000), { ok: true });
  assert.deepEqual(checkTicket(login(v), v, 'app.apps.example.test', T0 + TICKET_TTL_MS + 1), { ok: false, why: 'expired' });
  assert.deepEqual(checkTicket(login(v), newVerifier(), 'app.apps.example.test', T0), { ok: false, why: 'verifier' });
  // someone who read the object has only the hash: the hash itself is not a verifier
  assert.deepEqual(checkTicket(login(v), verifierHash(v), 'app.apps.example.test', T0), { ok: false, why: 'verifier' });
  assert.deepEqual(checkTicket(login(v), v, 'other.apps.example.test', T0), { ok: false, why: 'host' });
  assert.deepEqual(checkTicket(login(v), v, 'app.apps.example.test', T0 - 5_000), { ok: false, why: 'future' });
});

test('ticket: format and parse round-trip; a ticket without its verifier or with junk does not parse', () => {
  const v = newVerifier();
  assert.deepEqual(parseTicket(formatTicket('login-abc12', v)), { name: 'login-abc12', verifier: v });
  assert.equal(parseTicket('login-abc12'), undefined);
  assert.equal(parseTicket('login-abc12.'), undefined);
  assert.equal(parseTicket(`.${v}`), undefined);
  assert.equal(parseTicket(`Login_ABC.${v}`), undefined);
  assert.equal(parseTicket(`login-abc12.${v}x`), undefined);
});

const session = (over: Partial<Session> = {}): Session => ({ host: 'app.apps.example.test', setUid: 'set-1', accessGeneration: 3, user: 'alice', groups: ['system:authenticated'], expires: T0 + 3_600_000, ...over });
const expect = (over: Partial<{ host: string; setUid: string; accessGeneration: number; now: number }> = {}) => ({ host: 'app.apps.example.test', setUid: 'set-1', accessGeneration: 3, now: T0, ...over });

test('cookie: a signed session verifies on its host, set and generation, and carries the attested identity', () => {
  const ring = KeyRing.fresh();
  const r = verifySession(signSession(session(), ring), ring, expect());
  assert.ok(r.ok);
  assert.equal(r.session.user, 'alice');
  assert.deepEqual(r.session.groups, ['system:authenticated']);
});

test('cookie: expired, another host, a re-created set, a lowered access generation, tampering and a foreign key are refused', () => {
  const ring = KeyRing.fresh();
  const c = signSession(session(), ring);
  assert.deepEqual(verifySession(c, ring, expect({ now: T0 + 3_600_000 })), { ok: false, why: 'expired' });
  assert.deepEqual(verifySession(c, ring, expect({ host: 'other.apps.example.test' })), { ok: false, why: 'host' });
  assert.deepEqual(verifySession(c, ring, expect({ setUid: 'set-2' })), { ok: false, why: 'set' });
  assert.deepEqual(verifySession(c, ring, expect({ accessGeneration: 4 })), { ok: false, why: 'generation' });
  const [v, kid, body, tag] = c.split('.') as [string, string, string, string];
  // change the user inside the body: the MAC no longer matches
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), u: 'bob' })).toString('base64url');
  assert.deepEqual(verifySession(`${v}.${kid}.${forged}.${tag}`, ring, expect()), { ok: false, why: 'mac' });
  const flipped = tag.slice(0, -1) + (tag.endsWith('A') ? 'B' : 'A');
  assert.deepEqual(verifySession(`${v}.${kid}.${body}.${flipped}`, ring, expect()), { ok: false, why: 'mac' });
  assert.deepEqual(verifySession(c, KeyRing.fresh(), expect()), { ok: false, why: 'key' });
  assert.deepEqual(verifySession('garbage', ring, expect()), { ok: false, why: 'malformed' });
  // a valid MAC over a body that is not a session (signed with the right key) is still refused
  const other = new KeyRing([{ id: kid, key: ring.current.key }]);
  const junkBody = Buffer.from('[1,2]').toString('base64url');
  const junk = signSession(session(), other).split('.');
  assert.equal(verifySession(`v1.${kid}.${junkBody}.${junk[3]}`, ring, expect()).ok, false);
});

test('key rotation: old cookies stay valid for one session lifetime, then are refused; new ones use the new key', () => {
  const life = 8 * 3_600_000;
  const ring = KeyRing.fresh();
  const old = signSession(session({ expires: T0 + 2 * life }), ring);
  const rotated = ring.rotate(T0, life);
  assert.notEqual(rotated.current.id, ring.current.id);
  assert.ok(verifySession(old, rotated, expect({ now: T0 + life - 1 })).ok);
  assert.deepEqual(verifySession(old, rotated, expect({ now: T0 + life })), { ok: false, why: 'key' });
  const fresh = signSession(session({ expires: T0 + 2 * life }), rotated);
  assert.equal(fresh.split('.')[1], rotated.current.id);
  assert.ok(verifySession(fresh, rotated, expect({ now: T0 + life + 1 })).ok);
  // a second rotation after the grace period drops the first key entirely
  const twice = rotated.rotate(T0 + life + 1, life);
  assert.equal(twice.keys.length, 2);
  // the ring survives the Secret round trip
  const back = KeyRing.fromSecretData(twice.toSecretData())!;
  assert.deepEqual(back.keys.map((k) => [k.id, k.key.toString('hex'), k.retiredUntil]), twice.keys.map((k) => [k.id, k.key.toString('hex'), k.retiredUntil]));
  assert.throws(() => new KeyRing([{ id: 'short', key: Buffer.alloc(8) }]), /shorter than 32 bytes/);
});

test('Set-Cookie: __Host- prefix, Secure, HttpOnly and SameSite=Lax on TLS; no __Host- over plain HTTP', () => {
  const tls = setCookieHeader('x', { tls: true, maxAgeS: 60 });
  assert.ok(tls.startsWith(`${COOKIE_NAME}=x; Path=/;`));
  for (const attr of ['HttpOnly', 'SameSite=Lax', 'Secure', 'Max-Age=60']) assert.ok(tls.includes(attr), attr);
  assert.ok(!tls.includes('Domain='));
  const plain = setCookieHeader('x', { tls: false, maxAgeS: 60 });
  assert.ok(!plain.startsWith('__Host-') && !plain.includes('Secure'));
});
