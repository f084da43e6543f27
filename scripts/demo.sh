#!/usr/bin/env bash
# Runs the server the way the classic sample does: http://127.0.0.1:8000/mcp,
# identity from the `x-rls-user-id` header, tools from components-dist/
# (drop a .wasm there while it runs). Extra arguments go to `mcp-host serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-components.sh
exec cargo run --release -p mcp-host -- serve --identity dev-header "$@"
