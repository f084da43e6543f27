//! `get_multiple_table_schemas`: what an assistant needs to write correct SQL
//! the first time. The description itself is built by [`crate::schema`],
//! which the `zava://schema/{table}` resources share.

use serde_json::{Value, json};

use crate::exports::zava::mcp::tool::{ToolDef, ToolError, ToolOutput};
use crate::rows;
use crate::schema;
use crate::zava::mcp::types::Content;

pub const NAME: &str = "get_multiple_table_schemas";

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
        app: None,
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
        let Some(table) = schema::table(name) else {
            return Err(invalid(format!(
                "unknown table `{name}`; the tables are {}",
                schema::table_list()
            )));
        };
        if !tables.contains(&table.name) {
            tables.push(table.name);
        }
    }
    if tables.is_empty() {
        return Err(invalid("`table_names` is empty".into()));
    }
    Ok(tables)
}

pub fn call(arguments: Value) -> Result<ToolOutput, ToolError> {
    let wanted = parse(arguments)?;
    let result = schema::describe(&wanted).map_err(rows::db_error)?;
    Ok(ToolOutput {
        content: vec![Content::Text(result.to_string())],
        structured: Some(result.to_string()),
    })
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
