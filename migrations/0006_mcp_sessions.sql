-- Handshake-era MCP sessions (`initialize`, `Mcp-Session-Id`), shared by
-- every replica of the server, so that a request may land on any of them.
--
-- Written and read by the host's own login `zava_sessions` (created by
-- `mcp-host migrate`, its password derived from the gate secret); the query
-- role cannot read or write anything here, and `zava_sessions` can reach
-- nothing else.
--
-- A session's id is a bearer credential: only its SHA-256 is kept. The row
-- holds what rmcp needs to restore the session on another replica (the
-- client's `initialize` parameters) and the principal that opened it, which
-- every replica checks before serving a request in that session.

CREATE SCHEMA zava_sessions;
REVOKE ALL ON SCHEMA zava_sessions FROM PUBLIC;

CREATE TABLE zava_sessions.sessions (
    id_sha256  bytea       PRIMARY KEY CHECK (length(id_sha256) = 32),
    principal  text        CHECK (length(principal) <= 512),
    state      jsonb       NOT NULL CHECK (octet_length(state::text) <= 65536),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_last_seen_idx ON zava_sessions.sessions (last_seen);

GRANT USAGE ON SCHEMA zava_sessions TO zava_sessions;
GRANT SELECT, INSERT, UPDATE, DELETE ON zava_sessions.sessions TO zava_sessions;
