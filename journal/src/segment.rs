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

/// An open, writable segment and the memory the writer appends into.
pub(crate) struct WritableSegment {
    pub path: PathBuf,
    pub header: SegmentHeader,
    /// `Process`: the file itself, mapped shared. `Fsync`: anonymous memory the flusher writes
    /// to the file from (see [`crate::flusher`]).
    pub map: MmapRaw,
    /// Keeps the descriptor open; the flusher writes and syncs through it.
    pub file: File,
    /// `Fsync`: the temp name the file keeps until the flusher has synced its header, then
    /// renames it to `path`. `None` once the file has its final name.
    pub tmp: Option<PathBuf>,
}

/// A preallocated temp file that becomes the next segment once its header is known, with the
/// memory the writer will append into. Preparing it ahead (on the journal's background thread)
/// keeps the file creation, `fallocate` and zero-filling off the writer's rollover.
pub(crate) struct PreparedSegment {
    tmp: PathBuf,
    map: MmapRaw,
    file: File,
    /// Whether `map` is anonymous memory (`Fsync`) rather than the file's pages (`Process`).
    buffered: bool,
}

impl PreparedSegment {
    /// Bytes the segment will hold.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The memory the writer appends into, for prefaulting its first pages before it is used.
    pub(crate) fn map(&self) -> &MmapRaw {
        &self.map
    }

    /// Deletes the temp file of a prepared segment that will not be used.
    pub(crate) fn discard(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// How a new segment's file and memory are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Make {
    /// `Process`: the file preallocated and mapped shared; records are durable in its pages.
    Mapped,
    /// `Fsync`: anonymous memory, and the file preallocated with `zero_fill` its blocks
    /// written once with zeros, so that the flusher's syncs overwrite written blocks and need
    /// no file-system journal commit for extent conversion (see [`zero_fill`]). Zero-filling
    /// is done ahead on the background thread; a segment made on the writer's own rollover
    /// (the background thread was late) is only preallocated.
    Buffered { zero_fill: bool },
}

/// Creates and preallocates the temp file `<tag>.seg.tmp` and the memory the writer will
/// append into. Nothing with a segment's name exists until [`finish_segment`] (`Process`) or
/// the flusher's first sync (`Fsync`); a crash leaves only a temp file that open removes.
pub(crate) fn prepare_segment(dir: &Path, tag: &str, size: u64, make: Make) -> Result<PreparedSegment> {
    let tmp = dir.join(format!("{tag}{TEMP_EXT}"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(JournalError::io("create", &tmp))?;
    preallocate(&file, size, &tmp)?;
    let (map, buffered) = match make {
        Make::Mapped => (MmapOptions::new().map_raw(&file).map_err(JournalError::io("mmap", &tmp))?, false),
        Make::Buffered { zero_fill: fill } => {
            if fill {
                zero_fill(&file, &tmp, size)?;
            }
            (anonymous(size as usize, &tmp)?, true)
        }
    };
    Ok(PreparedSegment { tmp, map, file, buffered })
}

/// Anonymous memory of `len` bytes for a buffered segment, on huge pages where the kernel
/// allows (fewer faults to fill it, and a cheap unmap when the flusher drops it).
pub(crate) fn anonymous(len: usize, path: &Path) -> Result<MmapRaw> {
    let map = MmapOptions::new().len(len).map_anon().map_err(JournalError::io("mmap anonymous for", path))?;
    // Advice only: without transparent huge pages it is plain pages.
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(MmapRaw::from(map))
}

/// Writes zeros over the whole file and syncs it. ext4 (and XFS) keep `fallocate`d blocks as
/// "unwritten" extents: the first write into each turns it into a written extent, a metadata
/// change that makes every `fdatasync` of fresh records wait for a file-system journal commit
/// (itself queued behind any other process's data in `data=ordered` mode). Written once here,
/// on the background thread, with direct I/O so that 64 MiB of zeros never enter the page
/// cache. Falls back to leaving the extents unwritten (slower syncs, same data) where direct
/// I/O is not supported (tmpfs before 6.6, some network file systems).
fn zero_fill(file: &File, path: &Path, size: u64) -> Result<()> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    const CHUNK: usize = 1 << 20;
    let Ok(direct) = OpenOptions::new().write(true).custom_flags(libc::O_DIRECT).open(path) else {
        return Ok(());
    };
    let zeros = MmapOptions::new().len(CHUNK).map_anon().map_err(JournalError::io("mmap zeros for", path))?;
    let aligned = size & !(DIRECT_ALIGN as u64 - 1);
    let mut off = 0u64;
    while off < aligned {
        let n = (aligned - off).min(CHUNK as u64) as usize;
        if direct.write_all_at(&zeros[..n], off).is_err() {
            // Direct I/O refused (alignment rules of this file system): keep what is written.
            return Ok(());
        }
        off += n as u64;
    }
    if aligned < size {
        file.write_all_at(&zeros[..(size - aligned) as usize], aligned).map_err(JournalError::io("zero-fill", path))?;
    }
    file.sync_all().map_err(JournalError::io("fsync", path))
}

/// Alignment of offsets, lengths and memory for direct I/O: a page, which every block device's
/// logical block size divides.
pub(crate) const DIRECT_ALIGN: usize = 4096;

/// Writes the header into a prepared segment. `Process`: (nothing to sync) the file is renamed
/// into place at once. `Fsync`: the header is only in the writer's memory; the flusher writes
/// and syncs it with the first records and only then renames the file, so a segment file with
/// its final name always has a complete, durable header.
pub(crate) fn finish_segment(p: PreparedSegment, header: &SegmentHeader, dir: &Path) -> Result<WritableSegment> {
    let PreparedSegment { tmp, map, file, buffered } = p;
    assert!(map.len() >= HEADER_LEN, "segment size validated against the header length");
    let path = dir.join(segment_file_name(header.first_seq));
    let bytes = header.encode();
    // SAFETY: the mapping holds at least HEADER_LEN bytes (asserted) and nobody else knows
    // about the temp file or the memory yet.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), map.as_mut_ptr(), HEADER_LEN) };
    let tmp = if buffered {
        Some(tmp)
    } else {
        fs::rename(&tmp, &path).map_err(JournalError::io("rename", &tmp))?;
        None
    };
    Ok(WritableSegment { path, header: header.clone(), map, file, tmp })
}

/// Creates a new segment at once: [`prepare_segment`] then [`finish_segment`].
pub(crate) fn create_segment(dir: &Path, header: &SegmentHeader, size: u64, make: Make) -> Result<WritableSegment> {
    let prepared = prepare_segment(dir, &format!("{:020}", header.first_seq), size, make)?;
    finish_segment(prepared, header, dir)
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
