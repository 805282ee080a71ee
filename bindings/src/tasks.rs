//! Work that can block — key derivation, a sync, a join — runs on a worker thread of its own
//! behind an `async` export, so a Kotlin `suspend` call or a Swift `await` never blocks the
//! caller's thread (the UI thread included). Dropping the future, which is what a cancelled
//! Kotlin `Job` or Swift `Task` does, raises the work's cancel flag; a sync checks it at its
//! safe points (between pages and pushes), so it stops there with everything applied so far
//! kept, and the next sync resumes.
//!
//! The other direction: the app's HTTP stack is an `async` foreign trait, and core's HTTP
//! transport is synchronous. [`block_on`] waits for a foreign future on the worker thread, which
//! is never an app thread (every export that sends HTTP is itself `async`).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

use futures_channel::oneshot;

use crate::MendError;

/// A cancel switch an app can pass to an async call and flip from elsewhere. Kotlin needs none
/// (a cancelled `Job` drops the call's future, which cancels it); Swift's generated async calls
/// ignore `Task` cancellation, so the Swift layer passes one and cancels it from
/// `withTaskCancellationHandler`.
#[derive(uniffi::Object, Default)]
pub struct Cancellation(Arc<AtomicBool>);

#[uniffi::export]
impl Cancellation {
    /// A switch not yet flipped.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Stops the call at its next safe point (an HTTP request in flight is dropped).
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Self::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A cancel flag, raised when the future waiting for the work is dropped before it finished.
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.flag.store(true, Ordering::Relaxed);
        }
    }
}

/// Runs `work` on a worker thread and waits for it without blocking; `work` gets the cancel
/// flag to check at its safe points. A panic in `work` (there should be none) is an
/// `Internal` error, never an unwind across the FFI boundary.
pub(crate) async fn background<T, F>(work: F) -> Result<T, MendError>
where
    T: Send + 'static,
    F: FnOnce(Arc<AtomicBool>) -> Result<T, MendError> + Send + 'static,
{
    background_with(None, work).await
}

/// [`background`], also cancelled through the app's `cancellation`.
pub(crate) async fn background_with<T, F>(
    cancellation: Option<Arc<Cancellation>>,
    work: F,
) -> Result<T, MendError>
where
    T: Send + 'static,
    F: FnOnce(Arc<AtomicBool>) -> Result<T, MendError> + Send + 'static,
{
    let flag = cancellation.map(|c| Arc::clone(&c.0)).unwrap_or_default();
    let (tx, rx) = oneshot::channel();
    let for_work = Arc::clone(&flag);
    std::thread::Builder::new()
        .name("mend-worker".into())
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(|| work(for_work))).unwrap_or_else(|_| {
                Err(MendError::Internal { reason: "a worker panicked".into() })
            });
            // The caller may be gone (cancelled): then the result is dropped here, which closes a
            // vault opened for nobody.
            let _ = tx.send(r);
        })
        .map_err(|_| MendError::Internal { reason: "could not start a worker thread".into() })?;
    let mut guard = CancelOnDrop { flag, armed: true };
    let r = rx.await.unwrap_or_else(|_| Err(MendError::Internal { reason: "worker lost".into() }));
    guard.armed = false;
    r
}

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Waits on this thread for `fut`, a foreign future (the app's async HTTP call). Only ever
/// called on a worker thread of [`background`]. If `cancel` is raised meanwhile, `fut` is
/// dropped — which cancels the app's coroutine or task — and `None` is returned.
pub(crate) fn block_on<F: Future>(fut: F, cancel: Option<&AtomicBool>) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return None;
        }
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return Some(v),
            // Woken by the future, or every 100 ms to look at the cancel flag.
            Poll::Pending => std::thread::park_timeout(Duration::from_millis(100)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_future_raises_the_cancel_flag_and_a_finished_one_does_not() {
        let seen = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let s = Arc::clone(&seen);
        let fut = background(move |cancel| {
            started_tx.send(()).unwrap();
            while !cancel.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
            }
            s.store(true, Ordering::Relaxed);
            Ok(())
        });
        let mut fut = Box::pin(fut);
        // Poll once so the worker starts, then drop the future as a cancelled Task would.
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        assert!(fut.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        drop(fut);
        for _ in 0..5000 {
            if seen.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(seen.load(Ordering::Relaxed), "the work never saw its cancel flag");

        let flag = block_on(background(Ok), None).unwrap().unwrap();
        assert!(!flag.load(Ordering::Relaxed), "a completed call must not look cancelled");
    }

    #[test]
    fn a_panicking_worker_is_an_internal_error() {
        let r: Result<(), _> = block_on(background(|_| panic!("boom")), None).unwrap();
        assert!(matches!(r, Err(MendError::Internal { .. })));
    }
}
