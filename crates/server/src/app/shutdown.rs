//! The process-wide shutdown signal, held in `AppState`.

use tokio::sync::watch;

/// The process-wide shutdown signal. Long-lived responses (the event
/// stream) select on [`Shutdown::wait`] and end with a `retry:` hint, so
/// that graceful shutdown does not wait for them.
#[derive(Clone)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            sender: watch::channel(false).0,
        }
    }
}

impl Shutdown {
    /// Starts the shutdown (idempotent).
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once shutdown has started.
    pub async fn wait(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so `wait_for` only fails if it is dropped.
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }
}
