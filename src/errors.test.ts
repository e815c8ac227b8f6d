// The cutting rule for what errors and warnings quote: masked first, then cut, with an ellipsis
// and the full length; and the source line under an error, masked before its excerpt is taken.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cutText, MAX_MESSAGE, MAX_QUOTED, safeText, SourceError } from './errors.js';
import { quoted, StarDict } from './lang/index.js';

const SECRET = 'Pw-9f3kQz-Secret-0123456789';

/** True if any 6 characters in a row of the secret show in `text`. */
function showsSecret(text: string): boolean {
  for (let i = 0; i + 6 <= SECRET.length; i++) if (text.includes(SECRET.slice(i, i + 6))) return true;
  return false;
}

describe('cutting rule', () => {
  it('keeps short text as it is', () => {
    assert.equal(cutText('x'.repeat(MAX_QUOTED)), 'x'.repeat(MAX_QUOTED));
  });

  it('cuts long text to the limit, with an ellipsis and the full length', () => {
    assert.equal(cutText('x'.repeat(MAX_QUOTED + 1)), `${'x'.repeat(MAX_QUOTED)}… (${MAX_QUOTED + 1} characters)`);
    assert.equal(cutText('abcdef', 3), 'abc… (6 characters)');
  });

  it('cuts strings and ints alike', () => {
    const big = 10n ** 30000n;
    assert.equal(quoted(big), `1${'0'.repeat(MAX_QUOTED - 1)}… (30001 characters)`);
    assert.equal(quoted('y'.repeat(500)), `"${'y'.repeat(MAX_QUOTED - 1)}… (502 characters)`);
  });

  it('never splits a character', () => {
    // A UTF-16 pair (JS text) and a UTF-8 sequence (a byte string of the interpreter).
    assert.equal(cutText('ab😀', 3), 'ab… (4 characters)');
    assert.equal(cutText('ab\xe4\xb8\x96', 3), 'ab… (5 characters)');
  });

  it('masks a secret before cutting, so no prefix of it shows where it straddles the cut', () => {
    // Pads that put the secret's first characters just before the cut (8 characters in).
    const straddles = (text: string) => text.indexOf(SECRET) < MAX_QUOTED && text.indexOf(SECRET) + SECRET.length > MAX_QUOTED;
    const pad1 = 'x'.repeat(MAX_QUOTED - '{"pad": "'.length - '", "password": "'.length - 8);
    const d = StarDict.from([['pad', pad1], ['password', SECRET]]);
    const text = quoted(d);
    assert.ok(!showsSecret(text), text);
    assert.ok(text.endsWith('"password": "***"}'), text);
    const pad2 = 'x'.repeat(MAX_QUOTED - '{"pad": "'.length - '", "token": "'.length - 8);
    const dict = `{"pad": "${pad2}", "token": "${SECRET}"}`;
    assert.ok(straddles(dict), 'the secret straddles the cut');
    const cut = safeText(dict);
    assert.ok(!showsSecret(cut), cut);
    // Cut first, the secret's start would show.
    assert.ok(showsSecret(cutText(dict)));
  });

  it('bounds the message of a positioned error', () => {
    const err = new SourceError({ file: 'f', line: 1, col: 1 }, `fail: ${'z'.repeat(30000)}`);
    assert.equal(err.message.length, MAX_MESSAGE + ' (30006 characters)'.length + 1);
    assert.ok(err.message.endsWith('… (30006 characters)'));
  });

  it('masks the source line before taking its excerpt (a secret straddling the excerpt\'s edge)', () => {
    // The excerpt (160 characters around the caret) starts 10 characters into the password.
    const head = `config.jupyter(password="${SECRET}", `;
    const start = head.indexOf(SECRET) + 10;
    const line = `${head}${'p'.repeat(start + 80 - head.length)}=bad, ${'q'.repeat(200)}=1)`;
    const col = line.indexOf('bad') + 1;
    const err = new SourceError({ file: 'build.envd', line: 1, col }, 'something is wrong', undefined, line);
    const out = err.format();
    assert.ok(!showsSecret(out), out);
    assert.ok(out.includes('...'), 'the line is shown as an excerpt');
  });
});
