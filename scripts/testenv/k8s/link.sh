#!/usr/bin/env bash
# Takes the host's link to the running test cluster down or up again (the veth pair's host side),
# for tests of what envserve does when the cluster is out of reach. Bringing an interface down
# deletes the routes through it, and traffic to the cluster's addresses would then take the
# default route off this machine: while it is down they are `unreachable` routes instead (a
# connection fails at once, as on a laptop with no network), and `up` puts back the routes up.sh
# made (the /30 comes back with the link; the LoadBalancer pool's route is added again).
#
#   bash scripts/testenv/k8s/link.sh down|up     (as root; follows ENVSERVE_TESTENV_SLOT)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case "${1:-}" in
  down)
    ip route replace unreachable "$NODE_IP/32"
    ip route replace unreachable "$LB_POOL"
    ip link set "$VETH_HOST" down
    ;;
  up)
    ip link set "$VETH_HOST" up
    ip route del unreachable "$NODE_IP/32" 2>/dev/null || true
    ip route replace "$LB_POOL" via "$NODE_IP" dev "$VETH_HOST"
    ;;
  *) die "usage: link.sh down|up" ;;
esac
