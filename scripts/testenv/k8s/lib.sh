# Common settings and helpers of the test cluster scripts. Sourced, never run.
# shellcheck shell=bash

K8S_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$K8S_DIR/../../.." && pwd)"
# shellcheck source=versions.sh
. "$K8S_DIR/versions.sh"

# Everything fetched or built lives outside the repo, keyed by version, so a fresh clone on the
# same machine starts warm.
CACHE="${ENVSERVE_TESTENV_CACHE:-$HOME/.cache/envserve-testenv}"
export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export GOTOOLCHAIN=local
export GOFLAGS="-buildvcs=false -mod=mod"
export CGO_ENABLED=0

# Slot: several independent clusters on one machine (other checkouts, a developer's long-lived
# cluster next to CI-like test runs). Slot 0 is the default; slot N (1..50) gets its own state
# directory, namespace, veth names and addresses.
SLOT="${ENVSERVE_TESTENV_SLOT:-0}"
case "$SLOT" in ''|*[!0-9]*) echo "ENVSERVE_TESTENV_SLOT must be a number 0..50" >&2; exit 2 ;; esac
[ "$SLOT" -le 50 ] || { echo "ENVSERVE_TESTENV_SLOT must be a number 0..50" >&2; exit 2; }
SFX=""; [ "$SLOT" = 0 ] || SFX="-$SLOT"

# The running cluster's state (relative to the repo root; .testenv/ is git-ignored).
STATE="$REPO_ROOT/.testenv/k8s$SFX"
KEPT_LOGS="$REPO_ROOT/.testenv/k8s$SFX-logs"     # the last run's logs, kept by down.sh
STATE_REL=".testenv/k8s$SFX"; KEPT_LOGS_REL=".testenv/k8s$SFX-logs"

# Network layout. Everything but the /30 on the veth pair exists only inside the namespace.
NETNS="envserve-k8s$SFX"
VETH_HOST="envserve$SFX-h"        # interface names are at most 15 characters
VETH_NS="envserve$SFX-n"
HOST_IP=10.250.$((SLOT * 2)).1    # host side of the veth pair
NODE_IP=10.250.$((SLOT * 2)).2    # namespace side: the node's address, API server, NodePorts, Ingress
POD_CIDR=10.244.0.0/24            # KWOK's pod IPs (--cidr); routed "local" inside the namespace
NODE_POD_CIDR=10.245.0.0/24       # the real node's pod IPs (CNI bridge envserve0 inside the namespace)
CLUSTER_CIDR=10.244.0.0/15        # both (kube-proxy --cluster-cidr)
SERVICE_CIDR=10.96.0.0/16         # ClusterIPs; routed "local" inside the namespace
KUBERNETES_SVC_IP=10.96.0.1       # the first address of SERVICE_CIDR (the "kubernetes" Service)
LB_POOL=10.250.$((SLOT * 2 + 1)).0/28 # LoadBalancer addresses; routed "local" inside the namespace,
                                  # and from the host only through the veth (to the namespace)
NODEPORT_RANGE=30000-32767
APISERVER_PORT=6443
KWOK_NODE_PORT=10250
KUBELET_PORT=10251                # the real kubelet, on the same node IP as KWOK's kubelet API
NODE_NAME=envserve-node           # the real node (kubelet + containerd)
KWOK_NODE_NAME=envserve-kwok      # KWOK's node, tainted: only pods that tolerate it go there
CLUSTER_DNS_IP=10.96.0.10         # the kube-dns Service (CoreDNS runs in the namespace)
CNI_BIN_DIR=/usr/lib/cni          # Debian's containernetworking-plugins
INGRESS_HTTP_PORT=80
INGRESS_HTTPS_PORT=443            # Traefik's websecure entry point (TLS Ingresses)
INGRESS_DEFAULT_TLS_HOST=ingress-default.envserve.test # Traefik's default certificate covers only this name
TEST_NAMESPACE=envserve-test      # the namespace the restricted user may use

# One cluster per machine per namespace name: who owns it, and a lock around up.sh.
OWNER_FILE="/run/envserve-testenv-$NETNS.owner"     # "<owner pid> <state dir>"
UP_LOCK="/run/lock/envserve-testenv-$NETNS.lock"
# The process the cluster belongs to: the test runner that calls up.sh and down.sh (their parent),
# unless it says otherwise.
OWNER_PID="${ENVSERVE_TESTENV_OWNER_PID:-$PPID}"

log() { printf '[k8s-testenv %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[k8s-testenv] ERROR: %s\n' "$*" >&2; exit 1; }

# bin_dir COMPONENT VERSION -> where that component's binaries are cached
bin_dir() { echo "$CACHE/bin/$1-$2-r$RECIPE_REV"; }

# Phase timing: phase_start NAME; ...; phase_end   (prints and records the duration)
PHASE_NAME=""; PHASE_T0=0
TIMINGS=()
now_ms() { date +%s%3N; }
phase_start() { PHASE_NAME="$1"; PHASE_T0=$(now_ms); log "phase: $1 ..."; }
phase_end() {
  local ms=$(( $(now_ms) - PHASE_T0 ))
  TIMINGS+=("$PHASE_NAME=$ms")
  log "phase: $PHASE_NAME done in $(awk "BEGIN{printf \"%.1f\", $ms/1000}") s"
}
print_timings() {
  local t
  log "timings:"
  for t in "${TIMINGS[@]}"; do
    printf '  %-28s %8.1f s\n' "${t%%=*}" "$(awk "BEGIN{print ${t#*=}/1000}")" >&2
  done
}

# running PID: the process exists and is not a zombie (PID 1 on these machines may be slow to
# reap orphans, and kill -0 succeeds on a zombie)
running() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]; }

