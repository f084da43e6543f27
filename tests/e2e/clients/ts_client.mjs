// A client we did not write: the official TypeScript SDK
// (@modelcontextprotocol/sdk, installed by the tests into target/e2e/node).
//
//   node ts_client.mjs URL USER_ID SQL
//
// Prints one JSON object: the negotiated protocol version, the tool names
// and the structured result of execute_sales_query with SQL.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, user, sql] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { "x-rls-user-id": user } },
});
const client = new Client({ name: "zava-e2e-ts", version: "1.0.0" });
await client.connect(transport);
const tools = await client.listTools();
const result = await client.callTool({
  name: "execute_sales_query",
  arguments: { postgresql_query: sql },
});
console.log(
  JSON.stringify({
    protocol: transport.protocolVersion ?? null,
    tools: tools.tools.map((t) => t.name).sort(),
    is_error: Boolean(result.isError),
    structured: result.structuredContent ?? null,
  }),
);
await transport.terminateSession().catch(() => {});
await client.close();
