//! `portcullis image inspect`: an image's identity, config and layers, as a table or JSON.

use portcullis_types::{Healthcheck, ImageInfo, SourceKind};
use serde::Serialize;

/// The JSON `image inspect -f json` prints (pretty, ending in a newline).
pub fn inspect_json(info: &ImageInfo) -> serde_json::Result<String> {
    let mut s = serde_json::to_string_pretty(&InspectJson::from(info))?;
    s.push('\n');
    Ok(s)
}

#[derive(Serialize)]
struct InspectJson<'a> {
    reference: &'a str,
    source: SourceKind,
    digest: Option<&'a str>,
    manifest_digest: Option<&'a str>,
    config_digest: Option<&'a str>,
    platform: Option<String>,
    config: ConfigJson<'a>,
    layers: Vec<LayerJson<'a>>,
}

#[derive(Serialize)]
struct ConfigJson<'a> {
    user: Option<&'a str>,
    exposed_ports: &'a [String],
    healthcheck: Option<&'a Healthcheck>,
    env: &'a [String],
    labels: &'a std::collections::BTreeMap<String, String>,
    entrypoint: &'a [String],
    cmd: &'a [String],
    working_dir: Option<&'a str>,
    created: Option<&'a str>,
}

#[derive(Serialize)]
struct LayerJson<'a> {
    digest: &'a str,
    size: u64,
    media_type: &'a str,
    diff_id: Option<&'a str>,
}

impl<'a> From<&'a ImageInfo> for InspectJson<'a> {
    fn from(info: &'a ImageInfo) -> Self {
        let c = &info.config;
        Self {
            reference: &info.reference,
            source: info.source,
            digest: info.digest.as_ref().map(|d| d.as_str()),
            manifest_digest: info.manifest_digest.as_ref().map(|d| d.as_str()),
            config_digest: info.config_digest.as_ref().map(|d| d.as_str()),
            platform: info.platform.as_ref().map(ToString::to_string),
            config: ConfigJson {
                user: c.user.as_deref(),
                exposed_ports: &c.exposed_ports,
                healthcheck: c.healthcheck.as_ref(),
                env: &c.env,
                labels: &c.labels,
                entrypoint: &c.entrypoint,
                cmd: &c.cmd,
                working_dir: c.working_dir.as_deref(),
                created: c.created.as_deref(),
            },
            layers: info
                .layers
                .iter()
                .map(|l| LayerJson {
                    digest: l.digest.as_str(),
                    size: l.size,
                    media_type: &l.media_type,
                    diff_id: l.diff_id.as_ref().map(|d| d.as_str()),
                })
                .collect(),
        }
    }
}

/// The table `image inspect` prints: reference, digests, platform, user, ports, health
/// check, and one line per layer.
pub fn inspect_table(info: &ImageInfo) -> String {
    use std::fmt::Write as _;
    let c = &info.config;
    let mut s = String::new();
    let none = "-";
    let total: u64 = info.layers.iter().map(|l| l.size).sum();
    let _ = writeln!(s, "Reference    {}", info.reference);
    let _ = writeln!(
        s,
        "Digest       {}",
        info.digest.as_ref().map_or(none, |d| d.as_str())
    );
    if let Some(m) = &info.manifest_digest {
        let _ = writeln!(s, "Manifest     {m}");
    }
    let _ = writeln!(
        s,
        "Platform     {}",
        info.platform
            .as_ref()
            .map_or_else(|| none.to_string(), ToString::to_string)
    );
    let user = match c.user.as_deref() {
        None => "(not set: root)".to_string(),
        Some(u) => u.to_string(),
    };
    let _ = writeln!(s, "User         {user}");
    let ports = if c.exposed_ports.is_empty() {
        none.to_string()
    } else {
        c.exposed_ports.join(", ")
    };
    let _ = writeln!(s, "Ports        {ports}");
    let health = match &c.healthcheck {
        None => "(none)".to_string(),
        Some(h) => h.test.join(" "),
    };
    let _ = writeln!(s, "Healthcheck  {health}");
    let _ = writeln!(
        s,
        "Layers       {} ({})",
        info.layers.len(),
        human_bytes(total)
    );
    for (i, layer) in info.layers.iter().enumerate() {
        let kind = layer
            .media_type
            .rsplit(['.', '/'])
            .next()
            .unwrap_or(&layer.media_type);
        let _ = writeln!(
            s,
            "  {:>2}  {}  {:>9}  {}",
            i + 1,
            layer.digest,
            human_bytes(layer.size),
            kind
        );
    }
    s
}

/// A size in binary units: 1536 -> "1.5 KiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
