#!/usr/bin/env bash
# Builds the test node's container images from local root filesystems (no registry is reachable):
# a rootfs in a temp folder -> `podman import` -> `podman save --format docker-archive`, cached as
# $CACHE/images/<name>-<key>.tar, where the key hashes everything that goes into the image.
# up.sh imports the archives into the node's containerd (`ctr -n k8s.io images import`).
#
#   bash scripts/testenv/k8s/images.sh        prints "<archive> <image ref> [alias ...]" per image
#
# Images:
#   envserve.test/pause:1     the pod sandbox: busybox `sleep inf`
#   envserve.test/busybox:1   busybox (every applet) and curl
#   envserve.test/testsrv:1   busybox + testsrv (scripts/testenv/podman/testsrv; CMD `testsrv pod`:
#                             HTTP on 8080 answering with the pod's name, TCP echo on 9000) and a
#                             `jupyter` stand-in that serves the same on its --port. Also tagged
#                             envserve.test/backed:1, envserve.test/web:1 and envserve.test/jupyter:1
#                             (the names the tests used with the pod backer).
#   envserve.test/notebook:1  a real JupyterLab: Debian's Python 3.11, a venv with jupyterlab from
#                             PyPI, the shared libraries `ldd` lists, and busybox for /bin/sh.
#   envserve.test/envserve:1  envserve itself (check's debug pod, the operator's pod): the project's
#                             Node (node_modules/.bin/node, the Active LTS the Dockerfile's base
#                             also has; not whatever node is first on PATH) and its libraries, the
#                             repo's dist/ (built here by `npm run build` when the sources changed),
#                             bin/, package.json and the production node_modules (`npm ci --omit=dev`,
#                             cached by the lock's hash).
#                             ENTRYPOINT /usr/local/bin/envserve (node /app/bin/envserve.js), so both
#                             `command: [envserve, probe, ...]` and `args: [probe, ...]` work.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

