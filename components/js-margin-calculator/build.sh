#!/usr/bin/env bash
# Builds the JavaScript tool component in this folder with componentize-js:
#   bash components/js-margin-calculator/build.sh OUT.wasm
# against the repository's WIT (wit/, world `tool-component`). The entry
# module is `index.js`; it re-exports `tool`, the WIT export, from
# zava-tool.js. build.mjs holds the componentize-js options.
#
# Skips the build when OUT.wasm exists and OUT.wasm.stamp records the same
# inputs: every .js/.mjs file here (test/ excepted), this script, the WIT
# files and the componentize-js version.
#
# The same script serves every JavaScript component (copy it with the
# folder): nothing in it names this one, and it finds wit/ in the nearest
# parent. componentize-js comes from $COMPONENTIZE_JS_DIR (a folder whose
# node_modules holds it; scripts/tools.sh installs one in target/tools/node).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$here")
root=$here
while [ ! -f "$root/wit/zava-mcp.wit" ]; do
  [ "$root" != / ] || { echo "$name/build.sh: no wit/zava-mcp.wit above $here" >&2; exit 1; }
  root=$(dirname "$root")
done
out=${1:?usage: build.sh OUT.wasm}
case $out in /*) ;; *) out=$PWD/$out ;; esac

tools=${COMPONENTIZE_JS_DIR:-$root/target/tools/node}
pkg=$tools/node_modules/@bytecodealliance/componentize-js/package.json
if [ ! -f "$pkg" ] && [ -z "${COMPONENTIZE_JS_DIR:-}" ] && [ -f "$root/scripts/tools.sh" ]; then
  bash "$root/scripts/tools.sh"
fi
if [ ! -f "$pkg" ]; then
  echo "$name/build.sh: componentize-js is not installed in $tools (run scripts/tools.sh; source target/tools/env)" >&2
  exit 1
fi
command -v node >/dev/null || { echo "$name/build.sh: node is not installed" >&2; exit 1; }

inputs() {
  echo "componentize-js $(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg" | head -n1)"
  (cd "$here" && find -L . -maxdepth 1 -type f \( -name '*.js' -o -name '*.mjs' -o -name build.sh \) |
    LC_ALL=C sort | xargs sha256sum)
  (cd "$root/wit" && find . -name '*.wit' | LC_ALL=C sort | xargs sha256sum)
}
stamp=$(inputs | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

mkdir -p "$(dirname "$out")"
# From a copy of this folder's sources, symbolic links followed:
# componentize-js maps the working directory into its build sandbox (wizer)
# and sees nothing outside it, while a shared helper may be a link to
# another folder (bench/languages/js links this one's).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && find -L . -maxdepth 1 -type f \( -name '*.js' -o -name '*.mjs' \) -exec cp -L {} "$tmp/" \;)
(cd "$tmp" && COMPONENTIZE_JS_DIR=$tools node build.mjs "$out" "$root/wit")
echo "$stamp" >"$out.stamp"
