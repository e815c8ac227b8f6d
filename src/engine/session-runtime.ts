// Which runtime a session drives, and building it. The kind follows the target when one is given
// (docker:<container> → docker; k8s:… or a selector → k8s). Runtime modules load on demand:
// the Kubernetes client (~75 MB of RSS) and the Docker client would otherwise sit in the memory of every
// process that imports the engine (the CLI's proxies included).
import { UserError } from '../errors.js';
import { LocalRuntime } from '../apply/local/runtime.js';
import type { TargetSpec } from '../apply/k8s/target.js';
import type { Runtime } from '../apply/types.js';

export type RuntimeKind = 'local' | 'docker' | 'k8s';

export interface RuntimeChoice {
  /** Default 'local'. */
  runtime?: RuntimeKind;
  /** docker:<container>, k8s:<namespace>/<deployment|pod>/<name>, or a parsed Kubernetes target. */
  target?: string | TargetSpec;
  /** Kubernetes pods by label: key=value[,key=value], or the labels. */
  selector?: string | Record<string, string>;
  /** false: processes (local) and the container (docker) stay down when they exit. */
  restart?: boolean;
}

const isK8sTarget = (t: RuntimeChoice['target']) => (typeof t === 'string' ? t.startsWith('k8s:') : t !== undefined);

/** The kind the options mean: a target or a selector decides over the default. */
export function runtimeKind(o: RuntimeChoice): RuntimeKind {
  if (typeof o.target === 'string' && o.target.startsWith('docker:')) return 'docker';
  if ((isK8sTarget(o.target) || o.selector) && (o.runtime ?? 'local') === 'local') return 'k8s';
  return o.runtime ?? 'local';
}

/** Options that cannot go together, found before anything is read or started. */
export function checkRuntimeChoice(o: RuntimeChoice): void {
  if (o.restart === false && (o.runtime === 'k8s' || isK8sTarget(o.target) || o.selector)) {
    throw new UserError('--no-restart applies to the local and docker runtimes', "on Kubernetes the kubelet restarts the pod's containers (restartPolicy: Always)");
  }
}

export interface BuildRuntimeOptions extends RuntimeChoice {
  image?: string;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** The local runtime's process logs. */
  logDir: string;
  log: (line: string) => void;
}

/** `target`: the Kubernetes target k8sTarget() parsed (k8s only). */
export async function buildRuntime(kind: RuntimeKind, o: BuildRuntimeOptions, target?: TargetSpec): Promise<Runtime> {
  const restart = o.restart !== false;
  if (kind === 'k8s') return k8sRuntime(o, target);
  if (kind === 'docker') {
    const { DockerRuntime } = await import('../apply/docker/runtime.js');
    const target = typeof o.target === 'string' ? o.target.replace(/^docker:/, '') : undefined;
    return new DockerRuntime({ ...(o.image ? { image: o.image } : {}), ...(target ? { target } : {}), log: o.log, restart });
  }
  return new LocalRuntime({ logDir: o.logDir, restart });
}

/** The Kubernetes target the options name, if any (parsed; a typo is a UserError). */
export async function k8sTarget(o: RuntimeChoice): Promise<TargetSpec | undefined> {
  const { parseSelector, parseTarget } = await import('../apply/k8s/target.js');
  if (typeof o.target === 'string' && !o.target.startsWith('k8s:')) throw new UserError(`--target ${o.target} is not a Kubernetes target`, 'write it as k8s:<namespace>/deployment/<name> or k8s:<namespace>/pod/<name>');
  if (o.target && o.selector) throw new UserError('give --target or --selector, not both');
  if (o.target) return typeof o.target === 'string' ? parseTarget(o.target) : o.target;
  if (o.selector) return { kind: 'selector', labels: typeof o.selector === 'string' ? parseSelector(o.selector) : o.selector };
  return undefined;
}

async function k8sRuntime(o: BuildRuntimeOptions, target: TargetSpec | undefined): Promise<Runtime> {
  const { K8sRuntime } = await import('../apply/k8s/runtime.js');
  return new K8sRuntime({
    ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
    ...(o.context ? { context: o.context } : {}),
    ...(o.namespace ? { namespace: o.namespace } : {}),
    ...(o.image ? { image: o.image } : {}),
    ...(target ? { target } : {}),
  });
}
