#!/usr/bin/env bash
# Stops the envserve test cluster and removes everything up.sh made: its processes, the network
# namespace (with the iptables rules, routes and veth pair that live in it), the host route to
# the LoadBalancer pool and .testenv/k8s/. The last run's logs are kept in .testenv/k8s-logs/.
#
#   [ENVSERVE_TESTENV_SLOT=N] bash scripts/testenv/k8s/down.sh [--quiet] [--force]
#
# A cluster whose owner (see up.sh) is another live process is left alone unless --force.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
QUIET=0; FORCE=0
for a in "$@"; do
  case "$a" in
    --quiet) QUIET=1 ;;
    --force) FORCE=1 ;;
    *) die "down.sh: unknown argument $a" ;;
  esac
done
say() { [ $QUIET = 1 ] || log "$@"; }
T0=$(now_ms)
[ "$(id -u)" = 0 ] || die "down.sh must run as root"

if [ $FORCE = 0 ] && [ -f "$OWNER_FILE" ]; then
  read -r owner owner_state < "$OWNER_FILE" || true
  if [ -n "${owner:-}" ] && [ "$owner" != "$OWNER_PID" ] && running "$owner"; then
    log "the test cluster belongs to pid $owner ($(ps -o args= -p "$owner" | cut -c1-100)); leaving it (use --force to take it down)"
    exit 0
  fi
fi

# shellcheck source=node.sh
. "$K8S_DIR/node.sh"

# 1. the components: the clients of the API server together, then the API server, then etcd
# (stopping them all at once leaves the API server waiting on etcd for its shutdown).
stop_group() {
  local pids=() names=() name f p
  for name in "$@"; do
    f="$STATE/run/$name.pid"
    [ -f "$f" ] || continue
    p=$(cat "$f")
    if running "$p"; then pids+=("$p"); names+=("$name"); fi
  done
  if [ ${#pids[@]} -gt 0 ]; then say "stopping ${names[*]}"; stop_pids "${pids[@]}"; fi
}
if [ -d "$STATE/run" ]; then
  # The kubelet first, so that it starts nothing while the node's containers are removed.
  stop_group kubelet
  stop_group pod-backer test-lb-controller traefik coredns kube-proxy kwok kube-scheduler kube-controller-manager
fi
# The node's containers, shims, containerd, pod network namespaces, mounts and cgroups.
node_teardown say
if [ -d "$STATE/run" ]; then
  stop_group kube-apiserver
  stop_group etcd
fi

# 2. anything else still running inside the namespace (e.g. from a run whose state is gone)
if netns_exists; then
  mapfile -t left < <(ip netns pids "$NETNS" 2>/dev/null)
  if [ ${#left[@]} -gt 0 ]; then say "stopping leftover processes in $NETNS: ${left[*]}"; stop_pids "${left[@]}"; fi
  if ! ip netns del "$NETNS" 2>/dev/null && netns_exists; then
    die "could not delete network namespace $NETNS"
  fi
  say "deleted network namespace $NETNS"
fi

# 3. host side: the veth goes with the namespace, and the LB route with the veth; make sure.
ip link show "$VETH_HOST" >/dev/null 2>&1 && { ip link del "$VETH_HOST" 2>/dev/null || true; }
ip route show "$LB_POOL" 2>/dev/null | grep -q . && { ip route del "$LB_POOL" 2>/dev/null || true; }
# iproute2 made /run/netns a mount point when the first namespace was added; drop it if empty.
if mountpoint -q /run/netns 2>/dev/null && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
  umount /run/netns 2>/dev/null || true
fi

rm -f "$OWNER_FILE"

# 4. state: keep the logs for diagnosis, remove the rest
if [ -d "$STATE" ]; then
  if [ -d "$STATE/logs" ]; then rm -rf "$KEPT_LOGS"; mv "$STATE/logs" "$KEPT_LOGS"; fi
  rm -rf "$STATE"
fi
say "down in $(awk "BEGIN{printf \"%.1f\", ($(now_ms) - $T0)/1000}") s"
