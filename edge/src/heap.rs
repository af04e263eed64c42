//! Counters around the global allocator, for `GET /v1/stats` (RELIABILITY.md,
//! Memory). Wasm linear memory only grows, so its size is the heap's
//! high-water mark, not what is live; these say what is live now, the peak,
//! and how many blocks were allocated and freed. A leak shows as live bytes
//! (and live blocks) that keep rising at quiescence; a new high-water mark as
//! a higher peak with live bytes back at their baseline.
//!
//! The wrappers are `cap` (live and peak bytes) around `stats_alloc` (counts)
//! around the standard allocator; their `unsafe impl GlobalAlloc` stays in
//! those crates (this crate forbids unsafe code).

use std::alloc::System;

use cap::Cap;
use serde::Serialize;
use stats_alloc::StatsAlloc;

/// Counts allocations and frees, around the standard allocator.
static COUNTS: StatsAlloc<System> = StatsAlloc::system();

/// Tracks live and peak bytes, around `COUNTS`; no limit.
#[global_allocator]
static ALLOCATOR: Cap<&StatsAlloc<System>> = Cap::new(&COUNTS, usize::MAX);

/// A snapshot of the allocator's counters since the isolate started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HeapCounters {
    /// Bytes allocated and not yet freed.
    pub heap_live_bytes: usize,
    /// The most bytes that were live at once.
    pub heap_peak_bytes: usize,
    /// Allocations (a reallocation counts in neither this nor `heap_frees`).
    pub heap_allocs: usize,
    /// Frees.
    pub heap_frees: usize,
    /// Reallocations (a block grown or shrunk in place or moved).
    pub heap_reallocs: usize,
}

/// The counters now.
pub fn counters() -> HeapCounters {
    let s = COUNTS.stats();
    HeapCounters {
        heap_live_bytes: ALLOCATOR.allocated(),
        heap_peak_bytes: ALLOCATOR.max_allocated(),
        heap_allocs: s.allocations,
        heap_frees: s.deallocations,
        heap_reallocs: s.reallocations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_block_is_live_and_counted_then_freed() {
        const SIZE: usize = 1 << 20;
        let before = counters();
        let block = vec![7u8; SIZE];
        let held = counters();
        // Other tests run on other threads; what they allocate only adds.
        assert!(held.heap_live_bytes >= SIZE, "{held:?}");
        assert!(held.heap_peak_bytes >= held.heap_live_bytes, "{held:?}");
        assert!(held.heap_allocs > before.heap_allocs, "{before:?} {held:?}");
        drop(std::hint::black_box(block));
        let after = counters();
        assert!(after.heap_frees > held.heap_frees, "{held:?} {after:?}");
        assert!(after.heap_peak_bytes >= SIZE, "{after:?}");
        assert!(after.heap_allocs >= after.heap_frees, "{after:?}");
    }
}
