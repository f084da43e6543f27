"""WIT 0.2 components over the stateless 2026-07-28 revision, with the
`mcp` 2.x Python SDK: a prompt-only component dropped in is announced on a
`subscriptions/listen` stream and served at once; log lines reach a request
only when it names a log level (that revision's rule), progress only when
it carries a token — both on that request's own stream, never on another
client's.

Runs without a database (`--no-database`): the fixtures need none.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

import hosts
from hosts import HEAD_OFFICE, IDENTITY_HEADER

TIMEOUT_S = 60.0


@dataclass
class Server:
    host: hosts.Host
    components: Path

    @property
    def url(self) -> str:
        return self.host.mcp_url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("offers2026")
    components = hosts.components_folder(root, ("get_current_utc_date.wasm", "conformance.wasm"))
    args = [
        "--components", str(components),
        "--cache-dir", str(root / "cache"),
        "--no-database",
        "--embeddings", "none",
        "--poll-interval", "200ms",
    ]
    with hosts.running(args, root / "host.log") as host:
        yield Server(host, components)


def _http() -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        headers={IDENTITY_HEADER: HEAD_OFFICE}, timeout=httpx2.Timeout(30.0, read=120.0)
    )


@pytest.mark.anyio
async def test_a_prompt_only_component_is_announced_on_a_listen_stream(server: Server) -> None:
    with anyio.fail_after(TIMEOUT_S):
        async with _http() as http, Client(
            streamable_http_client(server.url, http_client=http), mode="2026-07-28"
        ) as client:
            before = {p.name for p in (await client.list_prompts()).prompts}
            assert "swap_prompt" not in before
            async with client.listen(
                prompts_list_changed=True, resources_list_changed=True
            ) as subscription:
                assert subscription.honored.prompts_list_changed
                staged = server.components / ".prompts_only.wasm.tmp"
                shutil.copy(hosts.FIXTURES_DIR / "prompts_only.wasm", staged)
                staged.rename(server.components / "prompts_only.wasm")
                async for _event in subscription:
                    break
            after = {p.name for p in (await client.list_prompts()).prompts}
            assert after == before | {"swap_prompt"}, after
            prompt = await client.get_prompt("swap_prompt", {"topic": "paint"})
            assert prompt.messages[0].content.text.endswith("tell me about paint.")
            completion = await client.complete(
                {"type": "ref/prompt", "name": "swap_prompt"}, {"name": "topic", "value": "p"}
            )
            assert completion.completion.values == ["paint", "power tools", "plumbing"]


@pytest.mark.anyio
async def test_log_lines_and_progress_follow_the_request_that_asked(server: Server) -> None:
    heard: list[tuple[str, object]] = []
    progress: list[float] = []
    bystander_heard: list[object] = []

    async def on_log(params) -> None:
        heard.append((params.level, params.data))

    async def on_bystander_log(params) -> None:
        bystander_heard.append(params)

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    with anyio.fail_after(TIMEOUT_S):
        async with _http() as http, _http() as other_http, Client(
            streamable_http_client(server.url, http_client=http),
            mode="2026-07-28",
            logging_callback=on_log,
            log_level="debug",
        ) as client, Client(
            streamable_http_client(server.url, http_client=other_http),
            mode="2026-07-28",
            logging_callback=on_bystander_log,
        ) as bystander:
            result = await client.call_tool("test_tool_with_logging", {})
            assert not result.is_error, result
            assert [data for _, data in heard] == [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed",
            ], heard
            assert {level for level, _ in heard} == {"info"}

            result = await client.call_tool(
                "test_tool_with_progress", {}, progress_callback=on_progress
            )
            assert not result.is_error, result
            assert progress == [0.0, 50.0, 100.0], progress

            # A request that names no log level gets no log lines (2026-07-28).
            result = await bystander.call_tool("test_tool_with_logging", {})
            assert not result.is_error, result
            await anyio.sleep(0.3)
            assert bystander_heard == [], bystander_heard
            assert len(heard) == 3, heard
