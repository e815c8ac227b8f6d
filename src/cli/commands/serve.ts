// `envserve serve`: expose the ports of an environment that already runs (this machine's
// services, or a container with --target docker:<name>); starts nothing else.
import type { Command } from 'commander';
import { lifecycleOptions, runForeground, type ForegroundOptions } from './up.js';

export function registerServe(program: Command): void {
  lifecycleOptions(
    program.command('serve').description('expose the ports of an environment that already runs; stays in the foreground (Ctrl-C stops)'),
  )
    .option('--target <target>', 'docker:<container>: proxy to a running container that publishes no ports; k8s:<namespace>/<deployment|pod>/<name>: a running workload')
    .option('--selector <key=value>', 'k8s runtime: the pods with these labels')
    .action((opts: ForegroundOptions) => runForeground('serve', opts));
}
