//! What the loops of a group share, and each loop's view of it: its index,
//! the registry of named actors.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::group::balance::Balancer;
use crate::group::error::GroupError;
use crate::group::signals::SignalState;
use crate::shared::LoopHandle;
use crate::Addr;

/// How many lookups may wait before they are all woken to look again.
const MAX_LOOKUP_WAITERS: usize = 1024;

/// One registered name.
struct Entry {
    /// The `Addr<M>`, erased.
    addr: Box<dyn Any + Send + Sync>,
    /// `M`'s type name, for [`GroupError::WrongType`].
    type_name: &'static str,
    /// False once the actor stopped (then the name may be taken again).
    alive: fn(&(dyn Any + Send + Sync)) -> bool,
    /// The loop (index, incarnation) that registered it: the name goes
    /// when that loop ends.
    owner: (usize, u64),
}

/// The group's state behind one lock.
pub(crate) struct GroupState {
    /// The incarnation each loop index runs now.
    pub(crate) current: Vec<u64>,
    /// Each loop's handle while it runs, with its incarnation.
    pub(crate) loops: Vec<Option<(u64, LoopHandle)>>,
    /// The group gave up or ended: loops stop, nothing new starts.
    pub(crate) stopping: bool,
    names: HashMap<String, Entry>,
    lookups: Vec<Waker>,
    pub(crate) signals: SignalState,
}

/// What every loop of a group shares.
pub(crate) struct GroupShared {
    pub(crate) len: usize,
    state: Mutex<GroupState>,
    /// Balanced servers by the address they serve.
    pub(crate) balancers: Mutex<HashMap<String, Arc<Balancer>>>,
}

impl GroupShared {
    pub(crate) fn new(len: usize) -> Arc<GroupShared> {
        Arc::new(GroupShared {
            len,
            state: Mutex::new(GroupState {
                current: vec![0; len],
                loops: (0..len).map(|_| None).collect(),
                stopping: false,
                names: HashMap::new(),
                lookups: Vec::new(),
                signals: SignalState::default(),
            }),
            balancers: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loop `index`'s thread made its loop: admitted unless the group is
    /// stopping or a newer incarnation of that index replaced it.
    pub(crate) fn attach(&self, index: usize, inc: u64, handle: LoopHandle) -> bool {
        let mut st = self.lock();
        if st.stopping || st.current[index] != inc {
            return false;
        }
        st.loops[index] = Some((inc, handle));
        true
    }

    /// Loop `index` (incarnation `inc`) ended: its names go, and a group
    /// shutdown no longer waits for it.
    pub(crate) fn detach(&self, index: usize, inc: u64) {
        let mut st = self.lock();
        if matches!(st.loops[index], Some((i, _)) if i == inc) {
            st.loops[index] = None;
        }
        st.names.retain(|_, e| e.owner != (index, inc));
        crate::group::signals::loop_ended(&mut st, index, inc);
    }

    /// Stops every loop; lookups still waiting fail.
    pub(crate) fn stop_all(&self) {
        let mut st = self.lock();
        st.stopping = true;
        for (_, h) in st.loops.iter().flatten() {
            h.stop();
        }
        for w in st.lookups.drain(..) {
            w.wake();
        }
    }

    /// Makes `index` run incarnation `inc` next, stopping the one it runs.
    /// The old one's names and signal handling go at once, not when its
    /// thread gets round to ending: the new one may register them first.
    pub(crate) fn replace(&self, index: usize, inc: u64) {
        let mut st = self.lock();
        st.current[index] = inc;
        if let Some((_, h)) = st.loops[index].take() {
            h.stop();
        }
        st.names.retain(|_, e| e.owner.0 != index);
        crate::group::signals::loop_replaced(&mut st, index);
    }
}

/// A loop's view of its [`LoopGroup`](crate::LoopGroup), from
/// [`EventLoop::group`](crate::EventLoop::group): which loop this is, and the
/// group's registry of named actors. `Send + Sync + Clone`.
///
/// ```
/// use switchboard::prelude::*;
///
/// let indices = switchboard::LoopGroup::new().loops(2).run(|lp: EventLoop| async move {
///     let group = lp.group().expect("a loop of a group");
///     assert_eq!(group.len(), 2);
///     Ok::<_, switchboard::Error>(group.index())
/// })?;
/// assert_eq!(indices, vec![0, 1]);
/// # Ok::<(), switchboard::Error>(())
/// ```
#[derive(Clone)]
pub struct GroupHandle {
    pub(crate) shared: Arc<GroupShared>,
    pub(crate) index: usize,
    pub(crate) incarnation: u64,
}

impl fmt::Debug for GroupHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupHandle")
            .field("index", &self.index)
            .field("len", &self.shared.len)
            .finish()
    }
}

impl GroupHandle {
    /// This loop's index in the group, from 0 to `len() - 1`; a restarted
    /// loop keeps its index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many loops the group has.
    #[allow(clippy::len_without_is_empty)] // a group has at least one loop
    pub fn len(&self) -> usize {
        self.shared.len
    }

