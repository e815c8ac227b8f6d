// Does a service answer? TCP: a connection is accepted. HTTP: a response status line comes back
// (any status: Jupyter answers 302 to a login page, which is fine).
import net from 'node:net';
import type { Protocol } from '../plan/types.js';
import type { Endpoint } from './types.js';

export interface ProbeResult {
  answering: boolean;
  /** Why not, or the HTTP status line. */
  detail?: string;
}

export function probe(ep: Endpoint, protocol: Protocol, timeoutMs = 1500): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ep.address, port: ep.port });
    let got = '';
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ answering: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    s.on('error', (e: NodeJS.ErrnoException) => done({ answering: false, detail: describeConnectError(e) }));
    s.on('connect', () => {
      if (protocol !== 'http') return done({ answering: true });
      s.write(`GET / HTTP/1.1\r\nHost: ${ep.address.includes(':') ? `[${ep.address}]` : ep.address}:${ep.port}\r\nUser-Agent: envserve-probe\r\nConnection: close\r\n\r\n`);
    });
    s.on('data', (d) => {
      got += d.toString('latin1');
      const line = got.split('\r\n')[0]!;
      if (got.includes('\r\n') || got.length > 64) {
        done(/^HTTP\/\d(\.\d)? \d{3}/.test(line) ? { answering: true, detail: line } : { answering: false, detail: 'answers, but not with HTTP' });
      }
    });
    s.on('end', () => done({ answering: false, detail: got ? 'answers, but not with HTTP' : 'connection closed without an answer' }));
  });
}

export function describeConnectError(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens there yet)';
    case 'ECONNRESET':
      return 'connection reset (the service behind it is not answering)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `address not reachable from this machine (${e.code})`;
    default:
      return e.message;
  }
}
