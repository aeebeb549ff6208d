//! The embedded store's thread: every operation, group commit through a
//! write-ahead journal.
//!
//! redb allows one write transaction at a time. This thread keeps one open
//! and runs every operation in it, reads included, batch by batch: all
//! operations waiting at a moment form a batch, whose changes become durable
//! with one journal write and one `fdatasync` (see [`super::journal`]);
//! every second or so a checkpoint commits the transaction durably. No
//! caller is answered, and no later operation sees a change, before the
//! journal record that holds it is on disk: a read in a batch with writes
//! is answered with them.
//!
//! Operations share a batch, so one must never spoil the others:
//! - an operation that declines (a condition does not hold, a key already
//!   exists) returns [`OpError::Refused`], and must decide that *before* it
//!   writes anything, so that nothing of it is in the transaction; the rest
//!   of the batch goes on and its caller gets the refusal;
//! - an operation that hits a storage failure returns [`OpError::Failed`];
//!   it may have left partial writes, so the transaction is aborted, a new
//!   one is rebuilt from the last checkpoint and the journal, and every
//!   caller of the batch sees the failure.
//!
//! If even the rebuild fails, the store refuses every later operation and
//! reports itself broken (readiness fails) until a restart.

use std::any::Any;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::journal::{AppendError, Journal, ReplayError};
use super::txn::{TableSet, Tables, Txn};
use super::unavailable;
use crate::store::StoreError;

/// Most operations one commit carries; bounds a batch's latency.
const MAX_BATCH: usize = 256;

/// What the store thread measures about itself, for the server's metrics.
/// Cheap to clone: every clone observes into the same metrics.
#[derive(Clone)]
pub(super) struct Stats {
    /// Operations per batch.
    batch_operations: Histogram,
    /// Writing a batch's journal record and waiting for its `fdatasync`:
    /// what every answered write waited for.
    journal_write: Histogram,
    /// A checkpoint's durable commit: every operation that arrives
    /// meanwhile waits for it.
    checkpoint: Histogram,
    /// Batches whose callers were told they failed.
    failed_batches: Counter,
    /// Time the thread spent on batches, journal writes and checkpoints
    /// rather than waiting for work: its rate is how saturated the one
    /// store thread is.
    busy: Counter<f64, AtomicU64>,
}

impl Stats {
    pub(super) fn new() -> Stats {
        Stats {
            batch_operations: Histogram::new(exponential_buckets(1.0, 2.0, 9)),
            journal_write: Histogram::new(exponential_buckets(0.000_025, 2.0, 16)),
            checkpoint: Histogram::new(exponential_buckets(0.000_5, 2.0, 14)),
            failed_batches: Counter::default(),
            busy: Counter::default(),
        }
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "batch_operations",
            "Operations per batch of the embedded store (one journal record and fdatasync each)",
            self.batch_operations.clone(),
        );
        registry.register_with_unit(
            "journal_write",
            "Time to write a batch's journal record and fdatasync it, which each answered write waits for",
            Unit::Seconds,
            self.journal_write.clone(),
        );
        registry.register_with_unit(
            "checkpoint",
            "Duration of the embedded store's checkpoints (durable commits of the store file); operations arriving meanwhile wait",
            Unit::Seconds,
            self.checkpoint.clone(),
        );
        registry.register(
            "failed_batches",
            "Batches of the embedded store that failed (storage errors); their callers were answered 503",
            self.failed_batches.clone(),
        );
        registry.register_with_unit(
            "busy",
            "Time the embedded store's thread spent on operations, journal writes and checkpoints instead of waiting for work; its rate near 1 means the store is saturated and requests queue for it",
            Unit::Seconds,
            self.busy.clone(),
        );
    }
}

/// Adds the time from its start to its drop to [`Stats::busy`].
struct Busy<'a> {
    counter: &'a Counter<f64, AtomicU64>,
    since: Instant,
}

