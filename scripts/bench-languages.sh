#!/usr/bin/env bash
# The same tool in Rust, Python and JavaScript, side by side in one run
# (bench/languages/): per-call cost in the host and end to end over MCP with
# wrk on keep-alive connections, component size, and the time from dropping
# the file into the folder to its tool being listed (first compile with
# Winch and with Cranelift, cached restart). Prints Markdown tables;
# BENCHMARKS.md holds a run's numbers.
#
#   scripts/bench-languages.sh                      # 10 s per wrk run
#   BENCH_DURATION=30s BENCH_ROUNDS=3 scripts/bench-languages.sh
#   BENCH_DROP=0 scripts/bench-languages.sh         # per call only
#
# Uses the full demo database of scripts/bench.sh (target/bench/pg; loaded
# on the first run of either script) and the release host.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench/languages
port=${BENCH_PORT:-8110}

scripts/tools.sh >/dev/null
# shellcheck source=/dev/null
source target/tools/env
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/tools.sh installs it)" >&2; exit 1; }
cargo build --release --quiet -p mcp-host
host=target/release/mcp-host

# The three subjects, built as their languages' examples are.
wasm=target/wasm
mkdir -p "$out/wasm"
CARGO_TARGET_DIR=$wasm cargo build --quiet --profile component --target wasm32-wasip2 -p bench-store-sales-rust
cp "$wasm/wasm32-wasip2/component/bench_store_sales_rust.wasm" "$out/wasm/store_sales_rust.wasm"
bash bench/languages/python/build.sh "$out/wasm/store_sales_python.wasm"
bash bench/languages/js/build.sh "$out/wasm/store_sales_js.wasm"

rm -rf "$out/components" "$out/cache"
mkdir -p "$out/components"
cp "$out"/wasm/*.wasm "$out/components/"
cat >"$out/components/policy.toml" <<'POLICY'
[components.store_sales_rust]
imports = ["database"]

[components.store_sales_python]
imports = ["database"]
memory_mib = 32

[components.store_sales_js]
imports = ["database"]
memory_mib = 32
POLICY

if "$host" healthcheck --url "http://127.0.0.1:$port/healthz" --timeout 1s >/dev/null 2>&1; then
  echo "something already listens on 127.0.0.1:$port; stop it or set BENCH_PORT" >&2
  exit 1
fi
# As scripts/bench.sh runs it (audit log on, to a file; per-caller limits
# off), with optimised code from the start: per-call numbers are for
# Cranelift's code, not Winch's (drop-to-serve timings are measured apart).
"$host" serve --baseline-first false --identity dev-header --listen "127.0.0.1:$port" \
  --pg-data target/bench/pg --components "$out/components" --cache-dir "$out/cache" \
  --audit-log "$out/audit.jsonl" --identity-rate off --identity-max-concurrent 0 \
  --log-format json >"$out/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do
  "$host" healthcheck --url "http://127.0.0.1:$port/readyz" --timeout 1s >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { tail -20 "$out/server.log"; exit 1; }
  sleep 0.5
done

python3 scripts/bench_languages.py --url "http://127.0.0.1:$port" --host "$host" \
  --wasm "$out/wasm" --work "$out" --duration "${BENCH_DURATION:-10s}" --rounds "${BENCH_ROUNDS:-2}" \
  $([ "${BENCH_DROP:-1}" = 0 ] && echo --no-drop)
