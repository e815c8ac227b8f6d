// The one place a connection to the API server is dialled: requests and watches (through the
// agent below), the port-forward's WebSocket and SPDY upgrades (tunnel.ts's createConnection),
// check's debug pod and the operator client (both through KubeClient). The proxy decision is made
// here once per client — the cluster's `proxy-url`, else HTTPS_PROXY/NO_PROXY as kubectl reads
// them — so no path can dial around it.
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { proxyFromEnv, type Env } from './kubeconfig/proxy-env.js';
import { socks5Connect } from './kubeconfig/socks5.js';

/** TLS settings for the API server (and for an https:// proxy, as Go's transport uses them). */
/** `onread`: reads into buffers of the caller's (the port-forward's pooled reads); ignored through a proxy. */
export type TlsOptions = Pick<tls.ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername' | 'session'> & { onread?: net.OnReadOpts };

type Done = (err: Error | null, socket?: net.Socket) => void;
type AgentDone = (err: Error | null, stream: Duplex) => void;

export class Dialer {
  /** The proxy every connection goes through, or undefined for direct connections. */
  readonly proxy: URL | undefined;
  private readonly host: string;
  private readonly port: number;
  readonly secure: boolean;

  constructor(readonly server: URL, proxyUrl?: string, env: Env = process.env) {
    this.secure = server.protocol === 'https:';
    this.host = server.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(server.port) || (this.secure ? 443 : 80);
    if (proxyUrl) {
      const u = new URL(proxyUrl);
      if (!['http:', 'https:', 'socks5:', 'socks5h:'].includes(u.protocol)) throw new Error(`proxy-url ${redact(u)}: the scheme must be http, https or socks5`);
      this.proxy = u;
    } else {
      this.proxy = proxyFromEnv(server, env);
    }
  }

  /** What the proxy is, for messages: the URL without credentials. */
  get proxyText(): string | undefined {
    return this.proxy && redact(this.proxy);
  }

  /**
   * A connection to the API server, TLS on top for an https:// server (its handshake may still
   * be under way when `done` is called, as tls.connect's socket is).
   */
  connect(o: TlsOptions, done: Done, timeoutMs = 10_000): void {
    if (!this.proxy) {
      done(null, this.secure ? tls.connect({ ...o, host: this.host, port: this.port, servername: sni(o.servername, this.host) }) : net.connect({ host: this.host, port: this.port }));
      return;
    }
    this.tunnel(o, timeoutMs).then(
      // The tunnel is handed over paused (nothing read past the proxy's answer): TLS takes the
      // socket as it is; plain HTTP reads it as a stream, so it flows again.
      (raw) => done(null, this.secure ? tls.connect({ ...o, socket: raw, servername: sni(o.servername, this.host) }) : raw.resume()),
      (e: Error) => done(new Error(`through the proxy ${this.proxyText}: ${e.message}`)),
    );
  }

  /**
   * An agent whose connections come from connect(), with the TLS options of each request (so a
   * rotated client certificate is used); direct ones keep https.Agent's TLS session cache.
   */
  agent(): http.Agent {
    const dialer = this;
    const base = { keepAlive: true, maxSockets: 32 };
    if (this.secure) {
      return new (class extends https.Agent {
        override createConnection(options: http.ClientRequestArgs, cb?: AgentDone): net.Socket | undefined {
          if (!dialer.proxy) return (https.Agent.prototype as unknown as { createConnection: (o: object) => net.Socket }).createConnection.call(this, options);
          dialer.connect(pickTls(options as tls.ConnectionOptions), (e, sock) => cb!(e, sock!));
          return undefined;
        }
      })({ ...base, maxCachedSessions: 100 });
    }
    return new (class extends http.Agent {
      override createConnection(_options: http.ClientRequestArgs, cb?: AgentDone): net.Socket | undefined {
        dialer.connect({}, (e, sock) => cb!(e, sock!));
        return undefined;
      }
    })(base);
  }

  /** A raw TCP stream to the server through the proxy. */
  private async tunnel(o: TlsOptions, timeoutMs: number): Promise<net.Socket> {
    const p = this.proxy!;
    const pport = Number(p.port) || (p.protocol === 'https:' ? 443 : p.protocol === 'http:' ? 80 : 1080);
    const phost = p.hostname.replace(/^\[|\]$/g, '');
    const sock = p.protocol === 'https:'
      // As kubectl (Go's transport): an https proxy is checked with the server's TLS config — its
      // CA, and its tls-server-name when one is set, else the proxy's own name.
      ? tls.connect({ host: phost, port: pport, servername: sni(o.servername, phost), ca: o.ca, cert: o.cert, key: o.key, ...(o.rejectUnauthorized !== undefined && { rejectUnauthorized: o.rejectUnauthorized }) })
      : net.connect({ host: phost, port: pport });
    const timer = setTimeout(() => sock.destroy(new Error(`no tunnel within ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((res, rej) => {
        sock.once(p.protocol === 'https:' ? 'secureConnect' : 'connect', () => res());
        sock.once('error', rej);
      });
      if (p.protocol === 'socks5:' || p.protocol === 'socks5h:') await socks5Connect(sock, this.host, this.port, decodeURIComponent(p.username), decodeURIComponent(p.password));
      else await httpConnect(sock, this.host, this.port, p);
      return sock;
    } catch (e) {
      sock.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** HTTP CONNECT on `sock`; resolves once the proxy answered 2xx, with the socket at the tunnel's first byte. */
function httpConnect(sock: net.Socket, host: string, port: number, proxy: URL): Promise<void> {
  const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (proxy.username) head += `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}\r\n`;
  sock.write(head + '\r\n');
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 16 * 1024) finish(new Error('the proxy sent an over-long answer to CONNECT'));
        return;
      }
      const status = /^HTTP\/1\.[01] (\d{3})(.*)/.exec(buf.subarray(0, buf.indexOf('\r\n')).toString('latin1'));
      const rest = buf.subarray(end + 4);
      if (!status || status[1]![0] !== '2') return finish(new Error(`the proxy refused CONNECT ${authority}: ${status ? `${status[1]}${status[2]}` : 'not an HTTP answer'}`));
      finish();
      if (rest.length) sock.unshift(rest);
    };
    const onClose = () => finish(new Error('the proxy closed the connection during CONNECT'));
    const finish = (e?: Error) => {
      sock.off('data', onData).off('error', finish).off('close', onClose);
      sock.pause();
      if (e) reject(e);
      else resolve();
    };
    sock.on('data', onData).on('error', finish).on('close', onClose);
  });
}

function pickTls(o: tls.ConnectionOptions): TlsOptions {
  const { ca, cert, key, rejectUnauthorized, servername, session } = o;
  return { ca, cert, key, ...(rejectUnauthorized !== undefined && { rejectUnauthorized }), ...(servername && { servername }), ...(session && { session }) };
}

/** The SNI name: tls-server-name, else the server's host name (never an IP address). */
function sni(servername: string | undefined, host: string): string | undefined {
  return servername ?? (net.isIP(host) ? undefined : host);
}

function redact(u: URL): string {
  return `${u.protocol}//${u.host}`;
}
