"""A handshake-era client: the `mcp` Python SDK 1.x (run from its own venv,
target/e2e/venv1; the tests drive it as a subprocess).

    python mcp1_client.py URL USER_ID SQL

Prints one JSON object: the negotiated protocol version, the tool names and
the structured result of `execute_sales_query` with SQL.
"""

import asyncio
import json
import sys

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


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


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
    _ = httpx  # the SDK's own HTTP client; imported to fail early if missing
