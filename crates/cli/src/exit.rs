//! Exit codes CI systems can branch on.

use std::process::ExitCode;

/// The process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Success (and policy "go", or "warn" without `--fail-on-warn`).
    Ok,
    /// The policy said stop (or warn with `--fail-on-warn`).
    Stop,
    /// Usage or runtime error (clap uses 2 for usage errors too).
    Error,
    /// `scan --exit-code N` when findings remain and no policy was given.
    Findings(u8),
}

impl Code {
    /// The numeric exit status.
    pub fn value(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Stop => 1,
            Self::Error => 2,
            Self::Findings(n) => n,
        }
    }
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code.value())
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
