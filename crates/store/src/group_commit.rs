//! Group commit: many concurrent session changes, few transactions.
//!
//! Each caller of [`GroupCommitter::submit`] hands its change to a single
//! writer task and waits. The writer takes the first waiting change plus
//! everything queued behind it (up to [`MAX_BATCH`]), commits them in one
//! `Store::commit` (one transaction, one fsync), and answers every waiter.
//! So each caller still returns only once its own change is durable, while
//! under load the cost of a durable commit is shared. If a batch fails with
//! a conflict, its changes are retried one by one so that one conflicting
//! change does not fail unrelated ones; if it fails because the database
//! cannot be reached, it and everything queued fail at once. Changes
//! submitted together ([`GroupCommitter::submit_all`]) stay in one
//! transaction, also when retried. A caller that finds no commit under way
//! commits on its own task instead (the same transaction, without the
//! hand-offs to the writer task and back); whoever comes meanwhile queues
//! for the writer task, so commits still group under load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::{SessionChange, Store, StoreError, StoreResult};

/// Most changes committed in one transaction.
pub const MAX_BATCH: usize = 256;

/// Changes that commit together, and who waits for them.
/// A caller's changes and where to answer: on success the changes go back
/// to the caller (no copy of a session is kept to commit it).
type Job = (
    Vec<SessionChange>,
    oneshot::Sender<StoreResult<Vec<SessionChange>>>,
    Instant,
);

/// Batches commits from concurrent callers.
#[derive(Clone)]
pub struct GroupCommitter {
    sender: mpsc::Sender<Job>,
    /// Changes submitted and not yet answered (for [`GroupCommitter::drain`]).
    pending: Arc<AtomicUsize>,
    store: Arc<dyn Store>,
    /// Commits under way (the writer task's batch and a caller's own,
    /// [`GroupCommitter::submit_all`]): a count, not a flag, so that the
    /// writer finishing its batch does not mark a caller's own commit done.
    busy: Arc<AtomicUsize>,
}

impl GroupCommitter {
    /// Starts the writer task over `store`. Needs a Tokio runtime.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>(MAX_BATCH * 4);
        let busy = Arc::new(AtomicUsize::new(0));
        tokio::spawn(write_loop(store.clone(), receiver, busy.clone()));
        GroupCommitter {
            sender,
            pending: Arc::new(AtomicUsize::new(0)),
            store,
            busy,
        }
    }

    /// Waits until every submitted change is committed (or failed), at most
    /// `limit`; returns how many are still pending (0: drained). Shutdown
    /// calls it after the listener stops.
    pub async fn drain(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let pending = self.pending.load(Ordering::SeqCst);
            if pending == 0 || Instant::now() >= deadline {
                return pending;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Commits `change`; returns it once it is durable (or fails).
    pub async fn submit(&self, change: SessionChange) -> StoreResult<SessionChange> {
        let mut changes = self.submit_all(vec![change]).await?;
        changes
            .pop()
            .ok_or_else(|| StoreError::Corrupt("the commit writer lost a change".to_string()))
    }

    /// Commits `changes` in one transaction (all or none, in this order:
    /// several versions of one session may follow each other); returns
    /// them once they are durable (or fails).
    pub async fn submit_all(&self, changes: Vec<SessionChange>) -> StoreResult<Vec<SessionChange>> {
        if changes.is_empty() {
            return Ok(changes);
        }
        self.pending.fetch_add(1, Ordering::SeqCst);
        let _pending = PendingGuard(&self.pending);
        if self
            .busy
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // Nothing is committing: commit on this task, without the two
            // hand-offs (to the writer task and back), each a wake-up that
            // waits for a worker when the machine is busy. Callers arriving
            // meanwhile queue for the writer task and commit as one batch.
            let _busy = BusyGuard(&self.busy);
            if crate::timing::enabled() {
                crate::timing::each(&changes, "commit_queue", Instant::now());
            }
            return commit_alone(self.store.as_ref(), changes).await;
        }
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((changes, reply, Instant::now()))
            .await
            .map_err(|_| StoreError::Corrupt("the commit writer has stopped".to_string()))?;
        answer
            .await
            .map_err(|_| StoreError::Corrupt("the commit writer dropped a change".to_string()))?
    }
}

/// Counts a submitted change until its caller has the answer (or gave up).
struct PendingGuard<'a>(&'a AtomicUsize);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a commit under way as done (also when its caller gave up).
struct BusyGuard<'a>(&'a AtomicUsize);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One caller's changes in one transaction, marked stored on success.
async fn commit_alone(
    store: &dyn Store,
    mut changes: Vec<SessionChange>,
) -> StoreResult<Vec<SessionChange>> {
    metrics::histogram!("evo_store_commit_batch_size").record(changes.len() as f64);
    let started = Instant::now();
    let result = store.commit(&changes).await;
    metrics::histogram!("evo_store_commit_seconds").record(started.elapsed().as_secs_f64());
    result?;
    for change in &mut changes {
        change.session.mark_log_stored();
    }
    Ok(changes)
}

