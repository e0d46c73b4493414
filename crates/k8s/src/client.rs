//! Reaching the Kubernetes API, and the one error type of this crate's API helpers.

portcullis_types::error_type! {
    /// What went wrong talking to the Kubernetes API or reading what it returned.
    pub struct Error(ErrorKind);
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
