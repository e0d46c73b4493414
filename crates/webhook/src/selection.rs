//! Which namespaces are judged.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use portcullis_config::{Selector, WebhookConfig};

use crate::error::{Error, ErrorKind, Result};

/// The namespace never judged besides Portcullis's own.
pub const SYSTEM_NAMESPACE: &str = "kube-system";

/// Namespace include/exclude with globs (`*`, `team-*`); `kube-system` and Portcullis's own
/// namespace are never judged. (Whether the webhook is enabled at all is the caller's
/// business: see [`WebhookConfig::enabled`].)
#[derive(Debug, Clone)]
pub struct Selection {
    selector: Selector,
    patterns: GlobSet,
    own_namespace: String,
}

impl Selection {
    /// Compile the namespace globs of `config`; an [`ErrorKind::InvalidConfig`] error names a
    /// glob that does not compile.
    pub fn new(config: &WebhookConfig, own_namespace: &str) -> Result<Self> {
        let mut builder = GlobSetBuilder::new();
        for pattern in &config.namespaces {
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!("webhook.namespaces: {pattern:?} is not a valid glob: {e}"),
                    )
                })?;
            builder.add(glob);
        }
        let patterns = builder.build().map_err(|e| {
            Error::new(ErrorKind::InvalidConfig, format!("webhook.namespaces: {e}"))
        })?;
        Ok(Self {
            selector: config.selector,
            patterns,
            own_namespace: own_namespace.to_string(),
        })
    }

    /// Whether workloads in `namespace` are judged.
    pub fn judges(&self, namespace: &str) -> bool {
        if namespace == SYSTEM_NAMESPACE || namespace == self.own_namespace {
            return false;
        }
        let listed = self.patterns.is_match(namespace);
        match self.selector {
            Selector::Include => listed,
            Selector::Exclude => !listed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(selector: Selector, namespaces: &[&str]) -> Selection {
        let config = WebhookConfig {
            enabled: true,
            selector,
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
        };
        Selection::new(&config, "portcullis-system").unwrap()
    }

    #[test]
    fn include_star_judges_all_but_system_and_own() {
        let s = selection(Selector::Include, &["*"]);
        assert!(s.judges("default"));
        assert!(s.judges("team-a"));
        assert!(!s.judges("kube-system"));
        assert!(!s.judges("portcullis-system"));
    }

    #[test]
    fn include_glob_lists_the_judged() {
        let s = selection(Selector::Include, &["team-*", "prod"]);
        assert!(s.judges("team-a"));
        assert!(s.judges("team-"));
        assert!(s.judges("prod"));
        assert!(!s.judges("production"));
        assert!(!s.judges("default"));
        assert!(!s.judges("myteam-a"));
    }

    #[test]
    fn exclude_glob_lists_the_left_alone() {
        let s = selection(Selector::Exclude, &["team-*"]);
        assert!(!s.judges("team-a"));
        assert!(s.judges("default"));
        assert!(!s.judges("kube-system"));
        assert!(!s.judges("portcullis-system"));
        let none = selection(Selector::Exclude, &[]);
        assert!(none.judges("default"));
        assert!(!none.judges("kube-system"));
        let all = selection(Selector::Exclude, &["*"]);
        assert!(!all.judges("default"));
    }

    #[test]
    fn include_nothing_judges_nothing() {
        let s = selection(Selector::Include, &[]);
        assert!(!s.judges("default"));
    }

    #[test]
    fn bad_glob_names_the_pattern() {
        let config = WebhookConfig {
            enabled: true,
            selector: Selector::Include,
            namespaces: vec!["team-[".to_string()],
        };
        let err = Selection::new(&config, "p").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
        assert!(
            err.to_string()
                .starts_with("webhook.namespaces: \"team-[\" is not a valid glob"),
            "{err}"
        );
    }
}
