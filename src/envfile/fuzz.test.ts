// Seeded fuzzing of the whole front half (language → builtins → plan → validation): for every
// input, planning either succeeds or fails with a positioned error. Never another exception,
// never a hang. FUZZ_SEED and FUZZ_N override the defaults.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { IssuesError, SourceError, UserError } from '../errors.js';
import { SourceErrorList } from '../lang/index.js';
import { planEnvFile } from './from-file.js';
import { evaluateEnvSource } from './load.js';
import { mulberry32 } from '../../test/helpers/prng.js';
import { relative, resolve } from 'node:path';

const SEED = Number(process.env.FUZZ_SEED ?? 20261121);
const N = Number(process.env.FUZZ_N ?? 10_000);

const corpus = ['testdata/examples', 'testdata/envfile']
  .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.envd')).map((f) => readFileSync(`${d}/${f}`, 'utf8')))
  .flatMap((s) => s.split(/^---$/m));

const TOKENS = [
  'def', 'serve', 'build', '(', ')', ':', '\n', '    ', 'host.bind', 'cloud.k8s.bind', 'cloud.k8s.ingress', 'presets.jupyter.port',
  'env_port=', 'host_port=', 'type=', 'cloud.k8s.nodePort', 'node_port=', 'service_port=', 'ingress=', 'listen_addr=',
  '8888', '0', '-1', '70000', '30080', '"x"', '"0.0.0.0"', "'''", '"', '[', ']', '{', '}', ',', '=', '+', '*', '**', 'for',
  'in', 'if', 'else', 'return', 'range(10)', 'load("a.envd", "x")', 'lambda', 'None', 'True', '.', 'x', '#', '\\', '\t',
  'while', 'base(image="i")', 'config.jupyter(password="p")', 'runtime.expose(envd_port=', '%', '//', '1e309', '0x',
  // load(): modules that exist, cycles, and paths that must be refused
  'load("lib.envd", "PORT")\n', 'load("sub/deep.envd", "x")\n', 'load("../outside.envd", "x")\n', 'load("/etc/passwd", "x")\n',
  'load("fuzz/build.envd", "x")\n', 'load("./lib.envd", P="PORT")\n', 'load("", "x")\n', 'load("lib.envd")\n',
];

/** The files load() may read in the fuzz test (in memory): a module, a nested one, a cycle back. */
const FILES: Record<string, string> = {
  'lib.envd': 'PORT = 8888\ndef bind(p):\n    return p\n',
  'sub/deep.envd': 'load("../lib.envd", "PORT")\nx = PORT + 1\n',
  'outside.envd': 'x = "SECRET_OUTSIDE"\n',
  'build.envd': 'x = 1\n',
};
const ROOT = resolve('fuzz');
function readFuzzFile(absolutePath: string): string {
  const rel = relative(ROOT, absolutePath);
  const text = FILES[rel] ?? (rel === '../outside.envd' ? FILES['outside.envd'] : undefined);
  if (text === undefined) throw Object.assign(new Error('no such file in the fuzz test'), { code: 'ENOENT' });
  return text;
}

function mutate(src: string, rand: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  let s = src;
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (s.length + 1));
    const len = Math.floor(rand() * 8);
    switch (Math.floor(rand() * 5)) {
      case 0: s = s.slice(0, at) + s.slice(at + len); break; // delete
      case 1: s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at); break; // duplicate
      case 2: s = s.slice(0, at) + pick(TOKENS) + s.slice(at); break; // insert a token
      case 3: s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 128)) + s.slice(at + 1); break; // replace a char
      default: { // swap two lines
        const lines = s.split('\n');
        const a = Math.floor(rand() * lines.length);
        const b = Math.floor(rand() * lines.length);
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        s = lines.join('\n');
      }
    }
  }
  return s;
}

function tokenSoup(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 40);
  let s = '';
  for (let i = 0; i < n; i++) s += TOKENS[Math.floor(rand() * TOKENS.length)] + (rand() < 0.3 ? ' ' : '');
  return s;
}

function assertPositioned(file: string, source: string, line: number, col: number, what: string): void {
  const lines = source.split('\n').length;
  assert.ok(Number.isInteger(line) && line >= 1 && line <= lines + 1, `${what}: line ${line} outside 1..${lines + 1}`);
  assert.ok(Number.isInteger(col) && col >= 1, `${what}: column ${col}`);
  void file;
}

test(`fuzz: ${N} mutated and random env files plan or fail with a positioned error (seed ${SEED})`, () => {
  const rand = mulberry32(SEED);
  const file = 'fuzz/build.envd';
  let ok = 0;
  let failed = 0;
  for (let i = 0; i < N; i++) {
    const source = rand() < 0.8 ? mutate(corpus[Math.floor(rand() * corpus.length)]!, rand) : tokenSoup(rand);
    try {
      planEnvFile(
        evaluateEnvSource(file, source, {
          print: () => {},
          maxSteps: 20_000,
          readFile: readFuzzFile,
        }),
        'fuzz',
      );
      ok++;
    } catch (err) {
      failed++;
      const what = `input #${i} (seed ${SEED}):\n${source}\n→ ${(err as Error).stack}`;
      // A refused load() never shows what the refused file holds.
      if (err instanceof UserError) assert.ok(!err.format().includes('SECRET_OUTSIDE'), `a refused file's content was shown: ${what}`);
      if (err instanceof IssuesError) {
        for (const issue of err.issues) {
          const m = /:(\d+):(\d+)$/.exec(issue.position ?? '');
          assert.ok(m, `issue without a position: ${issue.message}\n${what}`);
          assertPositioned(file, source, Number(m[1]), Number(m[2]), what);
        }
      } else if (err instanceof SourceErrorList) {
        assert.ok(err.errors.length > 0, what);
        for (const e of err.errors) assertPositioned(file, source, e.pos.line, e.pos.col, what);
      } else if (err instanceof SourceError) {
        assertPositioned(file, source, err.pos.line, err.pos.col, what);
      } else {
        assert.fail(`not a positioned error: ${what}`);
      }
    }
  }
  console.log(`fuzz seed ${SEED}: ${N} inputs, ${ok} planned, ${failed} positioned errors`);
  assert.ok(ok > 0 && failed > 0, 'the corpus should produce both valid and invalid inputs');
});
