// The static half of `check`: from the API objects alone, why an exposure cannot answer. A pure
// function of (subject, snapshot): no I/O, so every rule is unit-tested with object fixtures.
// The checks of an exposure come in the order a request travels (pods, Service, endpoints, node
// port / load balancer, policy; Ingress class, rule, backend, TLS, admission), so the first
// failing one is the cause to fix first.
import type { CheckReason } from '../reasons.js';
import type { Check, CheckStatus } from './types.js';
import { isUnavailable, type ClusterSnapshot, type Obj } from './snapshot.js';
import { containerPorts, ingressBackends, type K8sCheckExposure, type K8sSubject } from './subject.js';
import { labelText, matchesSelector, nearestPods, selectorOf } from './selectors.js';
import { isDeleting, list, mk, podName, skippedFor, START_HINT, type Draft } from './draft.js';
import { podReady, whyNotReady, workloadChecks, workloadPods } from './pod-rules.js';
import { routeChecks } from './route-rules.js';

export { podReady, whyNotReady } from './pod-rules.js';

export interface PortMatch {
  status: CheckStatus;
  reason: CheckReason;
  message: string;
  fix?: string;
  /** The container port it resolves to. */
  port?: number;
}

/** Does a Service port's targetPort (number or name) reach a declared containerPort of the pods? */
export function matchTargetPort(svcName: string, sp: Obj, pods: Obj[], ns: string, wanted?: number): PortMatch {
  const tp = sp.targetPort ?? sp.port;
  const proto = sp.protocol ?? 'TCP';
  const declared = pods.flatMap(containerPorts);
  const uniq = [...new Map(declared.map((c) => [`${c.containerPort}/${c.protocol ?? 'TCP'}/${c.name ?? ''}`, c])).values()];
  const list = uniq.map((c) => `${c.containerPort}/${c.protocol ?? 'TCP'}${c.name ? ` "${c.name}"` : ''}`).join(', ');
  const suggest = (wanted !== undefined && uniq.find((c) => c.containerPort === wanted)) || uniq[0];
  const patch = (value: string | number) => `kubectl -n ${ns} patch service ${svcName} --type=json -p '[{"op":"replace","path":"/spec/ports/${indexOf(sp)}/targetPort","value":${JSON.stringify(value)}}]'`;
  if (typeof tp === 'string') {
    const named = uniq.filter((c) => c.name === tp);
    if (named.length === 0) {
      return {
        status: 'fail', reason: 'NamedPortMissing',
        message: `service ${svcName} port ${sp.port} targets the named port "${tp}", but no container of the pods has a port named "${tp}"${list ? ` (they declare ${list})` : ' (they declare no ports)'}`,
        fix: suggest ? `name the container port "${tp}", or set targetPort to ${suggest.name ? `"${suggest.name}"` : suggest.containerPort}: ${patch(suggest.name ?? suggest.containerPort)}` : `name a container port "${tp}" in the pod template`,
      };
    }
    const n = named[0]!;
    if ((n.protocol ?? 'TCP') !== proto) return { status: 'fail', reason: 'ProtocolMismatch', message: `service ${svcName} port ${sp.port} is ${proto}, container port "${tp}" is ${n.protocol}`, fix: `make both ${n.protocol ?? 'TCP'}` };
    return { status: 'pass', reason: 'Ok', message: `targetPort "${tp}" is container port ${n.containerPort}/${n.protocol ?? 'TCP'}`, port: n.containerPort };
  }
  const same = uniq.filter((c) => c.containerPort === tp);
  if (same.length > 0) {
    if (!same.some((c) => (c.protocol ?? 'TCP') === proto)) {
      return { status: 'fail', reason: 'ProtocolMismatch', message: `service ${svcName} port ${sp.port} is ${proto}, container port ${tp} is ${same[0]!.protocol}`, fix: `make both ${same[0]!.protocol ?? 'TCP'}` };
    }
    return { status: 'pass', reason: 'Ok', message: `targetPort ${tp} is a declared container port`, port: tp };
  }
  if (uniq.length === 0) {
    return { status: 'warn', reason: 'Ok', message: `the pods declare no container ports; targetPort ${tp} is used as it is (the app must listen on it)`, port: tp };
  }
  return {
    status: 'fail', reason: 'TargetPortMismatch',
    message: `service ${svcName} port ${sp.port} sends to targetPort ${tp}, but the pods declare ${list}`,
    ...(suggest && { fix: `set targetPort to ${suggest.containerPort}: ${patch(suggest.containerPort)}` }),
    port: tp,
  };
}

