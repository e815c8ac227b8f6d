// `envserve render`: the Kubernetes YAML for the cloud exposures, ready for `kubectl apply -f -`.
import type { Command } from 'commander';
import { renderManifests } from '../../apply/k8s/manifests.js';
import { planFromFile } from '../../envfile/from-file.js';
import { addClusterOptions, clusterPlanFromFlags, denialsError, type ClusterFlags } from '../cluster-options.js';
import { printWarnings, toYaml } from '../output.js';
import { NO_LOGIN_DIRECT } from '../../policy/cluster-plan.js';

export function registerRender(program: Command): void {
  const cmd = program
    .command('render')
    .description('print the Kubernetes objects (Deployment, Services, Ingresses) for the env file')
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .option('-n, --namespace <namespace>', 'the namespace of the objects', 'default')
    .option('--name <name>', "the environment's name (default: the env file's directory name)")
    .option('--load-root <dir>', "the folder load() may read under (default: the env file's folder)");
  addClusterOptions(cmd).action((opts: { file: string; namespace: string; name?: string; loadRoot?: string } & ClusterFlags) => {
    const filePlan = planFromFile(opts.file, {
      ...(opts.name !== undefined && { envName: opts.name }),
      ...(opts.loadRoot !== undefined && { loadRoot: opts.loadRoot }),
    });
    printWarnings(filePlan.warnings);
    // Issue 22: render's objects go to kubectl apply, where nothing checks a login.
    const cp = clusterPlanFromFlags(filePlan, opts.namespace, opts, process.env, NO_LOGIN_DIRECT);
    if (cp.denials.length > 0) throw denialsError(cp);
    const plan = cp.plan;
    const objects = renderManifests(plan, { namespace: opts.namespace });
    if (objects.length === 0) {
      process.stderr.write('note: the env file declares no Kubernetes Service or Ingress, and build() names no image\n');
      return;
    }
    process.stdout.write(objects.map((o) => toYaml(o)).join('---\n'));
  });
}
