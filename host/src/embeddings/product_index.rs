//! `mcp-host embed`: embeddings of every product's name and description in
//! `retail.product_description_embeddings`, for the configured model.
//!
//! Idempotent and resumable: only products without an embedding are sent to
//! the model, a batch at a time, each batch committed. A different model (or
//! dimension) than the one recorded in `retail.embedding_model` first clears
//! the table, retypes the column and rebuilds the HNSW index: two models
//! never mix in one column.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use pgvector::Vector;
use tokio_postgres::Client;

use super::{Embeddings, ModelInfo};
use crate::db::error_text;
use crate::db::settings::OWNER_ROLE;

#[derive(Debug)]
pub struct EmbedReport {
    pub model: ModelInfo,
    /// Products embedded by this run.
    pub embedded: usize,
    /// Products that already had an embedding for this model.
    pub already: usize,
    /// The stored embeddings were of another model and were replaced.
    pub replaced_model: Option<String>,
    pub elapsed: Duration,
}

const INDEX: &str = "product_description_embeddings_hnsw";

/// Why the catalogue could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Embed(#[from] super::EmbedError),
    #[error(
        "the model returned a {got}-dimensional vector, but {model} records {expected} dimensions"
    )]
    Dimensions {
        got: usize,
        model: String,
        expected: u32,
    },
    /// PostgreSQL's message ([`error_text`]).
    #[error("{0}")]
    Database(String),
}

fn sql(e: tokio_postgres::Error) -> IndexError {
    IndexError::Database(error_text(&e))
}

/// The text embedded for a product (and what a query is compared with).
pub fn product_text(name: &str, description: &str) -> String {
    format!("{name}. {description}")
}

pub async fn embed_products(
    client: &Client,
    embeddings: &Embeddings,
    batch_size: usize,
    progress: bool,
) -> Result<EmbedReport, IndexError> {
    let started = Instant::now();
    let model = embeddings.model().await?;
    let replaced_model = prepare_model(client, &model).await?;

    as_owner(client).await?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM retail.products),
                    (SELECT count(*) FROM retail.product_description_embeddings WHERE model = $1)",
            &[&model.name],
        )
        .await
        .map_err(sql);
    reset_role(client).await;
    let row = row?;
    let (total, already): (i64, i64) = (row.get(0), row.get(1));

    let bar = if progress {
        let bar = ProgressBar::new((total - already).max(0) as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} embedding [{bar:40}] {human_pos}/{human_len} products ({per_sec}, {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut embedded = 0usize;
    loop {
        as_owner(client).await?;
        let rows = client
            .query(
                "SELECT p.product_id, p.product_name, p.product_description FROM retail.products p
                 WHERE NOT EXISTS (SELECT 1 FROM retail.product_description_embeddings e
                                   WHERE e.product_id = p.product_id)
                 ORDER BY p.product_id LIMIT $1",
                &[&(batch_size.max(1) as i64)],
            )
            .await
            .map_err(sql);
        reset_role(client).await;
        let rows = rows?;
        if rows.is_empty() {
            break;
        }
        let ids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        let texts: Vec<String> = rows
            .iter()
            .map(|r| product_text(r.get(1), r.get(2)))
            .collect();
        let vectors = embeddings.embed(&texts).await?;
        if let Some(bad) = vectors
            .iter()
            .find(|v| v.len() != model.dimensions as usize)
        {
            return Err(IndexError::Dimensions {
                got: bad.len(),
                model: model.name.clone(),
                expected: model.dimensions,
            });
        }
        let vectors: Vec<Vector> = vectors.into_iter().map(Vector::from).collect();
        client
            .batch_execute(&format!("BEGIN; SET LOCAL ROLE {OWNER_ROLE}"))
            .await
            .map_err(sql)?;
        let inserted = client
            .execute(
                "INSERT INTO retail.product_description_embeddings (product_id, model, description_embedding)
                 SELECT id, $2, v FROM unnest($1::int4[], $3::vector[]) AS t(id, v)
                 ON CONFLICT (product_id) DO UPDATE
                   SET model = excluded.model, description_embedding = excluded.description_embedding,
                       embedded_at = now()",
                &[&ids, &model.name, &vectors],
            )
            .await;
        match inserted {
            Ok(_) => client.batch_execute("COMMIT").await.map_err(sql)?,
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(sql(e));
            }
        }
        embedded += ids.len();
        bar.inc(ids.len() as u64);
    }
    bar.finish_and_clear();
    Ok(EmbedReport {
        model,
        embedded,
        already: already as usize,
        replaced_model,
        elapsed: started.elapsed(),
    })
}

/// Records `model`, clearing embeddings of any other model and fitting the
/// column and index to its dimension. Returns the replaced model's name.
async fn prepare_model(client: &Client, model: &ModelInfo) -> Result<Option<String>, IndexError> {
    client
        .batch_execute(&format!("BEGIN; SET LOCAL ROLE {OWNER_ROLE}"))
        .await
        .map_err(sql)?;
    let result = async {
        let recorded = client
            .query_opt(
                "SELECT model, dimensions FROM retail.embedding_model FOR UPDATE",
                &[],
            )
            .await
            .map_err(sql)?
            .map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1)));
        let index_exists: bool = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!("retail.{INDEX}")],
            )
            .await
            .map_err(sql)?
            .get(0);
        let same = recorded
            .as_ref()
            .is_some_and(|(name, dims)| *name == model.name && *dims as u32 == model.dimensions);
        if same && index_exists {
            return Ok(None);
        }
        let dims = model.dimensions;
        client
            .batch_execute(&format!(
                "DELETE FROM retail.product_description_embeddings;
                 DELETE FROM retail.embedding_model;
                 DROP INDEX IF EXISTS retail.{INDEX};
                 ALTER TABLE retail.product_description_embeddings
                     ALTER COLUMN description_embedding TYPE vector({dims});
                 CREATE INDEX {INDEX} ON retail.product_description_embeddings
                     USING hnsw (description_embedding vector_cosine_ops);"
            ))
            .await
            .map_err(sql)?;
        client
            .execute(
                "INSERT INTO retail.embedding_model (model, dimensions) VALUES ($1, $2)",
                &[&model.name, &(dims as i32)],
            )
            .await
            .map_err(sql)?;
        Ok(recorded
            .map(|(name, _)| name)
            .filter(|name| *name != model.name))
    }
    .await;
    match result {
        Ok(replaced) => {
            client.batch_execute("COMMIT").await.map_err(sql)?;
            Ok(replaced)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn as_owner(client: &Client) -> Result<(), IndexError> {
    client
        .batch_execute(&format!("SET ROLE {OWNER_ROLE}"))
        .await
        .map_err(sql)
}

async fn reset_role(client: &Client) {
    let _ = client.batch_execute("RESET ROLE").await;
}