async fn write_loop(
    store: Arc<dyn Store>,
    mut receiver: mpsc::Receiver<Job>,
    busy: Arc<AtomicUsize>,
) {
    while let Some(first) = receiver.recv().await {
        // Callers that find a commit under way queue here rather than commit alone.
        busy.fetch_add(1, Ordering::AcqRel);
        let _busy = BusyGuard(&busy);
        let mut count = first.0.len();
        let mut jobs = vec![first];
        while count < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => {
                    count += job.0.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        // Moved, not copied, into one batch; split again for the answers.
        let mut sizes = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut changes = Vec::with_capacity(count);
        let timed = crate::timing::enabled();
        for (job_changes, reply, submitted) in jobs {
            if timed {
                // Waiting for the writer task (the commits before it).
                crate::timing::each(&job_changes, "commit_queue", submitted);
            }
            sizes.push(job_changes.len());
            replies.push(reply);
            changes.extend(job_changes);
        }
        // Through the `metrics` facade: a no-op unless the server installs
        // an exporter.
        metrics::histogram!("evo_store_commit_batch_size").record(changes.len() as f64);
        let started = Instant::now();
        let result = store.commit(&changes).await;
        metrics::histogram!("evo_store_commit_seconds").record(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                // Their log lines are stored: the next commit of these
                // sessions writes only lines added after (`crate::log`).
                for change in &mut changes {
                    change.session.mark_log_stored();
                }
                for (part, reply) in split(changes, &sizes).into_iter().zip(replies) {
                    let _ = reply.send(Ok(part));
                }
            }
            Err(error) if error.is_unavailable() => {
                // The database is away: fail this batch and everything
                // queued behind it now, rather than let each wait out the
                // pool's timeout in turn (callers answer 503 quickly).
                while let Ok((_, reply, _)) = receiver.try_recv() {
                    replies.push(reply);
                }
                for reply in replies {
                    let _ = reply.send(Err(clone_error(&error)));
                }
            }
            Err(_) if replies.len() > 1 => {
                // Find the culprit: commit each job alone.
                for (part, reply) in split(changes, &sizes).into_iter().zip(replies) {
                    let mut part = part;
                    let result = store.commit(&part).await.map(|()| {
                        for change in &mut part {
                            change.session.mark_log_stored();
                        }
                        part
                    });
                    let _ = reply.send(result);
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(clone_error(&error)));
                }
            }
        }
    }
}

/// `changes` cut back into the jobs' parts, of `sizes` each, in order.
fn split(changes: Vec<SessionChange>, sizes: &[usize]) -> Vec<Vec<SessionChange>> {
    let mut rest = changes.into_iter();
    sizes
        .iter()
        .map(|&size| rest.by_ref().take(size).collect())
        .collect()
}

fn clone_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Duplicate(what) => StoreError::Duplicate(what.clone()),
        StoreError::NotFound(what) => StoreError::NotFound(what.clone()),
        StoreError::Conflict(id) => StoreError::Conflict(id.clone()),
        StoreError::Corrupt(what) => StoreError::Corrupt(what.clone()),
        StoreError::SchemaTooNew { found, known } => StoreError::SchemaTooNew {
            found: *found,
            known: *known,
        },
        StoreError::Unavailable(what) => StoreError::Unavailable(what.clone()),
        StoreError::Database(error) if crate::unreachable_database(error) => {
            StoreError::Unavailable(error.to_string())
        }
        StoreError::Database(error) => StoreError::Corrupt(format!("database error: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use evo_core::reducer::open;
    use evo_core::scenario::{build, Kind};

    fn opened(tag: &str) -> SessionChange {
        let cast = crate::testing::one_agent_cast();
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let plan = build(Kind::InboundAnswered, &cast, tag, start);
        SessionChange {
            session: open(&plan.session_id, plan.header.clone(), plan.opened_at),
            event: None,
            expected_version: None,
            keys: vec![],
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_commit_alone_or_queued_and_one_that_gives_up_blocks_nobody() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::open_store(&dir.path().display().to_string())
            .await
            .unwrap();
        let committer = GroupCommitter::new(store.clone());
        // Given up at its first wait: committed or not, it leaves no
        // commit marked under way, and nothing pending.
        let _ = tokio::time::timeout(Duration::ZERO, committer.submit(opened("GONE"))).await;
        assert_eq!(committer.busy.load(Ordering::Acquire), 0);
        assert_eq!(committer.drain(Duration::from_secs(5)).await, 0);
        // Many at once: some commit alone, the rest queue; all durable.
        let tasks: Vec<_> = (0..20)
            .map(|n| {
                let committer = committer.clone();
                tokio::spawn(async move { committer.submit(opened(&format!("C{n}"))).await })
            })
            .collect();
        for task in tasks {
            let change = task.await.unwrap().unwrap();
            assert!(store.session(change.session.id()).await.unwrap().is_some());
        }
        // A conflict is the caller's alone.
        assert!(matches!(
            committer.submit(opened("C3")).await,
            Err(StoreError::Conflict(_))
        ));
        committer.submit(opened("AFTER")).await.unwrap();
    }
}
