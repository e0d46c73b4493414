//! The release whitelist: entries from the configuration file, from `WhiteListItem`
//! resources (watched), and, without a cluster, added through the API.

use std::sync::RwLock;

use portcullis_config::WhitelistConfig;

/// One whitelist entry as the API shows it: the webhook's entry.
pub use portcullis_webhook::WhitelistEntry as WhitelistItem;

/// Every whitelist entry, by origin.
#[derive(Debug, Default)]
pub struct WhitelistState {
    config: Vec<WhitelistItem>,
    resources: RwLock<Vec<WhitelistItem>>,
    local: RwLock<Vec<WhitelistItem>>,
}

impl WhitelistState {
    /// A whitelist starting with the configuration's entries.
    pub fn new(config: &[WhitelistConfig]) -> Self {
        Self {
            config: portcullis_webhook::Whitelist::from_config(config),
            ..Self::default()
        }
    }

    /// Every entry: configuration, resources, then API-added ones.
    pub fn items(&self) -> Vec<WhitelistItem> {
        let mut out = self.config.clone();
        out.extend(
            self.resources
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned(),
        );
        out.extend(
            self.local
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned(),
        );
        out
    }

    /// Replace the entries that come from resources (kept sorted by name).
    pub fn set_resources(&self, mut items: Vec<WhitelistItem>) {
        items.sort_by(|a, b| a.name.cmp(&b.name));
        *self.resources.write().unwrap_or_else(|e| e.into_inner()) = items;
    }

    /// Add (or replace by name) an entry kept in memory.
    pub fn add_local(&self, mut item: WhitelistItem) {
        item.origin = "api".to_string();
        let mut local = self.local.write().unwrap_or_else(|e| e.into_inner());
        local.retain(|i| i.name != item.name);
        local.push(item);
    }

    /// Remove an in-memory entry; whether there was one.
    pub fn remove_local(&self, name: &str) -> bool {
        let mut local = self.local.write().unwrap_or_else(|e| e.into_inner());
        let before = local.len();
        local.retain(|i| i.name != name);
        local.len() != before
    }

    /// Whether `name` is an entry of the configuration file.
    pub fn in_config(&self, name: &str) -> bool {
        self.config.iter().any(|i| i.name == name)
    }
}
