//! Lookups from callers' ids to dense ids, built for the hot path.
//!
//! A `HashMap<ExtId, BetId>` stores the 40-byte key in every slot; with ten million bets the
//! table dwarfs the caches and every lookup is a cache and TLB miss. [`DenseIndex`] is an
//! open-addressing table of 8-byte slots, each holding the upper 32 bits of the key's hash
//! (a tag) and the dense id; a candidate is confirmed against the entity itself
//! (`bets[id].order_no`), which the caller owns. Large tables ask the kernel for transparent
//! huge pages, and [`DenseIndex::prefetch`] lets a batch of commands overlap its misses.
//!
//! Linear probing at a load factor of at most 3/4: a probe sequence stays within a cache
//! line or two, and always ends at an empty slot because the table is never full.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Empty slot marker; stored slots have a non-zero low half (`id + 1`).
const EMPTY: u64 = 0;
/// Tables from this size up are aligned to and advised as 2 MiB huge pages.
const HUGE_PAGE: usize = 2 << 20;

pub struct DenseIndex {
    slots: Slots,
    len: usize,
}

impl DenseIndex {
    pub fn with_capacity(n: usize) -> Self {
        let want = n.saturating_mul(4) / 3 + 1;
        DenseIndex { slots: Slots::zeroed(want.next_power_of_two().max(16)), len: 0 }
    }

    #[inline]
    fn start(&self, hash: u64) -> usize {
        (hash as usize) & (self.slots.len - 1)
    }

    /// The id whose entity `is` the key, among those stored under `hash`.
    #[inline]
    pub fn get(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.slots.len - 1;
        let tag = hash >> 32;
        let mut i = self.start(hash);
        // Bounded: the table always has an empty slot, so this ends within `len` steps.
        for _ in 0..self.slots.len {
            let s = self.slots.get(i);
            if s == EMPTY {
                return None;
            }
            if s >> 32 == tag && is((s as u32) - 1) {
                return Some((s as u32) - 1);
            }
            i = (i + 1) & mask;
        }
        unreachable!("a dense index is never full");
    }

    /// Adds `id` under `hash`. The key must not be present (decide checked it); `rehash`
    /// gives the hash of a stored id when the table grows.
    #[inline]
    pub fn insert(&mut self, hash: u64, id: u32, rehash: impl Fn(u32) -> u64) {
        assert!(id < u32::MAX, "dense ids stay below u32::MAX");
        if (self.len + 1) * 4 > self.slots.len * 3 {
            self.grow(&rehash);
        }
        self.place(hash, id);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, id: u32) {
        let mask = self.slots.len - 1;
        let mut i = self.start(hash);
        for _ in 0..self.slots.len {
            if self.slots.get(i) == EMPTY {
                self.slots.set(i, (hash >> 32) << 32 | (id as u64 + 1));
                return;
            }
            i = (i + 1) & mask;
        }
        unreachable!("a dense index is never full");
    }

    #[cold]
    fn grow(&mut self, rehash: &impl Fn(u32) -> u64) {
        let bigger = Slots::zeroed(self.slots.len * 2);
        let old = std::mem::replace(&mut self.slots, bigger);
        for i in 0..old.len {
            let s = old.get(i);
            if s != EMPTY {
                let id = (s as u32) - 1;
                self.place(rehash(id), id);
            }
        }
    }

    /// The first id stored under `hash`'s tag, unconfirmed: for prefetching the entity it
    /// probably is, without waiting for that entity to confirm it.
    #[inline]
    pub fn peek(&self, hash: u64) -> Option<u32> {
        let mask = self.slots.len - 1;
        let mut i = self.start(hash);
        for _ in 0..self.slots.len {
            let s = self.slots.get(i);
            if s == EMPTY {
                return None;
            }
            if s >> 32 == hash >> 32 {
                return Some((s as u32) - 1);
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Makes room for `more` entries beyond those stored, growing once now instead of
    /// repeatedly later (a replay knows how many records are coming).
    pub fn reserve(&mut self, more: usize, rehash: impl Fn(u32) -> u64) {
        while (self.len + more) * 4 > self.slots.len * 3 {
            self.grow(&rehash);
        }
    }

    /// Asks the CPU to fetch the slot a lookup of `hash` starts at. A hint only.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        prefetch(self.slots.ptr.as_ptr().wrapping_add(self.start(hash)));
    }
}

impl Default for DenseIndex {
    fn default() -> Self {
        DenseIndex::with_capacity(0)
    }
}

impl Clone for DenseIndex {
    fn clone(&self) -> Self {
        let slots = Slots::zeroed(self.slots.len);
        // SAFETY: both buffers hold `len` initialized u64s and do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(self.slots.ptr.as_ptr(), slots.ptr.as_ptr(), slots.len) };
        DenseIndex { slots, len: self.len }
    }
}

/// An index is derived from the entities it points into; two owners are equal when their
/// data are, whatever the layout of their indexes.
impl PartialEq for DenseIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for DenseIndex {}

impl std::fmt::Debug for DenseIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DenseIndex({} of {} slots)", self.len, self.slots.len)
    }
}

