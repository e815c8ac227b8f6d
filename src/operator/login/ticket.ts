// One-time login tickets. The CLI makes a random verifier and writes only its hash into the Login
// object it creates (the API server stamps who created it); the ticket the browser carries is the
// object's name plus the verifier. Whoever can read Login objects sees only hashes and cannot
// redeem. One-time use across replicas and restarts comes from the API server, not from here:
// redeeming deletes the object with a uid + resourceVersion precondition, and only one delete wins.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A ticket is redeemable this long after the API server created its Login object. */
export const TICKET_TTL_MS = 60_000;
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const VERIFIER = /^[A-Za-z0-9_-]{43}$/; // 32 random bytes, base64url

export function newVerifier(): string {
  return randomBytes(32).toString('base64url');
}

export function verifierHash(verifier: string): string {
  return createHash('sha256').update(verifier, 'utf8').digest('base64url');
}

/** The ticket string put in the login URL: "<login name>.<verifier>". */
export function formatTicket(loginName: string, verifier: string): string {
  return `${loginName}.${verifier}`;
}

export function parseTicket(ticket: string): { name: string; verifier: string } | undefined {
  const i = ticket.lastIndexOf('.');
  if (i <= 0) return undefined;
  const name = ticket.slice(0, i);
  const verifier = ticket.slice(i + 1);
  return NAME.test(name) && VERIFIER.test(verifier) ? { name, verifier } : undefined;
}

/** What a Login object tells the redeemer (its spec was checked against request.userInfo at creation). */
export interface LoginRecord {
  name: string;
  uid: string;
  resourceVersion: string;
  /** Set by the API server (metadata.creationTimestamp), never by the user. */
  createdAt: number;
  host: string;
  verifierHash: string;
}

export type TicketCheck = { ok: true } | { ok: false; why: 'expired' | 'verifier' | 'host' | 'future' };

/**
 * Whether `verifier` redeems `login` for `host` at `now`. Pure; the one-time part is the caller's
 * preconditioned delete. creationTimestamp has one-second resolution, hence the 1 s of slack.
 */
export function checkTicket(login: LoginRecord, verifier: string, host: string, now: number): TicketCheck {
  if (login.createdAt > now + 1_000) return { ok: false, why: 'future' };
  if (now - login.createdAt > TICKET_TTL_MS) return { ok: false, why: 'expired' };
  const a = Buffer.from(verifierHash(verifier));
  const b = Buffer.from(login.verifierHash);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, why: 'verifier' };
  if (login.host !== host.toLowerCase()) return { ok: false, why: 'host' };
  return { ok: true };
}
