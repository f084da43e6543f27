"""The measuring half of scripts/bench-languages.sh (which builds the three
subjects and starts the server): answers compared, per-call cost with wrk and
the host's own metrics, drop-to-serve timings. Python standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request

HEAD_OFFICE = "00000000-0000-0000-0000-000000000000"
SEATTLE = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
LANGUAGES = [("Rust", "store_sales_rust"), ("Python", "store_sales_python"), ("JavaScript", "store_sales_js")]
# A month of the demo data: Seattle has one line, head office eight.
ARGS = {"start": "2025-06-01", "end": "2025-06-30"}
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}
WRK_LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk", "call.lua")


def rpc(url: str, user: str, method: str, params: dict, name: str | None = None) -> dict:
    """One MCP 2026-07-28 request (stateless); the JSON-RPC result."""
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "x-rls-user-id": user,
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": method,
    }
    if name:
        headers["mcp-name"] = name
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": META}}
    request = urllib.request.Request(url + "/mcp", json.dumps(body).encode(), headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    # An SSE answer carries the JSON-RPC message on a data line.
    if not text.lstrip().startswith("{"):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:") and line[5:].strip())
    message = json.loads(text)
    if "error" in message:
        raise SystemExit(f"{method} failed: {message['error']}")
    return message["result"]


def call(url: str, user: str, tool: str) -> dict:
    return rpc(url, user, "tools/call", {"name": tool, "arguments": ARGS}, name=tool)


def wait_for_tools(url: str, tools: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            listed = {t["name"] for t in rpc(url, HEAD_OFFICE, "tools/list", {})["tools"]}
        except OSError:  # not listening yet
            listed = set()
        if set(tools) <= listed:
            return
        time.sleep(0.2)
    raise SystemExit(f"the server did not list {tools} within {timeout} s")


def check_answers(url: str) -> None:
    """The three answer the same, for a store manager and for head office."""
    for user, stores in [(SEATTLE, 1), (HEAD_OFFICE, 8)]:
        answers = {}
        for _, tool in LANGUAGES:
            result = call(url, user, tool)
            if result.get("isError"):
                raise SystemExit(f"{tool} failed: {result['content']}")
            answers[tool] = json.dumps(
                {"content": result["content"], "structured": result["structuredContent"]}, sort_keys=True
            )
        if len(set(answers.values())) != 1:
            raise SystemExit("the three tools answer differently:\n" + "\n".join(answers.values()))
        got = len(json.loads(answers["store_sales_rust"])["structured"]["stores"])
        if got != stores:
            raise SystemExit(f"expected {stores} store(s), got {got}")
    print("Answers: identical for Seattle (1 store) and head office (8 stores).\n")


def metrics(url: str) -> dict[str, float]:
    """The sums and counts this comparison reads from /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    wanted = {}
    for line in text.splitlines():
        match = re.match(
            r'mcp_(tool_call_duration_seconds|component_instantiation_duration_seconds|db_query_duration_seconds)'
            r'_(sum|count)(\{tool="([^"]+)"\})? (\S+)$',
            line,
        )
        if match:
            metric, part, _, tool, value = match.groups()
            wanted[f"{metric}:{tool or ''}:{part}"] = float(value)
    return wanted


def mean_delta(before: dict, after: dict, metric: str, tool: str = "") -> float:
    """Mean seconds per observation between two scrapes."""
    key = f"{metric}:{tool}"
    n = after.get(key + ":count", 0) - before.get(key + ":count", 0)
    s = after.get(key + ":sum", 0) - before.get(key + ":sum", 0)
    return s / n if n else float("nan")


def to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def wrk(url: str, user: str, tool: str, connections: int, duration: str) -> dict:
    env = {**os.environ, "WRK_USER": user, "WRK_TOOL": tool, "WRK_ARGS": json.dumps(ARGS), "WRK_SESSION": ""}
    threads = 1 if connections < 2 else 2
    report = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-s", WRK_LUA, url + "/mcp"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", report).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", report).group(1))
    errors = int(re.search(r"tool errors: (\d+)", report).group(1))
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors}


