// `envserve check`: why an exposure does not answer, found from the API objects, from this
// machine, through the API server and from inside the cluster. Exit 0: every exposure answers
// (skipped checks and "login required" included); 1: a problem was found; 2: bad input.
import { Option, type Command } from 'commander';
import { UserError } from '../../errors.js';
import { formatReport } from '../../check/report.js';
import { printData } from '../output.js';

interface Opts {
  file: string;
  name?: string;
  runtime?: 'local' | 'docker' | 'k8s';
  output: 'table' | 'json' | 'yaml';
  target?: string;
  port?: string;
  host?: string;
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  debugPod: boolean;
  debugImage?: string;
  fallbackImage?: string;
  failedOnly?: boolean;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description("find out why an exposure does not answer: the cluster's objects, and probes from here, the API server and inside the cluster")
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .option('--name <name>', "the environment's name (default: the env file's directory name)")
    .addOption(new Option('--runtime <runtime>', 'where the environment runs (default: what envserve up records, else from the exposures)').choices(['local', 'docker', 'k8s']))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'))
    .option('--target <target>', 'k8s:<namespace>/<deployment|pod|service|ingress|httproute>/<name>: check a workload (or a route) that has no env file (with -f: the workload the env file\'s exposures reach, as serve --target)')
    .option('--port <port>', 'with --target: the container port (deployment/pod) or the Service port (service)')
    .option('--host <host>', 'with --target: the host name users type for the Ingress')
    .option('--context <name>', 'the kubeconfig context (default: the current one)')
    .option('-n, --namespace <namespace>', "the namespace (default: the context's, else default)")
    .option('--kubeconfig <path>', 'the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--no-debug-pod', 'do not start the short-lived debug pod (no probes from inside the cluster)')
    .option('--debug-image <image>', "the debug pod's image (an envserve image; default $ENVSERVE_DEBUG_IMAGE or ghcr.io/envserve/envserve:<version>)")
    .option('--fallback-image <image>', "when the node cannot pull the debug image: a busybox image for a minimal probe (wget, nc; default $ENVSERVE_FALLBACK_IMAGE or docker.io/library/busybox:1.36)")
    .option('--failed-only', 'table: show only the checks that did not pass')
    .action(async function (this: Command, opts: Opts) {
      // -f given together with --target: the env file's exposures, reaching that workload.
      const withFile = this.getOptionValueSource('file') === 'cli';
      if (opts.port !== undefined && !/^\d+$/.test(opts.port)) throw new UserError(`--port ${JSON.stringify(opts.port)} is not a port number`);
      if ((opts.port !== undefined || opts.host !== undefined) && (opts.target === undefined || withFile)) throw new UserError('--port and --host go with --target', 'with an env file, check reads the ports and hosts from it');
      // Loaded on demand: the Kubernetes client is heavy, and every other command would pay for it.
      const { runCheck } = await import('../../check/run.js');
      const report = await runCheck({
        ...((opts.target === undefined || withFile) && { file: opts.file }),
        ...(opts.name !== undefined && { name: opts.name }),
        ...(opts.runtime !== undefined && { runtime: opts.runtime }),
        ...(opts.target !== undefined && { target: opts.target }),
        ...(opts.port !== undefined && { port: Number(opts.port) }),
        ...(opts.host !== undefined && { host: opts.host }),
        ...(opts.context !== undefined && { context: opts.context }),
        ...(opts.namespace !== undefined && { namespace: opts.namespace }),
        ...(opts.kubeconfig !== undefined && { kubeconfig: opts.kubeconfig }),
        debugPod: opts.debugPod,
        ...(opts.debugImage !== undefined && { debugImage: opts.debugImage }),
        ...(opts.fallbackImage !== undefined && { fallbackImage: opts.fallbackImage }),
      });
      if (opts.output === 'table') process.stdout.write(formatReport(report, !opts.failedOnly));
      else printData(opts.output, report);
      process.exitCode = report.ok ? 0 : 1;
    });
}
