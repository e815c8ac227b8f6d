// The port-forward sessions of one owner: one multiplexed SPDY session per pod (session.ts),
// shared by every forward to it — over the WebSocket tunnel, else (an API server older than 1.31,
// gate off) straight on an upgraded SPDY connection (upgrade.ts) — and the last fallback, one
// v4.channel.k8s.io WebSocket per connection (tunnel.ts), where neither is offered (a proxy in
// between that passes neither).
// ENVSERVE_PF_PROTOCOL=v4 forces the last fallback; =spdy forbids every fallback; =direct takes
// the upgraded SPDY connection and nothing else.
import type { KubeClient } from '../client.js';
import { Backoff, sleep } from '../../backoff.js';
import { Tunnel, TunnelRefused, type PortStream, type TunnelEvents, type TunnelTarget } from './tunnel.js';
import { SpdySession } from './session.js';

/** After the tunnel was refused where a v4 WebSocket worked, do not ask again for this long. */
const UNSUPPORTED_MS = 5 * 60_000;

const forced = process.env.ENVSERVE_PF_PROTOCOL;

/**
 * The port-forward sessions of one owner (a K8sRuntime, or a PortForwarder on its own): one SPDY
 * session per API server + namespace + pod, shared by every forward to that pod, all closed by
 * close() when the owner stops (no session outlives it, so a stopping envserve exits at once).
 */
export class PortForwardSessions {
  /** Open sessions by API server + namespace + pod. */
  private readonly sessions = new Map<string, Promise<SpdySession>>();
  /** API servers where the tunnel and SPDY were refused but a v4 WebSocket worked, and until when. */
  private readonly unsupported = new Map<string, number>();
  /** API servers where the tunnel was refused but a SPDY upgrade worked, and until when. */
  private readonly direct = new Map<string, number>();
  private closed = false;
  /** Streams opened, by the protocol that carries them (the version matrix's tests read it). */
  readonly opened = { spdy: 0, direct: 0, v4: 0 };
  /**
   * Why the API server gives no answer at all (a link down, a laptop off the network), found when a
   * stream failed to open; undefined once it answers again. `onReachability` runs when it changes.
   */
  unreachable?: string;
  onReachability?: () => void;
  private reachCheck = false;
  private readonly stop = new AbortController();

  /**
   * A stream to `t.port` of pod `t.pod`: on the pod's multiplexed session when the API server offers
   * it, else on a WebSocket of its own. Rejects like Tunnel.open (TunnelRefused for 401/403/404...).
   */
  async openPortStream(client: KubeClient, t: TunnelTarget, ev: TunnelEvents): Promise<PortStream> {
    try {
      const s = await this.openStream(client, t, ev);
      this.setUnreachable(undefined);
      return s;
    } catch (e) {
      if (!(e instanceof TunnelRefused)) this.checkReach(client);
      throw e;
    }
  }

  /**
   * A stream failed to open without an answer from the API server: is it there at all? Asks
   * /version until it answers (capped backoff), so status can say so and says Ready again soon
   * after, without waiting for a client's connection.
   */
  private checkReach(client: KubeClient): void {
    if (this.reachCheck || this.closed) return;
    this.reachCheck = true;
    void (async () => {
      const backoff = new Backoff({ initialMs: 250, maxMs: 2000 });
      while (!this.closed) {
        try {
          await client.requestRaw('/version', { timeoutMs: 3000, signal: this.stop.signal });
          this.setUnreachable(undefined);
          break;
        } catch (e) {
          if (this.closed) break;
          this.setUnreachable((e as Error).message);
        }
        if (!(await sleep(backoff.next(), this.stop.signal))) break;
      }
      this.reachCheck = false;
    })();
  }

  private setUnreachable(why: string | undefined): void {
    if (why === this.unreachable) return;
    const flipped = (why === undefined) !== (this.unreachable === undefined);
    this.unreachable = why;
    if (flipped) this.onReachability?.();
  }

  private async openStream(client: KubeClient, t: TunnelTarget, ev: TunnelEvents): Promise<PortStream> {
    if (!this.spdyWanted(client)) return Tunnel.open(client, t, ev).then((s) => (this.opened.v4++, s));
    let session: SpdySession;
    try {
      session = await this.sessionFor(client, t);
    } catch (e) {
      // Refusals that would refuse a v4 WebSocket alike (auth, no such pod): report as they are.
      if (forced === 'spdy' || forced === 'direct' || (e instanceof TunnelRefused && [401, 403, 404].includes(e.code))) throw e;
      const s = await Tunnel.open(client, t, ev);
      this.unsupported.set(client.server, Date.now() + UNSUPPORTED_MS);
      this.opened.v4++;
      return s;
    }
    if (session.isEnded) return this.openStream(client, t, ev); // went away meanwhile: next session
    this.opened[session.direct ? 'direct' : 'spdy']++;
    return session.stream(t.port, ev);
  }

  /**
   * Opens the session to a pod ahead of its first connection (the forward calls this when its
   * workload moves to a new pod), so that connection does not wait for the WebSocket handshake.
   * Nothing reaches the pod until a stream is opened.
   */
  warm(client: KubeClient, t: { namespace: string; pod: string }): void {
    if (this.spdyWanted(client)) this.sessionFor(client, t).catch(() => undefined);
  }

  /** Closes every session; their open streams end. Later streams get sessions of their own again. */
  close(): void {
    this.closed = true;
    this.stop.abort();
    for (const p of this.sessions.values()) p.then((s) => s.shutdown(), () => undefined);
    this.sessions.clear();
  }

  private spdyWanted(client: KubeClient): boolean {
    return !this.closed && forced !== 'v4' && (this.unsupported.get(client.server) ?? 0) <= Date.now();
  }

  /** The WebSocket tunnel; where it is refused, the SPDY upgrade (remembered for the server a while). */
  private async openSession(client: KubeClient, t: { namespace: string; pod: string }): Promise<SpdySession> {
    if (forced === 'direct' || (this.direct.get(client.server) ?? 0) > Date.now()) return SpdySession.open(client, t, true);
    try {
      return await SpdySession.open(client, t);
    } catch (e) {
      if (forced === 'spdy' || (e instanceof TunnelRefused && [401, 403, 404].includes(e.code))) throw e;
      const s = await SpdySession.open(client, t, true);
      this.direct.set(client.server, Date.now() + UNSUPPORTED_MS);
      return s;
    }
  }

  private sessionFor(client: KubeClient, t: { namespace: string; pod: string }): Promise<SpdySession> {
    const key = `${client.server} ${t.namespace} ${t.pod}`;
    let p = this.sessions.get(key);
    if (!p) {
      const q = this.openSession(client, t);
      q.then(
        (s) => s.onEnd(() => this.sessions.get(key) === q && this.sessions.delete(key)),
        () => this.sessions.get(key) === q && this.sessions.delete(key),
      );
      this.sessions.set(key, q);
      p = q;
    }
    return p;
  }
}
