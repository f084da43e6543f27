#!/usr/bin/env bash
# Builds this JavaScript tool into a WebAssembly component:
#   bash components/js-margin-calculator/build.sh OUT.wasm
# with componentize-js (against ../../wit, world `tool-component`). Skips the
# build when OUT exists and OUT.stamp records the same inputs: every .js/.mjs
# file here, this script, the WIT and the componentize-js version.
#
# componentize-js comes from $COMPONENTIZE_JS_DIR (scripts/tools.sh installs
# it in target/tools/node; `source target/tools/env` sets the variable).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:?usage: build.sh OUT.wasm}
case $out in /*) ;; *) out="$PWD/$out" ;; esac
stamp="$out.stamp"

tools=${COMPONENTIZE_JS_DIR:-$root/target/tools/node}
pkg="$tools/node_modules/@bytecodealliance/componentize-js/package.json"
if [ ! -f "$pkg" ]; then
  echo "js-margin-calculator: componentize-js not found in $tools (run scripts/tools.sh, then source target/tools/env)" >&2
  exit 1
fi
command -v node >/dev/null || { echo "js-margin-calculator: node is not installed" >&2; exit 1; }
version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg" | head -n1)

# The stamp: a digest of every input, in a stable order.
inputs() {
  echo "componentize-js $version"
  (cd "$here" && find . -maxdepth 1 -type f \( -name '*.js' -o -name '*.mjs' -o -name 'build.sh' \) | LC_ALL=C sort |
    while read -r f; do echo "$f $(sha256sum <"$f" | cut -d' ' -f1)"; done)
  (cd "$root" && find wit -type f -name '*.wit' | LC_ALL=C sort |
    while read -r f; do echo "$f $(sha256sum <"$f" | cut -d' ' -f1)"; done)
}
want=$(inputs | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

mkdir -p "$(dirname "$out")"
# Run from this folder: componentize-js maps the working directory into the
# build sandbox (wizer), so only this folder is visible to it.
(cd "$here" && COMPONENTIZE_JS_DIR="$tools" node build.mjs "$out")
echo "$want" >"$stamp"
