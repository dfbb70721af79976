# Sourced by scripts/test: make sure a Redis answers for the tests and export TEST_REDIS_URL.
# Order: an explicit TEST_REDIS_URL; the machine's server on 127.0.0.1:6379 (started if installed but
# stopped); else Debian's redis-server installed with apt-get (when root) and started without
# persistence. The tests use their own key prefixes and never flush a database.
redis_answers() { python3 - <<'PY'
import socket
s = socket.socket(); s.settimeout(1)
try:
    s.connect(("127.0.0.1", 6379)); s.sendall(b"PING\r\n"); print("ok" if s.recv(16).startswith(b"+PONG") else "")
except OSError:
    pass
PY
}
ensure_redis() {
  if [ -n "${TEST_REDIS_URL:-}" ]; then return 0; fi
  if [ -z "$(redis_answers)" ]; then
    if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing Redis with apt-get (for the tests)" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2 || true
    fi
    if command -v redis-server >/dev/null 2>&1; then
      echo "Redis is not answering; starting one on 127.0.0.1:6379 (no persistence)" >&2
      mkdir -p /tmp/curiouscore-redis
      redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /tmp/curiouscore-redis --logfile /tmp/curiouscore-redis/redis.log >&2 || true
      for _ in $(seq 1 20); do [ -n "$(redis_answers)" ] && break; sleep 0.5; done
    fi
  fi
  if [ -z "$(redis_answers)" ]; then
    echo "No Redis found: install redis-server, set TEST_REDIS_URL, or CURIOUSCORE_SKIP_REDIS=1" >&2; return 1
  fi
  export TEST_REDIS_URL="redis://127.0.0.1:6379/0"
}
