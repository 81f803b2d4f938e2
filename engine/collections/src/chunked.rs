//! [`Chunked`]: a growable sequence stored in fixed-size, copy-on-write chunks.
//!
//! A `Vec` that doubles copies everything it holds: at ten million bets that is a gigabyte
//! copied while the shard stands still. Here growth allocates one more chunk of
//! [`CHUNK`] elements and copies nothing, so the longest pause is one chunk's allocation.
//!
//! Chunks are shared (`Arc`): cloning a `Chunked` copies pointers, not elements, which is how a
//! shard hands a snapshot of millions of accounts to a background thread while stalling for
//! microseconds. The first write to a shared chunk afterwards copies that one chunk.
//!
//! Indexing costs one more load (the chunk table is small and stays in cache). It serializes
//! exactly like a `Vec` (a length, then the elements), so the canonical encoding and the
//! digest do not depend on the layout.

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// Elements per chunk: 64 Ki, so a chunk's allocation is the longest pause. Under miri, 64,
/// so that its tests cross chunk boundaries in seconds rather than an hour of interpretation;
/// every code path is the same, only the constant differs.
#[cfg(not(miri))]
pub const CHUNK_BITS: u32 = 16;
#[cfg(miri)]
pub const CHUNK_BITS: u32 = 6;
pub const CHUNK: usize = 1 << CHUNK_BITS;

pub struct Chunked<T> {
    /// Never has a `Weak` pointer: uniqueness is `strong_count == 1` (see [`unique`]).
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

/// Equal when the elements are, whatever chunks are reserved.
impl<T: PartialEq> PartialEq for Chunked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for Chunked<T> {}

impl<T> Clone for Chunked<T> {
    /// Shares every chunk in use: O(chunks), whatever the number of elements. Chunks reserved
    /// but still empty stay with the original, so filling them later copies nothing.
    fn clone(&self) -> Self {
        Chunked { chunks: self.chunks[..self.len.div_ceil(CHUNK)].to_vec(), len: self.len }
    }
}

/// Replaces a chunk a clone still shares with a copy of its own. Out of line: it runs once
/// per chunk after a snapshot, never on the steady path.
#[cold]
#[inline(never)]
fn copy_shared<T: Clone>(chunk: &mut Arc<Vec<T>>) {
    let mut fresh = new_chunk();
    fresh.extend_from_slice(chunk);
    *chunk = Arc::new(fresh);
}

/// The chunk, made unique first by copying it if a clone still shares it.
#[inline]
fn unique<T: Clone>(chunk: &mut Arc<Vec<T>>) -> &mut Vec<T> {
    if Arc::strong_count(chunk) != 1 {
        copy_shared(chunk);
    } else {
        // `strong_count` is a Relaxed load: it tells us the last other handle is gone, but
        // does not order our writes after that handle's reads (a snapshot thread that just
        // finished reading the chunk and dropped its clone). The drop decremented with
        // Release; this Acquire fence, after a load that saw that decrement, synchronizes
        // with it, as `Arc::get_mut`/`Arc::drop` do. Only this branch needs it (a fresh chunk
        // is ours alone), and on x86 an Acquire fence emits no instruction.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    }
    // SAFETY: the count is 1 and no `Weak` exists (none is ever made), so this is the only
    // handle; no other thread can gain one, because cloning needs `&self.chunks`, which we
    // borrow mutably. Every access through a handle dropped by another thread happens before
    // our writes: its Release decrement synchronizes with the Acquire fence above (or the
    // chunk was just made here). This is `Arc::get_mut` without its atomic read-modify-write
    // on the weak count, which matters on the bet path.
    unsafe { &mut *(Arc::as_ptr(chunk) as *mut Vec<T>) }
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Chunked<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Allocates the chunks for `n` more elements now, so that pushing them allocates nothing.
    pub fn reserve(&mut self, n: usize) {
        let chunks = (self.len + n).div_ceil(CHUNK);
        self.chunks.reserve(chunks.saturating_sub(self.chunks.len()));
        while self.chunks.len() < chunks {
            self.chunks.push(Arc::new(new_chunk()));
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn push(&mut self, value: T)
    where
        T: Clone,
    {
        let chunk = self.len >> CHUNK_BITS;
        if chunk == self.chunks.len() {
            self.add_chunk();
        }
        let c = unique(&mut self.chunks[chunk]);
        debug_assert!(c.len() < CHUNK && c.capacity() == CHUNK, "a chunk never grows past its capacity");
        c.push(value);
        self.len += 1;
    }

    /// Out of line: once per [`CHUNK`] pushes, and keeping it apart keeps `push` small
    /// enough to inline on the bet path.
    #[cold]
    #[inline(never)]
    fn add_chunk(&mut self) {
        self.chunks.push(Arc::new(new_chunk()));
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        if i < self.len {
            Some(&self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)])
        } else {
            None
        }
    }

    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T>
    where
        T: Clone,
    {
        if i < self.len {
            Some(&mut unique(&mut self.chunks[i >> CHUNK_BITS])[i & (CHUNK - 1)])
        } else {
            None
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_
    where
        T: Clone,
    {
        self.chunks.iter_mut().flat_map(|c| unique(c).iter_mut())
    }
}

/// A chunk's memory, asked of the kernel as huge pages and faulted in now, in one call,
/// rather than one page fault per 4 KiB while the shard is taking bets.
fn new_chunk<T>() -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(CHUNK);
    // Not under miri, which cannot run `madvise` (the advice changes no value anyway).
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        const PAGE: usize = 4096;
        let start = (v.as_ptr() as usize).next_multiple_of(PAGE);
        let end = (v.as_ptr() as usize + CHUNK * std::mem::size_of::<T>()) & !(PAGE - 1);
        if end > start {
            // SAFETY: advice on memory this Vec owns; a refusal (old kernel) loses only speed.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_POPULATE_WRITE);
            }
        }
    }
    v
}

impl<T> std::ops::Index<usize> for Chunked<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        self.get(i).unwrap_or_else(|| panic!("index {i} out of range for length {}", self.len))
    }
}

