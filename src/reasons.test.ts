// The reason-code table of docs/reasons.md and the set in src/reasons.ts hold the same codes, both ways:
// every code of the set has a row, every row is a code of the set, given by the front end the set
// says, with the meaning the set gives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_REASONS, CHECK_ONLY_REASONS, CHECK_REASONS, DASHBOARD_ONLY_REASONS, OPERATOR_ONLY_REASONS, REASONS, isCheckReason, isOperatorReason, isReasonCode } from './reasons.js';

const README = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'reasons.md');

/** The rows of the table under "## Reason codes": code → [given by, meaning]. */
function readmeReasonTable(markdown: string): Map<string, { by: string; meaning: string }> {
  const start = markdown.indexOf('\n## The codes\n');
  assert.ok(start >= 0, 'docs/reasons.md has a "## The codes" section');
  const next = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, next < 0 ? undefined : next);
  const rows = new Map<string, { by: string; meaning: string }>();
  for (const line of section.split('\n')) {
    const m = /^\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|\s*(.+?)\s*\|\s*$/.exec(line);
    if (!m) continue;
    assert.ok(!rows.has(m[1]!), `the README table lists ${m[1]} once`);
    rows.set(m[1]!, { by: m[2]!, meaning: m[3]! });
  }
  return rows;
}

const GIVEN_BY: [string, Readonly<Record<string, string>>][] = [
  ['every front end', REASONS],
  ['check', CHECK_ONLY_REASONS],
  ['operator', OPERATOR_ONLY_REASONS],
  ['dashboard', DASHBOARD_ONLY_REASONS],
];

test('the reason-code table of docs/reasons.md lists every code of the set, and only codes of the set', () => {
  const rows = readmeReasonTable(readFileSync(README, 'utf8'));
  const set = Object.keys(ALL_REASONS);
  assert.deepEqual(set.filter((c) => !rows.has(c)), [], 'codes of the set missing from the README table');
  assert.deepEqual([...rows.keys()].filter((c) => !Object.prototype.hasOwnProperty.call(ALL_REASONS, c)), [], 'README table rows that are not codes of the set');
  for (const [by, codes] of GIVEN_BY) {
    for (const [code, meaning] of Object.entries(codes)) {
      assert.deepEqual(rows.get(code), { by, meaning }, `the README row of ${code}`);
    }
  }
});

test('each code is declared once; CheckReason is ReasonCode and check-only codes', () => {
  const lists = GIVEN_BY.flatMap(([, codes]) => Object.keys(codes));
  assert.equal(new Set(lists).size, lists.length, 'no code is declared in two places');
  assert.deepEqual(new Set(CHECK_REASONS), new Set([...Object.keys(REASONS), ...Object.keys(CHECK_ONLY_REASONS)]));
  assert.ok(isReasonCode('Starting') && !isReasonCode('Pending') && !isReasonCode('Ok'));
  assert.ok(isCheckReason('Ok') && isCheckReason('NoEndpoints') && !isCheckReason('Admitted'));
  assert.ok(isOperatorReason('Admitted') && isOperatorReason('PolicyDenied') && !isOperatorReason('Pending') && !isOperatorReason('Ok'));
  for (const [code, meaning] of Object.entries(ALL_REASONS)) assert.ok(meaning.length > 0 && !meaning.includes('\n'), `${code} has a one-line meaning`);
});
