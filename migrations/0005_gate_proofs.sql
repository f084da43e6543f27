-- The gate without the secret in the server's log, and what the statement
-- guard needs to know about the database.
--
-- Until now the host sent its gate secret as a bind parameter of every
-- `rls.enter` (and `migrate` sent it to be hashed): wherever parameter logging
-- is on, the secret was in PostgreSQL's log. Now:
-- - `migrate` installs a key derived from the secret as COPY data (never
--   logged) into `rls_private.gate_key_staging`, from where
--   `install_gate_key()` moves it, as HMAC pads, into `rls_private.keys`;
-- - every transaction presents a proof, HMAC(key, purpose:pid:ms:user), that
--   verifies only on this backend, near this moment, for this user;
-- - `rls.enter` refuses to run twice in one transaction, so even a proof
--   copied out of a log cannot change whose rows a running statement sees.

ALTER TABLE rls_private.keys
    ADD COLUMN gate_inner bytea CHECK (length(gate_inner) = 64),
    ADD COLUMN gate_outer bytea CHECK (length(gate_outer) = 64);

DROP FUNCTION rls.enter(text, uuid);
DROP FUNCTION rls.scope_of(text, uuid);
DROP FUNCTION rls_private.check_gate(text);
ALTER TABLE rls_private.keys DROP COLUMN gate_hash;

CREATE TABLE rls_private.gate_key_staging (key bytea NOT NULL);

CREATE FUNCTION rls_private.install_gate_key() RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k bytea;
    n integer;
    inner_key bytea;
    outer_key bytea;
BEGIN
    SELECT count(*), min(key) INTO n, k FROM rls_private.gate_key_staging;
    IF n <> 1 OR length(k) <> 32 THEN
        RAISE EXCEPTION 'expected exactly one 32-byte gate key in the staging table';
    END IF;
    -- HMAC: a key shorter than the block is padded with zeros (RFC 2104).
    k := k || decode(repeat('00', 32), 'hex');
    inner_key := k;
    outer_key := k;
    FOR i IN 0..63 LOOP
        inner_key := set_byte(inner_key, i, get_byte(k, i) # 54);  -- 0x36
        outer_key := set_byte(outer_key, i, get_byte(k, i) # 92);  -- 0x5c
    END LOOP;
    UPDATE rls_private.keys SET gate_inner = inner_key, gate_outer = outer_key;
    DELETE FROM rls_private.gate_key_staging;
END
$$;

-- HMAC-SHA256(gate key, message), hex; NULL while no key is installed.
CREATE FUNCTION rls_private.gate_mac(message text) RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT encode(sha256(k.gate_outer || sha256(k.gate_inner || convert_to(message, 'UTF8'))), 'hex')
    FROM rls_private.keys k
$$;

CREATE FUNCTION rls_private.check_proof(purpose text, proof text, at_ms bigint, user_id uuid)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF proof IS NULL OR at_ms IS NULL OR user_id IS NULL
       OR abs(extract(epoch FROM clock_timestamp()) * 1000 - at_ms) > 120000
       OR proof IS DISTINCT FROM rls_private.gate_mac(
              purpose || ':' || pg_backend_pid() || ':' || at_ms || ':' || user_id) THEN
        RAISE EXCEPTION 'the RLS gate proof does not verify: the server''s gate secret does not match this database, or its clock is more than two minutes off the database''s'
            USING ERRCODE = '28000',
                  HINT = 'run `mcp-host migrate` with the same MCP_RLS_SECRET the server uses';
    END IF;
END
$$;

-- Called by the host at the start of every caller transaction.
CREATE FUNCTION rls.enter(proof text, at_ms bigint, user_id uuid) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    scope text;
BEGIN
    IF nullif(current_setting('zava.scope', true), '') IS NOT NULL THEN
        RAISE EXCEPTION 'the caller of this transaction is already established'
            USING ERRCODE = '42501';
    END IF;
    PERFORM rls_private.check_proof('enter', proof, at_ms, user_id);
    scope := rls_private.scope_of(user_id);
    PERFORM set_config('zava.scope',
        scope || ':' || rls_private.mac(scope || ':' || rls_private.binding()), true);
    RETURN scope;
END
$$;

-- Lets the host tell a component its caller's scope without opening the map.
CREATE FUNCTION rls.scope_of(proof text, at_ms bigint, user_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rls_private.check_proof('scope', proof, at_ms, user_id);
    RETURN rls_private.scope_of(user_id);
END
$$;

-- Every name attribute notation can turn into a call or a cast: PostgreSQL
-- reads `x.f` / `(x).f` as `f(x)` when `f` is not a column, a function `f`
-- if there is one, else a cast to the type `f`. The statement guard refuses
-- such a name when it is not allowlisted. The query role may not read
-- pg_proc or pg_type itself.
CREATE FUNCTION rls.callable_names() RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_agg(DISTINCT name) FROM (
        SELECT proname::text AS name FROM pg_catalog.pg_proc
        UNION ALL
        SELECT typname::text FROM pg_catalog.pg_type
    ) names
$$;

REVOKE ALL ON FUNCTION rls_private.install_gate_key(), rls_private.gate_mac(text),
    rls_private.check_proof(text, text, bigint, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION rls.enter(text, bigint, uuid), rls.scope_of(text, bigint, uuid),
    rls.callable_names() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rls.enter(text, bigint, uuid), rls.scope_of(text, bigint, uuid),
    rls.callable_names() TO zava_query;