// The index of a port in its Service, set by serviceChecks (for the patch command in a fix).
const portIndex = new WeakMap<Obj, number>();
const indexOf = (sp: Obj) => portIndex.get(sp) ?? 0;

function endpointsOf(snap: ClusterSnapshot, svc: string): Obj[] {
  return list(snap.endpointSlices)
    .filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === svc)
    .flatMap((s) => ((s.endpoints ?? []) as Obj[]).map((e) => ({ ...e, ports: s.ports ?? [] })));
}

const epReady = (e: Obj) => e.conditions?.ready !== false;

function serviceChecks(x: Extract<K8sCheckExposure, { kind: 'k8s-service' }>, subject: K8sSubject, snap: ClusterSnapshot, wpods: Obj[] | undefined): Draft[] {
  const ns = subject.namespace;
  const out: Draft[] = [];
  if (isUnavailable(snap.services)) return [skippedFor('service.exists', `service ${x.service} exists`, snap.services)];
  const svc = snap.services.find((s) => s.metadata?.name === x.service);
  if (!svc) {
    return [mk('service.exists', `service ${x.service} exists`, 'fail', 'ServiceNotFound', `service ${ns}/${x.service} does not exist`, subject.managed ? START_HINT : `kubectl -n ${ns} get services`)];
  }
  const type = svc.spec?.type ?? 'ClusterIP';
  out.push(mk('service.exists', `service ${x.service} exists`, 'pass', 'Ok', `service ${ns}/${x.service} (${type}${svc.spec?.clusterIP && svc.spec.clusterIP !== 'None' ? ` ${svc.spec.clusterIP}` : ''})`));
  if (x.type && x.type !== type) {
    out.push(mk('service.type', 'the Service has the planned type', 'warn', 'Ok', `service ${x.service} is ${type}, the env file asks for ${x.type}`, 'run envserve up again to apply the env file'));
  }
  const ports = ((svc.spec?.ports ?? []) as Obj[]);
  ports.forEach((p, i) => portIndex.set(p, i));
  const chosen = x.port !== undefined ? ports.filter((p) => p.port === x.port) : ports;
  if (chosen.length === 0) {
    out.push(mk('service.port', `service ${x.service} has port ${x.port}`, 'fail', 'ServicePortMissing', `service ${x.service} has no port ${x.port} (it has ${ports.map((p) => p.port).join(', ') || 'none'})`, 'run envserve up again, or use one of those ports'));
    return out;
  }
  const sel = selectorOf(svc);
  const pods = list(snap.pods).filter((p) => !isDeleting(p));
  let selected: Obj[] = [];
  if (!sel) {
    out.push(mk('service.selector', 'the selector matches the pods', 'skipped', 'NotApplicable', `service ${x.service} has no selector: its endpoints are managed by hand`));
  } else if (isUnavailable(snap.pods)) {
    out.push(skippedFor('service.selector', 'the selector matches the pods', snap.pods));
  } else {
    selected = pods.filter((p) => matchesSelector({ matchLabels: sel }, p.metadata?.labels));
    const expected = wpods ?? [];
    if (selected.length === 0) {
      const near = nearestPods(sel, expected.length ? expected : pods);
      const nearText = near.map((p) => `${podName(p)} has ${labelText(p.metadata?.labels)}`).join('; ');
      const firstDiff = near[0] ? Object.entries(sel).find(([k, v]) => near[0]!.metadata?.labels?.[k] !== v) : undefined;
      const theirs = firstDiff && near[0]!.metadata?.labels?.[firstDiff[0]];
      out.push(mk('service.selector', 'the selector matches the pods', 'fail', 'SelectorMismatch',
        `service ${x.service} selects ${labelText(sel)} but no pod has these labels${near.length ? `; nearest: ${nearText}` : ' (the namespace has no pods)'}`,
        firstDiff ? `set the selector to ${firstDiff[0]}=${theirs ?? '<the pods\' value>'}: kubectl -n ${ns} patch service ${x.service} -p '{"spec":{"selector":{"${firstDiff[0]}":${JSON.stringify(theirs ?? null)}}}}'` : `label the pods ${labelText(sel)}`));
    } else if (expected.length > 0 && !selected.some((p) => expected.includes(p))) {
      out.push(mk('service.selector', 'the selector matches the pods', 'fail', 'SelectorMismatch', `service ${x.service} selects ${labelText(sel)}: pods ${selected.slice(0, 3).map(podName).join(', ')}, not the workload's pods (${expected.slice(0, 3).map((p) => `${podName(p)} has ${labelText(p.metadata?.labels)}`).join('; ')})`, 'make the selector match the workload\'s pod labels'));
    } else {
      out.push(mk('service.selector', 'the selector matches the pods', 'pass', 'Ok', `selects ${labelText(sel)}: ${selected.length} pod${selected.length === 1 ? '' : 's'} (${selected.slice(0, 3).map(podName).join(', ')})`));
    }
  }
  // Ports: compared with the selected pods, else the workload's.
  const portPods = selected.length ? selected : wpods ?? [];
  for (const sp of chosen) {
    const suffix = chosen.length > 1 ? `:${sp.port}` : '';
    if (portPods.length === 0) {
      out.push(mk(`service.targetPort${suffix}`, 'targetPort matches a containerPort', 'skipped', 'NoPods', 'no pods to compare the targetPort with'));
    } else {
      const m = matchTargetPort(x.service, sp, portPods, ns, x.envPort);
      out.push(mk(`service.targetPort${suffix}`, 'targetPort matches a containerPort', m.status, m.reason, m.message, m.fix));
    }
  }
  // Endpoints.
  if (sel) {
    if (isUnavailable(snap.endpointSlices)) out.push(skippedFor('service.endpoints', 'the Service has ready endpoints', snap.endpointSlices));
    else {
      const eps = endpointsOf(snap, x.service);
      const ready = eps.filter(epReady);
      const addr = (e: Obj) => `${(e.addresses ?? [])[0]}${e.ports?.[0]?.port ? `:${e.ports[0].port}` : ''}`;
      if (ready.length > 0) out.push(mk('service.endpoints', 'the Service has ready endpoints', 'pass', 'Ok', `${ready.length} ready endpoint${ready.length === 1 ? '' : 's'}: ${ready.slice(0, 3).map(addr).join(', ')}`));
      else if (eps.length > 0) {
        const notReady = selected.find((p) => !podReady(p));
        const why = notReady ? whyNotReady(notReady, ns) : undefined;
        out.push(mk('service.endpoints', 'the Service has ready endpoints', 'fail', why?.reason ?? 'EndpointsNotReady', `${eps.length} endpoint${eps.length === 1 ? '' : 's'}, none ready${why ? `: ${why.message}` : ''}`, why?.fix ?? `kubectl -n ${ns} get pods`));
      } else {
        const earlier = out.find((c) => c.status === 'fail');
        const notReady = selected.length > 0 && !selected.some(podReady) ? whyNotReady(selected[0]!, ns) : undefined;
        out.push(mk('service.endpoints', 'the Service has ready endpoints', 'fail', 'NoEndpoints',
          `service ${x.service} has no endpoints${earlier ? ` (because: ${earlier.message})` : notReady ? ` (${notReady.message})` : ''}`,
          earlier?.fix ?? notReady?.fix ?? `kubectl -n ${ns} describe service ${x.service}`));
      }
    }
  }
  // Node port and load balancer.
  if (type === 'NodePort' || type === 'LoadBalancer') {
    for (const sp of chosen) {
      const suffix = chosen.length > 1 ? `:${sp.port}` : '';
      out.push(sp.nodePort
        ? mk(`service.nodePort${suffix}`, 'a node port is allocated', 'pass', 'Ok', `node port ${sp.nodePort}`)
        : mk(`service.nodePort${suffix}`, 'a node port is allocated', type === 'LoadBalancer' && svc.spec?.allocateLoadBalancerNodePorts === false ? 'skipped' : 'fail', type === 'LoadBalancer' && svc.spec?.allocateLoadBalancerNodePorts === false ? 'NotApplicable' : 'NodePortNotAllocated', `service ${x.service} port ${sp.port} has no node port`, 'check the API server\'s --service-node-port-range and free ports'));
    }
  }
  if (type === 'LoadBalancer') {
    const ing = ((svc.status?.loadBalancer?.ingress ?? []) as Obj[]).map((i) => i.ip ?? i.hostname).filter(Boolean);
    if (ing.length) out.push(mk('service.loadBalancer', 'the load balancer has an address', 'pass', 'Ok', `load balancer address ${ing.join(', ')}`));
    else {
      const cls = svc.spec?.loadBalancerClass as string | undefined;
      out.push(mk('service.loadBalancer', 'the load balancer has an address', 'fail', 'LoadBalancerPending',
        `service ${x.service} has no load-balancer address yet: no load-balancer controller${cls ? ` for class "${cls}"` : ''} has served it (bare metal, kind and minikube have none unless installed)`,
        cls ? `remove loadBalancerClass "${cls}" or run a controller for it; meanwhile use the node port${chosen[0]?.nodePort ? ` ${chosen[0].nodePort}` : ''} or a port-forward` : `use type NodePort (node:${chosen[0]?.nodePort ?? 'nodePort'}) or a port-forward, or install a load-balancer provider (MetalLB)`));
    }
  }
  // NetworkPolicy: the Service's traffic arrives on the pod port.
  const target = selected[0] ?? portPods[0];
  if (target) out.push(policyCheck(snap, target, chosen.map((sp) => resolvedPort(sp, target)).filter((p): p is number => p !== undefined), ns));
  // DNS: the in-cluster probe uses the Service's name.
  out.push(dnsCheck(snap, x.service, ns));
  return out;
}

