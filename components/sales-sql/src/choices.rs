//! The stores and categories a caller may name in a prompt argument: to check
//! a value in `get-prompt`, and to suggest values in `complete`.
//!
//! Whatever the caller may not see must be neither suggested nor accepted.
//! `retail.categories` is shared reference data (every caller reads every
//! row), so every category is offered. `retail.stores` is shared too — Row
//! Level Security does not hide other stores' *names* (migrations 0002/0008:
//! `shared_read`), only their orders, items, inventory and customers — so
//! here we narrow the stores to the caller's own scope from `caller::current()`:
//! a store manager is offered only their store, head office all of them.
//! Every query still runs as the caller, through the `database` import.

use crate::rows::records;
use zava_tool::caller::{self, Scope};
use zava_tool::database;
use zava_tool::types::{DbError, SqlValue};

/// The host sends at most 100 completion values; asking for more is waste.
const MAX_SUGGESTIONS: u32 = 100;

/// The prefix every store name starts with; users type the town.
const STORE_PREFIX: &str = "Zava Retail ";

pub struct Store {
    pub id: i64,
    pub name: String,
}

/// The stores whose data the caller sees, by id.
pub fn visible_stores() -> Result<Vec<Store>, DbError> {
    let (filter, params) = match store_scope() {
        Some(filter) => filter,
        None => return Ok(Vec::new()),
    };
    let set = database::query(
        &format!("SELECT store_id, store_name FROM retail.stores {filter} ORDER BY store_id"),
        &params,
        1000,
    )?;
    Ok(records(&set)
        .into_iter()
        .filter_map(|r| {
            Some(Store {
                id: r["store_id"].as_i64()?,
                name: r["store_name"].as_str()?.to_string(),
            })
        })
        .collect())
}

/// `WHERE`-clause and parameters that keep the caller's stores; `None`
/// when the caller sees no store at all (nothing to ask the database).
fn store_scope() -> Option<(&'static str, Vec<SqlValue>)> {
    match caller::current() {
        Scope::HeadOffice => Some(("WHERE true", Vec::new())),
        Scope::Store(id) => Some(("WHERE store_id = $1", vec![SqlValue::Int(id.into())])),
        Scope::Unassigned => None,
    }
}

/// The store the caller named ("Zava Retail Seattle", "seattle" or its
/// id), among those they may see; otherwise a message listing those.
pub fn resolve_store(value: &str) -> Result<Result<Store, String>, DbError> {
    let stores = visible_stores()?;
    let wanted = value.trim().to_lowercase();
    let found = stores.iter().position(|s| {
        let name = s.name.to_lowercase();
        name == wanted
            || name.strip_prefix(&STORE_PREFIX.to_lowercase()) == Some(wanted.as_str())
            || s.id.to_string() == wanted
    });
    Ok(match found {
        Some(i) => Ok(stores.into_iter().nth(i).expect("index from position")),
        None if stores.is_empty() => Err(format!(
            "`store`: you are not assigned to a store, so you can see no store's data (got `{}`)",
            value.trim()
        )),
        None => Err(format!(
            "`store` must be a store you can see: {}; got `{}`",
            names(stores.iter().map(|s| s.name.as_str())),
            value.trim()
        )),
    })
}

pub struct Category {
    pub id: i64,
    pub name: String,
}

/// The category the caller named (case-insensitive), or a message listing
/// the categories.
pub fn resolve_category(value: &str) -> Result<Result<Category, String>, DbError> {
    let set = database::query(
        "SELECT category_id, category_name FROM retail.categories ORDER BY category_name",
        &[],
        1000,
    )?;
    let categories: Vec<Category> = records(&set)
        .into_iter()
        .filter_map(|r| {
            Some(Category {
                id: r["category_id"].as_i64()?,
                name: r["category_name"].as_str()?.to_string(),
            })
        })
        .collect();
    let wanted = value.trim().to_lowercase();
    let found = categories
        .iter()
        .position(|c| c.name.to_lowercase() == wanted);
    Ok(match found {
        Some(i) => Ok(categories.into_iter().nth(i).expect("index from position")),
        None => Err(format!(
            "`category` must be one of {}; got `{}`",
            names(categories.iter().map(|c| c.name.as_str())),
            value.trim()
        )),
    })
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Store names the caller may see whose name, or a word of it, starts with
/// `typed` ("sea" and "zava retail s" both find Zava Retail Seattle).
pub fn complete_store(typed: &str) -> Result<Vec<String>, DbError> {
    let Some((filter, mut params)) = store_scope() else {
        return Ok(Vec::new());
    };
    let Some((whole, word)) = like_patterns(typed) else {
        return Ok(Vec::new());
    };
    let n = params.len();
    params.extend([SqlValue::Text(whole), SqlValue::Text(word)]);
    let sql = format!(
        "SELECT store_name FROM retail.stores {filter} \
         AND (store_name ILIKE ${} OR store_name ILIKE ${}) \
         ORDER BY store_name LIMIT {MAX_SUGGESTIONS}",
        n + 1,
        n + 2
    );
    first_column(database::query(&sql, &params, MAX_SUGGESTIONS)?)
}

/// Category names whose name, or a word of it, starts with `typed`
/// ("gar" and "out" both find Garden & Outdoor).
pub fn complete_category(typed: &str) -> Result<Vec<String>, DbError> {
    let Some((whole, word)) = like_patterns(typed) else {
        return Ok(Vec::new());
    };
    first_column(database::query(
        &format!(
            "SELECT category_name FROM retail.categories \
             WHERE category_name ILIKE $1 OR category_name ILIKE $2 \
             ORDER BY category_name LIMIT {MAX_SUGGESTIONS}"
        ),
        &[SqlValue::Text(whole), SqlValue::Text(word)],
        MAX_SUGGESTIONS,
    )?)
}

fn first_column(set: zava_tool::types::RowSet) -> Result<Vec<String>, DbError> {
    Ok(set
        .rows
        .into_iter()
        .filter_map(|row| match row.into_iter().next() {
            Some(SqlValue::Text(s)) => Some(s),
            _ => None,
        })
        .collect())
}

/// ILIKE patterns for "starts with `typed`" and "has a word starting with
/// `typed`". The typed text is bound as a parameter (never spliced into the
/// SQL) and its LIKE wildcards are escaped, so `%` or `_` match themselves
/// (backslash is PostgreSQL's default LIKE escape). `None` for text
/// PostgreSQL cannot take as a parameter (NUL): nothing can match it.
fn like_patterns(typed: &str) -> Option<(String, String)> {
    if typed.contains('\0') {
        return None;
    }
    let mut escaped = String::with_capacity(typed.len());
    for c in typed.trim_start().chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    Some((format!("{escaped}%"), format!("% {escaped}%")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_is_a_literal_prefix() {
        assert_eq!(
            like_patterns("sea"),
            Some(("sea%".to_string(), "% sea%".to_string()))
        );
        assert_eq!(
            like_patterns("50%_\\"),
            Some(("50\\%\\_\\\\%".to_string(), "% 50\\%\\_\\\\%".to_string()))
        );
        assert_eq!(
            like_patterns(""),
            Some(("%".to_string(), "% %".to_string()))
        );
        assert_eq!(like_patterns("a\0"), None);
    }
}
