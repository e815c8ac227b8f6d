// One forwarded connection: a local socket carried to the workload's current Ready pod. It waits
// for a Ready pod, opens a stream (pool.ts), keeps the client's bytes until the pod answers so a
// stream that never reached the pod is retried on the next one, passes a half-close on, and
// ends the local socket the way the pod's side ended: a refusal or an app's reset as a reset, a
// clean end as an end (the rules: forwarder.ts).
import type net from 'node:net';
import { Backoff, sleep } from '../../backoff.js';
import type { KubeClient } from '../client.js';
import type { PodTracker } from '../pod-tracker.js';
import { TunnelRefused, type PortStream, type TunnelEvents } from './tunnel.js';
import type { PortForwardSessions } from './pool.js';
import { isAppReset, isRefusal, refusalMessage } from './errors.js';
import { retainRead } from './readpool.js';

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
  /** The API server refused the port-forward itself (401/403): status says Forbidden, not a reset. */
  lastErrorForbidden?: boolean;
  /** When a connection last got the pod's first bytes: a failure before it no longer describes the forward. */
  lastAnsweredAt?: number;
}

/** What a connection needs of its forwarder. */
export interface ConnectionHost {
  client: KubeClient;
  tracker: PodTracker;
  namespace: string;
  remotePort: number;
  waitTimeoutMs: number;
  sessions: PortForwardSessions;
  stats: PortForwardStats;
  /** Aborted when the forwarder stops. */
  signal: AbortSignal;
  /** Records a failure of the forward; `forbidden`: the API server refused the port-forward (401/403). */
  fail(msg: string, forbidden?: boolean): void;
  setRefusing(refusing: boolean): void;
  /** The connection is over (its socket closed). */
  done(sock: net.Socket): void;
}

/** Client bytes kept for a transparent retry until the pod answers; past this, no retry. */
const REPLAY_LIMIT = 256 * 1024;
/** A client that half-closed gets this long for the pod to finish answering. */
const HALF_CLOSE_LINGER_MS = 60_000;
/** After its pod is deleted for good, a connection's stream gets this long to end by itself. */
const POD_GONE_GRACE_MS = 2000;
/** Streams one connection may open before it gives up (pods failing one after another). */
const MAX_ATTEMPTS = 40;
/** ENVSERVE_DEBUG=pf traces every connection on stderr. */
const TRACE = /\bpf\b/.test(process.env.ENVSERVE_DEBUG ?? '');
let connSeq = 0;

export class ForwardedConnection {
  private readonly ctl = new AbortController();
  private tunnel?: PortStream;
  /** The client's bytes until the pod answers (for a retry); undefined once it did, or too many. */
  private replay?: Buffer[] = [];
  private replayBytes = 0;
  private gotBackend = false;
  private clientEnded = false;
  private clientGone = false;
  private linger?: NodeJS.Timeout;
  private podGoneTimer?: NodeJS.Timeout;
  private attempts = 0;
  /** A 401 was met and the stream tried again with fresh credentials. */
  private freshCredentials = false;
  private streamPod?: string;
  /** A stream given up on (its pod went away before answering): what it reports is ignored. */
  private abandoned?: PortStream;
  private readonly trace: (m: string) => void;

  constructor(private readonly h: ConnectionHost, private readonly sock: net.Socket) {
    h.stats.total++;
    h.stats.active++;
    sock.setKeepAlive(true, 30_000);
    h.signal.addEventListener('abort', this.onStop, { once: true });
    const id = ++connSeq;
    const t0 = Date.now();
    this.trace = TRACE ? (m) => process.stderr.write(`[pf ${id} +${Date.now() - t0}ms] ${m}\n`) : () => undefined;
    h.tracker.on('change', this.onPods);
    sock.on('close', this.cleanup);
    // Registered before anything can write to or read from the socket: a client that resets its
    // connection (ECONNRESET, EPIPE on our next write) must end this connection only.
    sock.on('error', (e) => {
      h.stats.clientErrors++;
      h.stats.lastClientError = e.message;
      this.trace(`client socket: ${e.message}`);
      sock.destroy();
    });
    // A socket that reads into pooled buffers calls onClientData itself (readpool.ts).
    sock.on('data', (chunk: Buffer) => this.onClientData(chunk));
    sock.on('end', () => {
      // Pass the half-close on where the stream can carry it (SPDY); v4.channel.k8s.io cannot:
      // keep reading the pod's answer for a while, then give up.
      this.clientEnded = true;
      if (this.tunnel && !this.tunnel.isClosed) this.tunnel.end?.();
      this.linger = setTimeout(() => sock.destroy(), HALF_CLOSE_LINGER_MS);
    });
    void this.connect();
  }