impl Busy<'_> {
    fn start(counter: &Counter<f64, AtomicU64>) -> Busy<'_> {
        Busy {
            counter,
            since: Instant::now(),
        }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.counter.inc_by(self.since.elapsed().as_secs_f64());
    }
}

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
    /// Stop as a crash would: no checkpoint; answered once the store file
    /// is closed (tests of recovery).
    #[cfg(test)]
    Halt(std::sync::mpsc::SyncSender<()>),
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
    pub(super) fn start(
        db: Database,
        journal: Journal,
        set: TableSet,
        stats: Stats,
    ) -> Result<Writer, StoreError> {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let broken = Arc::new(OnceLock::new());
        let mut state = State {
            db,
            journal,
            txn: None,
            broken: broken.clone(),
            log: Vec::with_capacity(16 << 10),
            set,
            stats,
            #[cfg(test)]
            halted: None,
        };
        std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn(move || {
                state.run(rx);
                #[cfg(test)]
                if let Some(halted) = state.halted.take() {
                    drop(state);
                    let _ = halted.send(());
                }
            })
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

    /// Stops the store thread as a crash would (no checkpoint) and waits
    /// until it has closed the store file.
    #[cfg(test)]
    pub(super) async fn halt(&self) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .send(Message::Halt(tx))
            .await
            .expect("writer running");
        tokio::task::spawn_blocking(move || rx.recv())
            .await
            .expect("join")
            .expect("halted");
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
    db: Database,
    journal: Journal,
    /// The transaction every batch runs in, until the next checkpoint
    /// commits it (begun on the first batch after one).
    txn: Option<WriteTransaction>,
    broken: Arc<OnceLock<StoreError>>,
    /// The change log, reused from batch to batch.
    log: Vec<u8>,
    /// The tables operations use.
    set: TableSet,
    stats: Stats,
    /// Set by [`Message::Halt`].
    #[cfg(test)]
    halted: Option<std::sync::mpsc::SyncSender<()>>,
}

impl State {
    /// Serves until every sender is gone. Each pass of the outer loop is one
    /// transaction: its tables are opened once, batches run in it until a
    /// checkpoint commits it or a failed batch has it rebuilt.
    fn run(&mut self, mut rx: mpsc::Receiver<Message>) {
        let mut batch = Vec::with_capacity(16);
        // Its own handle, so that a batch's guard need not borrow `self`.
        let busy = self.stats.busy.clone();
        'transactions: loop {
            let txn = self.open();
            let opened = txn
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|txn| Tables::open(txn, self.set).map_err(unavailable));
            loop {
                let Some(first) = rx.blocking_recv() else {
                    drop(opened);
                    if let Ok(txn) = txn {
                        self.txn = Some(txn);
                    }
                    break 'transactions;
                };
                // Until the batch is answered (and any checkpoint after it
                // done), the thread is busy.
                let _busy = Busy::start(&busy);
                self.take(&mut batch, first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(message) => self.take(&mut batch, message),
                        Err(_) => break,
                    }
                }
                #[cfg(test)]
                if self.halted.is_some() {
                    return;
                }
                let tables = match &opened {
                    Ok(tables) => tables,
                    Err(err) => {
                        // No transaction: refuse this batch, try again with
                        // the next one.
                        for job in batch.drain(..) {
                            let _ = job.reply.send(Err(err.clone()));
                        }
                        continue 'transactions;
                    }
                };
                if !self.run_batch(tables, &mut batch) {
                    self.stats.failed_batches.inc();
                    drop(opened);
                    self.rebuild(txn.ok());
                    continue 'transactions;
                }
                // The batch's callers have their answers: a checkpoint now
                // delays only the operations that arrive meanwhile.
                if self.journal.checkpoint_due() {
                    drop(opened);
                    self.txn = txn.ok();
                    self.checkpoint();
                    continue 'transactions;
                }
            }
        }
        // Every sender is gone (the store was dropped): leave nothing to
        // replay.
        self.checkpoint();
    }

    fn take(&mut self, batch: &mut Vec<Job>, message: Message) {
        match message {
            Message::Job(job) => batch.push(job),
            #[cfg(test)]
            Message::Together(jobs) => batch.extend(jobs),
            #[cfg(test)]
            Message::Halt(halted) => self.halted = Some(halted),
        }
    }

    /// Runs `batch` (emptied) in the open transaction, journals its changes
    /// and answers every job. False when the batch failed: its writes are in
    /// the transaction but not in the journal, so the transaction must go.
    fn run_batch(&mut self, tables: &Tables, batch: &mut Vec<Job>) -> bool {
        self.stats.batch_operations.observe(batch.len() as f64);
        let mut done = Vec::with_capacity(batch.len());
        let mut failure = None;
        let recording = Txn::new(tables, std::mem::take(&mut self.log));
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
        let result = match failure {
            Some(e) => Err(e),
            None if self.log.is_empty() => Ok(()),
            None => self.journal_batch(tables),
        };
        // On failure, every caller of the batch sees the error; the caller
        // of this function rebuilds the transaction without the batch.
        for (reply, value) in done {
            let outcome = match (&result, value) {
                (Ok(()), Some(v)) => Ok(v),
                (Err(e), _) => Err(e.clone()),
                (Ok(()), None) => Err(StoreError::Unavailable("batch aborted".into())),
            };
            let _ = reply.send(outcome);
        }
        result.is_ok()
    }

    /// The open transaction, or a new one.
    fn open(&mut self) -> Result<WriteTransaction, StoreError> {
        if let Some(broken) = self.broken.get() {
            return Err(broken.clone());
        }
        match self.txn.take() {
            Some(txn) => Ok(txn),
            None => self.db.begin_write().map_err(unavailable),
        }
    }

    /// Names the batch's record in the transaction, then writes the record
    /// and waits until it is on disk.
    fn journal_batch(&mut self, tables: &Tables) -> Result<(), StoreError> {
        set_applied(tables.txn(), self.journal.next_seq())?;
        let started = Instant::now();
        let appended = self.journal.append(&self.log);
        self.stats
            .journal_write
            .observe(started.elapsed().as_secs_f64());
        match appended {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = StoreError::Unavailable(format!(
                    "failed to write the store journal {}: {e}",
                    self.journal.path().display()
                ));
                if let AppendError::Cut { .. } = e {
                    // A rebuild might replay the record its callers are
                    // told failed: take nothing more until a restart.
                    self.set_broken(err.clone());
                }
                Err(err)
            }
        }
    }

    fn set_broken(&self, err: StoreError) {
        tracing::error!(error = %err, "embedded store broken");
        let _ = self.broken.set(err);
    }

    /// Aborts `txn` (if any) and opens a new transaction holding the last
    /// checkpoint and every journal record since. When even that fails, the
    /// store takes no more operations (and says so) until a restart.
    fn rebuild(&mut self, txn: Option<WriteTransaction>) {
        if let Some(txn) = txn {
            let _ = txn.abort();
        }
        if self.broken.get().is_some() {
            return;
        }
        let rebuilt = self
            .db
            .begin_write()
            .map_err(unavailable)
            .and_then(|txn| replay(&txn, &mut self.journal).map(|_| txn));
        match rebuilt {
            Ok(txn) => self.txn = Some(txn),
            Err(e) => {
                self.set_broken(StoreError::Unavailable(format!(
                    "the embedded store cannot rebuild its state from {} ({e}); restart the server",
                    self.journal.path().display()
                )));
            }
        }
    }

    /// Commits the open transaction durably: the store file then holds
    /// every journaled batch, and the journal starts over.
    fn checkpoint(&mut self) {
        let Some(txn) = self.txn.take() else {
            return;
        };
        let started = Instant::now();
        match txn.commit() {
            Ok(()) => {
                self.stats
                    .checkpoint
                    .observe(started.elapsed().as_secs_f64());
                self.journal.checkpointed();
                tracing::debug!(
                    millis = started.elapsed().as_secs_f64() * 1e3,
                    "embedded store checkpoint"
                );
            }
            Err(e) => {
                // The journal still holds everything since the last one.
                tracing::warn!(error = %e, "embedded store checkpoint failed; rebuilding from the journal");
                self.rebuild(None);
            }
        }
    }
}

