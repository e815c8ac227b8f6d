// Checks, before anything starts, that every host port a plan asks for can be bound here.
// All ports are tried first and every problem is reported at once, so nothing is half-applied.
import net from 'node:net';
import { UserError } from '../../errors.js';
import { describePortHolder } from './proc-net.js';

export interface PortClaim {
  address: string;
  /** 0 = any free port: nothing to check. */
  port: number;
  /** Who asks, for the message: "host.bind at build.envd:7:5". */
  by: string;
}

/** A host port cannot be bound: input the user fixes (another port, stop the other program). Exit 2. */
export class PortUnavailableError extends UserError {
  constructor(readonly problems: string[]) {
    super(`${problems.join('\n')}\nnothing was started`, 'pick another host_port (or host_port=0 for any free port), or stop the program that holds it', 'PortInUse');
    this.name = 'PortUnavailableError';
  }
}

export async function checkPortsFree(claims: PortClaim[], procRoot?: string): Promise<void> {
  const problems: string[] = [];
  const seen = new Map<string, PortClaim>();
  for (const c of claims) {
    if (c.port === 0) continue;
    const key = `${c.port}`;
    const other = seen.get(key);
    if (other && overlaps(other.address, c.address)) {
      problems.push(`host port ${c.port} is asked for twice: by ${other.by} and by ${c.by}`);
      continue;
    }
    seen.set(key, c);
    const err = await tryBind(c.address, c.port);
    if (!err) continue;
    const where = `${fmtAddr(c.address)}:${c.port}`;
    if (err.code === 'EADDRINUSE') {
      const holder = describePortHolder(c.port, procRoot);
      problems.push(`host port ${c.port} is already in use${holder ? ` by ${holder}` : ''} (wanted ${where} for ${c.by})`);
    } else if (err.code === 'EADDRNOTAVAIL') {
      problems.push(`cannot listen on ${where} for ${c.by}: ${c.address} is not an address of this machine`);
    } else if (err.code === 'EACCES') {
      problems.push(`cannot listen on ${where} for ${c.by}: ports below 1024 need root (or CAP_NET_BIND_SERVICE)`);
    } else {
      problems.push(`cannot listen on ${where} for ${c.by}: ${err.message}`);
    }
  }
  if (problems.length) throw new PortUnavailableError(problems);
}

function tryBind(address: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    s.listen({ host: address, port, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

function overlaps(a: string, b: string): boolean {
  return a === b || WILDCARDS.has(a) || WILDCARDS.has(b);
}

export function fmtAddr(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export function isWildcard(address: string): boolean {
  return WILDCARDS.has(address);
}

/** The address a local client uses to reach a listener on `address`. */
export function connectAddress(address: string): string {
  if (address === '0.0.0.0' || address === '') return '127.0.0.1';
  if (address === '::') return '::1';
  return address;
}

/** "http://127.0.0.1:1234/" or "tcp://127.0.0.1:1234". */
export function urlFor(protocol: string, address: string, port: number, path = '/'): string {
  const host = fmtAddr(connectAddress(address));
  return protocol === 'http' ? `http://${host}:${port}${path.startsWith('/') ? path : `/${path}`}` : `tcp://${host}:${port}`;
}
