// Which proxy a connection to the API server takes when its cluster entry has no `proxy-url`:
// HTTPS_PROXY / HTTP_PROXY / NO_PROXY read exactly as kubectl reads them (Go's
// golang.org/x/net/http/httpproxy FromEnvironment), so a shell that works for kubectl works here.
import net from 'node:net';

export type Env = Record<string, string | undefined>;

/** The proxy URL of a variable's value; no scheme means http:// (as Go's parseProxy does). */
export function parseProxyUrl(value: string): URL {
  const v = value.trim();
  try {
    const u = new URL(v);
    if (['http:', 'https:', 'socks5:', 'socks5h:'].includes(u.protocol) && u.hostname) return u;
  } catch {
    // no scheme: retried below
  }
  const u = new URL(`http://${v}`);
  if (!u.hostname) throw new Error(`invalid proxy address "${v}"`);
  return u;
}

type Matcher = (host: string, port: string, ip: string | undefined) => boolean;

/** Parses NO_PROXY into matchers; `all` for `*`. */
export function parseNoProxy(value: string): { all: boolean; match: Matcher[] } {
  const match: Matcher[] = [];
  for (let p of value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (p === '*') return { all: true, match: [] };
    const cidr = parseCidr(p);
    if (cidr) {
      match.push((_h, _p, ip) => ip !== undefined && inCidr(ip, cidr));
      continue;
    }
    let port = '';
    const hp = splitHostPort(p);
    if (hp) {
      if (!hp.host) continue;
      p = hp.host;
      port = hp.port;
    }
    if (p.startsWith('[') && p.endsWith(']')) p = p.slice(1, -1);
    if (net.isIP(p)) {
      const want = canonicalIp(p);
      match.push((_h, pt, ip) => ip !== undefined && canonicalIp(ip) === want && (port === '' || port === pt));
      continue;
    }
    // "*.example.com" and ".example.com" match subdomains only; "example.com" also itself; a
    // domain never matches a server given as an IP address (Go's domainMatch).
    if (p.startsWith('*.')) p = p.slice(1);
    const matchHost = !p.startsWith('.');
    const suffix = matchHost ? `.${p}` : p;
    match.push((h, pt, ip) => ip === undefined && (h.endsWith(suffix) || (matchHost && h === p)) && (port === '' || port === pt));
  }
  return { all: false, match };
}

/**
 * The proxy for a request to `target` (http: or https: URL) by the environment, or undefined for
 * a direct connection: never for localhost and loopback addresses, nor what NO_PROXY names.
 */
export function proxyFromEnv(target: URL, env: Env = process.env): URL | undefined {
  const https = target.protocol === 'https:' || target.protocol === 'wss:';
  const raw = https ? (env.HTTPS_PROXY || env.https_proxy) : (env.HTTP_PROXY || env.http_proxy);
  if (!raw) return undefined;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || (https ? '443' : '80');
  if (host === 'localhost') return undefined;
  const ip = net.isIP(host) ? host : undefined;
  if (ip && isLoopback(ip)) return undefined;
  const no = parseNoProxy(env.NO_PROXY || env.no_proxy || '');
  if (no.all || no.match.some((m) => m(host, port, ip))) return undefined;
  return parseProxyUrl(raw);
}

function splitHostPort(p: string): { host: string; port: string } | undefined {
  const m = /^\[([^\]]*)\]:(\d*)$/.exec(p) ?? /^([^:]*):(\d*)$/.exec(p);
  return m ? { host: m[1]!, port: m[2]! } : undefined;
}

function isLoopback(ip: string): boolean {
  const b = toBytes(ip);
  if (b.length === 4) return b[0] === 127;
  const mapped = b.slice(0, 12).every((v, i) => v === (i >= 10 ? 255 : 0));
  return (mapped && b[12] === 127) || b.every((v, i) => v === (i === 15 ? 1 : 0));
}

/** One spelling per address, for comparing ("::1" and "0:0::1"; v4-mapped as IPv4). */
function canonicalIp(ip: string): string {
  const b = toBytes(ip);
  const mapped = b.length === 16 && b.slice(0, 12).every((v, i) => v === (i >= 10 ? 255 : 0));
  return (mapped ? b.slice(12) : b).join('.');
}

interface Cidr { bytes: number[]; bits: number }

function parseCidr(p: string): Cidr | undefined {
  const m = /^(.+)\/(\d{1,3})$/.exec(p);
  if (!m || !net.isIP(m[1]!)) return undefined;
  const bits = Number(m[2]);
  const bytes = toBytes(m[1]!);
  if (bits > bytes.length * 8) return undefined;
  return { bytes, bits };
}

function inCidr(ip: string, c: Cidr): boolean {
  let b = toBytes(ip);
  if (b.length !== c.bytes.length) {
    // an IPv4 address against an IPv4 network written as v4-mapped IPv6, or the other way round
    const v4 = (x: number[]) => (x.length === 4 ? x : x.slice(0, 12).every((v, i) => v === (i >= 10 ? 255 : 0)) ? x.slice(12) : undefined);
    const a = v4(b);
    const n = v4(c.bytes);
    if (!a || !n) return false;
    b = a;
    c = { bytes: n, bits: c.bytes.length === 16 ? c.bits - 96 : c.bits };
  }
  for (let i = 0; i < c.bits; i++) {
    const mask = 0x80 >> i % 8;
    if ((b[i >> 3]! & mask) !== (c.bytes[i >> 3]! & mask)) return false;
  }
  return true;
}

function toBytes(ip: string): number[] {
  if (net.isIPv4(ip)) return ip.split('.').map(Number);
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let tail: number[] = [];
  if (v4) {
    tail = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - r.length).fill('0'), ...r].map((g) => parseInt(g, 16));
  const bytes = groups.flatMap((g) => [g >> 8, g & 255]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}
