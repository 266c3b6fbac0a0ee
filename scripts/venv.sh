# Sourced by scripts/demo and scripts/test: make .venv (Python 3.11+) and install Discovery into it.
# Usage: ensure_venv [EXTRAS]   e.g. ensure_venv test
ensure_venv() {
  local extras=${1:-}
  if [[ ! -x .venv/bin/python ]]; then
    local python
    python=$(command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || { echo "Discovery needs Python 3.11 or newer (found $("$python" --version))" >&2; return 1; }
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
}
