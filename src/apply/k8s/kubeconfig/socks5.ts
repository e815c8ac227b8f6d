// A SOCKS5 client (RFC 1928, username/password from RFC 1929), just the CONNECT command: the
// way through a bastion (`ssh -D`) that `proxy-url: socks5://` names. The server's host name is
// sent to the proxy to resolve, as kubectl does: it may resolve only on the far side.
import net from 'node:net';

const REPLIES: Record<number, string> = {
  1: 'general failure', 2: 'not allowed by its rules', 3: 'network unreachable', 4: 'host unreachable',
  5: 'connection refused', 6: 'TTL expired', 7: 'command not supported', 8: 'address type not supported',
};

/** Asks the SOCKS5 proxy on `sock` (connected) for a tunnel to host:port; resolves once it is open. */
export async function socks5Connect(sock: net.Socket, host: string, port: number, user = '', pass = ''): Promise<void> {
  const r = reader(sock);
  try {
    sock.write(Buffer.from(user ? [5, 2, 0, 2] : [5, 1, 0]));
    const [ver, method] = await r.take(2);
    if (ver !== 5) throw new Error('not a SOCKS5 proxy');
    if (method === 2) {
      const u = Buffer.from(user);
      const p = Buffer.from(pass);
      sock.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]));
      const [, status] = await r.take(2);
      if (status !== 0) throw new Error('the SOCKS5 proxy rejected the user name and password');
    } else if (method !== 0) {
      throw new Error('the SOCKS5 proxy accepts none of our authentication methods');
    }
    let addr: Buffer;
    if (net.isIPv4(host)) addr = Buffer.from([1, ...host.split('.').map(Number)]);
    else if (net.isIPv6(host)) addr = Buffer.concat([Buffer.from([4]), ipv6Bytes(host)]);
    else {
      const name = Buffer.from(host);
      addr = Buffer.concat([Buffer.from([3, name.length]), name]);
    }
    sock.write(Buffer.concat([Buffer.from([5, 1, 0]), addr, Buffer.from([port >> 8, port & 255])]));
    const [v, rep, , atyp] = await r.take(4);
    if (v !== 5) throw new Error('not a SOCKS5 answer');
    if (rep !== 0) throw new Error(`the SOCKS5 proxy could not connect to ${host}:${port}: ${REPLIES[rep!] ?? `reply ${rep}`}`);
    const len = atyp === 1 ? 4 : atyp === 4 ? 16 : (await r.take(1))[0]!;
    await r.take(len + 2); // the bound address and port: not needed
  } finally {
    r.done();
  }
}

/** Reads exact byte counts off a socket; what arrives beyond them is put back. */
function reader(sock: net.Socket) {
  let buf = Buffer.alloc(0);
  let want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  let failed: Error | undefined;
  const pump = () => {
    if (want && buf.length >= want.n) {
      const w = want;
      want = undefined;
      const out = buf.subarray(0, w.n);
      buf = buf.subarray(w.n);
      w.resolve(out);
    }
  };
  const onData = (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    pump();
  };
  const onEnd = (e?: Error) => {
    failed = e instanceof Error ? e : new Error('the SOCKS5 proxy closed the connection');
    want?.reject(failed);
  };
  const onClose = () => onEnd();
  sock.on('data', onData).on('error', onEnd).on('close', onClose);
  return {
    take(n: number): Promise<Buffer> {
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        want = { n, resolve, reject };
        pump();
      });
    },
    done(): void {
      sock.off('data', onData).off('error', onEnd).off('close', onClose);
      sock.pause();
      if (buf.length) sock.unshift(buf);
    },
  };
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
  return Buffer.from(groups.flatMap((g) => [g >> 8, g & 255]));
}
