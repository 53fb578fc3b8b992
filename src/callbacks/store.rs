//! Where the loop keeps the callbacks of its timers.
//!
//! A timer's callback of at most [`MAX_STORED`] bytes waits in a slab of its
//! own closure type (one per type, shared by every callback of that type),
//! not in a box of its own; a larger one is boxed, and the box waits in the
//! slab of boxes. Scheduling then allocates nothing once a slab has room, and
//! firing frees nothing: a million timers firing in deadline order would
//! otherwise free a million boxes in an order unrelated to their addresses,
//! which glibc later walks one cache miss at a time when a large allocation
//! makes it consolidate them. A slab keeps its peak while it holds anything
//! and gives its memory back once a large one is empty.
//!
//! `call_soon` keeps plain boxes: its callbacks run in the order they were
//! allocated, which suits the allocator's fast paths.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The largest closure kept in a slab.
const MAX_STORED: usize = 64;

/// A slab larger than this many entries gives its memory back once it is
/// empty (a burst is over); smaller ones keep it.
const KEEP_EMPTY: usize = 4096;

/// The loop's slabs, shared with every [`Callback`] stored in them.
pub(crate) type Store = Rc<RefCell<Slabs>>;

/// A new, empty store.
pub(crate) fn new_store() -> Store {
    Rc::new(RefCell::new(Slabs::default()))
}

/// Takes callback `index` out of slab `slab`, then runs it (`true`) or drops
/// it, with the store no longer borrowed: the callback may schedule more.
type Take = fn(&Store, u32, u32, bool);

/// Asks for the cache line of entry `index` of a slab.
type Prefetch = fn(&dyn Any, u32);

/// One slab per closure type.
#[derive(Default)]
pub(crate) struct Slabs {
    /// `Slab<F>` for the `F` of each entry of `takers`.
    slabs: Vec<Box<dyn Any>>,
    takers: Vec<Take>,
    prefetchers: Vec<Prefetch>,
    by_type: HashMap<TypeId, u32>,
    /// The type stored last, and its slab: a loop of `call_soon` of one
    /// closure skips the map.
    last: Option<(TypeId, u32)>,
}

impl Slabs {
    fn slab_of<F: FnOnce() + 'static>(&mut self) -> u32 {
        let ty = TypeId::of::<F>();
        if let Some((last, id)) = self.last {
            if last == ty {
                return id;
            }
        }
        let id = match self.by_type.get(&ty) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.slabs.len()).expect("fewer than 2^32 closure types");
                self.slabs.push(Box::new(Slab::<F>::default()));
                self.takers.push(take_stored::<F>);
                self.prefetchers.push(prefetch_stored::<F>);
                self.by_type.insert(ty, id);
                id
            }
        };
        self.last = Some((ty, id));
        id
    }

    fn slab_mut<F: 'static>(&mut self, id: u32) -> &mut Slab<F> {
        self.slabs[id as usize]
            .downcast_mut()
            .expect("a slab holds the closure type it was made for")
    }
}

struct Slab<F> {
    items: Vec<Option<F>>,
    /// Empty entries of `items`, reused last-freed first (still in cache).
    free: Vec<u32>,
}

impl<F> Default for Slab<F> {
    fn default() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<F> Slab<F> {
    fn insert(&mut self, f: F) -> u32 {
        match self.free.pop() {
            Some(index) => {
                self.items[index as usize] = Some(f);
                index
            }
            None => {
                let index =
                    u32::try_from(self.items.len()).expect("fewer than 2^32 pending callbacks");
                self.items.push(Some(f));
                index
            }
        }
    }

    fn take(&mut self, index: u32) -> F {
        let f = self.items[index as usize]
            .take()
            .expect("a stored callback is taken once");
        self.free.push(index);
        if self.free.len() == self.items.len() && self.items.len() > KEEP_EMPTY {
            *self = Slab::default();
        }
        f
    }
}

fn prefetch_stored<F: 'static>(slab: &dyn Any, index: u32) {
    if let Some(entry) = slab
        .downcast_ref::<Slab<F>>()
        .and_then(|s| s.items.get(index as usize))
    {
        switchboard_actors::sys::cpu::prefetch(entry);
    }
}

fn take_stored<F: FnOnce() + 'static>(store: &Store, slab: u32, index: u32, run: bool) {
    let f: F = store.borrow_mut().slab_mut::<F>(slab).take(index);
    if run {
        f();
    }
}

/// A scheduled callback, in a slab of the loop's [`Store`] (16 bytes).
/// Dropping one that never ran drops its closure (and its captures).
pub(crate) struct Callback(Option<Stored>);

struct Stored {
    store: Store,
    slab: u32,
    index: u32,
}

