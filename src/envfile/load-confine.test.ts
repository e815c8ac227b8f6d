// load() and -f are confined: only regular files under the project folder (or --load-root),
// real paths checked, a size cap, cycles by real path — and a refusal never prints the content
// of the file it refused. Real files, links and FIFOs in a temporary folder.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SourceError, UserError } from '../errors.js';
import { loadEnvFile } from './load.js';
import { MAX_SOURCE_BYTES } from './source.js';

const root = mkdtempSync(join(tmpdir(), 'envserve-load-'));
after(() => rmSync(root, { recursive: true, force: true }));

const SECRET = 'TOP_SECRET_VALUE_4711';
const proj = join(root, 'proj');
mkdirSync(join(proj, 'lib', 'deep'), { recursive: true });
mkdirSync(join(root, 'shared'));
writeFileSync(join(root, 'outside.envd'), `X = "${SECRET}"\n`);
writeFileSync(join(root, 'shared', 'common.envd'), 'PORT = 8888\n');
writeFileSync(join(proj, 'lib', 'ok.envd'), 'X = 1\n');
writeFileSync(join(proj, 'lib', 'deep', 'back.envd'), 'load("../../build.envd", "Y")\nX = 1\n');
writeFileSync(join(proj, 'binary.envd'), Buffer.from(`X = 1\n\0${SECRET}\n`));
writeFileSync(join(proj, 'big.envd'), '#'.repeat(MAX_SOURCE_BYTES + 10));
symlinkSync(join(root, 'outside.envd'), join(proj, 'escape.envd'));
symlinkSync(join(proj, 'lib', 'ok.envd'), join(proj, 'inside-link.envd'));
symlinkSync('/proc/self/environ', join(proj, 'environ.envd'));
execFileSync('mkfifo', [join(proj, 'fifo.envd')]);

/** Plans a build.envd holding `text`; returns the error's printed form, or '' on success. */
function run(text: string | Buffer, opts: { loadRoot?: string; file?: string } = {}): string {
  const file = opts.file ?? join(proj, 'build.envd');
  if (opts.file === undefined) writeFileSync(file, text);
  try {
    loadEnvFile(file, { print: () => {}, ...(opts.loadRoot !== undefined && { loadRoot: opts.loadRoot }) });
    return '';
  } catch (err) {
    assert.ok(err instanceof UserError, `not a user error: ${(err as Error).stack}`);
    const out = err.format();
    assert.ok(!out.includes(SECRET), `the error shows the refused file's content:\n${out}`);
    return out;
  }
}

describe('load() confinement', () => {
  it('loads a file under the project folder, also through a link that stays inside', () => {
    assert.equal(run('load("lib/ok.envd", "X")\nload("inside-link.envd", Z="X")\n'), '');
  });
  it('refuses absolute paths with a positioned error and a hint', () => {
    for (const p of ['/etc/shadow', '/proc/self/environ', '/dev/zero', join(root, 'outside.envd')]) {
      const out = run(`\nload("${p}", "X")\n`);
      assert.match(out, /build\.envd:2:6: load\(".*"\): absolute paths are not allowed\n  load\(.*\n       \^\n  hint: write the path relative/);
    }
  });
  it('refuses ".." out of the folder', () => {
    assert.match(run('load("../outside.envd", "X")\n'), /outside\.envd is outside the folder env files may load from .*\n[\s\S]*hint: .*--load-root/);
  });
  it('checks the real path: a link pointing out of the folder is refused', () => {
    assert.match(run('load("escape.envd", "X")\n'), /escape\.envd is outside the folder/);
    assert.match(run('load("environ.envd", "X")\n'), /environ\.envd is outside the folder/);
  });
  it('--load-root widens the folder', () => {
    assert.equal(run('load("../shared/common.envd", "PORT")\n', { loadRoot: root }), '');
    assert.match(run('load("../shared/common.envd", "PORT")\n'), /is outside the folder/);
  });
  it('refuses a FIFO without hanging, a directory, a binary file, a file over the size cap', () => {
    assert.match(run('load("fifo.envd", "X")\n'), /cannot read .*fifo\.envd: is a FIFO/);
    assert.match(run('load("lib", "X")\n'), /cannot read .*lib: is a directory/);
    assert.match(run('load("binary.envd", "X")\n'), /is not a text file \(a NUL byte at byte offset 6\)/);
    assert.match(run('load("big.envd", "X")\n'), /is larger than 2 MiB/);
  });
  it('detects a cycle by real path, whatever spelling reaches the file', () => {
    assert.match(run('load("./build.envd", "X")\nX = 1\n'), /cycle in load graph/);
    assert.match(run('load("lib/../build.envd", "X")\nX = 1\n'), /cycle in load graph/);
    assert.match(run('load("lib/deep/back.envd", "X")\nY = 1\n'), /cycle in load graph: .*build\.envd -> .*lib\/deep\/back\.envd -> .*build\.envd/);
  });
  it('refuses URLs', () => {
    assert.match(run('load("https://example.com/x.envd", "X")\n'), /only local files, not URLs/);
  });
});

describe('-f and the text of an env file', () => {
  it('-f must name a regular file: a FIFO, a device and a directory are refused at once', () => {
    for (const [f, why] of [[join(proj, 'fifo.envd'), /FIFO/], ['/dev/zero', /pseudo-file|device/], [proj, /directory/], ['/proc/self/environ', /pseudo-file/], [join(proj, 'environ.envd'), /pseudo-file/]] as const) {
      const out = run('', { file: f });
      assert.match(out, /^cannot read env file .*: /);
      assert.match(out, why);
      assert.match(out, /hint: /);
    }
  });
  it('skips a UTF-8 byte-order mark', () => {
    assert.equal(run(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('X = 1\n')])), '');
  });
  it('names the byte offset of invalid UTF-8, positioned', () => {
    const out = run(Buffer.concat([Buffer.from('X = 1\nY = "ab'), Buffer.from([0xff]), Buffer.from('"\n')]));
    assert.match(out, /build\.envd:2:8: invalid UTF-8 at byte offset 13\n  Y = "ab\n         \^\n  hint: /);
  });
  it('errors carry a SourceError position for every refusal of load()', () => {
    writeFileSync(join(proj, 'build.envd'), 'load("../outside.envd", "X")\n');
    try {
      loadEnvFile(join(proj, 'build.envd'), { print: () => {} });
      assert.fail('no error');
    } catch (err) {
      assert.ok(err instanceof SourceError);
      assert.deepEqual([err.pos.line, err.pos.col], [1, 6]);
    }
  });
});
