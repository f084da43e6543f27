-- Row Level Security that costs little on big scans (measured by
-- host/benches/sql_query.rs on the full demo set):
--
-- 1. The scope functions were PARALLEL UNSAFE (the default), which kept
--    every query touching a store-scoped table out of parallel plans. They
--    bind the token to pg_backend_pid(), so they must run in the leader:
--    PARALLEL RESTRICTED lets the InitPlan run there and hand its value to
--    the workers.
-- 2. Head office sees every store; `store_id = ANY(all eight)` still cost a
--    comparison per row (~50 % on a count(*) scan). A verified "all" scope
--    now short-circuits the policy instead. Fail-closed as before: a missing
--    token is not "all", and a tampered one is an error.

-- The verified scope of this transaction: 'all', 'none', a store id, or
-- NULL when no scope was entered. Raises when the token does not verify.
CREATE FUNCTION rls_private.verified_scope() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    token text := nullif(current_setting('zava.scope', true), '');
    scope text;
BEGIN
    IF token IS NULL THEN
        RETURN NULL;
    END IF;
    scope := split_part(token, ':', 1);
    IF token !~ '^(all|none|[0-9]{1,9}):[0-9a-f]{64}$'
       OR split_part(token, ':', 2) <> rls_private.mac(scope || ':' || rls_private.binding()) THEN
        RAISE EXCEPTION 'the caller identity of this transaction was tampered with'
            USING ERRCODE = '42501';
    END IF;
    RETURN scope;
END
$$;

CREATE OR REPLACE FUNCTION rls.visible_stores() RETURNS integer[]
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    scope text := rls_private.verified_scope();
BEGIN
    IF scope IS NULL OR scope = 'none' THEN
        RETURN '{}';
    ELSIF scope = 'all' THEN
        RETURN ARRAY(SELECT s.store_id FROM retail.stores s ORDER BY 1);
    END IF;
    RETURN ARRAY[scope::integer];
END
$$;

CREATE FUNCTION rls.sees_all_stores() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(rls_private.verified_scope() = 'all', false)
$$;

REVOKE ALL ON FUNCTION rls_private.verified_scope(), rls.sees_all_stores() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rls.sees_all_stores() TO zava_query;

DROP POLICY store_scope ON retail.orders;
DROP POLICY store_scope ON retail.order_items;
DROP POLICY store_scope ON retail.inventory;
DROP POLICY store_scope ON retail.customers;

CREATE POLICY store_scope ON retail.orders FOR SELECT TO zava_query
    USING ((SELECT rls.sees_all_stores())
           OR store_id = ANY ((SELECT rls.visible_stores())::integer[]));
CREATE POLICY store_scope ON retail.order_items FOR SELECT TO zava_query
    USING ((SELECT rls.sees_all_stores())
           OR store_id = ANY ((SELECT rls.visible_stores())::integer[]));
CREATE POLICY store_scope ON retail.inventory FOR SELECT TO zava_query
    USING ((SELECT rls.sees_all_stores())
           OR store_id = ANY ((SELECT rls.visible_stores())::integer[]));
CREATE POLICY store_scope ON retail.customers FOR SELECT TO zava_query
    USING ((SELECT rls.sees_all_stores())
           OR primary_store_id = ANY ((SELECT rls.visible_stores())::integer[])
           OR EXISTS (SELECT 1 FROM retail.orders o
                      WHERE o.customer_id = customers.customer_id
                        AND o.store_id = ANY ((SELECT rls.visible_stores())::integer[])));
