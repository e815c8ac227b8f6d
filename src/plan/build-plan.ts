// The planner: recorded intents in, a typed Plan out. Pure: no I/O, no clock, no randomness,
// so the same file always gives the same plan (and the same exposure ids).
import type { EnvDraft, ExposureIntent, RouteIntent } from './intents.js';
import { presetByPort } from './presets.js';
import type { EnvSpec, Exposure, K8sRouteExposure, Plan, PlanWarning, Protocol, ServiceSpec } from './types.js';

export interface Recorded {
  env: EnvDraft;
  exposures: readonly ExposureIntent[];
  warnings: readonly PlanWarning[];
}

export function buildPlan(source: string, envName: string, recorded: Recorded): Plan {
  const env = envSpec(envName, recorded.env, recorded.exposures);
  const ids = new IdAllocator();
  const exposures: Exposure[] = [];
  for (const intent of recorded.exposures) {
    const label = intent.name ?? env.services.find((s) => s.port === intent.envPort)?.name ?? String(intent.envPort);
    const common = {
      envPort: intent.envPort,
      protocol: intent.protocol ?? inferProtocol(env, intent.envPort),
      position: intent.position,
      declaredBy: intent.via,
      ...(intent.name !== undefined && { name: intent.name }),
      ...(intent.websocket !== undefined && { websocket: intent.websocket }),
    };
    if (intent.via !== 'cloud.k8s.bind') {
      exposures.push({
        id: ids.next(`host-${label}-${intent.hostPort || 'auto'}`),
        kind: 'host',
        ...common,
        hostPort: intent.hostPort,
        listenAddress: intent.listenAddress,
      });
    } else if (intent.serviceType === undefined) {
      exposures.push({
        id: ids.next(`port-forward-${label}-${intent.hostPort}`),
        kind: 'k8s-port-forward',
        ...common,
        hostPort: intent.hostPort ?? 0,
        listenAddress: intent.listenAddress ?? '127.0.0.1',
      });
    } else {
      const servicePort = intent.servicePort ?? intent.envPort;
      // The id (and so the Service's name) leaves the ports out: a changed service_port, type or
      // node_port is the same Service updated in place, not a new one.
      const serviceId = ids.next(`service-${label}`);
      exposures.push({
        id: serviceId,
        kind: 'k8s-service',
        ...common,
        serviceType: intent.serviceType,
        servicePort,
        ...(intent.nodePort !== undefined && { nodePort: intent.nodePort }),
        ...(intent.autoIngress !== undefined && { autoIngress: intent.autoIngress }),
        ...(intent.access !== undefined && { access: intent.access }),
        ...(intent.autoRoute !== undefined && { autoRoute: intent.autoRoute }),
      });
      const ing = intent.ingress;
      if (ing) {
        exposures.push({
          id: ids.next(`ingress-${label}`),
          kind: 'k8s-ingress',
          ...common,
          protocol: 'http', // an Ingress routes HTTP
          position: ing.position,
          serviceId,
          servicePort,
          host: ing.host,
          path: ing.path,
          ...(ing.className !== undefined && { className: ing.className }),
          ...(ing.tlsSecret !== undefined && { tlsSecret: ing.tlsSecret }),
          ...(Object.keys(ing.annotations).length > 0 && { annotations: { ...ing.annotations } }),
          ...(intent.access !== undefined && { access: intent.access }),
        });
      }
      if (intent.route) exposures.push({ ...routeExposure(intent.route, ids.next(`route-${label}`), common, serviceId, servicePort), ...(intent.access !== undefined && { access: intent.access }) });
    }
  }
  return { apiVersion: 'envserve/v1', kind: 'Plan', source, env, exposures, warnings: [...recorded.warnings] };
}

/** `cloud.k8s.route(...)` on a Service binding: an HTTPRoute exposure beside the Service. */
function routeExposure(r: RouteIntent, id: string, common: Omit<K8sRouteExposure, 'id' | 'kind' | 'serviceId' | 'servicePort' | 'host' | 'path'>, serviceId: string, servicePort: number): K8sRouteExposure {
  return {
    id,
    kind: 'k8s-route',
    ...common,
    protocol: 'http', // an HTTPRoute routes HTTP
    position: r.position,
    serviceId,
    servicePort,
    host: r.host,
    path: r.path,
    ...(r.gateway && { gateway: { ...r.gateway } }),
    ...(r.https !== undefined && { https: r.https }),
  };
}

function envSpec(name: string, d: EnvDraft, exposures: readonly ExposureIntent[]): EnvSpec {
  const services: ServiceSpec[] = [];
  if (d.jupyter) services.push({ name: 'jupyter', port: d.jupyter.port, protocol: 'http', urlPath: '/lab' });
  if (d.rstudio) services.push({ name: 'rstudio', port: d.rstudio.port, protocol: 'http' });
  // envd's runtime.expose(service="name") names a service of the environment.
  for (const e of exposures) {
    if (e.via === 'runtime.expose' && e.name && !services.some((s) => s.port === e.envPort)) {
      services.push({ name: e.name, port: e.envPort, protocol: e.protocol ?? presetByPort(e.envPort)?.protocol ?? 'tcp' });
    }
  }
  const { position: _j, ...jupyter } = d.jupyter ?? { position: '' };
  return {
    name,
    base: { ...d.base },
    services,
    ...(d.jupyter && { jupyter: jupyter as EnvSpec['jupyter'] }),
    ...(d.rstudio && { rstudio: { port: d.rstudio.port } }),
    packages: {
      python: [...d.packages.python],
      apt: [...d.packages.apt],
      r: [...d.packages.r],
      conda: [...d.packages.conda],
    },
    daemons: d.daemons.map((argv) => [...argv]),
    ...(d.noRestart?.length && { noRestart: [...d.noRestart] }),
    commands: { ...d.commands },
    environment: { ...d.environment },
    extraPath: [...d.extraPath],
    ...(d.entrypoint && { entrypoint: [...d.entrypoint] }),
    copies: d.copies.map((c) => ({ ...c })),
    ...(d.shell !== undefined && { shell: d.shell }),
    ...(d.pipIndex && { pipIndex: { ...d.pipIndex } }),
  };
}

/** A service the environment declares on that port decides; else a well-known port; else plain TCP. */
function inferProtocol(env: EnvSpec, port: number): Protocol {
  return env.services.find((s) => s.port === port)?.protocol ?? presetByPort(port)?.protocol ?? 'tcp';
}

/**
 * Ids are readable, DNS-label safe, and made unique by declaration order ("-2", "-3").
 * Linear: each base remembers the next suffix to try, so 10,000 alike exposures cost 10,000 steps.
 */
class IdAllocator {
  private readonly used = new Set<string>();
  private readonly nextSuffix = new Map<string, number>();
  next(raw: string): string {
    const base = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
    let id = base;
    if (this.used.has(id)) {
      let n = this.nextSuffix.get(base) ?? 2;
      while (this.used.has(`${base}-${n}`)) n++;
      id = `${base}-${n}`;
      this.nextSuffix.set(base, n + 1);
    }
    this.used.add(id);
    return id;
  }
}

/** A DNS-1123 label from a directory name, for the environment's name. */
export function envNameFrom(raw: string): string {
  const name = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^[^a-z]+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  return name || 'env';
}
