// The HTTPRoute (Gateway API, gateway.networking.k8s.io/v1) of a k8s-route exposure: its host and
// path prefix to the binding's Service port, attached to one Gateway (and listener, when named).
// Pure: `render` prints it and the Kubernetes runtime and the operator apply the very same object.
import type { K8sRouteExposure } from '../../plan/types.js';
import { GATEWAY_GROUP, ROUTE_API_VERSION } from './manifests.js';

// Rendered beside the other objects (manifests.ts); named here for the route's readers.
export { renderRoute, routeName } from './manifests.js';
export { GATEWAY_GROUP, ROUTE_API_VERSION };

export const ROUTES_PATH = (ns: string) => `/apis/${ROUTE_API_VERSION}/namespaces/${encodeURIComponent(ns)}/httproutes`;
export const GATEWAY_PATH = (ns: string, name: string) => `/apis/${ROUTE_API_VERSION}/namespaces/${encodeURIComponent(ns)}/gateways/${encodeURIComponent(name)}`;

/** The URL users open: the route's host and path, https when its Gateway terminates TLS for it. */
export function routeUrl(e: K8sRouteExposure): string {
  return `${e.https ? 'https' : 'http'}://${e.host}${e.path}`;
}
