// `cloud.k8s.bind(host_port=)`: a local listener whose every connection is carried through the API
// server to the workload's current Ready pod (a stream pair on the pod's multiplexed SPDY-over-
// WebSocket session, like kubectl, or one WebSocket per connection where the API server does not
// offer that: pf-spdy.ts). It follows the
// workload: each new connection asks the pod tracker for the pod, so after a restart or a rollout
// new connections reach the new pod as soon as it is Ready. A connection that arrives while no pod
// is Ready waits (capped backoff) and gives up after `waitTimeoutMs` with the reason in status.
// A connection whose stream could not reach the pod before any byte came back (the pod died
// between the watch event and the dial) is retried on the next pod with the bytes it had sent.
// A connection the pod refuses (nothing listens on that port) is reset at once on our side and
// recorded as a refusal: that connection's outcome only, never retried, and never the end of the
// other connections to the pod (pf-spdy.ts keeps the refusal off the shared session).
import net from 'node:net';
import { EventEmitter, setMaxListeners } from 'node:events';
import { Backoff, sleep } from '../backoff.js';
import type { KubeClient } from './client.js';
import type { PodTracker } from './pod-tracker.js';
import { TunnelRefused, type PortStream } from './pf-tunnel.js';
import { PortForwardSessions } from './pf-spdy.js';
import { isAppReset, isRefusal, refusalMessage } from './pf-errors.js';

export interface PortForwardOptions {
  client: KubeClient;
  tracker: PodTracker;
  namespace: string;
  /** The pod's port. */
  remotePort: number;
  listenAddress: string;
  /** 0 = any free port. */
  localPort: number;
  /** How long a new connection waits for a Ready pod (default 30 s). */
  waitTimeoutMs?: number;
  /** The owner's session pool (shared by its forwards; it closes them). Default: one of this forwarder's own. */
  sessions?: PortForwardSessions;
}

export interface PortForwardStats {
  active: number;
  total: number;
  failed: number;
  retried: number;
  /**
   * Local connections that ended with a socket error (the client reset it, or went away while we
   * wrote): the client's doing, so counted here and not as a failure of the forward.
   */
  clientErrors: number;
  lastClientError?: string;
  /** The pod the last connection went to. */
  lastPod?: string;
  /** Connections the pod refused (nothing listened on its port). */
  refused: number;
  lastRefusal?: string;
  /** The last connection to settle was refused (true) or taken by the pod (false): emits 'refusing' when it flips. */
  refusing: boolean;

  lastError?: string;
  lastErrorAt?: number;
}

/** Client bytes kept for a transparent retry until the pod answers; past this, no retry. */
const REPLAY_LIMIT = 256 * 1024;
/** A client that half-closed gets this long for the pod to finish answering. */
const HALF_CLOSE_LINGER_MS = 60_000;
/** Streams one connection may open before it gives up (pods failing one after another). */
const MAX_ATTEMPTS = 40;
/** ENVSERVE_DEBUG=pf traces every connection on stderr. */
const TRACE = /\bpf\b/.test(process.env.ENVSERVE_DEBUG ?? '');
let connSeq = 0;

export class PortForwarder extends EventEmitter {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly abort = new AbortController();
  readonly stats: PortForwardStats = { active: 0, total: 0, failed: 0, retried: 0, clientErrors: 0, refused: 0, refusing: false };
  address?: { address: string; port: number };

  private readonly sessions: PortForwardSessions;
  private readonly ownSessions: boolean;

  constructor(readonly o: PortForwardOptions) {
    super();
    this.ownSessions = o.sessions === undefined;
    this.sessions = o.sessions ?? new PortForwardSessions();
    // One abort listener per open connection: hundreds are normal here.
    setMaxListeners(0, this.abort.signal);
  }

  /** The workload moved to another pod: if this forward is in use, open its session now. */
  private readonly onPod = (pod?: { metadata?: { name?: string } }) => {
    const name = pod?.metadata?.name;
    if (name && this.stats.total > 0) this.sessions.warm(this.o.client, { namespace: this.o.namespace, pod: name });
  };

