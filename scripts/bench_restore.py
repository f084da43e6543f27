"""What restoring a session costs: 50 sessions opened on one replica, then
each one's first call on another replica (which loads it from PostgreSQL,
checks its owner and replays its handshake) against its second call there.

    python3 scripts/bench_restore.py OPENER_URL OTHER_URL
"""

import json
import statistics
import sys
import time
import urllib.request

HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "x-rls-user-id": "00000000-0000-0000-0000-000000000000",
}


def post(url: str, body: dict, extra: dict | None = None) -> tuple[float, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={**HEADERS, **(extra or {})}, method="POST"
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        elapsed = time.perf_counter() - started
        return elapsed, dict(response.headers)


def main(opener: str, other: str, n: int = 50) -> None:
    first, second = [], []
    for i in range(n):
        _, headers = post(
            opener,
            {
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "restore-bench", "version": "0"}},
            },
        )
        session = {k.lower(): v for k, v in headers.items()}["mcp-session-id"]
        extra = {"mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
        post(opener, {"jsonrpc": "2.0", "method": "notifications/initialized"}, extra)
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "get_current_utc_date", "arguments": {}}}
        first.append(post(other, call, extra)[0])
        call["id"] = 2
        second.append(post(other, call, extra)[0])
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print("| call on the other replica | p50 ms | max ms | n |")
    print("|---|---|---|---|")
    print(f"| first (restores the session) | {ms(first):.2f} | {max(first) * 1000:.2f} | {n} |")
    print(f"| second (already restored) | {ms(second):.2f} | {max(second) * 1000:.2f} | {n} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
