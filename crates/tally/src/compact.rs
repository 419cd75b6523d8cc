//! Compaction of the sled store at open: sled 0.34 does not reclaim its log
//! when visits re-count existing cells (~0.5 KB per visit, without bound; its
//! segment-cleanup options are no-ops in 0.34 and a smaller `segment_size`
//! only slows the growth, see docs/benchmarks.md), so when the files pass a
//! multiple of the live keys and values (and of their size after the last
//! compaction), every key is copied into a fresh sled store next to the old
//! one and the two directories are swapped. A fresh sled copy itself takes
//! 3-8× its live data on disk: a compaction bounds the store to a multiple of
//! what a fresh copy takes, it does not make it small.
//!
//! Crash safety rests on directory names, each step made durable before the
//! next (all in the data dir, next to `tally/`):
//!
//! 1. `tally.compact/` is built: every key of every tree copied, flushed,
//!    closed, checked against the original's checksum after a reopen, every
//!    file and the directory fsynced. Until step 2 it may be incomplete.
//! 2. `tally.compact/` → `tally.new/` (fsync the data dir): a complete copy.
//! 3. `tally/` → `tally.old/` (fsync).
//! 4. `tally.new/` → `tally/` (fsync).
//! 5. `tally.old/` is deleted (fsync).
//!
//! [`recover`] runs at every open before anything else looks at `tally/` and
//! puts any interrupted compaction into one of two end states: undone (the
//! original store in `tally/`, when the crash came before step 3) or finished
//! (the verified copy in `tally/`, from step 3 on). Both hold the same keys
//! and values, so the counts, the incarnation (a compaction is not a new
//! incarnation: the replica id is a key like any other), the sync watermark
//! and the settings are exactly those of before.
//!
//! Only `TallyStore::open` calls this, holding the data dir's lock, before the
//! store is handed out: no commit can run during a compaction, and commit
//! latency is untouched.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Result, TallyError};
use crate::store::{fsync_dir, open_sled, OpenFailure, STORE_DIR};

/// A copy being built (may be incomplete).
const BUILDING_DIR: &str = "tally.compact";
/// A complete, verified, durable copy waiting to be swapped in.
const READY_DIR: &str = "tally.new";
/// The original store, moved aside by the swap, deleted once the copy is in place.
const OLD_DIR: &str = "tally.old";
/// Inside the store's directory (sled ignores files it does not know), the
/// size sled's files had right after the compaction that made the store, so
/// the next one waits until there is something to gain. It moves with the
/// directory, so it always describes the store next to it.
const BASELINE_FILE: &str = "compacted";
/// Keys copied per sled batch: bounds memory without a commit per key.
const BATCH_KEYS: usize = 4096;

/// When [`crate::TallyStore::open_with`] compacts the store.
#[derive(Debug, Clone, Copy)]
pub struct CompactPolicy {
    /// Never compact a store whose sled files are smaller than this.
    pub min_size: u64,
    /// Compact only when sled's files exceed this multiple of the live keys
    /// and values (what a copy has to hold)…
    pub live_ratio: u64,
    /// …and, if the store was compacted before, this percentage of the size
    /// they had right after that: a copy is never made for nothing.
    pub regrowth_percent: u64,
    /// Test support: called after each step, so a test can kill the process
    /// at an exact point (the crash test's child aborts there).
    #[doc(hidden)]
    pub after_step: Option<fn(CompactStep)>,
}

impl Default for CompactPolicy {
    /// Measured (docs/benchmarks.md): two years of visits take 3.7-4.3× their
    /// live data on disk, a fresh copy of them 3.3-4.8×, and re-counting
    /// existing cells adds ~0.5 KB a visit on top, without bound. 16 MiB keeps
    /// a small store (a year of a quiet kiosk) from ever paying for a scan at
    /// open; past it, a store is compacted once it takes more than 5× its live
    /// data (so a freshly written one, which a copy would hardly shrink, is
    /// left alone) and 1.5× its last fresh size, so after any open it takes at
    /// most the larger of 16 MiB, 5× its live data and 1.5× a fresh copy.
    fn default() -> Self {
        CompactPolicy {
            min_size: 16 * 1024 * 1024,
            live_ratio: 5,
            regrowth_percent: 150,
            after_step: None,
        }
    }
}

impl CompactPolicy {
    /// Compacts at every open (tests, benchmarks).
    pub fn always() -> Self {
        CompactPolicy {
            min_size: 0,
            live_ratio: 0,
            regrowth_percent: 0,
            after_step: None,
        }
    }
}

