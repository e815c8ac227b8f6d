#!/usr/bin/env bash
# Starts the envserve test cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# a REAL node (containerd + runc + CNI bridge + kubelet, images imported from local archives, see
# node.sh and images.sh), CoreDNS (kube-dns), kube-proxy (iptables), Traefik (Ingress), the
# test-only LoadBalancer controller, and beside the real node a tainted KWOK node (for tests that
# need many pods) whose pods the pod backer serves — all inside the network namespace $NETNS.
# Builds missing components and images first (build.sh, images.sh). Writes .testenv/k8s/env.json.
#
#   [ENVSERVE_TESTENV_SLOT=N] [ENVSERVE_TESTENV_K8S_VERSION=X.Y.Z] bash scripts/testenv/k8s/up.sh [--check]
#   (as root)
#
# A cluster of the slot that is whole (every component runs and answers) and is the version (and
# API server feature gates, ENVSERVE_TESTENV_APISERVER_FEATURE_GATES) asked for is left running,
# its state kept; a half-running or stale one is cleaned first and a fresh one started.
# ENVSERVE_TESTENV_FRESH=1 (the test runner) always starts a fresh one. --check only says which
# it would do: exit 0 = would leave it running, 3 = would clean and start.
#
# ENVSERVE_TESTENV_K8S_VERSION picks the Kubernetes release (versions.sh: the default, and the
# matrix's older one); components are built and cached per version.
#
# ENVSERVE_TESTENV_SLOT=N (1..50) runs an independent cluster next to the default one (slot 0):
# state in .testenv/k8s-N/, namespace envserve-k8s-N, addresses 10.250.(2N).0/30, LB 10.250.(2N+1).0/28.
#
# The cluster belongs to the process that runs up.sh (its parent; ENVSERVE_TESTENV_OWNER_PID
# overrides). While that process lives, another up.sh waits for it (up to ENVSERVE_TESTENV_WAIT
# seconds, default 900) and down.sh from anyone else leaves it alone (unless --force).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T_ALL=$(now_ms)
[ "$(id -u)" = 0 ] || die "up.sh must run as root (it creates a network namespace)"
CHECK_ONLY=0
for a in "$@"; do
  case "$a" in --check) CHECK_ONLY=1 ;; *) die "up.sh: unknown argument $a" ;; esac
done
# shellcheck source=health.sh
. "$K8S_DIR/health.sh"
WHAT="Kubernetes v$K8S_VERSION${APISERVER_FEATURE_GATES:+, API server feature gates $APISERVER_FEATURE_GATES}"

# ---------------------------------------------------------------- prerequisites
phase_start "prerequisites"
missing=()
for c in ip iptables iptables-restore openssl curl node go flock setsid nsenter containerd ctr runc podman \
  /usr/bin/python3.11 "$CNI_BIN_DIR/bridge" /bin/busybox chromium; do
  command -v "$c" >/dev/null || missing+=("$c")
done
# the venv module of Debian's Python (the Jupyter image is built from it)
/usr/bin/python3.11 -m ensurepip --version >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=()
  for c in "${missing[@]}"; do
    case "$c" in
      iptables|iptables-restore) pkgs+=(iptables) ;;
      ip) pkgs+=(iproute2) ;;
      openssl|curl) pkgs+=("$c") ;;
      flock|setsid|nsenter) pkgs+=(util-linux) ;;
      containerd|ctr) pkgs+=(containerd) ;;
      runc|podman|chromium) pkgs+=("$c") ;;
      /usr/bin/python3.11|python3-venv) pkgs+=(python3 python3-venv) ;;
      "$CNI_BIN_DIR/bridge") pkgs+=(containernetworking-plugins) ;;
      /bin/busybox) pkgs+=(busybox-static) ;;
      *) die "prerequisite '$c' is missing and is not installed by this script" ;;
    esac
  done
  log "installing ${pkgs[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; } ||
    die "prerequisites: could not install ${pkgs[*]} with apt-get"
fi
phase_end

