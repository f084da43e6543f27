//! Resources: each `retail` table's schema, and the MCP App that shows
//! `execute_sales_query` results.
//!
//! - `zava://schema/{table}` (a template, plus one listed resource per
//!   table): the very document `get_multiple_table_schemas` returns for that
//!   table, so what a user attaches to a chat is what the assistant would
//!   have fetched itself. It is read as the caller, so a store manager's copy
//!   says "manager of store_id 1" and counts only their rows.
//! - `ui://sales-sql/result-view.html`: the MCP App's page. It is listed
//!   (not only referenced by the tool) because the host routes a read to the
//!   component that lists the URI or a template matching it.

use crate::rows;
use crate::schema;
use zava_tool::resources::{ResourceDef, TemplateDef};
use zava_tool::types::{RequestError, ResourceBody, ResourceContents};

pub const RESULT_VIEW_URI: &str = "ui://sales-sql/result-view.html";
/// The MIME type MCP Apps hosts look for.
const APP_MIME: &str = "text/html;profile=mcp-app";
/// The page (written alongside this component; built into the .wasm so the
/// page and the tool results it renders always come from the same build).
const RESULT_VIEW_HTML: &str = include_str!("../app/result-view.html");

const SCHEMA_PREFIX: &str = "zava://schema/";
const SCHEMA_TEMPLATE: &str = "zava://schema/{table}";
/// What `schema::describe` renders: the JSON `get_multiple_table_schemas`
/// returns as its text.
const SCHEMA_MIME: &str = "application/json";

pub fn list() -> Vec<ResourceDef> {
    // Listing happens outside any call, so nothing here may depend on the
    // caller: the descriptions say that the contents are scoped on read.
    let mut defs: Vec<ResourceDef> = schema::TABLES
        .iter()
        .map(|t| ResourceDef {
            uri: format!("{SCHEMA_PREFIX}{}", t.name),
            name: format!("retail.{}", t.name),
            title: Some(format!("Schema of retail.{}", t.name)),
            description: Some(format!(
                "{} Columns, keys, relationships, indexes, valid values and query hints, \
                 as you are allowed to see them{}.",
                t.description,
                if t.store_scoped {
                    " (store-scoped: row counts and values cover only your stores)"
                } else {
                    ""
                }
            )),
            mime_type: Some(SCHEMA_MIME.into()),
            meta: None,
        })
        .collect();
    defs.push(ResourceDef {
        uri: RESULT_VIEW_URI.into(),
        name: "result-view".into(),
        title: Some("Sales query result view".into()),
        description: Some(
            "MCP App: shows the rows of execute_sales_query as a table and a chart.".into(),
        ),
        mime_type: Some(APP_MIME.into()),
        meta: Some(APP_META.into()),
    });
    defs
}

/// MCP Apps: ask the host to draw its frame around the view (on the
/// listing and on the contents: hosts read either).
const APP_META: &str = r#"{"ui":{"prefersBorder":true}}"#;

pub fn templates() -> Vec<TemplateDef> {
    vec![TemplateDef {
        uri_template: SCHEMA_TEMPLATE.into(),
        name: "table-schema".into(),
        title: Some("Schema of a Zava retail table".into()),
        description: Some(format!(
            "The schema of one table of the retail schema, as get_multiple_table_schemas \
             describes it, scoped to what you may see. table: one of {}.",
            schema::TABLES
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        mime_type: Some(SCHEMA_MIME.into()),
    }]
}

/// A schema document as resource contents (also embedded by the prompts).
pub fn schema_contents(table: &str, document: &serde_json::Value) -> ResourceContents {
    ResourceContents {
        uri: format!("{SCHEMA_PREFIX}{table}"),
        mime_type: Some(SCHEMA_MIME.into()),
        body: ResourceBody::Text(document.to_string()),
        meta: None,
    }
}

pub fn read(uri: &str) -> Result<Vec<ResourceContents>, RequestError> {
    if uri == RESULT_VIEW_URI {
        return Ok(vec![ResourceContents {
            uri: RESULT_VIEW_URI.into(),
            mime_type: Some(APP_MIME.into()),
            body: ResourceBody::Text(RESULT_VIEW_HTML.into()),
            meta: Some(APP_META.into()),
        }]);
    }
    let Some(name) = uri.strip_prefix(SCHEMA_PREFIX) else {
        return Err(RequestError::NotFound(format!(
            "no resource `{uri}`: this component serves {SCHEMA_TEMPLATE} and {RESULT_VIEW_URI}"
        )));
    };
    let Some(table) = schema::table(name) else {
        return Err(RequestError::NotFound(format!(
            "no table `{name}` in the retail schema; the tables are {}",
            schema::table_list()
        )));
    };
    let document = schema::describe(&[table.name]).map_err(rows::request_error)?;
    // The contents carry the URI that was asked for (a client matches them
    // up by it), even when it named the table as `Orders` or `retail.orders`.
    Ok(vec![ResourceContents {
        uri: uri.into(),
        ..schema_contents(table.name, &document)
    }])
}

/// Table names for `{table}` that start with what was typed.
pub fn complete(
    uri_template: &str,
    argument: &str,
    value: &str,
) -> Result<Vec<String>, RequestError> {
    if uri_template != SCHEMA_TEMPLATE {
        return Err(RequestError::NotFound(format!(
            "no resource template `{uri_template}`; this component has {SCHEMA_TEMPLATE}"
        )));
    }
    if argument != "table" {
        return Err(RequestError::InvalidArguments(format!(
            "{SCHEMA_TEMPLATE} has no variable `{argument}`; it has `table`"
        )));
    }
    let typed = value.trim().to_lowercase();
    let typed = typed.strip_prefix("retail.").unwrap_or(&typed);
    Ok(schema::TABLES
        .iter()
        .filter(|t| t.name.starts_with(typed))
        .map(|t| t.name.to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_resource_per_table_and_the_app() {
        let listed = list();
        assert_eq!(listed.len(), schema::TABLES.len() + 1);
        assert!(listed.iter().any(|r| r.uri == "zava://schema/orders"));
        let app = listed.iter().find(|r| r.uri == RESULT_VIEW_URI).unwrap();
        assert_eq!(app.mime_type.as_deref(), Some("text/html;profile=mcp-app"));
    }

    #[test]
    fn unknown_tables_and_uris_are_not_found() {
        assert!(matches!(
            read("zava://schema/secrets"),
            Err(RequestError::NotFound(_))
        ));
        assert!(matches!(
            read("zava://other/orders"),
            Err(RequestError::NotFound(_))
        ));
        let app = read(RESULT_VIEW_URI).ok().unwrap();
        assert_eq!(
            app[0].meta.as_deref(),
            Some(r#"{"ui":{"prefersBorder":true}}"#)
        );
    }

    #[test]
    fn table_names_complete_by_prefix() {
        assert_eq!(
            complete(SCHEMA_TEMPLATE, "table", "ord").ok().unwrap(),
            ["orders", "order_items"]
        );
        assert_eq!(
            complete(SCHEMA_TEMPLATE, "table", "retail.st")
                .ok()
                .unwrap(),
            ["stores"]
        );
        assert_eq!(
            complete(SCHEMA_TEMPLATE, "table", "").ok().unwrap().len(),
            schema::TABLES.len()
        );
        assert!(complete("zava://x/{y}", "y", "").is_err());
        assert!(complete(SCHEMA_TEMPLATE, "column", "").is_err());
    }
}
