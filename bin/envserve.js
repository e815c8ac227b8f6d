#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm run build produces dist/).
// The Node.js version is checked first: dist/cli/node-version.js imports nothing, and the CLI is
// loaded only after the check, so an older Node gets one line and exit 2, never a stack trace.
import { nodeVersionProblem } from '../dist/cli/node-version.js';

// Commands that run for hours start again with a small young generation: V8 in Node.js 26 lets
// it grow to 64 MB on a big machine, ~12 MB of RSS more under the proxy's load, and the flag
// works only at start (docs/performance.md, "Local TCP proxy"). Same pid; skipped when a
// --max-semi-space-size was given, or where process.execve is missing (Node.js < 22.15).
const SEMI_SPACE = '--max-semi-space-size=1';
const [cmd, sub] = process.argv.slice(2);
const longRunning = ['up', 'serve', 'dashboard'].includes(cmd) || (cmd === 'operator' && !['manifests', 'submit'].includes(sub));
const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('--max-semi-space-size'));
const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 2;
} else if (longRunning && !given && typeof process.execve === 'function' && process.platform !== 'win32') {
  process.execve(process.execPath, [process.execPath, SEMI_SPACE, ...process.execArgv, ...process.argv.slice(1)], process.env);
} else {
  // Node 22 warns about the deprecated `punycode` builtin (DEP0040) even when a dependency requires
  // it; newer Nodes do not. Nothing the user can act on.
  const printWarning = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w) => { if (w.code !== 'DEP0040') for (const l of printWarning) l(w); });
  import('../dist/cli/main.js')
    .then(({ main }) => main(process.argv.slice(2)))
    .then((code) => { process.exitCode = code; });
}
