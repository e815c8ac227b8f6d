// The command line: parse argv, call the library, print, and turn errors into exit codes.
// Exit codes: 0 ok, 1 failure while running, 2 invalid input or usage.
import { Command, CommanderError } from 'commander';
import { RuntimeFailure, UserError } from '../errors.js';
import { commands } from './commands/index.js';
import { VERSION } from '../version.js';
import { exitCodeFor } from './exit-codes.js';

export async function main(argv: string[]): Promise<number> {
  guardOutput();
  const program = new Command('envserve')
    .description('Expose the services of a development environment described by a build.envd file.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError('(run envserve --help for usage)');
  for (const register of commands) register(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}

/** Prints an error the way users should see it and returns its exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) return exitCodeFor(err);
  if (err instanceof UserError || err instanceof RuntimeFailure) {
    process.stderr.write(`envserve: ${err.format()}\n`.replace(/^envserve: (\S+:\d+:\d+: )/, '$1'));
    return exitCodeFor(err);
  }
  const e = err as Error;
  process.stderr.write(`envserve: internal error (this is a bug): ${e?.stack ?? String(err)}\n`);
  return 1;
}

/**
 * A closed pipe (`envserve plan | head`) or a full disk on stdout ends the command quietly with
 * exit code 1 — never an unhandled 'error' stack trace. A full disk says so on stderr.
 */
function guardOutput(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') {
      const why = err.code === 'ENOSPC' ? 'no space left on device' : (err.code ?? err.message);
      try {
        process.stderr.write(`envserve: cannot write the output: ${why}\n`);
      } catch {
        // stderr is gone too: nothing more to say
      }
    }
    process.exit(1);
  });
}
