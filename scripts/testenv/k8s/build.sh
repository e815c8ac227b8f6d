#!/usr/bin/env bash
# Builds the test cluster's components from the Go module proxy, with pinned versions, into
# ${ENVSERVE_TESTENV_CACHE:-$HOME/.cache/envserve-testenv}/bin/<component>-<version>-r<recipe>/.
# A component whose binaries are already cached is not rebuilt.
#
#   [ENVSERVE_TESTENV_K8S_VERSION=X.Y.Z] bash scripts/testenv/k8s/build.sh [kubernetes|kubelet|kubectl|etcd|kwok|traefik|coredns ...]
#   (default: all; kubernetes, kubelet and kubectl at the selected Kubernetes version)
#
# Module downloads (GOMODCACHE) and the Go build cache (GOCACHE) are kept in the same cache.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null || die "go is not installed (needed to build the test cluster)"
GO_NICE=(nice -n 10)
BUILD_FLAGS=(-p 2 -trimpath)

mkdir -p "$CACHE/bin" "$CACHE/src" "$GOMODCACHE" "$GOCACHE"

# One build at a time per component and version (two test runs starting together must not race),
# but different ones may build side by side: the matrix builds the older release's components
# while the main suites run on a cached cluster, and up.sh must not wait for that.
# GOCACHE and GOMODCACHE are safe for concurrent use.
# lock_component COMPONENT VERSION: hold that build's lock (fd 9) and clear its half-built output
# from an interrupted or failed build (named .tmp-COMPONENT-VERSION.*).
lock_component() {
  exec 9>"$CACHE/build-$1-$2.lock"
  flock 9
  rm -rf "$CACHE/bin/.tmp-$1-$2."*
}

# finish COMPONENT VERSION TMPDIR: make the built binaries visible atomically.
finish() {
  local dst; dst=$(bin_dir "$1" "$2")
  rm -rf "$dst"; mv "$3" "$dst"; touch "$dst/.complete"
}
cached() { [ -f "$(bin_dir "$1" "$2")/.complete" ]; }
# tmp_out COMPONENT VERSION: a fresh output directory for that build
tmp_out() { mktemp -d "$CACHE/bin/.tmp-$1-$2.XXXXXX"; }

