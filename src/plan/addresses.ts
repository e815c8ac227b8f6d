// Listen addresses by meaning, not by spelling: "::" and "0:0:0:0:0:0:0:0" are one address,
// "::ffff:127.0.0.1" is 127.0.0.1, and a wildcard overlaps the specific addresses it covers.
import { isIP } from 'node:net';

export interface CanonicalAddress {
  /** The canonical text: dotted IPv4, or 8 lowercase hex groups for IPv6 (with any zone). */
  key: string;
  family: 4 | 6;
  /** 0.0.0.0 or :: — every address of its family (:: also every IPv4 address: dual stack). */
  wildcard: boolean;
}

/** The canonical form of an IP address, or undefined if `addr` is not one. */
export function canonicalAddress(addr: string): CanonicalAddress | undefined {
  const kind = isIP(addr);
  if (kind === 4) {
    const key = addr.split('.').map((p) => String(Number(p))).join('.');
    return { key, family: 4, wildcard: key === '0.0.0.0' };
  }
  if (kind !== 6) return undefined;
  const pct = addr.indexOf('%');
  const zone = pct >= 0 ? addr.slice(pct).toLowerCase() : '';
  let body = pct >= 0 ? addr.slice(0, pct) : addr;
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(body);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    body = body.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = body.includes('::') ? body.split('::') as [string, string] : [body, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const words = groups.map((g) => parseInt(g, 16));
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 address itself, as the kernel treats it.
  if (!zone && words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    const key = [words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join('.');
    return { key, family: 4, wildcard: key === '0.0.0.0' };
  }
  const key = words.map((w) => w.toString(16)).join(':') + zone;
  return { key, family: 6, wildcard: !zone && words.every((w) => w === 0) };
}

/**
 * The listeners of one port, indexed so that each new listener is checked in constant time:
 * the exact address, and the first wildcard and specific listener of each family.
 */
export class PortListeners<T> {
  private readonly exact = new Map<string, T>();
  private any4: T | undefined;
  private any6: T | undefined;
  private some4: T | undefined;
  private some6: T | undefined;

  /** The listener `addr` would collide with, if any; then records it. */
  add(addr: CanonicalAddress, owner: T): T | undefined {
    const clash = this.clashWith(addr);
    if (!this.exact.has(addr.key)) this.exact.set(addr.key, owner);
    if (addr.wildcard) {
      if (addr.family === 4) this.any4 ??= owner;
      else this.any6 ??= owner;
    } else if (addr.family === 4) this.some4 ??= owner;
    else this.some6 ??= owner;
    return clash;
  }

  private clashWith(addr: CanonicalAddress): T | undefined {
    const same = this.exact.get(addr.key);
    if (same !== undefined) return same;
    if (addr.wildcard && addr.family === 6) return this.any4 ?? this.some4 ?? this.some6;
    if (addr.wildcard) return this.any6 ?? this.some4;
    if (addr.family === 4) return this.any4 ?? this.any6;
    return this.any6;
  }
}

/**
 * The route an Ingress rule matches, by meaning: hosts are case-insensitive, and with pathType
 * Prefix "/x" and "/x/" match the same requests.
 */
export function routeKey(host: string, path: string): string {
  const p = path.replace(/\/+$/, '') || '/';
  return `${host.toLowerCase()}${p}`;
}
