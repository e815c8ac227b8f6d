// The processes an environment runs, derived from its spec: Jupyter and RStudio when configured,
// then the daemons. Every runtime starts the same list (as child processes, or in a container).
import type { EnvSpec } from './types.js';

export interface EnvProcess {
  name: string;
  argv: string[];
  /** False for `runtime.daemon(..., restart=False)`: left down when it exits. */
  restart: boolean;
}

/** `asRoot`: the processes run as root, where Jupyter refuses to start without --allow-root. */
export function environmentProcesses(env: EnvSpec, opts: { listenAddress: string; asRoot?: boolean }): EnvProcess[] {
  const out: EnvProcess[] = [];
  if (env.jupyter) {
    const argv = ['jupyter', 'lab', '--no-browser', `--ip=${opts.listenAddress}`, `--port=${env.jupyter.port}`];
    if (env.jupyter.passwordHash) {
      // The hash only: Jupyter checks passwords against it; the password is never on a command line.
      argv.push(`--PasswordIdentityProvider.hashed_password=${env.jupyter.passwordHash}`, '--IdentityProvider.token=');
    }
    if (opts.asRoot) argv.push('--allow-root');
    out.push({ name: 'jupyter', argv, restart: true });
  }
  if (env.rstudio) out.push({ name: 'rstudio', argv: ['rstudio-server', 'start', `--www-port=${env.rstudio.port}`], restart: true });
  env.daemons.forEach((argv, i) => out.push({ name: `daemon-${i + 1}`, argv: [...argv], restart: !env.noRestart?.includes(i) }));
  return out;
}

/**
 * A container's command: a small sh script that starts every environment process in the
 * background (skipping, with a message, those the image does not have), stops them all on
 * SIGTERM (sh as PID 1 would otherwise ignore it and the engine would wait for its timeout),
 * and then waits — or execs the env's entrypoint.
 * `restart` (docker `up`, whose container has a restart policy): the script exits with the status
 * of the first process to end that may be restarted, so the engine restarts the container.
 */
export function containerCommand(env: EnvSpec, opts: { restart?: boolean } = {}): string[] {
  // Many images run as root.
  const procs = environmentProcesses(env, { listenAddress: '0.0.0.0', asRoot: true });
  const lines = [`trap 'kill $pids 2>/dev/null; exit 0' TERM INT`, 'pids=', ...(opts.restart ? ['watch='] : [])];
  for (const p of procs) {
    const cmd = shellQuote(p.argv[0]!);
    const watched = opts.restart && p.restart && !env.entrypoint?.length ? ' watch="$watch $!";' : '';
    lines.push(
      `if command -v ${cmd} >/dev/null 2>&1; then ${p.argv.map(shellQuote).join(' ')} & pids="$pids $!";${watched} ` +
        `else echo ${shellQuote(`envserve: ${p.argv[0]} is not installed in this image (${p.name} not started)`)} >&2; fi`,
    );
  }
  if (env.entrypoint?.length) lines.push(`exec ${env.entrypoint.map(shellQuote).join(' ')}`);
  else {
    // POSIX sh has no `wait -n`: look every second; `wait $!` (a sleep) lets the TERM trap run at once.
    if (opts.restart) lines.push('while [ -n "$watch" ]; do for p in $watch; do kill -0 $p 2>/dev/null || { wait $p; exit $?; }; done; sleep 1 & wait $!; done');
    lines.push('[ -n "$pids" ] && wait');
    // nothing (left) to wait for: stay up so the environment can still be entered and served
    lines.push('while :; do sleep 3600 & wait $!; done');
  }
  return ['/bin/sh', '-c', lines.join('\n')];
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