impl Callback {
    /// Keeps `f` in `store`: in the slab of its own type when it is at most
    /// [`MAX_STORED`] bytes, else boxed, in the slab of boxes.
    pub(crate) fn new<F: FnOnce() + 'static>(store: &Store, f: F) -> Callback {
        if std::mem::size_of::<F>() > MAX_STORED {
            return Callback::boxed(store, Box::new(f));
        }
        Callback::put(store, f)
    }

    /// Keeps an already boxed callback in `store`.
    pub(crate) fn boxed(store: &Store, f: Box<dyn FnOnce()>) -> Callback {
        Callback::put(store, f)
    }

    fn put<F: FnOnce() + 'static>(store: &Store, f: F) -> Callback {
        let (slab, index) = {
            let mut slabs = store.borrow_mut();
            let slab = slabs.slab_of::<F>();
            (slab, slabs.slab_mut::<F>(slab).insert(f))
        };
        Callback(Some(Stored {
            store: store.clone(),
            slab,
            index,
        }))
    }

    /// Hints that the callback is about to run: asks for the cache line of
    /// its entry. Timers fire in deadline order, not in the order they were
    /// stored, so asking for a tick's lines together as its timers become
    /// ready saves a miss per callback.
    pub(crate) fn prefetch(&self) {
        if let Some(Stored { store, slab, index }) = &self.0 {
            let slabs = store.borrow();
            let slab = *slab as usize;
            (slabs.prefetchers[slab])(&*slabs.slabs[slab], *index);
        }
    }

    /// Runs the callback.
    pub(crate) fn call(mut self) {
        if let Some(stored) = self.0.take() {
            stored.take(true);
        }
    }
}

impl Stored {
    fn take(self, run: bool) {
        let take = self.store.borrow().takers[self.slab as usize];
        take(&self.store, self.slab, self.index, run);
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        if let Some(stored) = self.0.take() {
            stored.take(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn stored_callbacks_run_once_and_dropped_ones_drop_their_captures() {
        let store = new_store();
        let hits = Rc::new(Cell::new(0));
        let make = |k: u32| {
            let hits = hits.clone();
            Callback::new(&store, move || hits.set(hits.get() + k))
        };
        let (a, b, c) = (make(1), make(10), make(100));
        assert_eq!(std::mem::size_of::<Callback>(), 16);
        b.call();
        drop(c);
        a.call();
        assert_eq!(hits.get(), 11);
        assert_eq!(Rc::strong_count(&hits), 1, "every capture dropped");
        // The freed entries are reused, the last freed first.
        let d = make(1000);
        assert!(matches!(d.0, Some(Stored { index: 0, .. })));
        d.call();
        assert_eq!(hits.get(), 1011);
    }

    #[test]
    fn a_callback_may_schedule_into_the_store_while_it_runs_and_while_it_drops() {
        struct OnDrop(Store, Rc<Cell<u32>>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                let hits = self.1.clone();
                Callback::new(&self.0, move || hits.set(hits.get() + 1)).call();
            }
        }
        let store = new_store();
        let hits = Rc::new(Cell::new(0));
        let guard = OnDrop(store.clone(), hits.clone());
        let s = store.clone();
        let h = hits.clone();
        Callback::new(&store, move || {
            let _keep = &guard;
            let h2 = h.clone();
            Callback::new(&s, move || h2.set(h2.get() + 10)).call();
        })
        .call();
        assert_eq!(
            hits.get(),
            11,
            "the inner call and the guard's drop both ran"
        );
    }

    fn bump(hit: &Rc<Cell<u32>>) -> impl FnOnce() + 'static {
        let hit = hit.clone();
        move || hit.set(hit.get() + 1)
    }

    /// Entries held by the slab of `F` (the type of `_sample`).
    fn held<F: FnOnce() + 'static>(store: &Store, _sample: &F) -> usize {
        let mut slabs = store.borrow_mut();
        let id = slabs.slab_of::<F>();
        slabs.slab_mut::<F>(id).items.capacity()
    }

    #[test]
    fn large_closures_are_boxed_and_a_large_empty_slab_is_released() {
        let store = new_store();
        let big = [7u8; 100];
        let hit = Rc::new(Cell::new(0u32));
        let h = hit.clone();
        let cb = Callback::new(&store, move || h.set(u32::from(big[99])));
        let boxes = store.borrow().by_type[&TypeId::of::<Box<dyn FnOnce()>>()];
        assert!(
            matches!(cb.0, Some(Stored { slab, .. }) if slab == boxes),
            "a large closure is boxed"
        );
        cb.call();
        assert_eq!(hit.get(), 7);

        let sample = bump(&hit);
        let few: Vec<_> = (0..10).map(|_| Callback::new(&store, bump(&hit))).collect();
        few.into_iter().for_each(Callback::call);
        assert!(
            held(&store, &sample) >= 10,
            "a small empty slab keeps its room"
        );
        let many: Vec<_> = (0..=KEEP_EMPTY)
            .map(|_| Callback::new(&store, bump(&hit)))
            .collect();
        assert!(held(&store, &sample) > KEEP_EMPTY);
        many.into_iter().for_each(Callback::call);
        assert_eq!(hit.get(), 7 + 10 + KEEP_EMPTY as u32 + 1);
        assert_eq!(
            held(&store, &sample),
            0,
            "a large slab, emptied, is released"
        );
        drop(sample);
        assert_eq!(Rc::strong_count(&hit), 1);
    }
}
