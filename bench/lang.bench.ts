// Benchmark of the language layer: scan + parse + resolve + eval of a generated
// 5,000-line Starlark file. Run: npx tsx bench/lang.bench.ts [lines] [runs]
// Prints the first (cold) run, the median of the warm runs, and a spawned `node -e 0`.

import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Thread, type Host } from '../src/lang/index.js';

/** A deterministic file of about `lines` lines: defs, loops, dicts, lists, string methods, calls. */
export function generate(lines: number): string {
  const out: string[] = ['# syntax=v1', '# generated benchmark input', 'TOTAL = {"n": 0}', ''];
  let i = 0;
  while (out.length < lines - 20) {
    out.push(
      `def helper_${i}(name, port=${8000 + (i % 1000)}, *args, **kwargs):`,
      `    """Helper number ${i}."""`,
      `    parts = name.split("-")`,
      `    label = "-".join([p.upper() for p in parts if p])`,
      `    cfg = {"name": label, "port": port, "tags": ["a", "b", str(len(args))]}`,
      `    for k, v in kwargs.items():`,
      `        cfg[k] = v`,
      `    total = 0`,
      `    for j in range(10):`,
      `        if j % 3 == 0:`,
      `            continue`,
      `        total += j * 2`,
      `    cfg["total"] = total`,
      `    cfg["addr"] = "%s:%d" % (label.lower(), port)`,
      `    cfg["url"] = "http://{}:{}/{}".format("localhost", port, name.replace("-", "/"))`,
      `    return cfg`,
      ``,
      `def user_${i}():`,
      `    c = helper_${i}("svc-${i}-x", ${9000 + (i % 1000)}, 1, 2, mode="dev")`,
      `    names = sorted([k for k in c.keys()], reverse=True)`,
      `    items = [(n, c[n]) for n in names if n != "tags"]`,
      `    s = ", ".join(["%s=%s" % (k, v) for k, v in items])`,
      `    return len(s) + c["total"] + (1 if s.startswith("url") else 0)`,
      ``,
      `R_${i} = user_${i}()`,
      `L_${i} = [x * x for x in range(20)] + [R_${i}]`,
      `D_${i} = {"k%d" % x: x for x in range(10)}`,
      `S_${i} = "  item ${i}  ".strip().title()`,
      '',
    );
    i++;
  }
  out.push(
    'def build():',
    '    n = 0',
    `    for v in [${Array.from({ length: Math.min(i, 50) }, (_, k) => `R_${k}`).join(', ')}]:`,
    '        n += v',
    '    return n',
    '',
    'RESULT = build()',
  );
  return out.join('\n') + '\n';
}

const host: Host = {
  load() {
    throw new Error('no loads in the benchmark');
  },
  print() {},
};

function runOnce(source: string): number {
  const t0 = performance.now();
  const thread = new Thread({ host });
  const globals = thread.execFile('bench.envd', source);
  const t1 = performance.now();
  if (!globals.has('RESULT')) throw new Error('benchmark file did not run to the end');
  return t1 - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function main(): void {
  const lines = Number(process.argv[2] ?? 5000);
  const runs = Number(process.argv[3] ?? 15);
  const source = generate(lines);
  const nlines = source.split('\n').length - 1;

  const cold = runOnce(source);
  const warm: number[] = [];
  for (let r = 0; r < runs; r++) warm.push(runOnce(source));

  const spawns: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    spawns.push(performance.now() - t0);
  }

  const steps = (() => {
    const t = new Thread({ host });
    t.execFile('bench.envd', source);
    return t.steps;
  })();

  console.log(`lang bench: ${nlines} lines, ${source.length} bytes, ${steps} steps`);
  console.log(`  scan+parse+resolve+eval, first (cold) run: ${cold.toFixed(1)} ms`);
  console.log(`  scan+parse+resolve+eval, median of ${runs} warm runs: ${median(warm).toFixed(1)} ms (min ${Math.min(...warm).toFixed(1)}, max ${Math.max(...warm).toFixed(1)})`);
  console.log(`  for comparison, spawning \`node -e 0\`: median ${median(spawns).toFixed(1)} ms`);
  const med = median(warm);
  const node0 = median(spawns);
  console.log(`  relative to \`node -e 0\`: first run ${(cold / node0).toFixed(2)}x, median ${(med / node0).toFixed(2)}x`);
  console.log(`  target: <= 100 ms for the whole pipeline — median ${med <= 100 ? 'met' : 'NOT met'}, first run ${cold <= 100 ? 'met' : 'NOT met'}`);
  console.log(`  (the first run includes V8's JIT warm-up; on a loaded machine both figures vary by 2x)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
