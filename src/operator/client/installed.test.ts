// The CLI sends cluster exposures to the operator only when the ExposureSet resource is served:
// another envserve kind alone in the group (the Login CRD of issue 22) is not an operator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError } from '../../apply/k8s/client.js';
import { operatorInstalled } from './cli-client.js';

const answering = (body: unknown) => ({ request: async <T>() => body as T });

test('operatorInstalled: true with exposuresets served, false with only logins or without the group', async () => {
  assert.equal(await operatorInstalled(answering({ resources: [{ name: 'exposuresets' }, { name: 'exposuresets/status' }, { name: 'exposurepolicies' }] })), true);
  assert.equal(await operatorInstalled(answering({ resources: [{ name: 'logins' }] })), false);
  assert.equal(await operatorInstalled({ request: async () => { throw new KubeApiError(404, 'NotFound', 'not found', 'GET', '/apis/envserve.dev/v1alpha1'); } }), false);
});
