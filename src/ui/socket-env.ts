// The dashboard for every environment on this machine (`envserve dashboard`): each running
// `up`/`serve` is found by its state record (<state dir>/<envId>.json, which names its control
// socket) and followed through that socket — its status event stream and its actions. The same
// actions as in-process; nothing goes around the engine. `check` runs in this process (runCheck,
// with the listeners of the status the socket streams): the dashboard is already a process apart
// from every engine it shows, and the engine's control socket needs no `check` of its own.
import { watch, type FSWatcher } from 'node:fs';
import { listStates } from '../engine/state.js';
import type { EnvStatus } from '../status/types.js';
import { checkExposure, listenersOf, type CheckTarget } from './check-run.js';
import { resultFor } from './in-process.js';
import type { ActionResult, ClusterInfo, UiAction, UiEnvironment, UiSource } from './types.js';

/** What the dashboard uses of the engine's ControlClient (src/engine/control.ts). */
export interface ControlClientLike {
  status(): Promise<EnvStatus>;
  events(onEvent: (ev: { type: string; status?: EnvStatus }) => void, signal?: AbortSignal): Promise<void>;
  restartExposure(id: string): Promise<EnvStatus>;
  stopExposure(id: string): Promise<EnvStatus>;
  startExposure(id: string): Promise<EnvStatus>;
  probeNow(id?: string): Promise<EnvStatus>;
}

/** The fields of a state record the dashboard reads. */
export interface RecordLike {
  envId: string;
  controlSocket?: string;
  cluster?: ClusterInfo & CheckTarget['cluster'];
  status?: EnvStatus;
}

export interface SocketSourceOptions {
  stateDir: string;
  client: (socketPath: string) => ControlClientLike;
  /** Check for new and gone environments this often, besides watching the folder (default 2 s). */
  rescanMs?: number;
  /** `check` for one exposure; default: probe it now through the socket. */
  check?: (rec: RecordLike, exposureId: string) => Promise<ActionResult>;
}

/** One environment behind a control socket: follows its event stream until it ends. */
class SocketEnvironment implements UiEnvironment {
  readonly key: string;
  private current: EnvStatus | undefined;
  private readonly subs = new Set<(s: EnvStatus) => void>();
  private readonly abort = new AbortController();
  /** Resolves when the event stream ended: the environment stopped or the socket went away. */
  readonly ended: Promise<void>;

  constructor(readonly record: RecordLike, private readonly client: ControlClientLike, private readonly checkFn?: (rec: RecordLike, id: string) => Promise<ActionResult>) {
    this.key = record.envId;
    this.current = record.status;
    this.ended = client
      .events((ev) => {
        if (ev.type !== 'status' || !ev.status) return;
        this.current = ev.status;
        for (const cb of this.subs) cb(ev.status);
      }, this.abort.signal)
      .catch(() => undefined);
  }

  status(): EnvStatus | undefined {
    return this.current;
  }

  subscribe(cb: (s: EnvStatus) => void): () => void {
    this.subs.add(cb);
    return () => this.subs.delete(cb);
  }

  async action(name: UiAction, id: string): Promise<ActionResult> {
    const s = await (name === 'restart' ? this.client.restartExposure(id) : name === 'stop' ? this.client.stopExposure(id) : this.client.startExposure(id));
    return resultFor(s, id);
  }

  check(id: string): Promise<ActionResult> {
    const probe = () => this.client.probeNow(id).then((s) => resultFor(s, id, 'check'));
    if (this.checkFn) return this.checkFn(this.record, id);
    const s = this.current;
    if (!s) return probe();
    return checkExposure({ envFile: s.envFile, envName: s.envName, runtime: s.runtime, ...(this.record.cluster ? { cluster: this.record.cluster } : {}) }, id, listenersOf(s));
  }

  cluster(): ClusterInfo | undefined {
    const c = this.record.cluster;
    return c && { ...(c.server ? { server: c.server } : {}), ...(c.context ? { context: c.context } : {}), ...(c.namespace ? { namespace: c.namespace } : {}) };
  }

  close(): void {
    this.abort.abort();
  }
}

export interface SocketSource extends UiSource {
  /** Scans the state folder now (also done on changes and every rescanMs). */
  rescan(): Promise<void>;
  close(): void;
}

export function socketSource(opts: SocketSourceOptions): SocketSource {
  const envs = new Map<string, SocketEnvironment>();
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const cb of listeners) cb();
  };
  let scanning: Promise<void> | undefined;
  let closed = false;

  // Records being written, or not records, are skipped (listStates).
  const readRecords = (): RecordLike[] => listStates(opts.stateDir).filter((r) => r.envId && r.controlSocket);

  const scan = async () => {
    const records = readRecords();
    let any = false;
    for (const rec of records) {
      if (envs.has(rec.envId) || closed) continue;
      const client = opts.client(rec.controlSocket!);
      let status: EnvStatus;
      try {
        status = await client.status(); // answers: it runs (a stale record's socket does not)
      } catch {
        continue;
      }
      const env = new SocketEnvironment({ ...rec, status }, client, opts.check);
      envs.set(rec.envId, env);
      any = true;
      void env.ended.then(() => {
        if (envs.get(rec.envId) === env) {
          envs.delete(rec.envId);
          changed();
        }
      });
    }
    if (any) changed();
  };
  // A request during a scan runs one more scan after it: that scan may have read the folder early.
  let again = false;
  const rescan = (): Promise<void> => {
    if (scanning) {
      again = true;
      return scanning;
    }
    scanning = (async () => {
      do {
        again = false;
        await scan();
      } while (again && !closed);
    })().finally(() => (scanning = undefined));
    return scanning;
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(opts.stateDir, () => void rescan());
  } catch {
    /* the folder appears with the first environment: the timer finds it */
  }
  const timer = setInterval(() => void rescan(), opts.rescanMs ?? 2000);
  timer.unref();

  return {
    environments: () => [...envs.values()],
    onListChange: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    rescan,
    close: () => {
      closed = true;
      clearInterval(timer);
      watcher?.close();
      for (const e of envs.values()) e.close();
      envs.clear();
    },
  };
}
