-- wrk: one `tools/call` of get_current_utc_date per request, over keep-alive
-- connections. Each request has its own JSON-RPC id (ids must not repeat
-- within a session). Environment:
--   WRK_USER     x-rls-user-id (default head office)
--   WRK_SESSION  Mcp-Session-Id for a handshake-era session; without it,
--                requests are MCP 2026-07-28 (stateless, _meta, headers)
local user = os.getenv("WRK_USER") or "00000000-0000-0000-0000-000000000000"
local session = os.getenv("WRK_SESSION")
if session == "" then
  session = nil
end
local counter = 0
local threads = 0

function setup(thread)
  thread:set("base", threads * 1000000000)
  threads = threads + 1
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
    wrk.headers["mcp-name"] = "get_current_utc_date"
  end
end

local meta = [["_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}]]

function request()
  counter = counter + 1
  local id = (base or 0) + counter
  local params
  if session then
    params = [[{"name":"get_current_utc_date","arguments":{}}]]
  else
    params = [[{"name":"get_current_utc_date","arguments":{},]] .. meta .. "}"
  end
  return wrk.format(nil, nil, nil,
    string.format([[{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":%s}]], id, params))
end

local failed = 0
function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
  end
end
