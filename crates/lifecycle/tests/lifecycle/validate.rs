//! One test per rule of the spec, starting from the documented examples.

use portcullis_lifecycle::{DEFAULT_NAMESPACE, ErrorKind, Spec, parse_spec, validate};
use serde_json::{Value, json};

use crate::spec_text;

fn minimal() -> Value {
    serde_json::from_str(&spec_text("minimal.json")).unwrap()
}

fn full() -> Value {
    let wrapped: Value = serde_json::from_str(&spec_text("full.json")).unwrap();
    wrapped["spec"].clone()
}

fn spec(value: &Value) -> Spec {
    parse_spec(&value.to_string()).unwrap()
}

/// The problems of `value`, as `field: message` lines.
fn problems(value: &Value) -> Vec<String> {
    match validate(&spec(value), DEFAULT_NAMESPACE) {
        Ok(()) => Vec::new(),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Invalid);
            e.problems().iter().map(ToString::to_string).collect()
        }
    }
}

/// The fields of the problems of `value`.
fn fields(value: &Value) -> Vec<String> {
    match validate(&spec(value), DEFAULT_NAMESPACE) {
        Ok(()) => Vec::new(),
        Err(e) => e.problems().iter().map(|p| p.field.clone()).collect(),
    }
}

#[test]
fn documented_examples_are_valid() {
    assert_eq!(problems(&minimal()), Vec::<String>::new());
    assert_eq!(problems(&full()), Vec::<String>::new());
    let full = parse_spec(&spec_text("full.json")).unwrap();
    assert_eq!(full.all_registries().count(), 2);
    assert_eq!(full.webhook_config.namespaces, ["dev", "sandbox-*"]);
}

#[test]
fn policy_id_is_required_without_a_custom_policy() {
    let mut v = minimal();
    v["policy"] = json!({});
    assert_eq!(
        problems(&v),
        ["policy.policyId: required unless customPolicy.enabled is set"]
    );
    v["policy"] = json!({"customPolicy": {"enabled": true, "policy": {"id": "mine", "rules": []}}});
    assert_eq!(problems(&v), Vec::<String>::new());
}

#[test]
fn policy_id_must_be_built_in() {
    let mut v = minimal();
    v["policy"]["policyId"] = json!("reject_everything");
    assert_eq!(
        problems(&v),
        [
            "policy.policyId: 'reject_everything' is not a built-in policy (one of allow_all_and_warn, reject_critical, reject_high, block_root, deny_all, reject_exploited)"
        ]
    );
}

#[test]
fn custom_policy_must_parse() {
    let mut v = full();
    v["policy"]["customPolicy"] = json!({"enabled": true, "policy": {"id": "mine", "rules": [{"gate": "vulnerabilities", "trigger": "package", "params": {"severity": "hgih"}, "action": "stop"}]}});
    let found = problems(&v);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("policy.customPolicy.policy: "),
        "{found:?}"
    );
    assert!(found[0].contains("hgih"), "{found:?}");
    // As YAML text, valid.
    v["policy"]["customPolicy"]["policy"] = json!(
        "id: mine\nrules:\n  - {gate: vulnerabilities, trigger: package, params: {severity: high}, action: stop}\n"
    );
    assert_eq!(problems(&v), Vec::<String>::new());
    // Enabled without a document.
    v["policy"]["customPolicy"] = json!({"enabled": true});
    assert_eq!(
        problems(&v),
        ["policy.customPolicy.policy: required when customPolicy.enabled is set"]
    );
}

#[test]
fn selector_is_include_or_exclude() {
    let mut v = full();
    v["webhookConfig"]["selector"] = json!("only");
    assert_eq!(
        problems(&v),
        ["webhookConfig.selector: 'only' is neither 'include' nor 'exclude'"]
    );
}

#[test]
fn namespaces_must_not_be_empty_when_enabled() {
    let mut v = full();
    v["webhookConfig"]["namespaces"] = json!([]);
    assert_eq!(fields(&v), ["webhookConfig.namespaces"]);
    v["webhookConfig"]["enabled"] = json!(false);
    assert_eq!(problems(&v), Vec::<String>::new());
}

#[test]
fn star_cannot_be_combined() {
    let mut v = full();
    v["webhookConfig"]["selector"] = json!("include");
    v["webhookConfig"]["namespaces"] = json!(["*", "dev"]);
    assert_eq!(
        problems(&v),
        ["webhookConfig.namespaces: '*' cannot be combined with other names"]
    );
}

#[test]
fn kube_system_and_the_install_namespace_may_not_be_listed() {
    let mut v = full();
    v["webhookConfig"]["namespaces"] = json!(["dev", "kube-system", "portcullis-system"]);
    assert_eq!(
        fields(&v),
        ["webhookConfig.namespaces[1]", "webhookConfig.namespaces[2]"]
    );
    // Another install namespace frees the default one.
    let s = spec(&v);
    let err = validate(&s, "security").unwrap_err();
    assert_eq!(err.problems().len(), 1);
    assert_eq!(err.problems()[0].field, "webhookConfig.namespaces[1]");
    v["webhookConfig"]["namespaces"] = json!(["Not_A_Name"]);
    assert_eq!(fields(&v), ["webhookConfig.namespaces[0]"]);
}

