//! Maps an RLS user id to its scope by asking PostgreSQL (`rls.scope_of`),
//! whose manager map the query role cannot read. Answers are cached briefly:
//! the scope only tells a component what it will see, while every query
//! re-establishes the caller inside PostgreSQL, so a stale entry can never
//! widen what a caller sees. The cache is `quick_cache` (as for the SQL
//! guard's memo and the embeddings): bounded, and when full it drops the
//! callers least likely to come back rather than everyone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use uuid::Uuid;

use super::caller::CallerDb;
use crate::identity::{Scope, ScopeResolver};

const TTL: Duration = Duration::from_secs(60);
const MAX_ENTRIES: usize = 10_000;

pub struct DbScopeResolver {
    db: Arc<CallerDb>,
    cache: Cache<Uuid, (Scope, Instant)>,
}

impl DbScopeResolver {
    pub fn new(db: Arc<CallerDb>) -> Self {
        Self {
            db,
            cache: Cache::new(MAX_ENTRIES),
        }
    }
}

/// `all`, a store id, or `none`, as `rls.scope_of` returns them.
pub fn parse_scope(text: &str) -> Scope {
    match text {
        "all" => Scope::HeadOffice,
        other => other.parse().map_or(Scope::Unassigned, Scope::Store),
    }
}

#[async_trait::async_trait]
impl ScopeResolver for DbScopeResolver {
    async fn resolve(&self, subject: Uuid) -> Scope {
        if let Some((scope, at)) = self.cache.get(&subject)
            && at.elapsed() < TTL
        {
            return scope;
        }
        match self.db.scope_of(subject).await {
            Ok(text) => {
                let scope = parse_scope(&text);
                self.cache.insert(subject, (scope, Instant::now()));
                scope
            }
            Err(error) => {
                // Not cached: the next request asks again.
                tracing::warn!(%subject, error = ?error, "cannot resolve the caller's scope; reporting none");
                Scope::Unassigned
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_texts() {
        assert_eq!(parse_scope("all"), Scope::HeadOffice);
        assert_eq!(parse_scope("3"), Scope::Store(3));
        assert_eq!(parse_scope("none"), Scope::Unassigned);
    }
}
