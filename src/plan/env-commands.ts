// The processes an environment runs, derived from its spec: Jupyter and RStudio when configured,
// then the daemons. Every runtime starts the same list (as child processes, or in a container).
import type { EnvSpec } from './types.js';

export interface EnvProcess {
  name: string;
  argv: string[];
}

export function environmentProcesses(env: EnvSpec, opts: { listenAddress: string }): EnvProcess[] {
  const out: EnvProcess[] = [];
  if (env.jupyter) {
    const argv = ['jupyter', 'lab', '--no-browser', `--ip=${opts.listenAddress}`, `--port=${env.jupyter.port}`];
    if (env.jupyter.passwordHash) {
      // The hash only: Jupyter checks passwords against it; the password is never on a command line.
      argv.push(`--PasswordIdentityProvider.hashed_password=${env.jupyter.passwordHash}`, '--IdentityProvider.token=');
    }
    out.push({ name: 'jupyter', argv });
  }
  if (env.rstudio) out.push({ name: 'rstudio', argv: ['rstudio-server', 'start', `--www-port=${env.rstudio.port}`] });
  env.daemons.forEach((argv, i) => out.push({ name: `daemon-${i + 1}`, argv: [...argv] }));
  return out;
}

/** One shell command that runs every process and waits: a container's command when there is no supervisor. */
export function shellCommandFor(processes: EnvProcess[]): string[] | undefined {
  if (processes.length === 0) return undefined;
  const quoted = processes.map((p) => p.argv.map(shellQuote).join(' '));
  return ['/bin/sh', '-c', `${quoted.join(' & ')} & wait`];
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
