#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm run build produces dist/).
import { main } from '../dist/cli/main.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