def per_call(url: str, duration: str, rounds: int) -> None:
    print(f"## Per call: the same query, wrk over keep-alive (MCP 2026-07-28), {duration} per run, "
          f"{rounds} rounds interleaved (means)\n")
    print("| caller | connections | language | calls/s | p50 ms | p99 ms | vs Rust (time per call) "
          "| in host: call ms | instantiate ms | query ms | tool errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, user in [("Seattle (1 store)", SEATTLE), ("head office (8 stores)", HEAD_OFFICE)]:
        for connections in (1, 4):
            runs: dict[str, list[dict]] = {tool: [] for _, tool in LANGUAGES}
            for _ in range(rounds):
                for _, tool in LANGUAGES:
                    before = metrics(url)
                    run = wrk(url, user, tool, connections, duration)
                    after = metrics(url)
                    run["call"] = mean_delta(before, after, "tool_call_duration_seconds", tool) * 1000
                    run["inst"] = mean_delta(before, after, "component_instantiation_duration_seconds") * 1000
                    run["db"] = mean_delta(before, after, "db_query_duration_seconds") * 1000
                    runs[tool].append(run)
            mean = {
                tool: {k: statistics.fmean(r[k] for r in rs) for k in rs[0] if k != "errors"}
                | {"errors": sum(r["errors"] for r in rs)}
                for tool, rs in runs.items()
            }
            rust = mean["store_sales_rust"]["rps"]
            for language, tool in LANGUAGES:
                m = mean[tool]
                print(f"| {label} | {connections} | {language} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} "
                      f"| {rust / m['rps']:.2f}x | {m['call']:.2f} | {m['inst']:.3f} | {m['db']:.2f} | {m['errors']} |")
    print()


def drop_to_serve(host: str, wasm_dir: str, work: str) -> None:
    """From the file renamed into an empty watched folder to its tool listed."""
    print("## From drop to serving (a second server, no database; median of 3)\n")
    print("| language | size | Winch first (default) | Cranelift first | cached (restart) |")
    print("|---|---|---|---|---|")
    for language, tool in LANGUAGES:
        path = os.path.join(wasm_dir, f"{tool}.wasm")
        winch, cranelift, cached = [], [], []
        for _ in range(3):
            cranelift.append(_drop(host, path, tool, False, tempfile.mkdtemp(dir=work)))
            cache = tempfile.mkdtemp(dir=work)
            winch.append(_drop(host, path, tool, True, cache))
            # The first server may have stopped before its background
            # compile finished: fill the cache, then restart on it.
            _drop(host, path, tool, False, cache)
            cached.append(_drop(host, path, tool, True, cache))
        size = os.path.getsize(path) / 1e6
        print(f"| {language} | {size:.1f} MB | {statistics.median(winch):.2f} s | "
              f"{statistics.median(cranelift):.2f} s | {statistics.median(cached):.2f} s |")
    print()


def _drop(host: str, path: str, tool: str, baseline: bool, cache: str) -> float:
    components = tempfile.mkdtemp(prefix="drop-")
    with open(os.path.join(components, "policy.toml"), "w") as policy:
        policy.write(f"[components.{tool}]\nimports = []\nmemory_mib = 32\n")
    port = 18500 + os.getpid() % 400
    server = subprocess.Popen(
        [host, "serve", "--identity", "dev-header", "--listen", f"127.0.0.1:{port}", "--components", components,
         "--cache-dir", cache, "--no-database", "--embeddings", "none", "--audit-log", "off",
         "--poll-interval", "100ms", "--baseline-first", "true" if baseline else "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                urllib.request.urlopen(url + "/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        started = time.monotonic()
        staging = os.path.join(components, ".staging")
        shutil.copy(path, staging)
        os.rename(staging, os.path.join(components, os.path.basename(path)))
        while True:
            listed = {t["name"] for t in rpc(url, HEAD_OFFICE, "tools/list", {})["tools"]}
            if tool in listed:
                return time.monotonic() - started
            if time.monotonic() - started > 300:
                raise SystemExit(f"{tool} not served within 300 s")
            time.sleep(0.02)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(components, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--wasm", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-drop", action="store_true", help="skip the drop-to-serve timings")
    args = parser.parse_args()

    print(f"## machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start\n")
    wait_for_tools(args.url, [tool for _, tool in LANGUAGES])
    check_answers(args.url)
    per_call(args.url, args.duration, args.rounds)
    if not args.no_drop:
        drop_to_serve(args.host, args.wasm, args.work)


if __name__ == "__main__":
    main()
