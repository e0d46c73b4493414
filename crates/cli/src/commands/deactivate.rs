//! `portcullis deactivate`: remove the webhook first, then the rest.

use anyhow::Result;
use clap::Args;
use portcullis_lifecycle::cluster;

use crate::commands::activate::{ClusterArgs, runtime};
use crate::exit::Code;

/// Arguments of `portcullis deactivate`.
#[derive(Debug, Args)]
pub struct DeactivateArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Also delete the CRDs with every WhiteListItem and Audit, and the namespace.
    #[arg(long)]
    pub purge: bool,
}

pub fn run(args: &DeactivateArgs) -> Result<Code> {
    runtime()?.block_on(async {
        let client = args.cluster.client().await?;
        let removed = cluster::deactivate(&client, &args.cluster.namespace, args.purge).await?;
        for object in &removed {
            match &object.namespace {
                Some(ns) => println!("{} ({ns}) {}", object.object, object.change.as_str()),
                None => println!("{} {}", object.object, object.change.as_str()),
            }
        }
        if !args.purge {
            println!(
                "Kept: the CRDs with their WhiteListItems and Audits, and namespace {} (use --purge to delete them).",
                args.cluster.namespace
            );
        }
        Ok(Code::Ok)
    })
}