  private readonly onStop = () => this.ctl.abort();

  /**
   * A stream to a pod that goes away before answering may hang (the kubelet side does not always
   * close it): resend the request to the next pod instead, as if it had been refused.
   */
  private readonly onPods = () => {
    const { tunnel, streamPod } = this;
    if (!tunnel || !streamPod || this.h.tracker.isReady(streamPod)) return;
    if (this.gotBackend) return this.whenPodGone(streamPod);
    if (!this.replay) return;
    this.trace(`pod ${streamPod} went away before answering; retrying`);
    this.abandoned = tunnel;
    this.tunnel = undefined;
    tunnel.close();
    this.h.stats.retried++;
    void this.connect();
  };

  /**
   * An answered connection whose pod is deleted for good can get nothing more from it, and the
   * kubelet does not always end its stream (the pod's network torn down under the socket: no FIN,
   * no reset): past a short grace for bytes in flight, its client is reset instead of hanging.
   */
  private whenPodGone(pod: string): void {
    if (this.podGoneTimer || !this.h.tracker.isGone(pod)) return;
    this.podGoneTimer = setTimeout(() => {
      if (this.clientGone || this.streamPod !== pod) return;
      this.trace(`pod ${pod} is gone and its stream did not end; resetting the client`);
      this.h.fail(`${pod}: the pod was deleted and its stream never ended`);
      this.sock.resetAndDestroy();
    }, POD_GONE_GRACE_MS);
  }

  private readonly cleanup = () => {
    if (this.clientGone) return;
    this.clientGone = true;
    this.h.tracker.off('change', this.onPods);
    this.h.done(this.sock);
    this.h.stats.active--;
    clearTimeout(this.linger);
    clearTimeout(this.podGoneTimer);
    this.ctl.abort();
    this.h.signal.removeEventListener('abort', this.onStop);
    this.tunnel?.close();
  };

  /**
   * Bytes from the client. `release`: the chunk is a pooled read (readpool.ts), to be released once
   * nothing needs it; what is kept for a replay is then a copy.
   */
  onClientData(chunk: Buffer, release?: () => void): void {
    const { sock, tunnel } = this;
    if (this.replay) {
      this.replay.push(release ? Buffer.from(chunk) : chunk);
      this.replayBytes += chunk.length;
      if (this.replayBytes > REPLAY_LIMIT) {
        if (tunnel && !tunnel.isClosed) this.replay = undefined; // already sent; too big to keep
        else sock.pause(); // no stream yet: hold the client until there is one
      }
    }
    if (!tunnel || tunnel.isClosed) return release?.();
    if (!tunnel.write(chunk, release)) {
      sock.pause();
      tunnel.onDrain(() => sock.resume());
    }
  }

  /**
   * Gives up on this connection: the failure is recorded, the client's socket reset (a clean
   * close would read as the app's own end, and a TCP probe would take it for an answer).
   */
  private giveUp(msg: string, forbidden = false): void {
    this.h.fail(msg, forbidden);
    this.sock.resetAndDestroy();
  }

  /** Waits for a Ready pod and opens a stream to it, retrying until one opens or time is up. */
  private async connect(): Promise<void> {
    const { h, ctl } = this;
    const deadline = Date.now() + h.waitTimeoutMs;
    const backoff = new Backoff({ maxMs: 1000 });
    for (;;) {
      if (ctl.signal.aborted) return;
      if (++this.attempts > MAX_ATTEMPTS) return this.giveUp(`gave up after ${MAX_ATTEMPTS} attempts: ${h.stats.lastError ?? 'no pod answered'}`);
      let pod: string;
      try {
        const p = await h.tracker.waitReady(Math.max(1, deadline - Date.now()), ctl.signal);
        pod = p.metadata!.name!;
        this.trace(`pod ${pod}`);
      } catch (e) {
        if (ctl.signal.aborted) return;
        return this.giveUp((e as Error).message);
      }
      try {
        let t: PortStream | undefined;
        t = await h.sessions.openPortStream(h.client, { namespace: h.namespace, pod, port: h.remotePort }, this.streamEvents(pod, backoff, () => t!));
        if (ctl.signal.aborted) {
          t.close();
          return;
        }
        this.opened(t, pod);
        return;
      } catch (e) {
        if (ctl.signal.aborted) return;
        const err = e as Error;
        this.trace(`open failed: ${err.message}`);
        const forbidden = err instanceof TunnelRefused && (err.code === 401 || err.code === 403);
        h.stats.lastError = `${pod}: ${err.message}`;
        // A credential refused with 401 was dropped (tunnel.ts): once more with fresh ones, as client.ts does.
        if (forbidden && err.code === 401 && h.client.credentials?.refreshable && !this.freshCredentials) {
          this.freshCredentials = true;
          h.stats.retried++;
          continue;
        }
        if (forbidden || Date.now() > deadline) return this.giveUp(`${pod}: ${err.message}`, forbidden);
        h.stats.retried++;
      }
      if (!(await sleep(backoff.next(), ctl.signal))) return;
    }
  }

