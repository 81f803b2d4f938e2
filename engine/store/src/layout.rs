//! The data folder's layout, owned here alone: every path in it is built, and every name
//! parsed, by this module.
//!
//! ```text
//! <data>/shards                      the shard count the folder was made with
//! <data>/shard-<n:04>/journal/*.seg  shard n's journal (croupier-journal)
//! <data>/shard-<n:04>/skip           positions an operator set aside (`croupier journal skip`)
//! <data>/snapshots/*.snap            every shard's snapshots (croupier-snapshots)
//! <data>/crash-chains/<channel>.chain a crash channel's secret hash chain (`crash_chains`)
//! ```
//!
//! Other files in the folder belong to their writers and are named there: `croupier.sqlite`
//! and `projector/` (persistence), `operator.key` and `revoked-sessions` (gateway).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// The folder was made for another shard count, or does not say which.
    #[error("{0}")]
    ShardCount(String),
    #[error("skip file: {0}")]
    Skip(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0} is not a data folder: it holds no shard journals (expected shard-0000/journal)")]
    Empty(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LayoutError + '_ {
    move |source| LayoutError::Io { path: path.to_path_buf(), source }
}

/// The file that records the shard count.
pub const SHARD_COUNT_FILE: &str = "shards";

/// `<data>/shard-<n:04>`.
pub fn shard_dir(data_dir: &Path, shard: u32) -> PathBuf {
    data_dir.join(format!("shard-{shard:04}"))
}

/// `<data>/shard-<n:04>/journal`.
pub fn journal_dir(data_dir: &Path, shard: u32) -> PathBuf {
    shard_dir(data_dir, shard).join("journal")
}

/// `<data>/snapshots`, shared by all shards (file names carry the shard).
pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

/// `<data>/crash-chains`: the crash channels' secret hash chains (see `crate::crash_chains`).
pub fn crash_chain_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("crash-chains")
}

