-- wrk: one `tools/call` per request, over keep-alive connections. Each
-- request has its own JSON-RPC id (ids must not repeat within a session).
-- Environment:
--   WRK_USER     x-rls-user-id (default head office)
--   WRK_SESSION  Mcp-Session-Id for a handshake-era session; without it,
--                requests are MCP 2026-07-28 (stateless, _meta, headers)
--   WRK_TOOL     the tool (default get_current_utc_date)
--   WRK_ARGS     its arguments as a JSON object (default {})
-- At the end it prints "tool errors: N": answers that were not HTTP 200 or
-- whose result was a tool error (`"isError":true`).
local user = os.getenv("WRK_USER") or "00000000-0000-0000-0000-000000000000"
local session = os.getenv("WRK_SESSION")
if session == "" then
  session = nil
end
local tool = os.getenv("WRK_TOOL") or "get_current_utc_date"
if tool == "" then
  tool = "get_current_utc_date"
end
local args = os.getenv("WRK_ARGS") or "{}"
if args == "" then
  args = "{}"
end
local counter = 0
local threads = {}

function setup(thread)
  thread:set("base", #threads * 1000000000)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
  wrk.headers["accept"] = "application/json, text/event-stream"
  wrk.headers["x-rls-user-id"] = user
  if session then
    wrk.headers["mcp-session-id"] = session
    wrk.headers["mcp-protocol-version"] = "2025-11-25"
  else
    wrk.headers["mcp-protocol-version"] = "2026-07-28"
    wrk.headers["mcp-method"] = "tools/call"
    wrk.headers["mcp-name"] = tool
  end
end

local meta = [["_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}]]

function request()
  counter = counter + 1
  local id = (base or 0) + counter
  local params
  local call = string.format([[{"name":"%s","arguments":%s]], tool, args)
  if session then
    params = call .. "}"
  else
    params = call .. "," .. meta .. "}"
  end
  return wrk.format(nil, nil, nil,
    string.format([[{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":%s}]], id, params))
end

-- A global: done() reads each thread's count with thread:get.
failed = 0
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"isError":true', 1, true) then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("failed") or 0)
  end
  io.write(string.format("tool errors: %d\n", total))
end
