#!/usr/bin/env bash
# Gateway API in the test cluster: the whole standard channel of sigs.k8s.io/gateway-api (CRDs
# from the module's zip, fetched through the Go module proxy into the cached GOMODCACHE, as
# build.sh fetches modules), a GatewayClass for Traefik's Gateway provider, and one Gateway with
# an HTTP and an HTTPS listener for *.$GATEWAY_DOMAIN (the HTTPS one with a wildcard certificate
# from the test CA, in a Secret beside the Gateway). Called from up.sh:
#   bash gateway.sh crds     before Traefik starts (its provider watches these kinds)
#   bash gateway.sh objects  the certificate Secret, GatewayClass and Gateway
#   bash gateway.sh wait     after Traefik started: the Gateway is Programmed, with an address
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GATEWAY_API_VERSION=1.4.0           # Traefik 3.6.12 implements exactly this version
GATEWAY_NAMESPACE=envserve-gateway
GATEWAY_NAME=envserve
GATEWAY_CLASS=traefik
GATEWAY_DOMAIN=gw.envserve.test     # listeners accept hosts under *.gw.envserve.test only

crds() {
  local dir
  dir=$(cd "$CACHE" && go mod download -json "sigs.k8s.io/gateway-api@v$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\([^"]*\)".*/\1/p')
  [ -d "$dir/config/crd/standard" ] || die "gateway-api v$GATEWAY_API_VERSION: no config/crd/standard in the module ($dir)"
  "${KUBECTL[@]}" apply --server-side -f "$dir/config/crd/standard/" >/dev/null || die "gateway-api: applying the CRDs failed"
  "${KUBECTL[@]}" wait --for=condition=Established --timeout=30s \
    crd/gatewayclasses.gateway.networking.k8s.io crd/gateways.gateway.networking.k8s.io \
    crd/httproutes.gateway.networking.k8s.io crd/grpcroutes.gateway.networking.k8s.io \
    crd/referencegrants.gateway.networking.k8s.io crd/backendtlspolicies.gateway.networking.k8s.io >/dev/null ||
    die "gateway-api: the CRDs were not established"
}

objects() {
  if [ ! -f "$PKI/gateway.crt" ]; then
    (
      cd "$PKI"
      openssl ecparam -name prime256v1 -genkey -noout -out gateway.key 2>/dev/null
      openssl req -new -key gateway.key -subj "/CN=*.$GATEWAY_DOMAIN" -out gateway.csr 2>/dev/null
      printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:*.%s\n' "$GATEWAY_DOMAIN" > gateway.ext
      openssl x509 -req -in gateway.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 30 -extfile gateway.ext -out gateway.crt 2>/dev/null
      rm -f gateway.csr gateway.ext
    )
  fi
  "${KUBECTL[@]}" apply -f - >/dev/null <<EOF || die "gateway: applying the GatewayClass and Gateway failed"
apiVersion: v1
kind: Namespace
metadata:
  name: $GATEWAY_NAMESPACE
---
apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata:
  name: gateway-wildcard-tls
  namespace: $GATEWAY_NAMESPACE
data:
  tls.crt: $(base64 -w0 "$PKI/gateway.crt")
  tls.key: $(base64 -w0 "$PKI/gateway.key")
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: $GATEWAY_CLASS
spec:
  controllerName: traefik.io/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: $GATEWAY_NAME
  namespace: $GATEWAY_NAMESPACE
spec:
  gatewayClassName: $GATEWAY_CLASS
  listeners:
  - name: http
    protocol: HTTP
    port: $INGRESS_HTTP_PORT
    hostname: "*.$GATEWAY_DOMAIN"
    allowedRoutes: {namespaces: {from: All}, kinds: [{kind: HTTPRoute}]}
  - name: https
    protocol: HTTPS
    port: $INGRESS_HTTPS_PORT
    hostname: "*.$GATEWAY_DOMAIN"
    tls: {mode: Terminate, certificateRefs: [{kind: Secret, name: gateway-wildcard-tls}]}
    allowedRoutes: {namespaces: {from: All}, kinds: [{kind: HTTPRoute}]}
EOF
}

programmed() {
  [ "$("${KUBECTL[@]}" -n "$GATEWAY_NAMESPACE" get gateway "$GATEWAY_NAME" -o jsonpath='{.status.conditions[?(@.type=="Programmed")].status}')" = True ] &&
    [ -n "$("${KUBECTL[@]}" -n "$GATEWAY_NAMESPACE" get gateway "$GATEWAY_NAME" -o jsonpath='{.status.addresses[0].value}')" ]
}

case "${1:-}" in
  crds) crds ;;
  objects) objects ;;
  wait) wait_for traefik 60 programmed ;;
  env) printf '%s\n' ENVSERVE_TEST_GATEWAY "$GATEWAY_NAMESPACE/$GATEWAY_NAME" ENVSERVE_TEST_GATEWAY_DOMAIN "$GATEWAY_DOMAIN" ;;
  *) die "usage: gateway.sh crds|objects|wait|env" ;;
esac
