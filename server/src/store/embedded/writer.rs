//! The embedded store's writer: one thread, group commit, a write-ahead
//! journal.
//!
//! redb allows one write transaction at a time. Rather than paying one
//! durable commit per request, every write is an operation sent to this
//! thread, which runs all operations waiting at that moment inside a single
//! transaction, makes their changes durable in the journal with one write
//! and one `fdatasync` (see [`super::journal`]), and only then commits (redb
//! itself without an fsync: the journal is the durable copy until the next
//! checkpoint). No caller is answered, and no reader sees a change, before
//! the journal record that holds it is on disk.
//!
//! Operations share a transaction, so one must never spoil the others:
//! - an operation that declines (a condition does not hold, a key already
//!   exists) returns [`OpError::Refused`], and must decide that *before* it
//!   writes anything, so that nothing of it is in the transaction; the rest
//!   of the batch commits and its caller gets the refusal;
//! - an operation that hits a storage failure returns [`OpError::Failed`];
//!   it may have left partial writes, so the whole transaction is aborted
//!   and every caller of the batch sees the failure.
//!
//! A redb commit that fails after its journal record is on disk leaves the
//! store file behind the journal: the writer then refuses every later write
//! and the store reports itself broken (readiness fails) until a restart
//! replays the journal.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use redb::{Database, Durability, TableDefinition, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::journal::Journal;
use super::txn::Txn;
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
type Operation = Box<dyn FnOnce(&Txn) -> Outcome + Send>;

/// The table that names the last journal record a commit holds.
pub(super) const JOURNAL_STATE: TableDefinition<&str, u64> = TableDefinition::new("journal");
/// Its one key.
pub(super) const APPLIED_SEQ: &str = "applied_seq";

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
        F: FnOnce(&Txn) -> Result<T, OpError<R>> + Send + 'static,
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

/// What the writer thread receives.
enum Message {
    Job(Job),
    /// Jobs that must share one batch, in this order (tests of the batch
    /// semantics).
    #[cfg(test)]
    Together(Vec<Job>),
}

/// The sending side of the writer thread. Cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Message>,
    broken: Arc<OnceLock<StoreError>>,
}

