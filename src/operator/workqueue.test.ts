// The work queue with a fake clock: de-duplication, a key never in two workers at once, backoff
// that grows per failure and starts over after a success, and requeue-after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue, type Clock } from './workqueue.js';

class FakeClock implements Clock {
  t = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => { timer.live = false; };
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = due.at;
      due.live = false;
      due.fn();
    }
    this.t = end;
  }
  get pending(): number {
    return this.timers.filter((x) => x.live).length;
  }
}

/** The keys a worker could take right now, without waiting. */
async function drain(q: WorkQueue): Promise<string[]> {
  const out: string[] = [];
  while (q.length) out.push((await q.get())!);
  return out;
}

test('work queue: a key added many times is handed out once, in the order first added', async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  for (const k of ['a', 'b', 'a', 'c', 'b', 'a']) q.add(k);
  assert.equal(q.length, 3);
  assert.deepEqual(await drain(q), ['a', 'b', 'c']);
});

test('work queue: a key in flight that is added again is not handed to another worker; it comes back once after done()', async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  q.add('a');
  const first = await q.get();
  assert.equal(first, 'a');
  q.add('a');
  q.add('a');
  q.add('b');
  assert.deepEqual(await drain(q), ['b'], 'a is in flight: only b may be taken');
  q.done('b');
  q.done('a');
  assert.deepEqual(await drain(q), ['a'], 'a again, once');
  q.done('a');
  assert.equal(q.length, 0);
  assert.equal(q.inFlight, 0);
});

test('work queue: a waiting worker gets the key as soon as it is added, and an abort frees the waiter', async () => {
  const q = new WorkQueue({ clock: new FakeClock() });
  const got = q.get();
  q.add('x');
  assert.equal(await got, 'x');
  const ac = new AbortController();
  const none = q.get(ac.signal);
  ac.abort();
  assert.equal(await none, undefined);
  q.add('y');
  assert.equal(q.length, 1, 'the aborted waiter took nothing');
});

test('work queue: per-key backoff doubles per failure up to the cap, and a success resets it', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock, baseDelayMs: 100, maxDelayMs: 1000 });
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    q.add('k');
    const k = (await q.get())!;
    delays.push(q.addRateLimited(k));
    q.done(k);
    // Not back before its delay ...
    clock.advance(delays.at(-1)! - 1);
    assert.equal(q.length, 0, `failure ${i + 1}: not before ${delays.at(-1)} ms`);
    // ... and back at it.
    clock.advance(1);
    assert.equal(q.length, 1, `failure ${i + 1}: back after ${delays.at(-1)} ms`);
    await drain(q);
    q.done('k');
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  // Another key has its own count.
  assert.equal(q.addRateLimited('other'), 100);
  q.forget('k');
  assert.equal(q.failuresOf('k'), 0);
  assert.equal(q.addRateLimited('k'), 100, 'after a success the next failure waits the base delay again');
});

test('work queue: addAfter adds the key later; the earlier of two pending delays wins; shutDown drops them', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock });
  q.addAfter('a', 1000);
  q.addAfter('a', 5000); // later: ignored
  q.addAfter('b', 3000);
  q.addAfter('b', 500); // earlier: replaces
  clock.advance(499);
  assert.equal(q.length, 0);
  clock.advance(1);
  assert.deepEqual(await drain(q), ['b']);
  q.done('b');
  clock.advance(500);
  assert.deepEqual(await drain(q), ['a']);
  q.done('a');
  clock.advance(10_000);
  assert.equal(q.length, 0, 'each delayed add happened once');
  q.addAfter('c', 100);
  q.addAfter('d', 0); // no delay: at once
  assert.equal(q.length, 1);
  q.shutDown();
  assert.equal(clock.pending, 0);
  clock.advance(1000);
  assert.equal(q.length, 1, 'nothing is added after shutDown');
  q.add('e');
  assert.equal(q.length, 1);
});
