//! The search itself: embed the request, then one query as the caller.

use serde_json::{Value, json};

use crate::arguments::{Arguments, Mode};
use crate::exports::zava::mcp::tool::{ToolError, ToolOutput};
use crate::zava::mcp::types::{DbError, RowSet, SqlValue};
use crate::zava::mcp::{database, embeddings};

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

pub fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": { "type": "string" },
            "model": { "type": "string" },
            "mode": { "type": "string" },
            "results": { "type": "array", "items": { "type": "object", "properties": {
                "product_id": { "type": "integer" }, "sku": { "type": "string" },
                "product_name": { "type": "string" }, "category": { "type": "string" },
                "type": { "type": "string" }, "base_price": { "type": "string" },
                "similarity": { "type": "number" }, "description": { "type": "string" }
            } } }
        },
        "required": ["query", "model", "mode", "results"]
    })
}

fn failed(message: impl Into<String>) -> ToolError {
    ToolError::Failed(message.into())
}

fn db_error(error: DbError) -> ToolError {
    failed(match error {
        DbError::Rejected(m) => format!("the search was rejected: {m}"),
        DbError::Timeout => "the search took too long; try again or narrow the filters".into(),
        DbError::Failed(m) => format!("the search failed in PostgreSQL: {m}"),
        DbError::Unavailable(m) => format!("the database is unavailable right now: {m}"),
    })
}

fn optional_number(value: Option<f64>) -> SqlValue {
    value.map_or(SqlValue::Null, |v| SqlValue::Numeric(v.to_string()))
}

pub fn run(args: &Arguments) -> Result<ToolOutput, ToolError> {
    let model = embeddings::model().map_err(|e| failed(format!("no embeddings: {e}")))?;
    let vector = embeddings::embed(std::slice::from_ref(&args.query))
        .map_err(|e| failed(format!("cannot embed the request: {e}")))?
        .pop()
        .ok_or_else(|| failed("the embeddings provider returned nothing"))?;
    let mut params = vec![
        SqlValue::Vector(vector),
        SqlValue::Text(model.name.clone()),
        SqlValue::Float(args.threshold),
        args.category.clone().map_or(SqlValue::Null, SqlValue::Text),
        optional_number(args.min_price),
        optional_number(args.max_price),
        SqlValue::Boolean(args.in_stock),
        SqlValue::Int(args.max_rows.into()),
    ];
    let sql = match args.mode {
        Mode::Vector => vector_sql(),
        Mode::Hybrid => {
            params.push(SqlValue::Text(args.query.clone()));
            hybrid_sql()
        }
    };
    let rows = database::query(&sql, &params, args.max_rows).map_err(db_error)?;
    let results = results(&rows);
    let mode = match args.mode {
        Mode::Vector => "vector",
        Mode::Hybrid => "hybrid",
    };
    let structured = json!({
        "query": args.query,
        "model": model.name,
        "mode": mode,
        "results": results,
    });
    Ok(ToolOutput {
        text: render(&args.query, &results),
        structured: Some(structured.to_string()),
    })
}

fn text(v: &SqlValue) -> String {
    match v {
        SqlValue::Text(s) | SqlValue::Numeric(s) => s.clone(),
        SqlValue::Int(i) => i.to_string(),
        SqlValue::Float(f) => f.to_string(),
        _ => String::new(),
    }
}

fn results(rows: &RowSet) -> Vec<Value> {
    rows.rows
        .iter()
        .map(|r| {
            let similarity: f64 = text(&r[6]).parse().unwrap_or(0.0);
            let mut item = json!({
                "product_id": match r[0] { SqlValue::Int(i) => i, _ => 0 },
                "sku": text(&r[1]),
                "product_name": text(&r[2]),
                "category": text(&r[3]),
                "type": text(&r[4]),
                "base_price": text(&r[5]),
                "similarity": similarity,
                "description": text(&r[7]),
            });
            if let SqlValue::Numeric(score) = &r[8] {
                item["fused_score"] = json!(score.parse::<f64>().unwrap_or(0.0));
            }
            item
        })
        .collect()
}

/// The classic sample's style: a short ranked list an assistant can quote.
fn render(query: &str, results: &[Value]) -> String {
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
            r["product_name"].as_str().unwrap_or_default(),
            r["sku"].as_str().unwrap_or_default(),
            r["category"].as_str().unwrap_or_default(),
            r["type"].as_str().unwrap_or_default(),
            r["base_price"].as_str().unwrap_or_default(),
            r["similarity"].as_f64().unwrap_or_default(),
        ));
    }
    out
}
