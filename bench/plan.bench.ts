// Benchmark: evaluating and planning env files.
//   1. a generated 5,000-line env file, evaluated and planned in-process (target ≤ 100 ms);
//   2. `envserve plan` on the proposal's example as a whole process (target ≤ 300 ms),
// each printed beside `node -e 0` measured in the same run.
// Run: npm run build && npm run bench:plan
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { evaluateEnvSource } from '../src/envfile/load.js';
import { planEnvFile } from '../src/plan/from-file.js';

/** A realistic big env file: helper functions, loops, dicts, string methods and many bindings. */
export function generateEnvFile(lines: number): string {
  const out = [
    '# syntax=v1',
    'PORTS = {"jupyter": 8888, "tensorboard": 6006, "mlflow": 5000}',
    'def label(name, i):',
    '    return "{}-{}".format(name.strip().lower(), i)',
    'def pkgs(n):',
    '    return ["pkg%d" % i for i in range(n) if i % 3 != 0]',
    'def build():',
    '    base(os="ubuntu20.04", language="python3")',
    '    config.jupyter(password="pw")',
    '    install.python_packages(name=pkgs(30))',
  ];
  let i = 0;
  let port = 20000;
  const binds = Math.min(200, Math.floor(lines / 25));
  while (out.length + 12 + 1 + binds <= lines) {
    out.push(`def helper_${i}(x, y=2, *args, **kwargs):`);
    out.push(`    total = 0`);
    out.push(`    for k, v in {"a": x, "b": y}.items():`);
    out.push(`        if k.startswith("a") and v > 0:`);
    out.push(`            total += v * 2`);
    out.push(`        elif k in ("b", "c"):`);
    out.push(`            total += len(label(k, v))`);
    out.push(`        else:`);
    out.push(`            pass`);
    out.push(`    parts = ",".join([str(p) for p in range(5)]).split(",")`);
    out.push(`    return total + len(parts) + len(args) + len(kwargs)`);
    out.push(`V_${i} = helper_${i}(${i % 7}, y=${i % 5})`);
    i++;
  }
  out.push('def serve():');
  for (let b = 0; b < binds; b++) {
    out.push(`    host.bind(env_port=${8000 + (b % 100)}, host_port=${port++}, name=label("svc", ${b}))`);
  }
  return out.join('\n') + '\n';
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeProcess(args: string[], runs: number): number {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const p = spawnSync(process.execPath, args, { stdio: 'ignore' });
    if (p.status !== 0) throw new Error(`${args.join(' ')} exited ${p.status}`);
    times.push(performance.now() - t0);
  }
  return median(times);
}

const source = generateEnvFile(5000);
const lineCount = source.split('\n').length - 1; // the file ends with a newline
const inProcess: number[] = [];
for (let r = 0; r < 15; r++) {
  const t0 = performance.now();
  const plan = planEnvFile(evaluateEnvSource('bench/generated.envd', source, { print: () => {} }), 'bench');
  inProcess.push(performance.now() - t0);
  if (plan.exposures.length === 0) throw new Error('generated file planned no exposures');
}
const nodeBaseline = timeProcess(['-e', '0'], 10);
const wholeProcess = timeProcess(['bin/envserve.js', 'plan', '-f', 'testdata/examples/seed-host.envd', '-o', 'json'], 10);

const ms = (x: number) => `${x.toFixed(1)} ms`;
console.log(`evaluate + plan, generated ${lineCount}-line file (median of 15, first run ${ms(inProcess[0]!)}): ${ms(median(inProcess))}   target ≤ 100 ms`);
console.log(`node -e 0 (median of 10):                                 ${ms(nodeBaseline)}`);
console.log(`envserve plan -f seed-host.envd, whole process (median of 10): ${ms(wholeProcess)}   target ≤ 300 ms   (${(wholeProcess / nodeBaseline).toFixed(2)}× node -e 0)`);
