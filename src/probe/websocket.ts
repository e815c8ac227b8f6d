// A WebSocket upgrade next to an HTTP probe: does a 101 come back (Jupyter's kernels, code-server
// and RStudio need it), or which status or error instead. What was seen, not what it means.
import WebSocket from 'ws';
import type { ProbeResult } from './types.js';

export function probeUpgrade(url: string, o: { timeoutMs: number; hostHeader?: string }): Promise<NonNullable<ProbeResult['websocket']>> {
  const secure = url.startsWith('https:');
  return new Promise((resolve) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), {
      headers: o.hostHeader ? { host: o.hostHeader } : {},
      handshakeTimeout: o.timeoutMs,
      rejectUnauthorized: false,
      ...(secure && o.hostHeader && { servername: o.hostHeader }),
    });
    let done = false;
    const finish = (r: NonNullable<ProbeResult['websocket']>) => {
      if (done) return;
      done = true;
      ws.terminate();
      resolve(r);
    };
    ws.on('open', () => finish({ ok: true, status: 101 }));
    ws.on('unexpected-response', (_req, res) => finish({ ok: false, status: res.statusCode ?? 0 }));
    ws.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, error: { ...(e.code !== undefined && { code: e.code }), message: e.message } }));
  });
}
