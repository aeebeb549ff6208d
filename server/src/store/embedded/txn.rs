//! Write transactions that record what they change, for the journal.
//!
//! Write operations get a [`Txn`] instead of redb's transaction. Its tables
//! read like redb's (they deref to them, and implement `ReadableTable`),
//! and every change made through them is also appended to the batch's
//! change log, which the writer puts in the journal as one record (see
//! [`super::journal`]). [`apply`] makes the same changes again from a
//! record, after a crash.
//!
//! A change is `kind (1) | table name length (1) | table name | key length
//! (u32 LE) | key`, then for kinds with a value `value length (u32 LE) |
//! value`.

use std::borrow::Borrow;
use std::cell::{RefCell, RefMut};
use std::ops::{Deref, RangeBounds};

use redb::{
    AccessGuard, MultimapTable, MultimapTableDefinition, MultimapTableHandle, MultimapValue,
    ReadableTableMetadata, StorageError, Table, TableDefinition, TableError, TableHandle,
    TableStats, WriteTransaction,
};

type Bytes = &'static [u8];

const INSERT: u8 = 1;
const REMOVE: u8 = 2;
const MULTI_INSERT: u8 = 3;
const MULTI_REMOVE: u8 = 4;
const MULTI_REMOVE_ALL: u8 = 5;

/// The store's tables, opened once per transaction (opening a redb table
/// costs about as much as an insert) and lent to one operation at a time.
pub(super) struct Tables<'db> {
    txn: &'db WriteTransaction,
    tables: Vec<(&'static str, RefCell<Table<'db, Bytes, Bytes>>)>,
    multimaps: Vec<(&'static str, RefCell<MultimapTable<'db, Bytes, Bytes>>)>,
}

/// Which tables [`Tables`] holds.
#[derive(Clone, Copy)]
pub(super) struct TableSet {
    /// The plain tables.
    pub(super) tables: &'static [TableDefinition<'static, Bytes, Bytes>],
    /// The multimap tables.
    pub(super) multimaps: &'static [MultimapTableDefinition<'static, Bytes, Bytes>],
}

impl<'db> Tables<'db> {
    /// Opens every table of `set` in `txn`.
    pub(super) fn open(
        txn: &'db WriteTransaction,
        set: TableSet,
    ) -> Result<Tables<'db>, TableError> {
        let mut tables = Vec::with_capacity(set.tables.len());
        for def in set.tables {
            tables.push((def.name(), RefCell::new(txn.open_table(*def)?)));
        }
        let mut multimaps = Vec::with_capacity(set.multimaps.len());
        for def in set.multimaps {
            multimaps.push((def.name(), RefCell::new(txn.open_multimap_table(*def)?)));
        }
        Ok(Tables {
            txn,
            tables,
            multimaps,
        })
    }

    /// The transaction, for the store's own bookkeeping tables.
    pub(super) fn txn(&self) -> &'db WriteTransaction {
        self.txn
    }
}

/// A table an operation asked for that another handle of the same
/// operation still holds, or that is not one of the store's tables.
#[track_caller]
fn unavailable_table(name: &str) -> TableError {
    TableError::TableAlreadyOpen(name.to_owned(), std::panic::Location::caller())
}

/// An operation's view of the open transaction: the store's tables, and the
/// log of what the batch changed.
pub(in crate::store) struct Txn<'a, 'db> {
    tables: &'a Tables<'db>,
    changes: RefCell<Vec<u8>>,
}

impl<'a, 'db> Txn<'a, 'db> {
    /// Records the changes made through it into `log` (cleared first).
    pub(super) fn new(tables: &'a Tables<'db>, mut log: Vec<u8>) -> Txn<'a, 'db> {
        log.clear();
        Txn {
            tables,
            changes: RefCell::new(log),
        }
    }

    /// The changes made so far, as one journal payload.
    pub(super) fn into_changes(self) -> Vec<u8> {
        self.changes.into_inner()
    }

    /// Lends a table for reading and recorded writing.
    pub(in crate::store) fn open_table(
        &self,
        def: TableDefinition<Bytes, Bytes>,
    ) -> Result<JournaledTable<'_, 'db>, TableError> {
        let (name, table) = lend(&self.tables.tables, def.name())?;
        Ok(JournaledTable {
            table,
            name,
            changes: &self.changes,
        })
    }

