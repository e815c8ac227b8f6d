// Exit codes come from reason codes, decided in cli/: 2 for input the user must change, 1 otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { IssuesError, RuntimeFailure, UserError } from '../errors.js';
import { REASONS } from '../reasons.js';
import { exitCodeFor } from './exit-codes.js';

test('exit codes: by reason, not by error class', () => {
  assert.equal(exitCodeFor(new UserError('bad flag')), 2);
  assert.equal(exitCodeFor(new IssuesError([{ message: 'x' }])), 2);
  assert.equal(exitCodeFor(new UserError('port taken', undefined, 'PortInUse')), 2);
  assert.equal(exitCodeFor(new UserError('forbidden', undefined, 'Forbidden')), 2);
  assert.equal(exitCodeFor(new RuntimeFailure('engine refused')), 1);
  assert.equal(exitCodeFor(new RuntimeFailure('cluster down', undefined, 'ClusterUnreachable')), 1);
  assert.equal(exitCodeFor(new RuntimeFailure('nothing runs', undefined, 'NotRunning')), 1);
  assert.equal(exitCodeFor(new Error('a bug')), 1);
  assert.equal(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', '')), 0);
  assert.equal(exitCodeFor(new CommanderError(1, 'commander.unknownOption', '')), 2);
});

test('reasons: every code has a description', () => {
  for (const [code, text] of Object.entries(REASONS)) assert.ok(text.length > 5, code);
});
