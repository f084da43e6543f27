-- Row Level Security whose identity the caller's SQL cannot change or mint.
--
-- The well-known hole: policies that read a plain setting
-- (`current_setting('app.current_rls_user_id')`) believe whatever the query
-- itself sets with `set_config(...)`. Here the setting the policies read,
-- `zava.scope`, is a *token*: the scope plus an HMAC-SHA256 over the scope,
-- the backend pid and the transaction start time. Only `rls.enter` mints
-- tokens, and only for a caller that presents the host's gate secret (whose
-- hash alone is stored). The HMAC key lives in `rls_private`, which the query
-- role cannot read. A query that overwrites `zava.scope` therefore either
-- copies its own token (no gain) or breaks it (an error, no rows); a token
-- from another transaction or connection does not verify.
--
-- Runs as `zava_owner`; the host logs in as `zava_query`, which owns nothing,
-- is a member of nothing and may only SELECT.

CREATE SCHEMA rls;          -- what the query role may call
CREATE SCHEMA rls_private;  -- keys and the manager map: no access for the query role
REVOKE ALL ON SCHEMA rls_private FROM PUBLIC;

-- Who manages which store. Head office sees every store.
CREATE TABLE rls_private.principals (
    user_id     uuid    PRIMARY KEY,
    store_id    integer REFERENCES retail.stores,
    head_office boolean NOT NULL DEFAULT false,
    CHECK (head_office = (store_id IS NULL))
);

-- One row: the hash of the host's gate secret (set by `mcp-host migrate`) and
-- the HMAC key, kept pre-XORed with the HMAC pads (RFC 2104) so that signing
-- needs only the built-in sha256().
CREATE TABLE rls_private.keys (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    gate_hash bytea,
    mac_inner bytea NOT NULL CHECK (length(mac_inner) = 64),
    mac_outer bytea NOT NULL CHECK (length(mac_outer) = 64)
);

DO $$
DECLARE
    -- 64 bytes from gen_random_uuid(), which draws on pg_strong_random().
    k bytea := sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8'))
            || sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8'));
    inner_key bytea := k;
    outer_key bytea := k;
