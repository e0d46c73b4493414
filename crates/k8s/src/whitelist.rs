//! Watching `WhiteListItem`s with a kube-rs reflector.

use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt as _;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client};

use crate::crd::WhiteListItem;

/// A reflector over every `WhiteListItem` of the cluster: the store it fills, and the
/// future that drives it (spawn it; it runs until dropped, retrying with backoff).
/// `on_change` gets the whole current set after each event once the first list is complete.
pub fn reflect<F>(
    client: Client,
    mut on_change: F,
) -> (Store<WhiteListItem>, impl Future<Output = ()> + Send)
where
    F: FnMut(Vec<Arc<WhiteListItem>>) + Send + 'static,
{
    let api: Api<WhiteListItem> = Api::all(client);
    let (store, writer) = reflector::store();
    let reader = store.clone();
    let driver = async move {
        let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff();
        futures_util::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Ok(_) => on_change(reader.state()),
                Err(e) => tracing::warn!(error = %e, "watching WhiteListItems"),
            }
        }
    };
    (store, driver)
}
