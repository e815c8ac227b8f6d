// `npm run release:dry` (scripts/release-dry.mjs), the release pipeline without its pushes: the
// packed package installed into a clean prefix with no install-script warning, the CLI from it
// (--version, plan, up of the local example), and the image from the Dockerfile built with Podman
// (here, beside the test engine) with --version and probe run in it. run-tests.mjs has just built
// dist/, hence --no-build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

test('release:dry: the tarball installs cleanly and runs; the image builds and runs; every version is package.json\'s', async () => {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['scripts/release-dry.mjs', '--no-build'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const line = out.split('\n').reverse().find((l) => l.startsWith('release:dry: {'));
  assert.ok(line, `no summary line:\n${out}`);
  const s = JSON.parse(line.slice('release:dry: '.length));
  console.log(`# release:dry in ${Math.round((Date.now() - t0) / 1000)} s: ${JSON.stringify(s.steps)}; installed ${(s.installedBytes / 1e6).toFixed(1)} MB, ${s.installedPackages} packages`);
  assert.equal(code, 0, out);
  assert.equal(s.ok, true);
  // The install: npm's own output, read here too, names no install script.
  assert.deepEqual(s.installWarnings, []);
  assert.doesNotMatch(out, /install-scripts|install script|node-gyp/i);
  assert.match(out, /npm: added \d+ packages/, 'the install ran and its output was shown');
  assert.equal(s.installedVersion, pkg.version);
  assert.equal(s.upAnswered, 200);
  assert.equal(s.upStoppedClean, true);
  assert.equal(s.imageVersion, pkg.version);
  assert.equal(s.imageProbe?.ok, true, JSON.stringify(s.imageProbe));
  assert.equal(s.imageProbe.httpStatus, 200);
});
