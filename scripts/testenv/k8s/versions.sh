# Pinned versions of everything the test cluster builds. Sourced by the other scripts.
# Only versions the Go module proxy actually serves here are usable (it answers
# "403 This module version is not available" for others, e.g. k8s.io/kubernetes v1.34.13).
#
# Kubernetes (k8s.io/kubernetes; staging modules k8s.io/* at v0.X.Y): the default is the newest
# release the proxy serves that the Go here builds (v1.38.0-beta.0 needs Go 1.27). The matrix also
# runs the oldest one it serves, v1.30.14: its API server does not tunnel port-forward over
# WebSocket by default, so envserve's SPDY fallback is used. Pick one per cluster with
#   ENVSERVE_TESTENV_K8S_VERSION=1.30.14 bash scripts/testenv/k8s/up.sh
# The control plane, the kubelet and a kubectl of that version are built and cached per version;
# the tests use that kubectl (env.json's ENVSERVE_TEST_KUBECTL, first on the runner's PATH).
K8S_DEFAULT_VERSION=1.37.2
K8S_MATRIX_VERSIONS="1.37.2 1.30.14"   # what `npm test` runs on (the first is the default)
K8S_KNOWN_VERSIONS="1.37.2 1.33.13 1.30.14"  # what the scripts know how to set up
K8S_VERSION="${ENVSERVE_TESTENV_K8S_VERSION:-$K8S_DEFAULT_VERSION}"
K8S_VERSION="${K8S_VERSION#v}"
case " $K8S_KNOWN_VERSIONS " in
  *" $K8S_VERSION "*) ;;
  *) echo "ENVSERVE_TESTENV_K8S_VERSION=$K8S_VERSION is not one of: $K8S_KNOWN_VERSIONS" >&2; exit 2 ;;
esac
K8S_MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
ETCD_VERSION=3.6.16          # go.etcd.io/etcd/server/v3
KWOK_VERSION=0.7.0           # sigs.k8s.io/kwok
TRAEFIK_VERSION=3.6.12       # github.com/traefik/traefik/v3 (the only 3.6.x the proxy serves here)
COREDNS_VERSION=1.12.3       # github.com/coredns/coredns (its k8s.io modules: v0.32.5)
# The kubelet and kubectl are built from k8s.io/kubernetes at K8S_VERSION (each cached as its own
# component).
# Bump this when the way a component is built changes, so cached binaries are rebuilt.
RECIPE_REV=1
# Feature gates for the API server, e.g. ExtendWebSocketsToKubelet=false (the matrix runs the
# port-forward suite on the default version with it off: WebSocket tunnelled at the API server).
APISERVER_FEATURE_GATES="${ENVSERVE_TESTENV_APISERVER_FEATURE_GATES:-}"
