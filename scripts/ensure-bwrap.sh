# Sourced by scripts/test and scripts/run: make sure bubblewrap (the sandbox for code steps) is
# there. Installs Debian's bubblewrap package with apt-get when missing and we are root; otherwise
# says what to install. Code steps refuse to run (with that message) until it works.
ensure_bwrap() {
  if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing bubblewrap with apt-get (the sandbox for code steps)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >&2 || true
  fi
  if ! command -v bwrap >/dev/null 2>&1; then
    echo "bubblewrap (bwrap) is missing: code steps will refuse to run. Install it (apt-get install bubblewrap)," >&2
    echo "or set CODE_RUNNER=judge0 with JUDGE0_URL, or CODE_SANDBOX=unsafe-local for local development only." >&2
  elif ! bwrap --unshare-all --unshare-user --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 -- /usr/bin/true >/dev/null 2>&1; then
    echo "bubblewrap is installed but cannot create a sandbox here (unprivileged user namespaces disabled?):" >&2
    echo "code steps will refuse to run. Allow them (sysctl kernel.unprivileged_userns_clone=1) or use CODE_RUNNER=judge0." >&2
  fi
}