impl<T: Clone> std::ops::IndexMut<usize> for Chunked<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        let len = self.len;
        self.get_mut(i).unwrap_or_else(|| panic!("index {i} out of range for length {len}"))
    }
}

impl<'a, T> IntoIterator for &'a Chunked<T> {
    type Item = &'a T;
    type IntoIter =
        std::iter::FlatMap<std::slice::Iter<'a, Arc<Vec<T>>>, &'a Vec<T>, fn(&'a Arc<Vec<T>>) -> &'a Vec<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flat_map(|c| &**c)
    }
}

impl<T: Clone> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut c = Chunked::new();
        for v in iter {
            c.push(v);
        }
        c
    }
}

impl<T: fmt::Debug> fmt::Debug for Chunked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Serialize> Serialize for Chunked<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len))?;
        for v in self.iter() {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

impl<'de, T: Deserialize<'de> + Clone> Deserialize<'de> for Chunked<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Clone> Visitor<'de> for V<T> {
            type Value = Chunked<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Chunked<T>, A::Error> {
                let mut c = Chunked::new();
                c.reserve(seq.size_hint().unwrap_or(0));
                while let Some(v) = seq.next_element()? {
                    c.push(v);
                }
                Ok(c)
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec_across_chunk_boundaries() {
        let n = CHUNK * 2 + 17;
        let c: Chunked<u32> = (0..n as u32).collect();
        let v: Vec<u32> = (0..n as u32).collect();
        assert_eq!(c.len(), n);
        assert_eq!(c[CHUNK], CHUNK as u32);
        assert_eq!(c.get(n), None);
        assert!(c.iter().copied().eq(v.iter().copied()));
        assert_eq!(c.iter().next_back(), Some(&(n as u32 - 1)));
        // Same bytes as a Vec, so digests do not depend on the layout.
        assert_eq!(bincode::serialize(&c).unwrap(), bincode::serialize(&v).unwrap());
        let back: Chunked<u32> = bincode::deserialize(&bincode::serialize(&v).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn reserved_chunks_are_used_without_moving() {
        let mut c = Chunked::new();
        c.reserve(CHUNK + 1);
        c.push(1u8);
        let first = &c[0] as *const u8;
        for i in 0..CHUNK {
            c.push(i as u8);
        }
        assert_eq!(first, &c[0] as *const u8, "elements never move");
        assert_eq!(c.len(), CHUNK + 1);
    }

    #[test]
    fn clones_share_chunks_until_written() {
        let mut live: Chunked<u64> = (0..(CHUNK as u64 + 10)).collect();
        let snapshot = live.clone();
        let untouched = &snapshot[CHUNK] as *const u64;
        live[3] = 999;
        live.push(7);
        assert_eq!(snapshot[3], 3, "a clone keeps the values it was taken with");
        assert_eq!(snapshot.len(), CHUNK + 10);
        assert_eq!((live[3], live.len()), (999, CHUNK + 11));
        // The second chunk was written too (push), so it was copied; the snapshot's stays put.
        assert_eq!(untouched, &snapshot[CHUNK] as *const u64);
        drop(snapshot);
        let mut reserved: Chunked<u64> = Chunked::new();
        reserved.reserve(3 * CHUNK);
        reserved.push(1);
        let copy = reserved.clone();
        let chunk_two = reserved.chunks[1].as_ptr();
        for i in 0..CHUNK as u64 {
            reserved.push(i);
        }
        assert_eq!(chunk_two, reserved.chunks[1].as_ptr(), "a reserved chunk is not shared, so not copied");
        assert_eq!(copy.len(), 1);
        let before = &live[4] as *const u64;
        live[4] = 1;
        assert_eq!(before, &live[4] as *const u64, "unique again: written in place");
    }

    /// A snapshot clone read and dropped on another thread, then the live side written in
    /// place: the race a missing Acquire fence in `unique` would allow. Run it under
    /// `cargo +nightly miri test -p croupier-collections --lib chunked`, whose data-race detector
    /// reports the write if the fence is removed (`.ci/run` does). One element is one chunk.
    #[test]
    fn writing_after_a_clone_dropped_on_another_thread_is_ordered_after_its_reads() {
        let mut live: Chunked<u8> = std::iter::once(1).collect();
        for round in 0..4u8 {
            let snapshot = live.clone();
            let reader = std::thread::spawn(move || {
                let seen = snapshot[0];
                drop(snapshot);
                seen
            });
            // Spin until the reader's drop is visible, so the next write takes the in-place path
            // (no copy), which is the one that needs the fence.
            while Arc::strong_count(&live.chunks[0]) != 1 {
                std::hint::spin_loop();
            }
            let before = &live[0] as *const u8;
            live[0] = round + 2;
            assert_eq!(before, &live[0] as *const u8, "written in place");
            assert_eq!(reader.join().unwrap(), round + 1);
        }
    }
}
