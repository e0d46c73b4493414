//! The Helm chart: in sync with its generator, and (rendered by a stand-in for the few
//! template expressions it uses, no helm binary) the same objects as the manifests.

use std::path::PathBuf;

use portcullis_config::ServerConfig;
use portcullis_lifecycle::helm::chart_files;
use portcullis_lifecycle::manifests::{self, ManifestOptions, TlsSource, parse_yaml_documents};
use portcullis_lifecycle::{Spec, parse_spec};
use serde_json::{Value, json};

use crate::manifests::round_trip;

fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../charts/portcullis")
}

#[test]
fn chart_is_in_sync_with_its_generator() {
    for (name, content) in chart_files().unwrap() {
        let path = chart_dir().join(&name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == content,
            "{} is out of date: regenerate with `cargo run -p portcullis-cli -- manifests --helm charts/portcullis`",
            path.display()
        );
    }
}

/// Render one template with the default values, for exactly the expressions the chart uses
/// (the generated certificates become base64 of `CA`, `CERT`, `KEY`).
fn render(template: &str, values: &Value, namespace: &str) -> String {
    let mut config = values["config"].clone();
    config["namespace"] = json!(namespace);
    let config_yaml = yaml_serde::to_string(&config).unwrap();
    let indented: String = config_yaml.lines().map(|l| format!("\n    {l}")).collect();
    let spec_json = serde_json::to_string(&values["spec"]).unwrap();
    let mut out = String::new();
    for line in template.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("{{- $")
            || trimmed == "{{- if .Values.webhook.enabled }}"
            || trimmed == "{{- end }}"
        {
            continue;
        }
        let line = line
            .replace("{{ .Release.Namespace }}", namespace)
            .replace("{{ .Values.image }}", values["image"].as_str().unwrap())
            .replace(
                "{{ .Values.webhook.failurePolicy }}",
                values["webhook"]["failurePolicy"].as_str().unwrap(),
            )
            .replace(
                "{{ .Values.webhook.timeoutSeconds }}",
                &values["webhook"]["timeoutSeconds"].to_string(),
            )
            .replace(
                portcullis_lifecycle::helm::CONFIG_HASH_TEMPLATE,
                "CONFIG-HASH",
            )
            .replace(
                "{{ toJson .Values.spec | quote }}",
                &serde_json::to_string(&spec_json).unwrap(),
            )
            .replace("{{ $ca.Cert | b64enc }}", "Q0E=")
            .replace("{{ $cert.Cert | b64enc }}", "Q0VSVA==")
            .replace("{{ $cert.Key | b64enc }}", "S0VZ");
        if line.trim_start().starts_with("{{- toYaml (merge (dict \"namespace\" .Release.Namespace) .Values.config) | nindent 4 }}") {
            out.push_str(&indented);
            out.push('\n');
            continue;
        }
        assert!(
            !line.contains("{{"),
            "the stand-in renderer does not know: {line}"
        );
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn chart_renders_the_same_objects_as_the_manifests() {
    let files = chart_files().unwrap();
    let file = |name: &str| files.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let values: Value = yaml_serde::from_str(&file("values.yaml")).unwrap();
    assert_eq!(
        parse_spec(&values["spec"].to_string()).unwrap(),
        Spec::default()
    );
    let namespace = "security";
    let mut rendered = Vec::new();
    for (name, content) in &files {
        if name.starts_with("crds/") {
            rendered.extend(parse_yaml_documents(content).unwrap());
        } else if name.starts_with("templates/") && name != "templates/whitelistitems.yaml" {
            rendered.extend(parse_yaml_documents(&render(content, &values, namespace)).unwrap());
        }
    }
    // The default values list no whitelisted release: the range renders nothing.
    assert_eq!(values["releaseWhiteList"], json!([]));

    let tls = portcullis_lifecycle::cert::generate("portcullis", namespace, 1_780_000_000).unwrap();
    let built = manifests::build(
        &Spec::default(),
        &ManifestOptions {
            namespace: namespace.to_string(),
            image: values["image"].as_str().unwrap().to_string(),
            tls: TlsSource::Generated(tls),
        },
    )
    .unwrap();
    let mut expected: Vec<Value> = built
        .iter()
        .filter(|m| m.resource.kind != "Namespace")
        .map(|m| m.object.clone())
        .collect();
    let key = |v: &Value| {
        format!(
            "{}/{}",
            v["kind"].as_str().unwrap(),
            v["metadata"]["name"].as_str().unwrap()
        )
    };
    rendered.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(
        rendered.iter().map(key).collect::<Vec<_>>(),
        expected.iter().map(key).collect::<Vec<_>>()
    );
    for (got, want) in rendered.iter_mut().zip(expected.iter_mut()) {
        assert_eq!(
            &round_trip(got),
            got,
            "{} does not survive typed structs",
            key(got)
        );
        match got["kind"].as_str().unwrap() {
            "Secret" => {
                assert_eq!(
                    got["data"],
                    json!({"ca.crt": "Q0E=", "tls.crt": "Q0VSVA==", "tls.key": "S0VZ"})
                );
                got["data"] = want["data"].clone();
            }
            "ValidatingWebhookConfiguration" => {
                assert_eq!(got["webhooks"][0]["clientConfig"]["caBundle"], "Q0E=");
                got["webhooks"][0]["clientConfig"]["caBundle"] =
                    want["webhooks"][0]["clientConfig"]["caBundle"].clone();
            }
            "Deployment" => {
                let annotations = &mut got["spec"]["template"]["metadata"]["annotations"];
                assert_eq!(annotations["portcullis.dev/config-hash"], "CONFIG-HASH");
                annotations["portcullis.dev/config-hash"] = want["spec"]["template"]["metadata"]["annotations"]["portcullis.dev/config-hash"].clone();
            }
            "ConfigMap" => {
                // Helm's toYaml orders keys differently: compare what the server reads.
                let read = |v: &Value| {
                    ServerConfig::from_yaml(
                        v["data"]["config.yaml"].as_str().unwrap(),
                        "config.yaml",
                    )
                    .unwrap()
                };
                assert_eq!(read(got), read(want));
                let spec =
                    |v: &Value| parse_spec(v["data"]["spec.json"].as_str().unwrap()).unwrap();
                assert_eq!(spec(got), spec(want));
                got["data"] = want["data"].clone();
            }
            _ => {}
        }
        assert_eq!(got, want, "{} differs", key(got));
    }
    // The whitelist template is a range over `releaseWhiteList` producing these objects.
    assert!(
        file("templates/whitelistitems.yaml").contains("{{- range .Values.releaseWhiteList }}")
    );
}
