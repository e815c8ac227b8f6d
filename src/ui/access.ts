// Who may use the dashboard: the holder of the token printed in its URL (as Jupyter does).
// The token is exchanged once for an HttpOnly, SameSite=Strict cookie, so it leaves the address
// bar at once. Requests naming another Host (DNS rebinding) or coming from another Origin
// (cross-site requests carrying the cookie) are refused. Pure functions: the server applies them.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { DashboardOnlyReason } from '../reasons.js';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Cookies are not separated by port: one name per dashboard port, so two dashboards coexist. */
export function cookieName(port: number): string {
  return `envserve_ui_${port}`;
}

export function sessionCookie(port: number, value: string): string {
  return `${cookieName(port)}=${value}; HttpOnly; SameSite=Strict; Path=/`;
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The only origins the page is served from: 127.0.0.1 or localhost at our port. */
export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

export type Refusal = { status: 403; reason: DashboardOnlyReason };

/**
 * Host and Origin checks, for every request. `unsafe` = a request that changes something (POST):
 * it must carry a matching Origin; a GET may omit it (navigations do) but must not name another.
 */
export function checkOrigin(headers: IncomingHttpHeaders, port: number, unsafe: boolean): Refusal | undefined {
  const hosts = allowedHosts(port);
  if (!headers.host || !hosts.includes(headers.host.toLowerCase())) return { status: 403, reason: 'BadHost' };
  const origin = headers.origin;
  if (origin !== undefined || unsafe) {
    if (!origin || !hosts.some((h) => origin.toLowerCase() === `http://${h}`)) return { status: 403, reason: 'CrossOrigin' };
  }
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none' && (unsafe || site === 'cross-site')) return { status: 403, reason: 'CrossOrigin' };
  return undefined;
}
