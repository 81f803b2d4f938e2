//! Segment files: naming, listing, creation (preallocated, header written, atomically renamed)
//! and mapping.

use crate::error::{Corruption, JournalError, Result};
use crate::format::{SegmentHeader, HEADER_LEN};
use memmap2::{Mmap, MmapOptions, MmapRaw};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

const SEGMENT_EXT: &str = ".seg";
const TEMP_EXT: &str = ".seg.tmp";

/// File name of the segment whose first record has sequence `first_seq`. Zero-padded so that
/// lexical and numeric order agree.
pub(crate) fn segment_file_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SEGMENT_EXT}")
}

/// Parses a segment file name back into its first sequence number.
fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_EXT)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A segment file found in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    /// First sequence as written in the file name.
    pub name_seq: u64,
    pub path: PathBuf,
}

/// Lists segment files sorted by first sequence. Other files are ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(JournalError::io("read dir", dir))? {
        let entry = entry.map_err(JournalError::io("read dir", dir))?;
        let name = entry.file_name();
        if let Some(seq) = name.to_str().and_then(parse_segment_name) {
            out.push(SegmentFile { name_seq: seq, path: entry.path() });
        }
    }
    out.sort_by_key(|s| s.name_seq);
    Ok(out)
}

/// Removes half-created segments (`*.seg.tmp`) left by a crash during rollover. They never
/// held records: a segment only gets its final name once its header is complete.
pub(crate) fn remove_temp_files(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir).map_err(JournalError::io("read dir", dir))? {
        let entry = entry.map_err(JournalError::io("read dir", dir))?;
        if entry.file_name().to_str().is_some_and(|n| n.ends_with(TEMP_EXT)) {
            let path = entry.path();
            fs::remove_file(&path).map_err(JournalError::io("remove", &path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Fsyncs a directory so that a rename or create inside it survives power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(JournalError::io("fsync dir", dir))
}

/// Reserves disk blocks for the whole file. Without this a write into a sparse mmap'd page on a
/// full disk kills the process with SIGBUS instead of returning an error.
fn preallocate(file: &File, len: u64, path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    file.set_len(len).map_err(JournalError::io("set_len", path))?;
    let off_len = libc::off_t::try_from(len)
        .map_err(|_| JournalError::InvalidConfig(format!("segment size {len} does not fit off_t")))?;
    // SAFETY: plain syscall on a valid, open file descriptor.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, off_len) };
    match rc {
        0 => Ok(()),
        // Filesystems without fallocate support: set_len above is the best we can do.
        libc::EOPNOTSUPP | libc::EINVAL => Ok(()),
        err => Err(JournalError::Io {
            op: "fallocate",
            path: path.to_path_buf(),
            source: std::io::Error::from_raw_os_error(err),
        }),
    }
}

/// An open, writable, mapped segment.
pub(crate) struct WritableSegment {
    pub path: PathBuf,
    pub header: SegmentHeader,
    pub map: MmapRaw,
    /// Keeps the descriptor open for `fsync` on rollover; the mapping itself does not need it.
    pub file: File,
}

/// A preallocated, mapped temp file that becomes the next segment once its header is known.
/// Preparing it ahead (on the journal's background thread) keeps the file creation and
/// `fallocate` off the writer's rollover.
pub(crate) struct PreparedSegment {
    tmp: PathBuf,
    map: MmapRaw,
    file: File,
}

impl PreparedSegment {
    /// Bytes the segment will hold.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The mapping, for prefaulting its first pages before it is used.
    pub(crate) fn map(&self) -> &MmapRaw {
        &self.map
    }

    /// Deletes the temp file of a prepared segment that will not be used.
    pub(crate) fn discard(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Creates, preallocates and maps the temp file `<tag>.seg.tmp`. Nothing with a segment's name
/// exists until [`finish_segment`]; a crash leaves only a temp file that open removes.
pub(crate) fn prepare_segment(dir: &Path, tag: &str, size: u64) -> Result<PreparedSegment> {
    let tmp = dir.join(format!("{tag}{TEMP_EXT}"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(JournalError::io("create", &tmp))?;
    preallocate(&file, size, &tmp)?;
    let map = MmapOptions::new().map_raw(&file).map_err(JournalError::io("mmap", &tmp))?;
    Ok(PreparedSegment { tmp, map, file })
}

/// Writes the header into a prepared segment, (syncs,) and renames it into place, so a segment
/// file with its final name always has a complete header.
pub(crate) fn finish_segment(
    p: PreparedSegment,
    header: &SegmentHeader,
    dir: &Path,
    sync: bool,
) -> Result<WritableSegment> {
    let PreparedSegment { tmp, map, file } = p;
    assert!(map.len() >= HEADER_LEN, "segment size validated against the header length");
    let path = dir.join(segment_file_name(header.first_seq));
    let bytes = header.encode();
    // SAFETY: the mapping holds at least HEADER_LEN bytes (asserted) and nobody else knows
    // about the temp file yet.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), map.as_mut_ptr(), HEADER_LEN) };
    if sync {
        map.flush_range(0, HEADER_LEN).map_err(JournalError::io("msync", &tmp))?;
        file.sync_all().map_err(JournalError::io("fsync", &tmp))?;
    }
    fs::rename(&tmp, &path).map_err(JournalError::io("rename", &tmp))?;
    if sync {
        sync_dir(dir)?;
    }
    Ok(WritableSegment { path, header: header.clone(), map, file })
}

/// Creates a new segment at once: [`prepare_segment`] then [`finish_segment`].
pub(crate) fn create_segment(dir: &Path, header: &SegmentHeader, size: u64, sync: bool) -> Result<WritableSegment> {
    let prepared = prepare_segment(dir, &format!("{:020}", header.first_seq), size)?;
    finish_segment(prepared, header, dir, sync)
}

/// Opens an existing segment for writing (the last one, on recovery).
pub(crate) fn open_writable(path: &Path) -> Result<(File, MmapRaw)> {
    let file = OpenOptions::new().read(true).write(true).open(path).map_err(JournalError::io("open", path))?;
    check_file_len(&file, path)?;
    let map = MmapOptions::new().map_raw(&file).map_err(JournalError::io("mmap", path))?;
    Ok((file, map))
}

/// Maps a segment read-only.
pub(crate) fn map_read_only(path: &Path) -> Result<Mmap> {
    let file = File::open(path).map_err(JournalError::io("open", path))?;
    check_file_len(&file, path)?;
    // SAFETY: segments are only ever written in place by the single writer, never truncated;
    // bytes already written do not change, and readers re-validate every frame's checksum.
    unsafe { MmapOptions::new().map(&file) }.map_err(JournalError::io("mmap", path))
}

/// Segment files must at least hold a header and be a multiple of the frame alignment.
pub(crate) fn check_file_len(file: &File, path: &Path) -> Result<u64> {
    let len = file.metadata().map_err(JournalError::io("stat", path))?.len();
    if len < HEADER_LEN as u64 || !len.is_multiple_of(8) {
        return Err(JournalError::Corrupt {
            segment: path.to_path_buf(),
            offset: 0,
            reason: Corruption::BadSegmentFile(format!("file length {len}")),
        });
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_and_parse() {
        assert_eq!(segment_file_name(12), "00000000000000000012.seg");
        assert_eq!(parse_segment_name(&segment_file_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("12.seg"), None);
        assert_eq!(parse_segment_name("0000000000000000001x.seg"), None);
        assert_eq!(parse_segment_name("00000000000000000012.seg.tmp"), None);
    }
}