/// A zeroed, power-of-two buffer of u64 slots. Large buffers are 2 MiB aligned and advised as
/// huge pages: one TLB entry then covers 256 Ki slots instead of 512.
struct Slots {
    ptr: NonNull<u64>,
    len: usize,
}

// SAFETY: `Slots` owns its buffer exclusively, like a `Box<[u64]>`.
unsafe impl Send for Slots {}
unsafe impl Sync for Slots {}

impl Slots {
    fn layout(len: usize) -> Layout {
        let bytes = len * std::mem::size_of::<u64>();
        let align = if bytes >= HUGE_PAGE { HUGE_PAGE } else { std::mem::align_of::<u64>() };
        Layout::from_size_align(bytes, align).expect("index size fits a layout")
    }

    fn zeroed(len: usize) -> Slots {
        debug_assert!(len.is_power_of_two());
        let layout = Self::layout(len);
        // Allocate, advise, then zero: zeroing first would fault the pages in as small pages
        // before the kernel heard the advice.
        // SAFETY: the layout has a non-zero size (len >= 16).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw as *mut u64) else { alloc::handle_alloc_error(layout) };
        #[cfg(all(target_os = "linux", not(miri)))]
        if layout.size() >= HUGE_PAGE {
            // SAFETY: advising our own, page-aligned allocation; failure only loses the hint.
            unsafe { libc::madvise(raw as *mut libc::c_void, layout.size(), libc::MADV_HUGEPAGE) };
        }
        // SAFETY: `raw` holds `layout.size()` writable bytes; EMPTY slots are zero.
        unsafe { std::ptr::write_bytes(raw, 0, layout.size()) };
        Slots { ptr, len }
    }

    #[inline]
    fn get(&self, i: usize) -> u64 {
        debug_assert!(i < self.len);
        // SAFETY: callers mask `i` by `len - 1`.
        unsafe { *self.ptr.as_ptr().add(i) }
    }

    #[inline]
    fn set(&mut self, i: usize, v: u64) {
        debug_assert!(i < self.len);
        // SAFETY: callers mask `i` by `len - 1`.
        unsafe { *self.ptr.as_ptr().add(i) = v }
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this same layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr() as *mut u8, Self::layout(self.len)) }
    }
}

/// A prefetch hint for the cache line holding `p`; a no-op where unsupported.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Murmur3's finalizer: spreads every input bit over the high bits (the tag) and the low
/// bits (the slot).
#[inline]
pub fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_entity_through_growth_and_collisions() {
        // Keys with equal low bits collide in the first table and must still be found. Every
        // key probes past all earlier ones, so miri, which interprets each probe, gets fewer.
        let count = if cfg!(miri) { 300 } else { 5_000u64 };
        let keys: Vec<u64> = (0..count).map(|k| k << 20).collect();
        let hash = |k: u64| mix64(k) & !0xFFFF_FFFF | (k & 0xFF);
        let mut idx = DenseIndex::with_capacity(4);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(idx.get(hash(*k), |j| keys[j as usize] == *k), None);
            idx.insert(hash(*k), i as u32, |j| hash(keys[j as usize]));
        }
        assert_eq!(idx.len, keys.len());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(idx.get(hash(*k), |j| keys[j as usize] == *k), Some(i as u32));
        }
        assert_eq!(idx.get(hash(7), |j| keys[j as usize] == 7), None);
        let copy = idx.clone();
        assert_eq!(copy.get(hash(keys[42]), |j| keys[j as usize] == keys[42]), Some(42));
    }

    #[test]
    fn huge_tables_allocate_and_free() {
        let idx = DenseIndex::with_capacity(1 << 20);
        assert!(format!("{idx:?}").contains("slots"));
        idx.prefetch(12345);
    }
}
