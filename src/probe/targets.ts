// The targets of an exposure: what to connect to, and from where, given what the runtime observed
// (the listener it bound, the Service's addresses, the Ingress controller's address). Pure, so
// every front end probes the same things and the lists are unit-tested.
import type { Exposure } from '../plan/types.js';
import type { TargetScope, VantagedTarget } from './types.js';

export interface ObservedAddress {
  scope: Extract<TargetScope, 'cluster' | 'node' | 'load-balancer' | 'ingress'>;
  address: string;
  port: number;
}

/** What a runtime knows about one running exposure, as plain data. */
export interface ObservedExposure {
  /** Where users connect on this machine (a proxy, a port-forward, a published port). */
  listener?: { address: string; port: number };
  /** The service behind a local proxy: a TCP exposure is probed there (the proxy's own accept proves nothing). */
  backend?: { address: string; port: number };
  /** A Kubernetes Service or Ingress: its object and every address it has. */
  object?: { namespace: string; name: string };
  addresses?: ObservedAddress[];
}

/**
 * A TCP port-forward is judged by a connection through it to the pod, not by its listener's accept:
 * the forward resets a connection the pod refuses, well within this time.
 */
export const FORWARD_HOLD_MS = 1000;

/** A wildcard listener is reached on loopback. */
export function connectAddress(address: string): string {
  if (address === '0.0.0.0' || address === '') return '127.0.0.1';
  if (address === '::') return '::1';
  return address;
}

function hostPort(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

export function targetsFor(e: Exposure, o: ObservedExposure): VantagedTarget[] {
  const http = e.protocol === 'http';
  switch (e.kind) {
    case 'host':
    case 'k8s-port-forward': {
      if (http && o.listener) {
        return [{ vantage: 'local', target: { kind: 'http', url: `http://${hostPort(connectAddress(o.listener.address), o.listener.port)}/`, scope: 'listener' } }];
      }
      const ep = o.backend ?? o.listener;
      if (!ep) return [];
      const through = e.kind === 'k8s-port-forward' && !o.backend && { holdMs: FORWARD_HOLD_MS };
      return [{ vantage: 'local', target: { kind: 'tcp', address: connectAddress(ep.address), port: ep.port, scope: o.backend ? 'backend' : 'listener', ...through } }];
    }
    case 'k8s-service':
      return (o.addresses ?? []).map((a): VantagedTarget => {
        if (a.scope === 'cluster') {
          return { vantage: 'apiserver', target: { kind: 'service', namespace: o.object?.namespace ?? '', name: o.object?.name ?? '', port: a.port, protocol: http ? 'http' : 'tcp', scope: 'cluster' } };
        }
        return http
          ? { vantage: 'local', target: { kind: 'http', url: `http://${hostPort(a.address, a.port)}/`, scope: a.scope } }
          : { vantage: 'local', target: { kind: 'tcp', address: a.address, port: a.port, scope: a.scope } };
      });
    case 'k8s-ingress':
    case 'k8s-route': {
      // An HTTPRoute is probed as an Ingress is: its Gateway's address, with the route's Host.
      const scheme = (e.kind === 'k8s-ingress' ? e.tlsSecret : e.https) ? 'https' : 'http';
      return (o.addresses ?? []).map((a) => ({
        vantage: 'local' as const,
        target: { kind: 'http' as const, url: `${scheme}://${hostPort(a.address, a.port)}${e.path}`, hostHeader: e.host, viaProxy: true, scope: 'ingress' as const },
      }));
    }
  }
}
