// Seeded fuzz test: random token soup and mutations of the golden files. Every input must
// either run or fail with a SourceError/SourceErrorList at a valid position — never another
// exception, never an internal error, never a hang.
//   FUZZ_SEED=123 FUZZ_N=50000 node --import tsx --test src/lang/fuzz.test.ts

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SourceError, type Position } from '../errors.js';
import { langHost, langPredeclared } from '../../test/golden.js';
import { InternalError, SourceErrorList, Thread } from './index.js';
import { mulberry32 } from '../../test/helpers/prng.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20260101);
const N = Number(process.env.FUZZ_N ?? 12000);

const TOKENS = [
  'def', 'if', 'elif', 'else', 'for', 'in', 'not', 'and', 'or', 'return', 'break', 'continue', 'pass',
  'lambda', 'load', 'True', 'False', 'None', 'x', 'y', 'f', 'len', 'range', 'print', 'fail', 'assert_eq',
  'cloud', 'presets', 'k8s', 'bind', 'append', 'items', 'format', '0', '1', '-1', '3.5', '1e9', '0x1f',
  '"s"', "'t'", '"""u"""', 'r"\\d"', '"{}"', '"%s"', '(', ')', '[', ']', '{', '}', ',', ':', ';', '.', '=',
  '==', '!=', '<', '<=', '>', '>=', '+', '-', '*', '/', '//', '%', '+=', '-=', '*=', '|', '&', '^', '~',
  '<<', '>>', '**', '*', '\n', '\n', '\n    ', '\n        ', '\\\n', '#c\n', '\t', ' ', ' ', '$', '`',
];

function tokenSoup(rnd: () => number): string {
  const n = 1 + Math.floor(rnd() * 40);
  let s = '';
  for (let i = 0; i < n; i++) {
    s += TOKENS[Math.floor(rnd() * TOKENS.length)]!;
    if (rnd() < 0.6) s += ' ';
  }
  return s;
}

const PIECES = ['(', ')', '[', ']', ':', '\n', '    ', '"', "'", '\\', '#', ',', '=', '*', '**', 'x', 'def ', 'for ', 'if ', '1', '\t', '\u00e9', '\ud83d\ude00'];

function mutate(rnd: () => number, src: string): string {
  let s = src;
  const edits = 1 + Math.floor(rnd() * 4);
  for (let e = 0; e < edits; e++) {
    const i = Math.floor(rnd() * (s.length + 1));
    const len = 1 + Math.floor(rnd() * 8);
    switch (Math.floor(rnd() * 6)) {
      case 0: // delete
        s = s.slice(0, i) + s.slice(i + len);
        break;
      case 1: // duplicate
        s = s.slice(0, i) + s.slice(i, i + len) + s.slice(i);
        break;
      case 2: { // swap two spans
        const j = Math.floor(rnd() * (s.length + 1));
        const [a, b] = i < j ? [i, j] : [j, i];
        s = s.slice(0, a) + s.slice(b, b + len) + s.slice(a + len, b) + s.slice(a, a + len) + s.slice(b + len);
        break;
      }
      case 3: // insert a piece
        s = s.slice(0, i) + PIECES[Math.floor(rnd() * PIECES.length)]! + s.slice(i);
        break;
      case 4: // insert a token
        s = s.slice(0, i) + TOKENS[Math.floor(rnd() * TOKENS.length)]! + s.slice(i);
        break;
      case 5: { // delete a whole line
        const a = s.lastIndexOf('\n', i - 1) + 1;
        const b = s.indexOf('\n', i);
        s = s.slice(0, a) + (b < 0 ? '' : s.slice(b + 1));
        break;
      }
    }
  }
  return s;
}

function checkPos(pos: Position, sources: Map<string, string>, input: string): void {
  const src = sources.get(pos.file);
  assert.ok(src !== undefined, `error in unknown file ${pos.file}`);
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  assert.ok(Number.isInteger(pos.line) && pos.line >= 1 && pos.line <= lines.length, `bad line ${pos.line} (file has ${lines.length}) for input:\n${input}`);
  const lineLen = [...lines[pos.line - 1]!].length;
  assert.ok(Number.isInteger(pos.col) && pos.col >= 1 && pos.col <= lineLen + 1, `bad col ${pos.col} (line has ${lineLen} chars) for input:\n${input}`);
}

const corpus = readdirSync('testdata/lang')
  .filter((f) => f.endsWith('.envd'))
  .flatMap((f) => readFileSync(join('testdata/lang', f), 'utf8').split(/^---$/m));
const modules = new Map(
  readdirSync('testdata/lang/modules').map((f) => [`modules/${f}`, readFileSync(join('testdata/lang/modules', f), 'utf8')]),
);

test(`fuzz: ${N} inputs, seed ${SEED}`, { timeout: 120_000 }, () => {
  console.log(`fuzz seed ${SEED} (set FUZZ_SEED to reproduce, FUZZ_N for more inputs)`);
  const rnd = mulberry32(SEED);
  const started = Date.now();
  let ok = 0;
  let failed = 0;
  for (let n = 0; n < N; n++) {
    const input = rnd() < 0.3 ? tokenSoup(rnd) : mutate(rnd, corpus[Math.floor(rnd() * corpus.length)]!);
    const file = 'fuzz.envd';
    const printed: string[] = [];
    const thread = new Thread({
      host: langHost(file, input, printed),
      predeclared: langPredeclared(printed, []),
      maxSteps: 20_000,
      maxAlloc: 100_000,
    });
    try {
      thread.execFile(file, input);
      ok++;
    } catch (err) {
      failed++;
      const errors = err instanceof SourceErrorList ? err.errors : err instanceof SourceError ? [err] : undefined;
      if (!errors) assert.fail(`input #${n} threw a non-source error: ${err instanceof Error ? err.stack : String(err)}\ninput:\n${input}`);
      const sources = new Map([[file, input], ...modules]);
      for (const e of errors) {
        if (e instanceof InternalError && !/internal error: boom/.test(e.message)) {
          assert.fail(`input #${n} hit an internal error: ${e.format()}\n${(e.cause as Error)?.stack}\ninput:\n${input}`);
        }
        checkPos(e.pos, sources, input);
        assert.equal(typeof e.message, 'string');
        e.format();
      }
    }
  }
  console.log(`fuzz: ${ok} ran, ${failed} failed with source errors, ${Date.now() - started} ms`);
});
