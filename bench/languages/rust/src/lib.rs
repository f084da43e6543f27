//! `store_sales_rust`: orders and revenue per store between two dates, as
//! the caller may see them. The benchmark subject in Rust; its Python and
//! JavaScript twins (bench/languages/) run the same SQL and answer the same.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zava_tool::caller::{self, Scope};
use zava_tool::db::{self, SqlValue};
use zava_tool::{Structured, Tool, ToolError, Tools};

/// The statement all three languages run (`$2` is the last day, included).
const SQL: &str = "\
SELECT s.store_id, s.store_name, count(DISTINCT o.order_id) AS orders, \
       coalesce(sum(oi.total_amount), 0) AS revenue \
FROM retail.stores s \
JOIN retail.orders o ON o.store_id = s.store_id \
JOIN retail.order_items oi ON oi.order_id = o.order_id AND oi.store_id = o.store_id \
WHERE o.order_date >= $1::date AND o.order_date < $2::date + 1 \
GROUP BY s.store_id, s.store_name \
ORDER BY s.store_id";

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Arguments {
    /// First day, YYYY-MM-DD
    start: String,
    /// Last day (included), YYYY-MM-DD
    end: String,
}

#[derive(Serialize, JsonSchema)]
struct StoreSales {
    store_id: i64,
    store_name: String,
    orders: i64,
    /// Exact decimal text
    revenue: String,
}

#[derive(Serialize, JsonSchema)]
struct Sales {
    /// Whose rows: head-office, store:<id> or unassigned
    scope: String,
    stores: Vec<StoreSales>,
    start: String,
    end: String,
}

/// `YYYY-MM-DD` by shape; PostgreSQL judges the calendar.
fn date(name: &str, value: &str) -> Result<SqlValue, ToolError> {
    let shape = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return Err(ToolError::invalid_arguments(format!(
            "{name} must be a date as YYYY-MM-DD"
        )));
    }
    Ok(SqlValue::Text(value.to_string()))
}

fn store_sales(args: Arguments) -> Result<Structured<Sales>, ToolError> {
    let params = [date("start", &args.start)?, date("end", &args.end)?];
    let rows = db::query(SQL, &params, 100)?;
    let stores = rows
        .rows
        .into_iter()
        .map(|row| {
            let mut values = row.into_iter();
            let mut next = || values.next().unwrap_or(SqlValue::Null);
            match (next(), next(), next(), next()) {
                (
                    SqlValue::Int(store_id),
                    SqlValue::Text(store_name),
                    SqlValue::Int(orders),
                    SqlValue::Numeric(revenue),
                ) => Ok(StoreSales {
                    store_id,
                    store_name,
                    orders,
                    revenue,
                }),
                _ => Err(ToolError::failed("unexpected row shape")),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scope = match caller::scope() {
        Scope::HeadOffice => "head-office".to_string(),
        Scope::Store(id) => format!("store:{id}"),
        Scope::Unassigned => "unassigned".to_string(),
    };
    let mut text = format!("Sales from {} to {} (scope {scope}):", args.start, args.end);
    for s in &stores {
        text.push_str(&format!(
            "\n- {}: {} orders, revenue {}",
            s.store_name, s.orders, s.revenue
        ));
    }
    let (start, end) = (args.start, args.end);
    Ok(Structured::new(Sales {
        scope,
        stores,
        start,
        end,
    })
    .with_text(text))
}

struct Component;

impl Tools for Component {
    fn tools() -> Vec<Tool> {
        vec![
            Tool::new("store_sales_rust", store_sales)
                .description(
                    "Orders and revenue per store between two dates (benchmark subject, Rust).",
                )
                .read_only(true),
        ]
    }
}

zava_tool::export!(Component);
