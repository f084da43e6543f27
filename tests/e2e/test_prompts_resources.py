"""End to end: the prompts, resources and completions of the sales-sql
component, served by the real `mcp-host` binary through the standard MCP
methods, to clients we did not write:

- the `mcp` Python SDK 2.x speaking 2026-07-28 (stateless, in this process);
- the `mcp` Python SDK 1.x speaking 2025-11-25 (handshake era, its own venv,
  driven as a subprocess through clients/mcp1_client.py --ops).

Every test runs once per SDK generation with the same operations and the
same assertions, made on the results as they were on the wire (camelCase).

What is checked: prompts/list (five prompts, descriptions, arguments);
prompts/get (the message names the arguments' values and embeds the
caller-scoped schema resources; bad arguments are JSON-RPC invalid params);
completion/complete for `store` (a store manager is offered only their own
store, head office all eight), for `category` and for the `table` of the
schema template; resources/list and resources/templates/list;
resources/read of zava://schema/orders differs between Seattle and head
office exactly as `get_multiple_table_schemas` does; an unknown table is
the era's resource-not-found error.

Environment (set by scripts/test.sh): MCP_HOST_BIN, MCP_FIXTURES_DIR (see
hosts.py) and MCP1_PYTHON (python of the venv with mcp 1.x, default
target/e2e/venv1/bin/python).
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
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import PromptReference, ResourceTemplateReference

import hosts
from hosts import HEAD_OFFICE, IDENTITY_HEADER, REPO, SEATTLE

MCP1_PYTHON = Path(os.environ.get("MCP1_PYTHON", REPO / "target/e2e/venv1/bin/python"))
MCP1_CLIENT = Path(__file__).parent / "clients" / "mcp1_client.py"
TIMEOUT_S = 60.0

MODERN = "2026-07-28"  # SDK 2.x
HANDSHAKE = "2025-11-25"  # SDK 1.x
ERAS = [MODERN, HANDSHAKE]

PROMPTS = {  # name -> {argument: required}
    "top_products_by_revenue": {"period": True, "limit": False},
    "best_selling_categories": {"store": False},
    "monthly_revenue_trend": {"store": False, "months": False},
    "store_comparison": {"period": False},
    "low_stock": {"category": False, "store": False, "threshold": False},
}
TABLES = [
    "stores", "customers", "categories", "product_types", "products",
    "inventory", "orders", "order_items", "product_description_embeddings",
]
STORES = [  # host/src/seed/generate.rs; Seattle is store_id 1
    "Zava Retail Seattle", "Zava Retail Bellevue", "Zava Retail Tacoma", "Zava Retail Spokane",
    "Zava Retail Everett", "Zava Retail Redmond", "Zava Retail Kirkland", "Zava Retail Online",
]
SCHEMA_MIME = "application/json"
APP_URI = "ui://sales-sql/result-view.html"
APP_MIME = "text/html;profile=mcp-app"
TEMPLATE = "zava://schema/{table}"
# JSON-RPC invalid params: a bad prompt name or argument (both eras), and
# resource-not-found from 2026-07-28 on (SEP-2164); 2025-11-25 says -32002.
INVALID_PARAMS = -32602
RESOURCE_NOT_FOUND = {MODERN: -32602, HANDSHAKE: -32002}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[hosts.Host]:
    root = tmp_path_factory.mktemp("prompts-resources")
    components = hosts.components_folder(root, ("sales_sql.wasm",))
    pg_data = hosts.private_pg_data()
    args = [
        "--components", str(components),
        "--cache-dir", str(root / "cache"),
        "--pg-data", str(pg_data),
        "--demo-scale", "0.02",
        "--embeddings", "none",
    ]
    try:
        with hosts.running(args, root / "host.log") as host:
            yield host
    finally:
        shutil.rmtree(pg_data, ignore_errors=True)


@pytest.fixture(params=ERAS, ids=["sdk2-2026-07-28", "sdk1-2025-11-25"])
def era(request: pytest.FixtureRequest) -> str:
    return request.param


# ---- running the same operations through either SDK ---------------------------


def _wire(model) -> dict:
    """A result as it was on the wire (camelCase, `_meta`)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _ref(ref: dict) -> PromptReference | ResourceTemplateReference:
    if ref["type"] == "ref/prompt":
        return PromptReference(type="ref/prompt", name=ref["name"])
    return ResourceTemplateReference(type="ref/resource", uri=ref["uri"])


