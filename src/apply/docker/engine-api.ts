// The Docker Engine API's transport, over node:http: a unix socket (or a Windows named pipe) or
// tcp://, as DOCKER_HOST says. Our own few lines instead of dockerode, whose dependencies (ssh2,
// cpu-features, @grpc/*, protobufjs) brought install scripts and a native build to every install.
// Paths carry no API version: Docker and Podman both serve unversioned paths at their own version.
import http from 'node:http';

/** An answer of the engine outside 2xx: the engine's own message, and its HTTP status. */
export class EngineError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

export type Connection = { socketPath: string } | { host: string; port: number };

/** How to reach the engine at a DOCKER_HOST address (unix://, npipe://, tcp://). */
export function connectionFor(engine: string): Connection {
  if (engine.startsWith('unix://')) return { socketPath: engine.slice('unix://'.length) };
  if (engine.startsWith('npipe://')) return { socketPath: engine.slice('npipe://'.length) };
  const u = new URL(engine.replace(/^tcp:/, 'http:'));
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 2375) };
}

export type Query = Record<string, string | number | boolean | object | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
}

function pathWithQuery(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    q.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Sends one request; resolves with the response once its headers are in (the body unread). */
export function send(conn: Connection, method: string, path: string, opts: RequestOptions = {}): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
  const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = http.request({
      ...conn,
      method,
      path: pathWithQuery(path, opts.query),
      headers: { Host: 'docker', ...(body && { 'Content-Type': 'application/json', 'Content-Length': body.length }) },
    });
    req.on('error', reject); // (after the answer, a late error has nothing left to reject)
    req.once('response', (res) => resolve({ res, req }));
    req.end(body);
  });
}

export function readAll(res: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (c: Buffer) => parts.push(c));
    res.once('end', () => resolve(Buffer.concat(parts)));
    res.once('error', reject);
    res.once('aborted', () => reject(new Error('the engine closed the connection mid-answer')));
  });
}

/** The error for a non-2xx answer: the JSON body's `message` (Docker and Podman), else its text. */
export async function errorOf(res: http.IncomingMessage): Promise<EngineError> {
  const text = (await readAll(res).catch(() => Buffer.alloc(0))).toString('utf8').trim();
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    /* not JSON */
  }
  return new EngineError(res.statusCode ?? 0, message || `HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
}

/**
 * A request whose whole answer is wanted: JSON when it is JSON, else the raw bytes. Statuses in
 * `ok` (e.g. 304 "already stopped") count as success; others outside 2xx throw EngineError.
 */
export async function call(conn: Connection, method: string, path: string, opts: RequestOptions & { ok?: number[] } = {}): Promise<{ status: number; json?: unknown; raw: Buffer }> {
  const { res } = await send(conn, method, path, opts);
  const status = res.statusCode ?? 0;
  if ((status < 200 || status >= 300) && !opts.ok?.includes(status)) throw await errorOf(res);
  const raw = await readAll(res);
  const isJson = /json/i.test(res.headers['content-type'] ?? '') && raw.length > 0;
  return { status, raw, ...(isJson && { json: JSON.parse(raw.toString('utf8')) }) };
}

// ---- stream framings ------------------------------------------------------------------------

/**
 * Splits a stream of JSON objects, one per line (events, pull progress), into objects. A chunk may
 * hold several objects or a part of one; lines that are not JSON are skipped.
 */
export class JsonLines {
  private buf = '';
  constructor(private readonly onObject: (o: unknown) => void) {}
  push(chunk: Buffer | string): void {
    this.buf += chunk.toString();
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      this.emit(this.buf.slice(0, i));
      this.buf = this.buf.slice(i + 1);
    }
  }
  /** The stream ended: a last object without its newline. */
  end(): void {
    this.emit(this.buf);
    this.buf = '';
  }
  private emit(line: string): void {
    if (!line.trim()) return;
    try {
      this.onObject(JSON.parse(line));
    } catch {
      /* not an object */
    }
  }
}

export type StdStream = 'stdout' | 'stderr';

/**
 * The engine's multiplexed stream (logs and exec of a container without a TTY): frames of an
 * 8-byte header — stream (0 stdin, 1 stdout, 2 stderr), three zero bytes, the payload's length as
 * a big-endian uint32 — then the payload. Frames and chunks do not line up: a chunk may end inside
 * a header or a payload.
 */
export class Demuxer {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (stream: StdStream, payload: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const payload = this.pending.subarray(8, 8 + size);
      this.onFrame(this.pending[0] === 2 ? 'stderr' : 'stdout', payload);
      this.pending = this.pending.subarray(8 + size);
    }
  }
  /** Bytes of an unfinished frame left when the stream ended. */
  get leftover(): number {
    return this.pending.length;
  }
}

/** Whether a body starts like a multiplexed stream (a TTY container's output is raw instead). */
export function looksMultiplexed(b: Buffer): boolean {
  return b.length >= 8 && b[0]! <= 2 && b[1] === 0 && b[2] === 0 && b[3] === 0;
}

/** The payload of a whole multiplexed body, per stream. */
export function demuxAll(b: Buffer): Record<StdStream, Buffer> {
  const out: Record<StdStream, Buffer[]> = { stdout: [], stderr: [] };
  const d = new Demuxer((s, p) => out[s].push(p));
  d.push(b);
  return { stdout: Buffer.concat(out.stdout), stderr: Buffer.concat(out.stderr) };
}
