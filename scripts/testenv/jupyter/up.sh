#!/usr/bin/env bash
# Sets up test/jupyter/: a real Jupyter (the `notebook` package from PyPI, which brings JupyterLab)
# in a cached virtual environment, and an unprivileged user to run envserve and Jupyter as.
# Idempotent; nothing is installed by hand. Writes .testenv/jupyter/env.json.
#   venv: keyed by the notebook version and the Python version. Root's home is private, so when
#         run as root the venv lives in /var/cache/envserve-testenv (readable by the test user),
#         else in ~/.cache/envserve-testenv.
#   user: envserve-test (a system user with a home; created once).
# Fresh machine: ~1-3 min (pip downloads ~60 MB); warm: well under a second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
NOTEBOOK_VERSION=${ENVSERVE_TEST_NOTEBOOK_VERSION:-7.4.5}
TEST_USER=${ENVSERVE_TEST_USER:-envserve-test}
W=.testenv/jupyter
log() { echo "testenv/jupyter: $*" >&2; }
T0=$(date +%s%3N)
mkdir -p "$W"

# A Python that every user can run: Debian's, with its venv module.
PY=/usr/bin/python3
if [ ! -x "$PY" ] || ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  log "installing python3 python3-venv (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
fi
PYV=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

if [ "$(id -u)" = 0 ]; then CACHE=/var/cache/envserve-testenv; else CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/envserve-testenv; fi
VENV="$CACHE/jupyter-venv-notebook$NOTEBOOK_VERSION-py$PYV"
# A marker written last: an interrupted install is redone, never half used.
if [ ! -f "$VENV/.envserve-complete" ]; then
  log "creating $VENV (pip install notebook==$NOTEBOOK_VERSION)"
  mkdir -p "$CACHE"
  chmod 755 "$CACHE"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "notebook==$NOTEBOOK_VERSION"
  chmod -R a+rX "$VENV"
  touch "$VENV/.envserve-complete"
fi
[ -x "$VENV/bin/jupyter-lab" ] || { log "$VENV has no jupyter-lab"; exit 1; }

# The unprivileged user (only root can create it; as another user, that user itself is used).
if [ "$(id -u)" = 0 ]; then
  if ! id -u "$TEST_USER" >/dev/null 2>&1; then
    log "creating user $TEST_USER"
    useradd --system --create-home --home-dir "/var/lib/$TEST_USER" --shell /bin/sh "$TEST_USER"
  fi
else
  TEST_USER=$(id -un)
fi

cat > "$W/env.json" <<J
{
  "ENVSERVE_TEST_JUPYTER_BIN": "$VENV/bin",
  "ENVSERVE_TEST_NOTEBOOK_VERSION": "$NOTEBOOK_VERSION",
  "ENVSERVE_TEST_USER": "$TEST_USER"
}
J
log "ready in $(( $(date +%s%3N) - T0 )) ms: $VENV, user $TEST_USER"
