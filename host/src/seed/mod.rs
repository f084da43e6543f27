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
async fn id_key(client: &Client) -> Result<[u8; 32], String> {
    let row = client
        .query_one(
            "SELECT sha256(mac_inner || convert_to('zava-ids/v1', 'UTF8')) FROM rls_private.keys",
            &[],
        )
        .await
        .map_err(|e| {
            format!(
                "reading the id key (run `mcp-host migrate` first): {}",
                crate::db::error_text(&e)
            )
        })?;
    let key: Vec<u8> = row.get(0);
    key.try_into()
        .map_err(|_| "the id key is not 32 bytes".to_string())
}

/// True when the retail tables hold data already.
pub async fn is_seeded(client: &Client) -> Result<bool, String> {
    // The owner policy lets the owner role see every row.
    client
        .batch_execute(&format!("SET ROLE {OWNER_ROLE}"))
        .await
        .map_err(|e| crate::db::error_text(&e))?;
    let seeded = client
        .query_one("SELECT EXISTS (SELECT 1 FROM retail.stores)", &[])
        .await
        .map(|row| row.get::<_, bool>(0))
        .map_err(|e| crate::db::error_text(&e));
    let _ = client.batch_execute("RESET ROLE").await;
    seeded
}

pub async fn seed(client: &Client, options: SeedOptions) -> Result<SeedReport, String> {
    if !options.replace && is_seeded(client).await? {
        return Err("the database already holds data; pass --replace to load it again".into());
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

async fn load(client: &Client, data: &Dataset, bar: &ProgressBar) -> Result<(), String> {
    let sql_err = |e: tokio_postgres::Error| crate::db::error_text(&e);
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
    client.batch_execute(&force(true)).await.map_err(sql_err)?;
    client.batch_execute("COMMIT").await.map_err(sql_err)?;
    bar.set_message("analyze");
    client
        .batch_execute(&format!("SET ROLE {OWNER_ROLE}; ANALYZE retail.stores, retail.customers, retail.categories, retail.product_types, retail.products, retail.inventory, retail.orders, retail.order_items; RESET ROLE"))
        .await
        .map_err(sql_err)?;
    Ok(())
}
