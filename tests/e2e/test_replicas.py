"""Replicas without sticky sessions: three `mcp-host` processes on one
database behind a real round-robin HTTP proxy (HAProxy, no affinity).

- A handshake-era (2025-11-25) session makes 100 calls, spread over every
  replica; one replica is killed mid-run; after the kill no call fails but
  those that were in flight on it, which the test retries (and counts).
- A foreign principal presenting the session id gets 404 on every replica.
- A component dropped into the shared folder reaches the listen streams of
  every replica.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

import hosts
from hosts import BELLEVUE, HEAD_OFFICE, IDENTITY_HEADER, SEATTLE

CALLS = 100
KILL_AFTER = 40
SQL = "SELECT DISTINCT store_id FROM retail.orders"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, replicas: list[hosts.Host], audits: list[Path], proxy: str, components: Path):
        self.replicas = replicas
        self.audits = audits
        self.proxy = proxy
        self.components = components


def _haproxy_config(port: int, replicas: list[hosts.Host]) -> str:
    servers = "\n".join(
        f"  server r{i} 127.0.0.1:{r.port} check" for i, r in enumerate(replicas)
    )
    return f"""global
  maxconn 512
defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  # Every request is routed on its own: no affinity of any kind.
  option http-server-close
  # A connection refused by a dead replica is retried on another.
  option redispatch
  retries 3
