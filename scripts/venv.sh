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
  install_katex
}

# KaTeX (maths in titles and abstracts) served from web/static/katex: the npm registry's package,
# fetched with npm at install time, never from a CDN at run time.
KATEX_VERSION=0.16.47
install_katex() {
  local dest=web/static/katex tmp
  if [[ -f $dest/VERSION && $(cat "$dest/VERSION") == "$KATEX_VERSION" ]]; then return 0; fi
  command -v npm >/dev/null || { echo "npm is needed to install KaTeX (apt-get install npm)" >&2; return 1; }
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "katex@$KATEX_VERSION" >/dev/null) || { rm -rf "$tmp"; return 1; }
  tar -xzf "$tmp"/katex-*.tgz -C "$tmp"
  rm -rf "$dest" && mkdir -p "$dest/contrib"
  cp "$tmp/package/dist/katex.min.js" "$tmp/package/dist/katex.min.css" "$tmp/package/LICENSE" "$dest/"
  cp -r "$tmp/package/dist/fonts" "$dest/"
  cp "$tmp/package/dist/contrib/auto-render.min.js" "$dest/contrib/"
  echo "$KATEX_VERSION" > "$dest/VERSION"
  rm -rf "$tmp"
}
