#!/bin/sh
# A stand-in for `jupyter` in the test node's testsrv image (see images.sh): serves `testsrv pod`
# on the --port it was given, so a test sees which pod answered (JSON with the pod's name).
port=8888
for a in "$@"; do
  case "$a" in
    --port=*|--ServerApp.port=*) port=${a#*=} ;;
  esac
done
exec testsrv pod --http "$port" --echo ""
