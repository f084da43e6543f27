use uuid::Uuid;

/// The classic sample's head-office user id.
pub const HEAD_OFFICE_ID: Uuid = Uuid::nil();

/// What rows a caller may see. Mirrors `caller.scope` in the WIT contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    HeadOffice,
    Store(i32),
    /// A known-shaped id that maps to no store: sees no store-scoped rows.
    Unassigned,
}

impl Scope {
    /// `head-office`, `store:<id>` or `unassigned`, as logs, traces and the
    /// audit trail name it.
    pub fn label(&self) -> String {
        match self {
            Self::HeadOffice => "head-office".into(),
            Self::Store(id) => format!("store:{id}"),
            Self::Unassigned => "unassigned".into(),
        }
    }
}

/// Maps an RLS user id to its scope.
#[async_trait::async_trait]
pub trait ScopeResolver: Send + Sync + 'static {
    async fn resolve(&self, subject: Uuid) -> Scope;
}

/// Head office for the all-zero id, a fixed table for store managers.
/// (The database issue replaces this with the manager table in PostgreSQL.)
#[derive(Debug, Default, Clone)]
pub struct StaticScopeResolver {
    stores: std::collections::HashMap<Uuid, i32>,
}

impl StaticScopeResolver {
    pub fn with_stores(stores: impl IntoIterator<Item = (Uuid, i32)>) -> Self {
        Self {
            stores: stores.into_iter().collect(),
        }
    }
}

#[async_trait::async_trait]
impl ScopeResolver for StaticScopeResolver {
    async fn resolve(&self, subject: Uuid) -> Scope {
        if subject == HEAD_OFFICE_ID {
            return Scope::HeadOffice;
        }
        self.stores
            .get(&subject)
            .map_or(Scope::Unassigned, |&store| Scope::Store(store))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn all_zero_id_is_head_office_and_unknown_is_unassigned() {
        let seattle: Uuid = "f47ac10b-58cc-4372-a567-0e02b2c3d479".parse().unwrap();
        let resolver = StaticScopeResolver::with_stores([(seattle, 1)]);
        assert_eq!(resolver.resolve(HEAD_OFFICE_ID).await, Scope::HeadOffice);
        assert_eq!(resolver.resolve(seattle).await, Scope::Store(1));
        assert_eq!(
            resolver.resolve(Uuid::from_u128(7)).await,
            Scope::Unassigned
        );
    }
}
