import test from 'node:test';
import assert from 'node:assert/strict';
import { changes } from './format.js';
import type { ContainerRecord, EnvStatus, ProcessRecord } from './types.js';

function status(over: { container?: ContainerRecord; processes?: ProcessRecord[] }): EnvStatus {
  return {
    apiVersion: 'envserve/v1', kind: 'Status', envId: 'e-1', envName: 'e', envFile: '/e/build.envd',
    runtime: 'docker', mode: 'up', pid: 1, startedAt: '2026-12-06T10:00:00.000Z',
    processes: over.processes ?? [], container: over.container, exposures: [], notes: [],
  } as EnvStatus;
}
const container = (c: Partial<ContainerRecord>): ContainerRecord => ({ id: 'abc', name: 'envserve-x', image: 'img', engine: 'sock', owned: true, state: 'running', ...c });
const exit137 = { code: 137, at: '2026-12-06T10:00:05.000Z' };

test('the live view shows a container exit that the engine reports after the restart', () => {
  const before = status({ container: container({ restarts: 0 }) });
  const restarted = status({ container: container({ restarts: 1 }) });
  const exitKnown = status({ container: container({ restarts: 1, lastExit: exit137 }) });
  assert.deepEqual(changes(before, restarted), ['container envserve-x: running; restarts 1']);
  assert.deepEqual(changes(restarted, exitKnown), ['container envserve-x: running; restarts 1, last exit code 137 at 10:00:05']);
  assert.deepEqual(changes(exitKnown, exitKnown), [], 'nothing new, no line');
});

test("the live view shows a process's exit that lands after its restart count", () => {
  const p = (over: Partial<ProcessRecord>): ProcessRecord => ({ name: 'web', argv: ['web'], state: 'running', pid: 7, ...over });
  const restarted = status({ processes: [p({ restarts: 1 })] });
  const exitKnown = status({ processes: [p({ restarts: 1, lastExit: { signal: 'SIGKILL', at: exit137.at } })] });
  assert.deepEqual(changes(restarted, exitKnown), ['process web: running pid 7; restarts 1, last exit SIGKILL at 10:00:05']);
  assert.deepEqual(changes(exitKnown, exitKnown), []);
});
