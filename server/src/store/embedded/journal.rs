//! The embedded store's write-ahead journal.
//!
//! A durable redb commit writes every B-tree page the transaction touched at
//! its place in the file, and the allocator's own pages, and then fsyncs:
//! several scattered page writes per commit, two to three times the cost of
//! one small fsync here, and redb's commit work on top. The journal makes a
//! batch of operations durable with one sequential write and one
//! `fdatasync` instead:
//!
//! 1. the store thread keeps one redb write transaction open and runs every
//!    batch of operations in it, recording each change (see
//!    [`super::txn`]); reads run in it too, so they see every answered
//!    write;
//! 2. a batch's changes go to the journal as one record, written and
//!    `fdatasync`ed before any operation of the batch is answered; the
//!    record's sequence number goes into the store's `journal` table in the
//!    same transaction;
//! 3. now and then (a size or time bound) a *checkpoint* commits the
//!    transaction durably, which makes everything so far durable in the
//!    store file itself, and the journal starts again from its beginning.
//!
//! After a crash, redb opens at the last checkpoint, whose `journal` table
//! says up to which record it holds; the records after it are applied
//! again, in order. The same happens without a crash when a batch fails (an
//! operation meets a storage error, or its record cannot be written): the
//! open transaction is aborted, a new one takes the records since the
//! checkpoint again, and only the failed batch is lost, its callers told.
//! A record is taken only when its checksum holds and its sequence
//! number is the next one expected, so a torn last write (never answered:
//! callers hear back only after the `fdatasync`) and older records not yet
//! overwritten end the replay.
//!
//! The file is preallocated with written zeros ([`PREALLOCATED`]): an
//! `fdatasync` of a write inside already-written blocks flushes the data
//! alone, while one that grows the file must also journal the new size in
//! the file system.
//!
//! Record layout: `magic (4) | payload length (u32 LE) | sequence (u64 LE) |
//! crc32 of sequence and payload (u32 LE) | reserved (4) | payload`.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MAGIC: [u8; 4] = *b"ALJ1";
const HEADER: usize = 24;
/// The journal file is kept at least this large, of written blocks.
pub(super) const PREALLOCATED: u64 = 8 << 20;
/// A checkpoint is due once the journal has grown this far...
const CHECKPOINT_BYTES: u64 = 1 << 20;
/// ... or this long after the last one, if anything was written since.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// A record this large is refused on replay as corrupt (a batch of 256
/// operations writes far less).
const MAX_RECORD: usize = 256 << 20;

/// The journal beside a store file, open for appending.
pub(super) struct Journal {
    file: File,
    path: PathBuf,
    /// Where the next record goes.
    offset: u64,
    /// The next record's sequence number.
    next_seq: u64,
    last_checkpoint: Instant,
    /// Reused for each record: header and payload go out in one write.
    buf: Vec<u8>,
    sync: SyncFn,
}

