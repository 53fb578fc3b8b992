//! Watching file descriptors: `add_reader`, `remove_reader`, `add_writer`,
//! `remove_writer`.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#watching-file-descriptors>
//!
//! Each watched descriptor has one [`FdWatcher`](watcher::FdWatcher) actor
//! holding its reader and writer callbacks. Any change (add, replace,
//! remove) retires that actor and puts a new one in its place, so readiness
//! already taken from the poller for the old one is dropped: a callback
//! removed or replaced by an earlier callback of the same batch does not run
//! (asyncio cancels the old handle in the same case).

mod error;
mod watcher;

pub use error::FdWatchError;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;

use mio::unix::SourceFd;
use switchboard_protocols::ActorId;

use crate::event_loop::{EventLoop, LoopCore, FIRST_ACTOR_TOKEN};
use crate::routing;
use watcher::{Callback, FdWatcher};

/// A descriptor as `add_reader` and friends take it, like asyncio's "an int
/// or an object with a `fileno()`": a [`RawFd`], a [`BorrowedFd`], or a
/// reference to anything that owns one (`&UnixStream`, `&File`, `&OwnedFd`…).
pub trait FileDescriptor {
    /// The descriptor's number.
    fn raw_fd(&self) -> RawFd;
}

impl FileDescriptor for RawFd {
    fn raw_fd(&self) -> RawFd {
        *self
    }
}

impl FileDescriptor for BorrowedFd<'_> {
    fn raw_fd(&self) -> RawFd {
        self.as_raw_fd()
    }
}

impl<T: AsFd + ?Sized> FileDescriptor for &T {
    fn raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// What is watched on one descriptor, and the actor doing it.
pub(crate) struct Watch {
    id: ActorId,
    reader: Option<Callback>,
    writer: Option<Callback>,
    /// Set when this watch's actor is replaced or removed.
    retired: Rc<Cell<bool>>,
}

/// The watched descriptors of a loop.
pub(crate) type Watches = HashMap<RawFd, Watch>;

/// Which callback of a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Read,
    Write,
}

impl EventLoop {
    /// Calls `callback` whenever `fd` is readable, until
    /// [`remove_reader`](Self::remove_reader) (asyncio's `loop.add_reader`).
    /// Level-triggered, as asyncio's: a callback that leaves data unread is
    /// called again on the next iteration. Adding a reader for a descriptor
    /// that has one replaces it. A descriptor a transport owns is refused
    /// ([`FdWatchError::OwnedByTransport`]; checked against the transports
    /// not running at the time of the call). The caller keeps the descriptor
    /// open while it is watched; a callback that panics is reported to the
    /// exception handler and stays registered.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    ///
    /// switchboard::run(|lp| async move {
    ///     let (mut rsock, mut wsock) = UnixStream::pair()?;
    ///     let got = lp.create_future::<Vec<u8>>();
    ///     let done = got.clone();
    ///     let mut reader = rsock.try_clone()?;
    ///     lp.add_reader(&rsock, move || {
    ///         let mut buf = [0u8; 100];
    ///         let n = reader.read(&mut buf).unwrap_or(0);
    ///         let _ = done.set_result(buf[..n].to_vec());
    ///     })?;
    ///     wsock.write_all(b"abc")?;
    ///     assert_eq!(got.await?, b"abc");
    ///     assert!(lp.remove_reader(&rsock));
    ///     assert!(!lp.remove_reader(&rsock));
    ///     rsock.flush()?;
    ///     Ok::<(), switchboard::Error>(())
    /// })?;
    /// # Ok::<(), switchboard::Error>(())
    /// ```
    pub fn add_reader(
        &self,
        fd: impl FileDescriptor,
        callback: impl FnMut() + 'static,
    ) -> Result<(), FdWatchError> {
        let cb: Callback = Rc::new(RefCell::new(callback));
        set(&self.core, fd.raw_fd(), Side::Read, Some(cb)).map(|_| ())
    }

