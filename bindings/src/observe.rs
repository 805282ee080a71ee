//! Observing a vault: any number of observers, each with its own [`ObservationToken`]; the sync
//! status a status bar shows; and what happens when an app's callback fails — the save or sync
//! that called it stands, the other observers are still told, and the failure is kept for
//! [`crate::Vault::callback_failures`] instead of surfacing as the call's error (which would
//! invite a retry that saves twice).

#![allow(missing_docs)] // Record fields are described on the types.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use crate::{MendError, SyncProgress};

/// What an app's callback throws (any exception or Swift error becomes `Failed`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    /// The callback failed; `reason` is the app's own message, cut to 200 characters.
    #[error("the app's callback failed: {reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Failed { reason: e.reason.chars().take(200).collect() }
    }
}

/// Told when records change: after local edits and after a sync applied remote changes. An
/// empty list means records may have changed without Mend knowing which (a sync that applied
/// some pages and then failed): refresh what you show. Called on the thread that made the change
/// (a worker thread for a sync); keep it quick (post to your UI queue). If it throws, the change it reports still stands: the failure goes to
/// `callbackFailures()` and the other observers are still told.
#[uniffi::export(rust, foreign)]
pub trait VaultObserver: Send + Sync {
    /// Record ids that changed.
    fn records_changed(&self, ids: Vec<String>) -> Result<(), CallbackError>;
}

/// Told each time the sync status changes.
#[uniffi::export(rust, foreign)]
pub trait SyncStatusObserver: Send + Sync {
    fn sync_status_changed(&self, status: SyncStatus) -> Result<(), CallbackError>;
}

/// Where syncing stands, for a status bar.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum SyncState {
    /// No sync running; the last one (if any) succeeded.
    Idle,
    /// A sync is running, with its counts so far (none before the first page).
    Syncing { progress: Option<SyncProgress> },
    /// The last sync could not reach the relay (no network, a timeout, an overloaded relay):
    /// retry later, nothing is lost.
    Offline { reason: String },
    /// The last sync failed for a reason retrying will not fix by itself (revoked, refused,
    /// rejected); `error` is the error's message (never clinical text).
    Failed { error: String },
}

/// The sync status of one vault handle: its state and when a sync last succeeded.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncStatus {
    pub state: SyncState,
    /// When a sync through this handle last completed (not cancelled); `None` before the first.
    pub last_synced_at: Option<SystemTime>,
    /// Counts the changes of this handle's status: a status with a lower version than one
    /// already shown is older (observers may be told out of order; the idiomatic layers drop
    /// older ones).
    pub version: u64,
}

/// An app callback that failed, reported apart from the call that invoked it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CallbackFailure {
    /// Which callback: `VaultObserver.recordsChanged`, `SyncStatusObserver.syncStatusChanged`
    /// or `SyncListener.progress`.
    pub callback: String,
    /// The app's own message, cut to 200 characters.
    pub reason: String,
    pub at: SystemTime,
}

/// How many failures are kept until the app reads them (older ones are dropped first).
const KEPT_FAILURES: usize = 64;

enum Observer {
    Records(Arc<dyn VaultObserver>),
    Status(Arc<dyn SyncStatusObserver>),
}

/// The observers of one vault handle, and the failures of its callbacks.
pub(crate) struct Observers {
    next: AtomicU64,
    list: Mutex<Vec<(u64, Observer)>>,
    failures: Mutex<VecDeque<CallbackFailure>>,
    status: Mutex<SyncStatus>,
}

