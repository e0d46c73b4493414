//! Logs through `tracing`, to stderr; `RUST_LOG` overrides the verbosity flags.

use tracing_subscriber::EnvFilter;

/// Set up the global subscriber: warnings by default, `-v` info, `-vv` debug, `-vvv` trace.
pub fn init(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