# ---------------------------------------------------------------- wait for / clean a previous run
# Serialise concurrent up.sh runs on this machine, and wait for a cluster another live test run
# owns (tests of two runs must not share or tear down each other's cluster).
mkdir -p "$(dirname "$UP_LOCK")"
exec 8>"$UP_LOCK"
flock 8
WAIT_S="${ENVSERVE_TESTENV_WAIT:-900}"
if [ -f "$OWNER_FILE" ]; then
  read -r other_pid other_state < "$OWNER_FILE" || true
  if [ -n "${other_pid:-}" ] && [ "$other_pid" != "$OWNER_PID" ] && running "$other_pid"; then
    phase_start "wait for the cluster of pid $other_pid"
    log "the test cluster is in use by pid $other_pid ($(ps -o args= -p "$other_pid" | cut -c1-100)), state $other_state"
    log "waiting up to ${WAIT_S}s for it to be taken down (or take it over: bash scripts/testenv/k8s/down.sh --force)"
    deadline=$(( $(date +%s) + WAIT_S ))
    while [ -f "$OWNER_FILE" ] && running "$other_pid"; do
      [ "$(date +%s)" -lt "$deadline" ] || die "the test cluster is still in use by pid $other_pid after ${WAIT_S}s"
      sleep 1
    done
    phase_end
  fi
fi
# ---------------------------------------------------------------- a cluster that is up already
if [ "${ENVSERVE_TESTENV_FRESH:-0}" != 1 ] && [ -d "$STATE" ]; then
  why=$(cluster_unhealthy) || true
  if [ -z "$why" ]; then
    [ $CHECK_ONLY = 1 ] || echo "$OWNER_PID $STATE" > "$OWNER_FILE"
    log "the test cluster (slot $SLOT, $WHAT) is up and every component answers: left running, its state kept"
    log "cluster up (slot $SLOT): KUBECONFIG=$STATE/admin.kubeconfig (env: $STATE_REL/env.json)"
    exit 0
  fi
  log "the test cluster of slot $SLOT is not the whole cluster asked for ($why): it is cleaned and a fresh one started"
  [ $CHECK_ONLY = 0 ] || exit 3
elif [ $CHECK_ONLY = 1 ]; then
  log "no test cluster in slot $SLOT (or ENVSERVE_TESTENV_FRESH=1): a fresh one would be started"
  exit 3
fi
log "starting the test cluster: slot $SLOT, $WHAT"
if [ -f "$OWNER_FILE" ] || [ -d "$STATE" ] || netns_exists; then
  phase_start "clean previous run"
  bash "$K8S_DIR/down.sh" --quiet --force || die "cleaning the previous run failed (down.sh)"
  phase_end
fi

# ---------------------------------------------------------------- build (cached)
phase_start "build (cached unless versions changed)"
bash "$K8S_DIR/build.sh" 2>&1 | sed 's/^/    /' >&2
[ "${PIPESTATUS[0]}" = 0 ] || die "build failed (see above)"
phase_end
KBIN=$(bin_dir kubernetes "$K8S_VERSION"); EBIN=$(bin_dir etcd "$ETCD_VERSION")
WBIN=$(bin_dir kwok "$KWOK_VERSION"); TBIN=$(bin_dir traefik "$TRAEFIK_VERSION")
LBIN=$(bin_dir kubelet "$K8S_VERSION"); DBIN=$(bin_dir coredns "$COREDNS_VERSION")

mkdir -p "$STATE"/{pki,run,logs,etcd}
echo "$K8S_VERSION" > "$RUN/k8s-version"
printf '%s' "$APISERVER_FEATURE_GATES" > "$RUN/feature-gates"
phase_start "images (cached unless their inputs changed)"
bash "$K8S_DIR/images.sh" > "$RUN/images.list" || die "building the node's images failed (see above)"
phase_end
echo "$OWNER_PID $STATE" > "$OWNER_FILE"
# If anything below fails, stop what was started so no half cluster is left behind.
trap 'rc=$?; if [ $rc -ne 0 ]; then log "up.sh failed: stopping what was started (logs kept in $KEPT_LOGS_REL)"; bash "$K8S_DIR/down.sh" --quiet --force || true; fi' EXIT

