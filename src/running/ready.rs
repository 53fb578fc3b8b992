//! The ready queue: a FIFO of fixed-size segments.
//!
//! A burst of a million `call_soon`s must not become one contiguous buffer
//! grown by doubling: past the allocator's mmap threshold (32 MiB at most in
//! glibc) every such buffer is fresh memory, and the page faults to clear it
//! cost more than the callbacks. Segments of [`SEGMENT`] entries (64 KiB of
//! `Ready`) come from the ordinary heap. Emptied segments are kept for later
//! pushes, as a `VecDeque` keeps its peak capacity: freeing one in the middle
//! of a burst would make glibc consolidate every callback freed so far.

use std::collections::VecDeque;

/// Entries per segment.
const SEGMENT: usize = 2048;

/// A FIFO with `VecDeque`'s `push_back`/`pop_front`, stored in segments.
/// While it holds at most one segment's worth, it is one `VecDeque`.
pub(crate) struct ReadyQueue<T> {
    /// The oldest entries: popped from here, pushed here while `rest` is
    /// empty; never more than [`SEGMENT`].
    head: VecDeque<T>,
    /// Later segments, oldest first; none is empty or over [`SEGMENT`].
    rest: VecDeque<VecDeque<T>>,
    len: usize,
    /// Emptied segments, reused by the pushes that need one.
    spare: Vec<VecDeque<T>>,
}

impl<T> Default for ReadyQueue<T> {
    fn default() -> Self {
        ReadyQueue {
            head: VecDeque::new(),
            rest: VecDeque::new(),
            len: 0,
            spare: Vec::new(),
        }
    }
}

impl<T> ReadyQueue<T> {
    pub(crate) fn push_back(&mut self, item: T) {
        self.len += 1;
        let back = match self.rest.back_mut() {
            None if self.head.len() < SEGMENT => &mut self.head,
            Some(back) if back.len() < SEGMENT => back,
            _ => {
                let segment = match self.spare.pop() {
                    Some(segment) => segment,
                    None => {
                        // Room for every segment among the spares, taken
                        // now: the spare list never grows while callbacks
                        // run (a large realloc then makes glibc consolidate
                        // every callback box freed so far).
                        self.spare.reserve(self.rest.len() + 2);
                        VecDeque::with_capacity(SEGMENT)
                    }
                };
                self.rest.push_back(segment);
                self.rest.back_mut().unwrap_or(&mut self.head)
            }
        };
        back.push_back(item);
    }

    /// Puts `item` first (a supervised child's held messages, ahead of
    /// what came after them).
    pub(crate) fn push_front(&mut self, item: T) {
        self.len += 1;
        if self.head.len() >= SEGMENT {
            let segment = self
                .spare
                .pop()
                .unwrap_or_else(|| VecDeque::with_capacity(SEGMENT));
            let full = std::mem::replace(&mut self.head, segment);
            self.rest.push_front(full);
        }
        self.head.push_front(item);
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let item = self.head.pop_front()?;
        self.len -= 1;
        if self.head.is_empty() {
            if let Some(next) = self.rest.pop_front() {
                let emptied = std::mem::replace(&mut self.head, next);
                self.spare.push(emptied);
            }
        }
        Some(item)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every entry, oldest first (introspection counts what waits for whom).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.head.iter().chain(self.rest.iter().flatten())
    }
}

impl<T> Extend<T> for ReadyQueue<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.push_back(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_front_goes_first_also_past_a_full_head() {
        let mut q = ReadyQueue::default();
        for i in 0..SEGMENT + 10 {
            q.push_back(i + 100);
        }
        for i in (0..100).rev() {
            q.push_front(i);
        }
        let out: Vec<usize> = std::iter::from_fn(|| q.pop_front()).collect();
        assert_eq!(out, (0..SEGMENT + 110).collect::<Vec<_>>());
        assert!(q.is_empty());
    }

    #[test]
    fn fifo_across_segments_with_interleaved_pops() {
        let mut q = ReadyQueue::default();
        let (mut next_in, mut next_out) = (0usize, 0usize);
        for round in 0..20 {
            for _ in 0..(round * 997) % 5000 {
                q.push_back(next_in);
                next_in += 1;
            }
            for _ in 0..(round * 613) % 4000 {
                match q.pop_front() {
                    Some(v) => {
                        assert_eq!(v, next_out);
                        next_out += 1;
                    }
                    None => assert_eq!(next_out, next_in),
                }
            }
            assert_eq!(q.len(), next_in - next_out);
            assert!(q.head.len() <= SEGMENT);
            assert!(q.rest.iter().all(|s| !s.is_empty() && s.len() <= SEGMENT));
            assert!(!q.head.is_empty() || q.rest.is_empty());
        }
        q.extend(next_in..next_in + 3);
        next_in += 3;
        while let Some(v) = q.pop_front() {
            assert_eq!(v, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
        assert!(q.is_empty());
    }
}
