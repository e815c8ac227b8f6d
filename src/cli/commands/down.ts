// `envserve down`: stop and remove what `up`/`serve` started for the env file, from any shell: the
// state record says where (processes, the container, the Kubernetes cluster and namespace), so no
// flags or KUBECONFIG are needed. Without a record, `--runtime k8s` still removes every object
// envserve owns for the environment in the cluster the flags name.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { down, removeLabelledContainers } from '../../engine/down.js';
import { StateStore } from '../../engine/state.js';
import { planFromFile } from '../../envfile/from-file.js';
import { resolveEnv } from './status.js';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('stop everything envserve up/serve started for the env file (also after a crash)')
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .option('--runtime <runtime>', 'k8s: with no state record, delete every Kubernetes object envserve owns for the environment (listed by label) in the cluster the flags name')
    .option('--name <name>', "the environment's name (default: the env file's directory name)")
    .option('--context <name>', 'k8s, with no state record: the kubeconfig context')
    .option('-n, --namespace <namespace>', 'k8s, with no state record: the namespace')
    .option('--kubeconfig <path>', 'k8s, with no state record: the kubeconfig file')
    .option('--env <id-or-name>', 'the environment by its env id or name (see status --all) instead of -f')
    .option('--timeout <seconds>', 'how long a running envserve may take to stop before it is killed (default 30, Kubernetes 150)')
    .action(async (opts: { file: string; env?: string; runtime?: string; name?: string; context?: string; namespace?: string; kubeconfig?: string; timeout?: string }) => {
      if (opts.env !== undefined) opts.file = resolveEnv(opts.env);
      const store = new StateStore(opts.file);
      const log = (l: string) => process.stdout.write(`${l}\n`);
      const had = await down(store, log, opts.timeout !== undefined ? { timeoutMs: Number(opts.timeout) * 1000 } : {});
      const leftovers = await removeLabelledContainers(resolve(opts.file), log);
      let removed = 0;
      if (!had && opts.runtime === 'k8s') {
        const plan = planFromFile(opts.file, opts.name !== undefined ? { envName: opts.name } : {});
        const { downK8s } = await import('../../apply/k8s/remove.js');
        const objs = await downK8s({ ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}), ...(opts.context ? { context: opts.context } : {}), ...(opts.namespace ? { namespace: opts.namespace } : {}) }, plan.env.name);
        for (const o of objs) log(`deleted ${o.kind.toLowerCase()} ${o.metadata.namespace}/${o.metadata.name}`);
        removed = objs.length;
      }
      log(had || leftovers || removed ? 'down: nothing left running' : `nothing was running for ${opts.file}`);
    });
}
