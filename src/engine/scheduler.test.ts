// The controller's default scheduler on real timers, with short intervals (the timing logic
// itself is tested on a fake clock in src/probe/schedule.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackoffScheduler } from './scheduler.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('BackoffScheduler: watched exposures back off, unwatched ones stay at the interval, a poke probes at once; nothing after abort', async () => {
  const s = new BackoffScheduler(20, 160);
  const rounds: string[][] = [];
  const ac = new AbortController();
  s.run(async (ids) => {
    rounds.push([...(ids ?? ['<all>'])].sort());
    return new Set<string>(); // nothing ever changes
  }, ac.signal);
  s.sync([{ id: 'watched', watched: true }, { id: 'polled', watched: false }]);
  try {
    await sleep(700);
    const count = (id: string) => rounds.filter((r) => r.includes(id)).length;
    assert.ok(count('polled') >= 12, `polled every 20 ms: ${count('polled')} rounds`);
    assert.ok(count('watched') <= 8, `watched backs off to 160 ms: ${count('watched')} rounds`);
    assert.equal(s.intervalOf('watched'), 160);
    const before = count('watched');
    s.poke(['watched']);
    await sleep(80); // 50 ms debounce
    assert.ok(count('watched') > before, 'a poke probes it now');
    s.sync([{ id: 'polled', watched: false }]);
    assert.equal(s.intervalOf('watched'), undefined, 'gone from the controller, gone from the schedule');
  } finally {
    ac.abort();
  }
  const n = rounds.length;
  await sleep(100);
  assert.equal(rounds.length, n, 'no rounds after abort');
});
