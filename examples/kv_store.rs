//! A line-based key-value server: the map lives in one application actor,
//! and each connection asks it questions with `call`.
//!
//! Teaches: `Addr::call` and `ReplyTo` (ask and reply), a stateful line
//! protocol with its own message type (`Lines::with_handler`), `strip_cr`
//! for CRLF clients, a line limit that answers and closes, and `run` with
//! SIGINT/SIGTERM handlers.
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

use std::collections::{BTreeMap, HashMap};

use switchboard::prelude::*;
use switchboard::ready_made::{FrameHandler, FramingError, Lines};

/// The longest request line.
const MAX_LINE: usize = 1024;

/// What the store actor hears; every command is a question.
enum Store {
    Set(String, String, ReplyTo<String>),
    Get(String, ReplyTo<String>),
    Del(String, ReplyTo<String>),
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
        // A reply to a caller that went away is dropped: nothing to do.
        let (reply, answer) = match msg {
            Store::Set(k, v, reply) => {
                self.map.insert(k, v);
                (reply, "OK".to_string())
            }
            Store::Get(k, reply) => {
                let v = self.map.get(&k).cloned();
                (reply, v.unwrap_or_else(|| "NOT_FOUND".into()))
            }
            Store::Del(k, reply) => {
                let found = self.map.remove(&k).is_some();
                (reply, if found { "OK" } else { "NOT_FOUND" }.into())
            }
            Store::Count(reply) => {
                let _ = reply.send(self.map.len());
                return;
            }
        };
        let _ = reply.send(answer);
    }
}

/// One connection. Each request becomes a `call` awaited by a small task;
/// answers come back as messages `(sequence number, text)` and are written
/// in request order, however the calls finish.
struct KvConn {
    store: Addr<Store>,
    next: u64,
    written: u64,
    ready: BTreeMap<u64, String>,
}

impl KvConn {
    fn ask(
        &mut self,
        line: &str,
        t: &mut dyn StreamTransport<(u64, String)>,
    ) -> Result<(), ProtocolError> {
        let mut words = line.splitn(3, ' ');
        let (cmd, key, value) = (words.next().unwrap_or(""), words.next(), words.next());
        let call = match (cmd, key, value) {
            ("SET", Some(k), Some(v)) => self.store.call(|r| Store::Set(k.into(), v.into(), r)),
            ("GET", Some(k), None) => self.store.call(|r| Store::Get(k.into(), r)),
            ("DEL", Some(k), None) => self.store.call(|r| Store::Del(k.into(), r)),
            _ => {
                let seq = self.next_seq();
                return self.answer(seq, "ERR unknown command".into(), t);
            }
        };
        let (seq, me) = (self.next_seq(), t.addr().ok_or(ProtocolError::Send)?);
        switchboard::get_running_loop()
            .map_err(|e| ProtocolError::failed(e.to_string()))?
            .create_task(async move {
                let text = call.await.unwrap_or_else(|e| format!("ERR {e}"));
                // The connection may be gone by now; then so is the answer.
                let _ = me.send((seq, text));
            })
            .map_err(|e| ProtocolError::failed(e.to_string()))?;
        Ok(())
    }

    fn next_seq(&mut self) -> u64 {
        self.next += 1;
        self.next - 1
    }

    /// Writes every answer that is next in request order.
    fn answer(
        &mut self,
        seq: u64,
        text: String,
        t: &mut dyn StreamTransport<(u64, String)>,
    ) -> Result<(), ProtocolError> {
        self.ready.insert(seq, text);
        while let Some(text) = self.ready.remove(&self.written) {
            t.write(format!("{text}\r\n").as_bytes())?;
            self.written += 1;
        }
        Ok(())
    }
}

impl FrameHandler<(u64, String)> for KvConn {
    fn frame(
        &mut self,
        line: Bytes,
        t: &mut dyn StreamTransport<(u64, String)>,
    ) -> Result<(), ProtocolError> {
        self.ask(&String::from_utf8_lossy(&line), t)
    }
    fn event(
        &mut self,
        ev: StreamEvent<(u64, String)>,
        t: &mut dyn StreamTransport<(u64, String)>,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::Message((seq, text)) => self.answer(seq, text, t),
            // Keep the write side open until every answer is written.
            StreamEvent::EofReceived if self.written < self.next => {
                t.keep_open();
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The line protocol around `KvConn`: a too-long line is answered, then the
/// connection closes (instead of failing it).
struct KvProtocol(Lines<KvConn>);

impl StreamProtocol<(u64, String)> for KvProtocol {
    fn handle(
        &mut self,
        ev: StreamEvent<(u64, String)>,
        t: &mut dyn StreamTransport<(u64, String)>,
    ) -> Result<(), ProtocolError> {
        let half_closed = matches!(ev, StreamEvent::Message(_)) && !t.is_reading();
        match self.0.handle(ev, t) {
            Err(ProtocolError::Framing(FramingError::LineTooLong { .. })) => {
                t.write(b"ERR line too long\r\n")?;
                t.close();
            }
            other => other?,
        }
        let conn = self.0.handler();
        if half_closed && conn.written == conn.next {
            t.close(); // EOF came earlier; every answer is out now
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(8888), |p| p.parse())?;
    switchboard::run(|lp| async move {
        let store = lp.spawn(KvStore::default())?;
        let s = store.clone();
        let conn = move || {
            let conn = KvConn {
                store: s.clone(),
                next: 0,
                written: 0,
                ready: BTreeMap::new(),
            };
            KvProtocol(Lines::with_handler(MAX_LINE, conn).strip_cr(true))
        };
        let server = lp.create_server(conn).host("127.0.0.1").port(port).await?;
        println!("kv_store on {}", server.sockets()[0]);
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let s = server.clone();
            lp.add_signal_handler(sig, move || {
                s.close();
                s.close_clients();
            })?;
        }
        server.wait_closed().await;
        println!("kv_store: {} keys at exit", store.call(Store::Count).await?);
        Ok(())
    })
}
