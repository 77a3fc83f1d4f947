//! The queue this process's SQLite writers wait in before they take
//! SQLite's write lock (see `SqlStore::writers`).
//!
//! First come, first served, with one exception: a Server Events log write
//! ([`Writer::EventLog`]) goes before the session commits already waiting,
//! at most once between two commits. A log write is short (no fsync with
//! `synchronous = normal`) and a message waits for it, while a commit
//! behind it waits that much longer only once; a burst of log writes cannot
//! starve commits, since after one has jumped the queue is served in order
//! until the next commit has had its turn.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// Who asks for a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    /// Session commits, parked callbacks, pruning, the event feeds'
    /// bookkeeping: served in order.
    Ordinary,
    /// `Store::append_event_messages`: may go before waiting writers.
    EventLog,
}

/// The queue; a [`Turn`] is held until the write transaction ended.
#[derive(Debug, Default)]
pub(crate) struct WriterQueue {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    held: bool,
    waiting: VecDeque<Waiter>,
    /// A log write went before an ordinary writer since the last ordinary
    /// writer's turn: the next turn goes to the front of the queue.
    jumped: bool,
    next_id: u64,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    writer: Writer,
    wake: oneshot::Sender<()>,
}

impl State {
    fn granted(&mut self, writer: Writer) {
        self.held = true;
        if writer == Writer::Ordinary {
            self.jumped = false;
        }
    }

    /// Hands the turn to the next waiter, or frees it.
    fn pass_on(&mut self) {
        loop {
            let log = if self.jumped {
                None
            } else {
                self.waiting
                    .iter()
                    .position(|waiter| waiter.writer == Writer::EventLog)
            };
            let next = match log {
                Some(at) => {
                    if at > 0 {
                        self.jumped = true;
                    }
                    self.waiting.remove(at)
                }
                None => self.waiting.pop_front(),
            };
            let Some(next) = next else {
                self.held = false;
                return;
            };
            self.granted(next.writer);
            // Its receiver lives in a `Pending`, which removes it from
            // `waiting` under this lock when dropped, so this fails only if
            // that never ran; then the next one gets the turn.
            if next.wake.send(()).is_ok() {
                return;
            }
        }
    }
}

impl WriterQueue {
    /// Waits for this writer's turn.
    pub(crate) async fn turn(&self, writer: Writer) -> Turn<'_> {
        let (id, wake) = {
            let mut state = self.lock();
            if !state.held {
                state.granted(writer);
                return Turn { queue: self };
            }
            let id = state.next_id;
            state.next_id += 1;
            let (wake, woken) = oneshot::channel();
            state.waiting.push_back(Waiter { id, writer, wake });
            (id, woken)
        };
        let mut pending = Pending {
            queue: self,
            id,
            done: false,
        };
        // The sender is only dropped after sending (see `pass_on`).
        let _ = wake.await;
        pending.done = true;
        Turn { queue: self }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // No code panics while holding it; a poisoned state is still whole.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A writer's turn; the next writer's starts when it is dropped.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    queue: &'a WriterQueue,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.queue.lock().pass_on();
    }
}

/// A waiter whose future may be dropped (a cancelled request): it leaves
/// the queue, or passes on the turn it was given meanwhile.
struct Pending<'a> {
    queue: &'a WriterQueue,
    id: u64,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.queue.lock();
        match state.waiting.iter().position(|waiter| waiter.id == self.id) {
            Some(at) => {
                state.waiting.remove(at);
            }
            None => state.pass_on(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Queues `writers` (in order) behind a held turn, frees it and returns
    /// the order in which they got theirs.
    async fn order_of(writers: &[(&'static str, Writer)]) -> Vec<&'static str> {
        let queue = Arc::new(WriterQueue::default());
        let served = Arc::new(Mutex::new(Vec::new()));
        let held = queue.turn(Writer::Ordinary).await;
        let mut tasks = Vec::new();
        for &(name, writer) in writers {
            let queue = queue.clone();
            let served = served.clone();
            tasks.push(tokio::spawn(async move {
                let _turn = queue.turn(writer).await;
                served.lock().unwrap().push(name);
            }));
            // The task runs until it waits in the queue, so they queue in order.
            tokio::task::yield_now().await;
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        let served = served.lock().unwrap().clone();
        served
    }

    #[tokio::test(flavor = "current_thread")]
    async fn ordinary_writers_are_served_in_order() {
        let order = order_of(&[
            ("a", Writer::Ordinary),
            ("b", Writer::Ordinary),
            ("c", Writer::Ordinary),
        ])
        .await;
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_log_write_goes_before_waiting_commits_once_per_commit() {
        use Writer::{EventLog, Ordinary};
        let order = order_of(&[
            ("commit1", Ordinary),
            ("commit2", Ordinary),
            ("log1", EventLog),
            ("log2", EventLog),
            ("log3", EventLog),
            ("commit3", Ordinary),
        ])
        .await;
        // log1 jumps both commits; log2 may jump only after commit1 had its
        // turn; log3 waits for commit2 in turn; commit3 is last but not starved.
        assert_eq!(
            order,
            ["log1", "commit1", "log2", "commit2", "log3", "commit3"]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn log_writes_in_a_row_keep_their_order() {
        use Writer::{EventLog, Ordinary};
        let order = order_of(&[("log1", EventLog), ("log2", EventLog), ("commit", Ordinary)]).await;
        assert_eq!(order, ["log1", "log2", "commit"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_dropped_waiter_neither_keeps_nor_loses_the_turn() {
        let queue = Arc::new(WriterQueue::default());
        let held = queue.turn(Writer::Ordinary).await;
        // Waiting, then cancelled: it leaves the queue.
        let cancelled = tokio::time::timeout(
            std::time::Duration::from_millis(5),
            queue.turn(Writer::EventLog),
        )
        .await;
        assert!(cancelled.is_err());
        drop(held);
        let again = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            queue.turn(Writer::Ordinary),
        )
        .await;
        assert!(again.is_ok(), "the turn was lost");
        drop(again);

        // Given the turn, then dropped before it ran: the turn passes on.
        let held = queue.turn(Writer::Ordinary).await;
        let mut granted = Box::pin(queue.turn(Writer::Ordinary));
        assert!(futures_poll_once(granted.as_mut()).is_none());
        let next = {
            let queue = queue.clone();
            tokio::spawn(async move {
                let _turn = queue.turn(Writer::Ordinary).await;
            })
        };
        tokio::task::yield_now().await;
        drop(held); // `granted` now holds the turn, unpolled
        drop(granted);
        tokio::time::timeout(std::time::Duration::from_secs(5), next)
            .await
            .expect("the turn was kept by a dropped waiter")
            .unwrap();
    }

    fn futures_poll_once<F: std::future::Future>(
        future: std::pin::Pin<&mut F>,
    ) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        match future.poll(&mut context) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        }
    }
}
