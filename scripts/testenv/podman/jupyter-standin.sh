#!/bin/sh
# A stand-in for `jupyter` in the test image: serves its own command line over HTTP on the
# --port it was given, so a test can check what envserve passed (the hash, never the password).
port=8888
ip=0.0.0.0
for a in "$@"; do
  case "$a" in
    --port=*|--ServerApp.port=*) port=${a#*=} ;;
    --ip=*|--ServerApp.ip=*) ip=${a#*=} ;;
  esac
done
exec testsrv http "$ip:$port" "jupyter-standin $*"
