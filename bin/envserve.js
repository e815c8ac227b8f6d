#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm run build produces dist/).
// The Node.js version is checked first: dist/cli/node-version.js imports nothing, and the CLI is
// loaded only after the check, so an older Node gets one line and exit 2, never a stack trace.
import { nodeVersionProblem } from '../dist/cli/node-version.js';

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 2;
} else {
  // Node 22 warns about the deprecated `punycode` builtin (DEP0040) even when a dependency requires
  // it (whatwg-url, under the Kubernetes client); newer Nodes do not. Nothing the user can act on.
  const printWarning = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w) => { if (w.code !== 'DEP0040') for (const l of printWarning) l(w); });
  import('../dist/cli/main.js')
    .then(({ main }) => main(process.argv.slice(2)))
    .then((code) => { process.exitCode = code; });
}