/// The journal file of the store at `store`: `<store>.journal`.
pub(super) fn path_for(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

impl Journal {
    /// Opens (or creates, readable by the server's user only) the journal
    /// at `path` and preallocates it.
    pub(super) fn open(path: &Path) -> io::Result<Journal> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        let len = file.metadata()?.len();
        if len < PREALLOCATED {
            // Written zeros, not `fallocate`: the blocks of an allocated but
            // unwritten extent still need a metadata change on first write.
            let zeros = vec![0u8; 1 << 20];
            let mut at = len;
            while at < PREALLOCATED {
                file.write_all_at(&zeros, at)?;
                at += zeros.len() as u64;
            }
            file.sync_all()?;
        }
        Ok(Journal {
            file,
            path: path.to_owned(),
            offset: 0,
            next_seq: 1,
            last_checkpoint: Instant::now(),
            buf: Vec::with_capacity(64 << 10),
            sync: Box::new(|file| file.sync_data()),
        })
    }

    /// Makes records durable with `sync` instead of `fdatasync` (tests of a
    /// failing disk).
    pub(super) fn with_sync(mut self, sync: SyncFn) -> Journal {
        self.sync = sync;
        self
    }

    /// Reads the journal from its beginning and calls `apply` with each
    /// record after sequence number `after` (what the store holds), in
    /// order. The records since the last checkpoint run from the start of
    /// the file with consecutive sequence numbers; the first record that is
    /// torn, corrupt or out of sequence ends them. Records up to `after`
    /// are skipped (a commit after the checkpoint already holds them).
    /// Returns the last sequence number the store holds then; appends
    /// continue after it, behind the last record applied (at the start when
    /// none was).
    pub(super) fn replay<E>(
        &mut self,
        after: u64,
        mut apply: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<u64, ReplayError<E>> {
        let len = self.file.metadata().map_err(ReplayError::Io)?.len();
        let mut offset = 0u64;
        let mut previous: Option<u64> = None;
        let mut end_of_applied = 0u64;
        let mut header = [0u8; HEADER];
        let mut payload = Vec::new();
        while offset + HEADER as u64 <= len {
            self.file
                .read_exact_at(&mut header, offset)
                .map_err(ReplayError::Io)?;
            let Some((size, seq, crc)) = parse_header(&header) else {
                break;
            };
            let in_sequence = previous.is_none_or(|p| seq == p + 1);
            if !in_sequence || size > MAX_RECORD || offset + (HEADER + size) as u64 > len {
                break;
            }
            payload.resize(size, 0);
            self.file
                .read_exact_at(&mut payload, offset + HEADER as u64)
                .map_err(ReplayError::Io)?;
            if checksum(seq, &payload) != crc {
                break;
            }
            if seq > after {
                // The records the store lacks must follow what it holds.
                if previous.is_none() && seq != after + 1 {
                    return Err(ReplayError::Gap {
                        holds: after,
                        first: seq,
                    });
                }
                apply(seq, &payload).map_err(ReplayError::Apply)?;
                end_of_applied = offset + (HEADER + size) as u64;
            }
            previous = Some(seq);
            offset += (HEADER + size) as u64;
        }
        let last = previous.map_or(after, |p| p.max(after));
        self.offset = end_of_applied;
        self.next_seq = last + 1;
        Ok(last)
    }

    /// The sequence number the next [`append`](Self::append) will write.
    pub(super) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Writes `payload` as the next record and waits until it is on disk.
    /// On failure nothing is taken: the same sequence number and place are
    /// used by the next append, and the record can never be replayed.
    pub(super) fn append(&mut self, payload: &[u8]) -> Result<u64, AppendError> {
        let seq = self.next_seq;
        self.buf.clear();
        self.buf.extend_from_slice(&MAGIC);
        let size = u32::try_from(payload.len())
            .ok()
            .filter(|s| (*s as usize) <= MAX_RECORD)
            .ok_or_else(|| AppendError::Write(io::Error::other("journal record too large")))?;
        self.buf.extend_from_slice(&size.to_le_bytes());
        self.buf.extend_from_slice(&seq.to_le_bytes());
        self.buf
            .extend_from_slice(&checksum(seq, payload).to_le_bytes());
        self.buf.extend_from_slice(&[0u8; 4]);
        self.buf.extend_from_slice(payload);
        self.file
            .write_all_at(&self.buf, self.offset)
            .map_err(AppendError::Write)?;
        if let Err(e) = (self.sync)(&self.file) {
            // The record may yet reach the disk, in part or whole, or be
            // read back from the page cache by the rebuild that follows,
            // though its callers are told it failed: its header is zeroed
            // (durably) so that no replay ever takes it.
            return Err(match self.cut_at(self.offset) {
                Ok(()) => AppendError::Sync(e),
                Err(cut) => AppendError::Cut { sync: e, cut },
            });
        }
        self.offset += self.buf.len() as u64;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Ends the journal at `at`: a record there is never replayed.
    fn cut_at(&self, at: u64) -> io::Result<()> {
        self.file.write_all_at(&[0u8; HEADER], at)?;
        self.file.sync_data()
    }

    /// Whether a checkpoint should run now: records were written since the
    /// last one, and the journal is long or the last one old.
    pub(super) fn checkpoint_due(&self) -> bool {
        self.pending()
            && (self.offset >= CHECKPOINT_BYTES
                || self.last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL)
    }

    /// Whether records were written since the last checkpoint.
    pub(super) fn pending(&self) -> bool {
        // Records since the last checkpoint start at the beginning.
        self.offset > 0
    }

    /// Called after a durable store commit that holds every record written
    /// so far: the journal starts again from its beginning. The old records
    /// left behind have lower sequence numbers, so a replay never takes them.
    pub(super) fn checkpointed(&mut self) {
        self.offset = 0;
        self.last_checkpoint = Instant::now();
    }

    /// The journal's path, for messages.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

/// Makes what was written to the journal file durable: `fdatasync`, or in
/// tests one that fails.
pub(super) type SyncFn = Box<dyn FnMut(&File) -> io::Result<()> + Send>;

/// Why an append took nothing.
#[derive(Debug)]
pub(super) enum AppendError {
    /// The record could not be written.
    Write(io::Error),
    /// The record was written but could not be made durable; it has been
    /// cut off.
    Sync(io::Error),
    /// The record could not be made durable, nor cut off: a replay might
    /// take it, though its callers were told it failed.
    Cut { sync: io::Error, cut: io::Error },
}

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppendError::Write(e) => write!(f, "write failed: {e}"),
            AppendError::Sync(e) => write!(f, "fdatasync failed: {e}"),
            AppendError::Cut { sync, cut } => write!(
                f,
                "fdatasync failed ({sync}), and so did cutting the record off ({cut})"
            ),
        }
    }
}

/// Why a replay stopped short.
#[derive(Debug)]
pub(super) enum ReplayError<E> {
    /// Reading the journal failed.
    Io(io::Error),
    /// Applying a record failed.
    Apply(E),
    /// The journal's records start after a gap: the store file is older
    /// than the journal expects (restored from elsewhere?).
    Gap {
        /// The last record the store holds.
        holds: u64,
        /// The journal's first record after it.
        first: u64,
    },
}

