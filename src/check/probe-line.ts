// The one line `envserve probe --json` prints and `check` reads back from the debug pod's log.
// No imports beyond types: the CLI loads it without the Kubernetes client.
import type { ProbeOutcome } from './probes.js';

/** How the result line starts (the log may hold other lines). */
export const RESULT_PREFIX = '{"envserveProbe":';

/** The one line `envserve probe --json` prints. */
export function formatProbeLine(results: ProbeOutcome[]): string {
  return `${RESULT_PREFIX}1,"results":${JSON.stringify(results)}}`;
}

/** The results in a pod log, or undefined when the log holds no result line. */
export function parseProbeLog(log: string): ProbeOutcome[] | undefined {
  const line = log.split('\n').reverse().find((l) => l.startsWith(RESULT_PREFIX));
  if (!line) return undefined;
  try {
    const j = JSON.parse(line) as { results?: ProbeOutcome[] };
    return Array.isArray(j.results) ? j.results : undefined;
  } catch {
    return undefined;
  }
}