/// The points of a compaction, in order (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactStep {
    /// The first batch of keys is in `tally.compact/`; the copy is partial.
    Copying,
    /// `tally.compact/` is complete, verified and durable, not yet renamed.
    Copied,
    /// Renamed to `tally.new/`.
    Ready,
    /// The original moved to `tally.old/`: no `tally/` at this point.
    OldAside,
    /// The copy is `tally/`; `tally.old/` not yet deleted.
    Swapped,
    /// `tally.old/` deleted.
    Done,
}

impl CompactStep {
    pub const ALL: [CompactStep; 6] = [
        CompactStep::Copying,
        CompactStep::Copied,
        CompactStep::Ready,
        CompactStep::OldAside,
        CompactStep::Swapped,
        CompactStep::Done,
    ];
}

/// What a compaction at open did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compaction {
    /// The store was rewritten: sled's files took `before` bytes and now take
    /// `after`, for `live` bytes of keys and values.
    Done {
        before: u64,
        after: u64,
        live: u64,
        took: Duration,
    },
    /// The copy could not be made (say, the disk is full); it was removed and
    /// the store opened as it was. Nothing is lost; the next open tries again.
    Failed { reason: String },
}

struct Paths {
    data: PathBuf,
    store: PathBuf,
    building: PathBuf,
    ready: PathBuf,
    old: PathBuf,
}

impl Paths {
    fn of(data: &Path) -> Paths {
        Paths {
            data: data.to_owned(),
            store: data.join(STORE_DIR),
            building: data.join(BUILDING_DIR),
            ready: data.join(READY_DIR),
            old: data.join(OLD_DIR),
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        std::fs::rename(from, to).map_err(TallyError::io(from))?;
        fsync_dir(&self.data)
    }

    fn remove(&self, path: &Path) -> Result<()> {
        // Only ever a directory this module made; a stray file of the same
        // name must not make the store unopenable either.
        if path.is_dir() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        }
        .map_err(TallyError::io(path))?;
        fsync_dir(&self.data)
    }
}

/// Whether a crash left the store between the two renames of a swap (no
/// `tally/`, the original in `tally.old/`): it exists, [`recover`] puts it back.
pub(crate) fn store_set_aside(data: &Path) -> bool {
    let p = Paths::of(data);
    !p.store.exists() && p.old.exists()
}

/// Finishes or undoes a compaction cut short, deterministically by which
/// directories exist (see the module's documentation). Call with the data
/// dir's lock held, before looking at `tally/`.
pub(crate) fn recover(data: &Path) -> Result<()> {
    let p = Paths::of(data);
    if p.building.exists() {
        // Cut short before it was complete: the original is untouched.
        p.remove(&p.building)?;
    }
    if p.old.exists() {
        if p.store.exists() {
            // Cut short after step 4: `tally/` is the verified copy.
        } else if p.ready.exists() {
            // Between steps 3 and 4: finish the swap.
            p.rename(&p.ready, &p.store)?;
        } else {
            // Not a state the steps leave behind (`tally.new/` only goes
            // away by becoming `tally/`); the original is the safe choice.
            p.rename(&p.old, &p.store)?;
            return Ok(());
        }
        p.remove(&p.old)?;
    }
    if p.ready.exists() {
        if p.store.exists() {
            // Between steps 2 and 3: the original is intact and may be
            // newer than a copy left by some other program, so undo; the
            // open compacts again if the store still needs it.
            p.remove(&p.ready)?;
        } else {
            // Not a state the steps leave behind either; the copy is complete.
            p.rename(&p.ready, &p.store)?;
        }
    }
    Ok(())
}