async def _modern_op(client: Client, op: dict):
    kind = op["op"]
    if kind == "list_prompts":
        return await client.list_prompts()
    if kind == "get_prompt":
        return await client.get_prompt(op["name"], op.get("arguments"))
    if kind == "complete":
        return await client.complete(_ref(op["ref"]), op["argument"], op.get("context"))
    if kind == "list_resources":
        return await client.list_resources()
    if kind == "list_resource_templates":
        return await client.list_resource_templates()
    if kind == "read_resource":
        return await client.read_resource(op["uri"])
    if kind == "call_tool":
        return await client.call_tool(op["name"], op.get("arguments") or {})
    raise ValueError(f"unknown operation {kind!r}")


async def _run_modern(server: hosts.Host, user: str, ops: list[dict]) -> list[dict]:
    results = []
    with anyio.fail_after(TIMEOUT_S):
        async with httpx2.AsyncClient(
            headers={IDENTITY_HEADER: user}, timeout=httpx2.Timeout(30.0, read=60.0)
        ) as http, Client(
            # No response cache: every read must reach the server as `user`.
            streamable_http_client(server.mcp_url, http_client=http), mode=MODERN, cache=None
        ) as client:
            assert client.protocol_version == MODERN
            for op in ops:
                try:
                    result = await _modern_op(client, op)
                except MCPError as e:
                    results.append({"error": {"code": e.code, "message": e.message}})
                else:
                    results.append({"result": _wire(result)})
    return results


