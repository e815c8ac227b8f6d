// `envserve status`: what `up`/`serve` (in another terminal) runs — asked on its control socket,
// or read from the state record when that process is gone (then marked STALE, exit 1).
// `--all`: every environment envserve runs on this machine.
import type { Command } from 'commander';
import { RuntimeFailure, UserError } from '../../errors.js';
import { ControlClient } from '../../engine/control.js';
import { staleReason } from '../../engine/down.js';
import { envFileOf, listStates, StateStore, type StateRecord } from '../../engine/state.js';
import { formatStatus } from '../../status/format.js';
import type { EnvStatus } from '../../status/types.js';
import { outputOption, printData, type OutputFormat } from '../output.js';

/** The freshest status of a recorded environment: probed now by its process, else the record's last one. */
export async function currentStatus(rec: StateRecord): Promise<EnvStatus> {
  const stale = staleReason(rec);
  if (stale) return { ...rec.status, stale };
  if (rec.controlSocket) {
    const c = new ControlClient(rec.controlSocket, 3000);
    let now: EnvStatus;
    try {
      now = await c.status();
    } catch (e) {
      // Its socket takes the connection and nothing answers: the process is stopped (SIGSTOP, a
      // laptop lid, Ctrl-Z) or hung, and forwards nothing meanwhile: its record is not the truth.
      if ((e as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
        return { ...rec.status, stale: `envserve (pid ${rec.pid}) does not answer on its control socket: stopped (SIGSTOP, Ctrl-Z) or hung, so nothing is forwarded; its last recorded status follows` };
      }
      return rec.status; // no control socket yet: starting up
    }
    try {
      // A user asks: probe now rather than show a result up to 30 s old (probes back off while
      // nothing changes). Probes of the same backend are shared, so this stays cheap.
      return await c.probeNow();
    } catch {
      return now; // starting up (no probe yet), or busy
    }
  }
  return rec.status;
}

/** --env: the env file of a recorded environment, by env id or name. */
export function resolveEnv(idOrName: string): string {
  let file: string | undefined;
  try {
    file = envFileOf(idOrName);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (!file) throw new RuntimeFailure(`no environment ${JSON.stringify(idOrName)} is recorded on this machine`, 'envserve status --all lists them', 'NotRunning');
  return file;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show what envserve up/serve runs for the env file: each exposure, its URL, whether it answers (--all: every environment)')
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .option('--all', 'every environment envserve runs (or left behind) on this machine')
    .option('--env <id-or-name>', 'the environment by its env id or name (see status --all) instead of -f')
    .addOption(outputOption())
    .action(async (opts: { file: string; all?: boolean; env?: string; output: OutputFormat }) => {
      if (opts.env !== undefined) opts.file = resolveEnv(opts.env);
      if (opts.all) {
        const items = await Promise.all(listStates().map(currentStatus));
        if (opts.output === 'table') {
          if (items.length === 0) process.stdout.write('no environment is running\n');
          process.stdout.write(items.map((s) => formatStatus(s, s.stale ? { stale: s.stale } : {})).join('\n'));
        } else printData(opts.output, { apiVersion: 'envserve/v1', kind: 'StatusList', items });
        if (items.some((s) => s.stale)) process.exitCode = 1;
        return;
      }
      const rec = new StateStore(opts.file).read();
      if (!rec) throw new RuntimeFailure(`nothing is running for ${opts.file}`, `start it with envserve up -f ${opts.file}`, 'NotRunning');
      const s = await currentStatus(rec);
      if (opts.output === 'table') process.stdout.write(formatStatus(s, s.stale ? { stale: s.stale } : {}));
      else printData(opts.output, s);
      if (s.stale) process.exitCode = 1;
    });
}