/// Names journal record `seq` as applied in `txn`.
fn set_applied(txn: &WriteTransaction, seq: u64) -> Result<(), StoreError> {
    let mut state = txn.open_table(JOURNAL_STATE).map_err(unavailable)?;
    state.insert(APPLIED_SEQ, seq).map_err(unavailable)?;
    Ok(())
}

/// Applies to `txn` the journal records after the last one it holds (from
/// the store's `journal` table). Returns how many it applied.
pub(super) fn replay(txn: &WriteTransaction, journal: &mut Journal) -> Result<u64, StoreError> {
    let applied = {
        let state = txn.open_table(JOURNAL_STATE).map_err(unavailable)?;
        let seq = state.get(APPLIED_SEQ).map_err(unavailable)?;
        seq.map_or(0, |v| v.value())
    };
    let mut records = 0u64;
    let last = journal
        .replay(applied, |seq, payload| {
            records += 1;
            super::txn::apply(txn, seq, payload)
        })
        .map_err(|e| match e {
            ReplayError::Io(e) => StoreError::Unavailable(format!(
                "failed to read {}: {e}",
                journal.path().display()
            )),
            ReplayError::Apply(e) => StoreError::Corrupt(e.to_string()),
            ReplayError::Gap { holds, first } => StoreError::Corrupt(format!(
                "{} starts at record {first} but the store file holds records up to {holds} only: the two do not belong together",
                journal.path().display()
            )),
        })?;
    if records > 0 {
        set_applied(txn, last)?;
    }
    Ok(records)
}
