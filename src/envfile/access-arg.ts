// `access=` of cloud.k8s.bind (issue 22): who may open the binding's URL. Kept apart from the
// other keywords of the builtin so its checks stay in one place.
import { didYouMean, safeText } from '../errors.js';
import { EvalError, toStr } from '../lang/index.js';
import { ACCESS_LEVELS, isAccessLevel } from '../plan/access.js';
import type { AccessLevel } from '../plan/types.js';
import { given, type Args } from './define.js';

/** The binding's access level, or undefined when not given; refused where there is no URL to guard. */
export function accessArg(fn: string, a: Args, o: { portForward: boolean; noIngress: boolean }): AccessLevel | undefined {
  if (!given(a.access)) return undefined;
  const v = toStr(fn, 'access', a.access!);
  if (!isAccessLevel(v)) {
    throw new EvalError(`${fn}: access must be ${ACCESS_LEVELS.map((l) => `"${l}"`).join(', ')}, got ${safeText(JSON.stringify(v))}`, didYouMean(v, ACCESS_LEVELS));
  }
  if (o.portForward) {
    throw new EvalError(`${fn}: access applies to a URL (an Ingress); a port-forward (host_port) is private to whoever runs it (it binds 127.0.0.1)`);
  }
  if (o.noIngress) throw new EvalError(`${fn}: access applies to the Service's URL, and ingress=False gives it none`);
  return v;
}
