# Whether the slot's running cluster is whole and answering, and is the one asked for (version,
# feature gates). Sourced by up.sh (a cluster that is would be left running) and status.sh.
# shellcheck shell=bash

# The components up.sh starts, in status order.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet coredns kwok kube-proxy traefik test-lb-controller pod-backer)

# component_answers NAME: its own health endpoint (or, for the test helpers, its process) answers.
component_answers() {
  local c=(curl -sf -m 3)
  case "$1" in
    etcd) in_ns "${c[@]}" http://127.0.0.1:2381/health ;;
    kube-apiserver) api_ok /readyz ;;
    kube-controller-manager) in_ns "${c[@]}" -k https://127.0.0.1:10257/healthz ;;
    kube-scheduler) in_ns "${c[@]}" -k https://127.0.0.1:10259/healthz ;;
    containerd) timeout 5 ctr --address "$CTR_SOCK" version ;;
    kubelet) in_ns "${c[@]}" http://127.0.0.1:10248/healthz && node_ready "$NODE_NAME" ;;
    coredns) in_ns "${c[@]}" http://127.0.0.1:8181/ready ;;
    kwok) node_ready "$KWOK_NODE_NAME" ;;
    kube-proxy) in_ns "${c[@]}" http://127.0.0.1:10256/healthz ;;
    traefik) in_ns "${c[@]}" http://127.0.0.1:9000/ping ;;
    test-lb-controller|pod-backer) [ -f "$RUN/$1.ready" ] ;;
  esac
}

# cluster_unhealthy: prints why the running cluster is not the whole cluster asked for, answering
# (first reason only); prints nothing and fails when it is.
cluster_unhealthy() {
  netns_exists || { echo "no network namespace $NETNS"; return 0; }
  [ -f "$STATE/env.json" ] || { echo "no $STATE_REL/env.json (up.sh did not finish)"; return 0; }
  local v g; v=$(running_version); g=$(running_gates)
  [ "$v" = "$K8S_VERSION" ] || { echo "it runs Kubernetes v${v:-?}, v$K8S_VERSION was asked for"; return 0; }
  [ "$g" = "$APISERVER_FEATURE_GATES" ] || { echo "its API server feature gates are '${g}', '$APISERVER_FEATURE_GATES' was asked for"; return 0; }
  local name p
  for name in "${COMPONENTS[@]}"; do
    p=$(cat "$RUN/$name.pid" 2>/dev/null) || { echo "$name was never started"; return 0; }
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = T ] && { echo "$name (pid $p) is stopped"; return 0; }
    running "$p" || { echo "$name (pid $p) is not running"; return 0; }
    CLUSTER_K8S_VERSION=$v component_answers "$name" >/dev/null 2>&1 || { echo "$name (pid $p) does not answer"; return 0; }
  done
  return 1
}
