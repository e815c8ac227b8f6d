// The builtins of serve(): `host.bind`, `cloud.k8s.bind`, `cloud.k8s.ingress`, and `presets`.
// Each records an exposure intent at the position of its call; ranges and conflicts are checked
// later, for the whole plan at once.
import { didYouMean, formatPosition, safeText } from '../errors.js';
import { EvalError, fromText, Struct, toBool, toInt, toStr, toStrDict, type Value } from '../lang/index.js';
import type { Protocol, ServiceType } from '../plan/types.js';
import { define, given, optStr, portArg, type Args } from './define.js';
import type { IngressIntent, RouteIntent } from '../plan/intents.js';
import { routeArg, routeBuiltin } from './builtins-route.js';
import { PRESETS, PRESET_ALIASES } from '../plan/presets.js';
import type { Recorder } from './recorder.js';
import { accessArg } from './access-arg.js';
import { isDns1123Subdomain, isQualifiedName, NAME_RULES } from '../plan/k8s-names.js';

const PROTOCOLS: Protocol[] = ['tcp', 'http'];
const SERVICE_TYPES: ServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer'];

export function serveBuiltins(rec: Recorder): Record<string, Value> {
  // Ingress values are Structs; this remembers what each one declared, and where.
  const ingresses = new WeakMap<Struct, IngressIntent>();
  const routes = new WeakMap<Struct, RouteIntent>();

  const host = new Struct('host', {
    bind: define('host.bind', ['env_port', 'host_port?', 'listen_addr?', 'protocol?', 'name?', 'websocket?'], (a, position) =>
      recordHostBinding(rec, 'host.bind', a, position, { envPort: 'env_port', name: 'name' }),
    ),
  });

  const bind = define(
    'cloud.k8s.bind',
    ['env_port', 'host_port?', 'type?', 'service_port?', 'node_port?', 'ingress?', 'name?', 'listen_addr?', 'protocol?', 'websocket?', 'route?', 'access?'],
    (a, position) => {
      const fn = 'cloud.k8s.bind';
      const envPort = portArg(fn, 'env_port', a.env_port!);
      const hostPort = given(a.host_port) ? portArg(fn, 'host_port', a.host_port!, 0) : undefined;
      let serviceType = given(a.type) ? serviceTypeArg(toStr(fn, 'type', a.type!)) : undefined;
      const servicePort = given(a.service_port) ? portArg(fn, 'service_port', a.service_port!) : undefined;
      const nodePort = given(a.node_port) ? toInt(fn, 'node_port', a.node_port!) : undefined;
      const listenAddress = optStr(fn, a, 'listen_addr');
      const protocol = protocolArg(fn, a);
      const name = optStr(fn, a, 'name');
      const websocket = websocketArg(fn, a);
      let ingress: IngressIntent | undefined;
      // ingress=False turns the automatic Ingress off; ingress=True asks for one (a Service is implied).
      let autoIngress: boolean | undefined;
      if (typeof a.ingress === 'boolean') {
        autoIngress = a.ingress;
        if (autoIngress) serviceType ??= 'ClusterIP';
      } else if (given(a.ingress)) {
        ingress = a.ingress instanceof Struct ? ingresses.get(a.ingress) : undefined;
        if (!ingress) throw new EvalError(`${fn}: ingress must be made by cloud.k8s.ingress(host=...), or be False (no automatic Ingress) or True`);
        serviceType ??= 'ClusterIP'; // an Ingress needs a Service to route to
      }
      const route = routeArg(fn, a, routes);
      if (route.route || route.autoRoute) serviceType ??= 'ClusterIP'; // an HTTPRoute needs a Service too

      if (hostPort !== undefined && serviceType !== undefined) {
        throw new EvalError(
          `${fn}: give either host_port (a port-forward) or type (a Service), not both`,
          'declare the port-forward and the Service in two cloud.k8s.bind calls',
        );
      }
      if (hostPort === undefined && serviceType === undefined) {
        throw new EvalError(
          `${fn}: needs host_port (a port-forward to this machine) or type (a Service)`,
          'e.g. cloud.k8s.bind(env_port=8888, host_port=8888) or cloud.k8s.bind(env_port=8888, type=cloud.k8s.clusterIP)',
        );
      }
      if (hostPort !== undefined) {
        for (const arg of ['service_port', 'node_port'] as const) {
          if (given(a[arg])) throw new EvalError(`${fn}: ${arg} applies to a Service; a port-forward (host_port) takes none`);
        }
      } else if (listenAddress !== undefined) {
        throw new EvalError(`${fn}: listen_addr applies to a port-forward (host_port), not to a Service`);
      }
      const access = accessArg(fn, a, { portForward: hostPort !== undefined, noIngress: autoIngress === false && !route.route && route.autoRoute !== true }); // issue 22
      if (nodePort !== undefined && serviceType === 'ClusterIP') {
        throw new EvalError(`${fn}: node_port needs type=cloud.k8s.nodePort or cloud.k8s.loadBalancer, not clusterIP`);
      }
      rec.exposures.push({
        via: fn,
        position,
        envPort,
        ...(hostPort !== undefined && { hostPort, listenAddress: listenAddress ?? '127.0.0.1' }),
        ...(serviceType && { serviceType, servicePort: servicePort ?? envPort }),
        ...(nodePort !== undefined && { nodePort }),
        ...(ingress && { ingress }),
        ...(autoIngress !== undefined && { autoIngress }),
        ...(access !== undefined && { access }),
        ...(route.route && { route: route.route }),
        ...(route.autoRoute !== undefined && { autoRoute: route.autoRoute }),
        ...(protocol && { protocol }),
        ...(name && { name }),
        ...(websocket !== undefined && { websocket }),
      });
    },
  );

  const ingress = define('cloud.k8s.ingress', ['host', 'path?', 'class_name?', 'tls_secret?', 'annotations?'], (a, position) => {
    const fn = 'cloud.k8s.ingress';
    const intent: IngressIntent = {
      host: toStr(fn, 'host', a.host!),
      path: optStr(fn, a, 'path') ?? '/',
      annotations: given(a.annotations) ? toStrDict(fn, 'annotations', a.annotations!) : {},
      position,
    };
    const className = optStr(fn, a, 'class_name');
    const tlsSecret = optStr(fn, a, 'tls_secret');
    for (const key of Object.keys(intent.annotations)) {
      if (!isQualifiedName(key)) throw new EvalError(`${fn}: annotation key ${safeText(JSON.stringify(key))} is not valid in Kubernetes`, `a key is ${NAME_RULES.qualified}`);
    }
    if (className !== undefined && !isDns1123Subdomain(className)) {
      throw new EvalError(`${fn}: class_name must name an IngressClass, got ${safeText(JSON.stringify(className))}`, `a class name is ${NAME_RULES.subdomain}`);
    }
    if (className) intent.className = className;
    if (tlsSecret) intent.tlsSecret = tlsSecret;
    const value = new Struct('ingress', {
      host: fromText(intent.host),
      path: fromText(intent.path),
    });
    ingresses.set(value, intent);
    return value;
  });

  const cloud = new Struct('cloud', {
    k8s: new Struct('cloud.k8s', {
      bind,
      ingress,
      route: routeBuiltin(routes),
      clusterIP: 'ClusterIP',
      nodePort: 'NodePort',
      loadBalancer: 'LoadBalancer',
    }),
  });

  return { host, cloud, presets: presetsStruct(rec) };
}

