//! `get_multiple_table_schemas`: what an assistant needs to write correct SQL
//! the first time — columns, keys, relationships, the valid values of the
//! lookup columns *as the caller sees them*, and hints. Everything is read
//! through the caller's own queries; nothing is cached across calls.

use serde_json::{Map, Value, json};

use crate::exports::zava::mcp::tool::{ToolDef, ToolError, ToolOutput};
use crate::rows::{self, records};
use crate::zava::mcp::caller::{self, Scope};
use crate::zava::mcp::database;
use crate::zava::mcp::types::{RowSet, SqlValue};

pub const NAME: &str = "get_multiple_table_schemas";

/// The tables, what they hold, whether RLS scopes them by store, and hints.
const TABLES: &[(&str, &str, bool, &[&str])] = &[
    (
        "stores",
        "The 8 Zava stores in Washington State; one is the online store (is_online).",
        false,
        &["Filter by name with store_name = 'Zava Retail Seattle' (names listed in valid_values)."],
    ),
    (
        "customers",
        "Customers and their home store (primary_store_id).",
        true,
        &["A store manager sees customers whose home store is theirs or who ordered there."],
    ),
    (
        "categories",
        "The 9 product categories.",
        false,
        &["Join products.category_id = categories.category_id to report by category_name."],
    ),
    (
        "product_types",
        "Product types within each category.",
        false,
        &["Join products.type_id = product_types.type_id; each type belongs to one category."],
    ),
    (
        "products",
        "The catalogue: SKU, name, category, type, cost, base price, margin, description.",
        false,
        &[
            "gross_margin_percent = (base_price - cost) / base_price * 100.",
            "Use semantic_search_products to find products by meaning; ILIKE on product_name for exact words.",
        ],
    ),
    (
        "inventory",
        "Stock level of every product at every store.",
        true,
        &["stock_level = 0 means out of stock at that store."],
    ),
    (
        "orders",
        "One row per order (basket): customer, store and order_date.",
        true,
        &[
            "Use order_date for periods: date_trunc('month', order_date), extract(year FROM order_date).",
            "Revenue lives in order_items; join order_items.order_id = orders.order_id.",
        ],
    ),
    (
        "order_items",
        "Order lines: product, quantity, unit_price, discount and total_amount.",
        true,
        &[
            "Revenue = SUM(total_amount) (after discount); units = SUM(quantity).",
            "order_items.store_id equals the order's store_id, so store reports need no join to orders.",
            "Gross profit = SUM(total_amount - quantity * products.cost).",
        ],
    ),
    (
        "product_description_embeddings",
        "Embeddings of product descriptions for semantic search (pgvector).",
        false,
        &["Used by semantic_search_products; rarely needed in SQL."],
    ),
];

pub fn definition() -> ToolDef {
    ToolDef {
        name: NAME.into(),
        title: Some("Describe Zava tables".into()),
        description: "Get the schemas of Zava retail tables before writing SQL for \
            execute_sales_query: columns with types and nullability, primary and foreign keys, \
            relationships, indexes, the valid values of lookup columns as you are allowed to see \
            them (store names, categories, product types, order years), how many rows you can see, \
            and query hints. Pass several tables at once, e.g. [\"retail.orders\", \
            \"retail.order_items\", \"retail.stores\"]. Tables: stores, customers, categories, \
            product_types, products, inventory, orders, order_items, product_description_embeddings."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "table_names": {
                    "type": "array",
                    "items": { "type": "string" },
                    "minItems": 1,
                    "description": "Table names, with or without the `retail.` prefix"
                }
            },
            "required": ["table_names"],
            "additionalProperties": false
        })
        .to_string(),
        output_schema: Some(
            json!({
                "type": "object",
                "properties": {
                    "caller_scope": { "type": "string" },
                    "tables": { "type": "array", "items": { "type": "object" } }
                },
                "required": ["caller_scope", "tables"]
            })
            .to_string(),
        ),
        read_only: true,
    }
}

