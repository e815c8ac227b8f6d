// The HTTPRoute (Gateway API, gateway.networking.k8s.io/v1) of a k8s-route exposure: its host and
// path prefix to the binding's Service port, attached to one Gateway (and listener, when named).
// Pure: `render` prints it and the Kubernetes runtime and the operator apply the very same object.
import { UserError } from '../../errors.js';
import type { K8sRouteExposure, K8sServiceExposure, Plan } from '../../plan/types.js';
import { ANNOTATION_SOURCE, objectName, ownerLabels, serviceName } from './manifests.js';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const ROUTE_API_VERSION = `${GATEWAY_GROUP}/v1`;
export const ROUTES_PATH = (ns: string) => `/apis/${ROUTE_API_VERSION}/namespaces/${encodeURIComponent(ns)}/httproutes`;
export const GATEWAY_PATH = (ns: string, name: string) => `/apis/${ROUTE_API_VERSION}/namespaces/${encodeURIComponent(ns)}/gateways/${encodeURIComponent(name)}`;

type Obj = Record<string, unknown>;

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

/** The URL users open: the route's host and path, https when its Gateway terminates TLS for it. */
export function routeUrl(e: K8sRouteExposure): string {
  return `${e.https ? 'https' : 'http'}://${e.host}${e.path}`;
}
