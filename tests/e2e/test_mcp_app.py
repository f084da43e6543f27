"""End to end: the MCP App of `execute_sales_query` in a real browser.

The sales-sql component declares an MCP App for its query tool
(`_meta.ui.resourceUri` = ui://sales-sql/result-view.html, served as
`text/html;profile=mcp-app`). These tests read that page from the real
`mcp-host` binary (started as in test_python_client.py, with the real
`sales_sql.wasm` and the embedded demo database), call the tool, and play
the MCP Apps host in headless Chromium: a test host page embeds the view in
`<iframe sandbox="allow-scripts" srcdoc=…>`, answers `ui/initialize`, and
after `ui/notifications/initialized` sends the tool input and the real
CallToolResult. The tests then read the view's DOM (table, chart marks).

One test needs no server: it feeds the page in the repository a hand-made
result (rows holding markup, exact decimals as text) and checks sorting,
escaping, theming, teardown and errors.

Chromium is the system one (Debian package `chromium`, installed by
scripts/tools.sh), driven by Playwright for Python; nothing downloads a
browser. The tests skip when no chromium binary is found. Screenshots go
to target/e2e/screenshots/.
"""

from __future__ import annotations

import base64
import html
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

import hosts
from hosts import HEAD_OFFICE, IDENTITY_HEADER, REPO, SEATTLE

APP_URI = "ui://sales-sql/result-view.html"
APP_MIME = "text/html;profile=mcp-app"
APP_FILE = REPO / "components/sales-sql/app/result-view.html"
UI_EXTENSION = "io.modelcontextprotocol/ui"
TOOL = "execute_sales_query"
SCREENSHOTS = REPO / "target/e2e/screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SESSION_TIMEOUT_S = 30.0
VIEW_TIMEOUT_MS = 10_000

REVENUE_BY_STORE = (
    "SELECT s.store_name, SUM(oi.total_amount) AS revenue "
    "FROM retail.order_items oi JOIN retail.stores s ON s.store_id = oi.store_id "
    "GROUP BY s.store_name ORDER BY revenue DESC"
)
MONTHLY_REVENUE = (
    "SELECT date_trunc('month', o.order_date)::date AS month, SUM(oi.total_amount) AS revenue "
    "FROM retail.orders o JOIN retail.order_items oi "
    "ON oi.order_id = o.order_id AND oi.store_id = o.store_id "
    "GROUP BY 1 ORDER BY 1"
)
STORE_NAMES = "SELECT store_name FROM retail.stores"


# ---- the server and what it answers ------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[hosts.Host]:
    root = tmp_path_factory.mktemp("mcp-host")
    components = hosts.components_folder(root, ("sales_sql.wasm",))
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


@asynccontextmanager
async def _session(server: hosts.Host, user_id: str) -> AsyncIterator[ClientSession]:
    """An initialised SDK session as `user_id`, advertising MCP Apps support."""
    headers = {IDENTITY_HEADER: user_id}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=60.0)) as http:
        async with streamable_http_client(server.mcp_url, http_client=http) as (read, write):
            async with ClientSession(
                read, write, extensions={UI_EXTENSION: {"mimeTypes": [APP_MIME]}}
            ) as session:
                await session.initialize()
                yield session


def _wire(model: Any) -> dict:
    """A result as it was on the wire (camelCase, `_meta`)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _run(server: hosts.Host, user_id: str, work) -> Any:
    """`work(session)` in a session as `user_id`, on a thread of its own:
    Playwright's sync API keeps an event loop running on this one."""

    async def main():
        with anyio.fail_after(SESSION_TIMEOUT_S):
            async with _session(server, user_id) as session:
                return await work(session)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, main).result()


def _call(server: hosts.Host, user_id: str, sql: str) -> tuple[dict, dict]:
    """(arguments, CallToolResult as JSON) of one `execute_sales_query`."""
    arguments = {"postgresql_query": sql}

    async def work(session: ClientSession) -> dict:
        return _wire(await session.call_tool(TOOL, arguments))

    result = _run(server, user_id, work)
    assert not result.get("isError"), result
    assert "structuredContent" in result, result
    return arguments, result


@pytest.fixture(scope="module")
def app_html(server: hosts.Host) -> str:
    """The view as the server serves it."""

    async def work(session: ClientSession) -> dict:
        return _wire(await session.read_resource(APP_URI))

    read = _run(server, HEAD_OFFICE, work)
    contents = read["contents"]
    assert len(contents) == 1, read
    assert contents[0]["uri"] == APP_URI
    assert contents[0]["mimeType"] == APP_MIME
    if "text" in contents[0]:
        return contents[0]["text"]
    return base64.b64decode(contents[0]["blob"]).decode()