  async start(): Promise<{ address: string; port: number }> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => this.handle(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.o.listenAddress, port: this.o.localPort, backlog: 1024 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // A listening server emits 'error' when accept() fails in a way libuv does not absorb (out of
    // file descriptors once its reserve descriptor is gone too). Unhandled, that would throw out
    // of the event loop and end `envserve serve`; the connection is already dropped: record, go on.
    server.on('error', (e) => this.fail(`accepting a connection: ${e.message}`));
    this.o.tracker.on('pod', this.onPod);
    const a = server.address() as net.AddressInfo;
    this.address = { address: a.address, port: a.port };
    return this.address;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.o.tracker.off('pod', this.onPod);
    for (const s of this.sockets) s.destroy();
    if (this.ownSessions) this.sessions.close();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private fail(msg: string): void {
    this.stats.failed++;
    this.stats.lastError = msg;
    this.stats.lastErrorAt = Date.now();
    this.emit('change');
  }

  private setRefusing(refusing: boolean): void {
    if (this.stats.refusing === refusing) return;
    this.stats.refusing = refusing;
    this.emit('refusing', refusing);
  }

  private handle(sock: net.Socket): void {
    this.sockets.add(sock);
    this.stats.total++;
    this.stats.active++;
    sock.setKeepAlive(true, 30_000);
    const ctl = new AbortController();
    const onStop = () => ctl.abort();
    this.abort.signal.addEventListener('abort', onStop, { once: true });

    let tunnel: PortStream | undefined;
    let replay: Buffer[] | undefined = [];
    let replayBytes = 0;
    let gotBackend = false;
    let clientEnded = false;
    let clientGone = false;
    let linger: NodeJS.Timeout | undefined;
    let attempts = 0;
    const id = ++connSeq;
    const t0 = Date.now();
    const trace = TRACE ? (m: string) => process.stderr.write(`[pf ${id} +${Date.now() - t0}ms] ${m}\n`) : () => undefined;

    let streamPod: string | undefined;
    let abandoned: PortStream | undefined;
    // A stream to a pod that goes away before answering may hang (the kubelet side does not
    // always close it): resend the request to the next pod instead, as if it had been refused.
    const onPods = () => {
      if (!tunnel || gotBackend || !replay || !streamPod || this.o.tracker.isReady(streamPod)) return;
      trace(`pod ${streamPod} went away before answering; retrying`);
      abandoned = tunnel;
      tunnel = undefined;
      abandoned.close();
      this.stats.retried++;
      void connect();
    };
    this.o.tracker.on('change', onPods);

    const cleanup = () => {
      if (clientGone) return;
      clientGone = true;
      this.o.tracker.off('change', onPods);
      this.sockets.delete(sock);
      this.stats.active--;
      clearTimeout(linger);
      ctl.abort();
      this.abort.signal.removeEventListener('abort', onStop);
      tunnel?.close();
    };
    sock.on('close', cleanup);
    // Registered before anything can write to or read from the socket: a client that resets its
    // connection (ECONNRESET, EPIPE on our next write) must end this connection only.
    sock.on('error', (e) => {
      this.stats.clientErrors++;
      this.stats.lastClientError = e.message;
      trace(`client socket: ${e.message}`);
      sock.destroy();
    });

    sock.on('data', (chunk: Buffer) => {
      if (replay) {
        replay.push(chunk);
        replayBytes += chunk.length;
        if (replayBytes > REPLAY_LIMIT) {
          if (tunnel && !tunnel.isClosed) replay = undefined; // already sent; too big to keep
          else sock.pause(); // no stream yet: hold the client until there is one
        }
      }
      if (tunnel && !tunnel.isClosed && !tunnel.write(chunk)) {
        sock.pause();
        tunnel.onDrain(() => sock.resume());
      }
    });
    sock.on('end', () => {
      // Pass the half-close on where the stream can carry it (SPDY); v4.channel.k8s.io cannot:
      // keep reading the pod's answer for a while, then give up.
      clientEnded = true;
      if (tunnel && !tunnel.isClosed) tunnel.end?.();
      linger = setTimeout(() => sock.destroy(), HALF_CLOSE_LINGER_MS);
    });

    const connect = async (): Promise<void> => {
      const deadline = Date.now() + (this.o.waitTimeoutMs ?? 30_000);
      const backoff = new Backoff({ maxMs: 1000 });
      for (;;) {
        if (ctl.signal.aborted) return;
        if (++attempts > MAX_ATTEMPTS) {
          this.fail(`gave up after ${MAX_ATTEMPTS} attempts: ${this.stats.lastError ?? 'no pod answered'}`);
          sock.destroy();
          return;
        }
        let pod: string;
        try {
          const p = await this.o.tracker.waitReady(Math.max(1, deadline - Date.now()), ctl.signal);
          pod = p.metadata!.name!;
          trace(`pod ${pod}`);
        } catch (e) {
          if (ctl.signal.aborted) return;
          this.fail((e as Error).message);
          sock.destroy();
          return;
        }
        let retryable = false;
        try {
          const t: PortStream = await this.sessions.openPortStream(this.o.client, { namespace: this.o.namespace, pod, port: this.o.remotePort }, {
            data: (chunk) => {
              gotBackend = true;
              replay = undefined;
              if (!sock.write(chunk) && sock.writableLength >= t.pauseAt) {
                t.pause();
                sock.once('drain', () => t.resume());
              }
            },
            established: () => this.setRefusing(false),
            close: (error) => {
              trace(`stream closed${error ? `: ${error.trim()}` : ''} (got data: ${gotBackend})`);
              if (clientGone || abandoned === t) return;
              const podStays = this.o.tracker.isReady(pod);
              if (!gotBackend && isRefusal(error) && podStays) {
                // The pod is there and nothing listens: no other pod would do better. The client
                // learns it at once, as from a closed port on its own machine. (A pod that is
                // going away refuses too: that connection is retried on the next pod below.)
                this.stats.refused++;
                this.stats.lastRefusal = refusalMessage(this.o.remotePort, pod);
                this.stats.lastPod = pod;
                this.setRefusing(true);
                sock.resetAndDestroy();
                return;
              }
              if (!gotBackend && replay && error && !(podStays && isAppReset(error))) {
                // Never reached the pod (it is going away): try again, on the next pod if there is one.
                this.stats.retried++;
                this.stats.lastError = `${pod}: ${error.trim()}`;
                tunnel = undefined;
                void sleep(backoff.next(), ctl.signal).then((ok) => {
                  if (ok) void connect();
                });
                return;
              }
              if (error && !gotBackend) {
                // The app took the connection and reset it before answering: its answer, passed on
                // as it is (never replayed: the app has seen the request).
                this.fail(`${pod}: ${error.trim()}`);
                sock.resetAndDestroy();
                return;
              }
              if (error) this.fail(`${pod}: ${error.trim()}`);
              // A killed container's socket may close with a FIN instead of a reset, and the kubelet
              // then reports nothing: a clean end from a pod that is going away was still cut.
              // (Its deletion reaches the pod watch before the kill reaches this stream.)
              else if (!this.o.tracker.isReady(pod)) this.fail(`${pod}: the connection ended as the pod went away`);
              sock.end();
            },
          });
          if (ctl.signal.aborted) {
            t.close();
            return;
          }
          tunnel = t;
          streamPod = pod;
          trace(`stream open, replaying ${replayBytes} bytes`);
          this.stats.lastPod = pod;
          for (const c of replay ?? []) t.write(c);
          if (sock.isPaused() && replayBytes <= REPLAY_LIMIT) sock.resume();
          else if (sock.isPaused()) {
            replay = undefined;
            sock.resume();
          }
          if (clientEnded) t.end?.(); // the client half-closed before the stream was there
          if (clientEnded && !linger) linger = setTimeout(() => sock.destroy(), HALF_CLOSE_LINGER_MS);
          onPods(); // the pod may have gone while the stream was opening
          return;
        } catch (e) {
          if (ctl.signal.aborted) return;
          const err = e as Error;
          trace(`open failed: ${err.message}`);
          retryable = !(err instanceof TunnelRefused && (err.code === 401 || err.code === 403));
          this.stats.lastError = `${pod}: ${err.message}`;
          if (!retryable || Date.now() > deadline) {
            this.fail(`${pod}: ${err.message}`);
            sock.destroy();
            return;
          }
          this.stats.retried++;
        }
        if (!(await sleep(backoff.next(), ctl.signal))) return;
      }
    };
    void connect();
  }
}