fn parse_header(header: &[u8; HEADER]) -> Option<(usize, u64, u32)> {
    if header[..4] != MAGIC {
        return None;
    }
    let size = u32::from_le_bytes(header[4..8].try_into().ok()?) as usize;
    let seq = u64::from_le_bytes(header[8..16].try_into().ok()?);
    let crc = u32::from_le_bytes(header[16..20].try_into().ok()?);
    Some((size, seq, crc))
}

fn checksum(seq: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replayed(journal: &mut Journal, after: u64) -> Vec<(u64, Vec<u8>)> {
        let mut seen = Vec::new();
        journal
            .replay::<()>(after, |seq, payload| {
                seen.push((seq, payload.to_vec()));
                Ok(())
            })
            .expect("replay");
        seen
    }

    #[test]
    fn records_come_back_in_order_after_the_checkpointed_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let mut journal = Journal::open(&path).expect("open");
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), PREALLOCATED);
        for n in 1..=3u8 {
            assert_eq!(journal.append(&[n; 10]).expect("append"), u64::from(n));
        }
        drop(journal);
        let mut journal = Journal::open(&path).expect("reopen");
        let all = replayed(&mut journal, 0);
        assert_eq!(all.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(all[2].1, vec![3u8; 10]);
        // The store already holds 1 and 2: only 3 is applied.
        let mut journal = Journal::open(&path).expect("reopen");
        assert_eq!(replayed(&mut journal, 2).len(), 1);
        assert_eq!(journal.next_seq(), 4);
        // The store holds all three: nothing.
        let mut journal = Journal::open(&path).expect("reopen");
        assert!(replayed(&mut journal, 3).is_empty());
    }

    #[test]
    fn a_torn_or_corrupt_record_ends_the_replay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let mut journal = Journal::open(&path).expect("open");
        journal.append(b"first").expect("append");
        journal.append(b"second").expect("append");
        journal.append(b"third").expect("append");
        drop(journal);
        // Flip one payload byte of the second record.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        let second = (HEADER + 5 + HEADER) as u64;
        file.write_all_at(b"X", second).expect("write");
        drop(file);
        let mut journal = Journal::open(&path).expect("reopen");
        let seen = replayed(&mut journal, 0);
        assert_eq!(seen, vec![(1, b"first".to_vec())]);
        // Appends continue after what was taken, over the corrupt record.
        assert_eq!(journal.append(b"again").expect("append"), 2);
    }

    #[test]
    fn records_left_from_before_a_checkpoint_are_never_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let mut journal = Journal::open(&path).expect("open");
        for _ in 0..5 {
            journal.append(&[7u8; 100]).expect("append");
        }
        assert!(journal.pending());
        // The store made 1..=5 durable; the journal starts over.
        journal.checkpointed();
        assert!(!journal.pending() && !journal.checkpoint_due());
        journal.append(&[8u8; 30]).expect("append");
        drop(journal);
        let mut journal = Journal::open(&path).expect("reopen");
        // After 5, only record 6 (at the start) is taken: behind it lie the
        // remains of records 1..=5, which are out of sequence.
        assert_eq!(replayed(&mut journal, 5), vec![(6, vec![8u8; 30])]);
        // A store that holds 6 already finds nothing to apply.
        let mut journal = Journal::open(&path).expect("reopen");
        assert!(replayed(&mut journal, 6).is_empty());
    }

    /// A record whose `fdatasync` failed is never replayed, even though
    /// the bytes reached the file; the next append takes its place.
    #[test]
    fn a_record_that_could_not_be_made_durable_is_never_replayed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let failing = fail.clone();
        let mut journal = Journal::open(&path)
            .expect("open")
            .with_sync(Box::new(move |file| {
                if failing.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    return Err(io::Error::other("disk on fire"));
                }
                file.sync_data()
            }));
        journal.append(b"first").expect("append");
        fail.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(journal.append(b"lost"), Err(AppendError::Sync(_))));
        let mut reopened = Journal::open(&path).expect("reopen");
        assert_eq!(replayed(&mut reopened, 0), vec![(1, b"first".to_vec())]);
        assert_eq!(journal.append(b"second").expect("append"), 2);
        let mut reopened = Journal::open(&path).expect("reopen");
        assert_eq!(
            replayed(&mut reopened, 0),
            vec![(1, b"first".to_vec()), (2, b"second".to_vec())]
        );
    }

    #[test]
    fn a_store_older_than_the_journal_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let mut journal = Journal::open(&path).expect("open");
        for _ in 0..3 {
            journal.append(b"x").expect("append");
        }
        journal.checkpointed();
        journal.append(b"fourth").expect("append");
        drop(journal);
        // A store file that holds records up to 2 only cannot take 4.
        let mut journal = Journal::open(&path).expect("reopen");
        let gap = journal.replay::<()>(2, |_, _| Ok(()));
        assert!(
            matches!(gap, Err(ReplayError::Gap { holds: 2, first: 4 })),
            "{gap:?}"
        );
    }

    #[test]
    fn a_store_path_gets_its_journal_beside_it() {
        assert_eq!(
            path_for(Path::new("/data/store.redb")),
            PathBuf::from("/data/store.redb.journal")
        );
    }
}
