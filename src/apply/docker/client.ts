// The one place that talks to the Docker Engine API (engine-api.ts is its transport). DOCKER_HOST
// is honoured (unix:// and tcp://), so the same code drives Docker and Podman's Docker-compatible
// API. Only the calls envserve and its tests make are here.
import { RuntimeFailure } from '../../errors.js';
import { call, connectionFor, demuxAll, JsonLines, looksMultiplexed, send, errorOf, type Connection } from './engine-api.js';

export { EngineError } from './engine-api.js';

export const LABEL_MANAGED = 'io.envserve.managed';
export const LABEL_ENV_FILE = 'io.envserve.env-file';
export const LABEL_ENV_NAME = 'io.envserve.env-name';

/** The parts of a container inspect envserve reads. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  RestartCount?: number;
  Config: { Image: string; Labels?: Record<string, string> | null; [k: string]: unknown };
  State: { Status: string; Running: boolean; ExitCode: number; FinishedAt?: string };
  HostConfig: {
    NetworkMode?: string;
    PortBindings?: Record<string, { HostIp: string; HostPort: string }[] | null>;
    RestartPolicy?: { Name?: string; MaximumRetryCount?: number };
    [k: string]: unknown;
  };
  NetworkSettings: {
    IPAddress?: string;
    Ports?: Record<string, { HostIp: string; HostPort: string }[] | null>;
    Networks?: Record<string, { IPAddress?: string }>;
  };
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  State: string;
  Labels?: Record<string, string>;
}

/** A progress event of a pull or an engine event (the fields envserve reads). */
export interface EngineEvent {
  Action?: string;
  timeNano?: number;
  time?: number;
  Actor?: { Attributes?: Record<string, string> };
  error?: string;
  errorDetail?: { message?: string };
}

const enc = encodeURIComponent;

/** A container by id or name; nothing is asked of the engine until a method is called. */
export class Container {
  constructor(private readonly conn: Connection, readonly id: string) {}
  async inspect(): Promise<ContainerInspect> {
    return (await call(this.conn, 'GET', `/containers/${enc(this.id)}/json`)).json as ContainerInspect;
  }
  async start(): Promise<void> {
    await call(this.conn, 'POST', `/containers/${enc(this.id)}/start`, { ok: [304] });
  }
  /** false when it was not running (304). */
  async stop(opts: { t?: number } = {}): Promise<boolean> {
    return (await call(this.conn, 'POST', `/containers/${enc(this.id)}/stop`, { query: { t: opts.t }, ok: [304] })).status !== 304;
  }
  async remove(opts: { force?: boolean; v?: boolean } = {}): Promise<void> {
    await call(this.conn, 'DELETE', `/containers/${enc(this.id)}`, { query: { force: opts.force, v: opts.v } });
  }
  /** The output of the streams asked for, demultiplexed (stdout then stderr when both). */
  async logs(opts: { stdout?: boolean; stderr?: boolean; tail?: number }): Promise<Buffer> {
    const { raw } = await call(this.conn, 'GET', `/containers/${enc(this.id)}/logs`, {
      query: { stdout: opts.stdout ?? true, stderr: opts.stderr ?? false, tail: opts.tail },
    });
    if (!looksMultiplexed(raw)) return raw; // a TTY container's output is not framed
    const d = demuxAll(raw);
    return Buffer.concat([d.stdout, d.stderr]);
  }
  /** Runs a command in the container and waits for it: its output and exit code. */
  async exec(cmd: string[]): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
    const created = (await call(this.conn, 'POST', `/containers/${enc(this.id)}/exec`, {
      body: { Cmd: cmd, AttachStdout: true, AttachStderr: true },
    })).json as { Id: string };
    // The engine answers the start with the process's multiplexed output and closes at its end.
    const { raw } = await call(this.conn, 'POST', `/exec/${enc(created.Id)}/start`, { body: { Detach: false, Tty: false } });
    const out = demuxAll(raw);
    const info = (await call(this.conn, 'GET', `/exec/${enc(created.Id)}/json`)).json as { ExitCode?: number | null };
    return { exitCode: info.ExitCode ?? null, stdout: out.stdout.toString('utf8'), stderr: out.stderr.toString('utf8') };
  }
}

/** `repo[:tag]` or `repo@digest` split as the pull endpoint wants it (a registry may have a port). */
export function repositoryTag(image: string): { fromImage: string; tag: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const colon = image.lastIndexOf(':');
  if (colon > image.lastIndexOf('/')) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: 'latest' };
}