    /// Stops watching `fd` for reading; true if a reader was registered
    /// (asyncio's `loop.remove_reader`). False on a closed loop. Remove a
    /// watch before closing its descriptor.
    pub fn remove_reader(&self, fd: impl FileDescriptor) -> bool {
        set(&self.core, fd.raw_fd(), Side::Read, None).unwrap_or(false)
    }

    /// Calls `callback` whenever `fd` is writable, until
    /// [`remove_writer`](Self::remove_writer) (asyncio's `loop.add_writer`);
    /// otherwise as [`add_reader`](Self::add_reader).
    pub fn add_writer(
        &self,
        fd: impl FileDescriptor,
        callback: impl FnMut() + 'static,
    ) -> Result<(), FdWatchError> {
        let cb: Callback = Rc::new(RefCell::new(callback));
        set(&self.core, fd.raw_fd(), Side::Write, Some(cb)).map(|_| ())
    }

    /// Stops watching `fd` for writing; true if a writer was registered
    /// (asyncio's `loop.remove_writer`). False on a closed loop.
    pub fn remove_writer(&self, fd: impl FileDescriptor) -> bool {
        set(&self.core, fd.raw_fd(), Side::Write, None).unwrap_or(false)
    }
}

/// Sets (or with `None`, removes) one side's callback of `fd`, replacing the
/// watcher actor. Returns whether that side had a callback before.
fn set(core: &LoopCore, fd: RawFd, side: Side, cb: Option<Callback>) -> Result<bool, FdWatchError> {
    core.check_open()?;
    if cb.is_some() && owned_by_transport(core, fd) {
        return Err(FdWatchError::OwnedByTransport { fd });
    }
    let old = core.watches.borrow_mut().remove(&fd);
    let (mut reader, mut writer, old_id) = match old {
        Some(w) => {
            w.retired.set(true);
            (w.reader, w.writer, Some(w.id))
        }
        None => (None, None, None),
    };
    let slot = match side {
        Side::Read => &mut reader,
        Side::Write => &mut writer,
    };
    let had = slot.is_some();
    *slot = cb;
    if let Some(id) = old_id {
        // Readiness already queued for the old actor finds no one.
        routing::remove(core, id);
    }
    let mut source = SourceFd(&fd);
    let interest = match (reader.is_some(), writer.is_some()) {
        (false, false) => {
            // The descriptor may be closed already, which removed it; if a
            // transport now owns its number, the registration is the
            // transport's.
            if old_id.is_some() && !owned_by_transport(core, fd) {
                let _ = core.registry.deregister(&mut source);
            }
            return Ok(had);
        }
        (true, false) => mio::Interest::READABLE,
        (false, true) => mio::Interest::WRITABLE,
        (true, true) => mio::Interest::READABLE | mio::Interest::WRITABLE,
    };
    let id = routing::reserve(core);
    let token = mio::Token(id.index() + FIRST_ACTOR_TOKEN);
    let registered = if old_id.is_some() {
        match core.registry.reregister(&mut source, token, interest) {
            // Closed and reopened under the same number since: a new file.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                core.registry.register(&mut source, token, interest)
            }
            other => other,
        }
    } else {
        core.registry.register(&mut source, token, interest)
    };
    if let Err(source) = registered {
        routing::release(core, id);
        return Err(FdWatchError::Register { fd, source });
    }
    let retired = Rc::new(Cell::new(false));
    let actor = FdWatcher::new(
        fd,
        reader.clone(),
        writer.clone(),
        interest,
        retired.clone(),
    );
    routing::insert(core, id, Box::new(actor));
    core.watches.borrow_mut().insert(
        fd,
        Watch {
            id,
            reader,
            writer,
            retired,
        },
    );
    Ok(had)
}

/// True if a transport of the loop owns `fd`.
pub(crate) fn owned_by_transport(core: &LoopCore, fd: RawFd) -> bool {
    core.actors.borrow().iter().any(|(_, slot)| {
        slot.actor
            .as_ref()
            .is_some_and(|a| a.transport_fd() == Some(fd))
    })
}
