// `envserve down`: stop and remove what `up`/`serve` started for the env file — by asking that
// envserve to stop, or, after a crash, from the state file (processes, the container).
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { down, removeLabelledContainers } from '../../apply/down.js';
import { StatusStore } from '../../status/store.js';
import { planFromFile } from '../../plan/from-file.js';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('stop everything envserve up/serve started for the env file (also after a crash)')
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .option('--runtime <runtime>', 'k8s: also delete every Kubernetes object envserve owns for the environment (listed by label), and wait until gone')
    .option('--name <name>', "the environment's name (default: the env file's directory name)")
    .option('--context <name>', 'k8s: the kubeconfig context')
    .option('-n, --namespace <namespace>', 'k8s: the namespace')
    .option('--kubeconfig <path>', 'k8s: the kubeconfig file')
    .action(async (opts: { file: string; runtime?: string; name?: string; context?: string; namespace?: string; kubeconfig?: string }) => {
      const store = new StatusStore(opts.file);
      const log = (l: string) => process.stdout.write(`${l}\n`);
      const k8s = opts.runtime === 'k8s' || store.read()?.runtime === 'k8s';
      const had = await down(store, log);
      const leftovers = await removeLabelledContainers(resolve(opts.file), log);
      let removed = 0;
      if (k8s) {
        const plan = planFromFile(opts.file, opts.name !== undefined ? { envName: opts.name } : {});
        const { downK8s } = await import('../../apply/k8s/runtime.js');
        const objs = await downK8s({ ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}), ...(opts.context ? { context: opts.context } : {}), ...(opts.namespace ? { namespace: opts.namespace } : {}) }, plan.env.name);
        for (const o of objs) log(`deleted ${o.kind.toLowerCase()} ${o.metadata.namespace}/${o.metadata.name}`);
        removed = objs.length;
      }
      log(had || leftovers || removed ? 'down: nothing left running' : `nothing was running for ${opts.file}`);
    });
}
