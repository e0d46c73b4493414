//! Leader election with a `coordination.k8s.io/v1` Lease, so that with several replicas
//! exactly one rescans what runs and writes the reports.
//!
//! As client-go's `leaderelection` does: every `renewInterval` a replica reads the Lease;
//! it takes it when it is absent, held by nobody, or not renewed for its
//! `leaseDurationSeconds` (the holder died), and renews it while it holds it. Writes carry
//! the Lease's `resourceVersion`, so of two replicas racing for it one gets `409 Conflict`
//! and stays a follower. A leader that cannot renew for a whole lease duration steps down
//! before anyone else may take over. On shutdown the leader releases the Lease (empties
//! its holder) so a follower takes over at its next round; a leader that dies without
//! releasing is replaced once the Lease expires.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::sync::watch;

/// Why one election round failed (the replica stays or becomes a follower).
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The Kubernetes API refused or failed.
    #[error("Lease {namespace}/{name}: {source}")]
    Api {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
        /// What the API said.
        source: kube::Error,
    },
}

/// Who this replica is and which Lease it competes for.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// The Lease's namespace (Portcullis's own).
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This replica's identity (its Pod name).
    pub identity: String,
    /// How long a Lease not renewed stays held.
    pub lease_duration: Duration,
    /// How often the Lease is renewed (or tried for); well below `lease_duration`.
    pub renew_interval: Duration,
}

/// One replica's side of the election.
pub struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
}

impl std::fmt::Debug for Elector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elector")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn micro(t: Timestamp) -> MicroTime {
    MicroTime(t)
}

impl Elector {
    /// An elector for `settings` through `client`.
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
        }
    }

    fn error(&self, source: kube::Error) -> LeaseError {
        LeaseError::Api {
            namespace: self.settings.namespace.clone(),
            name: self.settings.name.clone(),
            source,
        }
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.settings.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// One round: take or renew the Lease if allowed. `Ok(true)`: this replica leads.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, LeaseError> {
        let now = Timestamp::now();
        let me = self.settings.identity.as_str();
        let existing = self
            .api
            .get_opt(&self.settings.name)
            .await
            .map_err(|e| self.error(e))?;
        let Some(mut lease) = existing else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me.to_string()),
                    lease_duration_seconds: Some(self.duration_seconds()),
                    acquire_time: Some(micro(now)),
                    renew_time: Some(micro(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(e) => Err(self.error(e)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let held_for = SignedDuration::from_secs(i64::from(
            spec.lease_duration_seconds
                .unwrap_or_else(|| self.duration_seconds()),
        ));
        let expired = spec
            .renew_time
            .as_ref()
            .is_none_or(|renewed| renewed.0.checked_add(held_for).is_ok_and(|end| now >= end));
        if !holder.is_empty() && holder != me && !expired {
            return Ok(false);
        }
        let mut next = spec;
        if holder != me {
            next.lease_transitions = Some(next.lease_transitions.unwrap_or(0).saturating_add(1));
            next.acquire_time = Some(micro(now));
            tracing::info!(lease = %self.settings.name, previous = %holder, identity = %me, "taking the leader Lease");
        }
        next.holder_identity = Some(me.to_string());
        next.renew_time = Some(micro(now));
        next.lease_duration_seconds = Some(self.duration_seconds());
        lease.spec = Some(next);
        self.replace(&lease).await
    }

    /// Give the Lease up if this replica holds it (empty holder, so the next round of any
    /// follower takes it). Whether it was released.
    pub async fn release(&self) -> Result<bool, LeaseError> {
        let Some(mut lease) = self
            .api
            .get_opt(&self.settings.name)
            .await
            .map_err(|e| self.error(e))?
        else {
            return Ok(false);
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return Ok(false);
        }
        spec.holder_identity = Some(String::new());
        lease.spec = Some(spec);
        self.replace(&lease).await
    }

    /// Write `lease` back if nobody wrote it since it was read: `false` on a conflict (409),
    /// when another replica got there first.
    async fn replace(&self, lease: &Lease) -> Result<bool, LeaseError> {
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Run the election until `stop` turns true (then release the Lease if held) or the
    /// task is dropped, publishing whether this replica leads on `leading`.
    pub async fn run(self, leading: watch::Sender<bool>, mut stop: watch::Receiver<bool>) {
        let mut last_renewed: Option<tokio::time::Instant> = None;
        loop {
            if *stop.borrow() {
                leading.send_replace(false);
                match self.release().await {
                    Ok(true) => {
                        tracing::info!(identity = %self.settings.identity, "leader Lease released")
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "releasing the leader Lease"),
                }
                return;
            }
            let outcome = self.try_acquire_or_renew().await;
            let leads = match outcome {
                Ok(true) => {
                    last_renewed = Some(tokio::time::Instant::now());
                    true
                }
                Ok(false) => {
                    last_renewed = None;
                    false
                }
                Err(e) => {
                    tracing::warn!(error = %e, "leader election round failed");
                    // Keep leading only well within the Lease we renewed last (two thirds of
                    // it), so that we step down before anyone else may take over.
                    let deadline = self.settings.lease_duration / 3 * 2;
                    last_renewed.is_some_and(|at| at.elapsed() < deadline)
                }
            };
            if *leading.borrow() != leads {
                tracing::info!(identity = %self.settings.identity, leads, "leadership changed");
                leading.send_replace(leads);
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.renew_interval) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        // The server was dropped without a shutdown: it keeps running.
                        tokio::time::sleep(self.settings.renew_interval).await;
                    }
                }
            }
        }
    }
}