/**
 * `host.bind` and envd's `runtime.expose` declare the same thing, a listener on this machine;
 * only their argument names differ.
 */
export function recordHostBinding(
  rec: Recorder,
  fn: 'host.bind' | 'runtime.expose',
  a: Args,
  position: string,
  argNames: { envPort: string; name: string },
): void {
  const protocol = protocolArg(fn, a);
  const name = optStr(fn, a, argNames.name);
  const websocket = websocketArg(fn, a);
  rec.exposures.push({
    via: fn,
    position,
    envPort: portArg(fn, argNames.envPort, a[argNames.envPort]!),
    hostPort: given(a.host_port) ? portArg(fn, 'host_port', a.host_port!, 0) : 0,
    listenAddress: optStr(fn, a, 'listen_addr') || '127.0.0.1',
    ...(protocol && { protocol }),
    ...(name && { name }),
    ...(websocket !== undefined && { websocket }),
  });
}

/** `websocket=True`: the app needs WebSocket upgrades (as Jupyter's kernels do), so `check` warns when one is refused. */
function websocketArg(fn: string, a: Args): boolean | undefined {
  return given(a.websocket) ? toBool(fn, 'websocket', a.websocket!) : undefined;
}

function protocolArg(fn: string, a: Args): Protocol | undefined {
  if (!given(a.protocol)) return undefined;
  const p = toStr(fn, 'protocol', a.protocol!).toLowerCase();
  if ((PROTOCOLS as string[]).includes(p)) return p as Protocol;
  const hint = didYouMean(p, PROTOCOLS);
  throw new EvalError(`${fn}: protocol must be "tcp" or "http", got ${safeText(JSON.stringify(p))}`, hint && `did you mean "${hint}"?`);
}

function serviceTypeArg(t: string): ServiceType {
  const found = SERVICE_TYPES.find((s) => s.toLowerCase() === t.toLowerCase());
  if (found) return found;
  const hint = didYouMean(t, SERVICE_TYPES);
  throw new EvalError(
    `cloud.k8s.bind: type must be cloud.k8s.clusterIP, cloud.k8s.nodePort or cloud.k8s.loadBalancer, got "${t}"`,
    hint && `did you mean "${hint}"?`,
  );
}

/** `presets.<name>` with `.port`, `.protocol`; known misspellings work and warn where they are used. */
function presetsStruct(rec: Recorder): Struct {
  const fields: Record<string, Value> = {};
  for (const p of PRESETS) {
    fields[p.name] = new Struct(`presets.${p.name}`, { name: p.name, port: BigInt(p.port), protocol: p.protocol });
  }
  return new Struct('presets', fields, (attr, pos) => {
    const right = PRESET_ALIASES[attr];
    if (!right) return undefined;
    rec.warn(`presets.${attr} is a misspelling of presets.${right}; using presets.${right}`, formatPosition(pos));
    return fields[right];
  });
}
