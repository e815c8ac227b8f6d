// The conformance harness's assert shim (scripts/conformance/assert.star) must fail when an
// assertion does not hold: a shim that passes everything would make every figure 100%.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runText } from '../scripts/conformance/run.js';

/** Runs one statement after loading the shim; true when it counts as passing. */
function passes(stmt: string): boolean {
  const r = runText('shim.star', `load("assert.star", "assert")\n${stmt}\n`);
  assert.equal(r.statements, 2, `${stmt}: statements`);
  return r.passed === 2;
}

describe('conformance assert shim', () => {
  const failing = [
    'assert.eq(b"a", b"b")',
    'assert.eq(1, 2)',
    'assert.eq("a", "b")',
    'assert.eq([1], [2])',
    'assert.eq(1.0, 1.5)',
    'assert.ne(b"a", b"a")',
    'assert.ne(1, 1)',
    'assert.true(False)',
    'assert.true(b"")',
    'assert.lt(b"b", b"a")',
    'assert.lt(2, 1)',
    'assert.contains([1], 2)',
    'assert.fails(lambda: 1, "x")',
    'assert.fails(lambda: fail("abc"), "xyz")',
    'assert.fail("always")',
    '1 // 0',
  ];
  for (const stmt of failing) it(`fails: ${stmt}`, () => assert.equal(passes(stmt), false));

  const holding = [
    'assert.eq(b"a", b"a")',
    'assert.eq(1, 1.0)',
    'assert.ne(b"a", "a")',
    'assert.true(b"x")',
    'assert.lt(b"\\x7f", b"\\x80")',
    'assert.contains(b"abc", b"b")',
    'assert.fails(lambda: 1 // 0, "division by zero")',
    '1 // 0 ### "division by zero"',
  ];
  for (const stmt of holding) it(`holds: ${stmt}`, () => assert.equal(passes(stmt), true));
});
