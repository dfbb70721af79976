# Sourced by scripts/test: make sure a PostgreSQL answers for the tests and export TEST_DATABASE_URL.
# Order: an explicit TEST_DATABASE_URL; the machine's server on 127.0.0.1:5432 (started if installed
# but stopped); else a throwaway cluster made with initdb in a temp dir (installing PostgreSQL first
# with apt-get when it is missing and we are root).
pg_answers() { python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("ok")
except OSError:
    pass
PY
}
ensure_postgres() {
  if [ -n "${TEST_DATABASE_URL:-}" ]; then return 0; fi
  if [ -z "$(pg_answers 127.0.0.1 5432)" ] && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is not answering; starting the machine's cluster" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2 || true
    for _ in $(seq 1 20); do [ -n "$(pg_answers 127.0.0.1 5432)" ] && break; sleep 0.5; done
  fi
  if [ -n "$(pg_answers 127.0.0.1 5432)" ]; then
    export TEST_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    if command -v psql >/dev/null 2>&1; then
      psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" postgres 2>/dev/null | grep -q 1 ||
        psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" postgres >&2 || true
    fi
    return 0
  fi
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$bindir" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing PostgreSQL with apt-get" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  fi
  if [ -z "$bindir" ]; then
    echo "No PostgreSQL found: install it or set TEST_DATABASE_URL" >&2; return 1
  fi
  local port=55432
  # Globals, not locals: the EXIT trap runs after this function has returned.
  CC_PG_BIN=$bindir
  CC_PG_DIR=$(mktemp -d /tmp/curiouscore-pg.XXXXXX)
  CC_PG_AS=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$CC_PG_DIR" 2>/dev/null && CC_PG_AS=(runuser -u postgres --); fi
  echo "Starting a throwaway PostgreSQL in $CC_PG_DIR on port $port" >&2
  "${CC_PG_AS[@]}" "$CC_PG_BIN/initdb" -D "$CC_PG_DIR/data" -A trust -U postgres >/dev/null
  "${CC_PG_AS[@]}" "$CC_PG_BIN/pg_ctl" -D "$CC_PG_DIR/data" -l "$CC_PG_DIR/log" -w \
    -o "-p $port -k $CC_PG_DIR -c listen_addresses=127.0.0.1" start >&2
  trap '"${CC_PG_AS[@]}" "$CC_PG_BIN/pg_ctl" -D "$CC_PG_DIR/data" -m fast stop >/dev/null 2>&1; rm -rf "$CC_PG_DIR"' EXIT
  "${CC_PG_AS[@]}" "$CC_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres test
  export TEST_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:$port/test"
}
