#!/usr/bin/env bash
# Restarts one component of the running test cluster with the same command line, and waits until
# it is ready again (the same check up.sh used). For tests of what envserve does when, e.g., the
# API server goes away. Prints how long the component was down, in ms, on stdout.
#
#   bash scripts/testenv/k8s/restart.sh kube-apiserver [--kill]   (--kill: SIGKILL, no graceful stop)
#
# Components: etcd kube-apiserver kube-controller-manager kube-scheduler kwok kube-proxy traefik
#             test-lb-controller pod-backer coredns containerd kubelet
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# The node's readiness checks (ctr_ok for containerd) are functions of node.sh.
# shellcheck source=node.sh
. "$K8S_DIR/node.sh"
NAME="${1:-}"; SIG=TERM
[ "${2:-}" = "--kill" ] && SIG=KILL
[ -n "$NAME" ] || die "usage: restart.sh COMPONENT [--kill]"
[ -f "$RUN/$NAME.cmd" ] && [ -f "$RUN/$NAME.pid" ] || die "restart.sh: no running test cluster component '$NAME' (is the cluster up?)"

T0=$(now_ms)
pid=$(cat "$RUN/$NAME.pid")
if running "$pid"; then
  kill "-$SIG" "$pid" 2>/dev/null || true
  for _ in $(seq 50); do running "$pid" || break; sleep 0.1; done
  if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  for _ in $(seq 50); do running "$pid" || break; sleep 0.1; done
  running "$pid" && die "restart.sh: $NAME (pid $pid) does not stop"
  # Its main thread is a zombie before the other threads have exited, and they hold its sockets
  # until the last one has: wait for them, or the new one may find its port still taken
  # ("address already in use", seen 14 ms after a SIGKILL).
  for _ in $(seq 100); do [ "$(ls "/proc/$pid/task" 2>/dev/null | wc -l)" -le 1 ] && break; sleep 0.05; done
fi
rm -f "$RUN/$NAME.ready"
log "restart: $NAME stopped after $(( $(now_ms) - T0 )) ms; starting it again"
eval "cmd=($(cat "$RUN/$NAME.cmd"))"
# shellcheck disable=SC2154
if [ -f "$RUN/$NAME.host" ]; then start_host "$NAME" "${cmd[@]}"; else start "$NAME" "${cmd[@]}"; fi
eval "check=($(cat "$RUN/$NAME.check"))"
wait_for "$NAME" 90 "${check[@]}"
ms=$(( $(now_ms) - T0 ))
log "restart: $NAME ready again, $ms ms after it was stopped"
echo "$ms"
