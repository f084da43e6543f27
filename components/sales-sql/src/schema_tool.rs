//! `get_multiple_table_schemas`: what an assistant needs to write correct SQL
//! the first time. The description itself is built by [`crate::schema`],
//! which the `zava://schema/{table}` resources share.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zava_tool::{Structured, Tool, ToolError};

use crate::rows;
use crate::schema;

pub const NAME: &str = "get_multiple_table_schemas";

pub fn tool() -> Tool {
    Tool::new(NAME, call)
        .title("Describe Zava tables")
        .description(
            "Get the schemas of Zava retail tables before writing SQL for \
             execute_sales_query: columns with types and nullability, primary and foreign keys, \
             relationships, indexes, the valid values of lookup columns as you are allowed to see \
             them (store names, categories, product types, order years), how many rows you can see, \
             and query hints. Pass several tables at once, e.g. [\"retail.orders\", \
             \"retail.order_items\", \"retail.stores\"]. Tables: stores, customers, categories, \
             product_types, products, inventory, orders, order_items, product_description_embeddings.",
        )
        .read_only(true)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arguments {
    /// Table names, with or without the `retail.` prefix
    // Declared as an array (of at least one name); also taken as one
    // comma-separated string, as some assistants send it.
    #[schemars(required, with = "Vec<String>", length(min = 1))]
    table_names: Option<TableNames>,
}

/// Table names: an array of strings, or "retail.orders, retail.stores".
struct TableNames(Vec<String>);

impl<'de> Deserialize<'de> for TableNames {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(de::Error::custom(
                        "`table_names` must be an array of strings",
                    )),
                })
                .collect::<Result<_, _>>()
                .map(TableNames),
            Value::String(s) => Ok(TableNames(
                s.split(',').map(|p| p.trim().to_string()).collect(),
            )),
            _ => Err(de::Error::custom(
                "`table_names` is required: an array of table names",
            )),
        }
    }
}

/// The document [`schema::describe`] builds as JSON (the resources share
/// it): `{caller_scope, tables: [...]}`. Its schema is declared by hand.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Document(Value);

impl JsonSchema for Document {
    fn schema_name() -> Cow<'static, str> {
        "TableSchemas".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "properties": {
                "caller_scope": { "type": "string" },
                "tables": { "type": "array", "items": { "type": "object" } }
            },
            "required": ["caller_scope", "tables"]
        })
    }
}

impl Arguments {
    fn check(self) -> Result<Vec<&'static str>, ToolError> {
        let Some(TableNames(names)) = self.table_names else {
            return Err(ToolError::invalid_arguments(
                "`table_names` is required: an array of table names",
            ));
        };
        let mut tables = Vec::new();
        for name in names.iter().filter(|n| !n.is_empty()) {
            let Some(table) = schema::table(name) else {
                return Err(ToolError::invalid_arguments(format!(
                    "unknown table `{name}`; the tables are {}",
                    schema::table_list()
                )));
            };
            if !tables.contains(&table.name) {
                tables.push(table.name);
            }
        }
        if tables.is_empty() {
            return Err(ToolError::invalid_arguments("`table_names` is empty"));
        }
        Ok(tables)
    }
}

fn call(arguments: Arguments) -> Result<Structured<Document>, ToolError> {
    let wanted = arguments.check()?;
    let document = schema::describe(&wanted).map_err(rows::db_error)?;
    Ok(Structured::new(Document(document)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(arguments: Value) -> Result<Vec<&'static str>, ToolError> {
        zava_tool::parse_arguments::<Arguments>(&arguments.to_string())?.check()
    }

    #[test]
    fn table_names_are_normalised() {
        assert_eq!(
            parse(json!({"table_names": ["retail.orders", "Stores", "orders"]})).unwrap(),
            vec!["orders", "stores"]
        );
        assert_eq!(
            parse(json!({"table_names": "retail.orders, retail.order_items"})).unwrap(),
            vec!["orders", "order_items"]
        );
        for (bad, message) in [
            (
                json!({}),
                "`table_names` is required: an array of table names",
            ),
            (
                json!({"table_names": 5}),
                "`table_names` is required: an array of table names",
            ),
            (
                json!({"table_names": [5]}),
                "`table_names` must be an array of strings",
            ),
            (json!({"table_names": []}), "`table_names` is empty"),
        ] {
            assert_eq!(
                parse(bad.clone()),
                Err(ToolError::InvalidArguments(message.into())),
                "{bad}"
            );
        }
        let unknown = parse(json!({"table_names": ["retail.secrets"]})).unwrap_err();
        assert!(
            unknown
                .message()
                .starts_with("unknown table `retail.secrets`; the tables are retail.stores"),
            "{unknown}"
        );
    }

    #[test]
    fn the_input_schema_is_the_documented_one() {
        let input: Value = serde_json::from_str(&tool().definition().input_schema).unwrap();
        assert_eq!(
            input,
            json!({
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
        );
    }
}
