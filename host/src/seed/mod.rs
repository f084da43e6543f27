//! `mcp-host seed`: the Zava demo data ([`generate`]), loaded with COPY in
//! one transaction as the owner role, with a progress bar.

pub mod catalog;
pub mod generate;
pub mod ids;
pub mod rng;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::SinkExt;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_postgres::Client;

use crate::db::settings::OWNER_ROLE;
use generate::{Dataset, HEAD_OFFICE, STORES, Scale};

#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    pub seed: u64,
    /// 1.0 = the full demo set.
    pub scale: f64,
    /// Replace existing data instead of refusing.
    pub replace: bool,
    pub progress: bool,
}

#[derive(Debug)]
pub struct SeedReport {
    pub rows: Vec<(&'static str, usize)>,
    pub generate: Duration,
    pub load: Duration,
}

/// Why the demo data could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The data compiled into the binary does not parse: a build defect.
    #[error("{0}")]
    BuiltIn(String),
    #[error("the database already holds data; pass --replace to load it again")]
    AlreadyThere,
    #[error("reading the id key (run `mcp-host migrate` first): {0}")]
    IdKey(String),
    /// PostgreSQL's message.
    #[error("{0}")]
    Database(String),
}

fn sql_err(e: tokio_postgres::Error) -> SeedError {
    SeedError::Database(crate::db::error_text(&e))
}

/// Loading order (parents first) and the reverse for truncation.
const TABLES: &[&str] = &[
    "stores",
    "categories",
    "product_types",
    "products",
    "customers",
    "inventory",
    "orders",
    "order_items",
];

/// The key the ids of this database are numbered with ([`ids`]): derived
/// from its own random HMAC key, which the migrations made.
async fn id_key(client: &Client) -> Result<[u8; 32], SeedError> {
    let row = client
        .query_one(
            "SELECT sha256(mac_inner || convert_to('zava-ids/v1', 'UTF8')) FROM rls_private.keys",
            &[],
        )
        .await
        .map_err(|e| SeedError::IdKey(crate::db::error_text(&e)))?;
    let key: Vec<u8> = row.get(0);
    key.try_into()
        .map_err(|_| SeedError::IdKey("the id key is not 32 bytes".into()))
}

/// True when the retail tables hold data already.
pub async fn is_seeded(client: &Client) -> Result<bool, SeedError> {
    // The owner policy lets the owner role see every row.
    client
        .batch_execute(&format!("SET ROLE {OWNER_ROLE}"))
        .await
        .map_err(sql_err)?;
    let seeded = client
        .query_one("SELECT EXISTS (SELECT 1 FROM retail.stores)", &[])
        .await
        .map(|row| row.get::<_, bool>(0))
        .map_err(sql_err);
    let _ = client.batch_execute("RESET ROLE").await;
    seeded
}

