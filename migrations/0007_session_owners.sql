-- Session rows are written with their owner from now on (the host records
-- it in the same statement that saves the session), looked up per owner,
-- and capped per owner. Rows saved before without an owner can never be
-- restored: they go, as do any whose state is over the 16 KiB the host
-- now stores.

DELETE FROM zava_sessions.sessions
WHERE principal IS NULL OR octet_length(state::text) > 16384;

CREATE INDEX sessions_principal_idx ON zava_sessions.sessions (principal, last_seen);
