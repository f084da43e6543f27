"""A handshake-era client: the `mcp` Python SDK 1.x (run from its own venv,
target/e2e/venv1; the tests drive it as a subprocess).

    python mcp1_client.py URL USER_ID SQL

Prints one JSON object: the negotiated protocol version, the tool names and
the structured result of `execute_sales_query` with SQL.

    python mcp1_client.py URL USER_ID --ops OPERATIONS_JSON

Runs a JSON list of operations in one session, in order, and prints one JSON
object: {"protocol": ..., "results": [...]}. An operation is an object with
"op" and its parameters:

    {"op": "list_prompts"}
    {"op": "get_prompt", "name": ..., "arguments": {...}}
    {"op": "complete", "ref": {"type": "ref/prompt", "name": ...}
                          | {"type": "ref/resource", "uri": ...},
        "argument": {"name": ..., "value": ...}, "context": {...}}
    {"op": "list_resources"}
    {"op": "list_resource_templates"}
    {"op": "read_resource", "uri": ...}
    {"op": "list_tools"}
    {"op": "call_tool", "name": ..., "arguments": {...}}

Each result is {"result": <the result as it was on the wire: camelCase,
`_meta`>} or, when the server answered with a JSON-RPC error,
{"error": {"code": ..., "message": ...}}: a failing operation does not stop
the ones after it.
"""

import asyncio
import json
import sys

import httpx
from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError


async def main(url: str, user: str, sql: str) -> None:
    async with streamablehttp_client(url, headers={"x-rls-user-id": user}) as (read, write, _):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool("execute_sales_query", {"postgresql_query": sql})
    print(
        json.dumps(
            {
                "protocol": init.protocolVersion,
                "tools": sorted(t.name for t in tools.tools),
                "is_error": bool(result.isError),
                "structured": result.structuredContent,
                "sdk": __import__("mcp").__version__ if hasattr(__import__("mcp"), "__version__") else None,
            }
        )
    )


def _ref(ref: dict) -> types.PromptReference | types.ResourceTemplateReference:
    if ref["type"] == "ref/prompt":
        return types.PromptReference(type="ref/prompt", name=ref["name"])
    return types.ResourceTemplateReference(type="ref/resource", uri=ref["uri"])


async def _run_op(session: ClientSession, op: dict):
    kind = op["op"]
    if kind == "list_prompts":
        return await session.list_prompts()
    if kind == "get_prompt":
        return await session.get_prompt(op["name"], op.get("arguments"))
    if kind == "complete":
        return await session.complete(_ref(op["ref"]), op["argument"], op.get("context"))
    if kind == "list_resources":
        return await session.list_resources()
    if kind == "list_resource_templates":
        return await session.list_resource_templates()
    if kind == "read_resource":
        return await session.read_resource(op["uri"])
    if kind == "list_tools":
        return await session.list_tools()
    if kind == "call_tool":
        return await session.call_tool(op["name"], op.get("arguments") or {})
    raise ValueError(f"unknown operation {kind!r}")


async def run_ops(url: str, user: str, ops: list[dict]) -> None:
    results = []
    async with streamablehttp_client(url, headers={"x-rls-user-id": user}) as (read, write, _):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            for op in ops:
                try:
                    result = await _run_op(session, op)
                except McpError as e:
                    results.append({"error": {"code": e.error.code, "message": e.error.message}})
                else:
                    results.append(
                        {"result": result.model_dump(mode="json", by_alias=True, exclude_none=True)}
                    )
    print(json.dumps({"protocol": init.protocolVersion, "results": results}))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[3] == "--ops":
        asyncio.run(run_ops(sys.argv[1], sys.argv[2], json.loads(sys.argv[4])))
    else:
        asyncio.run(main(*sys.argv[1:4]))
    _ = httpx  # the SDK's own HTTP client; imported to fail early if missing
