// Strings are UTF-8 byte strings inside the interpreter (as starlark-go); what reaches envserve —
// env-file values, print() output, error messages, load() paths — is text again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SourceError } from '../errors.js';
import { fromText, toText } from '../lang/index.js';
import { evaluateEnvSource } from './load.js';

const FILES: Record<string, string> = {
  '/p/común.envd': 'greeting = "¡hola!"\n',
};
const readFile = (p: string): string => {
  const text = FILES[p];
  if (text === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  return text;
};

test('byte strings round-trip text, invalid UTF-8 becomes U+FFFD', () => {
  assert.equal(fromText('é'), '\xc3\xa9');
  assert.equal(toText('\xc3\xa9'), 'é');
  assert.equal(fromText('abc'), 'abc');
  assert.equal(toText('\xe4'), '\ufffd');
});

test('values leave the interpreter as text; sizes are UTF-8 bytes inside', () => {
  const printed: string[] = [];
  const env = evaluateEnvSource(
    '/p/build.envd',
    [
      'load("común.envd", "greeting")',
      'def build():',
      '    base(os="ubuntu20.04", language="python3")',
      '    runtime.environ(env={"G": greeting, "CAFE": "café 世界", "N": str(len("世界")), "CUT": "世界"[3:]})',
      '    print("héllo", "世界"[0:3])',
      '',
    ].join('\n'),
    { print: (m) => printed.push(m), readFile },
  );
  assert.deepEqual(env.rec.env.environment, { G: '¡hola!', CAFE: 'café 世界', N: '6', CUT: '界' });
  assert.deepEqual(printed, ['héllo 世']);
});

test('error messages show strings as text', () => {
  assert.throws(
    () => evaluateEnvSource('/p/build.envd', 'def build():\n    base(os="ubuntu20.04", language="python3")\n\ndef serve():\n    host.bind("é世")\n', { print: () => {}, readFile }),
    (err: unknown) => err instanceof SourceError && err.message.includes('got string "é世"') && err.pos.line === 5,
  );
});
