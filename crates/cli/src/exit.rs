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
/// the line already holds ([`portcullis_types::error::Chain`], as the server shows errors).
pub fn render_error(err: &anyhow::Error) -> String {
    let error: &(dyn std::error::Error + 'static) = err.as_ref();
    portcullis_types::error::Chain(error).to_string()
}