JUPYTERLAB_PIN="jupyterlab==4.4.10 ipykernel==6.30.1"
PY=/usr/bin/python3.11
IMG_CACHE="$CACHE/images"
mkdir -p "$IMG_CACHE"
exec 9>"$IMG_CACHE/.lock"
flock 9
rm -rf "$IMG_CACHE"/.root.* "$IMG_CACHE"/*.tmp   # left by an interrupted build

for c in podman "$PY" /bin/busybox curl ldd go npm; do
  command -v "$c" >/dev/null || die "images: $c is missing (up.sh installs it)"
done

# A private Podman store, only for building (nothing runs in it).
PW="$IMG_CACHE/.podman"
mkdir -p "$PW"
export CONTAINERS_CONF="$PW/containers.conf" CONTAINERS_STORAGE_CONF="$PW/storage.conf"
printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' > "$CONTAINERS_CONF"
printf '[storage]\ndriver="overlay"\ngraphroot="%s/storage"\nrunroot="%s/runroot"\n' "$PW" "$PW" > "$CONTAINERS_STORAGE_CONF"

SELF_KEY=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)

# testsrv, cached by its source (the same binary the Podman tests use).
TS_SRC="$REPO_ROOT/scripts/testenv/podman/testsrv"
TS_KEY=$(cat "$TS_SRC"/go.mod "$TS_SRC"/*.go | sha256sum | cut -c1-12)
TESTSRV="$CACHE/testsrv-$TS_KEY"
if [ ! -x "$TESTSRV" ]; then
  log "images: building testsrv"
  (cd "$TS_SRC" && go build -trimpath -ldflags='-s -w' -o "$TESTSRV.tmp" .) || die "images: building testsrv failed"
  mv "$TESTSRV.tmp" "$TESTSRV"
fi

# add_busybox ROOT: /bin/busybox and a link for every applet
add_busybox() {
  mkdir -p "$1/bin" "$1/tmp" "$1/root" "$1/etc"
  chmod 1777 "$1/tmp"
  cp /bin/busybox "$1/bin/"
  local a
  for a in $(/bin/busybox --list); do [ -e "$1/bin/$a" ] || ln -s busybox "$1/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$1/etc/passwd"
  echo 'root:x:0:' > "$1/etc/group"
  printf 'hosts: files dns\n' > "$1/etc/nsswitch.conf"
}
# add_libs ROOT FILE...: copy every shared library ldd lists for the files (not those in ROOT)
add_libs() {
  local root=$1 f lib; shift
  for f in "$@"; do
    for lib in $(ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}'); do
      case "$lib" in "$root"/*) continue ;; esac
      [ -e "$root$lib" ] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  done
}
# add_with_libs ROOT FILE...: copy the files (same paths) and their shared libraries
add_with_libs() {
  local root=$1 f; shift
  for f in "$@"; do [ -e "$root$f" ] || { mkdir -p "$root$(dirname "$f")" && cp -L "$f" "$root$f"; }; done
  add_libs "$root" "$@"
}

# build NAME KEY RECIPE_FUNCTION IMPORT_CHANGES...: echo the cached archive, building it if needed
build() {
  local name=$1 key=$2 fn=$3; shift 3
  local out="$IMG_CACHE/$name-$key.tar" ref="envserve.test/$name:1"
  if [ ! -f "$out" ]; then
    [ -n "${BEFORE_BUILD:-}" ] && { "$BEFORE_BUILD" || die "images: preparing $name failed"; }
    local t0; t0=$(now_ms)
    local root; root=$(mktemp -d "$IMG_CACHE/.root.XXXXXX")
    "$fn" "$root" || { rm -rf "$root"; die "images: building the $name rootfs failed"; }
    local changes=() c
    for c in "$@"; do changes+=(--change "$c"); done
    tar -C "$root" -c . | podman import -q "${changes[@]}" - "$ref" >/dev/null || die "images: podman import of $ref failed"
    rm -f "$out.tmp"
    podman save -q --format docker-archive -o "$out.tmp" "$ref" || die "images: podman save of $ref failed"
    podman rmi -f "$ref" >/dev/null 2>&1 || true
    rm -rf "$root"
    # Older versions. For a name whose key follows the checkout's sources (envserve) the newest two
    # are kept: another worktree's up.sh may be about to import one.
    if [ -n "${KEEP_OLD:-}" ]; then ls -t "$IMG_CACHE/$name"-*.tar 2>/dev/null | tail -n +3 | xargs -r rm -f
    else rm -f "$IMG_CACHE/$name"-*.tar; fi
    mv "$out.tmp" "$out"
    log "images: built $ref in $(( ($(now_ms) - t0) / 1000 )) s ($(du -h "$out" | cut -f1))"
  fi
  echo "$out"
}

rootfs_pause() { add_busybox "$1"; }
rootfs_busybox() { add_busybox "$1"; add_with_libs "$1" "$(command -v curl)"; }
rootfs_testsrv() {
  add_busybox "$1"
  mkdir -p "$1/usr/local/bin"
  cp "$TESTSRV" "$1/usr/local/bin/testsrv"
  cp "$K8S_DIR/jupyter-standin.sh" "$1/usr/local/bin/jupyter"
  chmod +x "$1/usr/local/bin/jupyter"
}
rootfs_notebook() {
  local r=$1 venv=/opt/jupyter
  add_busybox "$r"
  add_with_libs "$r" "$PY"
  ln -s python3.11 "$r/usr/bin/python3"
  # The standard library (without its tests) and the shared libraries of its C modules.
  mkdir -p "$r/usr/lib/python3.11"
  tar -C /usr/lib/python3.11 --exclude=./test --exclude=./idlelib --exclude=./tkinter --exclude=./turtledemo \
    --exclude=./site-packages --exclude=./dist-packages -c . | tar -C "$r/usr/lib/python3.11" -x
  # A venv made here at $r$venv, then moved: the script shebangs name the path inside the image.
  "$PY" -m venv "$r$venv" >/dev/null || return 1
  # shellcheck disable=SC2086
  "$r$venv/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir $JUPYTERLAB_PIN || return 1
  grep -rlI "$r$venv" "$r$venv/bin" | xargs -r sed -i "s|$r$venv|$venv|g"
  ln -sf "$PY" "$r$venv/bin/python3"
  ln -sf python3 "$r$venv/bin/python"
  local so
  while IFS= read -r so; do add_libs "$r" "$so"; done < <(find /usr/lib/python3.11/lib-dynload "$r$venv" -name '*.so*' -type f)
  find "$r$venv" -name '__pycache__' -prune -exec rm -rf {} + 2>/dev/null || true
  mkdir -p "$r/root/.local" "$r/work"
}

# envserve: the project's Node (the devDependency `node`), and the production node_modules, cached
# by package.json + the lock (`npm ci --omit=dev` leaves the devDependency out).
NODE_BIN=$(readlink -f "$REPO_ROOT/node_modules/.bin/node") && [ -x "$NODE_BIN" ] \
  || die "images: $REPO_ROOT/node_modules/.bin/node is missing (the devDependency node): run npm ci"
prod_modules() {
  local key; key=$(cat "$REPO_ROOT/package.json" "$REPO_ROOT/package-lock.json" | sha256sum | cut -c1-12)
  local dir="$CACHE/envserve-prod-modules-$key"
  if [ ! -d "$dir/node_modules" ]; then
    log "images: npm ci --omit=dev for the envserve image" >&2
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    cp "$REPO_ROOT/package.json" "$REPO_ROOT/package-lock.json" "$dir.tmp/"
    (cd "$dir.tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2) || { rm -rf "$dir.tmp"; return 1; }
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/node_modules"
}
rootfs_envserve() {
  local r=$1
  chmod 755 "$r"   # mktemp made it 0700; the pod runs as a non-root user
  add_busybox "$r"
  mkdir -p "$r/usr/local/bin" "$r/app/bin"
  cp "$NODE_BIN" "$r/usr/local/bin/node"
  add_libs "$r" "$NODE_BIN"
  cp -r "$REPO_ROOT/dist" "$r/app/dist"
  cp "$REPO_ROOT/bin/envserve.js" "$r/app/bin/"
  cp "$REPO_ROOT/package.json" "$r/app/"
  cp -r "$ENVSERVE_MODULES" "$r/app/node_modules"
  # Type declarations, source maps and docs are never loaded: a third of the files (the
  # Kubernetes client's generated code), and containerd's import time goes with the file count.
  find "$r/app/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' \) -delete
  printf '#!/bin/sh\nexec /usr/local/bin/node /app/bin/envserve.js "$@"\n' > "$r/usr/local/bin/envserve"
  chmod 755 "$r/usr/local/bin/envserve"
  chmod -R a+rX "$r/app" "$r/usr" "$r/lib"* 2>/dev/null || true
}
# The key covers what dist/ is built from (not dist/ itself, which may be stale or missing):
# on a change, dist/ is rebuilt here, so the image never carries old code.
envserve_key() {
  ( cd "$REPO_ROOT" && find src -type f ! -name '*.test.ts' | LC_ALL=C sort | xargs cat
    cat tsconfig.json tsconfig.build.json tsconfig.page.json package.json package-lock.json bin/envserve.js "$NODE_BIN" /bin/busybox ) \
    | sha256sum | cut -c1-12
}

PAUSE_KEY=$(cat /bin/busybox | sha256sum | cut -c1-12)-$SELF_KEY
BB_KEY=$(cat /bin/busybox "$(command -v curl)" | sha256sum | cut -c1-12)-$SELF_KEY
TS_IMG_KEY=$(cat /bin/busybox "$TESTSRV" "$K8S_DIR/jupyter-standin.sh" | sha256sum | cut -c1-12)-$SELF_KEY
NB_KEY=$(echo "$JUPYTERLAB_PIN $($PY --version)" | cat - /bin/busybox | sha256sum | cut -c1-12)-$SELF_KEY

echo "$(build pause "$PAUSE_KEY" rootfs_pause 'CMD ["/bin/sleep", "inf"]') envserve.test/pause:1"
echo "$(build busybox "$BB_KEY" rootfs_busybox 'ENV PATH=/usr/bin:/bin' 'CMD ["/bin/sh"]') envserve.test/busybox:1"
echo "$(build testsrv "$TS_IMG_KEY" rootfs_testsrv 'ENV PATH=/usr/local/bin:/bin' 'CMD ["testsrv", "pod"]') envserve.test/testsrv:1 envserve.test/backed:1 envserve.test/web:1 envserve.test/jupyter:1"
echo "$(build notebook "$NB_KEY" rootfs_notebook 'ENV PATH=/opt/jupyter/bin:/usr/local/bin:/usr/bin:/bin' 'ENV HOME=/root' 'ENV SHELL=/bin/sh' 'WORKDIR /work' 'CMD ["jupyter", "lab", "--no-browser", "--ip=0.0.0.0", "--port=8888", "--allow-root"]') envserve.test/notebook:1"

# envserve: dist/ is built (and the production modules installed) only when the image is rebuilt.
prepare_envserve() {
  # `npm test` has just built dist/; build it here only when it is missing or older than a source.
  local stamp="$REPO_ROOT/dist/cli/main.js"
  if [ ! -f "$stamp" ] || [ -n "$(cd "$REPO_ROOT" && find src tsconfig.json tsconfig.build.json tsconfig.page.json package.json bin -newer "$stamp" -print -quit)" ]; then
    log "images: npm run build (dist/ for the envserve image)"
    (cd "$REPO_ROOT" && npm run -s build >&2) || return 1
  fi
  ENVSERVE_MODULES=$(prod_modules) || return 1
}
ES_KEY=$(envserve_key)-$SELF_KEY
echo "$(BEFORE_BUILD=prepare_envserve KEEP_OLD=1 build envserve "$ES_KEY" rootfs_envserve 'ENV PATH=/usr/local/bin:/bin' 'ENTRYPOINT ["/usr/local/bin/envserve"]' 'CMD ["--help"]') envserve.test/envserve:1"
