// Who holds a TCP port, from /proc (Linux): /proc/net/tcp{,6} give the listening socket's inode,
// /proc/<pid>/fd/* links "socket:[inode]" name the process. The /proc root is injectable for tests.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TcpListener {
  address: string;
  port: number;
  inode: number;
}

const LISTEN = '0A';

const TABLES = [['tcp', false], ['tcp6', true]] as const;

/** Listening TCP sockets (IPv4 and IPv6). Empty where /proc/net is not there (macOS). */
export function listTcpListeners(procRoot = '/proc'): TcpListener[] {
  return TABLES.flatMap(([file, v6]) => {
    try {
      return parseListeners(readFileSync(join(procRoot, 'net', file), 'utf8'), v6);
    } catch {
      return [];
    }
  });
}

/**
 * The same, read on libuv's thread pool: the kernel prints these files by walking its whole
 * established-connection table (262,144 buckets on a 24 GiB machine: ~4 ms per file, whatever
 * the number of sockets), which a forwarding thread must not wait for.
 */
export async function listTcpListenersAsync(procRoot = '/proc'): Promise<TcpListener[]> {
  const tables = await Promise.all(TABLES.map(([file, v6]) => readFile(join(procRoot, 'net', file), 'utf8').then((t) => parseListeners(t, v6), () => [])));
  return tables.flat();
}

/** At most this often is one /proc's listener table read again for those waiting on a fresh one. */
export const LOOK_INTERVAL_MS = 250;

/**
 * One /proc's listener table, shared by everything of this process that follows a port there (each
 * exposure's target): the tables cost milliseconds to print, so N exposures whose app stopped,
 * each with clients retrying, share one read per LOOK_INTERVAL_MS instead of N, and N exposures
 * starting together share one synchronous first read.
 */
export class ListenerTable {
  private static readonly byRoot = new Map<string, ListenerTable>();
  static of(procRoot = '/proc'): ListenerTable {
    let t = ListenerTable.byRoot.get(procRoot);
    if (!t) ListenerTable.byRoot.set(procRoot, (t = new ListenerTable(procRoot)));
    return t;
  }

  private last: { at: number; listeners: TcpListener[] } | undefined;
  private lastStart = 0;
  private pending: Promise<TcpListener[]> | undefined;

  constructor(
    private readonly procRoot = '/proc',
    private readonly read: (procRoot: string) => Promise<TcpListener[]> = listTcpListenersAsync,
  ) {}

  /** The table as read at most LOOK_INTERVAL_MS ago; read now (synchronously) when older. */
  recent(): TcpListener[] {
    const now = Date.now();
    if (!this.last || now - this.last.at > LOOK_INTERVAL_MS) this.last = { at: now, listeners: listTcpListeners(this.procRoot) };
    return this.last.listeners;
  }

  /**
   * A read that starts after this call, on libuv's thread pool, at most one every
   * LOOK_INTERVAL_MS; everyone who asks before it starts shares it.
   */
  fresh(): Promise<TcpListener[]> {
    if (this.pending) return this.pending;
    const read: Promise<TcpListener[]> = new Promise((r) => setTimeout(r, Math.max(0, this.lastStart + LOOK_INTERVAL_MS - Date.now()))).then(async () => {
      if (this.pending === read) this.pending = undefined; // who asks from now on needs a later read
      const at = (this.lastStart = Date.now());
      const listeners = await this.read(this.procRoot);
      if (!this.last || this.last.at <= at) this.last = { at, listeners };
      return listeners;
    });
    return (this.pending = read);
  }
}

function parseListeners(text: string, v6: boolean): TcpListener[] {
  const out: TcpListener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== LISTEN) continue;
    const [hexAddr, hexPort] = f[1]!.split(':') as [string, string];
    out.push({ address: v6 ? decodeV6(hexAddr) : decodeV4(hexAddr), port: parseInt(hexPort, 16), inode: Number(f[9]) });
  }
  return out;
}

// The kernel prints addresses as host-order 32-bit words: little-endian on the machines we run on.
function decodeV4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
}

function decodeV6(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) {
    return bytes.slice(12).join('.'); // IPv4-mapped
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return compressV6(groups);
}

function compressV6(groups: string[]): string {
  // the longest run of zero groups becomes "::"
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export interface ProcessInfo {
  pid: number;
  command: string;
}

/** The process that owns a socket inode, when /proc lets us see it. */
export function processOfInode(inode: number, procRoot = '/proc'): ProcessInfo | undefined {
  const want = `socket:[${inode}]`;
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(join(procRoot, pid, 'fd'));
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(join(procRoot, pid, 'fd', fd)) === want) {
          return { pid: Number(pid), command: commandOf(Number(pid), procRoot) };
        }
      } catch {
        /* fd closed meanwhile */
      }
    }
  }
  return undefined;
}

export function commandOf(pid: number, procRoot = '/proc'): string {
  try {
    const argv = readFileSync(join(procRoot, String(pid), 'cmdline'), 'utf8').split('\0').filter(Boolean);
    if (argv.length) return argv.join(' ');
  } catch {
    /* gone */
  }
  try {
    return readFileSync(join(procRoot, String(pid), 'comm'), 'utf8').trim();
  } catch {
    return '?';
  }
}

/** /proc/<pid>/stat field 22: start time in clock ticks since boot; undefined if not running (or a zombie). */
export function processStartTime(pid: number, procRoot = '/proc'): number | undefined {
  try {
    const stat = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** Who listens on this port (any address), e.g. "pid 4242 (python3 -m http.server 1234)". */
export function describePortHolder(port: number, procRoot = '/proc'): string | undefined {
  if (!existsSync(join(procRoot, 'net', 'tcp'))) return lsofPortHolder(port);
  for (const l of listTcpListeners(procRoot).filter((l) => l.port === port)) {
    const p = processOfInode(l.inode, procRoot);
    if (p) return `pid ${p.pid} (${p.command})`;
  }
  return undefined;
}

/** Without /proc (macOS): ask lsof, which macOS ships. */
function lsofPortHolder(port: number): string | undefined {
  const r = spawnSync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-Fpc'], { encoding: 'utf8', timeout: 3000 });
  const pid = /^p(\d+)$/m.exec(r.stdout ?? '')?.[1];
  const cmd = /^c(.+)$/m.exec(r.stdout ?? '')?.[1];
  return pid ? `pid ${pid}${cmd ? ` (${cmd})` : ''}` : undefined;
}
