//! What the loop-group tests share: a counter actor that checks order, a
//! flag one loop raises for others across threads, blocking clients.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use switchboard::prelude::*;

pub const DEADLINE: Duration = Duration::from_secs(10);

/// A counter that also checks its `Add`s arrive in the order sent.
#[derive(Default)]
pub struct Counter {
    sum: u64,
    last: u64,
    in_order: bool,
}

pub enum CMsg {
    Add(u64),
    Get(ReplyTo<(u64, bool)>),
}

impl Actor for Counter {
    type Message = CMsg;
    fn started(&mut self, _ctx: &mut ActorContext<'_, CMsg>) {
        self.in_order = true;
    }
    fn handle(&mut self, msg: CMsg, _ctx: &mut ActorContext<'_, CMsg>) {
        match msg {
            CMsg::Add(n) => {
                self.in_order &= n == self.last + 1;
                self.last = n;
                self.sum += n;
            }
            CMsg::Get(r) => {
                let _ = r.send((self.sum, self.in_order));
            }
        }
    }
}

/// A flag one loop raises and others wait for, across threads. (Not a
/// registered name: a name goes when its loop ends, so a loop that
/// registers and returns may be gone before a waiter looks.)
#[derive(Clone)]
pub struct Flag(Arc<tokio::sync::watch::Sender<bool>>);

impl Flag {
    pub fn new() -> Flag {
        Flag(Arc::new(tokio::sync::watch::channel(false).0))
    }
    pub fn raise(&self) {
        self.0.send_replace(true);
    }
    pub async fn wait(&self) {
        let _ = self.0.subscribe().wait_for(|up| *up).await;
    }
}

pub fn counts(n: usize) -> Arc<Vec<AtomicUsize>> {
    Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect())
}

/// Connects, with a read timeout so a broken server fails the test.
pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s
}

/// Sends one byte and reads it back: the connection is being served.
pub fn echo_once(s: &mut TcpStream) {
    s.write_all(b"x").expect("write");
    let mut b = [0u8; 1];
    s.read_exact(&mut b).expect("echo");
    assert_eq!(&b, b"x");
}