impl Observers {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Observers {
            next: AtomicU64::new(1),
            list: Mutex::new(Vec::new()),
            failures: Mutex::new(VecDeque::new()),
            status: Mutex::new(SyncStatus {
                state: SyncState::Idle,
                last_synced_at: None,
                version: 0,
            }),
        })
    }

    fn add(self: &Arc<Self>, o: Observer) -> Arc<ObservationToken> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.list.lock().unwrap_or_else(|p| p.into_inner()).push((id, o));
        Arc::new(ObservationToken { id, observers: Arc::downgrade(self) })
    }

    pub(crate) fn add_records(
        self: &Arc<Self>,
        o: Arc<dyn VaultObserver>,
    ) -> Arc<ObservationToken> {
        self.add(Observer::Records(o))
    }

    pub(crate) fn add_status(
        self: &Arc<Self>,
        o: Arc<dyn SyncStatusObserver>,
    ) -> Arc<ObservationToken> {
        self.add(Observer::Status(o))
    }

    fn remove(&self, id: u64) {
        self.list.lock().unwrap_or_else(|p| p.into_inner()).retain(|(i, _)| *i != id);
    }

    pub(crate) fn count(&self) -> u64 {
        self.list.lock().unwrap_or_else(|p| p.into_inner()).len() as u64
    }

    /// Keeps a failed callback for the app; a panic is caught as one too.
    pub(crate) fn guard<T>(
        &self,
        callback: &str,
        f: impl FnOnce() -> Result<T, CallbackError>,
    ) -> Option<T> {
        let reason = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(CallbackError::Failed { reason })) => reason,
            Err(_) => "the callback panicked".to_owned(),
        };
        let mut q = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == KEPT_FAILURES {
            q.pop_front();
        }
        q.push_back(CallbackFailure {
            callback: callback.to_owned(),
            reason,
            at: SystemTime::now(),
        });
        None
    }

    pub(crate) fn take_failures(&self) -> Vec<CallbackFailure> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect()
    }

    /// Tells every records observer; a failing one does not stop the others.
    pub(crate) fn records_changed(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        for o in self.snapshot() {
            if let Observer::Records(o) = o {
                self.guard("VaultObserver.recordsChanged", || o.records_changed(ids.to_vec()));
            }
        }
    }

    /// Tells every records observer that records may have changed without knowing which (an
    /// empty list): a sync that applied pages and then failed.
    pub(crate) fn records_changed_unknown(&self) {
        for o in self.snapshot() {
            if let Observer::Records(o) = o {
                self.guard("VaultObserver.recordsChanged", || o.records_changed(Vec::new()));
            }
        }
    }

    pub(crate) fn status(&self) -> SyncStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets the state (and, after a completed sync, the time) and tells the status observers.
    pub(crate) fn set_status(&self, state: SyncState, synced: bool) {
        let now = {
            let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
            s.state = state;
            s.version += 1;
            if synced {
                s.last_synced_at = Some(SystemTime::now());
            }
            s.clone()
        };
        for o in self.snapshot() {
            if let Observer::Status(o) = o {
                self.guard("SyncStatusObserver.syncStatusChanged", || {
                    o.sync_status_changed(now.clone())
                });
            }
        }
    }

    /// The state after a sync ended with `r`; a cancelled sync (whose request in flight may
    /// have failed as `cancelled`) goes back to idle without counting as a completed sync.
    pub(crate) fn finish_sync<T>(&self, r: &Result<T, MendError>, cancelled: bool) {
        if cancelled {
            return self.set_status(SyncState::Idle, false);
        }
        match r {
            Ok(_) => self.set_status(SyncState::Idle, true),
            Err(MendError::Transport { reason }) => {
                self.set_status(SyncState::Offline { reason: reason.clone() }, false)
            }
            Err(e) => self.set_status(SyncState::Failed { error: e.to_string() }, false),
        }
    }

    fn snapshot(&self) -> Vec<Observer> {
        self.list
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, o)| match o {
                Observer::Records(o) => Observer::Records(Arc::clone(o)),
                Observer::Status(o) => Observer::Status(Arc::clone(o)),
            })
            .collect()
    }
}

/// Keeps one observer registered. `cancel()` (or dropping the token: Kotlin `close()`, Swift
/// `deinit`) removes that observer and no other.
#[derive(uniffi::Object)]
pub struct ObservationToken {
    id: u64,
    observers: Weak<Observers>,
}

#[uniffi::export]
impl ObservationToken {
    /// Stops this observer; calling it again does nothing.
    pub fn cancel(&self) {
        if let Some(o) = self.observers.upgrade() {
            o.remove(self.id);
        }
    }
}

impl Drop for ObservationToken {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Counting(Mutex<Vec<Vec<String>>>, bool);
    impl VaultObserver for Counting {
        fn records_changed(&self, ids: Vec<String>) -> Result<(), CallbackError> {
            self.0.lock().unwrap().push(ids);
            if self.1 {
                Err(CallbackError::Failed { reason: "app bug".into() })
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn each_token_removes_its_own_observer_and_a_failing_one_stops_no_other() {
        let obs = Observers::new();
        let failing = Arc::new(Counting(Mutex::default(), true));
        let a = Arc::new(Counting(Mutex::default(), false));
        let b = Arc::new(Counting(Mutex::default(), false));
        let _tf = obs.add_records(failing.clone());
        let ta = obs.add_records(a.clone());
        let tb = obs.add_records(b.clone());
        obs.records_changed(&["x".to_owned()]);
        ta.cancel();
        obs.records_changed(&["y".to_owned()]);
        drop(tb);
        obs.records_changed(&["z".to_owned()]);
        assert_eq!(a.0.lock().unwrap().len(), 1);
        assert_eq!(b.0.lock().unwrap().len(), 2);
        assert_eq!(failing.0.lock().unwrap().len(), 3);
        let f = obs.take_failures();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].callback, "VaultObserver.recordsChanged");
        assert!(obs.take_failures().is_empty(), "failures are handed out once");
        assert_eq!(obs.count(), 1);
    }
}
