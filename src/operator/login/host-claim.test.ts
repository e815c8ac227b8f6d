import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostClaimManifests, HOST_CLAIM_POLICY } from './host-claim.js';
import { operatorManifests } from '../manifests.js';

test('the host claim exempts exactly the operator\'s namespace and ServiceAccount, reads every ExposurePolicy, and fails closed', () => {
  const [policy, binding] = hostClaimManifests({ namespace: 'ops', serviceAccount: 'envserve-operator' }) as any[];
  assert.equal(policy.spec.failurePolicy, 'Fail');
  assert.deepEqual(policy.spec.paramKind, { apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy' });
  assert.deepEqual(policy.spec.matchConstraints.namespaceSelector, { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['ops'] }] });
  assert.deepEqual(policy.spec.matchConditions, [{ name: 'not-the-operator', expression: "request.userInfo.username != 'system:serviceaccount:ops:envserve-operator'" }]);
  assert.deepEqual(policy.spec.matchConstraints.resourceRules.map((r: any) => [r.apiGroups[0], r.resources[0], r.operations]), [
    ['networking.k8s.io', 'ingresses', ['CREATE', 'UPDATE']],
    ['gateway.networking.k8s.io', 'httproutes', ['CREATE', 'UPDATE']],
  ]);
  assert.deepEqual(binding.spec, { policyName: HOST_CLAIM_POLICY, paramRef: { selector: {}, parameterNotFoundAction: 'Allow' }, validationActions: ['Deny'] });
});

test('`envserve operator manifests` carries the host claim for its namespace, after the ExposurePolicy CRD', () => {
  const objs = operatorManifests({ namespace: 'ops' }) as any[];
  const i = objs.findIndex((o) => o.kind === 'ValidatingAdmissionPolicy' && o.metadata.name === HOST_CLAIM_POLICY);
  assert.ok(i > objs.findIndex((o) => o.metadata.name === 'exposurepolicies.envserve.dev'));
  assert.deepEqual(objs[i].spec.matchConstraints.namespaceSelector.matchExpressions[0].values, ['ops']);
});