#[test]
fn whitelist_items_need_name_and_reason_and_a_compiling_regexp() {
    let mut v = full();
    v["releaseWhiteList"] = json!([
        {"name": "", "reason": "x"},
        {"name": "ok", "reason": " "},
        {"name": "bad-re", "reason": "x", "regexp": "monitoring-(.*"},
        {"name": "ok", "reason": "again"}
    ]);
    assert_eq!(
        fields(&v),
        [
            "releaseWhiteList[0].name",
            "releaseWhiteList[1].reason",
            "releaseWhiteList[2].regexp",
            "releaseWhiteList[3].name"
        ]
    );
}

#[test]
fn registry_entries_need_registry_and_secret_id() {
    let mut v = full();
    v["registry"] = json!({"registry": "ghcr.io"});
    v["registries"] =
        json!([{"secretId": "pull"}, {"registry": "https://x.io", "secretId": "Bad_Name"}]);
    assert_eq!(
        fields(&v),
        [
            "registry.secretId",
            "registries[0].registry",
            "registries[1].registry",
            "registries[1].secretId"
        ]
    );
}

#[test]
fn unknown_image_action_and_update_interval_are_checked() {
    let mut v = minimal();
    v["unknownImageAction"] = json!("warn");
    v["updateInterval"] = json!("hourly");
    assert_eq!(fields(&v), ["unknownImageAction", "updateInterval"]);
    v["unknownImageAction"] = json!("allow");
    v["updateInterval"] = json!("10s");
    assert_eq!(
        problems(&v),
        ["updateInterval: '10s' is outside 1m to 168h"]
    );
}

#[test]
fn webhook_failure_policy_and_timeout_are_checked() {
    let mut v = full();
    v["webhookConfig"]["failurePolicy"] = json!("Retry");
    v["webhookConfig"]["timeoutSeconds"] = json!(31);
    assert_eq!(
        fields(&v),
        [
            "webhookConfig.failurePolicy",
            "webhookConfig.timeoutSeconds"
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let v = json!({
        "policy": {"policyId": "nope"},
        "webhookConfig": {"enabled": true, "selector": "both", "namespaces": []},
        "registry": {},
        "releaseWhiteList": [{"name": "x"}],
        "unknownImageAction": "maybe"
    });
    let err = validate(&spec(&v), DEFAULT_NAMESPACE).unwrap_err();
    let fields: Vec<_> = err.problems().iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "policy.policyId",
            "webhookConfig.selector",
            "webhookConfig.namespaces",
            "releaseWhiteList[0].reason",
            "registry.registry",
            "registry.secretId",
            "unknownImageAction"
        ]
    );
    assert!(
        err.to_string()
            .starts_with("the spec has 7 problem(s):\n  policy.policyId: ")
    );
}

#[test]
fn a_database_artifact_is_followed_by_the_server() {
    let mut v = minimal();
    v["database"] = json!({
        "repository": "registry.local:5000/portcullis/db:latest",
        "secretId": "db-pull",
        "insecure": true,
    });
    assert_eq!(problems(&v), Vec::<String>::new());
    let config =
        portcullis_lifecycle::manifests::server_config(&spec(&v), DEFAULT_NAMESPACE).unwrap();
    assert_eq!(
        config.database.repository.as_deref(),
        Some("registry.local:5000/portcullis/db:latest")
    );
    assert_eq!(config.database.secret_name.as_deref(), Some("db-pull"));
    assert!(config.database.insecure);
    v["database"] = json!({"repository": "https://registry.local/db", "secretId": "Not_A_Name"});
    assert_eq!(fields(&v), ["database.repository", "database.secretId"]);
    v["database"] = json!({"repository": ""});
    assert_eq!(problems(&v), ["database.repository: required"]);
}

/// The seed's first example: a custom policy referenced by its id, a UUID.
fn uuid_spec() -> Value {
    json!({
        "policy": {"policyId": "97b33e2c-3b57-4a3f-a12b-a8c0daa472a0"},
        "policies": [
            {
                "id": "97b33e2c-3b57-4a3f-a12b-a8c0daa472a0",
                "description": "Stop critical vulnerabilities",
                "rules": [{
                    "gate": "vulnerabilities",
                    "trigger": "package",
                    "params": {"severity": "critical", "severity_comparison": ">="},
                    "action": "stop"
                }]
            },
            "default_policy: team\nmappings:\n- {registry: '*', repository: 'team/*', tag: '*', policy: team}\npolicies:\n- id: team\n  rules:\n  - {gate: vulnerabilities, trigger: package, params: {severity: high}, action: warn}\n"
        ]
    })
}

