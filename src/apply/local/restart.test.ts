// Restarts of the processes `up` starts: the backoff (1 s doubling to 5 min, reset after 10 min
// up) driven by a fake clock, with real child processes that really exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backoff } from '../backoff.js';
import { ProcessGroup } from './processes.js';
import { PROCESS_BACKOFF, fmtDelay, restartsOf, type Clock } from './restart.js';

/** A clock that stands still until told; timers fire only when the test says so. */
class FakeClock implements Clock {
  t = Date.parse('2026-01-01T00:00:00Z');
  readonly timers: { ms: number; fn: () => void; cancelled: boolean }[] = [];
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { ms, fn, cancelled: false };
    this.timers.push(timer);
    return () => void (timer.cancelled = true);
  }
  /** Moves time to the next timer and fires it. */
  fire(): void {
    const timer = this.timers.shift()!;
    assert.ok(timer && !timer.cancelled, 'a pending restart');
    this.t += timer.ms;
    timer.fn();
  }
}

const opts = () => ({ env: process.env, cwd: tmpdir(), logDir: mkdtempSync(join(tmpdir(), 'envserve-restart-')) });

/** A process group on a fake clock; `changed()` resolves at its next change (an exit, a start). */
function group() {
  const clock = new FakeClock();
  const waiters: (() => void)[] = [];
  const g = new ProcessGroup(() => waiters.splice(0).forEach((w) => w()), clock);
  return { clock, g, changed: () => new Promise<void>((r) => waiters.push(r)) };
}

test('backoff of a crash loop: 1 s, doubling, capped at 5 min; 10 min up resets it', () => {
  const b = new Backoff(PROCESS_BACKOFF);
  let t = 0;
  const delays: number[] = [];
  for (let i = 0; i < 12; i++) {
    b.healthy(t);
    t += 100; // up 0.1 s, then it crashes
    const d = b.next(t);
    delays.push(d / 1000);
    t += d;
  }
  assert.deepEqual(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
  b.healthy(t);
  assert.equal(b.next(t + 599_999), 300_000, 'just under 10 min up: still backing off');
  b.healthy(t + 600_000);
  assert.equal(b.next(t + 1_200_000), 1000, 'after 10 min up: from 1 s again');
  assert.equal(b.next(t + 1_200_100), 2000);
  assert.deepEqual([1000, 4000, 60_000, 256_000, 300_000].map(fmtDelay), ['1 s', '4 s', '1 min', '4 min 16 s', '5 min']);
});

test('a process that keeps exiting is started again after 1 s, 2 s, 4 s; restarts and the last exit are kept', async () => {
  const { clock, g, changed } = group();
  let change = changed();
  const rec = g.start('daemon-1', ['sh', '-c', 'exit 3'], opts(), true);
  try {
    for (const [i, ms] of [1000, 2000, 4000].entries()) {
      while (rec.state === 'running') await change, (change = changed());
      assert.equal(rec.state, 'exited');
      assert.deepEqual(rec.lastExit, { code: 3, at: new Date(clock.t).toISOString() });
      assert.equal(rec.restartAt, new Date(clock.t + ms).toISOString());
      assert.equal(rec.message, `exited with code 3; starting again in ${ms / 1000} s`);
      assert.equal(rec.restarts ?? 0, i);
      assert.deepEqual(clock.timers.map((x) => x.ms), [ms]);
      const pid = rec.pid;
      clock.fire();
      assert.equal(rec.state, 'running');
      assert.notEqual(rec.pid, pid, 'a new process');
      assert.equal(rec.restarts, i + 1);
      assert.equal(rec.restartAt, undefined);
    }
    assert.deepEqual(restartsOf(rec), { restarts: 3, lastExit: rec.lastExit });
    // Up 10 minutes (on the fake clock) before the next exit: the backoff starts over at 1 s.
    clock.t += 600_000;
    while (rec.state === 'running') await change, (change = changed());
    assert.deepEqual(clock.timers.map((x) => x.ms), [1000]);
  } finally {
    await g.stopAll(500);
  }
  assert.equal(clock.timers[0]!.cancelled, true, 'stopping cancels the pending restart');
  assert.equal(rec.restartAt, undefined);
});

test('restart turned off: the process stays down, no restart is scheduled', async () => {
  const { clock, g, changed } = group();
  const change = changed();
  const rec = g.start('daemon-1', ['sh', '-c', 'kill -9 $$'], opts(), false);
  await change;
  assert.equal(rec.state, 'exited');
  assert.equal(rec.message, 'killed by SIGKILL');
  assert.equal(rec.lastExit?.signal, 'SIGKILL');
  assert.equal(rec.restartAt, undefined);
  assert.deepEqual(clock.timers, []);
  assert.deepEqual(restartsOf(rec), { restarts: 0, lastExit: rec.lastExit });
  assert.deepEqual(restartsOf({ state: 'not-installed' }), {});
  await g.stopAll(500);
});