fn parse(arguments: Value) -> Result<Vec<&'static str>, ToolError> {
    let invalid = |m: String| ToolError::InvalidArguments(m);
    let Value::Object(mut map) = arguments else {
        return Err(invalid("arguments must be a JSON object".into()));
    };
    let names: Vec<String> = match map.remove("table_names") {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(invalid("`table_names` must be an array of strings".into())),
            })
            .collect::<Result<_, _>>()?,
        // Some assistants send "retail.orders, retail.stores".
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
        _ => {
            return Err(invalid(
                "`table_names` is required: an array of table names".into(),
            ));
        }
    };
    if let Some(extra) = map.keys().next() {
        return Err(invalid(format!(
            "unknown argument `{extra}` (expected table_names)"
        )));
    }
    let mut tables = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        let bare = name.trim().trim_matches('"').to_lowercase();
        let bare = bare.strip_prefix("retail.").unwrap_or(&bare).to_string();
        let Some((table, ..)) = TABLES.iter().find(|(t, ..)| *t == bare) else {
            return Err(invalid(format!(
                "unknown table `{name}`; the tables are {}",
                TABLES
                    .iter()
                    .map(|(t, ..)| format!("retail.{t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if !tables.contains(table) {
            tables.push(*table);
        }
    }
    if tables.is_empty() {
        return Err(invalid("`table_names` is empty".into()));
    }
    Ok(tables)
}

fn query(sql: &str, params: &[SqlValue]) -> Result<RowSet, ToolError> {
    database::query(sql, params, 1000).map_err(rows::db_error)
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

pub fn call(arguments: Value) -> Result<ToolOutput, ToolError> {
    let wanted = parse(arguments)?;
    let scope = match caller::current() {
        Scope::HeadOffice => "head office: sees every store".to_string(),
        Scope::Store(id) => format!(
            "manager of store_id {id}: orders, order_items, inventory and customers show that store only"
        ),
        Scope::Unassigned => "no store: store-scoped tables show no rows".to_string(),
    };

    let columns = records(&query(
        "SELECT c.table_name::text AS table_name, c.column_name::text AS name, \
                c.data_type::text AS type, c.is_nullable::text = 'YES' AS nullable, \
                c.column_default::text AS default_value, \
                col_description(format('retail.%I', c.table_name)::regclass, c.ordinal_position::int) AS comment \
         FROM information_schema.columns c \
         WHERE c.table_schema = 'retail' ORDER BY c.table_name, c.ordinal_position",
        &[],
    )?);
    let constraints = records(&query(
        "SELECT replace(conrelid::regclass::text, 'retail.', '') AS table_name, conname::text AS name, \
                contype::text AS kind, pg_get_constraintdef(oid) AS definition \
         FROM pg_catalog.pg_constraint \
         WHERE connamespace = 'retail'::regnamespace AND contype IN ('p', 'f', 'u') \
         ORDER BY 1, 3, 2",
        &[],
    )?);
    let indexes = records(&query(
        "SELECT tablename::text AS table_name, indexdef AS definition FROM pg_catalog.pg_indexes \
         WHERE schemaname = 'retail' ORDER BY tablename, indexname",
        &[],
    )?);

    let mut tables = Vec::new();
    for table in wanted {
        let (_, description, scoped, hints) = TABLES
            .iter()
            .find(|(t, ..)| *t == table)
            .expect("parse() only returns known tables");
        let of_table = |rows: &[Map<String, Value>]| -> Vec<Map<String, Value>> {
            rows.iter()
                .filter(|r| text(&r["table_name"]) == table)
                .map(|r| {
                    let mut r = r.clone();
                    r.remove("table_name");
                    r
                })
                .collect()
        };
        let table_constraints = of_table(&constraints);
        let by_kind = |kind: &str| -> Vec<Value> {
            table_constraints
                .iter()
                .filter(|c| text(&c["kind"]) == kind)
                .map(|c| c["definition"].clone())
                .collect()
        };
        let referenced_by: Vec<Value> = constraints
            .iter()
            .filter(|c| {
                text(&c["kind"]) == "f"
                    && text(&c["table_name"]) != table
                    && (text(&c["definition"]).contains(&format!("REFERENCES {table}("))
                        || text(&c["definition"]).contains(&format!("REFERENCES retail.{table}(")))
            })
            .map(|c| {
                json!(format!(
                    "retail.{}: {}",
                    text(&c["table_name"]),
                    text(&c["definition"])
                ))
            })
            .collect();
        let mut entry = json!({
            "table": format!("retail.{table}"),
            "description": description,
            "row_level_security": if *scoped { "store-scoped: you see only the rows of the stores you may see" } else { "shared: every caller sees every row" },
            "columns": of_table(&columns),
            "primary_key": by_kind("p").first().cloned().unwrap_or(Value::Null),
            "foreign_keys": by_kind("f"),
            "unique": by_kind("u"),
            "referenced_by": referenced_by,
            "indexes": of_table(&indexes).into_iter().map(|i| i["definition"].clone()).collect::<Vec<_>>(),
            "hints": hints,
        });
        let (visible_rows, valid_values) = facts(table)?;
        entry["visible_rows"] = visible_rows;
        if let Some(values) = valid_values {
            entry["valid_values"] = values;
        }
        tables.push(entry);
    }
    let result = json!({ "caller_scope": scope, "tables": tables });
    Ok(ToolOutput {
        text: result.to_string(),
        structured: Some(result.to_string()),
    })
}

/// Rows the caller can see, and the lookup values of the table.
fn facts(table: &str) -> Result<(Value, Option<Value>), ToolError> {
    let count = query(&format!("SELECT count(*) FROM retail.{table}"), &[])?;
    let visible = count
        .rows
        .first()
        .and_then(|r| r.first())
        .map(rows::value)
        .unwrap_or(Value::Null);
    let values = match table {
        "stores" => Some(json!(records(&query(
            "SELECT store_id, store_name, is_online FROM retail.stores ORDER BY store_id",
            &[],
        )?))),
        "categories" => Some(json!(records(&query(
            "SELECT category_id, category_name FROM retail.categories ORDER BY category_id",
            &[],
        )?))),
        "product_types" => Some(json!(records(&query(
            "SELECT t.type_id, t.type_name, c.category_name FROM retail.product_types t \
             JOIN retail.categories c ON c.category_id = t.category_id ORDER BY t.type_id",
            &[],
        )?))),
        "products" => Some(json!(records(&query(
            "SELECT min(base_price) AS min_base_price, max(base_price) AS max_base_price, \
                    count(DISTINCT category_id) AS categories FROM retail.products",
            &[],
        )?))),
        "orders" => Some(json!({
            "order_years": records(&query(
                "SELECT extract(year FROM order_date)::int AS year, count(*) AS orders \
                 FROM retail.orders GROUP BY 1 ORDER BY 1",
                &[],
            )?),
            "date_range": records(&query(
                "SELECT min(order_date) AS first_order_date, max(order_date) AS last_order_date FROM retail.orders",
                &[],
            )?),
            "store_ids": records(&query(
                "SELECT DISTINCT store_id FROM retail.orders ORDER BY 1",
                &[],
            )?).into_iter().map(|r| r["store_id"].clone()).collect::<Vec<_>>(),
        })),
        "order_items" => Some(json!({
            "discount_percent_values": records(&query(
                "SELECT DISTINCT discount_percent FROM retail.order_items ORDER BY 1",
                &[],
            )?).into_iter().map(|r| r["discount_percent"].clone()).collect::<Vec<_>>(),
        })),
        "inventory" => Some(json!({
            "store_ids": records(&query(
                "SELECT DISTINCT store_id FROM retail.inventory ORDER BY 1",
                &[],
            )?).into_iter().map(|r| r["store_id"].clone()).collect::<Vec<_>>(),
        })),
        _ => None,
    };
    Ok((visible, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_normalised() {
        assert_eq!(
            parse(json!({"table_names": ["retail.orders", "Stores", "orders"]}))
                .ok()
                .unwrap(),
            vec!["orders", "stores"]
        );
        assert_eq!(
            parse(json!({"table_names": "retail.orders, retail.order_items"}))
                .ok()
                .unwrap(),
            vec!["orders", "order_items"]
        );
        assert!(parse(json!({"table_names": ["retail.secrets"]})).is_err());
        assert!(parse(json!({"table_names": []})).is_err());
        assert!(parse(json!({})).is_err());
    }
}
