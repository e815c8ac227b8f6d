// The hostile corpus (testdata/hostile/*.envd): small files built to run for minutes, exhaust
// memory, overflow the stack or print megabytes. Each must end with a positioned error at the
// default budget, of bounded length; a chunk with a `### "regex"` line must end with that error on
// that line (the construct that went too deep or too far).
// (How long each takes is measured by bench/plan.bench.ts, not here.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldenFiles, parseGoldenChunks, paddedSource } from '../../test/golden.js';
import { MAX_MESSAGE, SourceError } from '../errors.js';
import { evaluateEnvSource } from './load.js';

const DIR = 'testdata/hostile';
const ENDS = /evaluation exceeded its budget of \d+ cost units|too large|nested too deeply|exceeded maximum recursion depth/;
/** The longest error text: the message and hint bounds (src/errors.ts), the source excerpt, the caret. */
const MAX_FORMAT = 2 * MAX_MESSAGE + 600;

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
        const want = chunk.expectedErrors[0];
        if (want) {
          assert.match(err.message, want.regex);
          assert.equal(err.pos.line, want.line, `positioned at the wrong line: ${err.format().slice(0, 500)}`);
        } else {
          assert.match(err.message, ENDS);
        }
        assert.ok(err.pos.line >= chunk.startLine && err.pos.line < chunk.startLine + lines, `positioned outside the chunk: ${err.format()}`);
        assert.ok(err.format().length <= MAX_FORMAT, `an error of ${err.format().length} characters`);
        assert.ok(err.lineText !== undefined && err.lineText.trim() !== '', 'the error shows its source line');
      }
    });
  }
}
