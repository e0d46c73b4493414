//! `portcullis status`: whether Portcullis is active, the spec in force, replicas, database
//! age and certificate expiry.

use anyhow::Result;
use clap::Args;
use portcullis_lifecycle::cluster;

use crate::commands::activate::{ClusterArgs, now, runtime};
use crate::exit::Code;

/// Arguments of `portcullis status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &StatusArgs) -> Result<Code> {
    runtime()?.block_on(async {
        let client = args.cluster.client().await?;
        let status = cluster::status(&client, &args.cluster.namespace, now()).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&status)?);
            return Ok(Code::Ok);
        }
        println!("namespace:     {}", status.namespace);
        println!(
            "active:        {}",
            if status.active { "yes" } else { "no" }
        );
        println!(
            "webhook:       {}",
            if status.webhook_registered {
                "registered"
            } else {
                "not registered"
            }
        );
        match (status.ready_replicas, status.desired_replicas) {
            (Some(ready), Some(desired)) => println!("replicas:      {ready}/{desired} ready"),
            _ => println!("replicas:      no deployment"),
        }
        match status.database_age_seconds {
            Some(age) => println!("database age:  {}h{:02}m", age / 3600, age % 3600 / 60),
            None => println!("database age:  unknown"),
        }
        match (&status.certificate_expires, status.certificate_days_left) {
            (Some(when), Some(days)) => println!("certificate:   expires {when} ({days} days)"),
            _ => println!("certificate:   none"),
        }
        match &status.spec {
            Some(spec) => println!("spec:\n{}", spec.to_json()),
            None => println!("spec:          none"),
        }
        Ok(Code::Ok)
    })
}
