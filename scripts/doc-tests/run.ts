// The doc tests' runner: env files through the real command (`plan`, `render`), and ```console
// blocks command by command against their expected output.
//
// Expected output (as in trycmd): `[..]` in a line matches any text within that line, a line `...`
// matches any number of lines, and a line `[exit N]` says the command exits N (else it must exit 0).
// stdout and stderr are compared together, in the order they were written.
// A command ending in ` &` runs in the background (`envserve up ... &`); the commands after it are
// retried until their output matches (up to 30 s: the environment is starting; `retry` on the block
// does the same without one: the cluster is acting on what the block applied), and at the end of
// the block every background command must have ended (`envserve down` stops it) — its own output
// is then compared with the lines under it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO, where, type Block } from './blocks.js';

export interface Workspace {
  dir: string; // the page's files (file= blocks) and the commands' working directory
  env: NodeJS.ProcessEnv;
}

/** A fresh folder with an `envserve` on PATH that runs this checkout (bin/envserve.js → dist/). */
export function newWorkspace(extraEnv: NodeJS.ProcessEnv = {}): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-doc-'));
  const bin = join(dir, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'envserve'), `#!/bin/sh\nexec "${process.execPath}" "${REPO}bin/envserve.js" "$@"\n`);
  chmodSync(join(bin, 'envserve'), 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, ENVSERVE_STATE_DIR: join(dir, '.state'), NO_COLOR: '1', ...extraEnv };
  delete env.ENVSERVE_INGRESS_DOMAIN;
  return { dir, env };
}

/** A `fragment=build|serve` block is the body of that function, run inside a minimal file. */
export function envFileText(b: Block): string {
  const indent = (s: string) => s.replace(/^(?=.)/gm, '    ');
  if (b.tags.fragment === 'serve') return `def build():\n    base(os="ubuntu20.04", language="python")\n\ndef serve():\n${indent(b.body)}`;
  if (b.tags.fragment === 'build') return `def build():\n${indent(b.body)}`;
  if (b.tags.fragment !== undefined) throw new Error(`${where(b)}: fragment= is build or serve, got "${b.tags.fragment}"`);
  return b.body;
}

/** Writes a file= block into the workspace (later blocks of the page use it). */
export function writeBlockFile(ws: Workspace, b: Block): string {
  const name = b.tags.file || ('envd' in b.tags ? `block-${b.line}/build.envd` : `block-${b.line}.yaml`);
  const path = join(ws.dir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, 'envd' in b.tags ? envFileText(b) : b.body);
  return path;
}

