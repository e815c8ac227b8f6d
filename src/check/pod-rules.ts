// The pod rules of `check`: is a pod Ready, and if not why (image, crash loop, probes,
// scheduling), and the workload checks that come first for every exposure.
import type { CheckReason } from '../reasons.js';
import { isUnavailable, type ClusterSnapshot, type Obj } from './snapshot.js';
import type { K8sSubject } from './subject.js';
import { labelText, matchesSelector, type LabelSelector } from './selectors.js';
import { isDeleting, mk, podName, skippedFor, type Draft } from './draft.js';

export function podReady(p: Obj): boolean {
  return ((p.status?.conditions ?? []) as Obj[]).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Why a pod is not Ready, in the words of its status: scheduling, image, crash loop, readiness probe. */
export function whyNotReady(p: Obj, ns: string): { reason: CheckReason; message: string; fix: string } {
  const name = podName(p);
  const conds = (p.status?.conditions ?? []) as Obj[];
  const sched = conds.find((c) => c.type === 'PodScheduled');
  if (sched?.status === 'False') {
    return { reason: 'Unschedulable', message: `pod ${name} is not scheduled: ${sched.message ?? sched.reason ?? 'no node fits'}`, fix: `kubectl -n ${ns} describe pod ${name} (node resources, selectors, taints)` };
  }
  const specs = new Map<string, Obj>(((p.spec?.containers ?? []) as Obj[]).map((c) => [c.name, c]));
  for (const cs of (p.status?.containerStatuses ?? []) as Obj[]) {
    const w = cs.state?.waiting;
    if (w && /ImagePull|ErrImage|InvalidImageName|ImageNeverPull/.test(w.reason ?? '')) {
      return {
        reason: 'ImagePullFailed',
        message: `container ${cs.name} of pod ${name}: image ${cs.image ?? specs.get(cs.name)?.image ?? '?'} cannot be pulled (${w.reason}${w.message ? `: ${w.message}` : ''})`,
        fix: 'check the image name and tag, and that the cluster may pull it (imagePullSecrets, a registry it reaches)',
      };
    }
    if (w?.reason === 'CrashLoopBackOff') {
      const last = cs.lastState?.terminated;
      return {
        reason: 'CrashLoop',
        message: `container ${cs.name} of pod ${name} keeps exiting (${cs.restartCount ?? 0} restarts${last ? `, last exit code ${last.exitCode}${last.reason ? ` ${last.reason}` : ''}` : ''})`,
        fix: `read why: kubectl -n ${ns} logs ${name} -c ${cs.name} --previous`,
      };
    }
    if (w) {
      return { reason: 'ContainerNotRunning', message: `container ${cs.name} of pod ${name} is waiting: ${w.reason ?? ''}${w.message ? `: ${w.message}` : ''}`, fix: `kubectl -n ${ns} describe pod ${name}` };
    }
    if (cs.state?.terminated) {
      const t = cs.state.terminated;
      return { reason: 'ContainerNotRunning', message: `container ${cs.name} of pod ${name} has exited (code ${t.exitCode}${t.reason ? `, ${t.reason}` : ''})`, fix: `kubectl -n ${ns} logs ${name} -c ${cs.name}` };
    }
    if (cs.state?.running && cs.ready === false) {
      const probe = specs.get(cs.name)?.readinessProbe as Obj | undefined;
      if (probe) {
        return {
          reason: 'ReadinessProbeFailing',
          message: `container ${cs.name} of pod ${name} runs, but its readiness probe (${describeProbe(probe)}) fails`,
          fix: `the app does not answer its readiness probe: check that it listens on 0.0.0.0 at that port (kubectl -n ${ns} logs ${name} -c ${cs.name}; kubectl -n ${ns} describe pod ${name})`,
        };
      }
    }
  }
  const ready = conds.find((c) => c.type === 'Ready');
  return {
    reason: 'PodNotReady',
    message: `pod ${name} is not Ready (phase ${p.status?.phase ?? '?'}${ready?.reason ? `, ${ready.reason}` : ''}${ready?.message ? `: ${ready.message}` : ''})`,
    fix: `kubectl -n ${ns} describe pod ${name}`,
  };
}

function describeProbe(p: Obj): string {
  if (p.httpGet) return `HTTP GET :${p.httpGet.port}${p.httpGet.path ?? '/'}`;
  if (p.tcpSocket) return `TCP :${p.tcpSocket.port}`;
  if (p.grpc) return `gRPC :${p.grpc.port}`;
  if (p.exec) return `exec ${(p.exec.command ?? []).join(' ')}`;
  return 'probe';
}

/** The pods the subject's workload is, or undefined when it names none. */
export function workloadPods(subject: K8sSubject, snap: ClusterSnapshot): Obj[] | undefined {
  const w = subject.workload;
  if (!w || isUnavailable(snap.pods)) return undefined;
  const pods = snap.pods.filter((p) => !isDeleting(p));
  if (w.kind === 'pod') return pods.filter((p) => podName(p) === w.name);
  const labels = w.kind === 'selector' ? w.labels : w.labels ?? (snap.deployment && !isUnavailable(snap.deployment) ? snap.deployment.spec?.selector?.matchLabels : undefined);
  if (!labels) return [];
  const sel: LabelSelector = w.kind === 'deployment' && snap.deployment && !isUnavailable(snap.deployment) ? snap.deployment.spec?.selector ?? { matchLabels: labels } : { matchLabels: labels };
  return pods.filter((p) => matchesSelector(sel, p.metadata?.labels));
}

export function workloadChecks(subject: K8sSubject, snap: ClusterSnapshot, pods: Obj[] | undefined): Draft[] {
  const w = subject.workload;
  const ns = subject.namespace;
  if (!w) return [];
  if (isUnavailable(snap.pods)) return [skippedFor('workload.pods', 'the workload has Ready pods', snap.pods)];
  const what = w.kind === 'selector' ? `pods with ${labelText(w.labels)}` : `${w.kind} ${w.name}`;
  const out: Draft[] = [];
  if (w.kind === 'deployment') {
    if (isUnavailable(snap.deployment)) out.push(skippedFor('workload.exists', `deployment ${w.name} exists`, snap.deployment));
    else if (snap.deployment === null) {
      out.push(mk('workload.exists', `deployment ${w.name} exists`, 'fail', 'WorkloadNotFound', `deployment ${ns}/${w.name} does not exist`, w.labels ? 'start the environment: envserve up --runtime k8s' : `check the name: kubectl -n ${ns} get deployments`));
      return out;
    } else out.push(mk('workload.exists', `deployment ${w.name} exists`, 'pass', 'Ok', `deployment ${ns}/${w.name} exists`));
  }
  const ps = pods ?? [];
  if (ps.length === 0) {
    out.push(w.kind === 'pod'
      ? mk('workload.pods', 'the workload has Ready pods', 'fail', 'WorkloadNotFound', `pod ${ns}/${w.name} does not exist`, `check the name: kubectl -n ${ns} get pods`)
      : mk('workload.pods', 'the workload has Ready pods', 'fail', 'NoPods', `${what} has no pods`, `kubectl -n ${ns} describe ${w.kind === 'deployment' ? `deployment ${w.name}` : 'pods'} (replicas, quota, events)`));
    return out;
  }
  const ready = ps.filter(podReady);
  if (ready.length > 0) {
    out.push(mk('workload.pods', 'the workload has Ready pods', 'pass', 'Ok', `${ready.length} of ${ps.length} pod${ps.length === 1 ? '' : 's'} Ready (${ready.slice(0, 3).map(podName).join(', ')})`));
  } else {
    const why = whyNotReady(ps[0]!, ns);
    out.push(mk('workload.pods', 'the workload has Ready pods', 'fail', why.reason, `no pod of ${what} is Ready: ${why.message}`, why.fix));
  }
  return out;
}
