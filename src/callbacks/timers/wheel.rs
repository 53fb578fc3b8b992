//! A hierarchical timing wheel of unsorted buckets: where timers wait until
//! their tick comes near. Each level has 64 slots; a slot of level `L` holds
//! the timers whose tick differs from the wheel's current tick `cur` first in
//! the `L`-th group of 6 bits (counting from the low end), so a slot of a
//! lower level is always earlier than any slot of a higher one, and within a
//! level the slot index orders them. Inserting is a push onto one `Vec`;
//! when `cur` reaches a slot of level `L > 0`, its timers are spread over the
//! levels below (each timer moves at most once per level, sequentially).
//!
//! The wheel only buckets: the order inside a tick, `(deadline, seq)`, is
//! decided by the small heap the caller moves a level-0 slot into.

/// Levels of 6 bits each: 8 × 6 = 48 bits of ticks, more than any tick
/// (a tick is the top 44 bits of a 64-bit time).
const LEVELS: usize = 8;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;

/// One slot of the wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) level: usize,
    index: usize,
    /// The first tick the slot covers.
    pub(crate) start: u64,
}

pub(crate) struct Wheel<T> {
    /// Every timer in the wheel has a tick after `cur`.
    cur: u64,
    /// `LEVELS × SLOTS` buckets, level-major.
    slots: Vec<Vec<T>>,
    /// Bit `i` of `occupied[L]`: slot `i` of level `L` is non-empty.
    occupied: [u64; LEVELS],
}

impl<T> Wheel<T> {
    pub(crate) fn new(cur: u64) -> Self {
        Wheel {
            cur,
            slots: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
        }
    }

    /// The current tick: timers at or before it do not belong in the wheel.
    pub(crate) fn cur(&self) -> u64 {
        self.cur
    }

    /// The bucket of a `tick` after [`cur`](Self::cur): its level and
    /// its index among all slots.
    fn bucket_of(&self, tick: u64) -> (usize, usize) {
        let level = ((63 - (tick ^ self.cur).leading_zeros()) / SLOT_BITS) as usize;
        let index = ((tick >> (SLOT_BITS * level as u32)) as usize) & (SLOTS - 1);
        (level, index)
    }

    /// Puts `item`, due at `tick` (after [`cur`](Self::cur)), in its slot.
    pub(crate) fn insert(&mut self, tick: u64, item: T) {
        debug_assert!(tick > self.cur, "tick {tick} not after {}", self.cur);
        let (level, index) = self.bucket_of(tick);
        self.slots[level * SLOTS + index].push(item);
        self.occupied[level] |= 1 << index;
    }

    /// Makes room, before a bucket of level `level` taken with
    /// [`take`](Self::take) is put back, for each of its `ticks` after
    /// [`cur`](Self::cur) in the bucket it will land in, so each of them
    /// grows at most once instead of doubling its way up (every growth is
    /// a copy, and a large allocation in the middle of a burst of timers
    /// firing makes glibc consolidate every callback freed so far). Returns
    /// how many ticks are not after `cur`.
    pub(crate) fn reserve_spread(
        &mut self,
        level: usize,
        ticks: impl Iterator<Item = u64>,
    ) -> usize {
        // A bucket of level L spreads over the levels below it only.
        let mut counts = [[0u32; SLOTS]; LEVELS];
        let mut due = 0;
        for tick in ticks {
            if tick <= self.cur {
                due += 1;
                continue;
            }
            let (l, index) = self.bucket_of(tick);
            counts[l][index % SLOTS] += 1;
        }
        for (l, row) in counts.iter().enumerate().take(level.max(1)) {
            for (index, &n) in row.iter().enumerate() {
                if n > 0 {
                    self.slots[l * SLOTS + index].reserve(n as usize);
                }
            }
        }
        due
    }

    /// The earliest non-empty slot.
    pub(crate) fn earliest(&self) -> Option<Slot> {
        // Asked on every loop turn; most turns of a loop with few or no
        // timers find every level empty.
        if self.occupied == [0; LEVELS] {
            return None;
        }
        for (level, &bits) in self.occupied.iter().enumerate() {
            let shift = SLOT_BITS * level as u32;
            let digit = ((self.cur >> shift) as usize) & (SLOTS - 1);
            // Timers of this level are in slots after `cur`'s own digit.
            let after = if digit == SLOTS - 1 {
                0
            } else {
                bits & (u64::MAX << (digit + 1))
            };
            if after != 0 {
                let index = after.trailing_zeros() as usize;
                let block = shift + SLOT_BITS;
                let start = (self.cur >> block << block) | ((index as u64) << shift);
                return Some(Slot {
                    level,
                    index,
                    start,
                });
            }
        }
        None
    }

