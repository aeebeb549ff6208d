//! The embedded store's writer: one thread, group commit.
//!
//! redb allows one write transaction at a time and makes each commit durable
//! with an fsync. Rather than paying one fsync per request, every write is an
//! operation sent to this thread, which runs all operations waiting at that
//! moment inside a single transaction and commits once. No caller is
//! answered before the commit that holds its change is durable.
//!
//! Operations share a transaction, so one must never spoil the others:
//! - an operation that declines (a condition does not hold, a key already
//!   exists) returns [`OpError::Refused`], and must decide that *before* it
//!   writes anything, so that nothing of it is in the transaction; the rest
//!   of the batch commits and its caller gets the refusal;
//! - an operation that hits a storage failure returns [`OpError::Failed`];
//!   it may have left partial writes, so the whole transaction is aborted
//!   and every caller of the batch sees the failure.

use std::any::Any;
use std::sync::Arc;

use redb::{Database, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::unavailable;
use crate::store::StoreError;

/// Most operations one commit carries; bounds a batch's latency.
const MAX_BATCH: usize = 256;

/// Why one write operation did not apply.
#[derive(Debug)]
pub(super) enum OpError<R> {
    /// The operation declined, before writing anything: its caller gets `R`,
    /// the other operations of the batch are unaffected.
    Refused(R),
    /// Storage failed: the batch is aborted.
    Failed(StoreError),
}

impl<R> From<StoreError> for OpError<R> {
    fn from(e: StoreError) -> Self {
        OpError::Failed(e)
    }
}

/// What an operation hands back to the writer: its caller's answer (a
/// `Result<T, R>`, type-erased so that one channel carries every kind), or
/// the storage failure that aborts the batch.
type Outcome = Result<Box<dyn Any + Send>, StoreError>;
type Operation = Box<dyn FnOnce(&WriteTransaction) -> Outcome + Send>;

/// One operation and where its answer goes.
pub(super) struct Job {
    run: Operation,
    reply: oneshot::Sender<Outcome>,
}

impl Job {
    /// Wraps `op`; `rx` receives its outcome once its batch is decided.
    pub(super) fn new<T, R, F>(op: F) -> (Job, oneshot::Receiver<Outcome>)
    where
        T: Send + 'static,
        R: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, OpError<R>> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let run: Operation = Box::new(move |txn| match op(txn) {
            Ok(value) => Ok(Box::new(Ok::<T, R>(value)) as Box<dyn Any + Send>),
            Err(OpError::Refused(refusal)) => Ok(Box::new(Err::<T, R>(refusal))),
            Err(OpError::Failed(e)) => Err(e),
        });
        (Job { run, reply }, rx)
    }
}

/// The sending side of the writer thread. Cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread for `db`.
    pub(super) fn start(db: Arc<Database>) -> Result<Writer, StoreError> {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn(move || writer_loop(&db, rx))
            .map_err(|e| StoreError::Unavailable(format!("failed to start writer: {e}")))?;
        Ok(Writer { jobs })
    }

    /// Runs `op` in the next batch. `Ok(Err(r))` is the operation's refusal,
    /// `Err` a storage failure (of this or another operation of its batch).
    pub(super) async fn write<T, R, F>(&self, op: F) -> Result<Result<T, R>, StoreError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, OpError<R>> + Send + 'static,
    {
        let (job, rx) = Job::new(op);
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer(rx).await
    }
}

/// The answer of a job made by [`Job::new`] with the same `T` and `R`.
pub(super) async fn answer<T: 'static, R: 'static>(
    rx: oneshot::Receiver<Outcome>,
) -> Result<Result<T, R>, StoreError> {
    let answer = rx.await.map_err(|_| stopped())??;
    answer
        .downcast::<Result<T, R>>()
        .map(|v| *v)
        .map_err(|_| StoreError::Corrupt("writer returned an unexpected type".into()))
}

fn stopped() -> StoreError {
    StoreError::Unavailable("embedded store writer stopped".into())
}

fn writer_loop(db: &Database, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = Vec::with_capacity(16);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(db, batch);
    }
}

/// Runs `batch` in one transaction and answers every job.
pub(super) fn run_batch(db: &Database, batch: Vec<Job>) {
    let txn = match db.begin_write() {
        Ok(txn) => txn,
        Err(e) => {
            let err = unavailable(e);
            for job in batch {
                let _ = job.reply.send(Err(err.clone()));
            }
            return;
        }
    };
    let mut done = Vec::with_capacity(batch.len());
    let mut failure = None;
    for job in batch {
        if failure.is_some() {
            done.push((job.reply, None));
            continue;
        }
        match (job.run)(&txn) {
            Ok(value) => done.push((job.reply, Some(value))),
            Err(e) => {
                failure = Some(e);
                done.push((job.reply, None));
            }
        }
    }
    // A storage failure in any operation may have left partial writes in this
    // transaction: abort all of it and let every caller see the error.
    let result = match failure {
        Some(e) => {
            let _ = txn.abort();
            Err(e)
        }
        None => txn.commit().map_err(unavailable),
    };
    for (reply, value) in done {
        let outcome = match (&result, value) {
            (Ok(()), Some(v)) => Ok(v),
            (Err(e), _) => Err(e.clone()),
            (Ok(()), None) => Err(StoreError::Unavailable("batch aborted".into())),
        };
        let _ = reply.send(outcome);
    }
}
