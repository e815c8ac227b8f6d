// Kubernetes objects for a plan: a Deployment for the environment (when build() names an image),
// a Service per k8s-service exposure and an Ingress per k8s-ingress exposure. Pure functions:
// `envserve render` prints them, and the Kubernetes runtime applies the very same objects.
import { containerCommand, environmentProcesses } from '../../plan/env-commands.js';
import { UserError } from '../../errors.js';
import { fitName, isDns1123Label, NAME_RULES } from '../../plan/k8s-names.js';
import type { Exposure, K8sIngressExposure, K8sRouteExposure, K8sServiceExposure, Plan } from '../../plan/types.js';

export const MANAGED_BY = 'envserve';
export const LABEL_ENV = 'envserve.dev/env';
export const LABEL_EXPOSURE = 'envserve.dev/exposure';
/** On what the operator creates for an ExposureSet (its name): the operator's, not the CLI's. */
export const LABEL_EXPOSURE_SET = 'envserve.dev/exposure-set';
export const ANNOTATION_SOURCE = 'envserve.dev/source';

export interface ManifestOptions {
  namespace: string;
  /** Pods the Services select (default: the pods of the Deployment envserve creates). */
  selector?: Record<string, string>;
  /** The image when build() names none (`up --image`); build()'s `base(image=)` wins. */
  image?: string;
  /** false when envserve attaches to an existing workload (--target/--selector): no Deployment. */
  deployment?: boolean;
}

type Obj = Record<string, unknown>;

export function ownerLabels(envName: string, exposureId?: string): Record<string, string> {
  return {
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [LABEL_ENV]: fitName(envName, 63),
    // Label values hold at most 63 characters; a longer id keeps a hash of the whole.
    ...(exposureId !== undefined && { [LABEL_EXPOSURE]: fitName(exposureId, 63) }),
  };
}

/**
 * A DNS-1035 label (what Service names must be): lowercase, starts with a letter, at most 63
 * chars. A longer name is shortened with a hash of the whole, so two long names never collide.
 */
export function objectName(...parts: string[]): string {
  const raw = parts.join('-').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-');
  const name = raw.replace(/^[^a-z]+/, '').replace(/-+$/, '');
  return fitName(name || 'envserve', 63);
}

export function serviceName(plan: Plan, e: K8sServiceExposure): string {
  return objectName(plan.env.name, e.id.replace(/^service-/, ''));
}

export function ingressName(plan: Plan, e: K8sIngressExposure): string {
  return objectName(plan.env.name, e.id.replace(/^ingress-/, ''));
}

export function renderManifests(plan: Plan, opts: ManifestOptions): Obj[] {
  if (!isDns1123Label(opts.namespace)) {
    throw new UserError(`namespace ${JSON.stringify(opts.namespace)} is not a valid Kubernetes namespace`, `a namespace is ${NAME_RULES.label}`);
  }
  const objects: Obj[] = [];
  const selector = opts.selector ?? { [LABEL_ENV]: fitName(plan.env.name, 63) };
  const deployment = opts.deployment === false ? undefined : renderDeployment(plan, opts.namespace, opts.image);
  if (deployment) objects.push(deployment);
  for (const e of plan.exposures) {
    if (e.kind === 'k8s-service') objects.push(renderService(plan, e, opts.namespace, selector));
    else if (e.kind === 'k8s-ingress') objects.push(renderIngress(plan, e, opts.namespace));
    else if (e.kind === 'k8s-route') objects.push(renderRoute(plan, e, opts.namespace));
  }
  return objects;
}

function metadata(plan: Plan, name: string, namespace: string, exposureId?: string): Obj {
  return {
    name,
    namespace,
    labels: ownerLabels(plan.env.name, exposureId),
    annotations: { [ANNOTATION_SOURCE]: plan.source },
  };
}

/** Every port the environment listens on: its services and every exposed env port. */
function containerPorts(plan: Plan): number[] {
  const ports = new Set<number>(plan.env.services.map((s) => s.port));
  for (const e of plan.exposures as Exposure[]) if (e.kind !== 'k8s-ingress' && e.kind !== 'k8s-route') ports.add(e.envPort);
  return [...ports].filter((p) => Number.isInteger(p) && p > 0 && p <= 65535).sort((a, b) => a - b);
}

