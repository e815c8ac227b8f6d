// `cloud.k8s.bind(host_port=)`: a local listener whose every connection is carried through the API
// server to the workload's current Ready pod (a stream pair on the pod's multiplexed SPDY-over-
// WebSocket session, like kubectl, or one WebSocket per connection where the API server does not
// offer that: pool.ts). It follows the workload: each new connection asks the pod tracker for the
// pod, so after a restart or a rollout new connections reach the new pod as soon as it is Ready.
// A connection that arrives while no pod is Ready waits (capped backoff) and gives up after
// `waitTimeoutMs` with the reason in status. A connection whose stream could not reach the pod
// before any byte came back (the pod died between the watch event and the dial) is retried on the
// next pod with the bytes it had sent. A connection the pod refuses (nothing listens on that port)
// is reset at once on our side and recorded as a refusal: that connection's outcome only, never
// retried, and never the end of the other connections to the pod (session.ts keeps the refusal
// off the shared session). Each connection: connection.ts; this file is the listener and the stats.
import net from 'node:net';
import { EventEmitter, setMaxListeners } from 'node:events';
import type { KubeClient } from '../client.js';
import type { PodTracker } from '../pod-tracker.js';
import { PortForwardSessions } from './pool.js';
import { ForwardedConnection, type ConnectionHost, type PortForwardStats } from './connection.js';
import { adopt } from './readpool.js';

export type { PortForwardStats } from './connection.js';

/** How long a failed connection shows in the forward's status, unless a later one got an answer. */
export const RECENT_FAILURE_MS = 10_000;

/** The last failure, while it still describes the forward: recent, and no connection answered since. */
export function recentFailure(s: PortForwardStats, now = Date.now()): string | undefined {
  if (!s.lastError || !s.lastErrorAt || now - s.lastErrorAt >= RECENT_FAILURE_MS) return undefined;
  return s.lastAnsweredAt !== undefined && s.lastAnsweredAt > s.lastErrorAt ? undefined : s.lastError;
}

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

export class PortForwarder extends EventEmitter {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly abort = new AbortController();
  readonly stats: PortForwardStats = { active: 0, total: 0, failed: 0, retried: 0, clientErrors: 0, refused: 0, refusing: false };
  address?: { address: string; port: number };

  private readonly sessions: PortForwardSessions;
  private readonly ownSessions: boolean;
  private readonly host: ConnectionHost;

  constructor(readonly o: PortForwardOptions) {
    super();
    this.ownSessions = o.sessions === undefined;
    this.sessions = o.sessions ?? new PortForwardSessions();
    // One abort listener per open connection: hundreds are normal here.
    setMaxListeners(0, this.abort.signal);
    const self = this;
    this.host = {
      client: o.client,
      tracker: o.tracker,
      namespace: o.namespace,
      remotePort: o.remotePort,
      get waitTimeoutMs() {
        return self.o.waitTimeoutMs ?? 30_000;
      },
      sessions: this.sessions,
      stats: this.stats,
      signal: this.abort.signal,
      fail: (msg, forbidden) => this.fail(msg, forbidden),
      setRefusing: (refusing) => this.setRefusing(refusing),
      done: (sock) => this.sockets.delete(sock),
    };
  }

  /** The workload moved to another pod: if this forward is in use, open its session now. */
  private readonly onPod = (pod?: { metadata?: { name?: string } }) => {
    const name = pod?.metadata?.name;
    if (name && this.stats.total > 0) this.sessions.warm(this.o.client, { namespace: this.o.namespace, pod: name });
  };

  async start(): Promise<{ address: string; port: number }> {
    // Paused: each connection is moved onto a socket that reads into pooled buffers (readpool.ts).
    const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (sock) => this.handle(sock));
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

  private fail(msg: string, forbidden = false): void {
    this.stats.failed++;
    this.stats.lastError = msg;
    this.stats.lastErrorAt = Date.now();
    this.stats.lastErrorForbidden = forbidden;
    this.emit('change');
  }

  private setRefusing(refusing: boolean): void {
    if (this.stats.refusing === refusing) return;
    this.stats.refusing = refusing;
    this.emit('refusing', refusing);
  }

  private handle(shell: net.Socket): void {
    let conn: ForwardedConnection | undefined;
    const sock = adopt(shell, (chunk, release) => conn!.onClientData(chunk, release));
    this.sockets.add(sock);
    conn = new ForwardedConnection(this.host, sock);
  }
}
