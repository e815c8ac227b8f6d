// What the env-file builtins record while build() and serve() run: typed intents, nothing more.
// No builtin talks to a runtime; the planner turns these records into a Plan.
import type { EnvSpec, JupyterSpec, PlanWarning, Protocol, ServiceType } from '../plan/types.js';

/** The environment as build() describes it: the plan's EnvSpec before naming, with where Jupyter and RStudio were declared. */
export type EnvDraft = Omit<EnvSpec, 'name' | 'services' | 'jupyter' | 'rstudio'> & {
  jupyter?: JupyterSpec & { position: string };
  rstudio?: { port: number; position: string };
};

/** `cloud.k8s.ingress(...)`, attached to a Service binding. */
export interface IngressIntent {
  host: string;
  path: string;
  className?: string;
  tlsSecret?: string;
  annotations: Record<string, string>;
  position: string;
}

/** One exposure call, with the name of the builtin that declared it (for messages). */
export type ExposureIntent =
  | {
      via: 'host.bind' | 'runtime.expose';
      position: string;
      envPort: number;
      hostPort: number;
      listenAddress: string;
      protocol?: Protocol;
      name?: string;
    }
  | {
      via: 'cloud.k8s.bind';
      position: string;
      envPort: number;
      /** A port-forward when set (and no service type). */
      hostPort?: number;
      listenAddress?: string;
      serviceType?: ServiceType;
      servicePort?: number;
      nodePort?: number;
      ingress?: IngressIntent;
      /** `ingress=False`: no automatic Ingress; `ingress=True`: one even for a service not known as HTTP. */
      autoIngress?: boolean;
      protocol?: Protocol;
      name?: string;
    };

export class Recorder {
  readonly env: EnvDraft = {
    base: {},
    packages: { python: [], apt: [], r: [], conda: [] },
    daemons: [],
    commands: {},
    environment: {},
    extraPath: [],
    copies: [],
  };
  readonly exposures: ExposureIntent[] = [];
  readonly warnings: PlanWarning[] = [];
  private readonly warned = new Set<string>();

  warn(message: string, position?: string): void {
    // The same typo used twice warns once per place, and the same place warns once.
    const key = `${position ?? ''}\n${message}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warnings.push(position === undefined ? { message } : { message, position });
  }
}