    /// Lends a multimap table for reading and recorded writing.
    pub(in crate::store) fn open_multimap_table(
        &self,
        def: MultimapTableDefinition<Bytes, Bytes>,
    ) -> Result<JournaledMultimap<'_, 'db>, TableError> {
        let (name, table) = lend(&self.tables.multimaps, def.name())?;
        Ok(JournaledMultimap {
            table,
            name,
            changes: &self.changes,
        })
    }
}

/// The open table named `wanted`, borrowed for one operation.
fn lend<'a, T>(
    tables: &'a [(&'static str, RefCell<T>)],
    wanted: &str,
) -> Result<(&'static str, RefMut<'a, T>), TableError> {
    let (name, cell) = tables
        .iter()
        .find(|(name, _)| *name == wanted)
        .ok_or_else(|| unavailable_table(wanted))?;
    let table = cell.try_borrow_mut().map_err(|_| unavailable_table(name))?;
    Ok((name, table))
}

fn record(changes: &RefCell<Vec<u8>>, kind: u8, name: &str, key: &[u8], value: Option<&[u8]>) {
    let mut log = changes.borrow_mut();
    log.push(kind);
    // Table names are the store's short constants.
    debug_assert!(
        name.len() <= usize::from(u8::MAX),
        "table name {name} too long"
    );
    log.push(name.len() as u8);
    log.extend_from_slice(name.as_bytes());
    put_bytes(&mut log, key);
    if let Some(value) = value {
        put_bytes(&mut log, value);
    }
}

fn put_bytes(log: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are far below 4 GiB (redb's own limit is lower).
    log.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    log.extend_from_slice(bytes);
}

/// A table of a [`Txn`]: reads as redb's, writes are recorded.
pub(in crate::store) struct JournaledTable<'a, 'db> {
    table: RefMut<'a, Table<'db, Bytes, Bytes>>,
    name: &'static str,
    changes: &'a RefCell<Vec<u8>>,
}

impl JournaledTable<'_, '_> {
    /// As [`Table::insert`], recorded.
    pub(in crate::store) fn insert(
        &mut self,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<AccessGuard<'_, Bytes>>, StorageError> {
        let previous = self.table.insert(key, value)?;
        record(self.changes, INSERT, self.name, key, Some(value));
        Ok(previous)
    }

    /// As [`Table::remove`], recorded.
    pub(in crate::store) fn remove(
        &mut self,
        key: &[u8],
    ) -> Result<Option<AccessGuard<'_, Bytes>>, StorageError> {
        let previous = self.table.remove(key)?;
        if previous.is_some() {
            record(self.changes, REMOVE, self.name, key, None);
        }
        Ok(previous)
    }
}

impl<'db> Deref for JournaledTable<'_, 'db> {
    type Target = Table<'db, Bytes, Bytes>;

    fn deref(&self) -> &Self::Target {
        &self.table
    }
}

impl ReadableTableMetadata for JournaledTable<'_, '_> {
    fn stats(&self) -> Result<TableStats, StorageError> {
        self.table.stats()
    }

    fn len(&self) -> Result<u64, StorageError> {
        self.table.len()
    }
}

impl redb::ReadableTable<Bytes, Bytes> for JournaledTable<'_, '_> {
    fn get<'a>(
        &self,
        key: impl Borrow<&'a [u8]>,
    ) -> Result<Option<AccessGuard<'_, Bytes>>, StorageError> {
        self.table.get(key)
    }

    fn range<'a, KR>(
        &self,
        range: impl RangeBounds<KR> + 'a,
    ) -> Result<redb::Range<'_, Bytes, Bytes>, StorageError>
    where
        KR: Borrow<&'a [u8]> + 'a,
    {
        self.table.range(range)
    }

    fn first(
        &self,
    ) -> Result<Option<(AccessGuard<'_, Bytes>, AccessGuard<'_, Bytes>)>, StorageError> {
        self.table.first()
    }

    fn last(
        &self,
    ) -> Result<Option<(AccessGuard<'_, Bytes>, AccessGuard<'_, Bytes>)>, StorageError> {
        self.table.last()
    }
}

/// A multimap table of a [`Txn`]: reads as redb's, writes are recorded.
pub(in crate::store) struct JournaledMultimap<'a, 'db> {
    table: RefMut<'a, MultimapTable<'db, Bytes, Bytes>>,
    name: &'static str,
    changes: &'a RefCell<Vec<u8>>,
}

