// The state record: what a running `up`/`serve` leaves on disk so that another process — `status`,
// `down`, the dashboard — can find it, talk to it, or clean up after it was killed (even SIGKILL):
//
//   $ENVSERVE_STATE_DIR | $XDG_STATE_HOME/envserve | ~/.local/state/envserve
//     <envId>.json    this record (mode 0600, written atomically, only when it changes)
//     <envId>.sock    the control socket of the running envserve (src/engine/control.ts)
//     <envId>.logs/   logs of the local runtime's processes
//
// envId = <env file's directory name>-<12 hex of sha256(absolute env file path)>.
// For Kubernetes it records the cluster (server, context, namespace, kubeconfig *path*) and every
// object envserve created, so `down -f FILE` needs no flags or KUBECONFIG. Never credentials.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ClusterRecord, OwnedObject } from '../status/records.js';
import type { ContainerRecord, EnvIdentity, EnvStatus, ProcessRecord } from '../status/types.js';

export function stateDir(env: NodeJS.ProcessEnv = process.env, homeOf: () => string | undefined = homeDir): string {
  if (env.ENVSERVE_STATE_DIR) return env.ENVSERVE_STATE_DIR;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'envserve');
  const home = homeOf();
  // Neither $HOME nor a passwd entry (a container run with an arbitrary uid): the user's own
  // folder in the temp dir, where sockets that do not fit go too (socketPathFor).
  return home ? join(home, '.local', 'state', 'envserve') : join(tmpdir(), `envserve-${uid()}`, 'state');
}

/** $HOME, else the passwd entry's; undefined when there is neither (os.homedir() throws then). */
function homeDir(): string | undefined {
  try {
    return homedir() || undefined;
  } catch {
    return undefined;
  }
}

const uid = (): number => (typeof process.getuid === 'function' ? process.getuid() : 0);

/** The environment's id on this machine: stable for one env file path. */
export function envIdFor(envFile: string): string {
  const abs = resolve(envFile);
  const safeName = abs.split('/').slice(-2, -1)[0]?.replace(/[^A-Za-z0-9_.-]/g, '_') || 'env';
  return `${safeName}-${createHash('sha256').update(abs).digest('hex').slice(0, 12)}`;
}

/** A listener envserve holds for an exposure (a proxy, a port-forward). */
export interface ForwardRecord {
  id: string;
  address: string;
  port: number;
}

export interface StateRecord extends EnvIdentity {
  apiVersion: 'envserve/v1';
  kind: 'EnvState';
  /** Where that process serves its control channel. */
  controlSocket: string;
  cluster?: ClusterRecord;
  owned: OwnedObject[];
  processes: ProcessRecord[];
  container?: ContainerRecord;
  forwards: ForwardRecord[];
  /**
   * Set when envserve stopped cleanly but left owned objects behind on purpose (`serve` keeps its
   * Services and Ingresses until `envserve down`): the record stays so `down` can find them.
   */
  stoppedAt?: string;
  /** The last status it reported (what `status` shows when the process is gone). */
  status: EnvStatus;
}

/** Unix socket paths are limited to 107 bytes: a long state dir gets its socket in the temp dir. */
export function socketPathFor(dir: string, envId: string): string {
  const p = join(dir, `${envId}.sock`);
  if (Buffer.byteLength(p) <= 100) return p;
  return join(tmpdir(), `envserve-${uid()}`, `${createHash('sha256').update(p).digest('hex').slice(0, 16)}.sock`);
}

export class StateStore {
  readonly envId: string;
  readonly path: string;
  readonly logDir: string;
  readonly socketPath: string;
  private last = '';

  constructor(envFile: string, readonly dir = stateDir()) {
    this.envId = envIdFor(envFile);
    this.path = join(dir, `${this.envId}.json`);
    this.logDir = join(dir, `${this.envId}.logs`);
    this.socketPath = socketPathFor(dir, this.envId);
  }

  /** Writes if different from what this store wrote last; returns whether it wrote. */
  write(rec: StateRecord): boolean {
    const text = `${JSON.stringify(rec, null, 2)}\n`;
    if (text === this.last) return false;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.path);
    this.last = text;
    return true;
  }

  read(): StateRecord | undefined {
    return readRecord(this.path);
  }

  remove(): void {
    rmSync(this.path, { force: true });
    this.last = '';
  }
}

function readRecord(path: string): StateRecord | undefined {
  try {
    const rec = JSON.parse(readFileSync(path, 'utf8')) as StateRecord;
    return rec && rec.kind === 'EnvState' ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** Every environment envserve runs (or ran and left a record of) on this machine: `status --all`. */
export function listStates(dir = stateDir()): StateRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => readRecord(join(dir, n)))
    .filter((r): r is StateRecord => r !== undefined)
    .sort((a, b) => a.envId.localeCompare(b.envId));
}

/**
 * The env file of a recorded environment named by its env id or its name (`--env`), for `status`
 * and `down` without -f. Undefined when none matches; throws when a name is ambiguous.
 */
export function envFileOf(idOrName: string, dir = stateDir()): string | undefined {
  const all = listStates(dir);
  const byId = all.find((r) => r.envId === idOrName);
  if (byId) return byId.envFile;
  const named = all.filter((r) => r.envName === idOrName);
  if (named.length > 1) throw new Error(`several environments are named ${idOrName}: ${named.map((r) => r.envId).join(', ')} (give the env id)`);
  return named[0]?.envFile;
}
