#!/usr/bin/env bash
# Builds every tool component in components/ for wasm32-wasip2 into
# components-dist/ (the folder `mcp-host serve` watches by default), and the
# test fixture components into target/wasm/fixtures/.
#
# Uses its own target dir (target/wasm) so it can run while another cargo
# command (e.g. `cargo test`, which calls this) holds the main one.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${COMPONENTS_TARGET_DIR:-$PWD/target/wasm}"
dist="${COMPONENTS_DIST:-$PWD/components-dist}"
fixtures="$CARGO_TARGET_DIR/fixtures"
out="$CARGO_TARGET_DIR/wasm32-wasip2/component"

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi

build() { cargo build --quiet --profile component --target wasm32-wasip2 "$@"; }

# Real tools: every crate directly under components/ except the template.
tools=()
for manifest in components/*/Cargo.toml; do
  dir=$(dirname "$manifest")
  [ "$(basename "$dir")" = template ] && continue
  tools+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n1)")
done
build "${tools[@]}" -p tool-template -p fixture-hostile -p fixture-wrong-version -p fixture-clash -p fixture-probe \
  -p fixture-conformance -p fixture-prompts-only

mkdir -p "$dist" "$fixtures"
install_if_changed() { cmp -s "$1" "$2" 2>/dev/null || cp "$1" "$2"; }
for manifest in components/*/Cargo.toml; do
  dir=$(dirname "$manifest")
  [ "$(basename "$dir")" = template ] && continue
  name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n1 | tr - _)
  install_if_changed "$out/$name.wasm" "$dist/$name.wasm"
  install_if_changed "$out/$name.wasm" "$fixtures/$name.wasm"
done
# The operator's component policy travels with the components.
install_if_changed components/policy.toml "$dist/policy.toml"
for f in hostile wrong_version clash conformance prompts_only; do
  install_if_changed "$out/fixture_$f.wasm" "$fixtures/$f.wasm"
done
install_if_changed "$out/tool_template.wasm" "$fixtures/template.wasm"
install_if_changed "$out/fixture_probe.wasm" "$fixtures/probe_v1.wasm"
build -p fixture-probe --features v2
install_if_changed "$out/fixture_probe.wasm" "$fixtures/probe_v2.wasm"
# Leave the default (v1) build in place so the next run has nothing to redo.
build -p fixture-probe

# Components in other languages: a folder with a `build.sh` (Python with
# componentize-py, JavaScript with componentize-js) builds itself into the
# path it is given; it skips the work when its inputs are unchanged.
others="$CARGO_TARGET_DIR/other-languages"
mkdir -p "$others"
for script in components/*/build.sh host/tests/fixtures/*/build.sh; do
  [ -f "$script" ] || continue
  name=$(basename "$(dirname "$script")" | tr - _)
  bash "$script" "$others/$name.wasm"
  # Test fixtures stay out of the served folder.
  case $script in components/*) install_if_changed "$others/$name.wasm" "$dist/$name.wasm" ;; esac
  install_if_changed "$others/$name.wasm" "$fixtures/$name.wasm"
done
echo "components: $(ls "$dist" | tr '\n' ' ')"
