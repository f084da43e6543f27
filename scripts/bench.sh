#!/usr/bin/env bash
# Every load scenario in one command: builds mcp-host and zava-load
# (release), starts the server on the full Zava demo data (its own embedded
# PostgreSQL in target/bench/pg; loaded and embedded on the first run), and
# runs zava-load's scenarios against it, printing Markdown tables.
# BENCHMARKS.md explains them and holds a run's numbers.
#
#   scripts/bench.sh                 # all scenarios, 10 s each
#   BENCH_ONLY=http scripts/bench.sh # only the wrk / replica part
#   BENCH_DURATION=30s scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${BENCH_DURATION:-10s}
out=target/bench
port=${BENCH_PORT:-8100}

scripts/tools.sh >/dev/null
# shellcheck source=/dev/null
source target/tools/env
scripts/build-components.sh >/dev/null
cargo build --release --quiet -p mcp-host -p zava-load
host=target/release/mcp-host
load=target/release/zava-load

# A components folder of our own: the real tools plus the probe the
# hot-swap scenario replaces, under a policy that lists it.
mkdir -p "$out"
rm -rf "$out/components" "$out/results.jsonl"
mkdir -p "$out/components"
cp components-dist/*.wasm "$out/components/"
cp target/wasm/fixtures/probe_v1.wasm "$out/components/probe.wasm"
{ cat components/policy.toml; printf '\n[components.probe]\nimports = []\n'; } >"$out/components/policy.toml"

if "$host" healthcheck --url "http://127.0.0.1:$port/healthz" --timeout 1s >/dev/null 2>&1; then
  echo "something already listens on 127.0.0.1:$port; stop it or set BENCH_PORT" >&2
  exit 1
fi

# Limits per caller off: the load generator is a handful of callers making
# thousands of calls. The audit log stays on (to a file), as in production.
"$host" serve --identity dev-header --listen "127.0.0.1:$port" \
  --pg-data "$out/pg" --components "$out/components" --cache-dir "$out/cache" \
  --audit-log "$out/audit.jsonl" --identity-rate off --identity-max-concurrent 0 \
  --log-format json >"$out/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  "$host" healthcheck --url "http://127.0.0.1:$port/readyz" --timeout 1s >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { tail -20 "$out/server.log"; exit 1; }
  sleep 0.5
done
kill -0 $pid 2>/dev/null || { tail -20 "$out/server.log"; exit 1; }
url="http://127.0.0.1:$port/mcp"
dsn="host=$PWD/$out/pg/run port=5432 user=postgres dbname=zava"
run() { "$load" run --url "$url" --host-pid "$pid" --json "$out/results.jsonl" "$@"; }

if [ "${BENCH_ONLY:-}" = http ]; then
  scripts/bench-http.sh "$host" "$out/pg" "$out/components" "$out"
  exit 0
fi
echo "## machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo
echo "## idle (after start-up: demo data present, local model loaded)"
"$load" rss --pid "$pid"
echo
echo "## scenarios"
run --scenario trivial --clients 1,16,64 --duration "$duration"
# Head office sees what the baseline's superuser sees: a like-for-like
# comparison. Then every store manager, with each result checked.
run --scenario analytic --clients 1,8 --users head-office --baseline-db "$dsn" --duration "$duration"
run --scenario analytic --clients 8 --users stores --check-isolation --duration "$duration"
run --scenario search --clients 1,4 --duration "$duration"
run --scenario mixed --clients 16 --users all --check-isolation --duration "$duration"
run --scenario swap --clients 8 --swaps 10 --duration 20s \
  --swap-dir "$out/components" \
  --swap-files target/wasm/fixtures/probe_v1.wasm target/wasm/fixtures/probe_v2.wasm
echo
echo "## after the runs"
"$load" rss --pid "$pid"
echo "audit lines written: $(wc -l <"$out/audit.jsonl")"
echo
# Keep-alive load with wrk, replicas behind HAProxy, session restore: more
# hosts on the same database.
scripts/bench-http.sh "$host" "$out/pg" "$out/components" "$out"