pub async fn seed(client: &Client, options: SeedOptions) -> Result<SeedReport, SeedError> {
    if !options.replace && is_seeded(client).await? {
        return Err(SeedError::AlreadyThere);
    }
    let id_key = id_key(client).await?;
    let started = Instant::now();
    let data = generate::generate(options.seed, Scale::of(options.scale), &id_key)?;
    let generate_time = started.elapsed();
    let started = Instant::now();
    let total: usize = data.tables.iter().map(|t| t.rows).sum();
    let bar = if options.progress {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:<12} [{bar:40}] {human_pos}/{human_len} rows ({per_sec}, {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let result = load(client, &data, &bar).await;
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result?;
    bar.finish_with_message("loaded");
    Ok(SeedReport {
        rows: data.tables.iter().map(|t| (t.table, t.rows)).collect(),
        generate: generate_time,
        load: started.elapsed(),
    })
}

/// Drops the secondary indexes and foreign keys of the (just truncated)
/// retail tables, and returns the statements that make them again, exactly
/// as they were, once the rows are in: building an index over a loaded table
/// and checking a foreign key in one join are many times faster than
/// maintaining both row by row (at scale 10, ~4M order lines).
async fn defer_indexes_and_keys(client: &Client) -> Result<String, tokio_postgres::Error> {
    let tables: Vec<String> = TABLES.iter().map(|t| format!("retail.{t}")).collect();
    // Indexes of the tables themselves (a partitioned table's index covers
    // its partitions), not those behind a primary key or unique constraint.
    let indexes = client
        .query(
            "SELECT c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = ANY (SELECT t::regclass FROM unnest($1::text[]) t)
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
             ORDER BY 1",
            &[&tables],
        )
        .await?;
    // Top-level foreign keys (those of partitions are their parent's copies).
    let keys = client
        .query(
            "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid)
             FROM pg_constraint
             WHERE contype = 'f' AND conparentid = 0
               AND conrelid = ANY (SELECT t::regclass FROM unnest($1::text[]) t)
             ORDER BY 1, 2",
            &[&tables],
        )
        .await?;
    let mut drop = String::new();
    let mut again = String::from("SET LOCAL maintenance_work_mem = '256MB';\n");
    for row in &keys {
        let (table, name): (String, String) = (row.get(0), row.get(1));
        drop.push_str(&format!("ALTER TABLE {table} DROP CONSTRAINT {name};\n"));
    }
    for row in &indexes {
        let (name, definition): (String, String) = (row.get(0), row.get(1));
        drop.push_str(&format!(
            "DROP INDEX retail.{};\n",
            crate::db::migrate::quote_ident(&name)
        ));
        // A partitioned table's index reads `ON ONLY t`, which would make
        // it for the parent alone.
        again.push_str(&definition.replacen(" ON ONLY ", " ON ", 1));
        again.push_str(";\n");
    }
    for row in &keys {
        let (table, name, definition): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        again.push_str(&format!(
            "ALTER TABLE {table} ADD CONSTRAINT {name} {definition};\n"
        ));
    }
    client.batch_execute(&drop).await?;
    Ok(again)
}

async fn load(client: &Client, data: &Dataset, bar: &ProgressBar) -> Result<(), SeedError> {
    let truncate = TABLES
        .iter()
        .rev()
        .map(|t| format!("retail.{t}"))
        .collect::<Vec<_>>()
        .join(", ");
    // COPY refuses tables whose RLS applies to the loader, and FORCE makes it
    // apply to the owner too; so FORCE is lifted for the load and restored in
    // the same transaction (no other session ever sees it lifted).
    let force = |on: bool| {
        TABLES
            .iter()
            .map(|t| {
                format!(
                    "ALTER TABLE retail.{t} {} ROW LEVEL SECURITY;",
                    if on { "FORCE" } else { "NO FORCE" }
                )
            })
            .collect::<String>()
    };
    client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL ROLE {OWNER_ROLE};
             TRUNCATE retail.product_description_embeddings, rls_private.principals, {truncate};
             {}",
            force(false)
        ))
        .await
        .map_err(sql_err)?;
    let deferred = defer_indexes_and_keys(client).await.map_err(sql_err)?;
    for table in &data.tables {
        bar.set_message(table.table);
        let sink = client
            .copy_in(&format!(
                "COPY retail.{} ({}) FROM STDIN",
                table.table, table.columns
            ))
            .await
            .map_err(sql_err)?;
        futures::pin_mut!(sink);
        // Send in chunks of whole lines so the bar moves.
        let mut chunk = String::with_capacity(1 << 20);
        let mut lines = 0u64;
        for line in table.copy_text.split_inclusive('\n') {
            chunk.push_str(line);
            lines += 1;
            if chunk.len() >= 1 << 20 {
                sink.send(Bytes::from(std::mem::take(&mut chunk)))
                    .await
                    .map_err(sql_err)?;
                bar.inc(lines);
                lines = 0;
            }
        }
        if !chunk.is_empty() {
            sink.send(Bytes::from(chunk)).await.map_err(sql_err)?;
        }
        bar.inc(lines);
        sink.finish().await.map_err(sql_err)?;
    }
    // Who manages what (read only by the RLS functions).
    let mut principals = format!(
        "INSERT INTO rls_private.principals (user_id, store_id, head_office) VALUES ('{HEAD_OFFICE}', NULL, true)"
    );
    for (i, (_, _, manager)) in STORES.iter().enumerate() {
        principals.push_str(&format!(", ('{manager}', {}, false)", i + 1));
    }
    client.batch_execute(&principals).await.map_err(sql_err)?;
    // Identity columns continue after the loaded ids.
    let mut resync = String::new();
    for (table, column) in [
        ("stores", "store_id"),
        ("categories", "category_id"),
        ("product_types", "type_id"),
        ("products", "product_id"),
        ("customers", "customer_id"),
        ("orders", "order_id"),
        ("order_items", "order_item_id"),
    ] {
        resync.push_str(&format!(
            "SELECT setval(pg_get_serial_sequence('retail.{table}', '{column}'), \
             coalesce((SELECT max({column}) FROM retail.{table}), 0) + 1, false);"
        ));
    }
    client.batch_execute(&resync).await.map_err(sql_err)?;
    bar.set_message("indexes");
    client.batch_execute(&deferred).await.map_err(sql_err)?;
    client.batch_execute(&force(true)).await.map_err(sql_err)?;
    client.batch_execute("COMMIT").await.map_err(sql_err)?;
    bar.set_message("analyze");
    client
        .batch_execute(&format!("SET ROLE {OWNER_ROLE}; ANALYZE retail.stores, retail.customers, retail.categories, retail.product_types, retail.products, retail.inventory, retail.orders, retail.order_items; RESET ROLE"))
        .await
        .map_err(sql_err)?;
    Ok(())
}
