// The session cookie: a value the operator signs (HMAC-SHA256, key ring in keys.ts) that binds the
// session to one host, one ExposureSet (its UID, so a re-created set with the same name refuses it)
// and that set's access generation (lowering the level bumps it), with an expiry. It carries the
// identity the API server attested at login, so the gateway can ask SubjectAccessReview again
// without any user store. Nothing in it is secret; tampering breaks the MAC.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { KeyRing } from './keys.js';

/** `__Host-`: Secure, Path=/, no Domain — a sibling exposure under the same domain cannot set or read it. */
export const COOKIE_NAME = '__Host-envserve-session';
/** Over plain HTTP the browser refuses `__Host-` cookies; the name differs and the threat model says what leaks. */
export const COOKIE_NAME_INSECURE = 'envserve-session';

export interface Session {
  host: string;
  /** metadata.uid of the ExposureSet. */
  setUid: string;
  accessGeneration: number;
  user: string;
  groups: string[];
  /** ms since the epoch. */
  expires: number;
}

export type CookieCheck = { ok: true; session: Session } | { ok: false; why: 'malformed' | 'key' | 'mac' | 'expired' | 'host' | 'set' | 'generation' };

export function signSession(s: Session, ring: KeyRing): string {
  const k = ring.current;
  const body = Buffer.from(JSON.stringify({ h: s.host.toLowerCase(), s: s.setUid, g: s.accessGeneration, u: s.user, gr: s.groups, e: s.expires })).toString('base64url');
  return `v1.${k.id}.${body}.${mac(k.key, `v1.${k.id}.${body}`)}`;
}

/** The session in a cookie value, if it is ours, intact, unexpired and made for this host, set and generation. */
export function verifySession(value: string, ring: KeyRing, expect: { host: string; setUid: string; accessGeneration: number; now: number }): CookieCheck {
  const parts = value.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1') return { ok: false, why: 'malformed' };
  const [, kid, body, tag] = parts as [string, string, string, string];
  const key = ring.verifying(kid, expect.now);
  if (!key) return { ok: false, why: 'key' };
  const want = Buffer.from(mac(key.key, `v1.${kid}.${body}`));
  const got = Buffer.from(tag);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, why: 'mac' };
  let p: { h?: unknown; s?: unknown; g?: unknown; u?: unknown; gr?: unknown; e?: unknown };
  try {
    p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, why: 'malformed' };
  }
  if (typeof p.h !== 'string' || typeof p.s !== 'string' || typeof p.g !== 'number' || typeof p.u !== 'string' || !Array.isArray(p.gr) || typeof p.e !== 'number') return { ok: false, why: 'malformed' };
  return sessionHolds({ host: p.h, setUid: p.s, accessGeneration: p.g, user: p.u, groups: p.gr.map(String), expires: p.e }, expect);
}

/** A session whose MAC checked out, if it is unexpired and made for this host, set and generation. */
export function sessionHolds(session: Session, expect: { host: string; setUid: string; accessGeneration: number; now: number }): CookieCheck {
  if (expect.now >= session.expires) return { ok: false, why: 'expired' };
  if (session.host !== expect.host.toLowerCase()) return { ok: false, why: 'host' };
  if (session.setUid !== expect.setUid) return { ok: false, why: 'set' };
  if (session.accessGeneration !== expect.accessGeneration) return { ok: false, why: 'generation' };
  return { ok: true, session };
}

/**
 * The pass (`--login-check traefik`): what the ingress controller's own check (traefik-plugin/)
 * lets straight through to the app. The gateway hands one out with every answer it lets through,
 * valid for at most its re-check interval, so a revoked right or a lowered level holds back plain
 * requests as soon as the gateway's own checks would. Bound to host, set UID and access generation
 * by its MAC; it names nobody (the session cookie does).
 */
export const PASS_COOKIE = '__Host-envserve-pass';
export const PASS_COOKIE_INSECURE = 'envserve-pass';

/** `EXPIRY.MAC`: expiry in Unix seconds, MAC = HMAC-SHA256(pass key, "host|setUid|generation|EXPIRY"), base64url. */
export function signPass(key: Buffer, bound: { host: string; setUid: string; accessGeneration: number }, expiresS: number): string {
  return `${expiresS}.${mac(key, `${bound.host.toLowerCase()}|${bound.setUid}|${bound.accessGeneration}|${expiresS}`)}`;
}

/** The Set-Cookie header value. On TLS: `__Host-`, Secure, HttpOnly, SameSite=Lax. */
export function setCookieHeader(value: string, o: { tls: boolean; maxAgeS: number; pass?: boolean }): string {
  const name = o.pass ? (o.tls ? PASS_COOKIE : PASS_COOKIE_INSECURE) : o.tls ? COOKIE_NAME : COOKIE_NAME_INSECURE;
  return `${name}=${value}; Path=/; Max-Age=${Math.max(0, Math.floor(o.maxAgeS))}; HttpOnly; SameSite=Lax${o.tls ? '; Secure' : ''}`;
}

function mac(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('base64url');
}