function resolvedPort(sp: Obj, pod: Obj): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp;
  return containerPorts(pod).find((c) => c.name === tp)?.containerPort;
}

function dnsCheck(snap: ClusterSnapshot, svc: string, ns: string): Draft {
  const title = 'cluster DNS resolves the Service name';
  if (isUnavailable(snap.clusterDNS)) return skippedFor('cluster.dns', title, snap.clusterDNS);
  return snap.clusterDNS
    ? mk('cluster.dns', title, 'pass', 'Ok', `kube-dns exists: ${svc}.${ns}.svc resolves inside the cluster`)
    : mk('cluster.dns', title, 'skipped', 'NoClusterDNS', `no kube-dns Service in kube-system: the name ${svc}.${ns}.svc is not checked (pods use the ClusterIP)`);
}

/** Whether the NetworkPolicies selecting `pod` admit TCP traffic to these ports (from anywhere). */
export function policyCheck(snap: ClusterSnapshot, pod: Obj, ports: (number | string)[], ns: string): Draft {
  const title = 'NetworkPolicies admit the port';
  if (isUnavailable(snap.networkPolicies)) return skippedFor('network.policy', title, snap.networkPolicies);
  const labels = pod.metadata?.labels ?? {};
  const selecting = snap.networkPolicies.filter((np) =>
    matchesSelector(np.spec?.podSelector ?? {}, labels) && (!np.spec?.policyTypes || np.spec.policyTypes.includes('Ingress')));
  if (selecting.length === 0) return mk('network.policy', title, 'pass', 'Ok', `no NetworkPolicy selects pod ${podName(pod)}`);
  const names = selecting.map((np) => np.metadata?.name).join(', ');
  const portNames = new Map(containerPorts(pod).map((c) => [c.containerPort as number, c.name as string | undefined]));
  const admits = (rule: Obj, port: number | string) => {
    const rp = (rule.ports ?? []) as Obj[];
    if (rp.length === 0) return true;
    return rp.some((p) => {
      if ((p.protocol ?? 'TCP') !== 'TCP') return false;
      if (p.port === undefined) return true;
      if (typeof p.port === 'string') return p.port === port || (typeof port === 'number' && portNames.get(port) === p.port);
      if (typeof port !== 'number') return false;
      return p.endPort ? port >= p.port && port <= p.endPort : p.port === port;
    });
  };
  const rules = selecting.flatMap((np) => ((np.spec?.ingress ?? []) as Obj[]).map((r) => ({ np: np.metadata?.name as string, r })));
  const denied: (number | string)[] = [];
  const restricted: string[] = [];
  for (const port of ports) {
    const ok = rules.filter(({ r }) => admits(r, port));
    if (ok.length === 0) denied.push(port);
    else if (!ok.some(({ r }) => !r.from || r.from.length === 0)) restricted.push(`${port} (only from the peers listed in ${[...new Set(ok.map((o) => o.np))].join(', ')})`);
  }
  if (denied.length > 0) {
    return mk('network.policy', title, 'fail', 'NetworkPolicyDenies',
      `NetworkPolicy ${names} selects pod ${podName(pod)} and admits no traffic to port ${denied.join(', ')} (if the cluster's network enforces NetworkPolicy, connections are dropped)`,
      `add an ingress rule for TCP ${denied.join(', ')} to NetworkPolicy ${selecting[0]!.metadata?.name} in ${ns} (from the pods or namespaces that need it, e.g. the Ingress controller's)`);
  }
  if (restricted.length > 0) {
    return mk('network.policy', title, 'warn', 'NetworkPolicyRestricts', `port ${restricted.join('; ')}: other clients (this machine, the Ingress controller) may be dropped`, 'make sure the Ingress controller\'s namespace or pods are among the allowed peers');
  }
  return mk('network.policy', title, 'pass', 'Ok', `NetworkPolicy ${names} admits port ${ports.join(', ')} from anywhere`);
}

