// The whole front half in one call: read an env file, plan it, validate it.
import { basename, dirname } from 'node:path';
import { IssuesError, UserError } from '../errors.js';
import { isDns1123Label, NAME_RULES } from '../plan/k8s-names.js';
import { loadEnvFile, type EnvFile, type LoadOptions } from './load.js';
import { buildPlan, envNameFrom } from '../plan/build-plan.js';
import type { Plan } from '../plan/types.js';
import { validatePlan } from '../plan/validate.js';

export interface PlanOptions extends LoadOptions {
  /** The environment's name (default: the env file's directory name, as envd does). */
  envName?: string;
}

/** Plans an env file and validates the plan; throws a UserError for a bad file or an invalid plan. */
export function planFromFile(path: string, opts: PlanOptions = {}): Plan {
  return planEnvFile(loadEnvFile(path, opts), opts.envName);
}

export function planEnvFile(file: EnvFile, envName?: string): Plan {
  if (envName !== undefined && !isDns1123Label(envName)) {
    // It names containers, Kubernetes objects and their labels.
    throw new UserError(`--name ${JSON.stringify(envName)} is not a valid environment name`, `a name is ${NAME_RULES.label}, e.g. "my-env"`);
  }
  const name = envName ?? envNameFrom(basename(dirname(file.absolutePath)));
  const plan = buildPlan(file.path, name, file.rec);
  const result = validatePlan(plan);
  if (!result.ok) {
    throw new IssuesError(
      result.issues.map((i) => {
        const m = i.position ? /^(.*):(\d+):\d+$/.exec(i.position) : null;
        const lineText = m ? file.sourceLine?.(m[1]!, Number(m[2])) : undefined;
        return lineText === undefined ? i : { ...i, lineText };
      }),
    );
  }
  return plan;
}
