# Sourced by scripts/docker-smoke: make sure a Docker engine answers, starting dockerd when it is
# installed but not running (no systemd needed). Sets DOCKER_UNAVAILABLE to the reason when it
# cannot, and CC_STARTED_DOCKERD to the pid of a daemon it started (stop_own_dockerd stops it).
#
# A daemon started here has no bridge network and no iptables rules (--bridge=none
# --iptables=false): builds and containers use the host's network, so a container reaches the
# host's PostgreSQL on 127.0.0.1 and no private-range addresses are created.
CC_STARTED_DOCKERD=""
DOCKER_UNAVAILABLE=""
DOCKERD_LOG="${DOCKERD_LOG:-${TMPDIR:-/tmp}/curiouscore-dockerd.log}"

docker_answers() { timeout 20 docker info >/dev/null 2>&1; }

ensure_docker() {
  if ! command -v docker >/dev/null 2>&1; then
    DOCKER_UNAVAILABLE="no docker client on PATH (Debian: apt-get install docker.io)"
    return 1
  fi
  docker_answers && return 0
  if ! command -v dockerd >/dev/null 2>&1; then
    DOCKER_UNAVAILABLE="no Docker engine answers and dockerd is not installed (Debian: apt-get install docker.io)"
    return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    DOCKER_UNAVAILABLE="no Docker engine answers, and starting dockerd needs root"
    return 1
  fi
  echo "Starting dockerd (log: $DOCKERD_LOG)" >&2
  dockerd --bridge=none --iptables=false >"$DOCKERD_LOG" 2>&1 &
  CC_STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do
    if docker_answers; then return 0; fi
    if ! kill -0 "$CC_STARTED_DOCKERD" 2>/dev/null; then break; fi
    sleep 0.5
  done
  DOCKER_UNAVAILABLE="dockerd did not start within 30s: $(tail -n 3 "$DOCKERD_LOG" | tr '\n' ' ')"
  stop_own_dockerd
  return 1
}

stop_own_dockerd() {
  [ -n "$CC_STARTED_DOCKERD" ] || return 0
  kill "$CC_STARTED_DOCKERD" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$CC_STARTED_DOCKERD" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$CC_STARTED_DOCKERD" 2>/dev/null; then kill -9 "$CC_STARTED_DOCKERD" 2>/dev/null || true; fi
  CC_STARTED_DOCKERD=""
}
