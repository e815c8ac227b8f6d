// Golden tests of the env-file builtins and of whole-plan validation: testdata/envfile/*.envd.
// Each chunk is planned; every error must be expected on its line (### "regex"), and every
// expected error must be reported there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldenFiles, parseGoldenChunks } from '../../test/golden.js';
import { IssuesError, SourceError } from '../errors.js';
import { SourceErrorList } from '../lang/index.js';
import { planEnvFile } from './from-file.js';
import { evaluateEnvSource } from './load.js';

const DIR = 'testdata/envfile';

/** Every error a chunk produces, as line + the text a user reads (message and hint). */
function errorsOf(file: string, source: string): { line: number; text: string }[] {
  try {
    planEnvFile(evaluateEnvSource(file, source, { print: () => {}, maxSteps: 100_000 }), 'golden');
    return [];
  } catch (err) {
    if (err instanceof IssuesError) {
      return err.issues.map((i) => ({ line: Number(i.position?.split(':').at(-2)), text: i.message }));
    }
    const list = err instanceof SourceErrorList ? err.errors : err instanceof SourceError ? [err] : undefined;
    if (!list) throw err;
    return list.map((e) => ({ line: e.pos.line, text: e.hint ? `${e.message} hint: ${e.hint}` : e.message }));
  }
}

for (const name of goldenFiles(DIR)) {
  const path = `${DIR}/${name}`;
  for (const chunk of parseGoldenChunks(path)) {
    test(`${path}:${chunk.startLine}`, () => {
      const source = '\n'.repeat(chunk.startLine - 1) + chunk.source;
      const got = errorsOf(path, source);
      for (const want of chunk.expectedErrors) {
        const match = got.find((g) => g.line === want.line && want.regex.test(g.text));
        assert.ok(match, `${path}:${want.line}: expected an error matching ${want.regex}, got:\n${got.map((g) => `  ${g.line}: ${g.text}`).join('\n') || '  (no error)'}`);
      }
      for (const g of got) {
        assert.ok(
          chunk.expectedErrors.some((w) => w.line === g.line && w.regex.test(g.text)),
          `${path}:${g.line}: unexpected error: ${g.text}`,
        );
      }
    });
  }
}
