// Keeping a host port ours while N threads listen on it with SO_REUSEPORT. Linux lets a socket
// bind a port that reuseport listeners hold when it sets SO_REUSEPORT too and runs as the same
// user, and then spreads connections over both: a second envserve (or any program that sets the
// option) would silently take a share of ours instead of failing. Every other binder still gets
// EADDRINUSE from the kernel (one socket without the option in the group is a conflict), so:
// - before the threads bind, an exclusive bind without the option must succeed (nobody holds
//   the port: what the single-thread proxy's own listen says);
// - once they listen, every listening socket on that port must be one of ours (/proc/net/tcp
//   against the inodes our threads reported): two envserves that passed the first check at the
//   same moment both see the other here, and fail rather than share;
// - while running, the same look every few seconds reports a program that joined later (read
//   off the forwarding thread: /proc/net/tcp takes milliseconds to print).
// (One thread needs none of this: proxy.ts listens without the option, and the kernel refuses others.)
import net from 'node:net';
import { fmtAddr } from './ports.js';
import { processOfInode, type TcpListener } from './proc-net.js';

/** Binds and closes a listener without SO_REUSEPORT: rejects with the listen error (EADDRINUSE, ...). */
export function exclusiveProbe(address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host: address, port, exclusive: true }, () => s.close(() => resolve()));
  });
}

/** Other listening sockets (of `listeners`, from proc-net.ts) that receive connections meant for address:port. */
export function foreignListeners(listeners: TcpListener[], address: string, port: number, ours: ReadonlySet<number>): number[] {
  return listeners
    .filter((l) => l.port === port && overlaps(l.address, address) && !ours.has(l.inode))
    .map((l) => l.inode);
}

/** The error for a port shared with another program: EADDRINUSE, reason PortInUse. */
export function sharedPortError(address: string, port: number, inodes: number[], procRoot?: string): NodeJS.ErrnoException {
  const who = inodes.map((i) => processOfInode(i, procRoot)).find(Boolean);
  const holder = who ? `pid ${who.pid} (${who.command})` : 'another program';
  const err = new Error(`host port ${port} (${fmtAddr(address)}:${port}) is also listened on by ${holder} with SO_REUSEPORT: it would take a share of the connections`);
  return Object.assign(err, { code: 'EADDRINUSE', reason: 'PortInUse' as const });
}

// '::' is dual-stack (Node's default), '0.0.0.0' every IPv4 address.
function overlaps(a: string, b: string): boolean {
  const v4 = (x: string) => !x.includes(':');
  return a === b || a === '::' || b === '::' || (a === '0.0.0.0' && v4(b)) || (b === '0.0.0.0' && v4(a));
}
