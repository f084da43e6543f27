//! The allowlist (`allowlist.toml`): what caller SQL may call, cast to and
//! read. The statement guard checks names against it; `mcp-host migrate`
//! grants exactly it to the query role and revokes the rest from PUBLIC
//! (see [`crate::db::privileges`]), so the database and the guard agree.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    functions: BTreeMap<String, Vec<String>>,
    host_only: HostOnly,
    operators: Operators,
    types: Types,
    relations: Relations,
}

#[derive(Deserialize)]
struct HostOnly {
    functions: Vec<String>,
}

#[derive(Deserialize)]
struct Operators {
    symbols: Vec<String>,
}

#[derive(Deserialize)]
struct Types {
    names: Vec<String>,
}

#[derive(Deserialize)]
struct Relations {
    pg_catalog: Vec<String>,
    information_schema: Vec<String>,
}

/// The schemas whose functions and types caller SQL may name: the built-ins
/// and pgvector's (installed in `public`).
pub const FUNCTION_SCHEMAS: &[&str] = &["pg_catalog", "public"];

/// The `retail` tables: the only relations with row data a query may read.
pub const RETAIL_TABLES: &[&str] = &[
    "stores",
    "customers",
    "categories",
    "product_types",
    "products",
    "inventory",
    "orders",
    "order_items",
    "product_description_embeddings",
    "embedding_model",
];

pub struct Allowlist {
    /// Functions in [`FUNCTION_SCHEMAS`], by name (every overload).
    pub functions: HashSet<String>,
    /// Functions of other schemas, as `schema.name`.
    pub qualified_functions: HashSet<String>,
    /// What only the host calls (`rls.enter`, ...), as written in the file.
    pub host_only: Vec<String>,
    pub operators: HashSet<String>,
    pub types: HashSet<String>,
    /// Catalog relations, as `schema.name`.
    pub catalog_relations: HashSet<String>,
    /// The file's function categories, for messages.
    pub categories: Vec<String>,
}

impl Allowlist {
    /// The allowlist compiled into this binary.
    pub fn get() -> &'static Allowlist {
        static LIST: OnceLock<Allowlist> = OnceLock::new();
        LIST.get_or_init(|| {
            Self::parse(include_str!("allowlist.toml"))
                .expect("host/src/db/guard/allowlist.toml is valid (a unit test parses it)")
        })
    }

    fn parse(text: &str) -> Result<Self, toml::de::Error> {
        let file: File = toml::from_str(text)?;
        let mut functions = HashSet::new();
        let mut qualified_functions = HashSet::new();
        for name in file.functions.values().flatten() {
            match name.split_once('.') {
                Some(_) => qualified_functions.insert(name.clone()),
                None => functions.insert(name.clone()),
            };
        }
        let catalog_relations = file
            .relations
            .pg_catalog
            .iter()
            .map(|r| format!("pg_catalog.{r}"))
            .chain(
                file.relations
                    .information_schema
                    .iter()
                    .map(|r| format!("information_schema.{r}")),
            )
            .collect();
        Ok(Self {
            functions,
            qualified_functions,
            host_only: file.host_only.functions,
            operators: file.operators.symbols.into_iter().collect(),
            types: file.types.names.into_iter().collect(),
            catalog_relations,
            categories: file.functions.keys().map(|k| k.replace('_', "-")).collect(),
        })
    }

    /// Whether caller SQL may call `name` in `schema` (`None`: unqualified,
    /// resolved through `pg_catalog, retail, public`).
    pub fn allows_function(&self, schema: Option<&str>, name: &str) -> bool {
        match schema {
            None => self.functions.contains(name),
            Some(s) if FUNCTION_SCHEMAS.contains(&s) => self.functions.contains(name),
            Some(s) => self.qualified_functions.contains(&format!("{s}.{name}")),
        }
    }

    /// Whether caller SQL may name the type `name` in `schema`.
    pub fn allows_type(&self, schema: Option<&str>, name: &str) -> bool {
        match schema {
            None => self.types.contains(name) || RETAIL_TABLES.contains(&name),
            Some(s) if FUNCTION_SCHEMAS.contains(&s) => self.types.contains(name),
            // A retail table's row type (`jsonb_populate_record(NULL::retail.orders, ...)`).
            Some("retail") => RETAIL_TABLES.contains(&name),
            Some(_) => false,
        }
    }

    /// A short description of what may be called, for refusals.
    pub fn summary(&self) -> String {
        format!(
            "built-in {} functions",
            self.categories
                .iter()
                .filter(|c| !matches!(c.as_str(), "metadata" | "casts" | "other"))
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// Example type names for refusals.
    pub fn type_examples(&self) -> &'static str {
        "text, numeric, integer, bigint, double precision, date, timestamp, timestamptz, \
         interval, boolean, json, jsonb, uuid, vector"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_parses_and_names_no_dangerous_function() {
        let list = Allowlist::get();
        assert!(list.functions.contains("count"));
        assert!(list.functions.contains("cosine_distance"));
        assert!(
            list.qualified_functions
                .contains("information_schema._pg_truetypid")
        );
        for name in [
            "set_config",
            "pg_stat_get_xact_tuples_returned",
            "pg_stat_get_backend_activity",
            "pg_sleep",
            "clock_timestamp",
            "timeofday",
            "xpath",
            "query_to_xml",
            "pg_advisory_lock",
            "pg_advisory_unlock_all",
            "nextval",
            "lo_import",
            "pg_read_file",
            "repeat",
            "array_fill",
            "ts_rewrite",
            "lpad",
            "rpad",
            "uuidv7",
            "uuid_extract_timestamp",
            "ts_stat",
            "dblink",
            "current_setting",
            "pg_terminate_backend",
        ] {
            assert!(!list.functions.contains(name), "{name} is allowlisted");
        }
        assert!(!list.types.contains("xml"));
        assert!(!list.types.contains("regproc"));
        assert!(list.operators.contains("<=>"));
        assert!(!list.operators.contains("##"));
        assert!(!list.operators.contains("@>") && !list.operators.contains("&&"));
        assert!(list.catalog_relations.contains("pg_catalog.pg_indexes"));
        assert!(!list.catalog_relations.contains("pg_catalog.pg_class"));
        assert!(list.summary().contains("aggregate"));
    }
}
