//! `portcullis activate`: install (or update) Portcullis in the cluster from a spec, read
//! from `-f`, standard input, or the interactive wizard on a terminal.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use portcullis_lifecycle::cluster::{self, ActivateOptions, ActivationReport};
use portcullis_lifecycle::spec::MAX_SPEC_LEN;
use portcullis_lifecycle::{Spec, manifests, parse_spec, wizard};

use crate::exit::Code;

/// Where the cluster is.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The install namespace.
    #[arg(long, short = 'n', default_value = portcullis_lifecycle::DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// The kubeconfig file [default: $KUBECONFIG, ~/.kube/config, or in-cluster].
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context [default: the current one].
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

impl ClusterArgs {
    /// A client for the cluster.
    pub async fn client(&self) -> Result<kube::Client> {
        Ok(cluster::connect(self.kubeconfig.as_deref(), self.context.as_deref()).await?)
    }
}

/// Arguments of `portcullis activate`.
#[derive(Debug, Args)]
pub struct ActivateArgs {
    /// The spec (JSON or YAML; `-` for standard input). Without it: standard input when it
    /// is not a terminal, else the interactive wizard.
    #[arg(long, short = 'f', value_name = "SPEC")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The container image to run (overrides the spec's `image`).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// How long to wait for the Deployment to become ready, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The spec from `file` (`-`: standard input), else from standard input when it is not a
/// terminal; `None` when neither.
pub fn read_spec(file: Option<&Path>) -> Result<Option<Spec>> {
    let limit = u64::try_from(MAX_SPEC_LEN).unwrap_or(u64::MAX) + 1;
    let (text, name) = match file {
        Some(path) if path != Path::new("-") => {
            let mut text = String::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(limit).read_to_string(&mut text))
                .with_context(|| format!("reading the spec {}", path.display()))?;
            (text, path.display().to_string())
        }
        Some(_) => (read_stdin(limit)?, "standard input".to_string()),
        None if !std::io::stdin().is_terminal() => {
            (read_stdin(limit)?, "standard input".to_string())
        }
        None => return Ok(None),
    };
    let spec = parse_spec(&text).with_context(|| format!("the spec from {name}"))?;
    Ok(Some(spec))
}

fn read_stdin(limit: u64) -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .take(limit)
        .read_to_string(&mut text)
        .context("reading the spec from standard input")?;
    Ok(text)
}

pub fn run(args: &ActivateArgs) -> Result<Code> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let client = args.cluster.client().await?;
        let namespace = &args.cluster.namespace;
        let spec = match read_spec(args.file.as_deref())? {
            Some(spec) => spec,
            None => {
                let namespaces = cluster::list_namespaces(&client).await?;
                wizard::run(&namespaces, namespace)?
            }
        };
        let options = ActivateOptions {
            namespace: namespace.clone(),
            image: manifests::image_for(args.image.as_deref(), &spec),
            wait_timeout: Duration::from_secs(args.timeout),
            poll_interval: Duration::from_secs(2),
            now: now(),
        };
        let report = cluster::activate(&client, &spec, &options).await?;
        print_report(&report, args.json)?;
        Ok(Code::Ok)
    })
}

/// A single-threaded Tokio runtime for the cluster commands.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn print_report(report: &ActivationReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    for object in &report.objects {
        match &object.namespace {
            Some(ns) => println!("{} ({ns}) {}", object.object, object.change.as_str()),
            None => println!("{} {}", object.object, object.change.as_str()),
        }
    }
    println!(
        "certificate {} (expires {})",
        match report.certificate {
            cluster::CertificateAction::Created => "created",
            cluster::CertificateAction::Kept => "kept",
            cluster::CertificateAction::Renewed => "renewed",
        },
        report.certificate_expires
    );
    println!(
        "Portcullis is active in namespace {} ({} replicas ready).",
        report.namespace, report.ready_replicas
    );
    Ok(())
}
