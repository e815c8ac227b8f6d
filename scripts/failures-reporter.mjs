// A second reporter for node's test runner (run-tests.mjs adds it next to `spec`): one line per
// failed test — its file, its name, the first line of why — so the end of a long run can repeat
// what failed. The spec output above it stays the full account.
import { relative } from 'node:path';

export default async function* failures(source) {
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    const error = details?.error;
    // A parent fails because a subtest did: the subtest's own line says why.
    if (error?.failureType === 'subtestsFailed') continue;
    const cause = error?.cause ?? error;
    const why = String(cause?.message ?? cause ?? 'failed').split('\n').find((l) => l.trim()) ?? 'failed';
    const where = file ? relative(process.cwd(), file.replace(/^file:\/\//, '')) : '?';
    yield `${where}: ${name}: ${why.trim().slice(0, 300)}\n`;
  }
}
