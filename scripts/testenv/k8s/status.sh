#!/usr/bin/env bash
# Prints what of the envserve test cluster runs. Exit code 0 if every component runs, 1 if none
# does (no cluster), 2 if some component is missing.
#
#   bash scripts/testenv/k8s/status.sh
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The running cluster's version (up.sh recorded it), else the one up.sh would start.
K8S_VERSION=$(running_version || true); K8S_VERSION=${K8S_VERSION:-${ENVSERVE_TESTENV_K8S_VERSION:-$K8S_DEFAULT_VERSION}}
APISERVER_FEATURE_GATES=$(running_gates || true)
echo "envserve test cluster (Kubernetes v$K8S_VERSION${APISERVER_FEATURE_GATES:+, API server feature gates $APISERVER_FEATURE_GATES}, etcd v$ETCD_VERSION, kwok v$KWOK_VERSION, traefik v$TRAEFIK_VERSION)"
echo "cache: $CACHE"
for c in kubernetes:$K8S_VERSION kubelet:$K8S_VERSION kubectl:$K8S_VERSION etcd:$ETCD_VERSION kwok:$KWOK_VERSION traefik:$TRAEFIK_VERSION coredns:$COREDNS_VERSION; do
  d=$(bin_dir "${c%%:*}" "${c#*:}")
  if [ -f "$d/.complete" ]; then echo "  built  ${c%%:*} v${c#*:}"; else echo "  MISSING build of ${c%%:*} v${c#*:} (up.sh builds it)"; fi
done

if netns_exists; then
  echo "network namespace: $NETNS (node $NODE_IP, host side $HOST_IP), $(ip netns pids "$NETNS" | wc -l) processes inside"
else
  echo "network namespace: $NETNS does not exist"
fi

up=0; down=0
echo "components:"
for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet coredns kwok kube-proxy traefik test-lb-controller pod-backer; do
  f="$STATE/run/$name.pid"
  if [ -f "$f" ] && running "$(cat "$f")"; then
    printf '  %-24s running (pid %s)\n' "$name" "$(cat "$f")"; up=$((up + 1))
  else
    printf '  %-24s not running\n' "$name"; down=$((down + 1))
  fi
done

if [ $up -gt 0 ] && [ -f "$STATE/admin.kubeconfig" ]; then
  K=("$(kubectl_bin)" --kubeconfig "$STATE/admin.kubeconfig" --request-timeout=5s)
  echo "nodes:"; "${K[@]}" get nodes -o wide 2>&1 | sed 's/^/  /'
  echo "pods (all namespaces):"; "${K[@]}" get pods -A -o wide 2>&1 | sed 's/^/  /'
  echo "services (all namespaces):"; "${K[@]}" get svc -A 2>&1 | sed 's/^/  /'
  echo "env.json: $STATE/env.json"
fi
[ $up = 0 ] && exit 1
[ $down = 0 ] || exit 2
exit 0
