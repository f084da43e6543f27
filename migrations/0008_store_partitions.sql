-- Row Level Security at the speed of the rows a caller may see.
--
-- Measured before this (BENCHMARKS.md): head office ran 5-15 % slower than
-- a superuser on the same SQL, and a store manager who sees one store in
-- eight paid for nearly all of them — the policy was a filter evaluated on
-- every row of every store. Now:
--
-- 1. Head office is served on a login of its own, `zava_hq` (created by
--    `mcp-host migrate` beside `zava_query`: the same grants, no membership
--    in anything, its password derived from the gate secret). Its policies
--    are `USING (true)`, so its plans are a superuser's, with no filter and
--    no extra node per row (a one-time-filter policy still cost ~6 %: a
--    gating node per partition). The check is once per transaction instead:
--    `rls.enter`, which the host runs before any caller SQL, refuses on this
--    login every caller who is not head office, and the statement guard
--    lets caller SQL do nothing but read. Caller SQL cannot move between
--    logins.
-- 2. `orders`, `order_items` and `inventory` are LIST-partitioned by
--    `store_id`, one partition per store (made by a trigger when a store is
--    added). The store manager's policy is `store_id = (SELECT
--    rls.current_store())`: a scalar InitPlan, which PostgreSQL uses to skip
--    every other store's partition when the query starts (`= ANY(array)`
--    would not prune). Head office's token on `zava_query` sees nothing
--    (the host then moves the call to `zava_hq`).
-- 3. Customers stay one table (a customer belongs to a primary store and is
--    seen by every store they ordered at); the "ordered here" half of their
--    policy is a hashed sub-plan over the store's own orders partition,
--    built once per query instead of one probe per customer.
--
-- Every table keeps its name and columns; keys of partitioned tables must
-- include `store_id`, so `orders` and `order_items` now have composite
-- primary keys (ids stay unique: they come from one identity each).
-- Existing rows move into the new layout inside this migration's
-- transaction.

-- The verified store of this transaction: its id for a store manager, NULL
-- for head office, 'none' and no scope. Raises on a tampered token.
-- Establishing the caller (0005), now also refusing anyone but head office
-- on head office's login. SQLSTATE ZV001 tells the host to use the other
-- login.
CREATE OR REPLACE FUNCTION rls.enter(proof text, at_ms bigint, user_id uuid) RETURNS text
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
    IF session_user = 'zava_hq' AND scope <> 'all' THEN
        RAISE EXCEPTION 'only head office is served on the zava_hq login'
            USING ERRCODE = 'ZV001';
    END IF;
    PERFORM set_config('zava.scope',
        scope || ':' || rls_private.mac(scope || ':' || rls_private.binding()), true);
    RETURN scope;
END
$$;

CREATE FUNCTION rls.current_store() RETURNS integer
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    scope text := rls_private.verified_scope();
BEGIN
    IF scope ~ '^[0-9]{1,9}$' THEN
        RETURN scope::integer;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION rls.current_store() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rls.current_store() TO zava_query;
-- Head office's login needs nothing but to establish its caller; `migrate`
-- grants it the retail tables' columns after the migrations, as for
-- zava_query.
GRANT EXECUTE ON FUNCTION rls.enter(text, bigint, uuid) TO zava_hq;
GRANT USAGE ON SCHEMA retail, rls TO zava_hq;

-- One partition per store of each store-scoped table, for stores that have
-- none yet. Runs as the tables' owner whoever adds the store.
CREATE FUNCTION retail.ensure_store_partitions() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
    s integer;
    part text;
BEGIN
    FOREACH t IN ARRAY ARRAY['orders', 'order_items', 'inventory'] LOOP
        FOR s IN SELECT store_id FROM retail.stores ORDER BY store_id LOOP
            part := format('%s_store_%s', t, s);
            IF to_regclass(format('retail.%I', part)) IS NULL THEN
                EXECUTE format('CREATE TABLE retail.%I PARTITION OF retail.%I FOR VALUES IN (%s)',
                               part, t, s);
                -- Reached only through the parent, whose policies apply; read
                -- directly, a partition shows nobody anything.
                EXECUTE format('ALTER TABLE retail.%I ENABLE ROW LEVEL SECURITY', part);
                EXECUTE format('ALTER TABLE retail.%I FORCE ROW LEVEL SECURITY', part);
                EXECUTE format('CREATE POLICY owner_all ON retail.%I TO zava_owner USING (true) WITH CHECK (true)', part);
                EXECUTE format('REVOKE ALL ON retail.%I FROM zava_query, zava_hq', part);
            END IF;
        END LOOP;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION retail.ensure_store_partitions() FROM PUBLIC;

CREATE FUNCTION retail.stores_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM retail.ensure_store_partitions();
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION retail.stores_added() FROM PUBLIC;

-- The old tables make way; their rows are copied below.
ALTER TABLE retail.order_items RENAME TO order_items_before_partitioning;
ALTER TABLE retail.orders RENAME TO orders_before_partitioning;
ALTER TABLE retail.inventory RENAME TO inventory_before_partitioning;

CREATE TABLE retail.orders (
    order_id    integer GENERATED BY DEFAULT AS IDENTITY,
    customer_id integer NOT NULL REFERENCES retail.customers,
    store_id    integer NOT NULL REFERENCES retail.stores,
    order_date  date    NOT NULL,
    PRIMARY KEY (order_id, store_id)
) PARTITION BY LIST (store_id);

CREATE TABLE retail.order_items (
    order_item_id    integer GENERATED BY DEFAULT AS IDENTITY,
    order_id         integer       NOT NULL,
    store_id         integer       NOT NULL REFERENCES retail.stores,
    product_id       integer       NOT NULL REFERENCES retail.products,
    quantity         integer       NOT NULL CHECK (quantity > 0),
    unit_price       numeric(10,2) NOT NULL,
    discount_percent integer       NOT NULL DEFAULT 0 CHECK (discount_percent BETWEEN 0 AND 100),
    discount_amount  numeric(10,2) NOT NULL DEFAULT 0,
    total_amount     numeric(10,2) NOT NULL,
    PRIMARY KEY (order_item_id, store_id),
    FOREIGN KEY (order_id, store_id) REFERENCES retail.orders (order_id, store_id)
) PARTITION BY LIST (store_id);

CREATE TABLE retail.inventory (
    store_id    integer NOT NULL REFERENCES retail.stores,
    product_id  integer NOT NULL REFERENCES retail.products,
    stock_level integer NOT NULL CHECK (stock_level >= 0),
    PRIMARY KEY (store_id, product_id)
) PARTITION BY LIST (store_id);

-- Rows of a store without a partition (none, while the trigger works).
CREATE TABLE retail.orders_other PARTITION OF retail.orders DEFAULT;
CREATE TABLE retail.order_items_other PARTITION OF retail.order_items DEFAULT;
CREATE TABLE retail.inventory_other PARTITION OF retail.inventory DEFAULT;
DO $$
DECLARE
    part text;
BEGIN
    FOREACH part IN ARRAY ARRAY['orders_other', 'order_items_other', 'inventory_other'] LOOP
        EXECUTE format('ALTER TABLE retail.%I ENABLE ROW LEVEL SECURITY', part);
        EXECUTE format('ALTER TABLE retail.%I FORCE ROW LEVEL SECURITY', part);
        EXECUTE format('CREATE POLICY owner_all ON retail.%I TO zava_owner USING (true) WITH CHECK (true)', part);
        EXECUTE format('REVOKE ALL ON retail.%I FROM zava_query, zava_hq', part);
    END LOOP;
END
$$;
SELECT retail.ensure_store_partitions();
CREATE TRIGGER stores_added AFTER INSERT ON retail.stores
    FOR EACH STATEMENT EXECUTE FUNCTION retail.stores_added();

INSERT INTO retail.orders (order_id, customer_id, store_id, order_date)
    SELECT order_id, customer_id, store_id, order_date FROM retail.orders_before_partitioning;
INSERT INTO retail.order_items (order_item_id, order_id, store_id, product_id, quantity,
                                unit_price, discount_percent, discount_amount, total_amount)
    SELECT order_item_id, order_id, store_id, product_id, quantity,
           unit_price, discount_percent, discount_amount, total_amount
    FROM retail.order_items_before_partitioning;
INSERT INTO retail.inventory (store_id, product_id, stock_level)
    SELECT store_id, product_id, stock_level FROM retail.inventory_before_partitioning;
-- New ids continue where the old identities were.
DO $$
DECLARE
    t record;
    last bigint;
    called boolean;
BEGIN
    FOR t IN VALUES ('orders', 'order_id'), ('order_items', 'order_item_id') LOOP
        EXECUTE format('SELECT last_value, is_called FROM %s',
                       pg_get_serial_sequence(format('retail.%I', t.column1 || '_before_partitioning'),
                                              t.column2))
            INTO last, called;
        PERFORM setval(pg_get_serial_sequence(format('retail.%I', t.column1), t.column2), last, called);
    END LOOP;
END
$$;

-- The customers policy reads orders: it goes with the old table.
DROP POLICY store_scope ON retail.customers;
DROP TABLE retail.order_items_before_partitioning;
DROP TABLE retail.orders_before_partitioning;
DROP TABLE retail.inventory_before_partitioning;
-- The identities' sequences take back their old names.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN VALUES ('orders', 'order_id'), ('order_items', 'order_item_id') LOOP
        EXECUTE format('ALTER SEQUENCE %s RENAME TO %I',
                       pg_get_serial_sequence(format('retail.%I', t.column1), t.column2),
                       t.column1 || '_' || t.column2 || '_seq');
    END LOOP;
END
$$;

-- The same indexes as before (names included), now one per partition.
CREATE INDEX orders_store_date_idx ON retail.orders (store_id, order_date);
CREATE INDEX orders_customer_store_idx ON retail.orders (customer_id, store_id);
CREATE INDEX orders_date_idx ON retail.orders (order_date);
CREATE INDEX order_items_order_idx ON retail.order_items (order_id);
CREATE INDEX order_items_store_product_idx ON retail.order_items (store_id, product_id);
CREATE INDEX order_items_product_idx ON retail.order_items (product_id);
CREATE INDEX inventory_product_idx ON retail.inventory (product_id);

COMMENT ON TABLE retail.orders IS 'One row per order (basket); store_id is where it was placed';
COMMENT ON TABLE retail.order_items IS 'Order lines; total_amount = quantity * unit_price - discount_amount';

-- Policies. The owner loads data; the query roles only read.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['orders', 'order_items', 'inventory'] LOOP
        EXECUTE format('ALTER TABLE retail.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE retail.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON retail.%I TO zava_owner USING (true) WITH CHECK (true)', t);
        EXECUTE format('CREATE POLICY store_scope ON retail.%I FOR SELECT TO zava_query
                            USING (store_id = (SELECT rls.current_store()))', t);
        EXECUTE format('CREATE POLICY head_office ON retail.%I FOR SELECT TO zava_hq USING (true)', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['stores', 'categories', 'product_types', 'products',
                             'product_description_embeddings', 'embedding_model'] LOOP
        EXECUTE format('CREATE POLICY shared_read_hq ON retail.%I FOR SELECT TO zava_hq USING (true)', t);
    END LOOP;
END
$$;

CREATE POLICY store_scope ON retail.customers FOR SELECT TO zava_query
    USING (primary_store_id = (SELECT rls.current_store())
           OR customer_id IN (SELECT o.customer_id FROM retail.orders o
                              WHERE o.store_id = (SELECT rls.current_store())));
CREATE POLICY head_office ON retail.customers FOR SELECT TO zava_hq USING (true);