# ---------------------------------------------------------------- certificates
phase_start "certificates"
(
  cd "$PKI"
  gen_key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null; }
  gen_key ca
  openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=envserve-test-ca" -out ca.crt 2>/dev/null
  # sign NAME SUBJECT EXT
  sign() {
    gen_key "$1"
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 30 \
      -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  }
  SERVER_EXT="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
  CLIENT_EXT="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  sign apiserver "/CN=kube-apiserver" "$SERVER_EXT
subjectAltName=IP:$NODE_IP,IP:127.0.0.1,IP:$KUBERNETES_SVC_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
  sign kubelet "/CN=$NODE_NAME" "$SERVER_EXT
subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME"
  sign admin "/O=system:masters/CN=envserve-test-admin" "$CLIENT_EXT"
  sign node-client "/O=system:nodes/CN=system:node:$NODE_NAME" "$CLIENT_EXT"
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$CLIENT_EXT"
  sign restricted "/CN=envserve-test-restricted" "$CLIENT_EXT"
  # Traefik's default certificate (served to a TLS client whose SNI no Ingress certificate covers),
  # from the test CA, as ops' wildcard certificate would be: a wrong name, not an unknown CA.
  sign ingress-default "/CN=$INGRESS_DEFAULT_TLS_HOST" "$SERVER_EXT
subjectAltName=DNS:$INGRESS_DEFAULT_TLS_HOST"
  gen_key sa
  openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
) || die "certificates: openssl failed"

# kubeconfig NAME CERTNAME: a kubeconfig with the certificates embedded
kubeconfig() {
  cat > "$STATE/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: envserve-test
  cluster:
    server: https://$NODE_IP:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$2.crt")
    client-key-data: $(base64 -w0 "$PKI/$2.key")
contexts:
- name: envserve-test-$1
  context: {cluster: envserve-test, user: $1${3:+, namespace: $3}}
current-context: envserve-test-$1
EOF
  chmod 600 "$STATE/$1.kubeconfig"
}
kubeconfig admin admin
kubeconfig node node-client
kubeconfig restricted restricted "$TEST_NAMESPACE"
phase_end

# ---------------------------------------------------------------- network namespace
phase_start "network namespace"
ip netns add "$NETNS" || die "network namespace: 'ip netns add $NETNS' failed"
ip link add "$VETH_HOST" type veth peer name "$VETH_NS" netns "$NETNS" || die "network namespace: creating the veth pair failed"
ip addr add "$HOST_IP/30" dev "$VETH_HOST"
ip link set "$VETH_HOST" up
in_ns ip link set lo up
in_ns ip addr add "$NODE_IP/30" dev "$VETH_NS"
in_ns ip link set "$VETH_NS" up
# Pod IPs, ClusterIPs and LoadBalancer addresses are local addresses inside the namespace: a
# process there can listen on a pod IP, and kube-proxy's DNAT turns a ClusterIP / NodePort /
# LB address into one. The namespace has NO default route, so nothing can leave it but replies
# to the host over the /30.
in_ns ip route add local "$POD_CIDR" dev lo
in_ns ip route add local "$SERVICE_CIDR" dev lo
in_ns ip route add local "$LB_POOL" dev lo
# From the host, LoadBalancer addresses are reached through the veth (so they land in the
# namespace); ClusterIPs and pod IPs are not routed from the host at all.
ip route add "$LB_POOL" via "$NODE_IP" dev "$VETH_HOST"
# Let the host reach the namespace's DNATed services: no martian filtering on the veth.
in_ns sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 "net.ipv4.conf.$VETH_NS.rp_filter=0" || true
in_ns sysctl -qw net.ipv4.ip_forward=1 || true
# Pod to Service to a pod on the same bridge: the reply must pass kube-proxy's NAT too.
in_ns sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
phase_end

