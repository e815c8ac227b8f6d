// The public TypeScript API of envserve.
export type * from './plan/types.js';
export { loadEnvFile, evaluateEnvSource, type EnvFile, type LoadOptions } from './envfile/load.js';
export { PRESETS, type Preset } from './envfile/presets.js';
export { buildPlan, type Recorded } from './plan/build-plan.js';
export { validatePlan } from './plan/validate.js';
export { planFromFile, planEnvFile, type PlanOptions } from './plan/from-file.js';
export { renderManifests } from './apply/k8s/manifests.js';
export { SourceError, UserError, RuntimeFailure, IssuesError, type Position } from './errors.js';
export { REASONS, isReasonCode, type ReasonCode } from './reasons.js';

// Running an environment: the controller drives one runtime (this machine, a container engine,
// Kubernetes) from a plan source, and reports a status stream; front ends subscribe.
export { EnvController, type EnvControllerOptions, type EnvControllerEvents, type ReloadEvent } from './engine/controller.js';
export { FilePlanSource, StaticPlanSource, type PlanSource } from './engine/plan-source.js';
export { PeriodicScheduler, type ProbeScheduler, type ProbeRound } from './engine/scheduler.js';
export { StateStore, stateDir, envIdFor, listStates, type StateRecord, type ClusterRecord, type OwnedObject, type ForwardRecord } from './engine/state.js';
export { ControlServer, ControlClient, type ControlEvent } from './engine/control.js';
export { down, staleReason } from './engine/down.js';
export * as prober from './probe/index.js';
export type { ProbeTarget, ProbeResult, Vantage, VantagedTarget, ObservedExposure } from './probe/index.js';
export type { Runtime, ExposureHandle, HandleCondition, StartOptions, RuntimeResources } from './apply/types.js';
export { LocalRuntime } from './apply/local/runtime.js';
export { DockerRuntime } from './apply/docker/runtime.js';
export { K8sRuntime } from './apply/k8s/runtime.js';
export { TcpProxy } from './apply/local/proxy.js';
export type * from './status/types.js';
