//! PostgreSQL: where it is ([`settings`], [`embedded`]), its schema
//! ([`migrate`], with the allowlist enforced by [`privileges`]; [`setup`]:
//! started, migrated and seeded in one call), and caller
//! queries under Row Level Security ([`caller`]: checked by [`guard`],
//! established through [`gate`], on connections of [`pool`] over
//! [`transport`], values converted by [`values`]).

pub mod caller;
pub mod embedded;
pub mod gate;
pub mod guard;
pub mod migrate;
pub mod numeric;
pub mod pool;
pub mod privileges;
pub mod scope;
pub mod secrets;
pub mod servers;
pub mod sessions;
pub mod settings;
pub mod setup;
pub mod tls;
pub mod transport;
pub mod values;

/// A PostgreSQL error as one readable line: the server's message with its
/// detail and hint, or the client-side error.
pub fn error_text(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                text.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            text
        }
    }
}