    /// Empties `slot`, which must be [`earliest`](Self::earliest), and moves
    /// `cur` to its start; the caller puts the timers back (the heap for those
    /// at `cur`, [`insert`](Self::insert) for the rest, which lands them on
    /// lower levels).
    pub(crate) fn take(&mut self, slot: Slot) -> Vec<T> {
        debug_assert_eq!(self.earliest(), Some(slot));
        self.cur = slot.start;
        self.occupied[slot.level] &= !(1 << slot.index);
        std::mem::take(&mut self.slots[slot.level * SLOTS + slot.index])
    }

    /// Gives back the emptied `Vec` of a [`take`](Self::take), so the next
    /// timers in that slot do not grow a new one. Keeping the capacity (as
    /// a slab keeps its peak) also spares the allocator a large free in the
    /// middle of a burst of timers firing, which in glibc consolidates every
    /// small block freed so far (the callbacks) at a cache miss each.
    pub(crate) fn recycle(&mut self, slot: Slot, v: Vec<T>) {
        debug_assert!(v.is_empty());
        let bucket = &mut self.slots[slot.level * SLOTS + slot.index];
        if bucket.capacity() == 0 {
            *bucket = v;
        }
    }

    /// Moves `cur` on to `tick` when no slot starts at or before it (the
    /// caller took those first); a tick in the past leaves `cur` as it is.
    ///
    /// Every timer stays in its slot: a timer of level `L` shares `cur`'s
    /// bits above its group and is after the start of its slot, which is
    /// after `tick`, so `tick` shares those bits too and its digit of group
    /// `L` is still smaller than the timer's.
    pub(crate) fn advance(&mut self, tick: u64) {
        debug_assert!(self.earliest().is_none_or(|s| s.start > tick));
        self.cur = self.cur.max(tick);
    }

    /// Every bucket, for a purge or a close; call
    /// [`recount`](Self::recount) after emptying some.
    pub(crate) fn buckets_mut(&mut self) -> impl Iterator<Item = &mut Vec<T>> {
        self.slots.iter_mut()
    }

    /// Recomputes which slots are occupied after [`buckets_mut`](Self::buckets_mut).
    pub(crate) fn recount(&mut self) {
        for (level, bits) in self.occupied.iter_mut().enumerate() {
            *bits = 0;
            for (index, bucket) in self.slots[level * SLOTS..(level + 1) * SLOTS]
                .iter()
                .enumerate()
            {
                if !bucket.is_empty() {
                    *bits |= 1 << index;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drains the wheel the way the timer queue does; returns the ticks in
    /// the order their level-0 slots came out (each slot sorted).
    fn drain(w: &mut Wheel<u64>) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(slot) = w.earliest() {
            let items = w.take(slot);
            let mut here = Vec::new();
            for t in items {
                if t <= w.cur() {
                    here.push(t);
                } else {
                    w.insert(t, t);
                }
            }
            here.sort_unstable();
            out.extend(here);
        }
        out
    }

    #[test]
    fn slots_come_out_in_tick_order_across_levels() {
        let mut w = Wheel::new(1000);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut ticks = Vec::new();
        for i in 0..5000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Spread over every level, with ties.
            let t = 1001 + (seed >> (i % 40)) % (1 << (i % 44));
            ticks.push(t);
            w.insert(t, t);
        }
        ticks.sort_unstable();
        assert_eq!(drain(&mut w), ticks);
    }

    #[test]
    fn advance_keeps_every_timer_in_order() {
        let mut w = Wheel::new(0);
        for t in [5u64, 70, 4096 + 3, 300_000, 1 << 40] {
            w.insert(t, t);
        }
        // Take what starts by 4096 + 3, then move on to 200,000.
        let mut seen = Vec::new();
        while let Some(slot) = w.earliest().filter(|s| s.start <= 4099) {
            for t in w.take(slot) {
                if t <= w.cur() {
                    seen.push(t);
                } else {
                    w.insert(t, t);
                }
            }
        }
        w.advance(200_000);
        w.insert(200_001, 200_001);
        seen.extend(drain(&mut w));
        assert_eq!(seen, [5, 70, 4099, 200_001, 300_000, 1 << 40]);
    }
}
