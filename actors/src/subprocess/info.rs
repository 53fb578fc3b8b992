//! What a subprocess transport shows to handles held outside it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use crate::pipe::PipeInfo;

/// Called with the return code once the child is reaped.
type ExitWaiter = Box<dyn FnOnce(i32)>;

/// A subprocess transport's public facts, shared on the loop thread between
/// the actor and its handles. The return code is set the moment the child
/// is reaped, so a handle that sees `None` knows the pid is still the
/// child's (it cannot have been recycled).
pub struct ProcessInfo {
    /// The child's pid.
    pub pid: u32,
    /// The child's pipes (stdin, stdout, stderr) where they are pipes.
    pub pipes: [Option<Rc<PipeInfo>>; 3],
    returncode: Cell<Option<i32>>,
    waiters: RefCell<Vec<ExitWaiter>>,
    closing: Cell<bool>,
    lost: Cell<bool>,
}

impl fmt::Debug for ProcessInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessInfo")
            .field("pid", &self.pid)
            .field("returncode", &self.returncode.get())
            .field("closing", &self.closing.get())
            .field("lost", &self.lost.get())
            .finish()
    }
}

impl ProcessInfo {
    /// Facts of a child that runs.
    pub fn new(pid: u32, pipes: [Option<Rc<PipeInfo>>; 3]) -> Self {
        ProcessInfo {
            pid,
            pipes,
            returncode: Cell::new(None),
            waiters: RefCell::new(Vec::new()),
            closing: Cell::new(false),
            lost: Cell::new(false),
        }
    }
    /// `get_returncode()`.
    pub fn returncode(&self) -> Option<i32> {
        self.returncode.get()
    }
    /// Runs `f` with the return code once the child was reaped (at once if
    /// it was).
    pub fn on_exit(&self, f: Box<dyn FnOnce(i32)>) {
        match self.returncode.get() {
            Some(code) => f(code),
            None => self.waiters.borrow_mut().push(f),
        }
    }
    /// `is_closing()`.
    pub fn is_closing(&self) -> bool {
        self.closing.get()
    }
    /// A handle asked for close.
    pub fn mark_closing(&self) {
        self.closing.set(true);
    }
    /// True once `ConnectionLost` was delivered.
    pub fn is_lost(&self) -> bool {
        self.lost.get()
    }
    pub(crate) fn set_returncode(&self, code: i32) {
        if self.returncode.get().is_none() {
            self.returncode.set(Some(code));
        }
    }
    /// Runs the waiters of [`on_exit`](Self::on_exit) (once reaped).
    pub(crate) fn fire_waiters(&self) {
        let Some(code) = self.returncode.get() else {
            return;
        };
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w(code);
        }
    }
    pub(crate) fn set_lost(&self) {
        self.closing.set(true);
        self.lost.set(true);
    }
}
