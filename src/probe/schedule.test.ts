// Unit tests of the probe scheduler, on a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProbeSchedule, type Clock } from './schedule.js';

/** A clock whose time only moves when the test says so. */
class FakeClock implements Clock {
  t = 1_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (id: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== id);
  };
  /** Moves time forward, firing timers in order (and letting their promises settle). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
    await flush();
  }
}
const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

function setup(o: { changedIds?: (ids: string[]) => string[]; jitter?: number; random?: () => number } = {}) {
  const clock = new FakeClock();
  const log: { at: number; ids: string[] }[] = [];
  const s = new ProbeSchedule({
    clock,
    minMs: 2000,
    maxMs: 30_000,
    jitter: o.jitter ?? 0,
    ...(o.random ? { random: o.random } : {}),
    probe: async (ids) => {
      log.push({ at: clock.t, ids: [...ids].sort() });
      return new Set(o.changedIds ? o.changedIds(ids) : []);
    },
  });
  return { clock, log, s };
}

test('nothing changes: probes back off 2, 4, 8, 16, 30, 30 s, and all exposures go in one round', async () => {
  const seen = new Set<string>(); // the first result of an exposure is a change (from nothing)
  const { clock, log, s } = setup({ changedIds: (ids) => ids.filter((id) => !seen.has(id) && seen.add(id)) });
  for (const id of ['a', 'b', 'c']) s.add(id);
  await clock.advance(120_000);
  const t0 = log[0]!.at;
  assert.deepEqual(log.map((r) => (r.at - t0) / 1000).slice(0, 8), [0, 2, 6, 14, 30, 60, 90, 120]);
  assert.ok(log.every((r) => r.ids.join() === 'a,b,c'), 'one round for the three');
  const gaps = log.slice(1).map((r, i) => r.at - log[i]!.at);
  assert.ok(Math.max(...gaps) <= 30_000, 'never more than 30 s apart');
  s.stop();
});

test('with jitter the interval is shortened, never lengthened past 30 s', async () => {
  let r = 0;
  const { clock, log, s } = setup({ jitter: 0.2, random: () => (r = (r + 0.37) % 1) });
  s.add('a');
  await clock.advance(600_000);
  const gaps = log.slice(1).map((x, i) => x.at - log[i]!.at);
  assert.ok(gaps.every((g) => g <= 30_000), `gaps ${gaps}`);
  assert.ok(gaps.slice(6).some((g) => g < 30_000) && gaps.slice(6).every((g) => g >= 24_000), `jittered within 20 %: ${gaps}`);
  s.stop();
});

test('a change probes within the debounce and resets the interval to 2 s; only the changed exposure', async () => {
  const { clock, log, s } = setup();
  s.add('a');
  s.add('b');
  await clock.advance(60_000); // backed off to 30 s by now
  const before = log.length;
  s.changed(['b']);
  await clock.advance(100);
  assert.equal(log.length, before + 1);
  assert.deepEqual(log.at(-1)!.ids, ['b']);
  assert.equal(s.intervalOf('b'), 4000, 'after the probe that followed the change: 2 s doubled once (unchanged result)');
  assert.equal(s.intervalOf('a'), 30_000);
  s.stop();
});

test('a result that changed keeps probing every 2 s', async () => {
  let flapping = true;
  const { clock, log, s } = setup({ changedIds: (ids) => (flapping ? ids : []) });
  s.add('a');
  await clock.advance(10_000);
  assert.deepEqual(log.map((r) => r.at - log[0]!.at), [0, 2000, 4000, 6000, 8000, 10_000]);
  flapping = false;
  await clock.advance(20_000);
  assert.deepEqual(log.slice(6).map((r) => r.at - log[0]!.at), [12_000, 16_000, 24_000]);
  s.stop();
});

test('probeNow probes at once and resolves when done; removed exposures are not probed', async () => {
  const { clock, log, s } = setup();
  s.add('a');
  s.add('b');
  await clock.advance(10);
  const n = log.length;
  await s.probeNow(['b']);
  assert.equal(log.length, n + 1);
  assert.deepEqual(log.at(-1)!.ids, ['b']);
  s.remove('a');
  await clock.advance(60_000);
  assert.ok(log.slice(n).every((r) => !r.ids.includes('a')));
  s.stop();
  const m = log.length;
  await clock.advance(60_000);
  assert.equal(log.length, m, 'stopped: nothing more');
});

test('a change during a probe round is probed again after it', async () => {
  const clock = new FakeClock();
  const log: number[] = [];
  let release!: () => void;
  const s = new ProbeSchedule({
    clock, jitter: 0,
    probe: async () => {
      log.push(clock.t);
      if (log.length === 2) await new Promise<void>((r) => (release = r));
      return new Set<string>();
    },
  });
  s.add('a');
  await clock.advance(4000); // second round starts and hangs
  assert.equal(log.length, 2);
  s.changed(['a']);
  release();
  await clock.advance(100);
  assert.equal(log.length, 3, 'the change is probed right after the round that was running');
  s.stop();
});

test('an exposure added with a lower ceiling is polled at that ceiling', async () => {
  const { clock, log, s } = setup();
  s.add('watched');
  s.add('polled', 2000);
  await clock.advance(60_000);
  const polled = log.filter((r) => r.ids.includes('polled')).length;
  const watched = log.filter((r) => r.ids.includes('watched')).length;
  assert.ok(polled >= 29 && watched <= 7, `polled ${polled}, watched ${watched}`);
  s.stop();
});
