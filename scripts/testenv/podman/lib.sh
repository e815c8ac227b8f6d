# Common settings of the Podman test engine scripts. Sourced, never run.
# shellcheck shell=bash
PODMAN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$PODMAN_DIR/../../.." && pwd)"
# The engine's private state (git-ignored): config, image storage, the API socket, logs.
W="$REPO_ROOT/.testenv/podman"
SOCK="$W/podman.sock"
export CONTAINERS_CONF="$W/containers.conf" CONTAINERS_STORAGE_CONF="$W/storage.conf"
# Built binaries are cached outside the repo, keyed by their source, so a fresh clone starts warm.
CACHE="${ENVSERVE_TESTENV_CACHE:-$HOME/.cache/envserve-testenv}"
TEST_IMAGE=localhost/envserve-test:1
log() { printf '[podman-testenv %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[podman-testenv] ERROR: %s\n' "$*" >&2; exit 1; }
api_ready() { curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }
