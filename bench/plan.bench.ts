// Benchmark: evaluating and planning env files.
//   1. a generated 5,000-line env file, evaluated and planned in-process (target ≤ 100 ms);
//   2. `envserve plan` on the proposal's example as a whole process (target ≤ 300 ms),
//      printed beside `node -e 0` measured in the same run;
//   3. the hostile corpus (testdata/hostile): small files built to run forever, each stopped by
//      the cost budget — the worst one's time (target < 1 s);
//   4. 10,000 exposures planned and validated (target < 1 s);
//   5. render of 1,000 Services with Ingresses (target < 1 s);
//   6. `envserve render` of an env file of 10,000 bindings as a whole process, cold (target < 1 s).
// Run: npm run build && npm run bench:plan
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { renderManifests } from '../src/apply/k8s/manifests.js';
import { evaluateEnvSource } from '../src/envfile/load.js';
import { planEnvFile } from '../src/envfile/from-file.js';
import { paddedSource, parseGoldenChunks } from '../test/golden.js';

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

// 3. The hostile corpus at the default budget.
const hostile: [string, number, string][] = [];
for (const f of readdirSync('testdata/hostile').filter((x) => x.endsWith('.envd'))) {
  for (const chunk of parseGoldenChunks(`testdata/hostile/${f}`)) {
    const name = /^# (.*)/.exec(chunk.source)?.[1] ?? String(chunk.startLine);
    const t0 = performance.now();
    let end = 'ran to its end';
    try {
      evaluateEnvSource(`testdata/hostile/${f}`, paddedSource(chunk), { print: () => {} });
    } catch (err) {
      end = (err as Error).message.slice(0, 60);
    }
    hostile.push([name, performance.now() - t0, end]);
  }
}
hostile.sort((a, b) => b[1] - a[1]);
console.log(`\nhostile corpus (${hostile.length} small files, default budget), slowest first:`);
for (const [name, t, end] of hostile.slice(0, 5)) console.log(`  ${ms(t).padStart(9)}  ${name}: ${end}`);
console.log(`worst hostile file: ${ms(hostile[0]![1])}   target < 1000 ms   (${(hostile[0]![1] / 1000).toFixed(2)}× the target)`);

// 4. 10,000 exposures: alike labels (ids get suffixes), many listeners on few addresses.
const many = ['def serve():', '    for i in range(10000):', '        host.bind(env_port=8888, host_port=20000 + i, listen_addr=["127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.2"][i % 4])'].join('\n') + '\n';
const manyTimes: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  try {
    planEnvFile(evaluateEnvSource('bench/many.envd', many, { print: () => {} }), 'bench');
  } catch (err) {
    // Some listeners collide on purpose ("::1" twice): validation still checks all 10,000.
    if (!/problem/.test((err as Error).message)) throw err;
  }
  manyTimes.push(performance.now() - t0);
}
console.log(`\n10,000 exposures evaluated, planned and validated (median of 5): ${ms(median(manyTimes))}   target < 1000 ms`);

// 5. Render 1,000 Services, each with an Ingress.
const services = ['def serve():', '    for i in range(1000):', '        cloud.k8s.bind(env_port=8000 + i, type=cloud.k8s.clusterIP, name="service-with-a-rather-long-name-%d" % i, ingress=cloud.k8s.ingress(host="h%d.example.com" % i, path="/x/", annotations={"example.com/k": "v"}))'].join('\n') + '\n';
const servicePlan = planEnvFile(evaluateEnvSource('bench/services.envd', services, { print: () => {} }), 'bench');
const renderTimes: number[] = [];
let objectCount = 0;
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  objectCount = renderManifests(servicePlan, { namespace: 'default' }).length;
  renderTimes.push(performance.now() - t0);
}
console.log(`render of 1,000 Services with Ingresses (${objectCount} objects, median of 5): ${ms(median(renderTimes))}   target < 1000 ms`);

// 6. A whole `envserve render` process on 10,000 bindings, one line each (every run a new process).
const bindings = ['def serve():', ...Array.from({ length: 10_000 }, (_, i) => `    cloud.k8s.bind(env_port=${20000 + i}, type=cloud.k8s.clusterIP, name="svc-${i}")`)].join('\n') + '\n';
const bindingsFile = join(mkdtempSync(join(tmpdir(), 'envserve-bench-')), 'build.envd');
writeFileSync(bindingsFile, bindings);
const renderProcess = timeProcess(['bin/envserve.js', 'render', '-f', bindingsFile], 5);
console.log(`envserve render, 10,000 bindings, whole process (median of 5, Node ${process.version}): ${ms(renderProcess)}   target < 1000 ms   (node -e 0: ${ms(nodeBaseline)})`);