export class DockerEngine {
  readonly conn: Connection;
  constructor(readonly address: string) {
    this.conn = connectionFor(address);
  }
  async ping(): Promise<void> {
    await call(this.conn, 'GET', '/_ping');
  }
  async info(): Promise<Record<string, unknown>> {
    return (await call(this.conn, 'GET', '/info')).json as Record<string, unknown>;
  }
  async listContainers(opts: { all?: boolean; filters?: Record<string, string[]> } = {}): Promise<ContainerSummary[]> {
    return (await call(this.conn, 'GET', '/containers/json', { query: { all: opts.all, filters: opts.filters } })).json as ContainerSummary[];
  }
  getContainer(id: string): Container {
    return new Container(this.conn, id);
  }
  async createContainer(spec: { name?: string; [k: string]: unknown }): Promise<Container> {
    const { name, ...body } = spec;
    const created = (await call(this.conn, 'POST', '/containers/create', { query: { name }, body })).json as { Id: string };
    return new Container(this.conn, created.Id);
  }
  getImage(name: string): { inspect(): Promise<{ Id: string }> } {
    return { inspect: async () => (await call(this.conn, 'GET', `/images/${enc(name)}/json`)).json as { Id: string } };
  }
  /**
   * Pulls an image and waits for the end of the progress stream. The engine reports a failed pull
   * either as an HTTP error (thrown) or inside the stream (Podman): the first such error is returned.
   */
  async pull(image: string): Promise<string | undefined> {
    const { res } = await send(this.conn, 'POST', '/images/create', { query: repositoryTag(image) });
    if ((res.statusCode ?? 0) >= 300) throw await errorOf(res);
    let problem: string | undefined;
    const lines = new JsonLines((o) => {
      const ev = o as EngineEvent;
      if (ev.error && problem === undefined) problem = ev.errorDetail?.message ?? ev.error;
    });
    await new Promise<void>((resolve, reject) => {
      res.on('data', (c: Buffer) => lines.push(c));
      res.once('end', resolve);
      res.once('error', reject);
      res.once('aborted', () => reject(new Error('the engine closed the connection during the pull')));
    });
    lines.end();
    return problem;
  }
  /** Follows the engine's events; returns a function that stops following. */
  async events(filters: Record<string, string[]>, onEvent: (e: EngineEvent) => void): Promise<() => void> {
    const { res, req } = await send(this.conn, 'GET', '/events', { query: { filters } });
    if ((res.statusCode ?? 0) >= 300) throw await errorOf(res);
    const lines = new JsonLines((o) => onEvent(o as EngineEvent));
    res.on('data', (c: Buffer) => lines.push(c));
    res.on('error', () => undefined); // ends when we stop following, or with the engine
    return () => req.destroy();
  }
}

/** The engine address as users know it. */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || 'unix:///var/run/docker.sock';
}

export function dockerClient(engine = engineAddress()): DockerEngine {
  return new DockerEngine(engine);
}

/** Whether the engine's published ports bind on this machine (a local socket), so we can check them. */
export function engineIsLocal(engine = engineAddress()): boolean {
  if (engine.startsWith('unix://') || engine.startsWith('npipe://')) return true;
  try {
    const h = new URL(engine.replace(/^tcp:/, 'http:')).hostname;
    return h === 'localhost' || h.startsWith('127.') || h === '[::1]';
  } catch {
    return false;
  }
}

export async function pingEngine(docker: DockerEngine, engine = engineAddress()): Promise<void> {
  try {
    await docker.ping();
  } catch (e) {
    throw new RuntimeFailure(
      `cannot reach the Docker engine at ${engine}: ${(e as Error).message}`,
      'start Docker (or `podman system service`), or point DOCKER_HOST at a running engine',
    );
  }
}

export function statusCode(e: unknown): number | undefined {
  return (e as { statusCode?: number })?.statusCode;
}

/** Stops (briefly) and removes a container; false if it was already gone. */
export async function removeContainer(id: string, engine?: string): Promise<boolean> {
  const c = dockerClient(engine).getContainer(id);
  try {
    await c.stop({ t: 2 });
  } catch (e) {
    if (statusCode(e) === 404) return false;
    // anything else: remove with force below
  }
  try {
    await c.remove({ force: true, v: true });
    return true;
  } catch (e) {
    if (statusCode(e) === 404) return false;
    throw e;
  }
}
