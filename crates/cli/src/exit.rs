//! Exit codes CI systems can branch on.

use std::process::ExitCode;

/// The process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Success (and policy "go", or "warn" without `--fail-on-warn`).
    Ok,
    /// Usage or runtime error (clap uses 2 for usage errors too).
    Error,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        match code {
            Code::Ok => ExitCode::SUCCESS,
            Code::Error => ExitCode::from(2),
        }
    }
}

/// One line: the error and its causes, joined with ": ", skipping causes whose text
/// the outer message already contains.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut out = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}
