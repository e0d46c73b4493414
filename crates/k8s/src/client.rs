//! Reaching the Kubernetes API, and the one error type of this crate's API helpers.

/// What went wrong talking to the Kubernetes API or reading what it returned.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The kind of an [`Error`], for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No cluster configuration (kubeconfig or in-cluster) was found or it is unusable.
    Config,
    /// The API server refused or failed the request.
    Api,
    /// The object does not exist.
    NotFound,
    /// A Secret's content is not what its type promises.
    InvalidSecret,
}

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// An error from a kube call about `what`.
    pub fn api(what: &str, error: kube::Error) -> Self {
        let kind = match &error {
            kube::Error::Api(status) if status.code == 404 => ErrorKind::NotFound,
            _ => ErrorKind::Api,
        };
        Self::new(kind, format!("{what}: {error}"))
    }
}

/// Connect with the in-cluster configuration, else the kubeconfig (`$KUBECONFIG`,
/// `~/.kube/config`).
pub async fn connect() -> Result<kube::Client, Error> {
    kube::Client::try_default()
        .await
        .map_err(|e| Error::new(ErrorKind::Config, format!("Kubernetes API: {e}")))
}