export function renderDeployment(plan: Plan, namespace: string, defaultImage?: string): Obj | undefined {
  const image = plan.env.base.image ?? defaultImage;
  if (!image) return undefined;
  const name = objectName(plan.env.name);
  const labels = { [LABEL_ENV]: fitName(plan.env.name, 63) };
  // Nothing to start and no entrypoint: the image's own command runs.
  const runs = plan.env.entrypoint?.length || environmentProcesses(plan.env, { listenAddress: '0.0.0.0' }).length > 0;
  const command = runs ? containerCommand(plan.env) : undefined;
  const env = Object.entries(plan.env.environment).map(([k, v]) => ({ name: k, value: v }));
  const container: Obj = {
    name: 'env',
    image,
    ...(command && { command }),
    ports: containerPorts(plan).map((p) => ({ containerPort: p, protocol: 'TCP' })),
    ...(env.length > 0 && { env }),
    // Ready means "the first service accepts connections", so a port-forward or a Service never
    // sends users to a pod whose Jupyter is still starting.
    ...(plan.env.services[0] && { readinessProbe: { tcpSocket: { port: plan.env.services[0].port }, periodSeconds: 2 } }),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(plan, name, namespace),
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: { ...ownerLabels(plan.env.name) } },
        spec: { containers: [container] },
      },
    },
  };
}

export function renderService(plan: Plan, e: K8sServiceExposure, namespace: string, selector: Record<string, string>): Obj {
  const port: Obj = {
    name: e.protocol === 'http' ? 'http' : 'tcp',
    protocol: 'TCP',
    port: e.servicePort,
    targetPort: e.envPort,
    ...(e.nodePort !== undefined && { nodePort: e.nodePort }),
  };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(plan, serviceName(plan, e), namespace, e.id),
    spec: { type: e.serviceType, selector, ports: [port] },
  };
}

const serviceIndex = new WeakMap<Plan, Map<string, K8sServiceExposure>>();

/** The plan's Services by id (built once per plan: rendering stays linear in the exposures). */
function servicesOf(plan: Plan): Map<string, K8sServiceExposure> {
  let m = serviceIndex.get(plan);
  if (!m) {
    m = new Map();
    for (const x of plan.exposures) if (x.kind === 'k8s-service') m.set(x.id, x);
    serviceIndex.set(plan, m);
  }
  return m;
}

export function renderIngress(plan: Plan, e: K8sIngressExposure, namespace: string): Obj {
  const service = servicesOf(plan).get(e.serviceId);
  if (!service) throw new Error(`ingress ${e.id} refers to unknown service exposure ${e.serviceId}`);
  const meta = metadata(plan, ingressName(plan, e), namespace, e.id);
  if (e.annotations) meta.annotations = { ...(meta.annotations as Obj), ...e.annotations };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta,
    spec: {
      ...(e.className !== undefined && { ingressClassName: e.className }),
      ...(e.tlsSecret !== undefined && { tls: [{ hosts: [e.host], secretName: e.tlsSecret }] }),
      rules: [
        {
          host: e.host,
          http: {
            paths: [
              {
                path: e.path,
                pathType: 'Prefix',
                backend: { service: { name: serviceName(plan, service), port: { number: e.servicePort } } },
              },
            ],
          },
        },
      ],
    },
  };
}

// ---------------------------------------------------------------- HTTPRoute (Gateway API)
// Its readers (paths, the URL, the watcher) live in route*.ts.
export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const ROUTE_API_VERSION = `${GATEWAY_GROUP}/v1`;

export function routeName(plan: Plan, e: K8sRouteExposure): string {
  return objectName(plan.env.name, e.id.replace(/^route-/, ''));
}

export function renderRoute(plan: Plan, e: K8sRouteExposure, namespace: string): Obj {
  const service = plan.exposures.find((x): x is K8sServiceExposure => x.kind === 'k8s-service' && x.id === e.serviceId);
  if (!service) throw new Error(`route ${e.id} refers to unknown service exposure ${e.serviceId}`);
  if (!e.gateway) {
    throw new UserError(
      `${e.declaredBy} at ${e.position}: the HTTPRoute for ${e.host} names no Gateway`,
      'give gateway="namespace/name" in cloud.k8s.route(...), pass --gateway namespace/name, or ask ops for an ExposurePolicy with httpRoute.gateways',
      'InvalidInput',
    );
  }
  const g = e.gateway;
  return {
    apiVersion: ROUTE_API_VERSION,
    kind: 'HTTPRoute',
    metadata: { name: routeName(plan, e), namespace, labels: ownerLabels(plan.env.name, e.id), annotations: { [ANNOTATION_SOURCE]: plan.source } },
    spec: {
      parentRefs: [{ group: GATEWAY_GROUP, kind: 'Gateway', namespace: g.namespace, name: g.name, ...(g.sectionName !== undefined && { sectionName: g.sectionName }) }],
      hostnames: [e.host],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: e.path } }],
          backendRefs: [{ group: '', kind: 'Service', name: serviceName(plan, service), port: e.servicePort }],
        },
      ],
    },
  };
}

