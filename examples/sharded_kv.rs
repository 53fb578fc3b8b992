//! The key-value server of `kv_store`, sharded over one loop per core: the
//! keyspace is split by key hash into one shard actor per loop, and every
//! connection asks the shard that owns the key with `t.call`, on whichever
//! loop it lives.
//!
//! Teaches: a `LoopGroup` whose loops find each other's actors through the
//! group's registry (`register` / `lookup`), `t.call` across loops (answers
//! still in request order), a balanced server (each connection to the loop
//! serving the fewest), and one graceful shutdown for every loop.
//!
//! The protocol is `kv_store`'s, one line each way, plus `SHARD k` (the
//! index of the shard that owns `k`, answered by that shard itself):
//!
//! ```text
//! SET k v -> OK    GET k -> value or NOT_FOUND    DEL k -> OK / NOT_FOUND
//! SHARD k -> N     a line over 1 KiB -> ERR line too long, then close
//! ```
//!
//! ```text
//! cargo run --example sharded_kv [port] [loops]
//! ```
//!
//! It prints `sharded_kv on 127.0.0.1:8888, 2 shards` once every shard is
//! found, and on SIGINT or SIGTERM `shard N: K keys` per shard.
//!
//! Every loop holds every shard's address, so the group restarts one for
//! all (`Strategy::OneForAll`): a loop that fails takes the others with it,
//! and every shard and address is made anew (the keys are lost: this is a
//! cache, not a database).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard::prelude::*;
use switchboard::ready_made::{FrameHandler, FramingError, Lines};

const MAX_LINE: usize = 1024;
/// How long finding the other loops' shards may take at start.
const FIND: f64 = 10.0;
const DRAIN: Duration = Duration::from_secs(5);

enum Op {
    Set(String),
    Get,
    Del,
    Shard,
}

/// What a shard hears: a command on one key, or the count at exit.
enum ShardMsg {
    Do(String, Op, ReplyTo<String>),
    Count(ReplyTo<usize>),
}

/// One part of the keyspace; `index` is its loop's.
struct Shard {
    index: usize,
    map: HashMap<String, String>,
}

impl Actor for Shard {
    type Message = ShardMsg;
    fn handle(&mut self, msg: ShardMsg, _ctx: &mut ActorContext<'_, ShardMsg>) {
        match msg {
            ShardMsg::Count(r) => drop(r.send(self.map.len())),
            ShardMsg::Do(k, op, r) => {
                let found = |yes: bool| if yes { "OK" } else { "NOT_FOUND" }.to_string();
                let answer = match op {
                    Op::Set(v) => {
                        self.map.insert(k, v);
                        "OK".into()
                    }
                    Op::Get => self.map.get(&k).cloned().unwrap_or_else(|| found(false)),
                    Op::Del => found(self.map.remove(&k).is_some()),
                    Op::Shard => self.index.to_string(),
                };
                let _ = r.send(answer);
            }
        }
    }
}

/// Which shard owns `key` (the same on every loop: `DefaultHasher::new`
/// has fixed keys).
fn owner(key: &str, shards: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % shards as u64) as usize
}

enum Conn {
    Answer(Result<String, CallError>),
}

/// One connection: each line goes to the owning shard with `t.call`.
struct KvConn {
    shards: Arc<Vec<Addr<ShardMsg>>>,
}

impl FrameHandler<Conn> for KvConn {
    fn frame(
        &mut self,
        line: Bytes,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        let line = String::from_utf8_lossy(&line).into_owned();
        let mut w = line.splitn(3, ' ');
        let (op, key) = match (w.next().unwrap_or(""), w.next(), w.next()) {
            ("SET", Some(k), Some(v)) => (Op::Set(v.into()), k),
            ("GET", Some(k), None) => (Op::Get, k),
            ("DEL", Some(k), None) => (Op::Del, k),
            ("SHARD", Some(k), None) => (Op::Shard, k),
            // Answered through a shard too, to keep its place in the order.
            _ => (Op::Shard, ""),
        };
        let bad = key.is_empty();
        let shard = &self.shards[owner(key, self.shards.len())];
        let key = key.to_owned();
        t.call(
            shard,
            |r| ShardMsg::Do(key, op, r),
            move |a| {
                Conn::Answer(if bad {
                    Ok("ERR unknown command".into())
                } else {
                    a
                })
            },
        )?;
        Ok(())
    }
    fn event(
        &mut self,
        ev: StreamEvent<Conn>,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        if let StreamEvent::Message(Conn::Answer(a)) = ev {
            t.write(format!("{}\r\n", a.unwrap_or_else(|e| format!("ERR {e}"))).as_bytes())?;
        }
        Ok(())
    }
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
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(8888), |p| p.parse())?;
    let mut group = switchboard::LoopGroup::new().strategy(Strategy::OneForAll);
    if let Some(n) = args.next() {
        group = group.loops(n.parse()?);
    }
    let up = Arc::new(AtomicUsize::new(0));
    group.run(move |lp: EventLoop| {
        let up = up.clone();
        async move {
            let g = lp.group().expect("a loop of the group");
            let shard = lp.spawn(Shard {
                index: g.index(),
                map: HashMap::new(),
            })?;
            g.register(format!("shard-{}", g.index()), shard.clone())?;
            let mut shards = Vec::new();
            for i in 0..g.len() {
                let find = g.lookup::<ShardMsg>(&format!("shard-{i}"));
                shards.push(switchboard::wait_for(find, FIND).await??);
            }
            let shards = Arc::new(shards);
            let conn = move || {
                Lines::with_handler(
                    MAX_LINE,
                    KvConn {
                        shards: shards.clone(),
                    },
                )
                .strip_cr(true)
            };
            let server = lp
                .create_server(conn)
                .host("127.0.0.1")
                .port(port)
                .balanced(true)
                .await?;
            let done = g.shutdown_on_signals(&[Signal::SIGINT, Signal::SIGTERM], DRAIN)?;
            if up.fetch_add(1, Ordering::AcqRel) + 1 == g.len() {
                println!("sharded_kv on {}, {} shards", server.sockets()[0], g.len());
            }
            done.await;
            // Every loop drained: no connection asks any more.
            println!(
                "shard {}: {} keys",
                g.index(),
                shard.call(ShardMsg::Count).await?
            );
            Ok::<_, switchboard::Error>(())
        }
    })?;
    Ok(())
}
