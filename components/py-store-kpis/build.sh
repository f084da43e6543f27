#!/usr/bin/env bash
# Builds the Python tool component in this folder with componentize-py:
#   bash components/py-store-kpis/build.sh OUT.wasm
# against the repository's WIT (wit/, world `tool-component`; componentize-py
# generates the `wit_world` bindings itself while it builds). The app module
# is `app.py`; it exposes `Tool`, the WIT export, from zava_tool.
#
# Skips the build when OUT.wasm exists and OUT.wasm.stamp records the same
# inputs: every .py file here (symbolic links followed, tests/ excepted), the
# WIT files and the componentize-py version.
#
# The same script serves every Python component (copy it with the folder):
# nothing in it names this one, and it finds wit/ in the nearest parent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here
while [ ! -f "$root/wit/zava-mcp.wit" ]; do
  [ "$root" != / ] || { echo "build.sh: no wit/zava-mcp.wit above $here" >&2; exit 1; }
  root=$(dirname "$root")
done
out=${1:?usage: build.sh OUT.wasm}
case $out in /*) ;; *) out=$PWD/$out ;; esac

componentize=${COMPONENTIZE_PY:-$root/target/tools/venv/bin/componentize-py}
if [ ! -x "$componentize" ]; then
  bash "$root/scripts/tools.sh"
  componentize=$root/target/tools/venv/bin/componentize-py
fi

inputs() {
  "$componentize" --version
  (cd "$here" && find -L . -name '*.py' -not -path '*/__pycache__/*' -not -path './tests/*' | LC_ALL=C sort | xargs sha256sum)
  (cd "$root/wit" && find . -name '*.wit' | LC_ALL=C sort | xargs sha256sum)
}
stamp=$(inputs | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Build from a copy without caches or tests, so only the sources get in.
(cd "$here" && find -L . -name '*.py' -not -path '*/__pycache__/*' -not -path './tests/*' |
  while read -r f; do mkdir -p "$tmp/src/$(dirname "$f")" && cp "$f" "$tmp/src/$f"; done)
# componentize-py reads VIRTUAL_ENV / site-packages for dependencies: point
# it at nothing so a developer's environment cannot leak into the component.
(cd "$tmp/src" && env -u VIRTUAL_ENV PYTHONNOUSERSITE=1 "$componentize" --quiet \
  -d "$root/wit" -w tool-component componentize app -p . -o "$tmp/out.wasm")
mv "$tmp/out.wasm" "$out"
echo "$stamp" >"$out.stamp"
