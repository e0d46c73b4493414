//! `portcullis manifests`: the objects `activate` would apply, as multi-document YAML.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use portcullis_lifecycle::manifests::{self, ManifestOptions, TlsSource};
use portcullis_lifecycle::{Spec, cert, validate};

use crate::commands::activate::{now, read_spec};
use crate::exit::Code;
use crate::output::write_output;

/// Arguments of `portcullis manifests`.
#[derive(Debug, Args)]
pub struct ManifestsArgs {
    /// The spec (JSON or YAML; `-` for standard input). Without it, standard input when it
    /// is not a terminal, else the default spec.
    #[arg(long, short = 'f', value_name = "SPEC")]
    pub file: Option<PathBuf>,
    /// The install namespace.
    #[arg(long, short = 'n', default_value = portcullis_lifecycle::DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// The container image to run (overrides the spec's `image`).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Leave out the TLS Secret and the webhook's caBundle (supplied from elsewhere).
    #[arg(long)]
    pub external_tls: bool,
    /// Write a kustomize base (kustomization.yaml and portcullis.yaml) into DIR instead;
    /// implies --external-tls, so no private key lands in the repository.
    #[arg(long, value_name = "DIR")]
    pub kustomize: Option<PathBuf>,
    /// Write the Helm chart (from the default spec) into DIR instead.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["kustomize", "file"])]
    pub helm: Option<PathBuf>,
    /// Write to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE", conflicts_with = "kustomize")]
    pub output: Option<PathBuf>,
}

pub fn run(args: &ManifestsArgs) -> Result<Code> {
    if let Some(dir) = &args.helm {
        for (name, content) in portcullis_lifecycle::helm::chart_files()? {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            write_output(content.as_bytes(), Some(&path))?;
        }
        return Ok(Code::Ok);
    }
    let spec = read_spec(args.file.as_deref())?.unwrap_or_else(Spec::default);
    validate(&spec, &args.namespace)?;
    let tls = if args.external_tls || args.kustomize.is_some() {
        TlsSource::External
    } else {
        TlsSource::Generated(cert::generate(manifests::NAME, &args.namespace, now())?)
    };
    let options = ManifestOptions {
        namespace: args.namespace.clone(),
        image: manifests::image_for(args.image.as_deref(), &spec),
        tls,
    };
    let built = manifests::build(&spec, &options)?;
    match &args.kustomize {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, content) in manifests::kustomize_files(&built)? {
                write_output(content.as_bytes(), Some(&dir.join(name)))?;
            }
        }
        None => write_output(
            manifests::to_yaml(&built)?.as_bytes(),
            args.output.as_deref(),
        )?,
    }
    Ok(Code::Ok)
}
