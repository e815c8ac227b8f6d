#!/usr/bin/env bash
# Starts a Podman engine with the Docker-compatible API for test/docker/ and the benchmark.
# Idempotent: installs what is missing, reuses a running engine. Writes .testenv/podman/env.json.
# Recipe and Podman quirks: shared/testenv.md section 1.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T0=$(date +%s%3N)
mkdir -p "$W"

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v socat >/dev/null || missing+=(socat)   # for bench/local.bench.ts
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends podman runc busybox-static socat uidmap slirp4netns \
    netavark aardvark-dns containernetworking-plugins iptables >/dev/null || \
    apt-get install -y -qq podman runc busybox-static socat >/dev/null
fi

# runc, not crun (crun refuses the hybrid cgroup layout here); explicit ulimits (hard limit 20000).
cat > "$CONTAINERS_CONF" <<C
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
C
printf '[storage]\ndriver="overlay"\ngraphroot="%s/storage"\nrunroot="%s/runroot"\n' "$W" "$W" > "$CONTAINERS_STORAGE_CONF"

# testsrv: our own tiny static server/load client (Go), keyed by its source.
SRC="$PODMAN_DIR/testsrv"
KEY=$(cat "$SRC"/go.mod "$SRC"/*.go | sha256sum | cut -c1-12)
TESTSRV="$CACHE/testsrv-$KEY"
if [ ! -x "$TESTSRV" ]; then
  log "building testsrv"
  mkdir -p "$CACHE"
  (cd "$SRC" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false go build -trimpath -ldflags='-s -w' -o "$TESTSRV.tmp" . )
  mv "$TESTSRV.tmp" "$TESTSRV"
fi
cp "$TESTSRV" "$W/testsrv"

if ! api_ready; then
  rm -f "$SOCK"
  log "starting podman system service"
  setsid podman system service --time=0 "unix://$SOCK" >"$W/service.log" 2>&1 < /dev/null &
  echo $! > "$W/service.pid"
  for _ in $(seq 1 100); do api_ready && break; sleep 0.1; done
  api_ready || { tail -20 "$W/service.log" >&2; die "the Podman API did not come up on $SOCK"; }
fi

# The test image, from a local rootfs (nothing is pulled): busybox, testsrv, and a `jupyter`
# stand-in that serves its own command line (so tests can see what reached it).
IMG_KEY=$(cat "$TESTSRV" "$PODMAN_DIR/jupyter-standin.sh" /bin/busybox | sha256sum | cut -c1-12)
if [ "$(podman image inspect --format '{{index .Labels "envserve.test.key"}}' "$TEST_IMAGE" 2>/dev/null || true)" != "$IMG_KEY" ]; then
  log "building $TEST_IMAGE"
  R=$(mktemp -d)
  mkdir -p "$R/bin" "$R/usr/local/bin" "$R/www" "$R/tmp" "$R/root" "$R/etc"
  cp /bin/busybox "$R/bin/"
  for a in sh sleep cat echo kill ls ps wget nc env id head; do ln -s busybox "$R/bin/$a"; done
  cp "$TESTSRV" "$R/usr/local/bin/testsrv"
  cp "$PODMAN_DIR/jupyter-standin.sh" "$R/usr/local/bin/jupyter"
  chmod +x "$R/usr/local/bin/jupyter"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
  echo "envserve test image" > "$R/www/index.html"
  tar -C "$R" -c . | podman import -q \
    --change "LABEL envserve.test.key=$IMG_KEY" \
    --change 'ENV PATH=/usr/local/bin:/bin' \
    --change 'CMD ["/bin/sh"]' - "$TEST_IMAGE" >/dev/null
  rm -rf "$R"
fi

# Who uses the engine (the calling test runner or benchmark, by PID): down.sh stops it only when
# no other live user is left, so a benchmark and a test run can share it.
mkdir -p "$W/users" && touch "$W/users/$PPID"

cat > "$W/env.json" <<J
{"DOCKER_HOST": "unix://$SOCK", "ENVSERVE_TEST_IMAGE": "$TEST_IMAGE", "ENVSERVE_TESTSRV": "$W/testsrv",
 "CONTAINERS_CONF": "$CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF": "$CONTAINERS_STORAGE_CONF"}
J
log "ready in $(( $(date +%s%3N) - T0 )) ms: DOCKER_HOST=unix://$SOCK"
