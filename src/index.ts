// The public TypeScript API of envserve.
export type * from './plan/types.js';
export { loadEnvFile, evaluateEnvSource, type EnvFile, type LoadOptions } from './envfile/load.js';
export { PRESETS, type Preset } from './plan/presets.js';
export { buildPlan, type Recorded } from './plan/build-plan.js';
export { validatePlan } from './plan/validate.js';
export { planFromFile, planEnvFile, type PlanOptions } from './envfile/from-file.js';
export { renderManifests } from './apply/k8s/manifests.js';
export { SourceError, UserError, RuntimeFailure, IssuesError, type Position } from './errors.js';
export { REASONS, isReasonCode, type ReasonCode, CHECK_ONLY_REASONS, CHECK_REASONS, isCheckReason, type CheckOnlyReason, type CheckReason, OPERATOR_ONLY_REASONS, isOperatorReason, type OperatorOnlyReason, type OperatorReason, ALL_REASONS, type AnyReason } from './reasons.js';

// Running an environment: the controller drives one runtime (this machine, a container engine,
// Kubernetes) from a plan source, and reports a status stream; front ends subscribe.
export { EnvController, type EnvControllerOptions, type EnvControllerEvents, type ReloadEvent } from './engine/controller.js';
export { FilePlanSource, StaticPlanSource, type PlanSource } from './engine/plan-source.js';
export { PeriodicScheduler, type ProbeScheduler, type ProbeRound } from './engine/scheduler.js';
export { StateStore, stateDir, envIdFor, listStates, type StateRecord, type ForwardRecord } from './engine/state.js';
export type { ClusterRecord, OwnedObject } from './status/records.js';
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

// The environment session: what `up`/`serve`, the dashboard and programs open — an env file or a
// plan, a runtime chosen from the options (a Kubernetes target decides), the cluster's plan source,
// the state record and the control socket — and run, stop and close (src/engine/session.ts).
export { openEnvironment, EnvSession, listenersOf, type SessionInput, type SessionOptions, type SessionEvents } from './engine/session.js';
export { runtimeKind, type RuntimeKind } from './engine/session-runtime.js';
export { k8sPlanSource, type K8sSource, type K8sSourceOptions, type OperatorClient, type OperatorVerdict } from './engine/k8s-source.js';
export { MappedPlanSource, type RemoteExposures } from './engine/plan-source.js';
export { TypedEmitter } from './engine/events.js';
export { parseTarget, parseSelector, type TargetSpec } from './apply/k8s/target.js';
export type { K8sRuntimeOptions } from './apply/k8s/runtime.js';
// envserve's operator as the session reaches it (pass it as `operatorClient`; src/operator/client/operator-link.ts).
export { operatorClient } from './operator/client/operator-link.js';

// The cluster side: ops' exposure policies, automatic Ingress, and the operator.
export type { ExposurePolicy, PolicySpec, PolicyReason } from './policy/types.js';
export { parsePolicies, policyFromObject } from './policy/parse.js';
export { evaluatePolicies, type Decision, type Evaluation } from './policy/evaluate.js';
export { planForCluster, admittedPlan, type ClusterPlan } from './policy/cluster-plan.js';
export { addAutoIngress, hostFromTemplate } from './plan/auto-ingress.js';
export { operatorManifests, userRoleManifests } from './operator/manifests.js';
export { Operator, checkCrds } from './operator/controller.js';
export { LeaderElector } from './operator/leader.js';
export { createApiServer } from './operator/api.js';
export { operatorInstalled, submitPlan, waitForVerdict, serveThroughOperator, denialLines, directModePolicyWarnings } from './operator/client/cli-client.js';
export type { ExposureSet, ExposureSetStatus } from './operator/resource.js';
// Why an exposure does not answer: the report `envserve check` prints (-o json), as a library call.
export { runCheck, type CheckOptions } from './check/run.js';
export type { Check, CheckReport, CheckStatus, ExposureVerdict, Vantage as CheckVantage, Verdict } from './check/types.js';
// The dashboard: a page on an environment's status stream (src/ui/).
export { startUiServer, type UiServer, type UiServerOptions } from './ui/server.js';
export type { UiEnvironment, UiSource, UiAction, ActionResult } from './ui/types.js';
