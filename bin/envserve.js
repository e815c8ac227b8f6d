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
  import('../dist/cli/main.js')
    .then(({ main }) => main(process.argv.slice(2)))
    .then((code) => { process.exitCode = code; });
}