# Copies the versioned (non-local) replace directives of a published go.mod into the current module.
copy_replaces() {
  local r
  for r in $(awk '
    /^replace \(/ {inblk=1; next}
    inblk && /^\)/ {inblk=0; next}
    inblk || /^replace / {
      sub(/^replace /,""); sub(/\/\/.*/,"")
      for (i=1;i<=NF;i++) if ($i=="=>") a=i
      old=$1; if (a==3) old=$1"@"$2
      new=$(a+1); if (NF>=a+2) new=new"@"$(a+2)
      if (new !~ /^\./ && new !~ /^\//) print old"="new
    }' "$1"); do
    go mod edit -replace="$r"
  done
}

# Downloads a module's go.mod and prints its path in the module cache.
published_gomod() {
  go mod download -json "$1" | sed -n 's/.*"GoMod": "\([^"]*\)".*/\1/p'
}

# k8s_wrapper DIR VERSION CMD...: a wrapper module in DIR that requires k8s.io/kubernetes vVERSION
# (its staging modules replaced by the published k8s.io/<name> v0.X.Y) with the commands as tools.
k8s_wrapper() {
  local src=$1 v=$2 sv="v0.${2#1.}"; shift 2
  rm -rf "$src"; mkdir -p "$src"; cd "$src"
  go mod init local/envserve-testenv-k8s >/dev/null 2>&1
  local mod; mod=$(published_gomod "k8s.io/kubernetes@v$v")
  [ -n "$mod" ] || die "kubernetes: k8s.io/kubernetes@v$v is not on the module proxy"
  # Same language version and GODEBUG defaults as the upstream build.
  go mod edit -go="$(sed -n 's/^go \(.*\)/\1/p' "$mod")"
  grep -E '^godebug ' "$mod" >> go.mod || true
  # k8s.io/kubernetes points its staging modules at ./staging with replace lines: use the
  # published k8s.io/<name> v0.X.Y module of each instead.
  local m
  for m in $(sed -n 's|^\t\(k8s.io/[^ ]*\) => \./staging/.*|\1|p' "$mod"); do
    go mod edit -replace="$m=$m@$sv"
  done
  copy_replaces "$mod"
  go mod edit -require="k8s.io/kubernetes@v$v"
  local c
  for c in "$@"; do go mod edit -tool="k8s.io/kubernetes/cmd/$c"; done
  "${GO_NICE[@]}" go mod tidy
}

# k8s_build VERSION OUTDIR CMD...: build the commands of the wrapper module in the current directory
k8s_build() {
  local v=$1 out=$2; shift 2
  local minor; minor=$(echo "$v" | cut -d. -f2)
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=v$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=v$v"
  local c
  for c in "$@"; do
    local t0; t0=$(now_ms)
    "${GO_NICE[@]}" go build "${BUILD_FLAGS[@]}" -ldflags "$ld" -o "$out/$c" "k8s.io/kubernetes/cmd/$c"
    log "kubernetes: $c built in $(( ($(now_ms) - t0) / 1000 )) s"
  done
}

build_kubernetes() {
  local v=$K8S_VERSION
  cached kubernetes "$v" && { log "kubernetes v$v: cached"; return; }
  local out; out=$(tmp_out "$COMPONENT" "$v")
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
  k8s_wrapper "$CACHE/src/kubernetes-$v" "$v" "${cmds[@]}"
  k8s_build "$v" "$out" "${cmds[@]}"
  finish kubernetes "$v" "$out"
}

# One binary of k8s.io/kubernetes as a component of its own (same module and version as the control
# plane, most packages shared with it in GOCACHE), so that adding it did not invalidate the cached
# control plane: the node's kubelet, and kubectl of the cluster's version for the tests and benches
# (the machine's kubectl may be far outside the supported skew of the cluster).
build_k8s_binary() {
  local name=$1 v=$K8S_VERSION
  cached "$name" "$v" && { log "$name v$v: cached"; return; }
  local out; out=$(tmp_out "$COMPONENT" "$v")
  k8s_wrapper "$CACHE/src/$name-$v" "$v" "$name"
  k8s_build "$v" "$out" "$name"
  finish "$name" "$v" "$out"
}
build_kubelet() { build_k8s_binary kubelet; }
build_kubectl() { build_k8s_binary kubectl; }

build_coredns() {
  local v=$COREDNS_VERSION
  cached coredns "$v" && { log "coredns v$v: cached"; return; }
  local src="$CACHE/src/coredns-$v" out; out=$(tmp_out "$COMPONENT" "$v")
  rm -rf "$src"; mkdir -p "$src"; cd "$src"
  go mod init local/envserve-testenv-coredns >/dev/null 2>&1
  local mod; mod=$(published_gomod "github.com/coredns/coredns@v$v")
  [ -n "$mod" ] || die "coredns: github.com/coredns/coredns@v$v is not on the module proxy"
  go mod edit -go="$(sed -n 's/^go \(.*\)/\1/p' "$mod")"
  cat > main.go <<'EOF'
// CoreDNS with the plugins of the envserve test cluster (test infrastructure of envserve).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The order of the chain, as in CoreDNS's plugin.cfg.
func init() {
	dnsserver.Directives = []string{"ready", "health", "errors", "log", "cache", "kubernetes"}
}

func main() { coremain.Run() }
EOF
  go mod edit -require="github.com/coredns/coredns@v$v"
  copy_replaces "$mod"
  "${GO_NICE[@]}" go mod tidy
  "${GO_NICE[@]}" go build "${BUILD_FLAGS[@]}" -ldflags "-s -w" -o "$out/coredns" .
  finish coredns "$v" "$out"
}

build_etcd() {
  local v=$ETCD_VERSION
  cached etcd "$v" && { log "etcd v$v: cached"; return; }
  local src="$CACHE/src/etcd-$v" out; out=$(tmp_out "$COMPONENT" "$v")
  rm -rf "$src"; mkdir -p "$src"; cd "$src"
  go mod init local/envserve-testenv-etcd >/dev/null 2>&1
  local mod; mod=$(published_gomod "go.etcd.io/etcd/server/v3@v$v")
  [ -n "$mod" ] || die "etcd: go.etcd.io/etcd/server/v3@v$v is not on the module proxy"
  go mod edit -go="$(sed -n 's/^go \(.*\)/\1/p' "$mod")"
  cat > main.go <<'EOF'
// The etcd server, built from go.etcd.io/etcd/server/v3 (test infrastructure of envserve).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  go mod edit -require="go.etcd.io/etcd/server/v3@v$v"
  copy_replaces "$mod"
  "${GO_NICE[@]}" go mod tidy
  "${GO_NICE[@]}" go build "${BUILD_FLAGS[@]}" -ldflags "-s -w" -o "$out/etcd" .
  finish etcd "$v" "$out"
}

build_kwok() {
  local v=$KWOK_VERSION
  cached kwok "$v" && { log "kwok v$v: cached"; return; }
  local out; out=$(tmp_out "$COMPONENT" "$v")
  cd "$CACHE/src"
  GOBIN="$out" "${GO_NICE[@]}" go install "${BUILD_FLAGS[@]}" -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$v"
  # KWOK has built-in default Stages (node init + heartbeat, pod ready/complete/delete); what we
  # need from the module is its CRDs, for the PortForward objects the pod backer creates.
  local dir="$GOMODCACHE/sigs.k8s.io/kwok@v$v/kustomize/crd/bases"
  [ -d "$dir" ] || die "kwok: CRD definitions not found in $dir"
  mkdir -p "$out/crds"
  cp "$dir"/*.yaml "$out/crds/"
  chmod -R u+w "$out/crds"
  finish kwok "$v" "$out"
}

build_traefik() {
  local v=$TRAEFIK_VERSION
  cached traefik "$v" && { log "traefik v$v: cached"; return; }
  local src="$CACHE/src/traefik-$v" out; out=$(tmp_out "$COMPONENT" "$v")
  rm -rf "$src"; mkdir -p "$src"; cd "$src"
  go mod init local/envserve-testenv-traefik >/dev/null 2>&1
  local mod; mod=$(published_gomod "github.com/traefik/traefik/v3@v$v")
  [ -n "$mod" ] || die "traefik: github.com/traefik/traefik/v3@v$v is not on the module proxy"
  go mod edit -go="$(sed -n 's/^go \(.*\)/\1/p' "$mod")"
  if grep -qE '=> \.' "$mod"; then die "traefik v$v has a local-path replace in its go.mod; pick another 3.6.x"; fi
  # `go install traefik@v` refuses modules with replace lines: copy them into a wrapper module.
  copy_replaces "$mod"
  go mod edit -require="github.com/traefik/traefik/v3@v$v" -tool=github.com/traefik/traefik/v3/cmd/traefik
  "${GO_NICE[@]}" go mod tidy
  "${GO_NICE[@]}" go build "${BUILD_FLAGS[@]}" \
    -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=v$v" \
    -o "$out/traefik" github.com/traefik/traefik/v3/cmd/traefik
  finish traefik "$v" "$out"
}

# component_version COMPONENT: the version of it this build is for
component_version() {
  case "$1" in
    kubernetes|kubelet|kubectl) echo "$K8S_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;; kwok) echo "$KWOK_VERSION" ;;
    traefik) echo "$TRAEFIK_VERSION" ;; coredns) echo "$COREDNS_VERSION" ;;
  esac
}

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(etcd kwok kubernetes traefik kubelet kubectl coredns)
for c in "${components[@]}"; do
  case "$c" in
    kubernetes|etcd|kwok|traefik|kubelet|kubectl|coredns) ;;
    *) die "unknown component '$c' (kubernetes, kubelet, kubectl, etcd, kwok, traefik, coredns)" ;;
  esac
  v=$(component_version "$c")
  phase_start "build $c v$v"
  if ! (
    COMPONENT=$c
    lock_component "$c" "$v"
    trap 'rm -rf "$CACHE/bin/.tmp-$COMPONENT-$v."*' EXIT
    "build_$c"
  ); then die "building $c v$v failed (see the go output above)"; fi
  phase_end
done
print_timings
