//! A line-based key-value server: the map lives in one application actor,
//! and each connection asks it questions with `call`.
//!
//! Teaches: `t.call` (asking an actor from inside a protocol; answers come
//! back as events of the connection, in request order, bounded in number)
//! and `ReplyTo`, a line protocol with its own message type
//! (`Lines::with_handler`), `strip_cr` for CRLF clients, a line limit that
//! answers and closes (`framing_error`), and `run` with SIGINT/SIGTERM
//! handlers.
//!
//! The protocol, one line each way (`\n` or `\r\n`):
//!
//! ```text
//! SET k v  -> OK            GET k -> the value, or NOT_FOUND
//! DEL k    -> OK / NOT_FOUND   a line over 1 KiB -> ERR line too long, then close
//! ```
//!
//! Run it, then talk to it with `nc 127.0.0.1 8888`:
//!
//! ```text
//! cargo run --example kv_store [port]
//! ```
//!
//! It prints `kv_store on 127.0.0.1:8888` and, on SIGINT or SIGTERM,
//! `kv_store: N keys at exit`.

use std::collections::HashMap;

use switchboard::prelude::*;
use switchboard::ready_made::{FrameHandler, FramingError, Lines};

/// The longest request line.
const MAX_LINE: usize = 1024;

/// A parsed request; `Bad` carries the error to answer, so that even it
/// goes through the store and keeps its place in the order of answers.
enum Request {
    Set(String, String),
    Get(String),
    Del(String),
    Bad(&'static str),
}

impl Request {
    fn parse(line: &str) -> Request {
        let mut words = line.splitn(3, ' ');
        match (words.next().unwrap_or(""), words.next(), words.next()) {
            ("SET", Some(k), Some(v)) => Request::Set(k.into(), v.into()),
            ("GET", Some(k), None) => Request::Get(k.into()),
            ("DEL", Some(k), None) => Request::Del(k.into()),
            _ => Request::Bad("ERR unknown command"),
        }
    }
}

/// What the store actor hears; every command is a question.
enum Store {
    Do(Request, ReplyTo<String>),
    Count(ReplyTo<usize>),
}

/// The store: the map lives here and nowhere else.
#[derive(Default)]
struct KvStore {
    map: HashMap<String, String>,
}

impl Actor for KvStore {
    type Message = Store;
    fn handle(&mut self, msg: Store, _ctx: &mut ActorContext<'_, Store>) {
        // A reply to a connection that went away is dropped: nothing to do.
        let (reply, answer) = match msg {
            Store::Do(req, reply) => (reply, self.apply(req)),
            Store::Count(reply) => {
                let _ = reply.send(self.map.len());
                return;
            }
        };
        let _ = reply.send(answer);
    }
}

impl KvStore {
    fn apply(&mut self, req: Request) -> String {
        let found = |yes: bool| if yes { "OK" } else { "NOT_FOUND" }.to_string();
        match req {
            Request::Set(k, v) => {
                self.map.insert(k, v);
                "OK".into()
            }
            Request::Get(k) => self.map.get(&k).cloned().unwrap_or_else(|| found(false)),
            Request::Del(k) => found(self.map.remove(&k).is_some()),
            Request::Bad(e) => e.into(),
        }
    }
}

/// What a connection hears besides its lines: the store's answers.
enum Conn {
    Answer(Result<String, CallError>),
}

/// One connection: each line is a `t.call` to the store, and each answer
/// comes back as a `Message` in request order, however the calls finish.
/// At 64 calls in flight the connection stops taking lines until answers
/// go out, and a client that half-closes still gets every answer.
struct KvConn {
    store: Addr<Store>,
}

impl FrameHandler<Conn> for KvConn {
    fn frame(
        &mut self,
        line: Bytes,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        let req = Request::parse(&String::from_utf8_lossy(&line));
        t.call(&self.store, |reply| Store::Do(req, reply), Conn::Answer)?;
        Ok(())
    }
    fn event(
        &mut self,
        ev: StreamEvent<Conn>,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::Message(Conn::Answer(answer)) = ev {
            let text = answer.unwrap_or_else(|e| format!("ERR {e}"));
            t.write(format!("{text}\r\n").as_bytes())?;
        }
        Ok(())
    }
    /// A line over the limit is answered, then the connection closes
    /// (flushing what was written) instead of failing.
    fn framing_error(
        &mut self,
        err: FramingError,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        match err {
            FramingError::LineTooLong { .. } => t.write(b"ERR line too long\r\n")?,
            other => return Err(other.into()),
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(8888), |p| p.parse())?;
    switchboard::run(|lp| async move {
        let store = lp.spawn(KvStore::default())?;
        let s = store.clone();
        let conn =
            move || Lines::with_handler(MAX_LINE, KvConn { store: s.clone() }).strip_cr(true);
        let server = lp.create_server(conn).host("127.0.0.1").port(port).await?;
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let s = server.clone();
            lp.add_signal_handler(sig, move || {
                s.close();
                s.close_clients();
            })?;
        }
        // Printed once the handlers are in place: a signal sent on seeing
        // it is always caught.
        println!("kv_store on {}", server.sockets()[0]);
        server.wait_closed().await;
        println!("kv_store: {} keys at exit", store.call(Store::Count).await?);
        Ok(())
    })
}