impl Writer {
    /// Starts the writer thread for `db`, whose journal is `journal` (the
    /// store has replayed and checkpointed it).
    pub(super) fn start(db: Arc<Database>, journal: Journal) -> Result<Writer, StoreError> {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let broken = Arc::new(OnceLock::new());
        let mut state = State {
            db,
            journal,
            broken: broken.clone(),
            log: Vec::with_capacity(16 << 10),
        };
        std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| StoreError::Unavailable(format!("failed to start writer: {e}")))?;
        Ok(Writer { jobs, broken })
    }

    /// Runs `op` in the next batch. `Ok(Err(r))` is the operation's refusal,
    /// `Err` a storage failure (of this or another operation of its batch).
    pub(super) async fn write<T, R, F>(&self, op: F) -> Result<Result<T, R>, StoreError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: FnOnce(&Txn) -> Result<T, OpError<R>> + Send + 'static,
    {
        let (job, rx) = Job::new(op);
        self.jobs
            .send(Message::Job(job))
            .await
            .map_err(|_| stopped())?;
        answer(rx).await
    }

    /// Runs `jobs` in one batch, in order.
    #[cfg(test)]
    pub(super) async fn write_together(&self, jobs: Vec<Job>) {
        self.jobs
            .send(Message::Together(jobs))
            .await
            .expect("writer running");
    }

    /// Why the store can take no more writes, once that is so.
    pub(super) fn broken(&self) -> Option<&StoreError> {
        self.broken.get()
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

/// The writer thread's own state.
struct State {
    db: Arc<Database>,
    journal: Journal,
    broken: Arc<OnceLock<StoreError>>,
    /// The change log, reused from batch to batch.
    log: Vec<u8>,
}

impl State {
    fn run(&mut self, mut rx: mpsc::Receiver<Message>) {
        let mut batch = Vec::with_capacity(16);
        while let Some(first) = rx.blocking_recv() {
            self.take(&mut batch, first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(message) => self.take(&mut batch, message),
                    Err(_) => break,
                }
            }
            self.run_batch(&mut batch);
            // The batch's callers have their answers: a checkpoint now
            // delays only the operations that arrive meanwhile.
            if self.journal.checkpoint_due() {
                self.checkpoint();
            }
        }
        // Every sender is gone (the store was dropped): leave nothing to
        // replay.
        if self.journal.pending() {
            self.checkpoint();
        }
    }

    fn take(&self, batch: &mut Vec<Job>, message: Message) {
        match message {
            Message::Job(job) => batch.push(job),
            #[cfg(test)]
            Message::Together(jobs) => batch.extend(jobs),
        }
    }

    /// Runs `batch` (emptied) in one transaction and answers every job.
    fn run_batch(&mut self, batch: &mut Vec<Job>) {
        if let Some(broken) = self.broken.get() {
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(broken.clone()));
            }
            return;
        }
        let mut txn = match self.db.begin_write() {
            Ok(txn) => txn,
            Err(e) => {
                let err = unavailable(e);
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(err.clone()));
                }
                return;
            }
        };
        // Durable through the journal; the checkpoint makes the file so.
        txn.set_durability(Durability::None);
        let mut done = Vec::with_capacity(batch.len());
        let mut failure = None;
        let recording = Txn::new(&txn, std::mem::take(&mut self.log));
        for job in batch.drain(..) {
            if failure.is_some() {
                done.push((job.reply, None));
                continue;
            }
            match (job.run)(&recording) {
                Ok(value) => done.push((job.reply, Some(value))),
                Err(e) => {
                    failure = Some(e);
                    done.push((job.reply, None));
                }
            }
        }
        self.log = recording.into_changes();
        // A storage failure in any operation may have left partial writes in
        // this transaction: abort all of it and let every caller see the
        // error. Otherwise the changes go to the journal, then the commit.
        let result = match failure {
            Some(e) => {
                let _ = txn.abort();
                Err(e)
            }
            None => self.commit(txn),
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

    /// Journals the batch's changes, then commits `txn`.
    fn commit(&mut self, txn: WriteTransaction) -> Result<(), StoreError> {
        if self.log.is_empty() {
            // Only refusals and reads: nothing to make durable.
            return txn.commit().map_err(unavailable);
        }
        let seq = self.journal.next_seq();
        if let Err(e) = set_applied(&txn, seq) {
            let _ = txn.abort();
            return Err(e);
        }
        if let Err(e) = self.journal.append(&self.log) {
            let _ = txn.abort();
            return Err(StoreError::Unavailable(format!(
                "failed to write the store journal {}: {e}",
                self.journal.path().display()
            )));
        }
        txn.commit().map_err(|e| {
            // The journal holds changes the store file lacks: no later
            // write may build on this state. A restart replays them.
            let err = StoreError::Unavailable(format!(
                "the embedded store failed to commit a journaled batch ({}); restart the server to recover it from {}",
                unavailable(e),
                self.journal.path().display()
            ));
            tracing::error!(error = %err, "embedded store broken");
            let _ = self.broken.set(err.clone());
            err
        })
    }

    /// A durable commit: the store file then holds every journaled batch,
    /// and the journal starts over.
    fn checkpoint(&mut self) {
        // An empty transaction: committing it durably persists the
        // non-durable commits before it.
        let result = self
            .db
            .begin_write()
            .map_err(redb::Error::from)
            .and_then(|txn| txn.commit().map_err(redb::Error::from));
        match result {
            Ok(()) => self.journal.checkpointed(),
            // The journal still holds everything: try again next time.
            Err(e) => tracing::warn!(error = %e, "embedded store checkpoint failed; will retry"),
        }
    }
}

/// Names journal record `seq` in the commit that applies it.
pub(super) fn set_applied(txn: &WriteTransaction, seq: u64) -> Result<(), StoreError> {
    let mut state = txn.open_table(JOURNAL_STATE).map_err(unavailable)?;
    state.insert(APPLIED_SEQ, seq).map_err(unavailable)?;
    Ok(())
}
