// The public TypeScript API of envserve.
export type * from './plan/types.js';
export { loadEnvFile, evaluateEnvSource, type EnvFile, type LoadOptions } from './envfile/load.js';
export { PRESETS, type Preset } from './envfile/presets.js';
export { buildPlan, type Recorded } from './plan/build-plan.js';
export { validatePlan } from './plan/validate.js';
export { planFromFile, planEnvFile, type PlanOptions } from './plan/from-file.js';
export { renderManifests } from './apply/k8s/manifests.js';
export { SourceError, UserError, RuntimeFailure, IssuesError, type Position } from './errors.js';
