// The intents the env-file builtins record and the planner consumes. They live with the plan
// (the model) so the data flows one way: envfile imports plan, plan never imports envfile.
import type { AccessLevel, EnvSpec, JupyterSpec, Protocol, ServiceType } from './types.js';

/** The environment as build() describes it: the plan's EnvSpec before naming, with where Jupyter and RStudio were declared. */
export type EnvDraft = Omit<EnvSpec, 'name' | 'services' | 'jupyter' | 'rstudio'> & {
  jupyter?: JupyterSpec & { position: string };
  rstudio?: { port: number; position: string };
};

/** An environment build() said nothing about yet. */
export function emptyEnvDraft(): EnvDraft {
  return { base: {}, packages: { python: [], apt: [], r: [], conda: [] }, daemons: [], commands: {}, environment: {}, extraPath: [], copies: [] };
}

/** `cloud.k8s.ingress(...)`, attached to a Service binding. */
export interface IngressIntent {
  host: string;
  path: string;
  className?: string;
  tlsSecret?: string;
  annotations: Record<string, string>;
  position: string;
}

/** `cloud.k8s.route(...)`, attached to a Service binding. */
export interface RouteIntent {
  host: string;
  path: string;
  gateway?: { namespace: string; name: string; sectionName?: string };
  https?: boolean;
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
      /** `websocket=`: whether the app needs WebSocket upgrades. */
      websocket?: boolean;
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
      /** `access=`: who may open this Service's URLs. */
      access?: AccessLevel;
      route?: RouteIntent;
      /** `route=False`: no automatic HTTPRoute; `route=True`: one even for a service not known as HTTP. */
      autoRoute?: boolean;
      protocol?: Protocol;
      name?: string;
      websocket?: boolean;
    };
