// envserve's operator as the engine's session reaches it (the OperatorClient it takes): the client
// half of src/operator/ — detection by its API group, the plan source that submits ExposureSets,
// the direct mode's policy warnings — behind the engine's interface, so that the engine imports
// nothing of the operator (it sits a layer below). `up`/`serve` and library users pass it.
import type { OperatorClient } from '../../engine/k8s-source.js';
import { denialLines, directModePolicyWarnings, operatorInstalled, versionSkew } from './cli-client.js';
import { operatorPlanSource } from './plan-source.js';

export const operatorClient: OperatorClient = {
  installed: (client) => operatorInstalled(client),
  policyWarnings: (client, plan, namespace) => directModePolicyWarnings(client, plan, namespace),
  planSource: (inner, client, namespace, o) =>
    operatorPlanSource(inner, client, namespace, {
      signal: o.signal,
      ...(o.selector && { selector: o.selector }),
      onVerdict: ({ set, verdict, localPlan }) => {
        if (verdict.state === 'NoOperator') return;
        const skew = versionSkew(verdict.status);
        o.onVerdict({
          set: `${namespace}/${set.metadata.name}`,
          state: verdict.state,
          ...(verdict.status.observedGeneration !== undefined && { generation: verdict.status.observedGeneration }),
          exposures: (verdict.status.exposures ?? [])
            .filter((e) => e.kind !== 'k8s-port-forward')
            .map((e) => ({ id: e.id, kind: e.kind, reason: e.reason, ...(e.url !== undefined && { url: e.url }), ...(e.addresses && { addresses: e.addresses }) })),
          denials: verdict.state === 'Denied' ? denialLines(verdict.status) : [],
          forwards: localPlan.exposures.filter((e) => e.kind === 'k8s-port-forward').map((e) => e.id),
          ...(skew && { skew }),
        });
      },
    }),
};
