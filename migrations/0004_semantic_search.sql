-- Semantic product search.
--
-- One embedding model at a time: `retail.embedding_model` holds at most one
-- row (the model and its dimensions), and every stored embedding references
-- it, so two models can never mix in one column. `mcp-host embed` fixes the
-- column's dimension and builds the HNSW (cosine) index for that model.
-- Keyword search for the hybrid mode uses a full-text index.

CREATE TABLE retail.embedding_model (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    model       text        NOT NULL UNIQUE,
    dimensions  integer     NOT NULL CHECK (dimensions > 0),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE retail.embedding_model IS 'The model of product_description_embeddings (one at a time)';

ALTER TABLE retail.product_description_embeddings
    ADD CONSTRAINT product_description_embeddings_model_fkey
    FOREIGN KEY (model) REFERENCES retail.embedding_model (model) ON UPDATE CASCADE;

ALTER TABLE retail.embedding_model ENABLE ROW LEVEL SECURITY;
ALTER TABLE retail.embedding_model FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON retail.embedding_model TO zava_owner USING (true) WITH CHECK (true);
CREATE POLICY shared_read ON retail.embedding_model FOR SELECT TO zava_query USING (true);
GRANT SELECT ON retail.embedding_model TO zava_query;

CREATE INDEX products_search_idx ON retail.products
    USING gin (to_tsvector('english', product_name || ' ' || product_description));
