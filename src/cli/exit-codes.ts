// Exit codes, decided here from the error's reason code (errors never carry one):
//   0 ok, 1 failure while running, 2 invalid input or usage (nothing was changed).
import { CommanderError } from 'commander';
import { RuntimeFailure, UserError } from '../errors.js';
import type { ReasonCode } from '../reasons.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Reasons that mean "the input must change" (the file, a flag, a permission, a taken port). */
const USAGE_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'InvalidInput', 'PortInUse', 'Forbidden', 'NotOwned', 'NotFound', 'NoUrl', 'NoPods', 'CommandNotFound', 'AlreadyRunning', 'ProcessNotInstalled', 'PolicyDenied', 'PolicyConflict',
]);

export function exitCodeForReason(reason: ReasonCode): number {
  return USAGE_REASONS.has(reason) ? EXIT_USAGE : EXIT_FAILURE;
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE; // --help/--version end here with 0
  if (err instanceof UserError || err instanceof RuntimeFailure) return exitCodeForReason(err.reason);
  return EXIT_FAILURE; // a bug
}
