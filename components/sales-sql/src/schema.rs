//! The description of the Zava tables that both `get_multiple_table_schemas`
//! and the `zava://schema/{table}` resources (and the prompts that embed
//! them) return: columns, keys, relationships, the valid values of the
//! lookup columns *as the caller sees them*, and hints. One function builds
//! it, so the tool, the resources and the prompts can never drift apart.
//! Everything is read through the caller's own queries; nothing is cached
//! across calls (the next caller may see other rows).

use serde_json::{Map, Value, json};

use crate::rows::{self, records};
use zava_tool::caller::{self, Scope};
use zava_tool::database;
use zava_tool::types::{DbError, RowSet, SqlValue};

/// One table of the `retail` schema as we present it.
pub struct Table {
    pub name: &'static str,
    pub description: &'static str,
    /// Whether Row Level Security limits its rows to the caller's stores.
    pub store_scoped: bool,
    pub hints: &'static [&'static str],
}

/// The tables, what they hold, whether RLS scopes them by store, and hints.
pub const TABLES: &[Table] = &[
    Table {
        name: "stores",
        description: "The 8 Zava stores in Washington State; one is the online store (is_online).",
        store_scoped: false,
        hints: &[
            "Filter by name with store_name = 'Zava Retail Seattle' (names listed in valid_values).",
        ],
    },
    Table {
        name: "customers",
        description: "Customers and their home store (primary_store_id).",
        store_scoped: true,
        hints: &["A store manager sees customers whose home store is theirs or who ordered there."],
    },
    Table {
        name: "categories",
        description: "The 9 product categories.",
        store_scoped: false,
        hints: &["Join products.category_id = categories.category_id to report by category_name."],
    },
    Table {
        name: "product_types",
        description: "Product types within each category.",
        store_scoped: false,
        hints: &[
            "Join products.type_id = product_types.type_id; each type belongs to one category.",
        ],
    },
    Table {
        name: "products",
        description: "The catalogue: SKU, name, category, type, cost, base price, margin, description.",
        store_scoped: false,
        hints: &[
            "gross_margin_percent = (base_price - cost) / base_price * 100.",
            "Use semantic_search_products to find products by meaning; ILIKE on product_name for exact words.",
        ],
    },
    Table {
        name: "inventory",
        description: "Stock level of every product at every store.",
        store_scoped: true,
        hints: &["stock_level = 0 means out of stock at that store."],
    },
    Table {
        name: "orders",
        description: "One row per order (basket): customer, store and order_date.",
        store_scoped: true,
        hints: &[
            "Use order_date for periods: date_trunc('month', order_date), extract(year FROM order_date).",
            "Revenue lives in order_items; join order_items.order_id = orders.order_id.",
        ],
    },
    Table {
        name: "order_items",
        description: "Order lines: product, quantity, unit_price, discount and total_amount.",
        store_scoped: true,
        hints: &[
            "Revenue = SUM(total_amount) (after discount); units = SUM(quantity).",
            "order_items.store_id equals the order's store_id, so store reports need no join to orders.",
            "Gross profit = SUM(total_amount - quantity * products.cost).",
        ],
    },
    Table {
        name: "product_description_embeddings",
        description: "Embeddings of product descriptions for semantic search (pgvector).",
        store_scoped: false,
        hints: &["Used by semantic_search_products; rarely needed in SQL."],
    },
];

/// The table a user or an assistant named: case-insensitive, with or
/// without the `retail.` prefix or double quotes (assistants send all three).
pub fn table(name: &str) -> Option<&'static Table> {
    let bare = name.trim().trim_matches('"').to_lowercase();
    let bare = bare.strip_prefix("retail.").unwrap_or(&bare);
    TABLES.iter().find(|t| t.name == bare)
}

/// `retail.stores, retail.customers, ...`, for error messages.
pub fn table_list() -> String {
    TABLES
        .iter()
        .map(|t| format!("retail.{}", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The document `get_multiple_table_schemas` returns for `tables` (known
/// table names, in the order given): `{caller_scope, tables: [...]}`.
pub fn describe(tables: &[&'static str]) -> Result<Value, DbError> {
    let entries = entries(tables)?;
    Ok(document(
        entries.into_iter().map(|(_, entry)| entry).collect(),
    ))
}

/// One `{caller_scope, tables: [entry]}` document per table, each exactly
/// what [`describe`] returns for that table alone (the entries do not depend
/// on which other tables were asked for). Prompts use this to embed several
/// schema resources while reading the catalogue only once.
pub fn describe_each(tables: &[&'static str]) -> Result<Vec<(&'static str, Value)>, DbError> {
    Ok(entries(tables)?
        .into_iter()
        .map(|(table, entry)| (table, document(vec![entry])))
        .collect())
}

fn document(tables: Vec<Value>) -> Value {
    json!({ "caller_scope": caller_scope(), "tables": tables })
}

/// Whose rows the caller sees, in words. The host decides the scope; this
/// only says it, so that the assistant can explain a one-store result.
pub fn caller_scope() -> String {
    match caller::current() {
        Scope::HeadOffice => "head office: sees every store".to_string(),
        Scope::Store(id) => format!(
            "manager of store_id {id}: orders, order_items, inventory and customers show that store only"
        ),
        Scope::Unassigned => "no store: store-scoped tables show no rows".to_string(),
    }
}

fn query(sql: &str, params: &[SqlValue]) -> Result<RowSet, DbError> {
    database::query(sql, params, 1000)
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn entries(wanted: &[&'static str]) -> Result<Vec<(&'static str, Value)>, DbError> {
    // The catalogue of the whole schema in three queries, then filtered per
    // table: cheaper than three queries per table.
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

    let mut entries = Vec::new();
    for &name in wanted {
        let Table {
            description,
            store_scoped,
            hints,
            ..
        } = table(name).expect("callers pass only names from TABLES");
        let of_table = |rows: &[Map<String, Value>]| -> Vec<Map<String, Value>> {
            rows.iter()
                .filter(|r| text(&r["table_name"]) == name)
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
                    && text(&c["table_name"]) != name
                    && (text(&c["definition"]).contains(&format!("REFERENCES {name}("))
                        || text(&c["definition"]).contains(&format!("REFERENCES retail.{name}(")))
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
            "table": format!("retail.{name}"),
            "description": description,
            "row_level_security": if *store_scoped { "store-scoped: you see only the rows of the stores you may see" } else { "shared: every caller sees every row" },
            "columns": of_table(&columns),
            "primary_key": by_kind("p").first().cloned().unwrap_or(Value::Null),
            "foreign_keys": by_kind("f"),
            "unique": by_kind("u"),
            "referenced_by": referenced_by,
            "indexes": of_table(&indexes).into_iter().map(|i| i["definition"].clone()).collect::<Vec<_>>(),
            "hints": hints,
        });
        let (visible_rows, valid_values) = facts(name)?;
        entry["visible_rows"] = visible_rows;
        if let Some(values) = valid_values {
            entry["valid_values"] = values;
        }
        entries.push((name, entry));
    }
    Ok(entries)
}

/// Rows the caller can see, and the lookup values of the table.
fn facts(table: &str) -> Result<(Value, Option<Value>), DbError> {
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
    fn tables_are_found_however_they_are_named() {
        assert_eq!(table("retail.orders").map(|t| t.name), Some("orders"));
        assert_eq!(table(" \"Stores\" ").map(|t| t.name), Some("stores"));
        assert!(table("retail.secrets").is_none());
        assert!(table("").is_none());
    }
}
