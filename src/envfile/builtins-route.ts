// `cloud.k8s.route(host, path="/", gateway=None, https=None)` and the `route=` keyword of
// `cloud.k8s.bind`: a Gateway API HTTPRoute in front of the binding's Service. Kept apart from the
// other serve() builtins so the Ingress and access keywords can grow beside it.
import { safeText } from '../errors.js';
import { EvalError, fromText, Struct, toBool, toStr, type Value } from '../lang/index.js';
import type { RouteIntent } from '../plan/intents.js';
import { define, given, optStr, type Args } from './define.js';

/** `route=`: a cloud.k8s.route(...) value, or True/False for the automatic HTTPRoute. */
export function routeArg(fn: string, a: Args, routes: WeakMap<Struct, RouteIntent>): { route?: RouteIntent; autoRoute?: boolean } {
  const v = a.route;
  if (!given(v)) return {};
  if (typeof v === 'boolean') return { autoRoute: v };
  const route = v instanceof Struct ? routes.get(v) : undefined;
  if (!route) throw new EvalError(`${fn}: route must be made by cloud.k8s.route(host=...), or be False (no automatic HTTPRoute) or True`);
  return { route };
}

/** "namespace/name" or "namespace/name/listener". */
export function parseGatewayRef(fn: string, text: string): NonNullable<RouteIntent['gateway']> {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new EvalError(`${fn}: gateway must be "namespace/name" or "namespace/name/listener", got ${safeText(JSON.stringify(text))}`, 'e.g. gateway="gateway-system/public" or "gateway-system/public/https"');
  }
  const [namespace, name, sectionName] = parts as [string, string, string?];
  return { namespace, name, ...(sectionName !== undefined && { sectionName }) };
}

export function routeBuiltin(routes: WeakMap<Struct, RouteIntent>): Value {
  return define('cloud.k8s.route', ['host', 'path?', 'gateway?', 'https?'], (a, position) => {
    const fn = 'cloud.k8s.route';
    const gateway = optStr(fn, a, 'gateway');
    const intent: RouteIntent = {
      host: toStr(fn, 'host', a.host!),
      path: optStr(fn, a, 'path') ?? '/',
      position,
      ...(gateway !== undefined && { gateway: parseGatewayRef(fn, gateway) }),
      ...(given(a.https) && { https: toBool(fn, 'https', a.https!) }),
    };
    const value = new Struct('route', { host: fromText(intent.host), path: fromText(intent.path) });
    routes.set(value, intent);
    return value;
  });
}
