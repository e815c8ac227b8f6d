# The test cluster's real node: containerd (+ runc, CNI bridge) and a kubelet, both inside the
# cluster's network namespace. Sourced by up.sh (start) and down.sh (teardown), never run.
# Recipe and the settings this machine needs: ../shared/testenv.md section 3 and README.md here.
# shellcheck shell=bash

# ---------------------------------------------------------------- configuration files
node_write_configs() {
  mkdir -p "$NODE_DIR"/{kubelet,cni,cni-ipam,pod-logs,opt} "$CTR_STATE" "$CTR_ROOT"
  # containerd: everything private (root, state, sockets, runc's state), pod network namespaces
  # under its state folder (so down.sh finds them), and the settings this machine needs:
  # restrict_oom_score_adj (a negative oom_score_adj is refused here: without it every sandbox
  # fails with "can't get final child's PID from pipe: EOF"), cgroupfs, a local sandbox image.
  cat > "$NODE_DIR/containerd.toml" <<EOF
version = 2
root = "$CTR_ROOT"
state = "$CTR_STATE"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_STATE/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "envserve.test/pause:1"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_tls_streaming = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$CTR_STATE/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$NODE_DIR/cni"
    max_conf_num = 1
EOF
  # CNI: a bridge inside the namespace with its own subnet (KWOK's pods use POD_CIDR); the
  # namespace's routing and kube-proxy's rules then reach the pods. containerd adds loopback.
  cat > "$NODE_DIR/cni/10-envserve.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "envserve",
  "plugins": [
    {
      "type": "bridge", "bridge": "envserve0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$NODE_POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$NODE_DIR/cni-ipam" }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  # kubelet: x509 client auth from the test CA, a serving certificate for the node's IP (the API
  # server checks it), cgroupfs without QoS cgroups (cgroup v1 controllers here), no image GC
  # (the images were imported, nothing can pull them again) and no eviction on a busy disk.
  # The machines run cgroup v1, which the kubelet refuses from 1.35 unless told (failCgroupV1,
  # a field since 1.31).
  local cgv1=""; [ "$K8S_MINOR" -lt 31 ] || cgv1="failCgroupV1: false"
  cat > "$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: AlwaysAllow}
tlsCertFile: "$PKI/kubelet.crt"
tlsPrivateKeyFile: "$PKI/kubelet.key"
containerRuntimeEndpoint: "unix://$CTR_SOCK"
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
$cgv1
localStorageCapacityIsolation: false
protectKernelDefaults: false
clusterDNS: [$CLUSTER_DNS_IP]
clusterDomain: cluster.local
resolvConf: ""
podLogsDir: "$NODE_DIR/pod-logs"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
serializeImagePulls: false
kubeAPIQPS: 50
kubeAPIBurst: 100
syncFrequency: 10s
maxPods: 110
EOF
}

# ---------------------------------------------------------------- start
ctr_() { ctr --address "$CTR_SOCK" -n k8s.io "$@"; }
ctr_ok() { ctr --address "$CTR_SOCK" version; }

node_start_containerd() {
  start_host containerd nsenter --net="/run/netns/$NETNS" containerd --config "$NODE_DIR/containerd.toml"
  wait_for containerd 30 ctr_ok
  # The kept root must hold images only: containers left by a run that did not end cleanly would
  # come back as stale sandboxes. Then start from an empty root.
  if [ -n "$(ctr_ containers ls -q)" ]; then
    log "containerd: containers left in $CTR_ROOT by an earlier run; starting with an empty image store"
    stop_pids "$(cat "$RUN/containerd.pid")"
    rm -rf "$CTR_ROOT"; mkdir -p "$CTR_ROOT"
    start_host containerd nsenter --net="/run/netns/$NETNS" containerd --config "$NODE_DIR/containerd.toml"
    wait_for containerd 30 ctr_ok
  fi
}

# Imports the image archives images.sh built (tagging the aliases), unless the kept root already
# has the image from that very archive (label envserve.test/archive); run in the background.
node_import_images() {
  local line archive ref alias t0 have base
  while read -r line; do
    # shellcheck disable=SC2086
    set -- $line
    archive=$1 ref=$2 base=$(basename "$1"); shift 2
    t0=$(now_ms)
    # (the list first: `ctr … | grep -q` fails under pipefail when grep exits before ctr is done)
    have=$(ctr_ images ls) || return 1
    if grep -E "^$ref " <<<"$have" | grep -qF "envserve.test/archive=$base"; then
      log "$ref: already imported from $base"
    else
      ctr_ images import --snapshotter overlayfs "$archive" >/dev/null || { log "importing $ref ($archive) failed"; return 1; }
      have=$(ctr_ images ls -q) || return 1
      grep -qx "$ref" <<<"$have" || { log "importing $archive did not create $ref"; return 1; }
      ctr_ images label "$ref" "envserve.test/archive=$base" >/dev/null || return 1
      log "imported $ref in $(( $(now_ms) - t0 )) ms"
    fi
    for alias in "$@"; do ctr_ images tag --force "$ref" "$alias" >/dev/null || return 1; done
  done < "$RUN/images.list"
}

node_start_kubelet() {
  start_host kubelet nsenter --net="/run/netns/$NETNS" "$LBIN/kubelet" \
    --config="$NODE_DIR/kubelet.yaml" --kubeconfig="$STATE/node.kubeconfig" \
    --root-dir="$NODE_DIR/kubelet" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
    --node-labels="envserve.dev/test-node=real" --v=1
}

# ---------------------------------------------------------------- teardown (down.sh)
# Leaves no container, shim, pod network namespace, mount or cgroup of this cluster behind.
node_teardown() {
  local say_=${1:-log}
  # The containers, while containerd still runs: kill every task, then delete tasks and containers.
  if [ -S "$CTR_SOCK" ] && ctr_ok >/dev/null 2>&1; then
    local ids id
    ids=$(ctr_ tasks ls -q 2>/dev/null || true)
    if [ -n "$ids" ]; then
      "$say_" "node: killing $(echo "$ids" | wc -l) containers"
      for id in $ids; do ctr_ tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true; done
      for id in $ids; do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
    fi
    for id in $(ctr_ containers ls -q 2>/dev/null || true); do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  # containerd itself (its pid file may be gone with a half-started run): every process whose
  # command line names this cluster's containerd socket or config (containerd and its shims).
  local pids=()
  mapfile -t pids < <(grep -lsF -e "$CTR_SOCK" -e "$NODE_DIR/containerd.toml" /proc/[0-9]*/cmdline | cut -d/ -f3)
  # Container processes whose shim is gone (containerd was killed): by their cgroup (cgroupfs:
  # /k8s.io/<id>, for every container runc knew) and by the pods' network namespaces.
  local id d
  for id in $(ls "$CTR_STATE/runc/k8s.io" 2>/dev/null); do
    for d in /sys/fs/cgroup/*/k8s.io/"$id"; do
      [ -f "$d/cgroup.procs" ] && mapfile -t -O "${#pids[@]}" pids < "$d/cgroup.procs"
    done
  done
  local nsf inodes=""
  for nsf in "$CTR_STATE"/io.containerd.grpc.v1.cri/netns/* "$CTR_STATE"/netns/*; do
    [ -e "$nsf" ] && inodes+="$(stat -Lc %i "$nsf" 2>/dev/null) "
  done
  if [ -n "$inodes" ]; then
    mapfile -t -O "${#pids[@]}" pids < <(stat -Lc '%i %n' /proc/[0-9]*/ns/net 2>/dev/null |
      awk -v want=" $inodes" 'index(want, " " $1 " ") {split($2, a, "/"); print a[3]}')
  fi
  local p live=()
  for p in $(printf '%s\n' "${pids[@]}" | sort -un); do running "$p" && live+=("$p"); done   # (grep itself has gone)
  pids=("${live[@]}")
  if [ ${#pids[@]} -gt 0 ]; then "$say_" "node: stopping containerd, shims and container processes: ${pids[*]}"; stop_pids "${pids[@]}"; fi
  # Mounts: container root filesystems, sandbox /dev/shm, the pods' network namespaces, the
  # kubelet's volumes (projected service account tokens). Deepest first.
  local m left=()
  mapfile -t left < <(awk '{print $5}' /proc/self/mountinfo | grep -E "^($NODE_DIR|$CTR_STATE|$CTR_ROOT)(/|$)" | sort -r)
  for m in "${left[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  [ ${#left[@]} -eq 0 ] || "$say_" "node: unmounted ${#left[@]} mounts"
  # Container cgroups (cgroupfs, no QoS level: containerd puts them under /k8s.io/<id>), for
  # every container runc knew (its state folder lists them); runc removes them unless killed.
  for id in $(ls "$CTR_STATE/runc/k8s.io" 2>/dev/null); do
    for d in /sys/fs/cgroup/*/k8s.io/"$id"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  done
  # Links the kubelet made to this node's pod logs.
  [ -d /var/log/containers ] && find /var/log/containers -maxdepth 1 -lname "$NODE_DIR/*" -delete 2>/dev/null || true
  rm -rf "$CTR_STATE"
  rmdir /run/envserve-testenv 2>/dev/null || true
}