  /** The stream `t` to `pod` is open: it gets what the client sent so far. */
  private opened(t: PortStream, pod: string): void {
    const { sock } = this;
    this.tunnel = t;
    this.streamPod = pod;
    this.trace(`stream open, replaying ${this.replayBytes} bytes`);
    this.h.stats.lastPod = pod;
    for (const c of this.replay ?? []) t.write(c);
    if (sock.isPaused() && this.replayBytes <= REPLAY_LIMIT) sock.resume();
    else if (sock.isPaused()) {
      this.replay = undefined;
      sock.resume();
    }
    if (this.clientEnded) t.end?.(); // the client half-closed before the stream was there
    if (this.clientEnded && !this.linger) this.linger = setTimeout(() => sock.destroy(), HALF_CLOSE_LINGER_MS);
    this.onPods(); // the pod may have gone while the stream was opening
  }

  /** The events of a stream to `pod`; `stream()` is that stream once it is open. */
  private streamEvents(pod: string, backoff: Backoff, stream: () => PortStream): TunnelEvents {
    const { h, sock } = this;
    return {
      data: (chunk) => {
        if (!this.gotBackend) h.stats.lastAnsweredAt = Date.now();
        this.gotBackend = true;
        this.replay = undefined;
        const t = stream();
        // The chunk may be part of a pooled read (readpool.ts): kept from reuse until written.
        if (!sock.write(chunk, retainRead()) && sock.writableLength >= t.pauseAt) {
          t.pause();
          sock.once('drain', () => t.resume());
        }
      },
      established: () => h.setRefusing(false),
      close: (error) => {
        this.trace(`stream closed${error ? `: ${error.trim()}` : ''} (got data: ${this.gotBackend})`);
        if (this.clientGone || (this.abandoned && this.abandoned === stream())) return;
        const podStays = h.tracker.isReady(pod);
        if (!this.gotBackend && isRefusal(error) && podStays) {
          // The pod is there and nothing listens: no other pod would do better. The client
          // learns it at once, as from a closed port on its own machine. (A pod that is
          // going away refuses too: that connection is retried on the next pod below.)
          h.stats.refused++;
          h.stats.lastRefusal = refusalMessage(h.remotePort, pod);
          h.stats.lastPod = pod;
          h.setRefusing(true);
          sock.resetAndDestroy();
          return;
        }
        if (!this.gotBackend && this.replay && error && !(podStays && isAppReset(error))) {
          // Never reached the pod (it is going away): try again, on the next pod if there is one.
          h.stats.retried++;
          h.stats.lastError = `${pod}: ${error.trim()}`;
          this.tunnel = undefined;
          void sleep(backoff.next(), this.ctl.signal).then((ok) => {
            if (ok) void this.connect();
          });
          return;
        }
        if (error && !this.gotBackend) {
          // The app took the connection and reset it before answering: its answer, passed on
          // as it is (never replayed: the app has seen the request).
          h.fail(`${pod}: ${error.trim()}`);
          sock.resetAndDestroy();
          return;
        }
        if (error) h.fail(`${pod}: ${error.trim()}`);
        // A killed container's socket may close with a FIN instead of a reset, and the kubelet
        // then reports nothing: a clean end from a pod that is going away was still cut.
        // (Its deletion reaches the pod watch before the kill reaches this stream.)
        else if (!h.tracker.isReady(pod)) h.fail(`${pod}: the connection ended as the pod went away`);
        sock.end();
      },
    };
  }
}
