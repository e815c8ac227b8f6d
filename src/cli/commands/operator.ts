// `envserve operator`: run the in-cluster controller and its HTTP API; `envserve operator
// manifests`: print what installs it (or, with --user-role, what a user needs).
// The Kubernetes client and the operator load only when one of these commands runs, so the rest of
// the CLI starts as fast as before.
import { Option, type Command } from 'commander';
import { RuntimeFailure, UserError } from '../../errors.js';
import { planFromFile } from '../../envfile/from-file.js';
import { printWarnings, toYaml } from '../output.js';

const kube = () => import('../../apply/k8s/client.js');

export function registerOperator(program: Command): void {
  const op = program
    .command('operator')
    .description('run the envserve operator: it reconciles ExposureSets under ExposurePolicies and serves the HTTP API')
    .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, ~/.kube/config, then the pod\'s service account)')
    .option('--context <name>', 'kubeconfig context')
    .option('--listen <addr:port>', 'the HTTP API\'s address (the manifests use 0.0.0.0:8080)', '127.0.0.1:8080')
    .option('--concurrency <n>', 'ExposureSets reconciled at once', '4')
    .option('--lease-namespace <namespace>', 'the namespace of the leader-election Lease (default: POD_NAMESPACE, else envserve-system)')
    .option('--log-writes', 'log every write the controller sends to the API server')
    .option('--login-listen <addr:port>', 'run the login gateway on this address (the manifests use 0.0.0.0:8081); without it, URLs that need a login are refused')
    .option('--login-recheck <seconds>', 'how often the login gateway checks open connections again', '15')
    .addOption(new Option('--login-check <where>', 'who checks each request to a login-level Ingress: the gateway, or Traefik itself (envserve\'s plugin, traefik-plugin/) with the gateway deciding the rest').choices(['gateway', 'traefik']).default('gateway'))
    .action(async (opts: { kubeconfig?: string; context?: string; listen: string; concurrency: string; leaseNamespace?: string; logWrites?: boolean; loginListen?: string; loginRecheck: string; loginCheck: 'gateway' | 'traefik' }) => {
      const m = /^(.*):(\d+)$/.exec(opts.listen);
      if (!m) throw new UserError(`--listen must be ADDRESS:PORT, got "${opts.listen}"`);
      const lm = opts.loginListen === undefined ? undefined : /^(.*):(\d+)$/.exec(opts.loginListen);
      if (lm === null) throw new UserError(`--login-listen must be ADDRESS:PORT, got "${opts.loginListen}"`);
      const recheckS = Number(opts.loginRecheck);
      if (!(recheckS >= 1 && recheckS <= 30)) throw new UserError(`--login-recheck must be 1 to 30 seconds, got "${opts.loginRecheck}"`);
      const { explainKubeError, loadKubeClient } = await kube();
      const { createApiServer, listenAddress } = await import('../../operator/api.js');
      const { waitForCrds, whileApiServerAway, Operator } = await import('../../operator/controller.js');
      const { leaderElector } = await import('../../operator/identity.js');
      const client = loadKubeClient({ ...(opts.kubeconfig && { kubeconfig: opts.kubeconfig }), ...(opts.context && { context: opts.context }) });
      const log = (level: string, msg: string) => process.stderr.write(`${new Date().toISOString()} ${level} ${msg}\n`);
      const ac = new AbortController();
      let version;
      try {
        version = await waitForCrds(client, { log, signal: ac.signal });
      } catch (e) {
        throw explainKubeError(e, 'checking the envserve CRDs');
      }
      if (version.skew) log('warn', `version skew: ${version.skew}`);
      // Replicas elect a leader with a Lease: only it reconciles, every replica serves the HTTP API.
      const { leader, fieldManager } = leaderElector(client, { log, ...(opts.leaseNamespace && { namespace: opts.leaseNamespace }) });
      // The login gateway (issue 22): every replica serves it, in the operator's namespace.
      const { LOGIN_SERVICE, LOGIN_SERVICE_PORT } = await import('../../operator/login/ingress.js');
      const ownNs = opts.leaseNamespace ?? (process.env.POD_NAMESPACE || 'envserve-system');
      if (opts.loginCheck === 'traefik' && !lm) throw new UserError('--login-check traefik needs the login gateway (--login-listen): it decides every request the check does not let through');
      let traefik: { gatewayUrl: string } | undefined;
      if (opts.loginCheck === 'traefik') {
        const { traefikGatewayUrl } = await import('../../operator/login/traefik-check.js');
        traefik = { gatewayUrl: await whileApiServerAway(() => traefikGatewayUrl(client, ownNs, LOGIN_SERVICE), { log, signal: ac.signal, definite: (e) => e instanceof UserError }) };
      }
      const loginGateway = lm ? { namespace: ownNs, service: LOGIN_SERVICE, port: LOGIN_SERVICE_PORT, ...(traefik && { traefik }) } : undefined;
      const operator = new Operator(client, { concurrency: Number(opts.concurrency) || 4, log, leader, fieldManager, logWrites: opts.logWrites === true, ...(loginGateway && { loginGateway }) });
      let gw: import('../../operator/login/serve.js').LoginGatewayServer | undefined;
      if (lm) {
        const { startLoginGateway } = await import('../../operator/login/serve.js');
        gw = await startLoginGateway(client, { namespace: ownNs, listen: { host: lm[1]!.replace(/^\[|\]$/g, ''), port: Number(lm[2]) }, setUid: (ns, name) => operator.sets.get(`${ns}/${name}`)?.metadata.uid, recheckMs: recheckS * 1000, passes: traefik !== undefined, log });
        operator.on('set', () => gw!.setsChanged());
        log('info', `login gateway on port ${gw.port}`);
      }
      const server = createApiServer({ client, operator, version });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(new UserError(`cannot listen on ${opts.listen}: ${e.message}`)));
        server.listen(Number(m[2]), m[1]!.replace(/^\[|\]$/g, ''), resolve);
      });
      log('info', `envserve operator ${version.version} (${client.source}, server ${client.server}): HTTP API on http://${listenAddress(server)}`);
      const stop = () => {
        log('info', 'stopping');
        ac.abort();
        void gw?.close();
        server.close();
        server.closeAllConnections();
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      await operator.run(ac.signal);
      client.close();
    });

  op.command('manifests')
    .description('print the CRDs, RBAC, Deployment and Service that install the operator, for kubectl apply -f -')
    .option('-n, --namespace <namespace>', "the operator's namespace", 'envserve-system')
    .option('--image <image>', "the operator's image (default: the published ghcr.io/envserve/envserve:<version>)")
    .addOption(new Option('--image-pull-policy <policy>', "the operator container's imagePullPolicy (Never for an image imported into the nodes)").choices(['Always', 'IfNotPresent', 'Never']))
    .addOption(new Option('--login-check <where>', 'who checks requests to login-level Ingresses: the gateway, or Traefik with envserve\'s plugin (docs/sharing.md)').choices(['gateway', 'traefik']).default('gateway'))
    .option('--user-role', 'print instead what a user needs: the envserve-user ClusterRole and port-forward rights to the operator')
    .option('--user <name>', 'with --user-role: also bind the roles to this user (or system:serviceaccount:NS:NAME)')
    .option('--user-namespace <namespace>', 'with --user: the namespace where the user\'s environments live', 'default')
    .action(async (opts: { namespace: string; image?: string; imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never'; userRole?: boolean; user?: string; userNamespace: string; loginCheck: 'gateway' | 'traefik' }) => {
      const { operatorManifests, userRoleManifests } = await import('../../operator/manifests.js');
      if (opts.user && !opts.userRole) throw new UserError('--user goes with --user-role');
      const objects = opts.userRole
        ? userRoleManifests({ namespace: opts.namespace, ...(opts.user && { user: opts.user, userNamespace: opts.userNamespace }) })
        : operatorManifests({ namespace: opts.namespace, ...(opts.image && { image: opts.image }), ...(opts.imagePullPolicy && { imagePullPolicy: opts.imagePullPolicy }), loginCheck: loginCheckOf(opts, op) });
      process.stdout.write(objects.map((o) => toYaml(o)).join('---\n'));
    });

  op.command('submit')
    .description('submit the env file\'s cluster exposures to the operator as an ExposureSet and wait until they are Ready or denied')
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .option('--name <name>', "the environment's name (default: the env file's directory name)")
    .option('-n, --namespace <namespace>', 'the namespace (default: the kubeconfig context\'s)')
    .option('--selector <k=v,...>', "the pods the Services select (default: envserve.dev/env=<name>)")
    .option('--kubeconfig <file>', 'kubeconfig')
    .option('--context <name>', 'kubeconfig context')
    .option('--timeout <seconds>', 'how long to wait for Ready', '120')
    .action(async (_local: unknown, cmd: Command) => {
      // With globals: `operator` itself takes --kubeconfig/--context, and commander gives an option
      // both define to the parent, also when it is written after `submit`.
      const opts = cmd.optsWithGlobals<{ file: string; name?: string; namespace?: string; selector?: string; kubeconfig?: string; context?: string; timeout: string }>();
      const plan = planFromFile(opts.file, opts.name !== undefined ? { envName: opts.name } : {});
      printWarnings(plan.warnings);
      const { explainKubeError, loadKubeClient } = await kube();
      const { parseSelector } = await import('../../apply/k8s/target.js');
      const { denialLines, operatorInstalled, serveThroughOperator, versionSkew } = await import('../../operator/client/cli-client.js');
      const client = loadKubeClient({ ...(opts.kubeconfig && { kubeconfig: opts.kubeconfig }), ...(opts.context && { context: opts.context }), ...(opts.namespace && { namespace: opts.namespace }) });
      try {
        if (!(await operatorInstalled(client))) throw new UserError('this cluster has no envserve operator (the envserve.dev CRDs are not installed)', 'ask ops to install it (envserve operator manifests), or expose directly: envserve serve --runtime k8s');
        const selector = opts.selector ? parseSelector(opts.selector) : undefined;
        const ac = new AbortController();
        process.once('SIGINT', () => ac.abort());
        const { set, verdict: v, localPlan } = await serveThroughOperator(client, plan, client.namespace, { signal: ac.signal, timeoutMs: Number(opts.timeout) * 1000, ...(selector && { selector }) });
        process.stderr.write(`submitted exposureset ${client.namespace}/${set.metadata.name} (generation ${set.metadata.generation})\n`);
        const local = localPlan.exposures.filter((e) => e.kind === 'k8s-port-forward').map((e) => e.id);
        if (local.length) process.stderr.write(`the policy allows these port-forwards from your machine (envserve serve): ${local.join(', ')}\n`);
        if (v.state === 'NoOperator') throw new RuntimeFailure(v.message);
        const skew = versionSkew(v.status);
        if (skew) process.stderr.write(`warning: ${skew}\n`);
        if (v.state === 'Denied') throw new UserError(`the operator denied ${client.namespace}/${set.metadata.name}:\n${denialLines(v.status).map((l) => `  ${l}`).join('\n')}\nnothing was created`);
        for (const e of v.status.exposures ?? []) {
          // A Service without a URL has only in-cluster addresses (its ClusterIP; `<node>:port`).
          const where = e.url ?? `${(e.addresses ?? []).join(' ')}${e.kind === 'k8s-service' && e.addresses?.length ? '  (in-cluster only)' : ''}`;
          process.stdout.write(`${e.id}  ${e.kind}  ${e.reason}  ${where}${e.kind === 'k8s-port-forward' ? '  (run envserve serve for the port-forward)' : ''}\n`);
        }
        if (v.state === 'Admitted') throw new RuntimeFailure(`${client.namespace}/${set.metadata.name} was admitted but is not Ready after ${opts.timeout} s (see the reasons above)`, 'kubectl get exposuresets, or envserve check', 'Timeout');
      } catch (e) {
        throw explainKubeError(e, 'submitting to the envserve operator');
      } finally {
        client.close();
      }
    });
}

/** `operator` has the same option, and commander gives it whatever follows `manifests` too. */
function loginCheckOf(opts: { loginCheck: 'gateway' | 'traefik' }, op: Command): 'gateway' | 'traefik' {
  return opts.loginCheck === 'traefik' || op.opts<{ loginCheck?: string }>().loginCheck === 'traefik' ? 'traefik' : 'gateway';
}
