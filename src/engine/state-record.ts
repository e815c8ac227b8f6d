// State-record writing: the EnvState record `status` and `down` read, composed from the status,
// the runtime's resources and the listeners of the exposures this envserve holds.
import type { EnvStatus } from '../status/types.js';
import type { ExposureHandle, Runtime } from '../apply/types.js';
import type { OwnedObject } from '../status/records.js';
import type { ForwardRecord, StateRecord } from './state.js';

export interface RecordInput {
  status: EnvStatus;
  runtime: Runtime;
  handles: Iterable<ExposureHandle>;
  owned: OwnedObject[];
  controlSocket: string | undefined;
  /** Set once the controller stopped (`serve` leaves its cluster objects for `down`): no forwards. */
  stoppedAt?: string | undefined;
}

export function stateRecord({ status: s, runtime, handles, owned, controlSocket, stoppedAt }: RecordInput): StateRecord {
  const res = runtime.resources();
  const forwards: ForwardRecord[] = [...handles]
    .filter((h) => h.spec.kind === 'host' || h.spec.kind === 'k8s-port-forward')
    .map((h) => ({ id: h.spec.id, address: h.listen.address, port: h.listen.port }));
  return {
    apiVersion: 'envserve/v1',
    kind: 'EnvState',
    envId: s.envId,
    envName: s.envName,
    envFile: s.envFile,
    runtime: s.runtime,
    mode: s.mode,
    pid: s.pid,
    ...(s.pidStartTime !== undefined && { pidStartTime: s.pidStartTime }),
    startedAt: s.startedAt,
    controlSocket: controlSocket ?? '',
    ...(res.cluster && { cluster: res.cluster }),
    owned,
    processes: res.processes,
    ...(res.container && { container: res.container }),
    forwards: stoppedAt ? [] : forwards,
    ...(stoppedAt && { stoppedAt }),
    status: s,
  };
}
