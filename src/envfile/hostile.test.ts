// The hostile corpus (testdata/hostile/*.envd): small files built to run for minutes, exhaust
// memory or overflow the stack. Each must end with a positioned error at the default budget.
// (How long each takes is measured by bench/plan.bench.ts, not here.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldenFiles, parseGoldenChunks, paddedSource } from '../../test/golden.js';
import { SourceError } from '../errors.js';
import { evaluateEnvSource } from './load.js';

const DIR = 'testdata/hostile';
const ENDS = /evaluation exceeded its budget of \d+ cost units|too large|nested too deeply|exceeded maximum recursion depth/;

for (const name of goldenFiles(DIR)) {
  for (const chunk of parseGoldenChunks(`${DIR}/${name}`)) {
    const what = /^# (.*)/.exec(chunk.source)?.[1] ?? `line ${chunk.startLine}`;
    test(`${name}: ${what} ends with a positioned error`, () => {
      const file = `${DIR}/${name}`;
      const lines = chunk.source.split('\n').length;
      try {
        evaluateEnvSource(file, paddedSource(chunk), { print: () => {} });
        assert.fail('the file ran to its end');
      } catch (err) {
        assert.ok(err instanceof SourceError, `not a positioned error: ${(err as Error).stack}`);
        assert.match(err.message, ENDS);
        assert.ok(err.pos.line >= chunk.startLine && err.pos.line < chunk.startLine + lines, `positioned outside the chunk: ${err.format()}`);
        assert.ok(err.lineText !== undefined && err.lineText.trim() !== '', 'the error shows its source line');
      }
    });
  }
}
