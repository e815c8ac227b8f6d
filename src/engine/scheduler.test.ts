// The controller's default scheduler on real timers, with short intervals (the timing logic
// itself is tested on a fake clock in src/probe/schedule.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackoffScheduler } from './scheduler.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a condition; the deadline is for a broken scheduler, not a measure of speed. */
async function until(fn: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

test('BackoffScheduler: watched exposures back off, unwatched ones stay at the interval, a poke probes at once; nothing after abort', async () => {
  const s = new BackoffScheduler(20, 160);
  const rounds: string[][] = [];
  const ac = new AbortController();
  s.run(async (ids) => {
    rounds.push([...(ids ?? ['<all>'])].sort());
    return new Set<string>(); // nothing ever changes
  }, ac.signal);
  s.sync([{ id: 'watched', watched: true }, { id: 'polled', watched: false }]);
  const t0 = Date.now();
  const count = (id: string) => rounds.filter((r) => r.includes(id)).length;
  try {
    // No bound on how many rounds fit in a time: a loaded machine runs fewer. The design is read
    // off the schedule itself (and the counts are printed).
    await until(() => count('polled') >= 12, 'polled: 12 rounds');
    console.log(`after ${Date.now() - t0} ms: polled ${count('polled')} rounds, watched ${count('watched')}`);
    assert.equal(s.intervalOf('watched'), 160, 'watched backs off to the ceiling');
    assert.ok(count('watched') < count('polled'), `watched backs off: ${count('watched')} rounds, polled ${count('polled')}`);
    const before = count('watched');
    s.poke(['watched']);
    assert.equal(s.intervalOf('watched'), 50, 'a poke resets the back-off');
    await until(() => count('watched') > before, 'a poke probes it');
    s.sync([{ id: 'polled', watched: false }]);
    assert.equal(s.intervalOf('watched'), undefined, 'gone from the controller, gone from the schedule');
  } finally {
    ac.abort();
  }
  const n = rounds.length;
  await sleep(100);
  assert.equal(rounds.length, n, 'no rounds after abort');
});
