// Runs the golden data files testdata/lang/*.envd (format: see test/golden.ts).

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkChunkOutcome, parseGoldenChunks, runLangChunk } from '../../test/golden.js';
import { InternalError } from './index.js';

const DIR = 'testdata/lang';
const files = readdirSync(DIR).filter((f) => f.endsWith('.envd')).sort();

describe('golden', () => {
  it('has data files', () => assert.ok(files.length > 0));
  for (const f of files) {
    describe(f, () => {
      for (const chunk of parseGoldenChunks(join(DIR, f))) {
        const file = f;
        it(`chunk at line ${chunk.startLine}`, () => {
          const err = runLangChunk(chunk, file);
          if (err instanceof InternalError && !chunk.expectedErrors.some((x) => /internal error/.test(x.regex.source))) {
            assert.fail(`internal error: ${err.format()}\n${(err.cause as Error)?.stack}`);
          }
          const problems = checkChunkOutcome(chunk, file, err);
          if (problems.length > 0) assert.fail(`${join(DIR, f)}:${chunk.startLine}:\n${problems.join('\n')}`);
        });
      }
    });
  }
});
