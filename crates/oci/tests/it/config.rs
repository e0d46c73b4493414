//! Image config fields, from a layout and from a registry.

use std::collections::BTreeMap;

use portcullis_oci::{Healthcheck, ImageConfig};
use portcullis_testkit::images;
use portcullis_testkit::images::ImageName;

use crate::common::{Shared, local_options, open, options_for, registry};
use crate::sources::assert_info_matches_layout;

fn assert_configured(config: &ImageConfig) {
    assert_eq!(config.user.as_deref(), Some("1000"));
    assert_eq!(config.exposed_ports, vec!["22/tcp", "8080/tcp"]);
    assert_eq!(
        config.healthcheck,
        Some(Healthcheck {
            test: vec![
                "CMD-SHELL".into(),
                "wget -q -O- http://127.0.0.1:8080/ || exit 1".into()
            ],
            interval: Some(30_000_000_000),
            timeout: Some(5_000_000_000),
            retries: Some(3),
        })
    );
    assert_eq!(
        config.env,
        vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "PORTCULLIS=test"
        ]
    );
    assert_eq!(
        config.labels,
        BTreeMap::from([(
            "org.opencontainers.image.title".to_string(),
            "configured".to_string()
        )])
    );
    assert_eq!(config.entrypoint, vec!["/bin/sh"]);
    assert_eq!(config.cmd, vec!["-c", "sleep 1"]);
    assert_eq!(config.working_dir.as_deref(), Some("/srv"));
    assert_eq!(config.os.as_deref(), Some("linux"));
    assert_eq!(config.architecture.as_deref(), Some("amd64"));
    let created = images().layout().config("configured")["created"].clone();
    assert_eq!(config.created.as_deref(), created.as_str());
}

#[test]
fn config_from_oci_dir() {
    let image = open(
        &images().oci_dir_source(ImageName::Configured),
        &local_options(),
    );
    assert_info_matches_layout(image.info(), ImageName::Configured);
    assert_configured(&image.info().config);
}

#[test]
fn config_from_registry() {
    let registry = registry(Shared::Plain);
    let image = open(
        &registry.reference("configured:latest"),
        &options_for(registry),
    );
    assert_info_matches_layout(image.info(), ImageName::Configured);
    assert_configured(&image.info().config);
}

#[test]
fn config_without_user_or_ports() {
    let image = open(
        &images().oci_dir_source(ImageName::Alpine320),
        &local_options(),
    );
    let config = &image.info().config;
    assert_eq!(config.user, None);
    assert!(config.exposed_ports.is_empty());
    assert_eq!(config.healthcheck, None);
}