# Exact name: grep -w would take envserve-k8s-3 for slot 0's envserve-k8s.
netns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NETNS"; }
in_ns() { ip netns exec "$NETNS" "$@"; }

# ---------------------------------------------------------------- a running cluster
PKI="$STATE/pki"; RUN="$STATE/run"; LOGS="$STATE/logs"
NODE_DIR="$STATE/node"                        # containerd root, kubelet root, CNI and configs
CTR_STATE="/run/envserve-testenv/$NETNS"      # containerd state: sockets (short paths), runc, pod netns
CTR_SOCK="$CTR_STATE/containerd.sock"
# containerd's root (content + unpacked snapshots) outlives the cluster, one per slot, so a warm
# start does not import and unpack the images again (the Jupyter image takes 20-30 s). down.sh
# deletes every container; an up.sh that finds one left empties it first.
CTR_ROOT="$CACHE/containerd/$NETNS"
ADMIN_KC="$STATE/admin.kubeconfig"

# start NAME CMD...: run a component inside the namespace, detached, logging to logs/NAME.log
start() {
  local name=$1; shift
  # 8>&-: the daemons must not inherit (and so keep holding) up.sh's lock
  printf '%q ' "$@" > "$RUN/$name.cmd"      # restart.sh starts it again from this
  setsid ip netns exec "$NETNS" "$@" </dev/null >>"$LOGS/$name.log" 2>&1 8>&- &
  echo $! > "$RUN/$name.pid"
}
# start_host NAME CMD...: like start, but CMD is run as is (containerd and the kubelet enter the
# namespace with `nsenter --net`: `ip netns exec` remounts /sys, and the kubelet then finds no
# cgroup mounts)
start_host() {
  local name=$1; shift
  printf '%q ' "$@" > "$RUN/$name.cmd"
  touch "$RUN/$name.host"
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 8>&- 9>&- &
  echo $! > "$RUN/$name.pid"
}
alive() { local p; for p in "$@"; do running "$p" && return 0; done; return 1; }
# stop_pids PIDS...: TERM, up to 5 s, then KILL
stop_pids() {
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null
  local i
  for i in $(seq 50); do alive "$@" || return 0; sleep 0.1; done
  local p left=()
  for p in "$@"; do running "$p" && left+=("$p"); done
  log "killing ${left[*]} (did not stop within 5 s of TERM)"
  kill -KILL "${left[@]}" 2>/dev/null
  for i in $(seq 20); do alive "$@" || return 0; sleep 0.1; done
}
# wait_for NAME SECONDS CMD...: poll CMD until it succeeds; fail naming the component.
# RESTART_ONCE=FUNCTION: if the component exits while waited for, FUNCTION starts it once more.
wait_for() {
  local name=$1 secs=$2 again=${RESTART_ONCE:-}; shift 2
  [ -f "$RUN/$name.check" ] || printf '%q ' "$@" > "$RUN/$name.check"   # for restart.sh
  local deadline=$(( $(now_ms) + secs * 1000 ))
  while ! "$@" >/dev/null 2>&1; do
    if [ -f "$RUN/$name.pid" ] && ! running "$(cat "$RUN/$name.pid")"; then
      log "$name exited; last lines of its log:"; tail -n 25 "$LOGS/$name.log" >&2 || true
      if [ -n "$again" ]; then
        log "$name: starting it once more"
        "$again"; again=
        continue
      fi
      die "$name failed to start (log: $KEPT_LOGS_REL/$name.log)"
    fi
    if [ "$(now_ms)" -gt "$deadline" ]; then
      log "$name: not ready after ${secs}s; last lines of its log:"; tail -n 25 "$LOGS/$name.log" >&2 || true
      die "$name did not become ready within ${secs}s (log: $KEPT_LOGS_REL/$name.log)"
    fi
    sleep 0.1
  done
}
# kubectl of the cluster's Kubernetes version (built with it, build.sh), else the machine's.
# CLUSTER_K8S_VERSION: the version of the running cluster (scripts that act on it set it), else
# the one asked for.
kubectl_bin() {
  local d; d=$(bin_dir kubectl "${CLUSTER_K8S_VERSION:-$K8S_VERSION}")
  if [ -x "$d/kubectl" ]; then echo "$d/kubectl"; else command -v kubectl; fi
}
kubectl_() { "$(kubectl_bin)" "$@"; }
KUBECTL=(kubectl_ --kubeconfig "$ADMIN_KC" --request-timeout=20s)
# The running cluster's version and API server feature gates, as up.sh recorded them.
running_version() { cat "$RUN/k8s-version" 2>/dev/null; }
running_gates() { cat "$RUN/feature-gates" 2>/dev/null; }
api_ok() { curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://$NODE_IP:$APISERVER_PORT$1"; }
node_ready() {
  [ "$("${KUBECTL[@]}" get node "${1:-$NODE_NAME}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
no_taints() { [ -z "$("${KUBECTL[@]}" get node "$NODE_NAME" -o jsonpath='{.spec.taints}')" ]; }
# only_own_taint NODE TAINT_KEY: the node's one taint is its own (the not-ready ones are gone)
only_own_taint() { [ "$("${KUBECTL[@]}" get node "$1" -o jsonpath='{.spec.taints[*].key}')" = "$2" ]; }
proxy_synced() { in_ns iptables -t nat -S KUBE-SERVICES | grep -q 'default/kubernetes'; }
sa_ready() { "${KUBECTL[@]}" -n "$TEST_NAMESPACE" get serviceaccount default && "${KUBECTL[@]}" -n default get serviceaccount default; }