function ingressChecks(x: Extract<K8sCheckExposure, { kind: 'k8s-ingress' }>, subject: K8sSubject, snap: ClusterSnapshot): Draft[] {
  const ns = subject.namespace;
  if (isUnavailable(snap.ingresses)) return [skippedFor('ingress.exists', `ingress ${x.ingress} exists`, snap.ingresses)];
  const ing = snap.ingresses.find((i) => i.metadata?.name === x.ingress);
  if (!ing) return [mk('ingress.exists', `ingress ${x.ingress} exists`, 'fail', 'IngressNotFound', `ingress ${ns}/${x.ingress} does not exist`, subject.managed ? START_HINT : `kubectl -n ${ns} get ingresses`)];
  const out: Draft[] = [mk('ingress.exists', `ingress ${x.ingress} exists`, 'pass', 'Ok', `ingress ${ns}/${x.ingress}`)];
  // Class.
  const named = (ing.spec?.ingressClassName ?? ing.metadata?.annotations?.['kubernetes.io/ingress.class']) as string | undefined;
  let classProblem: string | undefined;
  if (isUnavailable(snap.ingressClasses)) out.push(skippedFor('ingress.class', 'the IngressClass exists', snap.ingressClasses));
  else {
    const classes = snap.ingressClasses;
    const all = classes.map((c) => c.metadata?.name as string);
    const defaults = classes.filter((c) => c.metadata?.annotations?.['ingressclass.kubernetes.io/is-default-class'] === 'true');
    if (named) {
      const c = classes.find((k) => k.metadata?.name === named);
      if (c) out.push(mk('ingress.class', 'the IngressClass exists', 'pass', 'Ok', `class ${named} (controller ${c.spec?.controller ?? '?'})`));
      else {
        classProblem = `class "${named}" does not exist`;
        out.push(mk('ingress.class', 'the IngressClass exists', 'fail', 'IngressClassNotFound', `ingress ${x.ingress} asks for IngressClass "${named}", which does not exist${all.length ? ` (this cluster has: ${all.join(', ')})` : ' (this cluster has no IngressClass)'}`,
          all.length ? `set ingressClassName to ${defaults[0]?.metadata?.name ?? all[0]} (class= in cloud.k8s.ingress, or kubectl -n ${ns} patch ingress ${x.ingress} -p '{"spec":{"ingressClassName":"${defaults[0]?.metadata?.name ?? all[0]}"}}')` : 'install an Ingress controller (it creates its IngressClass)'));
      }
    } else if (defaults.length === 1) {
      out.push(mk('ingress.class', 'the IngressClass exists', 'pass', 'Ok', `no class named: the default class ${defaults[0]!.metadata?.name} takes it`));
    } else {
      classProblem = 'it names no class and there is no default class';
      out.push(mk('ingress.class', 'the IngressClass exists', 'fail', 'NoIngressClass',
        `ingress ${x.ingress} names no IngressClass and the cluster has ${defaults.length > 1 ? `${defaults.length} default classes` : 'no default class'}${all.length ? ` (classes: ${all.join(', ')})` : ' (and no IngressClass at all)'}`,
        all.length ? `set ingressClassName: ${all[0]} (class= in cloud.k8s.ingress), or mark one class default (ingressclass.kubernetes.io/is-default-class: "true")` : 'install an Ingress controller'));
    }
  }
  // Rule for the host users type.
  const rules = (ing.spec?.rules ?? []) as Obj[];
  const hosts = rules.map((r) => r.host as string | undefined);
  const address = firstAddress(ing);
  if (rules.length === 0 && !ing.spec?.defaultBackend) {
    out.push(mk('ingress.rule', 'a rule routes the host', 'fail', 'NoIngressRule', `ingress ${x.ingress} has no rules and no default backend`, 'add a rule with a host and a backend'));
  } else if (x.host && !hosts.some((h) => h === undefined || hostMatches(h, x.host!))) {
    const h = hosts.find(Boolean)!;
    out.push(mk('ingress.rule', 'a rule routes the host', 'fail', 'HostHeaderMismatch', `ingress ${x.ingress} routes host ${hosts.filter(Boolean).join(', ')}, not ${x.host}`,
      `the Host header must be ${h}: curl -H 'Host: ${h}' http://${address ?? '<ingress address>'}${x.path ?? '/'} (or change host= to match)`));
  } else {
    const h = x.host ?? hosts.find(Boolean);
    out.push(mk('ingress.rule', 'a rule routes the host', 'pass', 'Ok', h ? `routes host ${h}: send Host: ${h} (curl -H 'Host: ${h}' http://${address ?? '<address>'}${x.path ?? '/'})` : 'routes every host'));
  }
  // Backends.
  const backends = ingressBackends(ing);
  const services = list(snap.services);
  const problems: Draft[] = [];
  for (const b of backends) {
    if (isUnavailable(snap.services)) { problems.push(skippedFor('ingress.backend', 'the backend Service and port exist', snap.services)); break; }
    const s = services.find((v) => v.metadata?.name === b.service);
    if (!s) { problems.push(mk('ingress.backend', 'the backend Service and port exist', 'fail', 'BackendServiceMissing', `ingress ${x.ingress} routes to service ${b.service}, which does not exist`, `create service ${b.service}, or point the backend at an existing one (kubectl -n ${ns} get services)`)); continue; }
    const ports = (s.spec?.ports ?? []) as Obj[];
    if (!ports.some((p) => p.port === b.port || p.name === b.port)) {
      problems.push(mk('ingress.backend', 'the backend Service and port exist', 'fail', 'BackendPortMissing', `ingress ${x.ingress} routes to port ${b.port} of service ${b.service}, which has ${ports.map((p) => `${p.port}${p.name ? ` "${p.name}"` : ''}`).join(', ') || 'no ports'}`, `set the backend port to ${ports[0]?.port ?? 'a port of the Service'}`));
      continue;
    }
    if (!isUnavailable(snap.endpointSlices) && selectorOf(s) && !endpointsOf(snap, b.service).some(epReady)) {
      problems.push(mk('ingress.backend', 'the backend Service and port exist', 'fail', 'NoEndpoints', `backend service ${b.service} has no ready endpoints: the controller answers 503`, `see the checks of service ${b.service}`));
    }
  }
  out.push(problems.find((p) => p.status === 'fail') ?? problems[0] ?? mk('ingress.backend', 'the backend Service and port exist', 'pass', 'Ok', `backend ${backends.map((b) => `${b.service}:${b.port}`).join(', ')} has ready endpoints`));
  // TLS.
  for (const t of (ing.spec?.tls ?? []) as Obj[]) {
    if (!t.secretName) continue;
    const e = snap.secrets[t.secretName];
    if (e === undefined || isUnavailable(e)) out.push(e ? skippedFor('ingress.tls', 'the TLS secret exists', e) : mk('ingress.tls', 'the TLS secret exists', 'skipped', 'NotApplicable', 'not looked at'));
    else out.push(e
      ? mk('ingress.tls', 'the TLS secret exists', 'pass', 'Ok', `secret ${t.secretName} exists`)
      : mk('ingress.tls', 'the TLS secret exists', 'fail', 'TlsSecretMissing', `ingress ${x.ingress} names TLS secret ${t.secretName}, which does not exist in ${ns}: HTTPS gets the controller's default certificate`, `kubectl -n ${ns} create secret tls ${t.secretName} --cert=tls.crt --key=tls.key`));
  }
  // Admission.
  out.push(address
    ? mk('ingress.admitted', 'the controller admitted the Ingress', 'pass', 'Ok', `admitted: address ${address}`)
    : mk('ingress.admitted', 'the controller admitted the Ingress', 'fail', 'IngressNotAdmitted', `no Ingress controller has admitted ingress ${x.ingress} (its status has no address)${classProblem ? `: ${classProblem}` : ''}`,
      classProblem ? 'fix the class (above)' : 'check that the Ingress controller runs and watches this namespace and class'));
  return out;
}

