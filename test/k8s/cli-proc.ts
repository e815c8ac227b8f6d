// The real CLI as a child process (bin/envserve.js → dist/) with EXACTLY the given environment
// (plus PATH), for tests of what it does without KUBECONFIG or ~/.kube and for a long-running
// `serve` they signal (SIGSTOP, SIGTERM). test/local/cli-helpers.ts's startCli adds process.env
// instead: use that one where the caller's environment may leak in.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { sleep } from './cluster.js';

export const BIN = resolve('bin/envserve.js');

export interface Cli {
  proc: ChildProcess;
  out: () => string;
  waitFor: (re: RegExp, ms?: number) => Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

/** The real CLI with exactly `vars` as its environment (plus PATH), in `cwd`. */
export function cli(args: string[], vars: Record<string, string>, cwd = process.cwd()): Cli {
  const proc = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    out: () => out,
    exited,
    waitFor: async (re, ms = 60_000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = out.match(re);
        if (m) return m;
        if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`did not see ${re} (exit ${proc.exitCode}):\n${out}`);
        await sleep(50);
      }
    },
  };
}

export async function run(args: string[], vars: Record<string, string>, cwd?: string): Promise<{ code: number | null; out: string }> {
  const c = cli(args, vars, cwd);
  const code = await c.exited;
  return { code, out: c.out() };
}
