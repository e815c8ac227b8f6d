// The login gateway's HTTPRoute watch starts once Gateway API is served, not only if it was at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, KubeUnreachableError } from '../../apply/k8s/client.js';
import { whenServed } from './when-served.js';

const GROUP = '/apis/gateway.networking.k8s.io/v1';

/** A client whose answers to the group's discovery are `answers` in turn (the last one repeats). */
function client(answers: ('404' | 'away' | 'ok')[]) {
  let i = 0;
  const asked: string[] = [];
  return {
    asked,
    request: async (path: string) => {
      asked.push(path);
      const a = answers[Math.min(i++, answers.length - 1)];
      if (a === '404') throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource', 'GET', path);
      if (a === 'away') throw new KubeUnreachableError('https://10.96.0.1:443', new Error('connect ECONNREFUSED 10.96.0.1:443'));
      return {};
    },
  };
}

test('served at start: started once, before `first` settles; never asked again', async () => {
  const c = client(['ok']);
  let started = 0;
  const w = whenServed(c as never, GROUP, 10, async () => void started++, () => assert.fail('nothing to say'));
  await w.first;
  assert.equal(started, 1);
  await sleep(50);
  assert.deepEqual(c.asked, [GROUP]);
  w.stop();
});

test('the API server away at start, then served: started on a later look, said once each', async () => {
  const c = client(['away', 'away', 'ok']);
  const said: string[] = [];
  let started = 0;
  const w = whenServed(c as never, GROUP, 10, async () => void started++, (level, m) => said.push(`${level}: ${m}`));
  await w.first;
  assert.equal(started, 0);
  for (let t = 0; t < 100 && started === 0; t++) await sleep(5);
  assert.equal(started, 1);
  assert.equal(c.asked.length, 3);
  assert.equal(said.length, 2, said.join('\n')); // the same failure twice is said once
  assert.match(said[0]!, /^warn: cannot tell whether \/apis\/gateway\.networking\.k8s\.io\/v1 is served: .*ECONNREFUSED.*asking again every 0\.01 s/);
  assert.match(said[1]!, /^info: .*is served now/);
  w.stop();
});

test('not installed (404) until it is: quiet while missing, started once installed; a failed start is tried again', async () => {
  const c = client(['404', '404', 'ok']);
  const said: string[] = [];
  let tries = 0;
  const w = whenServed(c as never, GROUP, 10, async () => {
    if (++tries === 1) throw new Error('list httproutes: 503');
  }, (level, m) => said.push(`${level}: ${m}`));
  await w.first;
  for (let t = 0; t < 100 && tries < 2; t++) await sleep(5);
  assert.equal(tries, 2);
  assert.equal(said.length, 2, said.join('\n'));
  assert.match(said[0]!, /^warn: .*is served, but starting on it failed: list httproutes: 503/);
  assert.match(said[1]!, /^info: .*is served now/);
  await sleep(40);
  assert.equal(tries, 2, 'not started again once it started');
  w.stop();
});

test('stopped: no more looks', async () => {
  const c = client(['404']);
  const w = whenServed(c as never, GROUP, 5, async () => assert.fail('not served'), () => undefined);
  await w.first;
  w.stop();
  const n = c.asked.length;
  await sleep(40);
  assert.equal(c.asked.length, n);
});