def test_the_app_resource_is_served(server: hosts.Host, app_html: str) -> None:
    assert app_html.lstrip().lower().startswith("<!doctype html>")
    assert app_html == APP_FILE.read_text(), "the served page is not the repository's"

    async def work(session: ClientSession) -> list[dict]:
        return [_wire(r) for r in (await session.list_resources()).resources]

    # Listing a UI-only resource is optional (MCP Apps), but if listed, as an app.
    listed = [r for r in _run(server, HEAD_OFFICE, work) if r["uri"] == APP_URI]
    assert all(r.get("mimeType") == APP_MIME for r in listed), listed


def test_the_tool_declares_the_app(server: hosts.Host) -> None:
    async def work(session: ClientSession) -> list[dict]:
        return [_wire(tool) for tool in (await session.list_tools()).tools]

    tools = {tool["name"]: tool for tool in _run(server, HEAD_OFFICE, work)}
    assert TOOL in tools, sorted(tools)
    meta = tools[TOOL].get("_meta") or {}
    assert meta.get("ui", {}).get("resourceUri") == APP_URI, tools[TOOL]


# ---- the browser and the test host page ---------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 820, "height": 700})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.js_errors = errors
    try:
        yield page
    finally:
        context.close()


_HOST_SCRIPT = """
window.hostLog = [];  // every message the view sent us
const frame = () => document.getElementById("app");
const post = (message) =>
  frame().contentWindow.postMessage(Object.assign({ jsonrpc: "2.0" }, message), "*");
window.hostNotify = (method, params) => post({ method, params });
let nextId = 1000;
const waiting = new Map();
window.hostRequest = (method, params) => new Promise((resolve, reject) => {
  const id = nextId++;
  waiting.set(id, { resolve, reject });
  post({ id, method, params });
});
window.addEventListener("message", (event) => {
  if (event.source !== frame().contentWindow) return;
  const m = event.data;
  window.hostLog.push(m);
  if (m.method === undefined) {
    const w = waiting.get(m.id);
    if (w) { waiting.delete(m.id); m.error ? w.reject(m.error) : w.resolve(m.result); }
  } else if (m.method === "ui/initialize") {
    post({ id: m.id, result: {
      protocolVersion: "2026-01-26",
      hostInfo: { name: "zava-e2e-host", version: "0" },
      hostCapabilities: {},
      hostContext: { theme: CONFIG.theme, displayMode: "inline" },
    } });
  } else if (m.method === "ui/notifications/initialized") {
    window.hostNotify("ui/notifications/tool-input", { arguments: CONFIG.arguments });
    window.hostNotify("ui/notifications/tool-result", CONFIG.result);
  } else if (m.method === "ui/notifications/size-changed") {
    if (m.params && m.params.height > 0) frame().style.height = m.params.height + "px";
  } else if (m.id !== undefined) {
    post({ id: m.id, result: {} });
  }
});
"""


def host_page(folder: Path, app: str, arguments: dict, result: dict, theme: str = "light") -> Path:
    """A minimal MCP Apps host page embedding `app`, written into `folder`."""
    config = json.dumps({"arguments": arguments, "result": result, "theme": theme})
    config = config.replace("</", "<\\/")  # stays inside its <script>
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>MCP Apps test host</title>
<script>const CONFIG = {config};{_HOST_SCRIPT}</script>
</head>
<body style="margin:0;padding:12px;background:#8a8f98">
<iframe id="app" sandbox="allow-scripts" title="execute_sales_query"
  style="display:block;width:760px;height:120px;border:0;background:#fff"
  srcdoc="{html.escape(app, quote=True)}"></iframe>
