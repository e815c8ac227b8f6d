// `envserve probe`: the prober (src/probe) on its own. The debug pod of `envserve check` runs
// `envserve probe --json --spec '[...]'` inside the cluster and `check` reads its one result line
// from the pod's log — what the prober saw — and classifies it there. Exit 0 when every probe
// answered, 1 otherwise.
import type { Command } from 'commander';
import { UserError } from '../../errors.js';
import type { ProbeSpec } from '../../probe/spec.js';
import { table } from '../output.js';

export function parseProbeSpecs(text: string): ProbeSpec[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`--spec is not JSON: ${(e as Error).message}`, 'pass a JSON array of {"id","host","port","protocol":"tcp"|"http"}');
  }
  const arr = Array.isArray(v) ? v : [v];
  arr.forEach((s, i) => {
    const o = s as Partial<ProbeSpec>;
    if (typeof o !== 'object' || o === null || typeof o.host !== 'string' || !Number.isInteger(o.port) || (o.protocol !== 'tcp' && o.protocol !== 'http')) {
      throw new UserError(`--spec item ${i}: needs "host" (string), "port" (integer) and "protocol" ("tcp" or "http")`);
    }
    if (typeof o.id !== 'string') o.id = `${o.host}:${o.port}`;
  });
  return arr as ProbeSpec[];
}

export function registerProbe(program: Command): void {
  program
    .command('probe')
    .description('probe addresses (TCP, HTTP with a Host header, HTTPS, WebSocket) from where this runs; used by check\'s debug pod')
    .requiredOption('--spec <json>', 'the probes, a JSON array of {"id","host","port","protocol","path?","hostHeader?","tls?","websocket?","via?"}')
    .option('--json', 'print one JSON line (what the debug pod prints)')
    .action(async (opts: { spec: string; json?: boolean }) => {
      const specs = parseProbeSpecs(opts.spec);
      const { formatProbeLine, probeSpec } = await import('../../probe/spec.js');
      const results = await Promise.all(specs.map((s) => probeSpec(s)));
      if (opts.json) process.stdout.write(`${formatProbeLine(results)}\n`);
      else process.stdout.write(table([['ID', 'OK', 'REASON', 'MS', 'DETAIL'], ...results.map((r) => [r.id, r.ok ? 'yes' : 'no', r.reason, String(r.latencyMs ?? ''), r.detail ?? ''])]));
      process.exitCode = results.every((r) => r.ok) ? 0 : 1;
    });
}
