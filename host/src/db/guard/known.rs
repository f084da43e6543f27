//! The names of every function and type the database has (all schemas),
//! read through `rls.callable_names()` by the query path.
//!
//! PostgreSQL reads `x.name` and `(x).name` as the call `name(x)` when `name`
//! is not a column of `x` — or, when no function has that name, as a cast to
//! the type `name`. The guard cannot always tell a column from a call
//! without running the query, but it can tell that a name is *neither* a
//! function nor a type: such a name cannot call or cast anything. So a name
//! after a dot passes when it is allowlisted or when nothing has it.

use std::collections::HashSet;

/// Function and type names, or (until they have been read) the assumption
/// that any name may be one — which fails closed.
#[derive(Debug, Clone, Default)]
pub enum KnownFunctions {
    #[default]
    Unknown,
    Names(HashSet<String>),
}

impl KnownFunctions {
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        Self::Names(names.into_iter().collect())
    }

    /// Whether a function or type of this name may exist.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Self::Unknown => true,
            Self::Names(names) => names.contains(name),
        }
    }

    pub fn is_known(&self) -> bool {
        matches!(self, Self::Names(_))
    }
}
