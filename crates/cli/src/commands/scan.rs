//! `portcullis scan`: image → packages → findings → filters → (policy) → report.

use anyhow::{Context, Result};
use portcullis_oci::ImageSource;
use portcullis_policy::{Action, Decision, Policy};
use portcullis_report::scan::ScanFormat;
use portcullis_scan::{FilterSummary, Filters, IgnoreFile, ScanResult, VexDocument};

use crate::args::{FilterArgs, GlobalArgs, ImageArgs, ScanArgs, ScanFormatArg, SourceArgs};
use crate::commands::db::{FirstUse, db_path, open_or_build};
use crate::commands::inventory;
use crate::exit::Code;
use crate::output::write_output;

pub fn run(args: &ScanArgs, global: &GlobalArgs) -> Result<Code> {
    let policy = args
        .policy
        .as_deref()
        .map(|spec| resolve_policy(spec, &args.image))
        .transpose()?;
    let fetch = (!args.offline).then_some(&args.sources);
    let (mut result, _summary) =
        scan_filtered(&args.image, &args.options, &args.filters, fetch, global)?;
    if let Some(policy) = &policy {
        portcullis_scan::judge(&mut result, policy, portcullis_policy::time::now());
    }
    let mut rendered = Vec::new();
    render(&result, args.format, &mut rendered)?;
    if !rendered.ends_with(b"\n") {
        rendered.push(b'\n');
    }
    write_output(&rendered, args.output.as_deref())?;
    Ok(match &result.decision {
        Some(decision) => decision_code(decision, args.fail_on_warn),
        None if !result.findings.is_empty() => Code::Findings(args.exit_code),
        None => Code::Ok,
    })
}

/// Load the filters, open the database (building it first when `fetch` is given and there is
/// none, else saying how to get one), scan the image and apply the filters. The filter
/// summary goes to standard error unless `--quiet`.
pub fn scan_filtered(
    image: &str,
    image_args: &ImageArgs,
    filter_args: &FilterArgs,
    fetch: Option<&SourceArgs>,
    global: &GlobalArgs,
) -> Result<(ScanResult, FilterSummary)> {
    let filters = load_filters(filter_args)?;
    // The image's registry flags apply to database repositories too, except the password on
    // standard input, which belongs to the image (credentials come from the docker config).
    let registry = portcullis_oci::RegistryOptions {
        insecure: image_args.insecure,
        ca_certs: image_args.ca_certs.clone(),
        ..portcullis_oci::RegistryOptions::default()
    };
    let first_use = fetch.map(|sources| FirstUse {
        sources,
        registry: &registry,
    });
    let db = open_or_build(&db_path(global)?, first_use, global)?;
    let mut result = inventory::scan(image, image_args, &db, global)?;
    let summary =
        portcullis_scan::apply_filters(&mut result, &filters, portcullis_policy::time::now());
    if !global.quiet
        && let Some(line) = summary.describe()
    {
        eprintln!("{line}");
    }
    Ok((result, summary))
}

/// Read `--severity`, `--ignore-unfixed`, `--ignore-file` and `--vex`.
pub fn load_filters(args: &FilterArgs) -> Result<Filters> {
    let severities = args
        .severity
        .as_deref()
        .map(|list| portcullis_scan::parse_severity_list(list).context("--severity"))
        .transpose()?;
    let ignore_files = args
        .ignore_files
        .iter()
        .map(|path| IgnoreFile::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    let vex = args
        .vex
        .iter()
        .map(|path| VexDocument::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Filters {
        severities,
        ignore_unfixed: args.ignore_unfixed,
        ignore_files,
        vex,
    })
}

/// `--policy ID|FILE`: a built-in id, or a policy (set) document whose mappings choose the
/// policy for `image` by registry, repository and tag (sources other than registries have
/// neither, so only mappings of `*` globs apply to them).
pub fn resolve_policy(spec: &str, image: &str) -> Result<Policy> {
    let set = portcullis_policy::load_set(spec).with_context(|| format!("--policy {spec}"))?;
    let (registry, repository, tag) = match ImageSource::parse(image) {
        Ok(ImageSource::Registry(reference)) => (
            reference.registry().to_string(),
            reference.repository().to_string(),
            reference.tag().map(str::to_string),
        ),
        _ => (String::new(), String::new(), None),
    };
    let id = set
        .select_id(&registry, &repository, tag.as_deref())
        .to_string();
    set.policy(&id).with_context(|| {
        format!("--policy {spec}: the policy '{id}' chosen for {image} is not defined")
    })
}

/// The exit code of a decision: stop is 1, warn is 1 only with `--fail-on-warn`.
pub fn decision_code(decision: &Decision, fail_on_warn: bool) -> Code {
    match decision.final_action {
        Action::Stop => Code::Stop,
        Action::Warn if fail_on_warn => Code::Stop,
        Action::Warn | Action::Go => Code::Ok,
    }
}

/// Render `result` in `format` (the report crate's scan renderings).
fn render(result: &ScanResult, format: ScanFormatArg, out: &mut Vec<u8>) -> Result<()> {
    let format = match format {
        ScanFormatArg::Table => ScanFormat::Table,
        ScanFormatArg::Json => ScanFormat::Json,
        ScanFormatArg::Sarif => ScanFormat::Sarif,
        ScanFormatArg::Cyclonedx => ScanFormat::CycloneDx,
    };
    portcullis_report::scan::render(result, format, out).with_context(|| {
        format!(
            "rendering the scan of {} as {format}",
            result.image.reference
        )
    })
}