/// Bytes of every regular file under `dir` (sled's log, config, snapshots,
/// blobs): what the compaction policy weighs, and what the benches print.
pub fn dir_size(dir: &Path) -> Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir).map_err(TallyError::io(dir))? {
        let e = e.map_err(TallyError::io(dir))?;
        let m = e.metadata().map_err(TallyError::io(e.path()))?;
        n += if m.is_dir() {
            dir_size(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(n)
}

/// sled's size right after the compaction that made the store in `store`, if
/// it was made by one. Unreadable counts as unknown: it only saves work.
fn baseline(store: &Path) -> Option<u64> {
    std::fs::read_to_string(store.join(BASELINE_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Bytes of every key and value of every tree: what a copy must hold.
fn live_bytes(db: &sled::Db) -> Result<u64> {
    let mut n = 0u64;
    for name in db.tree_names() {
        for kv in db.open_tree(&name)?.iter() {
            let (k, v) = kv?;
            n += (k.len() + v.len()) as u64;
        }
    }
    Ok(n)
}

/// fsyncs every file under `dir`, then `dir` and its sub-directories.
fn fsync_all(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(TallyError::io(dir))? {
        let path = e.map_err(TallyError::io(dir))?.path();
        if path.is_dir() {
            fsync_all(&path)?;
        } else {
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(TallyError::io(&path))?;
        }
    }
    fsync_dir(dir)
}

fn open_at(path: &Path) -> Result<sled::Db> {
    open_sled(path).map_err(|e| match e {
        OpenFailure::InUse => TallyError::StoreInUse {
            dir: path.to_owned(),
        },
        OpenFailure::Other(e) => e,
        OpenFailure::Damaged(r) => TallyError::Damaged(r),
    })
}

/// Compacts the store open as `db` in data dir `data` if `policy` asks for
/// it, and returns the store to use: `db` itself, or the compacted copy
/// opened in its place. Nothing before the swap can keep the store from
/// opening (a failure is reported as [`Compaction::Failed`]); an error means
/// the swap itself failed part way, and the next open's [`recover`] sorts it
/// out.
pub(crate) fn at_open(
    data: &Path,
    db: sled::Db,
    policy: CompactPolicy,
) -> Result<(sled::Db, Option<Compaction>)> {
    let p = Paths::of(data);
    let started = Instant::now();
    let step = |s| {
        if let Some(f) = policy.after_step {
            f(s);
        }
    };
    let prepared = wanted(&p, &db, &policy).and_then(|w| match w {
        None => Ok(None),
        Some(live) => {
            let before = dir_size(&p.store)?;
            build(&p, &db, step)?;
            Ok(Some((before, live)))
        }
    });
    let (before, live) = match prepared {
        Ok(None) => return Ok((db, None)),
        Ok(Some(sizes)) => sizes,
        Err(e) => {
            // Best effort: if even this fails, `recover` removes it next time.
            if p.building.exists() {
                let _ = p.remove(&p.building);
            }
            let reason = match e {
                // The copy's damage, not the store's: no "restart" advice.
                TallyError::Damaged(r) => r,
                e => e.to_string(),
            };
            return Ok((db, Some(Compaction::Failed { reason })));
        }
    };
    // The original must be closed before it moves (sled flushes on drop).
    drop(db);
    p.rename(&p.building, &p.ready)?;
    step(CompactStep::Ready);
    p.rename(&p.store, &p.old)?;
    step(CompactStep::OldAside);
    p.rename(&p.ready, &p.store)?;
    step(CompactStep::Swapped);
    p.remove(&p.old)?;
    step(CompactStep::Done);
    let db = open_at(&p.store)?;
    Ok((
        db,
        Some(Compaction::Done {
            before,
            // Only a figure for the report: not worth failing the open for.
            after: dir_size(&p.store).unwrap_or_default(),
            live,
            took: started.elapsed(),
        }),
    ))
}

/// Whether `policy` wants the store compacted: the live bytes if so.
fn wanted(p: &Paths, db: &sled::Db, policy: &CompactPolicy) -> Result<Option<u64>> {
    let size = db.size_on_disk()?;
    if size < policy.min_size {
        return Ok(None);
    }
    // Checked before the scan of every key, so a store compacted lately
    // costs nothing more at open.
    if let Some(base) = baseline(&p.store) {
        if u128::from(size) * 100 <= u128::from(base) * u128::from(policy.regrowth_percent) {
            return Ok(None);
        }
    }
    let live = live_bytes(db)?;
    Ok((size > live.saturating_mul(policy.live_ratio)).then_some(live))
}

/// Step 1: a complete, verified, durable copy of `db` in `tally.compact/`.
fn build(p: &Paths, db: &sled::Db, step: impl Fn(CompactStep)) -> Result<()> {
    if p.building.exists() {
        p.remove(&p.building)?;
    }
    let copy = open_at(&p.building)?;
    let mut first = true;
    for name in db.tree_names() {
        let (from, to) = (db.open_tree(&name)?, copy.open_tree(&name)?);
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for kv in from.iter() {
            let (k, v) = kv?;
            batch.insert(k, v);
            n += 1;
            if n == BATCH_KEYS {
                to.apply_batch(std::mem::take(&mut batch))?;
                n = 0;
                if first {
                    step(CompactStep::Copying);
                    first = false;
                }
            }
        }
        to.apply_batch(batch)?;
    }
    if first {
        step(CompactStep::Copying);
    }
    copy.flush()?;
    drop(copy);
    // Read back from disk, not from sled's cache: the copy must hold exactly
    // what the original holds before the original may go.
    let copy = open_at(&p.building)?;
    let (want, got) = (db.checksum()?, copy.checksum()?);
    let fresh = copy.size_on_disk()?;
    drop(copy);
    if want != got {
        return Err(TallyError::Damaged(format!(
            "the compacted copy does not read back the same (checksum {got:08x}, expected {want:08x})"
        )));
    }
    let base = p.building.join(BASELINE_FILE);
    std::fs::write(&base, format!("{fresh}\n")).map_err(TallyError::io(&base))?;
    fsync_all(&p.building)?;
    fsync_dir(&p.data)?;
    step(CompactStep::Copied);
    Ok(())
}
