// Output helpers shared by commands: machine formats on stdout, warnings on stderr.
import { Option } from 'commander';
import { stringify } from 'yaml';
import type { PlanWarning } from '../plan/types.js';
import { plainYaml } from './yaml-plain.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table');
}

/**
 * YAML that YAML 1.1 readers (kubectl, go-yaml) read back as written: with 1.1 rules, strings
 * such as "y", "on" or "no" are quoted instead of turning into booleans.
 */
export function toYaml(data: unknown): string {
  return plainYaml(data) ?? stringify(data, { version: '1.1' });
}

export function printData(format: Exclude<OutputFormat, 'table'>, data: unknown): void {
  process.stdout.write(format === 'json' ? `${JSON.stringify(data, null, 2)}\n` : toYaml(data));
}

export function printWarnings(warnings: readonly PlanWarning[]): void {
  for (const w of warnings) process.stderr.write(`warning: ${w.position ? `${w.position}: ` : ''}${w.message}\n`);
}

/** Aligned columns; the header is the first row. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