# ---------------------------------------------------------------- the node's container runtime
phase_start "containerd"
# shellcheck source=node.sh
. "$K8S_DIR/node.sh"
node_write_configs
node_start_containerd
# Images are imported while the control plane starts; up.sh waits for them at the end.
( node_import_images ) >>"$LOGS/images.log" 2>&1 8>&- &
IMPORT_PID=$!
phase_end


# ---------------------------------------------------------------- etcd
phase_start "etcd"
start etcd "$EBIN/etcd" --name envserve-test --data-dir "$STATE/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster envserve-test=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
  --unsafe-no-fsync=true --log-level=warn --quota-backend-bytes=1073741824
wait_for etcd 30 in_ns curl -sf http://127.0.0.1:2381/health
phase_end

# ---------------------------------------------------------------- kube-apiserver
phase_start "kube-apiserver"
start kube-apiserver "$KBIN/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:2379 \
  --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port="$APISERVER_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range="$NODEPORT_RANGE" \
  --authorization-mode=Node,RBAC --allow-privileged=true \
  ${APISERVER_FEATURE_GATES:+--feature-gates="$APISERVER_FEATURE_GATES"} \
  --profiling=false --v=1
wait_for kube-apiserver 90 api_ok /readyz
phase_end

# ---------------------------------------------------------------- controllers, scheduler
phase_start "controller-manager, scheduler"
# No cloud, no node IPAM here. Releases that still carry the cloud controllers in
# kube-controller-manager run them unless told not to (1.37 no longer knows their names).
CM_CONTROLLERS='*,-nodeipam'
if "$KBIN/kube-controller-manager" --help 2>/dev/null | grep -q 'cloud-node-lifecycle'; then
  CM_CONTROLLERS+=',-cloud-node-lifecycle,-service-lb-controller'
fi
start kube-controller-manager "$KBIN/kube-controller-manager" \
  --kubeconfig="$ADMIN_KC" --authentication-kubeconfig="$ADMIN_KC" --authorization-kubeconfig="$ADMIN_KC" \
  --bind-address=127.0.0.1 --leader-elect=false \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --use-service-account-credentials=false --controllers="$CM_CONTROLLERS" \
  --profiling=false --v=1
start kube-scheduler "$KBIN/kube-scheduler" \
  --kubeconfig="$ADMIN_KC" --authentication-kubeconfig="$ADMIN_KC" --authorization-kubeconfig="$ADMIN_KC" \
  --bind-address=127.0.0.1 --leader-elect=false --profiling=false --v=1
wait_for kube-controller-manager 60 in_ns curl -skf https://127.0.0.1:10257/healthz
wait_for kube-scheduler 60 in_ns curl -skf https://127.0.0.1:10259/healthz
phase_end

