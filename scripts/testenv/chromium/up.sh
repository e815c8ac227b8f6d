#!/usr/bin/env bash
# A real browser for test/ui/: Debian's chromium, driven by playwright-core (a devDependency; its
# own `playwright install` cannot download browsers here). Installs chromium when it is missing.
# Idempotent. Writes .testenv/chromium/env.json: the executable and the folder for screenshots.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
REPO=$PWD
W=$REPO/.testenv/chromium
mkdir -p "$W"
T0=$(date +%s%3N)
if [ ! -x /usr/bin/chromium ]; then
  echo "chromium/up.sh: installing chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
/usr/bin/chromium --version >/dev/null 2>&1 || { echo "chromium/up.sh: /usr/bin/chromium does not run" >&2; exit 1; }
# Screenshots of each step: test artifacts, not committed (test-artifacts/ is in .gitignore).
ART=$REPO/test-artifacts/ui
mkdir -p "$ART"
printf '{"ENVSERVE_TEST_CHROMIUM":"/usr/bin/chromium","ENVSERVE_TEST_ARTIFACTS":"%s"}\n' "$ART" > "$W/env.json"
echo "chromium/up.sh: $(/usr/bin/chromium --version 2>/dev/null | head -1) ready in $(( $(date +%s%3N) - T0 )) ms"
