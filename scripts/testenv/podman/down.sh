#!/usr/bin/env bash
# Stops the Podman test engine: removes every container in its private storage (all of them are
# the tests'), then stops the API service. Keeps the image storage so the next up.sh is fast.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -f "$CONTAINERS_CONF" ] || exit 0
# Leave it running while another live user (see up.sh) still needs it. FORCE=1 stops it anyway.
rm -f "$W/users/$PPID"
if [ "${FORCE:-0}" != 1 ]; then
  for u in "$W"/users/*; do
    [ -e "$u" ] || continue
    if kill -0 "$(basename "$u")" 2>/dev/null; then log "still used by pid $(basename "$u"): left running"; exit 0; fi
    rm -f "$u"
  done
fi
if command -v podman >/dev/null; then
  podman rm -a -f -t 0 >/dev/null 2>&1 || true
fi
if [ -f "$W/service.pid" ]; then
  pid=$(cat "$W/service.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$W/service.pid"
fi
rm -f "$SOCK" "$W/env.json"
log "stopped"
