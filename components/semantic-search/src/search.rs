//! The search itself: embed the request, then one query as the caller.

use schemars::JsonSchema;
use serde::Serialize;
use zava_tool::db::{self, RowSet, SqlValue};
use zava_tool::embeddings;
use zava_tool::{Context, Structured, ToolError};

use crate::arguments::{Mode, Search};

/// Candidates each ranking contributes to the hybrid fusion.
const CANDIDATES: i64 = 60;
/// Reciprocal rank fusion constant (the usual 60).
const RRF_K: i64 = 60;

/// Filters shared by both modes; `p` is the product row.
const FILTERS: &str = "($4::text IS NULL OR c.category_name ILIKE $4)
  AND ($5::numeric IS NULL OR p.base_price >= $5)
  AND ($6::numeric IS NULL OR p.base_price <= $6)
  AND (NOT $7::boolean OR EXISTS (SELECT 1 FROM retail.inventory i
                                  WHERE i.product_id = p.product_id AND i.stock_level > 0))";

const COLUMNS: &str =
    "p.product_id, p.sku, p.product_name, c.category_name, t.type_name, p.base_price,
       round(((1 - (e.description_embedding <=> $1::vector)) * 100)::numeric, 2) AS similarity,
       p.product_description";

fn vector_sql() -> String {
    format!(
        "SELECT {COLUMNS}, NULL::numeric AS score
FROM retail.product_description_embeddings e
JOIN retail.products p ON p.product_id = e.product_id
JOIN retail.categories c ON c.category_id = p.category_id
JOIN retail.product_types t ON t.type_id = p.type_id
WHERE e.model = $2
  AND (1 - (e.description_embedding <=> $1::vector)) * 100 >= $3::float8
  AND {FILTERS}
ORDER BY e.description_embedding <=> $1::vector
LIMIT $8::int8"
    )
}

fn hybrid_sql() -> String {
    format!(
        "WITH vec AS (
    SELECT e.product_id, row_number() OVER (ORDER BY e.description_embedding <=> $1::vector) AS rank
    FROM retail.product_description_embeddings e
    JOIN retail.products p ON p.product_id = e.product_id
    JOIN retail.categories c ON c.category_id = p.category_id
    WHERE e.model = $2 AND {FILTERS}
    ORDER BY e.description_embedding <=> $1::vector
    LIMIT {CANDIDATES}
), kw AS (
    SELECT p.product_id,
           row_number() OVER (ORDER BY ts_rank_cd(to_tsvector('english', p.product_name || ' ' || p.product_description),
                                                   websearch_to_tsquery('english', $9)) DESC) AS rank
    FROM retail.products p
    JOIN retail.categories c ON c.category_id = p.category_id
    WHERE to_tsvector('english', p.product_name || ' ' || p.product_description) @@ websearch_to_tsquery('english', $9)
      AND {FILTERS}
    ORDER BY rank
    LIMIT {CANDIDATES}
), fused AS (
    SELECT product_id,
           coalesce(1.0 / ({RRF_K} + vec.rank), 0) + coalesce(1.0 / ({RRF_K} + kw.rank), 0) AS score,
           kw.rank AS keyword_rank
    FROM vec FULL JOIN kw USING (product_id)
)
SELECT {COLUMNS}, round(f.score * 1000, 3) AS score
FROM fused f
JOIN retail.products p ON p.product_id = f.product_id
JOIN retail.categories c ON c.category_id = p.category_id
JOIN retail.product_types t ON t.type_id = p.type_id
JOIN retail.product_description_embeddings e ON e.product_id = p.product_id AND e.model = $2
WHERE f.keyword_rank IS NOT NULL OR (1 - (e.description_embedding <=> $1::vector)) * 100 >= $3::float8
ORDER BY f.score DESC, p.product_id
LIMIT $8::int8"
    )
}

/// The structured result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Found {
    pub query: String,
    pub model: String,
    pub mode: Mode,
    pub results: Vec<Product>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Product {
    pub product_id: i64,
    pub sku: String,
    pub product_name: String,
    pub category: String,
    #[serde(rename = "type")]
    pub product_type: String,
    pub base_price: String,
    pub similarity: f64,
    pub description: String,
    /// Hybrid mode: the fused rank score (higher is better).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fused_score: Option<f64>,
}

fn db_error(error: db::Error) -> ToolError {
    ToolError::Failed(match error {
        db::Error::Rejected(m) => format!("the search was rejected: {m}"),
        db::Error::Timeout => "the search took too long; try again or narrow the filters".into(),
        db::Error::Failed(m) => format!("the search failed in PostgreSQL: {m}"),
        db::Error::Unavailable(m) => format!("the database is unavailable right now: {m}"),
    })
}

fn optional_number(value: Option<f64>) -> SqlValue {
    value.map_or(SqlValue::Null, |v| SqlValue::Numeric(v.to_string()))
}

pub fn run(search: &Search) -> Result<Structured<Found>, ToolError> {
    let model = embeddings::model().context("no embeddings")?;
    let vector = embeddings::embed(std::slice::from_ref(&search.query))
        .context("cannot embed the request")?
        .pop()
        .context("the embeddings provider returned nothing")?;
    let mut params = vec![
        vector.into(),
        model.name.as_str().into(),
        search.threshold.into(),
        search.category.clone().into(),
        optional_number(search.min_price),
        optional_number(search.max_price),
        search.in_stock.into(),
        search.max_rows.into(),
    ];
    let sql = match search.mode {
        Mode::Vector => vector_sql(),
        Mode::Hybrid => {
            params.push(search.query.as_str().into());
            hybrid_sql()
        }
    };
    let rows = db::query(&sql, &params, search.max_rows).map_err(db_error)?;
    let results = results(&rows);
    let text = render(&search.query, &results);
    Ok(Structured::new(Found {
        query: search.query.clone(),
        model: model.name,
        mode: search.mode,
        results,
    })
    .with_text(text))
}

fn text(v: &SqlValue) -> String {
    match v {
        SqlValue::Text(s) | SqlValue::Numeric(s) => s.clone(),
        SqlValue::Int(i) => i.to_string(),
        SqlValue::Float(f) => f.to_string(),
        _ => String::new(),
    }
}

fn results(rows: &RowSet) -> Vec<Product> {
    rows.rows
        .iter()
        .map(|r| Product {
            product_id: match r[0] {
                SqlValue::Int(i) => i,
                _ => 0,
            },
            sku: text(&r[1]),
            product_name: text(&r[2]),
            category: text(&r[3]),
            product_type: text(&r[4]),
            base_price: text(&r[5]),
            similarity: text(&r[6]).parse().unwrap_or(0.0),
            description: text(&r[7]),
            fused_score: match &r[8] {
                SqlValue::Numeric(score) => Some(score.parse::<f64>().unwrap_or(0.0)),
                _ => None,
            },
        })
        .collect()
}

/// The classic sample's style: a short ranked list an assistant can quote.
fn render(query: &str, results: &[Product]) -> String {
    if results.is_empty() {
        return format!(
            "No products matched \"{query}\" at this similarity threshold; try other words, \
             a lower similarity_threshold, or fewer filters."
        );
    }
    let mut out = format!("{} product(s) similar to \"{query}\":\n", results.len());
    for (i, r) in results.iter().enumerate() {
        out.push_str(&format!(
            "{}. {} (SKU {}, {} / {}) ${} - {:.1}% similar\n",
            i + 1,
            r.product_name,
            r.sku,
            r.category,
            r.product_type,
            r.base_price,
            r.similarity,
        ));
    }
    out
}
