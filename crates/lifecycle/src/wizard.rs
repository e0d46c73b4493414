//! The interactive wizard of `portcullis activate` on a terminal, in this order: policy
//! (a built-in bundle, or a custom policy from a file), the webhook on or off, include or
//! exclude, namespaces (from the cluster, `kube-system` and the install namespace hidden),
//! whitelisted releases, registries.

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Select};
use portcullis_policy::BUILTIN_IDS;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::spec::{CustomPolicySpec, PolicySpec, RegistrySpec, Spec, WhitelistItemSpec};
use crate::validate::{KUBE_SYSTEM, anchored_regex, custom_policy, is_dns_subdomain, validate};

const CUSTOM: &str = "custom policy from a file";
const EVERY: &str = "* (every namespace)";

fn prompt_error(e: dialoguer::Error) -> Error {
    Error::new(
        ErrorKind::Prompt,
        format!("the activation wizard needs a terminal: {e}"),
    )
}

/// Ask for a spec on the terminal. `namespaces` are the cluster's; `install_namespace` is
/// where Portcullis goes. The spec returned is valid.
pub fn run(namespaces: &[String], install_namespace: &str) -> Result<Spec> {
    let theme = ColorfulTheme::default();
    let mut spec = Spec {
        policy: ask_policy(&theme)?,
        ..Spec::default()
    };
    spec.webhook_config.enabled = Confirm::with_theme(&theme)
        .with_prompt("Enable the admission webhook?")
        .default(true)
        .interact()
        .map_err(prompt_error)?;
    if spec.webhook_config.enabled {
        let exclude = Select::with_theme(&theme)
            .with_prompt("Which namespaces does the webhook judge?")
            .items([
                "only the ones I choose (include)",
                "all but the ones I choose (exclude)",
            ])
            .default(0)
            .interact()
            .map_err(prompt_error)?
            == 1;
        spec.webhook_config.selector = if exclude { "exclude" } else { "include" }.to_string();
        spec.webhook_config.namespaces =
            ask_namespaces(&theme, namespaces, install_namespace, exclude)?;
    }
    spec.release_white_list = ask_whitelist(&theme)?;
    spec.registries = ask_registries(&theme)?;
    validate(&spec, install_namespace)?;
    eprintln!("{}", spec.to_json());
    let go = Confirm::with_theme(&theme)
        .with_prompt("Activate with this spec?")
        .default(true)
        .interact()
        .map_err(prompt_error)?;
    if !go {
        return Err(Error::new(ErrorKind::Prompt, "activation cancelled"));
    }
    Ok(spec)
}

fn ask_policy(theme: &ColorfulTheme) -> Result<PolicySpec> {
    let mut items: Vec<&str> = BUILTIN_IDS.to_vec();
    items.push(CUSTOM);
    let choice = Select::with_theme(theme)
        .with_prompt("Policy bundle")
        .items(&items)
        .default(0)
        .interact()
        .map_err(prompt_error)?;
    let Some(id) = BUILTIN_IDS.get(choice) else {
        loop {
            let path: String = Input::with_theme(theme)
                .with_prompt("Custom policy file (YAML or JSON)")
                .interact_text()
                .map_err(prompt_error)?;
            let text = match std::fs::read_to_string(path.trim()) {
                Ok(text) => text,
                Err(e) => {
                    eprintln!("cannot read {}: {e}", path.trim());
                    continue;
                }
            };
            let document = Value::String(text);
            match custom_policy(&document) {
                Ok(_) => {
                    return Ok(PolicySpec {
                        policy_id: None,
                        custom_policy: Some(CustomPolicySpec {
                            enabled: true,
                            policy: Some(document),
                        }),
                    });
                }
                Err(e) => eprintln!("{}: {e}", path.trim()),
            }
        }
    };
    Ok(PolicySpec {
        policy_id: Some((*id).to_string()),
        custom_policy: None,
    })
}

fn ask_namespaces(
    theme: &ColorfulTheme,
    namespaces: &[String],
    install_namespace: &str,
    exclude: bool,
) -> Result<Vec<String>> {
    let mut items: Vec<&str> = Vec::new();
    if !exclude {
        items.push(EVERY);
    }
    items.extend(
        namespaces
            .iter()
            .map(String::as_str)
            .filter(|n| *n != KUBE_SYSTEM && *n != install_namespace),
    );
    loop {
        let chosen = MultiSelect::with_theme(theme)
            .with_prompt("Namespaces (space to mark, enter to accept)")
            .items(&items)
            .interact()
            .map_err(prompt_error)?;
        let names: Vec<&str> = chosen
            .iter()
            .filter_map(|&i| items.get(i).copied())
            .collect();
        if names.is_empty() {
            eprintln!("choose at least one namespace");
        } else if names.contains(&EVERY) {
            if names.len() == 1 {
                return Ok(vec!["*".to_string()]);
            }
            eprintln!("'*' cannot be combined with other names");
        } else {
            return Ok(names.into_iter().map(str::to_string).collect());
        }
    }
}

fn ask_text(theme: &ColorfulTheme, prompt: &str, allow_empty: bool) -> Result<String> {
    Input::<String>::with_theme(theme)
        .with_prompt(prompt)
        .allow_empty(allow_empty)
        .interact_text()
        .map(|s| s.trim().to_string())
        .map_err(prompt_error)
}

fn ask_whitelist(theme: &ColorfulTheme) -> Result<Vec<WhitelistItemSpec>> {
    let mut items = Vec::new();
    while Confirm::with_theme(theme)
        .with_prompt("Add a whitelisted release?")
        .default(false)
        .interact()
        .map_err(prompt_error)?
    {
        let name = ask_text(theme, "Release name", false)?;
        if !is_dns_subdomain(&name) {
            eprintln!("'{name}' is not a valid object name");
            continue;
        }
        let reason = ask_text(theme, "Reason", false)?;
        let regexp = ask_text(
            theme,
            "Regexp matching more release names (empty: none)",
            true,
        )?;
        if let Err(e) = anchored_regex(&regexp) {
            eprintln!("the regexp does not compile: {e}");
            continue;
        }
        items.push(WhitelistItemSpec {
            name,
            reason,
            regexp: (!regexp.is_empty()).then_some(regexp),
        });
    }
    Ok(items)
}

fn ask_registries(theme: &ColorfulTheme) -> Result<Vec<RegistrySpec>> {
    let mut registries = Vec::new();
    while Confirm::with_theme(theme)
        .with_prompt("Add registry credentials?")
        .default(false)
        .interact()
        .map_err(prompt_error)?
    {
        let registry = ask_text(theme, "Registry (host[:port])", false)?;
        let secret_id = ask_text(
            theme,
            "Secret in the install namespace (dockerconfigjson or basic-auth)",
            false,
        )?;
        let insecure = Confirm::with_theme(theme)
            .with_prompt("Plain HTTP or unverified TLS?")
            .default(false)
            .interact()
            .map_err(prompt_error)?;
        registries.push(RegistrySpec {
            registry,
            secret_id,
            insecure,
        });
    }
    Ok(registries)
}