def _run_mcp1(server: hosts.Host, user: str, ops: list[dict]) -> list[dict]:
    if not MCP1_PYTHON.is_file():
        pytest.fail(f"no Python with mcp 1.x at {MCP1_PYTHON} (scripts/test.sh makes it)")
    done = subprocess.run(
        [str(MCP1_PYTHON), str(MCP1_CLIENT), server.mcp_url, user, "--ops", json.dumps(ops)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, f"the mcp 1.x client failed:\n{done.stdout}\n{done.stderr}"
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["protocol"] == HANDSHAKE, answer["protocol"]
    return answer["results"]


async def _ops(server: hosts.Host, era: str, user: str, ops: list[dict]) -> list[dict]:
    """Runs `ops` in one session as `user`; one {"result"} or {"error"} each."""
    if era == MODERN:
        return await _run_modern(server, user, ops)
    return await anyio.to_thread.run_sync(lambda: _run_mcp1(server, user, ops))


def _ok(entry: dict) -> dict:
    assert "result" in entry, entry
    return entry["result"]


def _error(entry: dict) -> dict:
    assert "error" in entry, f"expected a JSON-RPC error, got {entry}"
    return entry["error"]


def _get(name: str, arguments: dict[str, str] | None = None) -> dict:
    return {"op": "get_prompt", "name": name, "arguments": arguments or {}}


def _complete_prompt(prompt: str, argument: str, value: str) -> dict:
    return {
        "op": "complete",
        "ref": {"type": "ref/prompt", "name": prompt},
        "argument": {"name": argument, "value": value},
    }


def _read(uri: str) -> dict:
    return {"op": "read_resource", "uri": uri}


def _values(entry: dict) -> list[str]:
    completion = _ok(entry)["completion"]
    assert not completion.get("hasMore"), completion
    return completion["values"]


def _text(prompt: dict) -> str:
    """The instruction: the first message, from the user, as text."""
    first = prompt["messages"][0]
    assert first["role"] == "user", first
    assert first["content"]["type"] == "text", first
    return first["content"]["text"]


def _embedded(prompt: dict) -> dict[str, dict]:
    """The embedded resources of a prompt, by URI."""
    resources = {}
    for message in prompt["messages"][1:]:
        assert message["role"] == "user", message
        assert message["content"]["type"] == "resource", message
        contents = message["content"]["resource"]
        resources[contents["uri"]] = contents
    return resources


def _schema(contents: dict) -> dict:
    assert contents["mimeType"] == SCHEMA_MIME, contents
    return json.loads(contents["text"])


# ---- prompts ------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_five_prompts_are_listed(server: hosts.Host, era: str) -> None:
    [listing] = await _ops(server, era, HEAD_OFFICE, [{"op": "list_prompts"}])
    prompts = {p["name"]: p for p in _ok(listing)["prompts"]}
    assert set(PROMPTS) <= set(prompts), sorted(prompts)
    for name, expected in PROMPTS.items():
        prompt = prompts[name]
        assert len(prompt.get("description", "")) > 30, prompt
        arguments = prompt.get("arguments", [])
        assert {a["name"]: a.get("required", False) for a in arguments} == expected, prompt
        for argument in arguments:
            assert argument.get("description"), (name, argument)


@pytest.mark.anyio
async def test_a_prompt_names_its_arguments_and_embeds_the_schemas(
    server: hosts.Host, era: str
) -> None:
    top, orders = await _ops(
        server,
        era,
        HEAD_OFFICE,
        [
            _get("top_products_by_revenue", {"period": "2025-Q3", "limit": "5"}),
            _read("zava://schema/orders"),
        ],
    )
    top = _ok(top)
    assert "2025-Q3" in top["description"], top["description"]
    text = _text(top)
    # The period is spelled out as dates, the limit as SQL, and the tool named.
    for part in ("2025-Q3", "DATE '2025-07-01'", "DATE '2025-09-30'", "LIMIT 5",
                 "execute_sales_query", "SELECT", "product_name"):
        assert part in text, (part, text)
    embedded = _embedded(top)
    assert {
        "zava://schema/orders", "zava://schema/order_items", "zava://schema/products"
    } <= set(embedded), sorted(embedded)
    # What a prompt embeds is what resources/read returns to the same caller.
    [read] = _ok(orders)["contents"]
    assert _schema(embedded["zava://schema/orders"]) == _schema(read)
    assert _schema(read)["caller_scope"].startswith("head office")


@pytest.mark.anyio
async def test_prompt_values_are_resolved_for_the_caller(server: hosts.Host, era: str) -> None:
    low_stock, comparison = await _ops(
        server,
        era,
        SEATTLE,
        [
            _get("low_stock", {"category": "power tools", "store": "Seattle", "threshold": "3"}),
            _get("store_comparison"),
        ],
    )
    low_stock = _ok(low_stock)
    text = _text(low_stock)
    # Values are resolved to their names (and ids in the SQL).
    for part in ("Power Tools", "Zava Retail Seattle", "stock_level <= 3", "retail.inventory"):
        assert part in text, (part, text)
    embedded = _embedded(low_stock)
    assert "zava://schema/inventory" in embedded, sorted(embedded)
    assert _schema(embedded["zava://schema/inventory"])["caller_scope"].startswith(
        "manager of store_id 1"
    )

    # A store manager may use the comparison, and is told what it will show.
    seattle_text = _text(_ok(comparison))
    assert "Zava Retail Seattle" in seattle_text and "only" in seattle_text, seattle_text
    [head_office] = await _ops(server, era, HEAD_OFFICE, [_get("store_comparison")])
    head_office_text = _text(_ok(head_office))
    assert "every store" in head_office_text, head_office_text
    assert "only head office" not in head_office_text


@pytest.mark.anyio
async def test_bad_prompt_arguments_are_invalid_params(server: hosts.Host, era: str) -> None:
    missing, bad_period, too_many, other_store, no_category, no_prompt = await _ops(
        server,
        era,
        SEATTLE,
        [
            _get("top_products_by_revenue"),
            _get("top_products_by_revenue", {"period": "someday"}),
            _get("top_products_by_revenue", {"period": "2025", "limit": "1000"}),
            _get("low_stock", {"store": "Bellevue"}),
            _get("low_stock", {"category": "Toys"}),
            _get("no_such_prompt"),
        ],
    )
    for entry in (missing, bad_period, too_many, other_store, no_category, no_prompt):
        assert _error(entry)["code"] == INVALID_PARAMS, entry
    assert "period" in _error(missing)["message"]
    # The messages say how to fix the value.
    assert "2025-Q3" in _error(bad_period)["message"]
    assert "limit" in _error(too_many)["message"]
    assert "Zava Retail Seattle" in _error(other_store)["message"]
    assert "Bellevue" in _error(other_store)["message"]
    assert "Power Tools" in _error(no_category)["message"]


# ---- completions ----------------------------------------------------------------


@pytest.mark.anyio
async def test_store_completion_offers_only_the_callers_stores(server: hosts.Host, era: str) -> None:
    ops = [
        _complete_prompt("low_stock", "store", ""),
        _complete_prompt("monthly_revenue_trend", "store", "sea"),
        _complete_prompt("best_selling_categories", "store", "Zava Retail B"),
    ]
    seattle = await _ops(server, era, SEATTLE, ops)
    head_office = await _ops(server, era, HEAD_OFFICE, ops)
    assert _values(seattle[0]) == ["Zava Retail Seattle"]
    assert _values(seattle[1]) == ["Zava Retail Seattle"]
    assert _values(seattle[2]) == []
    assert sorted(_values(head_office[0])) == sorted(STORES)
    assert _values(head_office[1]) == ["Zava Retail Seattle"]
    assert _values(head_office[2]) == ["Zava Retail Bellevue"]


@pytest.mark.anyio
async def test_category_and_table_completion(server: hosts.Host, era: str) -> None:
    everything, p, word, wildcard, tables = await _ops(
        server,
        era,
        SEATTLE,
        [
            _complete_prompt("low_stock", "category", ""),
            _complete_prompt("low_stock", "category", "p"),
            _complete_prompt("low_stock", "category", "OUT"),
            # LIKE wildcards typed by the user match only themselves.
            _complete_prompt("low_stock", "category", "%"),
            {
                "op": "complete",
                "ref": {"type": "ref/resource", "uri": TEMPLATE},
                "argument": {"name": "table", "value": "ord"},
            },
        ],
    )
    assert len(_values(everything)) == 9, _values(everything)
    assert sorted(_values(p)) == ["Paint & Finishes", "Plumbing", "Power Tools"]
    assert _values(word) == ["Garden & Outdoor"]
    assert _values(wildcard) == []
    assert sorted(_values(tables)) == ["order_items", "orders"]


# ---- resources ------------------------------------------------------------------


@pytest.mark.anyio
async def test_resources_and_templates_are_listed(server: hosts.Host, era: str) -> None:
    resources, templates, app = await _ops(
        server,
        era,
        SEATTLE,
        [{"op": "list_resources"}, {"op": "list_resource_templates"}, _read(APP_URI)],
    )
    by_uri = {r["uri"]: r for r in _ok(resources)["resources"]}
    for table in TABLES:
        resource = by_uri.get(f"zava://schema/{table}")
        assert resource is not None, (table, sorted(by_uri))
        assert resource["name"] and resource.get("description"), resource
        assert resource.get("mimeType") == SCHEMA_MIME, resource
    assert by_uri[APP_URI].get("mimeType") == APP_MIME, by_uri[APP_URI]

    [template] = [t for t in _ok(templates)["resourceTemplates"] if t["uriTemplate"] == TEMPLATE]
    assert template["name"] and template.get("description"), template
    assert template.get("mimeType") == SCHEMA_MIME, template

    [page] = _ok(app)["contents"]
    assert page["uri"] == APP_URI and page["mimeType"] == APP_MIME, page
    assert page.get("_meta") == {"ui": {"prefersBorder": True}}, page
    assert page["text"].lstrip().lower().startswith("<!doctype html"), page["text"][:80]


@pytest.mark.anyio
async def test_a_schema_resource_is_scoped_to_its_reader(server: hosts.Host, era: str) -> None:
    ops = [
        _read("zava://schema/orders"),
        {"op": "call_tool", "name": "get_multiple_table_schemas",
         "arguments": {"table_names": ["orders"]}},
    ]
    seen = {}
    for user in (SEATTLE, HEAD_OFFICE):
        read, tool = await _ops(server, era, user, ops)
        [contents] = _ok(read)["contents"]
        assert contents["uri"] == "zava://schema/orders", contents
        document = _schema(contents)
        # The resource is exactly what the tool says to the same caller.
        tool = _ok(tool)
        assert not tool.get("isError"), tool
        assert tool["structuredContent"] == document
        seen[user] = document

    seattle, head_office = seen[SEATTLE], seen[HEAD_OFFICE]
    assert seattle["caller_scope"].startswith("manager of store_id 1"), seattle["caller_scope"]
    assert head_office["caller_scope"] == "head office: sees every store"
    [seattle_orders], [all_orders] = seattle["tables"], head_office["tables"]
    assert seattle_orders["table"] == all_orders["table"] == "retail.orders"
    assert seattle_orders["valid_values"]["store_ids"] == [1]
    assert all_orders["valid_values"]["store_ids"] == list(range(1, 9))
    assert 0 < seattle_orders["visible_rows"] < all_orders["visible_rows"]
    # The structure is the same; only what the caller may see differs.
    assert seattle_orders["columns"] == all_orders["columns"]


@pytest.mark.anyio
async def test_reading_an_unknown_table_is_resource_not_found(
    server: hosts.Host, era: str
) -> None:
    [unknown] = await _ops(server, era, HEAD_OFFICE, [_read("zava://schema/no_such_table")])
    error = _error(unknown)
    assert error["code"] == RESOURCE_NOT_FOUND[era], error
    assert "no_such_table" in error["message"], error