#[test]
fn custom_policies_are_referenced_by_id() {
    let v = uuid_spec();
    assert_eq!(problems(&v), Vec::<String>::new());
    let config =
        portcullis_lifecycle::manifests::server_config(&spec(&v), DEFAULT_NAMESPACE).unwrap();
    let text = config.policy.inline.unwrap();
    let set = portcullis_policy::parse_document(&text, portcullis_policy::Format::Json)
        .unwrap()
        .into_set();
    assert_eq!(set.default_policy, "97b33e2c-3b57-4a3f-a12b-a8c0daa472a0");
    let ids: Vec<&str> = set.policies.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["97b33e2c-3b57-4a3f-a12b-a8c0daa472a0", "team"]);
    assert_eq!(set.mappings.len(), 1);
    assert!(config.policy.id.is_none());
}

#[test]
fn every_problem_of_custom_policies_is_named() {
    let mut v = uuid_spec();
    v["policy"]["policyId"] = json!("nope");
    v["policies"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "reject_high", "rules": []}));
    v["policies"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "team", "rules": []}));
    v["policies"]
        .as_array_mut()
        .unwrap()
        .push(json!("{not json"));
    v["policies"]
        .as_array_mut()
        .unwrap()
        .push(json!({"default_policy": "x", "mappings": [{"registry": "*", "repository": "*", "tag": "*", "policy": "ghost"}], "policies": []}));
    let found = problems(&v);
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(
        found[0].starts_with("policies[2]: id 'reject_high' is a built-in"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("policies[3]: id 'team' is given more than once"),
        "{found:#?}"
    );
    assert!(found[2].starts_with("policies[4]: "), "{found:#?}");
    assert!(
        found[3].starts_with("policies[5]: ") && found[3].contains("unknown policy"),
        "{found:#?}"
    );
    assert!(
        found[4].starts_with("policy.policyId: 'nope' is neither a built-in policy"),
        "{found:#?}"
    );
    assert!(
        found[4].contains("97b33e2c-3b57-4a3f-a12b-a8c0daa472a0, team"),
        "{found:#?}"
    );
}

#[test]
fn a_builder_needs_a_database_repository_and_a_cron_schedule() {
    let mut v = minimal();
    v["builder"] = json!({"schedule": "0 */6 * * *"});
    assert_eq!(
        problems(&v),
        ["builder: needs database.repository (where the built database is pushed)"]
    );
    v["database"] =
        json!({"repository": "registry.local:5000/portcullis/db:latest", "secretId": "db-push"});
    assert_eq!(problems(&v), Vec::<String>::new());
    for good in [
        "*/15 * * * *",
        "0 3 * * 0",
        "0 0 1,15 * *",
        "0 2 * JAN-JUN mon-fri",
        "5 4 ? * 7",
    ] {
        v["builder"]["schedule"] = json!(good);
        assert_eq!(problems(&v), Vec::<String>::new(), "{good}");
    }
    for bad in [
        "",
        "@daily",
        "0 */6 * *",
        "0 */6 * * * *",
        "60 * * * *",
        "0 24 * * *",
        "0 0 0 * *",
        "0 0 * 13 *",
        "0 0 * * 8",
        "*/0 * * * *",
        "5-1 * * * *",
        "a * * * *",
    ] {
        v["builder"]["schedule"] = json!(bad);
        assert_eq!(fields(&v), ["builder.schedule"], "{bad}");
    }
    v["builder"] = json!({"schedule": "0 */6 * * *", "extra": 1});
    assert!(parse_spec(&v.to_string()).is_err());
}

#[test]
fn image_is_a_plain_reference() {
    let mut v = minimal();
    for good in [
        "registry.example/portcullis:v0.1.0",
        "127.0.0.1:5000/portcullis@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "portcullis",
    ] {
        v["image"] = json!(good);
        assert_eq!(problems(&v), Vec::<String>::new(), "{good}");
    }
    let digest_problem = "image: 'sha256:abc' is not a sha256 digest";
    for (bad, problem) in [
        ("", "image: required when given"),
        (
            "https://registry.example/p",
            "image: 'https://registry.example/p' has a URL scheme; give registry/repository[:tag]",
        ),
        (
            "reg/p q",
            "image: contains whitespace or control characters",
        ),
        ("reg/p:", "image: 'reg/p:' is not an image reference"),
        ("reg/p@sha256:abc", digest_problem),
    ] {
        v["image"] = json!(bad);
        assert_eq!(problems(&v), [problem], "{bad:?}");
    }
    v["image"] = json!("r/".repeat(600));
    assert_eq!(problems(&v), ["image: longer than 1024 characters"]);
}

#[test]
fn an_enabled_engine_needs_an_http_url_and_a_valid_secret_name() {
    let mut v = minimal();
    v["engine"] = json!({"enabled": true});
    assert_eq!(
        problems(&v),
        ["engine.url: required when the engine is enabled"]
    );
    v["engine"] = json!({"enabled": true, "url": "ftp://x", "secretId": "Bad_Name"});
    assert_eq!(
        problems(&v),
        [
            "engine.url: 'ftp://x' is not an http(s) URL",
            "engine.secretId: 'Bad_Name' is not a valid Secret name"
        ]
    );
    v["engine"] = json!({"enabled": false, "url": "ftp://x"});
    assert_eq!(problems(&v), Vec::<String>::new());
    v["engine"] =
        json!({"enabled": true, "url": "https://central:8443", "secretId": "engine-token"});
    assert_eq!(problems(&v), Vec::<String>::new());
}