    /// Names `addr` for every loop of the group: [`lookup`](Self::lookup)
    /// finds it from any of them, and messages sent through what it finds
    /// cross to this loop. A name held by a live actor is
    /// [`GroupError::NameTaken`]; a name whose actor has stopped may be
    /// taken again. The name goes when this loop ends (or is restarted, so
    /// its setup can register the new actor under the same name).
    ///
    /// ```
    /// use switchboard::prelude::*;
    /// use switchboard::LoopFuture;
    ///
    /// /// Answers with its loop's index; the first question also ends its
    /// /// loop's wait.
    /// struct Home {
    ///     index: usize,
    ///     asked: Option<LoopFuture<()>>,
    /// }
    /// impl Actor for Home {
    ///     type Message = ReplyTo<usize>;
    ///     fn handle(&mut self, r: ReplyTo<usize>, _: &mut ActorContext<'_, ReplyTo<usize>>) {
    ///         let _ = r.send(self.index);
    ///         if let Some(asked) = self.asked.take() {
    ///             let _ = asked.set_result(());
    ///         }
    ///     }
    /// }
    ///
    /// let answers = switchboard::LoopGroup::new().loops(2).run(|lp: EventLoop| async move {
    ///     let group = lp.group().expect("in a group");
    ///     if group.index() == 0 {
    ///         let asked = lp.create_future();
    ///         let home = lp.spawn(Home { index: 0, asked: Some(asked.clone()) })?;
    ///         group.register("home", home)?;
    ///         // The name goes when this loop ends: stay until loop 1 asked.
    ///         asked.await?;
    ///         return Ok(None);
    ///     }
    ///     // Waits until loop 0 has registered it.
    ///     let home = group.lookup::<ReplyTo<usize>>("home").await?;
    ///     Ok::<_, switchboard::Error>(Some(home.call(|r| r).await?))
    /// })?;
    /// assert_eq!(answers, vec![None, Some(0)]);
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn register<M: Send + 'static>(
        &self,
        name: impl Into<String>,
        addr: Addr<M>,
    ) -> Result<(), GroupError> {
        let name = name.into();
        let mut st = self.shared.lock();
        if st.stopping {
            return Err(GroupError::Stopped);
        }
        if let Some(e) = st.names.get(&name) {
            if (e.alive)(&*e.addr) {
                return Err(GroupError::NameTaken(name));
            }
        }
        st.names.insert(
            name,
            Entry {
                addr: Box::new(addr),
                type_name: std::any::type_name::<M>(),
                alive: |a| {
                    a.downcast_ref::<Addr<M>>()
                        .is_some_and(|a: &Addr<M>| a.is_alive())
                },
                owner: (self.index, self.incarnation),
            },
        );
        for w in st.lookups.drain(..) {
            w.wake();
        }
        Ok(())
    }

    /// Removes `name` if this loop registered it; true if it did.
    pub fn unregister(&self, name: &str) -> bool {
        let mut st = self.shared.lock();
        let mine = st
            .names
            .get(name)
            .is_some_and(|e| e.owner == (self.index, self.incarnation));
        if mine {
            st.names.remove(name);
        }
        mine
    }

    /// The address registered as `name`, by whichever loop: resolves once
    /// some loop has registered it (at once if one has), with
    /// [`GroupError::WrongType`] if that actor takes another message type,
    /// or [`GroupError::Stopped`] if the group stops first. Wrap it in
    /// [`wait_for`](crate::wait_for) to bound the wait.
    pub fn lookup<M: Send + 'static>(&self, name: &str) -> Lookup<M> {
        Lookup {
            shared: self.shared.clone(),
            name: name.to_owned(),
            _msg: PhantomData,
        }
    }

    /// The handle of loop `index` while it runs (to post a callback to it
    /// with [`LoopHandle::call_soon_threadsafe`]).
    pub fn loop_handle(&self, index: usize) -> Option<LoopHandle> {
        let st = self.shared.lock();
        st.loops.get(index)?.as_ref().map(|(_, h)| h.clone())
    }
}

/// The future [`GroupHandle::lookup`] returns.
#[must_use = "a lookup does nothing until awaited"]
pub struct Lookup<M> {
    shared: Arc<GroupShared>,
    name: String,
    _msg: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for Lookup<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lookup").field("name", &self.name).finish()
    }
}

impl<M: Send + 'static> Future for Lookup<M> {
    type Output = Result<Addr<M>, GroupError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.shared.lock();
        if let Some(e) = st.names.get(&self.name) {
            return Poll::Ready(match e.addr.downcast_ref::<Addr<M>>() {
                Some(a) => Ok(a.clone()),
                None => Err(GroupError::WrongType {
                    name: self.name.clone(),
                    registered: e.type_name,
                    asked: std::any::type_name::<M>(),
                }),
            });
        }
        if st.stopping {
            return Poll::Ready(Err(GroupError::Stopped));
        }
        if !st.lookups.iter().any(|w| w.will_wake(cx.waker())) {
            // Lookups dropped while waiting leave their wakers behind until
            // the next registration; past a bound, every waiter is woken
            // (the live ones poll again and come back), so the list stays
            // bounded however many lookups time out.
            if st.lookups.len() >= MAX_LOOKUP_WAITERS {
                for w in st.lookups.drain(..) {
                    w.wake();
                }
            }
            st.lookups.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