# ---------------------------------------------------------------- cluster objects
phase_start "cluster objects (node, CRDs, RBAC, ingress class)"
cat > "$RUN/objects.yaml" <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $KWOK_NODE_NAME
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $KWOK_NODE_NAME
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
spec:
  podCIDR: $POD_CIDR
  podCIDRs: [$POD_CIDR]
  # Only pods that ask for the KWOK node (toleration + nodeSelector type=kwok) run there.
  taints:
  - {key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  clusterIP: $CLUSTER_DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
# CoreDNS runs in the namespace, on the node's address (not as a pod).
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-coredns
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns}
addressType: IPv4
endpoints:
- addresses: [$NODE_IP]
  conditions: {ready: true}
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
---
apiVersion: v1
kind: Namespace
metadata:
  name: $TEST_NAMESPACE
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: envserve-test-restricted
  namespace: $TEST_NAMESPACE
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods/portforward]
  verbs: [get, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: envserve-test-restricted
  namespace: $TEST_NAMESPACE
subjects:
- kind: User
  name: envserve-test-restricted
  apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: Role
  name: envserve-test-restricted
  apiGroup: rbac.authorization.k8s.io
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: traefik
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: traefik.io/ingress-controller
EOF
"${KUBECTL[@]}" apply -f "$WBIN/crds/kwok.x-k8s.io_portforwards.yaml" -f "$WBIN/crds/kwok.x-k8s.io_clusterexecs.yaml" >/dev/null ||
  die "cluster objects: applying KWOK's CRDs failed"
"${KUBECTL[@]}" apply -f "$RUN/objects.yaml" >/dev/null || die "cluster objects: kubectl apply failed"
"${KUBECTL[@]}" wait --for=condition=Established --timeout=30s crd/portforwards.kwok.x-k8s.io crd/clusterexecs.kwok.x-k8s.io >/dev/null ||
  die "cluster objects: KWOK's CRDs were not established"
# exec into a pod runs the command in the test namespace (as KWOK's host process).
"${KUBECTL[@]}" apply -f - >/dev/null <<EOF || die "cluster objects: ClusterExec failed"
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: envserve-test-local
spec:
  execs:
  - local:
      workDir: /tmp
EOF
phase_end

# ---------------------------------------------------------------- kwok
phase_start "kwok"
start kwok "$WBIN/kwok" --kubeconfig="$ADMIN_KC" --manage-nodes-with-label-selector=type=kwok \
  --cidr="$POD_CIDR" --node-ip="$NODE_IP" --node-name="$KWOK_NODE_NAME" --node-port="$KWOK_NODE_PORT" \
  --server-address="$NODE_IP:$KWOK_NODE_PORT" \
  --tls-cert-file="$PKI/kubelet.crt" --tls-private-key-file="$PKI/kubelet.key" \
  --enable-crds=PortForward,ClusterExec \
  --node-lease-duration-seconds=40
# The lease is the node's heartbeat: without it the node-lifecycle controller marks the node
# NotReady every ~55 s (KWOK's status updates are slower than its grace period), and every pod
# with it, which cut long tests and benches short.
wait_for kwok 60 node_ready "$KWOK_NODE_NAME"
wait_for kube-controller-manager 60 only_own_taint "$KWOK_NODE_NAME" kwok.x-k8s.io/node
phase_end

# ---------------------------------------------------------------- kubelet
# Before kube-proxy: kube-proxy looks up its Node at start and waits ~30 s if it is not there yet.
phase_start "kubelet (real node)"
node_start_kubelet
# Once more if it exits at start: the 1.37 kubelet exits when the rename of its new pods-API
# socket into place fails (seen once here: EXDEV on one file system, the next start fine).
RESTART_ONCE=node_start_kubelet wait_for kubelet 120 node_ready "$NODE_NAME"
wait_for kube-controller-manager 60 no_taints
phase_end

# ---------------------------------------------------------------- kube-proxy
phase_start "kube-proxy (iptables)"
start kube-proxy "$KBIN/kube-proxy" --kubeconfig="$ADMIN_KC" --proxy-mode=iptables \
  --hostname-override="$NODE_NAME" --cluster-cidr="$CLUSTER_CIDR" \
  --nodeport-addresses="$NODE_IP/32" \
  --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
  --healthz-bind-address=127.0.0.1:10256 --metrics-bind-address=127.0.0.1:10249 \
  --iptables-sync-period=30s --iptables-min-sync-period=0s --v=1
wait_for kube-proxy 60 proxy_synced
phase_end

# ---------------------------------------------------------------- traefik
phase_start "traefik (ingress)"
# TLS Ingresses: Traefik picks the certificate of an Ingress's TLS Secret by SNI; the file
# provider only sets the default certificate (tests issue Secrets from the test CA, test/k8s/tls-lib.ts).
cat > "$RUN/traefik-tls.yaml" <<EOF
tls:
  stores:
    default:
      defaultCertificate:
        certFile: $PKI/ingress-default.crt
        keyFile: $PKI/ingress-default.key
EOF
bash "$K8S_DIR/gateway.sh" crds && bash "$K8S_DIR/gateway.sh" objects || die "gateway: Gateway API set-up failed"
# Traefik's own CRDs (envserve's login check runs as a Middleware), from its module as build.sh
# fetched it, and envserve's check as a local plugin: Traefik interprets its Go source from
# ./plugins-local/src/<module> under its working directory ($RUN).
TRAEFIK_MOD=$(cd "$CACHE" && go mod download -json "github.com/traefik/traefik/v3@v$TRAEFIK_VERSION" | sed -n 's/.*"Dir": "\([^"]*\)".*/\1/p')
TRAEFIK_CRDS="$TRAEFIK_MOD/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
[ -f "$TRAEFIK_CRDS" ] || die "traefik v$TRAEFIK_VERSION: no CRD definitions in its module ($TRAEFIK_CRDS)"
"${KUBECTL[@]}" apply --server-side -f "$TRAEFIK_CRDS" >/dev/null || die "traefik: applying its CRDs failed"
"${KUBECTL[@]}" wait --for=condition=Established --timeout=30s crd/middlewares.traefik.io >/dev/null || die "traefik: its CRDs were not established"
rm -rf "$RUN/plugins-local" && mkdir -p "$RUN/plugins-local/src/envserve.dev" && cp -r "$REPO_ROOT/traefik-plugin" "$RUN/plugins-local/src/envserve.dev/traefiklogin"
start traefik env -C "$RUN" KUBECONFIG="$ADMIN_KC" "$TBIN/traefik" \
  --global.checknewversion=false --global.sendanonymoususage=false \
  --entrypoints.web.address="$NODE_IP:$INGRESS_HTTP_PORT" \
  --entrypoints.websecure.address="$NODE_IP:$INGRESS_HTTPS_PORT" --entrypoints.websecure.http.tls=true \
  --providers.file.filename="$RUN/traefik-tls.yaml" \
  --entrypoints.traefik.address=127.0.0.1:9000 --ping=true --ping.entrypoint=traefik \
  --providers.kubernetesingress=true \
  --providers.kubernetesingress.ingressendpoint.ip="$NODE_IP" \
  --providers.kubernetesingress.throttleduration=0s \
  --providers.kubernetesgateway=true --providers.kubernetesgateway.statusaddress.ip="$NODE_IP" \
  --providers.kubernetesgateway.throttleduration=0s \
  --providers.kubernetescrd=true --providers.kubernetescrd.throttleduration=0s \
  --experimental.localplugins.envserve-login.modulename=envserve.dev/traefiklogin \
  --log.level=INFO --log.nocolor=true --accesslog=false
wait_for traefik 60 in_ns curl -sf http://127.0.0.1:9000/ping
wait_for traefik 30 in_ns curl -s -o /dev/null --cacert "$PKI/ca.crt" --resolve "$INGRESS_DEFAULT_TLS_HOST:$INGRESS_HTTPS_PORT:$NODE_IP" "https://$INGRESS_DEFAULT_TLS_HOST:$INGRESS_HTTPS_PORT/"
bash "$K8S_DIR/gateway.sh" wait
phase_end

# ---------------------------------------------------------------- coredns
phase_start "coredns (kube-dns)"
cat > "$RUN/Corefile" <<EOF
.:53 {
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $ADMIN_KC envserve-test-admin
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
EOF
start coredns "$DBIN/coredns" -conf "$RUN/Corefile"
wait_for coredns 60 in_ns curl -sf http://127.0.0.1:8181/ready
phase_end

# ---------------------------------------------------------------- test helpers
phase_start "pod backer, test LB controller"
HELPER_ENV=(env KUBE_SERVER="https://$NODE_IP:$APISERVER_PORT" KUBE_CA="$PKI/ca.crt" KUBE_CERT="$PKI/admin.crt" KUBE_KEY="$PKI/admin.key")
start pod-backer "${HELPER_ENV[@]}" READY_FILE="$RUN/pod-backer.ready" NODE_NAME="$KWOK_NODE_NAME" node "$K8S_DIR/pod-backer.mjs"
start test-lb-controller "${HELPER_ENV[@]}" READY_FILE="$RUN/test-lb-controller.ready" LB_POOL="$LB_POOL" node "$K8S_DIR/test-lb-controller.mjs"
wait_for pod-backer 30 test -f "$RUN/pod-backer.ready"
wait_for test-lb-controller 30 test -f "$RUN/test-lb-controller.ready"
phase_end

# ---------------------------------------------------------------- ready for workloads
phase_start "default service account"
wait_for kube-controller-manager 60 sa_ready
phase_end

# ---------------------------------------------------------------- the node's images
phase_start "images imported into containerd"
if ! wait "$IMPORT_PID"; then
  log "importing the images into containerd failed; last lines of its log:"; tail -n 25 "$LOGS/images.log" >&2 || true
  die "the node's images could not be imported (log: $KEPT_LOGS_REL/images.log)"
fi
phase_end

# ---------------------------------------------------------------- env.json
node -e '
const [file, ...kv] = process.argv.slice(1);
const o = {};
for (let i = 0; i < kv.length; i += 2) o[kv[i]] = kv[i + 1];
require("fs").writeFileSync(file, JSON.stringify(o, null, 2) + "\n");
' "$STATE/env.json" \
  KUBECONFIG "$STATE/admin.kubeconfig" \
  ENVSERVE_TEST_KUBECONFIG "$STATE/admin.kubeconfig" \
  ENVSERVE_TEST_KUBECONFIG_RESTRICTED "$STATE/restricted.kubeconfig" \
  ENVSERVE_TEST_RESTRICTED_NAMESPACE "$TEST_NAMESPACE" \
  ENVSERVE_TEST_NETNS "$NETNS" \
  ENVSERVE_TEST_API_SERVER "https://$NODE_IP:$APISERVER_PORT" \
  ENVSERVE_TEST_NODE_NAME "$NODE_NAME" \
  ENVSERVE_TEST_NODE_IP "$NODE_IP" \
  ENVSERVE_TEST_HOST_IP "$HOST_IP" \
  ENVSERVE_TEST_POD_CIDR "$NODE_POD_CIDR" \
  ENVSERVE_TEST_KWOK_NODE_NAME "$KWOK_NODE_NAME" \
  ENVSERVE_TEST_KWOK_POD_CIDR "$POD_CIDR" \
  ENVSERVE_TEST_CLUSTER_DNS "$CLUSTER_DNS_IP" \
  ENVSERVE_TEST_CONTAINERD_SOCK "$CTR_SOCK" \
  ENVSERVE_TEST_SERVICE_CIDR "$SERVICE_CIDR" \
  ENVSERVE_TEST_NODEPORT_RANGE "$NODEPORT_RANGE" \
  ENVSERVE_TEST_INGRESS_ADDRESS "$NODE_IP:$INGRESS_HTTP_PORT" \
  ENVSERVE_TEST_INGRESS_CLASS traefik \
  ENVSERVE_TEST_INGRESS_HTTPS_ADDRESS "$NODE_IP:$INGRESS_HTTPS_PORT" \
  ENVSERVE_TEST_INGRESS_DEFAULT_TLS_HOST "$INGRESS_DEFAULT_TLS_HOST" \
  ENVSERVE_TEST_CA_CERT "$PKI/ca.crt" \
  ENVSERVE_TEST_CA_KEY "$PKI/ca.key" \
  ENVSERVE_TEST_LB_POOL "$LB_POOL" \
  $(bash "$K8S_DIR/gateway.sh" env) \
  ENVSERVE_TEST_K8S_VERSION "v$K8S_VERSION" \
  ENVSERVE_TEST_APISERVER_FEATURE_GATES "$APISERVER_FEATURE_GATES" \
  ENVSERVE_TEST_KUBECTL "$(kubectl_bin)" \
  ENVSERVE_TESTENV_SLOT "$SLOT"

trap - EXIT
flock -u 8; exec 8>&-
TIMINGS+=("total=$(( $(now_ms) - T_ALL ))")
print_timings
log "cluster up (slot $SLOT, $WHAT): KUBECONFIG=$STATE/admin.kubeconfig (env: $STATE_REL/env.json)"