export function firstAddress(ing: Obj): string | undefined {
  const i = ((ing.status?.loadBalancer?.ingress ?? []) as Obj[])[0];
  return i?.ip ?? i?.hostname;
}

function hostMatches(rule: string, host: string): boolean {
  if (rule.startsWith('*.')) return host.endsWith(rule.slice(1)) && host.split('.').length === rule.split('.').length;
  return rule.toLowerCase() === host.toLowerCase();
}

function portForwardChecks(x: Extract<K8sCheckExposure, { kind: 'k8s-port-forward' }>, wpods: Obj[] | undefined): Draft[] {
  const ready = (wpods ?? []).filter(podReady);
  if (ready.length === 0) return [];
  const declared = ready.flatMap(containerPorts);
  if (declared.some((c) => c.containerPort === x.port)) return [mk('pod.port', `the pod declares port ${x.port}`, 'pass', 'Ok', `container port ${x.port} is declared`)];
  return [mk('pod.port', `the pod declares port ${x.port}`, 'warn', 'Ok', `no container declares port ${x.port}${declared.length ? ` (they declare ${declared.map((c) => c.containerPort).join(', ')})` : ''}; a port-forward still reaches it if the app listens there`)];
}

/** Every static check of every exposure of the subject. */
export function diagnose(subject: K8sSubject, snap: ClusterSnapshot): Check[] {
  const wpods = workloadPods(subject, snap);
  const wl = workloadChecks(subject, snap, wpods);
  const out: Check[] = [];
  for (const x of subject.exposures) {
    const drafts: Draft[] = [...wl];
    if (x.kind === 'k8s-port-forward') drafts.push(...portForwardChecks(x, wpods));
    else if (x.kind === 'k8s-service') drafts.push(...serviceChecks(x, subject, snap, wpods));
    else if (x.kind === 'k8s-route') drafts.push(...routeChecks(x, subject, snap));
    else drafts.push(...ingressChecks(x, subject, snap));
    for (const d of drafts) out.push({ ...d, exposure: x.id, vantage: 'static' });
  }
  return out;
}

/** The Ready pod an exposure's traffic reaches (for probes through the API server and from inside). */
export function readyPodFor(subject: K8sSubject, snap: ClusterSnapshot, x: K8sCheckExposure): Obj | undefined {
  const pods = list(snap.pods).filter((p) => !isDeleting(p) && podReady(p) && p.status?.podIP);
  if (x.kind === 'k8s-service') {
    const svc = list(snap.services).find((s) => s.metadata?.name === x.service);
    const sel = svc && selectorOf(svc);
    return sel ? pods.find((p) => matchesSelector({ matchLabels: sel }, p.metadata?.labels)) : undefined;
  }
  return (workloadPods(subject, snap) ?? []).find((p) => pods.includes(p));
}
