"""Both eras of MCP on one endpoint, with clients we did not write:

- the `mcp` Python SDK 2.3 speaking 2026-07-28 (stateless: `server/discover`,
  `_meta` per request, `subscriptions/listen`), pinned and in `auto` mode;
- the `mcp` Python SDK 1.x (handshake era, its own venv) and the official
  TypeScript SDK, at the same time, on the same server;
- raw requests for what no SDK sends: no `MCP-Protocol-Version` at all,
  missing or mismatched 2026 headers.

Identity and RLS hold per request in both eras; a hot swap is announced on
listen streams; the audit log says which revision each call used.

Environment (set by scripts/test.sh):
  MCP1_PYTHON     python of the venv with mcp 1.x  (default target/e2e/venv1/bin/python)
  MCP_TS_CLIENT   node_modules with @modelcontextprotocol/sdk (default target/e2e/node)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

import hosts
from hosts import HEAD_OFFICE, IDENTITY_HEADER, REPO, SEATTLE

MCP1_PYTHON = Path(os.environ.get("MCP1_PYTHON", REPO / "target/e2e/venv1/bin/python"))
TS_CLIENT_DIR = Path(os.environ.get("MCP_TS_CLIENT", REPO / "target/e2e/node"))
CLIENTS = Path(__file__).parent / "clients"
TIMEOUT_S = 60.0
ONE_STORE_SQL = "SELECT store_id, count(*) AS orders FROM retail.orders GROUP BY 1 ORDER BY 1"
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


class Server:
    def __init__(self, host: hosts.Host, components: Path, audit: Path) -> None:
        self.host = host
        self.components = components
        self.audit = audit

    @property
    def url(self) -> str:
        return self.host.mcp_url


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("eras")
    components = hosts.components_folder(
        root, ("get_current_utc_date.wasm", "probe_v1.wasm", "sales_sql.wasm")
    )
    pg_data = hosts.private_pg_data()
    audit = root / "audit.jsonl"
    args = [
        "--components", str(components),
        "--cache-dir", str(root / "cache"),
        "--pg-data", str(pg_data),
        "--demo-scale", "0.02",
        "--embeddings", "none",
        "--poll-interval", "200ms",
        "--audit-log", str(audit),
    ]
    try:
        with hosts.running(args, root / "host.log") as host:
            yield Server(host, components, audit)
    finally:
        shutil.rmtree(pg_data, ignore_errors=True)


def _http(user: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers={IDENTITY_HEADER: user}, timeout=httpx2.Timeout(30.0, read=120.0))


def _rows(result) -> list:
    assert not result.is_error, result
    return result.structured_content["rows"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["2026-07-28", "auto"])
async def test_a_2026_client_lists_calls_and_sees_only_its_store(server: Server, mode: str) -> None:
    with anyio.fail_after(TIMEOUT_S):
        async with _http(SEATTLE) as http, Client(
            streamable_http_client(server.url, http_client=http), mode=mode
        ) as client:
            # auto probes server/discover and must pick the newest revision.
            assert client.protocol_version == "2026-07-28"
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"execute_sales_query", "get_current_utc_date"} <= names, names
            seattle = _rows(
                await client.call_tool("execute_sales_query", {"postgresql_query": ONE_STORE_SQL})
            )
        async with _http(HEAD_OFFICE) as http, Client(
            streamable_http_client(server.url, http_client=http), mode=mode
        ) as client:
            everyone = _rows(
                await client.call_tool("execute_sales_query", {"postgresql_query": ONE_STORE_SQL})
            )
    assert [r[0] for r in seattle] == [1]
    assert [r[0] for r in everyone] == list(range(1, 9))
    assert seattle[0] == everyone[0]


def _run_client(command: list[str], what: str) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, f"{what} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ts_client_ready() -> Path:
    sdk = TS_CLIENT_DIR / "node_modules/@modelcontextprotocol/sdk/package.json"
    if not sdk.is_file():
        pytest.fail(f"the TypeScript SDK is not installed in {TS_CLIENT_DIR} (scripts/test.sh does it)")
    # Node resolves packages from the script's folder upwards: run a copy
    # next to the installed node_modules.
    script = TS_CLIENT_DIR / "ts_client.mjs"
    shutil.copy(CLIENTS / "ts_client.mjs", script)
    return script


@pytest.mark.anyio
async def test_every_client_generation_at_once_with_a_hot_swap_announced(server: Server) -> None:
    """A 2026-07-28 listen stream is open while the 1.x SDK and the
    TypeScript SDK hold handshake-era sessions; then a component is swapped
    and the listen stream hears of it."""
    if not MCP1_PYTHON.is_file():
        pytest.fail(f"no Python with mcp 1.x at {MCP1_PYTHON} (scripts/test.sh makes it)")
    ts_script = _ts_client_ready()
    with anyio.fail_after(TIMEOUT_S * 2):
        async with _http(HEAD_OFFICE) as http, Client(
            streamable_http_client(server.url, http_client=http), mode="2026-07-28"
        ) as client:
            async with client.listen(tools_list_changed=True) as subscription:
                assert subscription.honored.tools_list_changed
                # Older clients, side by side, each in its own process.
                legacy, ts = await anyio.to_thread.run_sync(
                    lambda: (
                        _run_client(
                            [str(MCP1_PYTHON), str(CLIENTS / "mcp1_client.py"), server.url, SEATTLE, ONE_STORE_SQL],
                            "the mcp 1.x client",
                        ),
                        _run_client(
                            ["node", str(ts_script), server.url, SEATTLE, ONE_STORE_SQL],
                            "the TypeScript SDK client",
                        ),
                    )
                )
                for name, answer in (("mcp 1.x", legacy), ("TypeScript SDK", ts)):
                    assert answer["protocol"] == "2025-11-25", (name, answer)
                    assert "execute_sales_query" in answer["tools"], (name, answer)
                    assert not answer["is_error"], (name, answer)
                    assert [r[0] for r in answer["structured"]["rows"]] == [1], (name, answer)

                # The hot swap: probe v2 replaces v1 (written aside, renamed).
                staged = server.components / ".probe_v1.wasm.tmp"
                shutil.copy(hosts.FIXTURES_DIR / "probe_v2.wasm", staged)
                staged.rename(server.components / "probe_v1.wasm")
                async for _event in subscription:
                    break
            answer = await client.call_tool("swap_probe", {})
    assert answer.content[0].text == "v2", answer


def _post(url: str, body: dict, headers: dict[str, str]) -> httpx2.Response:
    return httpx2.post(
        url,
        json=body,
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            IDENTITY_HEADER: SEATTLE,
            **headers,
        },
        timeout=30,
    )


def _sse_json(response: httpx2.Response) -> dict:
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    return json.loads([d for d in data if d][-1])


def test_a_client_that_sends_no_protocol_version_is_served(server: Server) -> None:
    """The oldest clients send no MCP-Protocol-Version: a session, then calls."""
    init = _post(
        server.url,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-03-26",
                "capabilities": {},
                "clientInfo": {"name": "old", "version": "0"},
            },
        },
        {},
    )
    assert init.status_code == 200, init.text
    assert _sse_json(init)["result"]["protocolVersion"] == "2025-03-26"
    session = init.headers["mcp-session-id"]
    initialized = _post(
        server.url,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"mcp-session-id": session},
    )
    assert initialized.status_code == 202, initialized.text
    listed = _post(
        server.url,
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"mcp-session-id": session},
    )
    assert listed.status_code == 200, listed.text
    assert any(t["name"] == "execute_sales_query" for t in _sse_json(listed)["result"]["tools"])


def test_2026_requests_are_validated_with_the_specs_errors(server: Server) -> None:
    call = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "get_current_utc_date", "arguments": {}, "_meta": META},
    }
    good = {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "get_current_utc_date"}
    ok = _post(server.url, call, good)
    assert ok.status_code == 200, ok.text
    assert ok.headers["content-type"].startswith("application/json"), ok.headers
    assert _sse_json(ok)["result"]["resultType"] == "complete"

    no_method = _post(server.url, call, {k: v for k, v in good.items() if k != "mcp-method"})
    assert no_method.status_code == 400 and no_method.json()["error"]["code"] == -32020
    no_name = _post(server.url, call, {k: v for k, v in good.items() if k != "mcp-name"})
    assert no_name.status_code == 400 and no_name.json()["error"]["code"] == -32020
    mismatch = _post(server.url, call, {**good, "mcp-protocol-version": "2025-11-25"})
    assert mismatch.status_code == 400 and mismatch.json()["error"]["code"] == -32020
    no_meta = dict(call, params={"name": "get_current_utc_date", "arguments": {}})
    missing = _post(server.url, no_meta, good)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == -32602
    future = dict(
        call,
        params={
            "name": "get_current_utc_date",
            "arguments": {},
            "_meta": {**META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"},
        },
    )
    unsupported = _post(server.url, future, {**good, "mcp-protocol-version": "2099-01-01"})
    assert unsupported.status_code == 400
    assert unsupported.json()["error"]["code"] == -32022
    assert "2026-07-28" in unsupported.json()["error"]["data"]["supported"]

    listed = _post(
        server.url,
        {"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": {"_meta": META}},
        {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"},
    ).json()["result"]
    assert listed["resultType"] == "complete"
    assert listed["cacheScope"] == "private" and listed["ttlMs"] > 0
    discovered = _post(
        server.url,
        {"jsonrpc": "2.0", "id": 5, "method": "server/discover", "params": {"_meta": META}},
        {"mcp-protocol-version": "2026-07-28", "mcp-method": "server/discover"},
    ).json()["result"]
    assert "2026-07-28" in discovered["supportedVersions"]
    assert "2025-11-25" in discovered["supportedVersions"]
    assert discovered["capabilities"]["tools"]["listChanged"] is True
    assert discovered["cacheScope"] == "public"

    # Identity is per request in the stateless era too.
    anonymous = httpx2.post(
        server.url,
        json=call,
        headers={"content-type": "application/json", "accept": "application/json, text/event-stream", **good},
        timeout=30,
    )
    assert anonymous.status_code == 401


def test_the_audit_log_says_which_revision_each_call_used(server: Server) -> None:
    protocols = {line.get("protocol") for line in hosts.audit_lines(server.audit)}
    assert "2026-07-28" in protocols, protocols
    assert "2025-11-25" in protocols, protocols
