# Pinned versions of everything the test cluster builds. Sourced by the other scripts.
# Only versions the Go module proxy actually serves here are usable (it answers
# "403 This module version is not available" for others, e.g. k8s.io/kubernetes v1.34.13).
# kubectl on the machines is a v1.32 client: Kubernetes 1.33 keeps it inside the supported skew.
K8S_VERSION=1.33.13          # k8s.io/kubernetes; staging modules k8s.io/* at v0.33.13
ETCD_VERSION=3.6.16          # go.etcd.io/etcd/server/v3
KWOK_VERSION=0.7.0           # sigs.k8s.io/kwok
TRAEFIK_VERSION=3.6.12       # github.com/traefik/traefik/v3 (the only 3.6.x the proxy serves here)
COREDNS_VERSION=1.12.3       # github.com/coredns/coredns (its k8s.io modules: v0.32.5)
# The kubelet is built from k8s.io/kubernetes at K8S_VERSION (cached as its own component).
# Bump this when the way a component is built changes, so cached binaries are rebuilt.
RECIPE_REV=1