</body></html>
"""
    path = folder / "host.html"
    path.write_text(page)
    return path


def open_view(page: Any, path: Path) -> Any:
    """Loads the host page; the view's frame once it rendered a result or an error."""
    page.goto(path.as_uri())
    view = page.frame_locator("iframe#app")
    view.locator("table#result tbody tr, #error:not([hidden])").first.wait_for(
        timeout=VIEW_TIMEOUT_MS
    )
    return view


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.wait_for_timeout(150)  # one more frame for size-changed
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def table_rows(view: Any) -> list[list[str]]:
    return view.locator("table#result tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )


def marks(view: Any, selector: str) -> list[list[str]]:
    return view.locator(selector).evaluate_all(
        "els => els.map(e => [e.getAttribute('data-label'), e.getAttribute('data-value')])"
    )


def as_text(value: Any) -> str:
    """A cell as the view shows it (JSON scalars; no floats in these results)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


# ---- the real server's results in the view -------------------------------------


def test_revenue_by_store_as_a_table_and_bars(
    server: hosts.Host, app_html: str, page: Any, tmp_path: Path
) -> None:
    arguments, result = _call(server, HEAD_OFFICE, REVENUE_BY_STORE)
    _, stores = _call(server, HEAD_OFFICE, STORE_NAMES)
    structured = result["structuredContent"]
    assert structured["columns"] == ["store_name", "revenue"]
    assert len(structured["rows"]) == 8, structured
    store_names = sorted(row[0] for row in stores["structuredContent"]["rows"])

    view = open_view(page, host_page(tmp_path, app_html, arguments, result))

    assert view.locator("#sql").text_content() == REVENUE_BY_STORE
    assert view.locator("table#result thead th").all_text_contents() == ["store_name", "revenue"]
    expected = [[as_text(v) for v in row] for row in structured["rows"]]
    assert table_rows(view) == expected

    assert view.locator("#chart").get_attribute("data-chart") == "bar"
    bars = marks(view, "#chart rect.bar")
    assert len(bars) == 8, bars
    assert bars == [[name, revenue] for name, revenue in structured["rows"]]
    assert sorted(label for label, _ in bars) == store_names
    assert view.locator("#summary").text_content() == "8 rows"
    assert structured["scope"] == "head-office"
    assert view.locator("#scope").text_content() == "Scope: Head office: all stores"
    screenshot(page, "sales-sql-revenue-by-store")
    assert not page.js_errors, page.js_errors


def test_store_manager_sees_one_bar(
    server: hosts.Host, app_html: str, page: Any, tmp_path: Path
) -> None:
    arguments, result = _call(server, SEATTLE, REVENUE_BY_STORE)
    rows = result["structuredContent"]["rows"]
    assert len(rows) == 1, rows

    view = open_view(page, host_page(tmp_path, app_html, arguments, result, theme="dark"))

    assert marks(view, "#chart rect.bar") == [[rows[0][0], rows[0][1]]]
    assert view.locator("html").get_attribute("data-theme") == "dark"
    assert result["structuredContent"]["scope"] == "store:1"
    assert view.locator("#scope").text_content() == "Scope: Store 1 only"
    screenshot(page, "sales-sql-seattle-dark")
    assert not page.js_errors, page.js_errors


def test_monthly_revenue_as_a_line(
    server: hosts.Host, app_html: str, page: Any, tmp_path: Path
) -> None:
    arguments, result = _call(server, HEAD_OFFICE, MONTHLY_REVENUE)
    structured = result["structuredContent"]
    assert structured["columns"] == ["month", "revenue"]
    assert structured["column_types"][0] == "date", structured["column_types"]
    rows = structured["rows"]
    assert len(rows) >= 2, rows

    view = open_view(page, host_page(tmp_path, app_html, arguments, result))

    assert table_rows(view) == [[as_text(v) for v in row] for row in rows]
    assert view.locator("#chart").get_attribute("data-chart") == "line"
    assert view.locator("#chart path.line").count() == 1
    points = marks(view, "#chart circle.point")
    assert points == sorted([month, revenue] for month, revenue in rows)
    assert view.locator("#chart rect.bar").count() == 0
    screenshot(page, "sales-sql-monthly-revenue")
    assert not page.js_errors, page.js_errors


# ---- the page in the repository, with a hand-made result -------------------------

EVIL = '<img src=x onerror="document.title=\'pwned\'">Evil & Co</td>'
RECORDED_RESULT = {
    "content": [{"type": "text", "text": "(the same rows as JSON)"}],
    "structuredContent": {
        "columns": ["store_name", "store_id", "revenue", "orders"],
        "column_types": ["text", "int4", "numeric", "int8"],
        "rows": [
            ["Zava Retail Seattle", 1, "1234.50", 12],
            [EVIL, 2, "99.99", 3],
            ["Zava Retail Online", 3, "100000.00", 250],
            ["Zava Retail Tacoma", 4, "-5.25", 1],
            [None, 5, None, 0],
        ],
        "row_count": 5,
        "truncated": False,
        "scope": "store:1",
    },
}


def _column(view: Any, index: int) -> list[str]:
    return [row[index] for row in table_rows(view)]


def test_view_with_a_recorded_result(page: Any, tmp_path: Path) -> None:
    arguments = {"postgresql_query": "SELECT 1 -- <b>not bold</b>"}
    view = open_view(page, host_page(tmp_path, APP_FILE.read_text(), arguments, RECORDED_RESULT))
    frame = page.frames[1]

    # The handshake, as the host saw it.
    log = page.evaluate("window.hostLog")
    init = log[0]
    assert init["method"] == "ui/initialize" and init["params"]["protocolVersion"] == "2026-01-26"
    assert init["params"]["appInfo"]["name"] and "appCapabilities" in init["params"]
    assert log[1]["method"] == "ui/notifications/initialized", log
    page.wait_for_function(
        "window.hostLog.some(m => m.method === 'ui/notifications/size-changed'"
        " && m.params.height > 200)",
        timeout=VIEW_TIMEOUT_MS,
    )

    # Data is text: markup in rows and SQL stays text.
    assert view.locator("#sql").text_content() == arguments["postgresql_query"]
    assert view.locator("img, b").count() == 0
    assert _column(view, 0)[1] == EVIL
    assert page.title() == "MCP Apps test host"
    assert view.locator("#scope").text_content() == "Scope: Store 1 only"

    # Bars by the text column, valued by the first numeric non-id column;
    # the row without a value has a label and no bar.
    assert view.locator("#chart").get_attribute("data-chart") == "bar"
    assert marks(view, "#chart rect.bar") == [
        ["Zava Retail Seattle", "1234.50"],
        [EVIL, "99.99"],
        ["Zava Retail Online", "100000.00"],
        ["Zava Retail Tacoma", "-5.25"],
    ]
    assert view.locator("#chart .bar-label").count() == 5
    view.locator("#measure").select_option(label="orders")
    assert [v for _, v in marks(view, "#chart rect.bar")] == ["12", "3", "250", "1", "0"]

    # Sorting is numeric for decimals sent as text; nulls stay last.
    header = view.locator("table#result th[data-column='revenue']")
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert _column(view, 2) == ["-5.25", "99.99", "1234.50", "100000.00", "NULL"]
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert _column(view, 2) == ["100000.00", "1234.50", "99.99", "-5.25", "NULL"]
    view.locator("table#result th[data-column='store_name'] button").click()
    assert _column(view, 0)[:3] == [EVIL, "Zava Retail Online", "Zava Retail Seattle"]
    screenshot(page, "sales-sql-recorded-light")

    # Host context, a forged message from elsewhere, teardown.
    page.evaluate("hostNotify('ui/notifications/host-context-changed', {theme: 'dark'})")
    view.locator("html[data-theme='dark']").wait_for(timeout=VIEW_TIMEOUT_MS)
    frame.evaluate(
        "window.postMessage({jsonrpc: '2.0', method: 'ui/notifications/tool-result',"
        " params: {isError: true, content: [{type: 'text', text: 'forged'}]}}, '*')"
    )
    page.wait_for_timeout(100)
    assert view.locator("#error").is_hidden()
    assert page.evaluate("hostRequest('ui/resource-teardown', {})") == {}
    assert page.evaluate("hostRequest('ping', {})") == {}
    unknown = page.evaluate("hostRequest('no/such-method', {}).catch(e => e)")
    assert unknown["code"] == -32601, unknown
    screenshot(page, "sales-sql-recorded-dark")
    assert not page.js_errors, page.js_errors


def test_view_with_a_timestamp_series_per_store(page: Any, tmp_path: Path) -> None:
    result = {
        "content": [{"type": "text", "text": "..."}],
        "structuredContent": {
            "columns": ["month", "store_name", "revenue"],
            "column_types": ["timestamptz", "text", "numeric"],
            "rows": [
                ["2025-02-01T00:00:00Z", "Seattle", "20.00"],
                ["2025-01-01T00:00:00Z", "Seattle", "10.00"],
                ["2025-01-01T00:00:00Z", "Bellevue", "5.50"],
                ["2025-03-01T00:00:00Z", "Seattle", "15.25"],
                ["2025-02-01T00:00:00Z", "Bellevue", "7.00"],
            ],
            "row_count": 5,
            "truncated": True,
        },
    }
    view = open_view(page, host_page(tmp_path, APP_FILE.read_text(), {}, result))
    assert view.locator("#chart").get_attribute("data-chart") == "line"
    lines = view.locator("#chart path.line")
    assert lines.evaluate_all("ls => ls.map(l => l.dataset.series)") == ["Seattle", "Bellevue"]
    seattle = marks(view, "#chart circle.point[data-series='Seattle']")
    assert seattle == [
        ["2025-01-01T00:00:00Z", "10.00"],
        ["2025-02-01T00:00:00Z", "20.00"],
        ["2025-03-01T00:00:00Z", "15.25"],
    ]
    assert view.locator("#chart circle.point").count() == 5
    assert view.locator("#legend").is_visible()
    assert "more rows matched" in view.locator("#summary").text_content()
    assert view.locator("#scope").is_hidden()
    screenshot(page, "sales-sql-recorded-series")
    assert not page.js_errors, page.js_errors


def test_view_shows_a_tool_error(page: Any, tmp_path: Path) -> None:
    result = {
        "content": [{"type": "text", "text": "The query was rejected: <only SELECT>"}],
        "isError": True,
    }
    view = open_view(page, host_page(tmp_path, APP_FILE.read_text(), {"postgresql_query": "DROP"}, result))
    assert view.locator("#error").text_content() == "The query was rejected: <only SELECT>"
    assert view.locator("#table-wrap").is_hidden()
    assert view.locator("#chart-panel").is_hidden()
    assert not page.js_errors, page.js_errors