function run(ws: Workspace, cwd: string, args: string[]): { code: number; out: string } {
  const r = spawnSync('bash', ['-c', 'exec 2>&1; exec "$@"', 'bash', ...args], { cwd, env: ws.env, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: r.stdout };
}

/** Problems with an env-file block: `plan` (and `render` when tagged) must exit as the block says. */
export function checkEnvd(ws: Workspace, b: Block): string[] {
  const path = writeBlockFile(ws, b);
  const want = Number(b.tags.exit ?? 0);
  const problems: string[] = [];
  const cmds = [['plan', '-o', 'json'], ...('render' in b.tags ? [['render']] : [])];
  for (const c of cmds) {
    const r = run(ws, dirname(path), ['envserve', ...c, '-f', path]);
    if (r.code !== want) problems.push(`${where(b)}: envserve ${c[0]} of this env file exited ${r.code}, the doc says ${want}:\n${r.out}`);
  }
  return problems;
}

/** An ExposurePolicy block: `plan --policy` of a minimal file must read it without complaint. */
export function checkPolicy(ws: Workspace, b: Block): string[] {
  const path = writeBlockFile(ws, b);
  const envd = join(ws.dir, '.policy-check', 'build.envd');
  mkdirSync(dirname(envd), { recursive: true });
  writeFileSync(envd, 'def build():\n    base(os="ubuntu20.04", language="python")\n\ndef serve():\n    cloud.k8s.bind(env_port=8888, host_port=8888)\n');
  const r = run(ws, ws.dir, ['envserve', 'plan', '-f', envd, '--policy', path]);
  return r.code === 0 ? [] : [`${where(b)}: envserve plan --policy with this policy exited ${r.code}:\n${r.out}`];
}

export interface Step {
  cmd: string;
  expected: string[];
  exit: number;
  background: boolean;
}

export function parseConsole(body: string): Step[] {
  const steps: Step[] = [];
  for (const line of body.replace(/\n$/, '').split('\n')) {
    if (line.startsWith('$ ')) {
      const cmd = line.slice(2).trim();
      steps.push({ cmd: cmd.replace(/\s*&$/, ''), expected: [], exit: 0, background: /\s&$/.test(cmd) });
      continue;
    }
    const s = steps.at(-1);
    if (!s) throw new Error(`a console block starts with output, not a "$ " command: ${line}`);
    const exit = /^\[exit (\d+)\]$/.exec(line);
    if (exit) s.exit = Number(exit[1]);
    else s.expected.push(line);
  }
  return steps;
}

/** trycmd's matching: `[..]` within a line, `...` for any lines; trailing spaces never count, and a run of spaces is one (tables realign with other ports). */
export function outputMatches(expected: string[], actual: string): boolean {
  const squeeze = (l: string) => l.trimEnd().replace(/ {2,}/g, ' ');
  const got = actual.replace(/\n$/, '').split('\n').map(squeeze);
  if (actual === '') got.length = 0;
  const lineRe = (l: string) => new RegExp('^' + squeeze(l).split('[..]').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  const pats = expected.map((l) => (l === '...' ? null : lineRe(l)));
  const memo = new Map<string, boolean>();
  const at = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    if (memo.has(key)) return memo.get(key)!;
    let ok: boolean;
    if (i === pats.length) ok = j === got.length;
    else if (pats[i] === null) ok = at(i + 1, j) || (j < got.length && at(i, j + 1));
    else ok = j < got.length && pats[i]!.test(got[j]!) && at(i + 1, j + 1);
    memo.set(key, ok);
    return ok;
  };
  return at(0, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A wait that does not keep the process alive once the test is done. */
const timeout = (ms: number) => new Promise<null>((r) => setTimeout(() => r(null), ms).unref());

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * `ports=1234,8888`: the example's fixed ports, replaced by free ones in its files, commands and
 * expected output (other tests and other checkouts on the machine may hold the fixed ones).
 * `copy=examples/local`: that folder of the repo is copied into the workspace first.
 */
async function prepare(ws: Workspace, b: Block): Promise<(s: string) => string> {
  const map = new Map<string, string>();
  for (const p of (b.tags.ports ?? '').split(',').filter(Boolean)) map.set(p, String(await freePort()));
  const sub = (s: string) => [...map].reduce((acc, [from, to]) => acc.replace(new RegExp(`\\b${from}\\b`, 'g'), to), s);
  const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name.startsWith('.') ? [] : files(join(dir, e.name))) : [join(dir, e.name)]));
  // images="public=local,...": the test cluster pulls from no registry; its node has local images.
  const images = (b.tags.images ?? '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]);
  if (b.tags.copy) cpSync(join(REPO, b.tags.copy), join(ws.dir, b.tags.copy), { recursive: true });
  if (map.size > 0 || images.length > 0) {
    for (const f of files(ws.dir)) writeFileSync(f, images.reduce((acc, [from, to]) => acc.replaceAll(from, to), sub(readFileSync(f, 'utf8'))));
  }
  return sub;
}

/** Runs a console block; returns its problems (none: the block is what the docs say). */
export async function checkConsole(ws: Workspace, b: Block, opts: { retryMs?: number; endMs?: number } = {}): Promise<string[]> {
  const cwd = b.tags.cwd === 'repo' ? REPO : ws.dir;
  const sub = await prepare(ws, b);
  const steps = parseConsole(sub(b.body));
  const bg: { step: Step; child: ChildProcess; out: string; exited: Promise<number> }[] = [];
  const problems: string[] = [];
  try {
    for (const step of steps) {
      if (step.background) {
        const child = spawn('bash', ['-c', `exec 2>&1; exec ${step.cmd}`], { cwd, env: ws.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        const entry = { step, child, out: '', exited: new Promise<number>((r) => child.on('close', (c, s) => r(c ?? (s ? 128 : -1)))) };
        child.stdout!.on('data', (d) => (entry.out += d));
        bg.push(entry);
        continue;
      }
      const deadline = Date.now() + (bg.length > 0 || 'retry' in b.tags ? (opts.retryMs ?? 30_000) : 0);
      for (;;) {
        const r = run(ws, cwd, ['bash', '-c', step.cmd]);
        if (r.code === step.exit && outputMatches(step.expected, r.out)) break;
        if (Date.now() >= deadline) {
          problems.push(`${where(b)}: \`${step.cmd}\` exited ${r.code} (the doc says ${step.exit}) and printed:\n${r.out}\n--- the doc expects:\n${step.expected.join('\n')}`);
          return problems;
        }
        await sleep(500);
      }
    }
    for (const e of bg) {
      const code = await Promise.race([e.exited, timeout(opts.endMs ?? 20_000)]);
      if (code === null) problems.push(`${where(b)}: \`${e.step.cmd}\` still ran at the end of the example (stop it in the example, e.g. with envserve down)`);
      else if (code !== e.step.exit || !outputMatches(e.step.expected, e.out)) {
        problems.push(`${where(b)}: \`${e.step.cmd}\` (in the background) exited ${code} (the doc says ${e.step.exit}) and printed:\n${e.out}\n--- the doc expects:\n${e.step.expected.join('\n')}`);
      }
    }
  } finally {
    for (const e of bg) if (e.child.exitCode === null && e.child.signalCode === null) killGroup(e.child);
  }
  return problems;
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