BEGIN
    FOR i IN 0..63 LOOP
        inner_key := set_byte(inner_key, i, get_byte(k, i) # 54);  -- 0x36
        outer_key := set_byte(outer_key, i, get_byte(k, i) # 92);  -- 0x5c
    END LOOP;
    INSERT INTO rls_private.keys (mac_inner, mac_outer) VALUES (inner_key, outer_key);
END
$$;

-- HMAC-SHA256(key, message), hex.
CREATE FUNCTION rls_private.mac(message text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT encode(sha256(k.mac_outer || sha256(k.mac_inner || convert_to(message, 'UTF8'))), 'hex')
    FROM rls_private.keys k
$$;

-- What ties a token to one transaction of one connection.
CREATE FUNCTION rls_private.binding() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_backend_pid()::text || ':'
        || (extract(epoch FROM transaction_timestamp()) * 1000000)::bigint::text
$$;

CREATE FUNCTION rls_private.check_gate(gate_secret text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF gate_secret IS NULL OR NOT EXISTS (
        SELECT 1 FROM rls_private.keys
        WHERE gate_hash = sha256(convert_to(gate_secret, 'UTF8'))
    ) THEN
        RAISE EXCEPTION 'the RLS gate secret does not match this database'
            USING ERRCODE = '28000',
                  HINT = 'run `mcp-host migrate` with the same MCP_RLS_SECRET the server uses';
    END IF;
END
$$;

-- The scope of a user id: 'all' (head office), a store id, or 'none'.
CREATE FUNCTION rls_private.scope_of(user_id uuid) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        (SELECT CASE WHEN p.head_office THEN 'all' ELSE p.store_id::text END
         FROM rls_private.principals p WHERE p.user_id = scope_of.user_id),
        'none')
$$;

-- Called by the host at the start of every caller transaction.
CREATE FUNCTION rls.enter(gate_secret text, user_id uuid) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    scope text;
BEGIN
    PERFORM rls_private.check_gate(gate_secret);
    scope := rls_private.scope_of(user_id);
    PERFORM set_config('zava.scope',
        scope || ':' || rls_private.mac(scope || ':' || rls_private.binding()), true);
    RETURN scope;
END
$$;

-- Lets the host tell a component its caller's scope without opening the map.
CREATE FUNCTION rls.scope_of(gate_secret text, user_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM rls_private.check_gate(gate_secret);
    RETURN rls_private.scope_of(user_id);
END
$$;

-- The store ids this transaction may see. No token: none. A token that does
-- not verify (edited, copied from elsewhere): an error, so tampering is loud.
CREATE FUNCTION rls.visible_stores() RETURNS integer[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    token text := nullif(current_setting('zava.scope', true), '');
    scope text;
BEGIN
    IF token IS NULL THEN
        RETURN '{}';
    END IF;
    scope := split_part(token, ':', 1);
    IF token !~ '^(all|none|[0-9]{1,9}):[0-9a-f]{64}$'
       OR split_part(token, ':', 2) <> rls_private.mac(scope || ':' || rls_private.binding()) THEN
        RAISE EXCEPTION 'the caller identity of this transaction was tampered with'
            USING ERRCODE = '42501';
    END IF;
    IF scope = 'all' THEN
        RETURN ARRAY(SELECT s.store_id FROM retail.stores s ORDER BY 1);
    ELSIF scope = 'none' THEN
        RETURN '{}';
    END IF;
    RETURN ARRAY[scope::integer];
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA rls, rls_private FROM PUBLIC;
GRANT USAGE ON SCHEMA retail, rls TO zava_query;
GRANT EXECUTE ON FUNCTION rls.enter(text, uuid), rls.scope_of(text, uuid), rls.visible_stores()
    TO zava_query;
GRANT SELECT ON ALL TABLES IN SCHEMA retail TO zava_query;

-- Every table: RLS on and forced (the owner too). The owner keeps full access
-- through an explicit policy (it loads the data); the query role gets SELECT
-- policies only; any other role sees nothing.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['stores', 'customers', 'categories', 'product_types', 'products',
                             'inventory', 'orders', 'order_items', 'product_description_embeddings']
    LOOP
        EXECUTE format('ALTER TABLE retail.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE retail.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON retail.%I TO zava_owner USING (true) WITH CHECK (true)', t);
    END LOOP;
END
$$;

-- Shared reference data: everyone identified may read it.
CREATE POLICY shared_read ON retail.stores FOR SELECT TO zava_query USING (true);
CREATE POLICY shared_read ON retail.categories FOR SELECT TO zava_query USING (true);
CREATE POLICY shared_read ON retail.product_types FOR SELECT TO zava_query USING (true);
CREATE POLICY shared_read ON retail.products FOR SELECT TO zava_query USING (true);
CREATE POLICY shared_read ON retail.product_description_embeddings FOR SELECT TO zava_query USING (true);

-- Store-scoped data. `(SELECT rls.visible_stores())` is an InitPlan: the token
-- is verified once per query, not once per row.
CREATE POLICY store_scope ON retail.orders FOR SELECT TO zava_query
    USING (store_id = ANY ((SELECT rls.visible_stores())::integer[]));
CREATE POLICY store_scope ON retail.order_items FOR SELECT TO zava_query
    USING (store_id = ANY ((SELECT rls.visible_stores())::integer[]));
CREATE POLICY store_scope ON retail.inventory FOR SELECT TO zava_query
    USING (store_id = ANY ((SELECT rls.visible_stores())::integer[]));
-- A customer belongs to their primary store, and is also visible to every
-- store where they have ordered.
CREATE POLICY store_scope ON retail.customers FOR SELECT TO zava_query
    USING (primary_store_id = ANY ((SELECT rls.visible_stores())::integer[])
           OR EXISTS (SELECT 1 FROM retail.orders o
                      WHERE o.customer_id = customers.customer_id
                        AND o.store_id = ANY ((SELECT rls.visible_stores())::integer[])));
