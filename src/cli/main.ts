// The command line: parse argv, call the library, print, and turn errors into exit codes.
// Exit codes: 0 ok, 1 failure while running, 2 invalid input or usage.
import { Command, CommanderError } from 'commander';
import { RuntimeFailure, UserError } from '../errors.js';
import { commands } from './commands/index.js';
import { VERSION } from '../version.js';
import { exitCodeFor } from './exit-codes.js';

export async function main(argv: string[]): Promise<number> {
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
