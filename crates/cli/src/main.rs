//! `portcullis`: keeps images with known vulnerabilities out of Kubernetes.

mod args;
mod commands;
mod exit;
mod logging;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.global.verbose, cli.global.quiet);
    let result = match &cli.command {
        Command::Serve(args) => commands::serve::run(args, &cli.global),
        Command::Image(cmd) => commands::image::run(cmd, &cli.global),
        Command::Db(cmd) => commands::db::run(cmd, &cli.global),
        Command::Sbom {
            image,
            options,
            format,
            output,
            attach,
        } => commands::sbom::run(
            image,
            options,
            *format,
            output.as_deref(),
            *attach,
            &cli.global,
        ),
        Command::Activate(args) => commands::activate::run(args),
        Command::Deactivate(args) => commands::deactivate::run(args),
        Command::Status(args) => commands::status::run(args),
        Command::Manifests(args) => commands::manifests::run(args),
        Command::Scan(args) => commands::scan::run(args, &cli.global),
        Command::Policy(cmd) => commands::policy::run(cmd, &cli.global),
    };
    match result {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {}", exit::render_error(&err));
            exit::Code::Error.into()
        }
    }
}
