// A forward proxy on 127.0.0.1 for the kubeconfig tests: HTTP CONNECT (plain, or behind TLS for an
// https:// proxy) or SOCKS5. It knows host names the machine cannot resolve (kube.envserve.test)
// and maps them to the real API server, so a client reaches that server only through it; any
// other target is refused. It counts the tunnels it opened and the bytes they carried.
import net from 'node:net';
import tls from 'node:tls';

export type ProxyKind = 'http' | 'https' | 'socks5';

export class TunnelProxy {
  /** Tunnels opened, by target ("host:port" as the client asked). */
  readonly targets: string[] = [];
  /** Bytes carried, both directions, over every tunnel. */
  bytes = 0;
  /** Tunnels open now. */
  open = 0;
  refused = 0;
  private server!: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(readonly kind: ProxyKind, private readonly map: Record<string, { host: string; port: number }>, private readonly tlsOpts?: { cert: string; key: string }) {}

  get tunnels(): number {
    return this.targets.length;
  }

  get url(): string {
    return `${this.kind}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const onConn = (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => s.destroy());
      if (this.kind === 'socks5') void this.socks(s);
      else this.connect(s);
    };
    this.server = this.kind === 'https' ? tls.createServer({ ...this.tlsOpts! }, onConn) : net.createServer(onConn);
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private connect(s: net.Socket): void {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      const m = /^CONNECT (\S+) HTTP\/1\.[01]\r\n/.exec(buf.subarray(0, end + 2).toString('latin1'));
      const target = m ? this.map[m[1]!] : undefined;
      if (!m || !target) {
        this.refused++;
        s.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      this.pipe(s, m[1]!, target, () => s.write('HTTP/1.1 200 Connection established\r\n\r\n'), buf.subarray(end + 4));
    };
    s.on('data', onData);
  }

  private async socks(s: net.Socket): Promise<void> {
    let buf = Buffer.alloc(0);
    const need = (n: number) => new Promise<Buffer>((resolve, reject) => {
      const take = () => {
        if (buf.length < n) return false;
        const out = buf.subarray(0, n);
        buf = buf.subarray(n);
        s.off('data', onData).off('close', onClose);
        resolve(out);
        return true;
      };
      const onData = (d: Buffer) => { buf = Buffer.concat([buf, d]); take(); };
      const onClose = () => reject(new Error('closed'));
      if (!take()) s.on('data', onData).on('close', onClose);
    });
    try {
      const [ver, n] = await need(2);
      if (ver !== 5) return void s.destroy();
      const methods = await need(n!);
      if (!methods.includes(0)) return void s.end(Buffer.from([5, 0xff]));
      s.write(Buffer.from([5, 0]));
      const [, cmd, , atyp] = await need(4);
      let host: string;
      if (atyp === 3) host = (await need((await need(1))[0]!)).toString();
      else if (atyp === 1) host = [...(await need(4))].join('.');
      else return void s.end(Buffer.from([5, 8, 0, 1, 0, 0, 0, 0, 0, 0]));
      const pb = await need(2);
      const name = `${host}:${pb.readUInt16BE(0)}`;
      const target = this.map[name];
      if (cmd !== 1 || !target) {
        this.refused++;
        return void s.end(Buffer.from([5, cmd !== 1 ? 7 : 4, 0, 1, 0, 0, 0, 0, 0, 0]));
      }
      this.pipe(s, name, target, () => s.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0])), buf);
    } catch {
      s.destroy();
    }
  }

  private pipe(s: net.Socket, name: string, target: { host: string; port: number }, ok: () => void, early: Buffer): void {
    const up = net.connect(target);
    up.on('error', () => s.destroy());
    s.on('error', () => up.destroy());
    up.once('connect', () => {
      this.targets.push(name);
      this.open++;
      let closed = false;
      const done = () => { if (!closed) { closed = true; this.open--; } };
      up.on('close', done);
      ok();
      if (early.length) { this.bytes += early.length; up.write(early); }
      s.on('data', (d: Buffer) => { this.bytes += d.length; });
      up.on('data', (d: Buffer) => { this.bytes += d.length; });
      s.pipe(up);
      up.pipe(s);
      s.on('close', () => up.destroy());
      up.on('close', () => s.destroy());
    });
  }
}
