//! `portcullis serve`: the admission webhook and REST API server.

use std::path::Path;

use anyhow::{Context, Result, bail};
use portcullis_config::{RegistryConfig, ServerConfig, TlsConfig};
use portcullis_server::{Settings, Updates};

use crate::args::{GlobalArgs, ServeArgs};
use crate::exit::Code;

/// The configuration in force: the file, then `PORTCULLIS_*` variables, then flags.
pub fn effective_config(
    args: &ServeArgs,
    global: &GlobalArgs,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<ServerConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            ServerConfig::from_yaml(&text, &path.display().to_string())?
        }
        None => ServerConfig::default(),
    };
    config.apply_env(env)?;
    if let Some(listen) = &args.listen {
        config.listen.clone_from(listen);
    }
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            config.tls = Some(TlsConfig {
                cert: cert.display().to_string(),
                key: key.display().to_string(),
            });
        }
        (None, None) => {}
        _ => bail!("--tls-cert and --tls-key go together"),
    }
    if args.plain_http {
        config.plain_http = true;
    }
    if let Some(db) = &global.db {
        config.database.path = Some(db.display().to_string());
    }
    if let Some(policy) = &args.policy {
        config.policy.inline = None;
        // As `scan --policy`: a built-in id first, then a file.
        if portcullis_policy::builtin(policy).is_some() {
            config.policy.id = Some(policy.clone());
            config.policy.file = None;
        } else if Path::new(policy).is_file() {
            config.policy.file = Some(policy.clone());
            config.policy.id = None;
        } else {
            portcullis_policy::load_set(policy).with_context(|| format!("--policy {policy}"))?;
        }
    }
    config
        .ca_certs
        .extend(args.ca_cert.iter().map(|p| p.display().to_string()));
    if let Some(url) = &args.engine {
        config.engine.url = Some(url.clone());
    }
    if let Some(file) = &args.engine_token_file {
        config.engine.token_file = Some(file.display().to_string());
    }
    if let Some(file) = &args.engine_ca {
        config.engine.ca_bundle = Some(file.display().to_string());
    }
    for host in &args.insecure_registry {
        match config.registries.iter_mut().find(|r| &r.registry == host) {
            Some(entry) => entry.insecure = true,
            None => config.registries.push(RegistryConfig {
                registry: host.clone(),
                secret: None,
                insecure: true,
            }),
        }
    }
    Ok(config)
}

/// Run the server until interrupted (SIGINT or SIGTERM).
pub fn run(args: &ServeArgs, global: &GlobalArgs) -> Result<Code> {
    let config = effective_config(args, global, std::env::vars())?;
    let mut settings = Settings::new(config.clone());
    // A changed policy in the file is loaded without a restart.
    settings.config_path.clone_from(&args.config);
    settings.updates = Some(Updates::from_config(&config.database));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(async move {
        let server = portcullis_server::start(settings).await?;
        eprintln!(
            "portcullis serve: listening on {} ({})",
            server.addr,
            if config.plain_http {
                "plain HTTP"
            } else {
                "HTTPS"
            }
        );
        if let Some(addr) = server.harbor_addr {
            eprintln!("portcullis serve: Harbor scanner adapter listening on {addr}");
        }
        wait_for_signal().await;
        server.shutdown().await;
        Ok(Code::Ok)
    });
    // Registry work abandoned at its deadline may still hold a blocking thread (until the
    // registry client's own deadline ends it): do not wait for it to exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    outcome
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command};

    fn parse(argv: &[&str]) -> (ServeArgs, GlobalArgs) {
        let cli = Cli::try_parse_from(argv).unwrap();
        match cli.command {
            Command::Serve(args) => (args, cli.global),
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn flags_override_environment_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve.yaml");
        std::fs::write(
            &file,
            "listen: 0.0.0.0:1\nscanBudget: 5s\nregistries:\n- registry: reg.local:5000\n  secret: pull\n",
        )
        .unwrap();
        let (args, global) = parse(&[
            "portcullis",
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:9443",
            "--plain-http",
            "--db",
            "/tmp/x.sqlite",
            "--policy",
            "reject_high",
            "--insecure-registry",
            "reg.local:5000",
            "--insecure-registry",
            "other:80",
        ]);
        let env = vec![
            ("PORTCULLIS_LISTEN".to_string(), "0.0.0.0:2".to_string()),
            ("PORTCULLIS_SCAN_BUDGET".to_string(), "3s".to_string()),
        ];
        let config = effective_config(&args, &global, env).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9443");
        assert_eq!(
            config.scan_budget,
            portcullis_config::Duration::from_secs(3)
        );
        assert!(config.plain_http);
        assert_eq!(config.database.path.as_deref(), Some("/tmp/x.sqlite"));
        assert_eq!(config.policy.id.as_deref(), Some("reject_high"));
        assert_eq!(
            config.registries,
            vec![
                RegistryConfig {
                    registry: "reg.local:5000".into(),
                    secret: Some("pull".into()),
                    insecure: true
                },
                RegistryConfig {
                    registry: "other:80".into(),
                    secret: None,
                    insecure: true
                },
            ]
        );
    }

    #[test]
    fn serve_help_prints_the_true_defaults() {
        let defaults: serde_json::Value = serde_json::to_value(ServerConfig::default()).unwrap();
        let mut checked = 0;
        for line in crate::args::SERVE_LIMITS.lines() {
            let Some((key, rest)) = line.trim().split_once(" [") else {
                continue;
            };
            if key.contains(' ') {
                continue;
            }
            let (value, _) = rest.split_once(']').unwrap();
            // Nested keys (`rescan.interval`) are paths.
            let pointer = format!("/{}", key.replace('.', "/"));
            let expected = match defaults
                .pointer(&pointer)
                .unwrap_or(&serde_json::Value::Null)
            {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(value, expected, "{key}");
            checked += 1;
        }
        assert_eq!(checked, 22);
    }

    #[test]
    fn unknown_policy_ids_are_refused() {
        let (args, global) = parse(&["portcullis", "serve", "--policy", "no_such_policy"]);
        let err = effective_config(&args, &global, Vec::new()).unwrap_err();
        assert!(format!("{err:#}").contains("no_such_policy"), "{err:#}");
    }
}