impl JournaledMultimap<'_, '_> {
    /// As [`MultimapTable::insert`], recorded.
    pub(in crate::store) fn insert(
        &mut self,
        key: &[u8],
        value: &[u8],
    ) -> Result<bool, StorageError> {
        let existed = self.table.insert(key, value)?;
        if !existed {
            record(self.changes, MULTI_INSERT, self.name, key, Some(value));
        }
        Ok(existed)
    }

    /// As [`MultimapTable::remove`], recorded.
    pub(in crate::store) fn remove(
        &mut self,
        key: &[u8],
        value: &[u8],
    ) -> Result<bool, StorageError> {
        let removed = self.table.remove(key, value)?;
        if removed {
            record(self.changes, MULTI_REMOVE, self.name, key, Some(value));
        }
        Ok(removed)
    }

    /// As [`MultimapTable::remove_all`], recorded.
    pub(in crate::store) fn remove_all(
        &mut self,
        key: &[u8],
    ) -> Result<MultimapValue<'_, Bytes>, StorageError> {
        record(self.changes, MULTI_REMOVE_ALL, self.name, key, None);
        self.table.remove_all(key)
    }
}

impl<'db> Deref for JournaledMultimap<'_, 'db> {
    type Target = MultimapTable<'db, Bytes, Bytes>;

    fn deref(&self) -> &Self::Target {
        &self.table
    }
}

/// A journal record that does not parse.
#[derive(Debug, thiserror::Error)]
pub(super) enum ApplyError {
    /// The record is cut short or names an unknown change.
    #[error("journal record {seq} is malformed at byte {at}")]
    Malformed {
        /// The record's sequence number.
        seq: u64,
        /// Where parsing failed.
        at: usize,
    },
    /// redb refused a change.
    #[error("applying journal record {seq}: {error}")]
    Store {
        /// The record's sequence number.
        seq: u64,
        /// redb's error.
        error: String,
    },
}

/// Makes the changes of journal record `seq` (`payload`) again, in order.
pub(super) fn apply(txn: &WriteTransaction, seq: u64, payload: &[u8]) -> Result<(), ApplyError> {
    let store = |e: redb::Error| ApplyError::Store {
        seq,
        error: e.to_string(),
    };
    let mut reader = Reader {
        payload,
        at: 0,
        seq,
    };
    while !reader.done() {
        let kind = reader.byte()?;
        let name_len = usize::from(reader.byte()?);
        let name = std::str::from_utf8(reader.take(name_len)?).map_err(|_| reader.malformed())?;
        let key = reader.bytes()?;
        match kind {
            INSERT => {
                let value = reader.bytes()?;
                let def = TableDefinition::<Bytes, Bytes>::new(name);
                let mut table = txn.open_table(def).map_err(|e| store(e.into()))?;
                table.insert(key, value).map_err(|e| store(e.into()))?;
            }
            REMOVE => {
                let def = TableDefinition::<Bytes, Bytes>::new(name);
                let mut table = txn.open_table(def).map_err(|e| store(e.into()))?;
                table.remove(key).map_err(|e| store(e.into()))?;
            }
            MULTI_INSERT | MULTI_REMOVE => {
                let value = reader.bytes()?;
                let def = MultimapTableDefinition::<Bytes, Bytes>::new(name);
                let mut table = txn.open_multimap_table(def).map_err(|e| store(e.into()))?;
                if kind == MULTI_INSERT {
                    table.insert(key, value).map_err(|e| store(e.into()))?;
                } else {
                    table.remove(key, value).map_err(|e| store(e.into()))?;
                }
            }
            MULTI_REMOVE_ALL => {
                let def = MultimapTableDefinition::<Bytes, Bytes>::new(name);
                let mut table = txn.open_multimap_table(def).map_err(|e| store(e.into()))?;
                table.remove_all(key).map_err(|e| store(e.into()))?;
            }
            _ => return Err(reader.malformed()),
        }
    }
    Ok(())
}

struct Reader<'p> {
    payload: &'p [u8],
    at: usize,
    seq: u64,
}

impl<'p> Reader<'p> {
    fn done(&self) -> bool {
        self.at >= self.payload.len()
    }

    fn malformed(&self) -> ApplyError {
        ApplyError::Malformed {
            seq: self.seq,
            at: self.at,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'p [u8], ApplyError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.payload.len());
        let Some(end) = end else {
            return Err(self.malformed());
        };
        let slice = &self.payload[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, ApplyError> {
        Ok(self.take(1)?[0])
    }

    fn bytes(&mut self) -> Result<&'p [u8], ApplyError> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| self.malformed())?);
        self.take(len as usize)
    }
}
