//! `portcullis policy list|show|eval`.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use portcullis_policy::{Decision, Format};
use portcullis_scan::ScanResult;

use crate::args::{GlobalArgs, InspectFormat, PolicyCommand, PolicyFormatArg};
use crate::commands::scan::{decision_code, resolve_policy, scan_filtered};
use crate::exit::Code;
use crate::output::write_output;

pub fn run(cmd: &PolicyCommand, global: &GlobalArgs) -> Result<Code> {
    match cmd {
        PolicyCommand::List => {
            write_output(list_table().as_bytes(), None)?;
            Ok(Code::Ok)
        }
        PolicyCommand::Show { id, format } => {
            let format = match format {
                PolicyFormatArg::Yaml => Format::Yaml,
                PolicyFormatArg::Json => Format::Json,
            };
            let mut text = portcullis_policy::show(id, format)?;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            write_output(text.as_bytes(), None)?;
            Ok(Code::Ok)
        }
        PolicyCommand::Eval {
            policy,
            image,
            options,
            filters,
            format,
            fail_on_warn,
        } => {
            let policy = resolve_policy(policy, image)?;
            let (mut result, _) = scan_filtered(image, options, filters, None, global)?;
            portcullis_scan::judge(&mut result, &policy, portcullis_policy::time::now());
            let decision = result
                .decision
                .as_ref()
                .context("the policy produced no decision")?;
            let out = match format {
                InspectFormat::Table => decision_table(&result, decision),
                InspectFormat::Json => decision_json(&result, decision)?,
            };
            write_output(out.as_bytes(), None)?;
            Ok(decision_code(decision, *fail_on_warn))
        }
    }
}

/// The built-in policies, one line each.
fn list_table() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:<20} DESCRIPTION", "ID");
    for policy in portcullis_policy::builtins() {
        let _ = writeln!(s, "{:<20} {}", policy.id, policy.description);
    }
    s
}

fn decision_table(result: &ScanResult, decision: &Decision) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Image     {}", result.image.reference);
    let _ = writeln!(s, "Policy    {}", decision.policy_id);
    let _ = writeln!(
        s,
        "Decision  {}",
        decision.final_action.as_str().to_ascii_uppercase()
    );
    if decision.results.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "\n{:<6} {:<16} {:<30} MESSAGE",
        "ACTION", "GATE", "TRIGGER"
    );
    for r in &decision.results {
        let _ = writeln!(
            s,
            "{:<6} {:<16} {:<30} {}",
            r.action.as_str(),
            r.gate,
            r.trigger,
            r.message
        );
    }
    s
}

fn decision_json(result: &ScanResult, decision: &Decision) -> Result<String> {
    let value = serde_json::json!({
        "image": {
            "reference": result.image.reference,
            "digest": result.image.digest.as_ref().map(ToString::to_string),
        },
        "policy": decision,
    });
    Ok(format!("{}\n", serde_json::to_string_pretty(&value)?))
}