frontend mcp
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk
  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host 127.0.0.1
  default-server inter 300ms fall 1 rise 2
{servers}
"""


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.fail("haproxy is not installed (scripts/tools.sh installs it: apt-get install haproxy)")
    root = tmp_path_factory.mktemp("replicas")
    components = hosts.components_folder(
        root, ("get_current_utc_date.wasm", "probe_v1.wasm", "sales_sql.wasm")
    )
    pg_data = hosts.private_pg_data()
    common = ["--components", str(components), "--embeddings", "none", "--poll-interval", "200ms"]
    replicas: list[hosts.Host] = []
    audits: list[Path] = []
    proxy_process = None
    try:
        # The first replica starts the (embedded) database and loads it; the
        # others reach it as an external server, as on Azure.
        audits.append(root / "audit-0.jsonl")
        replicas.append(
            hosts.start(
                [*common, "--pg-data", str(pg_data), "--demo-scale", "0.02",
                 "--cache-dir", str(root / "cache-0"), "--audit-log", str(audits[0])],
                root / "replica-0.log",
            )
        )
        for i in (1, 2):
            audits.append(root / f"audit-{i}.jsonl")
            replicas.append(
                hosts.start(
                    [*common, *hosts.embedded_connection(pg_data),
                     "--cache-dir", str(root / f"cache-{i}"), "--audit-log", str(audits[i])],
                    root / f"replica-{i}.log",
                )
            )
        port = _free_port()
        config = root / "haproxy.cfg"
        config.write_text(_haproxy_config(port, replicas))
        proxy_process = subprocess.Popen(
            [haproxy, "-f", str(config), "-db"],
            stdout=(root / "haproxy.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        proxy = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{proxy}/readyz", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("haproxy did not come up:\n" + (root / "haproxy.log").read_text())
            time.sleep(0.1)
        time.sleep(1.0)  # every replica passes its first health checks
        yield Cluster(replicas, audits, f"{proxy}/mcp", components)
    finally:
        if proxy_process is not None:
            proxy_process.terminate()
            proxy_process.wait(timeout=10)
        for replica in reversed(replicas):
            replica.stop()
        shutil.rmtree(pg_data, ignore_errors=True)


HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def _answer(response: httpx2.Response) -> dict:
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    return json.loads([d for d in data if d][-1])


def _open_session(http: httpx2.Client, url: str, user: str) -> str:
    init = http.post(
        url,
        headers={**HEADERS, IDENTITY_HEADER: user},
        json={
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "replicas", "version": "0"},
            },
        },
    )
    assert init.status_code == 200, init.text
    session = init.headers["mcp-session-id"]
    done = http.post(
        url,
        headers={**HEADERS, IDENTITY_HEADER: user, "mcp-session-id": session,
                 "mcp-protocol-version": "2025-11-25"},
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
    )
    assert done.status_code == 202, done.text
    return session


def _call(http: httpx2.Client, url: str, user: str, session: str, n: int) -> httpx2.Response:
    return http.post(
        url,
        headers={**HEADERS, IDENTITY_HEADER: user, "mcp-session-id": session,
                 "mcp-protocol-version": "2025-11-25"},
        json={
            "jsonrpc": "2.0",
            "id": n,
            "method": "tools/call",
            "params": {"name": "execute_sales_query", "arguments": {"postgresql_query": SQL}},
        },
    )


def _calls_per_replica(cluster: Cluster) -> list[int]:
    return [
        sum(1 for line in hosts.audit_lines(a) if line.get("tool") == "execute_sales_query")
        for a in cluster.audits
    ]


@pytest.mark.anyio
async def test_a_dropped_component_reaches_the_listeners_of_every_replica(cluster: Cluster) -> None:
    async def listen_on(replica: hosts.Host, heard: list[int], ready: anyio.Event, index: int) -> None:
        async with httpx2.AsyncClient(headers={IDENTITY_HEADER: HEAD_OFFICE}, timeout=60) as http:
            async with Client(
                streamable_http_client(replica.mcp_url, http_client=http), mode="2026-07-28"
            ) as client, client.listen(tools_list_changed=True) as subscription:
                ready.set()
                async for _ in subscription:
                    heard.append(index)
                    return

    heard: list[int] = []
    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            readies = []
            for index, replica in enumerate(cluster.replicas):
                ready = anyio.Event()
                readies.append(ready)
                group.start_soon(listen_on, replica, heard, ready, index)
            for ready in readies:
                await ready.wait()
            staged = cluster.components / ".probe_v1.wasm.tmp"
            shutil.copy(hosts.FIXTURES_DIR / "probe_v2.wasm", staged)
            staged.rename(cluster.components / "probe_v1.wasm")
    assert sorted(heard) == [0, 1, 2]


def test_sessions_survive_replicas_and_stay_with_their_owner(cluster: Cluster) -> None:
    http = httpx2.Client(timeout=30)
    session = _open_session(http, cluster.proxy, SEATTLE)

    # Another principal holding the id: as if it did not exist, everywhere.
    for replica in cluster.replicas:
        foreign = _call(http, replica.mcp_url, BELLEVUE, session, 1)
        assert foreign.status_code == 404, (replica.base, foreign.status_code, foreign.text)
    assert _call(http, cluster.proxy, BELLEVUE, session, 1).status_code == 404

    before = _calls_per_replica(cluster)
    kill_sent = dead_at = None
    victim = cluster.replicas[2]
    lock = threading.Lock()
    outcomes: list[tuple[int, float, float, int]] = []  # (n, start, end, status)

    def one(n: int) -> None:
        nonlocal kill_sent, dead_at
        if n == KILL_AFTER:
            with lock:
                kill_sent = time.monotonic()
                victim.process.send_signal(signal.SIGKILL)
                victim.process.wait(timeout=10)
                dead_at = time.monotonic()
        started = time.monotonic()
        try:
            response = _call(http, cluster.proxy, SEATTLE, session, n)
            status = response.status_code
            if status == 200:
                rows = _answer(response)["result"]["structuredContent"]["rows"]
                assert rows == [[1]], rows  # still Seattle, on every replica
        except httpx2.HTTPError:
            status = -1
        outcomes.append((n, started, time.monotonic(), status))

    # Four at a time, so that some are in flight when the replica dies.
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(1, CALLS + 1)))
    assert kill_sent is not None and dead_at is not None

    failed = [o for o in outcomes if o[3] != 200]
    # Every failure was in flight while the replica died (started before it
    # was gone, ended after the kill began); nothing that started after its
    # death failed.
    late = [o for o in failed if o[1] > dead_at]
    assert not late, f"calls that started after the replica died failed: {late}"
    assert all(o[2] >= kill_sent for o in failed), failed
    # Those in flight are retried, not hidden.
    for n, *_ in failed:
        retry = _call(http, cluster.proxy, SEATTLE, session, 1000 + n)
        assert retry.status_code == 200, retry.text
    after = _calls_per_replica(cluster)
    served = [a - b for a, b in zip(after, before)]
    # Spread over every replica (the third until it died).
    assert all(s > 0 for s in served), served
    assert sum(served) >= CALLS - len(failed), (served, failed)
    print(f"calls per replica {served}, {len(failed)} in flight at the kill retried")
