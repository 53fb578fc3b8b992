//! The bare mio loop, the practical limit: one shared 256 KiB read buffer,
//! each read answered at once with a direct `write`, only the part the kernel
//! did not take queued per connection. Like a tuned event loop (nginx's
//! edge-triggered reads, tokio's `poll_read`), a read that returned less than
//! the buffer after a fresh readable edge is taken to mean the socket is
//! drained; reads are budgeted per event (16) so one busy connection cannot
//! starve the others, as in switchboard.

use std::io::{ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use crate::http::{self, Parsed};
use crate::servers::{announce, Service};

const BUF: usize = 256 * 1024;
const BUDGET: usize = 16;
const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    /// Answer bytes the kernel did not take yet.
    pending: Vec<u8>,
    /// HTTP: the bytes of an unfinished request head.
    partial: Vec<u8>,
    /// Reading stopped with readable data possibly left (output was full).
    stalled: bool,
}

enum Step {
    Alive,
    /// The read budget is spent: read again after the others had a turn.
    More,
    Done,
}

/// The loop's shared state, borrowed by every connection in turn.
struct Shared {
    buf: Vec<u8>,
    out: Vec<u8>,
    service: Service,
}

/// Writes `data` at once; queues what the kernel did not take. False on error.
fn send(c: &mut Conn, data: &[u8]) -> bool {
    if data.is_empty() {
        return true;
    }
    match c.stream.write(data) {
        Ok(w) => {
            c.pending.extend_from_slice(&data[w..]);
            true
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            c.pending.extend_from_slice(data);
            true
        }
        Err(_) => false,
    }
}

fn flush(c: &mut Conn) -> bool {
    while !c.pending.is_empty() {
        match c.stream.write(&c.pending) {
            Ok(w) => {
                c.pending.drain(..w);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    c.pending = Vec::new();
    true
}

/// Handles one readiness event (or a deferred read); `edge` is a fresh
/// readable edge without a hangup, after which a short read means drained.
fn on_ready(c: &mut Conn, sh: &mut Shared, edge: bool) -> Step {
    if !flush(c) {
        return Step::Done;
    }
    if !c.pending.is_empty() {
        c.stalled = true;
        return Step::Alive;
    }
    let short_read_drains = edge && !std::mem::take(&mut c.stalled);
    for _ in 0..BUDGET {
        let n = match c.stream.read(&mut sh.buf) {
            Ok(0) => return Step::Done,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Step::Alive,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Step::Done,
        };
        let mut close = false;
        let ok = match sh.service {
            Service::Echo | Service::Lines => send(c, &sh.buf[..n]),
            Service::Http => {
                let mut answers = 0;
                let parsed = if c.partial.is_empty() {
                    let parsed = http::answer(&sh.buf[..n], &mut answers);
                    if let Parsed::More { consumed } = parsed {
                        c.partial.extend_from_slice(&sh.buf[consumed..n]);
                    }
                    parsed
                } else {
                    c.partial.extend_from_slice(&sh.buf[..n]);
                    let parsed = http::answer(&c.partial, &mut answers);
                    if let Parsed::More { consumed } = parsed {
                        c.partial.drain(..consumed);
                    }
                    parsed
                };
                close = parsed == Parsed::Close;
                send(c, http::responses(answers, &mut sh.out))
            }
        };
        if !ok || close {
            return Step::Done;
        }
        if !c.pending.is_empty() {
            // The peer is not reading: stop reading until the writable edge.
            c.stalled = true;
            return Step::Alive;
        }
        if short_read_drains && n < sh.buf.len() {
            return Step::Alive;
        }
    }
    Step::More
}

pub fn serve(service: Service) {
    let mut poll = Poll::new().expect("poll");
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .expect("register");
    announce(listener.local_addr().expect("addr"));
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut more: Vec<usize> = Vec::new();
    let mut sh = Shared {
        buf: vec![0u8; BUF],
        out: Vec::new(),
        service,
    };
    let mut events = Events::with_capacity(1024);
    let mut todo: Vec<(Token, bool)> = Vec::with_capacity(1024);
    loop {
        let timeout = (!more.is_empty()).then_some(std::time::Duration::ZERO);
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            panic!("poll: {e}");
        }
        todo.clear();
        todo.extend(events.iter().map(|ev| {
            let edge = ev.is_readable() && !ev.is_read_closed() && !ev.is_error();
            (ev.token(), edge)
        }));
        todo.extend(more.drain(..).map(|i| (Token(i), false)));
        for &(token, edge) in &todo {
            if token == LISTENER {
                accept(&poll, &mut listener, &mut conns, &mut free);
                continue;
            }
            let idx = token.0;
            let step = match conns.get_mut(idx).and_then(Option::as_mut) {
                Some(c) => on_ready(c, &mut sh, edge),
                None => continue,
            };
            match step {
                Step::Alive => {}
                Step::More => more.push(idx),
                Step::Done => {
                    if let Some(mut c) = conns[idx].take() {
                        let _ = poll.registry().deregister(&mut c.stream);
                    }
                    free.push(idx);
                }
            }
        }
    }
}

fn accept(
    poll: &Poll,
    listener: &mut TcpListener,
    conns: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
) {
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nodelay(true);
                let idx = free.pop().unwrap_or_else(|| {
                    conns.push(None);
                    conns.len() - 1
                });
                poll.registry()
                    .register(
                        &mut stream,
                        Token(idx),
                        Interest::READABLE | Interest::WRITABLE,
                    )
                    .expect("register");
                conns[idx] = Some(Conn {
                    stream,
                    pending: Vec::new(),
                    partial: Vec::new(),
                    stalled: false,
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) => {
                eprintln!("mio accept: {e}");
                return;
            }
        }
    }
}
