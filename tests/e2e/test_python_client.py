"""End to end: the official `mcp` Python SDK against the real `mcp-host` binary.

The binary is started once for this module with `--identity dev-header`, on a
free loopback port, over a temporary components folder holding the fixture
components `get_current_utc_date.wasm`, `probe_v1.wasm` and the SQL tools
`sales_sql.wasm`, with its own embedded PostgreSQL (a small demo data set)
in a temporary folder (see hosts.py for the environment it reads).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import anyio
import httpx2
import pytest
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client

import hosts
from hosts import HEAD_OFFICE, HOST_BIN, IDENTITY_HEADER, REPO, SEATTLE

COMPONENTS = (
    "get_current_utc_date.wasm",
    "probe_v1.wasm",
    "sales_sql.wasm",
    "semantic_search.wasm",
)
SESSION_TIMEOUT_S = 30.0  # bound on each SDK conversation


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[hosts.Host]:
    root = tmp_path_factory.mktemp("mcp-host")
    components = hosts.components_folder(root, COMPONENTS)
    pg_data = hosts.private_pg_data()
    args = [
        "--components", str(components),
        "--cache-dir", str(root / "cache"),
        "--pg-data", str(pg_data),
        "--demo-scale", "0.02",
    ]
    try:
        with hosts.running(args, root / "mcp-host.log") as host:
            yield host
    finally:
        shutil.rmtree(pg_data, ignore_errors=True)


def _client(user_id: str | None) -> httpx2.AsyncClient:
    headers = {IDENTITY_HEADER: user_id} if user_id is not None else {}
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=60.0))


@asynccontextmanager
async def _session(server: hosts.Host, user_id: str | None) -> AsyncIterator[ClientSession]:
    """An SDK session (not yet initialised) as `user_id`; no identity header if None."""
    async with _client(user_id) as http:
        async with streamable_http_client(server.mcp_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                yield session


def _text_of(result) -> str:
    assert not result.is_error, result
    texts = [c.text for c in result.content if c.type == "text"]
    assert len(texts) == 1, result.content
    return texts[0]


@pytest.mark.anyio
async def test_head_office_lists_and_calls_get_current_utc_date(server: hosts.Host) -> None:
    with anyio.fail_after(SESSION_TIMEOUT_S):
        async with _session(server, HEAD_OFFICE) as session:
            init = await session.initialize()
            assert init.protocol_version == "2025-11-25"
            assert init.capabilities.tools is not None
            assert init.server_info.name

            listing = await session.list_tools()
            names = {tool.name for tool in listing.tools}
            assert "get_current_utc_date" in names, names
            tool = next(t for t in listing.tools if t.name == "get_current_utc_date")
            assert tool.description
            assert tool.input_schema.get("type") == "object"

            before = datetime.now(timezone.utc)
            result = await session.call_tool("get_current_utc_date", {})
            after = datetime.now(timezone.utc)

    text = _text_of(result).strip()
    # Python 3.11's fromisoformat takes the trailing "Z" and more than six
    # fractional digits (it truncates to microseconds).
    now = datetime.fromisoformat(text)
    assert now.tzinfo is not None, f"not an aware datetime: {text!r}"
    assert now.utcoffset() == timedelta(0), f"not UTC: {text!r}"
    slack = timedelta(seconds=5)
    assert before - slack <= now <= after + slack, (before, text, after)

    structured = result.structured_content
    assert structured is not None, "no structuredContent"
    assert structured["date"] == now.date().isoformat(), (structured, text)
    assert structured["utc_datetime"] == text
    assert (structured["year"], structured["month"], structured["day"]) == (
        now.year,
        now.month,
        now.day,
    )
    assert structured["weekday"] == now.strftime("%A")
    assert structured["unix_seconds"] == int(now.timestamp())


@pytest.mark.anyio
async def test_probe_scope_is_head_office(server: hosts.Host) -> None:
    with anyio.fail_after(SESSION_TIMEOUT_S):
        async with _session(server, HEAD_OFFICE) as session:
            await session.initialize()
            result = await session.call_tool("probe_scope", {})
    assert _text_of(result) == "head-office"


async def _query(server: hosts.Host, user_id: str, sql: str) -> dict:
    with anyio.fail_after(SESSION_TIMEOUT_S):
        async with _session(server, user_id) as session:
            await session.initialize()
            result = await session.call_tool("execute_sales_query", {"postgresql_query": sql})
    _text_of(result)
    assert result.structured_content is not None
    return result.structured_content


@pytest.mark.anyio
async def test_store_manager_sees_only_their_store(server: hosts.Host) -> None:
    sql = "SELECT store_id, count(*) AS orders FROM retail.orders GROUP BY 1 ORDER BY 1"
    seattle = await _query(server, SEATTLE, sql)
    head_office = await _query(server, HEAD_OFFICE, sql)
    assert seattle["columns"] == ["store_id", "orders"]
    assert [row[0] for row in seattle["rows"]] == [1]
    assert [row[0] for row in head_office["rows"]] == list(range(1, 9))
    assert seattle["rows"][0] == head_office["rows"][0]


@pytest.mark.anyio
async def test_semantic_search_with_the_local_model(server: hosts.Host) -> None:
    with anyio.fail_after(SESSION_TIMEOUT_S):
        async with _session(server, SEATTLE) as session:
            await session.initialize()
            result = await session.call_tool(
                "semantic_search_products",
                {"query_description": "waterproof electrical connectors", "max_rows": 5},
            )
    assert "similar to" in _text_of(result)
    results = result.structured_content["results"]
    assert results[0]["category"] == "Electrical", results
    assert len(results) <= 5


@pytest.mark.anyio
async def test_forged_identity_in_sql_sees_nothing_more(server: hosts.Host) -> None:
    sql = (
        "SELECT count(*) AS n FROM retail.orders "
        "WHERE set_config('app.current_rls_user_id', '00000000-0000-0000-0000-000000000000', true) "
        "IS NOT NULL"
    )
    with anyio.fail_after(SESSION_TIMEOUT_S):
        async with _session(server, SEATTLE) as session:
            await session.initialize()
            result = await session.call_tool("execute_sales_query", {"postgresql_query": sql})
    assert result.is_error
    assert "set_config" in result.content[0].text


@pytest.mark.anyio
async def test_sdk_without_identity_header_is_refused(server: hosts.Host) -> None:
    # The SDK surfaces the 401's JSON-RPC error (wrapped in exception groups).
    # A timeout would be caught too, and then fail the MCPError assertion.
    with pytest.raises(BaseException) as caught:  # noqa: B017 - unwrapped below
        with anyio.fail_after(SESSION_TIMEOUT_S):
            async with _session(server, None) as session:
                await session.initialize()
    errors = _leaves(caught.value)
    mcp_errors = [e for e in errors if isinstance(e, MCPError)]
    assert mcp_errors, f"expected an MCPError, got {errors!r}"
    assert IDENTITY_HEADER in mcp_errors[0].message, mcp_errors[0].message


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _initialize_body() -> dict:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "e2e-raw", "version": "0"},
        },
    }


_RAW_HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
}


def test_raw_post_without_identity_header_is_401(server: hosts.Host) -> None:
    response = httpx2.post(
        server.mcp_url, headers=_RAW_HEADERS, json=_initialize_body(), timeout=10
    )
    assert response.status_code == 401, response.text
    assert IDENTITY_HEADER in response.headers.get("www-authenticate", "")
    assert "mcp-session-id" not in response.headers


def test_raw_post_with_foreign_origin_is_403(server: hosts.Host) -> None:
    response = httpx2.post(
        server.mcp_url,
        headers={
            **_RAW_HEADERS,
            IDENTITY_HEADER: HEAD_OFFICE,
            "origin": "http://evil.example.com",
        },
        json=_initialize_body(),
        timeout=10,
    )
    assert response.status_code == 403, response.text


@pytest.mark.anyio
async def test_vscode_entries_reach_the_stores_they_are_named_for(server: hosts.Host) -> None:
    """`.vscode/mcp.json`: every local entry points at the URL `serve` listens
    on by default and, sent to a running server, its header identifies the
    store (or head office) in its name; the remote entry signs in (no header)."""
    config = json.loads((REPO / ".vscode/mcp.json").read_text())
    help_text = subprocess.run(
        [str(HOST_BIN), "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    default_listen = re.search(r"--listen <LISTEN>.*?\[default: ([^\]]+)\]", help_text, re.S)
    assert default_listen, help_text
    local_url = f"http://{default_listen.group(1)}/mcp"

    with anyio.fail_after(SESSION_TIMEOUT_S):
        async with _session(server, HEAD_OFFICE) as session:
            await session.initialize()
            stores = await session.call_tool(
                "execute_sales_query",
                {"postgresql_query": "SELECT store_id, store_name FROM retail.stores"},
            )
    store_rows = stores.structured_content["rows"]

    local = {name: entry for name, entry in config["servers"].items() if "headers" in entry}
    assert {"zava-head-office", "zava-seattle"} <= set(local), local
    for name, entry in local.items():
        assert entry["type"] == "http" and entry["url"] == local_url, (name, entry)
        user = entry["headers"][IDENTITY_HEADER]
        with anyio.fail_after(SESSION_TIMEOUT_S):
            async with _session(server, user) as session:
                await session.initialize()
                scope = _text_of(await session.call_tool("probe_scope", {}))
        place = name.removeprefix("zava-")
        if place == "head-office":
            assert scope == "head-office", (name, scope)
        else:
            expected = [sid for sid, store in store_rows if place in store.lower()]
            assert len(expected) == 1, (name, store_rows)
            assert scope == f"store:{expected[0]}", (name, scope)

    remote = {name: entry for name, entry in config["servers"].items() if "headers" not in entry}
    assert remote, "a remote entry that signs in with Entra ID"
    inputs = {i["id"] for i in config.get("inputs", [])}
    for name, entry in remote.items():
        assert entry["type"] == "http", name
        match = re.fullmatch(r"\$\{input:([\w-]+)\}", entry["url"])
        assert match and match.group(1) in inputs, (name, entry)
