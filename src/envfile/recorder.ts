// What the env-file builtins record while build() and serve() run: typed intents, nothing more.
// No builtin talks to a runtime; the planner turns these records into a Plan.
import { emptyEnvDraft, type EnvDraft, type ExposureIntent } from '../plan/intents.js';
import type { PlanWarning } from '../plan/types.js';
import { MAX_MESSAGE, safeText } from '../errors.js';

export class Recorder {
  readonly env: EnvDraft = emptyEnvDraft();
  readonly exposures: ExposureIntent[] = [];
  readonly warnings: PlanWarning[] = [];
  private readonly warned = new Set<string>();

  warn(message: string, position?: string): void {
    // The same typo used twice warns once per place, and the same place warns once.
    const key = `${position ?? ''}\n${message}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    // A warning quotes names from the file: bounded as errors are (secrets masked, then cut).
    const text = safeText(message, MAX_MESSAGE);
    this.warnings.push(position === undefined ? { message: text } : { message: text, position });
  }
}
