# Sourced by scripts/run and scripts/test: make .venv with Python 3.11+ and install the project.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pick_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "CuriousCore needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  return 1
}
if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
fi
install_project() {  # $1: extras, e.g. "dev" or ""
  local spec="."
  [ -n "${1:-}" ] && spec=".[${1}]"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
}
