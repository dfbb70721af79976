# Sourced by scripts/test: make sure Debian's Chromium is there for the browser tests and export
# CHROMIUM_PATH. Installs it with apt-get when missing and we are root; otherwise the browser tests
# fail with a message saying what to install.
ensure_chromium() {
  local path
  path=$(command -v chromium || command -v chromium-browser || true)
  if [ -z "$path" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium with apt-get (for the browser tests)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 || true
    path=$(command -v chromium || true)
  fi
  if [ -n "$path" ]; then export CHROMIUM_PATH="$path"; fi
}