/// Whether `channel` can name a file in the data folder as it is: ASCII letters, digits,
/// `-` and `_` only (no separator, no dot, so no way out of the folder and no hidden file).
pub fn is_file_safe_name(channel: &str) -> bool {
    !channel.is_empty() && channel.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `<data>/draws/<stream>.answers`: the answers of `serve --draws-from`'s JetStream intake, by
/// stream sequence; `None` when the stream name cannot be a file name ([`is_file_safe_name`]).
pub fn draws_answers_file(data_dir: &Path, stream: &str) -> Option<PathBuf> {
    is_file_safe_name(stream).then(|| data_dir.join("draws").join(format!("{stream}.answers")))
}

/// `<data>/crash-chains/<channel>.chain`; `None` when the channel id cannot be a file name
/// ([`is_file_safe_name`]).
pub fn crash_chain_file(data_dir: &Path, channel: &str) -> Option<PathBuf> {
    is_file_safe_name(channel).then(|| crash_chain_dir(data_dir).join(format!("{channel}.chain")))
}

/// The temporary name a chain file is written under before it is linked into place.
pub fn crash_chain_temp(data_dir: &Path, channel: &str) -> Option<PathBuf> {
    is_file_safe_name(channel).then(|| crash_chain_dir(data_dir).join(format!("{channel}.chain.tmp")))
}

/// The shard number of a `shard-<n>` folder name.
fn shard_of_dir_name(name: &str) -> Option<u32> {
    name.strip_prefix("shard-").and_then(|n| n.parse().ok())
}

/// The shard count recorded in the folder, if it has one.
pub fn recorded_shard_count(data_dir: &Path) -> Result<Option<usize>, LayoutError> {
    let file = data_dir.join(SHARD_COUNT_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| {
            LayoutError::ShardCount(format!("{} does not hold a shard count: {:?}", file.display(), text.trim()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&file)(e)),
    }
}

/// The shards whose journal folders exist, in order (for folders from before the count was
/// recorded, and to check a recorded count against).
fn shard_dirs(data_dir: &Path) -> Result<Vec<u32>, LayoutError> {
    let Ok(entries) = std::fs::read_dir(data_dir) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(data_dir))?;
        let shard = entry.file_name().to_str().and_then(shard_of_dir_name);
        if let Some(n) = shard.filter(|_| entry.path().join("journal").is_dir()) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The shards of a data folder: `0..count` from its `shards` file, else its `shard-*`
/// journal folders. Every reader (restore, audits, projectors, push) lists them here.
pub fn shards(data_dir: &Path) -> Result<Vec<u32>, LayoutError> {
    if !data_dir.is_dir() {
        return Err(LayoutError::Io {
            path: data_dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such data folder"),
        });
    }
    let found = match recorded_shard_count(data_dir)? {
        Some(n) => (0..n as u32).collect(),
        None => shard_dirs(data_dir)?,
    };
    if found.is_empty() {
        return Err(LayoutError::Empty(data_dir.to_path_buf()));
    }
    Ok(found)
}

/// Refuses a data folder made with another shard count before any shard opens (users are
/// routed by a hash modulo the count: another count would strand their money), and records
/// the count in a new folder, durably (written, synced, renamed into place, folder synced).
pub fn claim_shard_count(data_dir: &Path, shards: usize) -> Result<(), LayoutError> {
    if let Some(made) = recorded_shard_count(data_dir)? {
        if made != shards {
            return Err(LayoutError::ShardCount(format!(
                "{} was made with {made} shards, but the runtime starts {shards}; start with {made}",
                data_dir.display()
            )));
        }
        return Ok(());
    }
    if let Some(n) = shard_dirs(data_dir)?.into_iter().find(|n| *n as usize >= shards) {
        return Err(LayoutError::ShardCount(format!(
            "{} holds shard {n}, but the runtime starts {shards} shards; start with the shard count it was made with",
            data_dir.display()
        )));
    }
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let file = data_dir.join(SHARD_COUNT_FILE);
    let tmp = data_dir.join(format!("{SHARD_COUNT_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(format!("{shards}\n").as_bytes()).and_then(|()| f.sync_all()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &file).map_err(io(&file))?;
    sync_dir(data_dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), LayoutError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// The file beside a shard's journal that lists the records an operator set aside: one
/// journal position per line (a `#` starts a note), each the last record of a command
/// restore must not apply.
pub fn skip_file(journal: &Path) -> PathBuf {
    journal.parent().unwrap_or(journal).join("skip")
}

/// The positions set aside for the journal in `journal` (none when there is no skip file).
pub fn skipped_positions(journal: &Path) -> Result<BTreeSet<u64>, LayoutError> {
    let file = skip_file(journal);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(LayoutError::Skip(format!("cannot read {}: {e}", file.display()))),
    };
    let line = |l: &str| l.split('#').next().unwrap_or("").trim().to_string();
    text.lines()
        .map(line)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.parse::<u64>().map_err(|_| LayoutError::Skip(format!("{} holds {l:?}, not a position", file.display())))
        })
        .collect()
}

/// Sets the command whose last record is `position` aside for every later restore, with a
/// note saying why (a line in the skip file, synced before this returns). The journal
/// itself is never edited: its hash chain stays whole for audits.
pub fn skip_position(journal: &Path, position: u64, note: &str) -> Result<(), LayoutError> {
    let file = skip_file(journal);
    let failed = |e: std::io::Error| LayoutError::Skip(format!("cannot write {}: {e}", file.display()));
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&file).map_err(failed)?;
    let note: String = note.chars().filter(|c| !c.is_control()).take(200).collect();
    writeln!(f, "{position} # {note}").map_err(failed)?;
    f.sync_all().map_err(failed)?;
    sync_dir(file.parent().unwrap_or(journal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_keeps_the_shard_count_it_was_made_with() {
        let dir = tempfile::tempdir().unwrap();
        claim_shard_count(dir.path(), 3).unwrap();
        assert_eq!(recorded_shard_count(dir.path()).unwrap(), Some(3));
        assert_eq!(shards(dir.path()).unwrap(), vec![0, 1, 2]);
        claim_shard_count(dir.path(), 3).unwrap();
        assert!(matches!(claim_shard_count(dir.path(), 2), Err(LayoutError::ShardCount(_))));
    }

    #[test]
    fn a_folder_from_before_the_count_is_read_from_its_shard_folders() {
        let dir = tempfile::tempdir().unwrap();
        for n in [0, 1] {
            std::fs::create_dir_all(journal_dir(dir.path(), n)).unwrap();
        }
        assert_eq!(shards(dir.path()).unwrap(), vec![0, 1]);
        assert!(claim_shard_count(dir.path(), 1).is_err(), "shard 1 exists: it was made with more");
        assert!(matches!(shards(tempfile::tempdir().unwrap().path()), Err(LayoutError::Empty(_))));
    }

    #[test]
    fn skipped_positions_survive_and_carry_notes() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_dir(dir.path(), 0);
        std::fs::create_dir_all(&journal).unwrap();
        assert!(skipped_positions(&journal).unwrap().is_empty());
        skip_position(&journal, 42, "poison\nrecord").unwrap();
        skip_position(&journal, 7, "another").unwrap();
        assert_eq!(skipped_positions(&journal).unwrap().into_iter().collect::<Vec<_>>(), vec![7, 42]);
    }
}
