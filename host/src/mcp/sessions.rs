//! Live MCP sessions, so a change of the tool list reaches every client as
//! `notifications/tools/list_changed` (on its GET stream).

use std::sync::{Arc, Mutex};

use rmcp::{Peer, RoleServer};

use crate::runtime::registry::Registry;

#[derive(Default)]
pub struct Sessions {
    peers: Mutex<Vec<Peer<RoleServer>>>,
}

impl Sessions {
    pub fn add(&self, peer: Peer<RoleServer>) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers.retain(|p| !p.is_transport_closed());
        peers.push(peer);
    }

    /// Sessions whose transport is still open.
    pub fn count(&self) -> usize {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers.retain(|p| !p.is_transport_closed());
        peers.len()
    }

    /// Tells every open session that the tool list changed.
    pub async fn notify_tool_list_changed(&self) {
        let peers: Vec<_> = {
            let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            peers.retain(|p| !p.is_transport_closed());
            peers.clone()
        };
        let sends = peers.iter().map(|peer| peer.notify_tool_list_changed());
        for result in futures::future::join_all(sends).await {
            if let Err(error) = result {
                tracing::debug!(%error, "could not notify a session of the tool list change");
            }
        }
    }

    /// Forwards every registry change to the sessions until the registry goes.
    pub async fn forward_changes(self: Arc<Self>, registry: Arc<Registry>) {
        let mut changes = registry.subscribe();
        drop(registry);
        while changes.changed().await.is_ok() {
            self.notify_tool_list_changed().await;
        }
    }
}
