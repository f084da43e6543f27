#!/usr/bin/env bash
# Keep-alive HTTP load with wrk (a load generator we did not write), side by
# side in one run:
#   - /healthz: the HTTP floor of this host (axum, no MCP);
#   - a trivial tools/call, MCP 2026-07-28 (stateless) and in a 2025-11-25
#     session, at 1 and 16 keep-alive connections;
#   - the same with TCP_NODELAY off: what the ~40 ms delayed-ACK stall cost;
#   - three replicas behind HAProxy (round robin, no affinity);
#   - the cost of restoring a session on a replica that has not seen it.
# Called by scripts/bench.sh with a running server and its database, or on
# its own (it then starts what it needs from target/bench).
#
#   scripts/bench-http.sh HOST_BIN PG_DATA COMPONENTS OUT
set -euo pipefail
cd "$(dirname "$0")/.."
host=$1 pg=$2 components=$3 out=$4
duration=${BENCH_DURATION:-10s}
lua=scripts/wrk/call.lua
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/tools.sh installs it)" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "haproxy is not installed (scripts/tools.sh installs it)" >&2; exit 1; }

secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rls_secret"])' "$pg/secrets.json")
query="host=$PWD/$pg/run port=5432 user=zava_query dbname=zava"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# A replica on the shared database (the embedded one bench.sh started).
replica() { # port, extra flags...
  local port=$1; shift
  "$host" serve --identity dev-header --listen "127.0.0.1:$port" --components "$components" \
    --cache-dir "$out/cache" --query-database-url "$query" --rls-secret "$secret" \
    --embeddings none --audit-log off --identity-rate off --identity-max-concurrent 0 \
    --identity-max-sessions 0 --identity-session-rate off --log-format json "$@" \
    >"$out/replica-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do
    "$host" healthcheck --url "http://127.0.0.1:$port/readyz" --timeout 1s >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail -20 "$out/replica-$port.log" >&2; return 1
}

session() { # url -> session id (initialized)
  local id
  id=$(curl -s -D - -o /dev/null "$1" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H 'x-rls-user-id: 00000000-0000-0000-0000-000000000000' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"wrk","version":"0"}}}' \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id" {print $2}')
  curl -s -o /dev/null "$1" -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -H 'x-rls-user-id: 00000000-0000-0000-0000-000000000000' -H "mcp-session-id: $id" \
    -H 'mcp-protocol-version: 2025-11-25' -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$id"
}

# wrk's summary as one table row: calls/s, p50, p99, errors.
measure() { # label, url, connections, [session]
  local label=$1 url=$2 connections=$3 sid=${4:-} report
  report=$(WRK_SESSION=$sid wrk -t"$(( connections < 2 ? 1 : 2 ))" -c"$connections" -d"$duration" \
    --latency -s "$lua" "$url" 2>&1)
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$report")
  p50=$(awk '$1=="50%" {print $2}' <<<"$report")
  p99=$(awk '$1=="99%" {print $2}' <<<"$report")
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$report"); errors=${errors:-0}
  printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$connections" "$rps" "$p50" "$p99" "$errors"
}
healthz() { # label, url, connections
  local report
  report=$(wrk -t"$(( $3 < 2 ? 1 : 2 ))" -c"$3" -d"$duration" --latency "$2" 2>&1)
  printf '| %s | %s | %s | %s | %s | 0 |\n' "$1" "$3" "$(awk '/Requests\/sec/ {print $2}' <<<"$report")" \
    "$(awk '$1=="50%" {print $2}' <<<"$report")" "$(awk '$1=="99%" {print $2}' <<<"$report")"
}

replica 8201
replica 8202
replica 8203
replica 8204 --tcp-nodelay false
cat >"$out/haproxy.cfg" <<CFG
global
  maxconn 1024
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  option http-server-close
  option redispatch
  retries 3
frontend mcp
  bind 127.0.0.1:8200
  default_backend replicas
backend replicas
  balance roundrobin
  server r1 127.0.0.1:8201
  server r2 127.0.0.1:8202
  server r3 127.0.0.1:8203
CFG
haproxy -f "$out/haproxy.cfg" -db >"$out/haproxy.log" 2>&1 &
pids+=($!)
sleep 1

echo "## keep-alive HTTP (wrk, $duration each)"
echo
echo "| what | connections | calls/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
for c in 1 16; do
  healthz "GET /healthz (HTTP floor)" "http://127.0.0.1:8201/healthz" "$c"
  measure "tools/call, 2026-07-28 stateless" "http://127.0.0.1:8201/mcp" "$c"
  measure "tools/call, 2025-11-25 session" "http://127.0.0.1:8201/mcp" "$c" "$(session http://127.0.0.1:8201/mcp)"
  measure "tools/call, 2026-07-28, TCP_NODELAY off" "http://127.0.0.1:8204/mcp" "$c"
  measure "tools/call, 2025-11-25 session, TCP_NODELAY off" "http://127.0.0.1:8204/mcp" "$c" "$(session http://127.0.0.1:8204/mcp)"
done
for c in 1 16; do
  measure "3 replicas behind HAProxy, 2026-07-28" "http://127.0.0.1:8200/mcp" "$c"
  measure "3 replicas behind HAProxy, 2025-11-25 session" "http://127.0.0.1:8200/mcp" "$c" "$(session http://127.0.0.1:8200/mcp)"
done
echo
echo "## restoring a session on a replica that has not seen it"
python3 scripts/bench_restore.py http://127.0.0.1:8201/mcp http://127.0.0.1:8202/mcp
