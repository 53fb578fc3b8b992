//! What a stream's feeder (the protocol on the loop) shares with its reader
//! and writer (held by tasks on the same thread).

use std::cell::{Cell, RefCell};
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use switchboard_protocols::TransportError;

use crate::streams::StreamError;

/// How far the stream has come to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Data may still arrive.
    Open,
    /// The peer sent EOF; the connection may live on (we may still write).
    Eof,
    /// The connection (or pipe) is gone; nothing more arrives.
    Lost,
}

/// The default for `limit` (asyncio's `_DEFAULT_STREAM_LIMIT`, 64 KiB).
pub const DEFAULT_STREAM_LIMIT: usize = 64 * 1024;

/// The state one connection's (or pipe's) protocol feeds and its
/// [`StreamReader`](crate::StreamReader) and
/// [`StreamWriter`](crate::StreamWriter) read.
#[derive(Debug)]
pub(crate) struct StreamState {
    /// Bytes received that the reader has not pulled into its own buffer.
    incoming: RefCell<BytesMut>,
    /// Bytes received and not yet consumed, in `incoming` and the reader's
    /// buffer: what the pause at 2 × limit counts.
    unread: Cell<usize>,
    end: Cell<End>,
    error: RefCell<Option<TransportError>>,
    /// The feeder paused reading because `unread` passed 2 × limit.
    paused: Cell<bool>,
    pub(crate) limit: usize,
    /// The write buffer's high-water mark when the connection was made:
    /// `drain` returns at once at or below it.
    pub(crate) high: Cell<usize>,
    reader: RefCell<Option<Waker>>,
    /// Woken when the connection is lost (`wait_closed`), and, for pipes,
    /// when writing resumes.
    others: RefCell<Vec<Waker>>,
    /// Pipes only: `PauseWriting` was delivered and `ResumeWriting` not yet.
    pub(crate) writing_paused: Cell<bool>,
    /// Sockets: how many of the connection's reader and writer are alive;
    /// the last one dropped closes the connection.
    holders: Cell<u8>,
}

impl StreamState {
    pub(crate) fn new(limit: usize) -> Self {
        StreamState {
            incoming: RefCell::new(BytesMut::new()),
            unread: Cell::new(0),
            end: Cell::new(End::Open),
            error: RefCell::new(None),
            paused: Cell::new(false),
            limit: limit.max(1),
            high: Cell::new(DEFAULT_STREAM_LIMIT),
            reader: RefCell::new(None),
            others: RefCell::new(Vec::new()),
            writing_paused: Cell::new(false),
            holders: Cell::new(0),
        }
    }

    /// A reader or writer of a socket stream was made.
    pub(crate) fn hold(&self) {
        self.holders.set(self.holders.get() + 1);
    }

    /// A reader or writer of a socket stream was dropped: true if it was
    /// the last, and the connection should close.
    pub(crate) fn release_holder(&self) -> bool {
        let n = self.holders.get().saturating_sub(1);
        self.holders.set(n);
        n == 0
    }

    /// Data arrived. True if the feeder should pause reading now (and has
    /// been marked paused): the unread bytes passed 2 × limit.
    pub(crate) fn feed(&self, data: &[u8]) -> bool {
        if data.is_empty() {
            return false;
        }
        self.incoming.borrow_mut().extend_from_slice(data);
        self.unread.set(self.unread.get() + data.len());
        self.wake_reader();
        if !self.paused.get() && self.unread.get() > 2 * self.limit {
            self.paused.set(true);
            return true;
        }
        false
    }

    /// The peer will send nothing more.
    pub(crate) fn feed_eof(&self) {
        if self.end.get() == End::Open {
            self.end.set(End::Eof);
        }
        self.wake_reader();
    }

    /// The connection is gone, with `error` if it failed.
    pub(crate) fn lost(&self, error: Option<TransportError>) {
        self.end.set(End::Lost);
        self.writing_paused.set(false);
        *self.error.borrow_mut() = error;
        self.wake_reader();
        self.wake_others();
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.end.get() == End::Lost
    }

    /// True once nothing more will arrive (EOF, or the stream is lost).
    pub(crate) fn is_eof(&self) -> bool {
        self.end.get() != End::Open
    }

    /// What a read fails with once the buffer is empty, if anything: the
    /// error the connection was lost with.
    pub(crate) fn read_error(&self) -> Option<StreamError> {
        self.error.borrow().clone().map(StreamError::ConnectionLost)
    }

    /// What `drain` fails with once the connection is lost.
    pub(crate) fn lost_error(&self) -> StreamError {
        self.read_error().unwrap_or(StreamError::Closed)
    }

    /// Moves what arrived into `buf` (no copy when `buf` is empty).
    pub(crate) fn pull(&self, buf: &mut BytesMut) {
        let mut incoming = self.incoming.borrow_mut();
        if incoming.is_empty() {
            return;
        }
        if buf.is_empty() {
            std::mem::swap(buf, &mut *incoming);
        } else {
            buf.extend_from_slice(&incoming);
            incoming.clear();
        }
    }

    /// The reader consumed `n` bytes. True if the feeder's pause should be
    /// lifted now (and it has been marked resumed): at most `limit` unread.
    pub(crate) fn consumed(&self, n: usize) -> bool {
        self.unread.set(self.unread.get().saturating_sub(n));
        if self.paused.get() && self.unread.get() <= self.limit {
            self.paused.set(false);
            return true;
        }
        false
    }

    /// The reader is about to wait for more data: a pause must not stop
    /// it getting any (asyncio's `_wait_for_data` resumes too). True if
    /// the feeder's pause should be lifted now.
    pub(crate) fn wait_for_data(&self, cx: &Context<'_>) -> bool {
        let mut w = self.reader.borrow_mut();
        match &*w {
            Some(old) if old.will_wake(cx.waker()) => {}
            _ => *w = Some(cx.waker().clone()),
        }
        if self.paused.get() {
            self.paused.set(false);
            return true;
        }
        false
    }

    /// Wakes the reader's task; the waker is kept, so the next wait need
    /// not clone it again (a task's waker stays the same).
    fn wake_reader(&self) {
        if let Some(w) = self.reader.borrow().as_ref() {
            w.wake_by_ref();
        }
    }

    /// Resolves once the connection is lost.
    pub(crate) fn poll_lost(&self, cx: &Context<'_>) -> Poll<()> {
        if self.is_lost() {
            return Poll::Ready(());
        }
        self.wait_other(cx);
        Poll::Pending
    }

    /// Wakes `cx` at the next loss or (pipes) writing resume.
    pub(crate) fn wait_other(&self, cx: &Context<'_>) {
        let mut ws = self.others.borrow_mut();
        if !ws.iter().any(|w| w.will_wake(cx.waker())) {
            ws.push(cx.waker().clone());
        }
    }

    pub(crate) fn wake_others(&self) {
        let ws = std::mem::take(&mut *self.others.borrow_mut());
        for w in ws {
            w.wake();
        }
    }
}
