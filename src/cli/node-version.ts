// The oldest Node.js envserve runs on (package.json's engines says the same; a test compares them):
// 22.12 is the oldest supported line and brings `reusePort`. bin/envserve.js runs this check before
// it loads anything else, so an older Node prints one line and exits 2 instead of failing on a
// module it cannot load. This file imports nothing and uses nothing newer than ES2020 for that reason.
export const OLDEST_NODE = { major: 22, minor: 12 };

/** The one line to print when `version` (process.versions.node, e.g. "20.20.2") is too old, else undefined. */
export function nodeVersionProblem(version: string): string | undefined {
  const m = /^v?(\d+)\.(\d+)\./.exec(version);
  const major = m ? Number(m[1]) : 0;
  const minor = m ? Number(m[2]) : 0;
  if (major > OLDEST_NODE.major || (major === OLDEST_NODE.major && minor >= OLDEST_NODE.minor)) return undefined;
  return `envserve needs Node.js ${OLDEST_NODE.major}.${OLDEST_NODE.minor} or newer; this is ${version.replace(/^v/, '')}`;
}
