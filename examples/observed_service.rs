//! The key-value store of `kv_store.rs`, supervised, and open to be seen
//! from outside: a control socket that `switchboard-ctl` reads, and
//! Prometheus metrics on `/metrics`.
//!
//! Teaches: `serve_control` (an owner-only Unix socket answering the loop's
//! snapshot), `serve_metrics` (OpenMetrics text for a scraper), names for
//! what introspection shows (`supervisor("service")`, `.name("kv")` on the
//! server), and a store that is restarted by its supervisor when it
//! fails, with the restart counted where everyone can see it.
//!
//! The protocol, one line each way (`\n` or `\r\n`), as kv_store's:
//!
//! ```text
//! SET k v  -> OK            GET k -> the value, or NOT_FOUND
//! DEL k    -> OK / NOT_FOUND   CRASH -> the store fails (its map is lost)
//! a line over 1 KiB -> ERR line too long, then close
//! ```
//!
//! `CRASH` is here to show a restart in `switchboard-ctl tree` and in
//! `switchboard_supervisor_restarts_total`; the server listens on
//! 127.0.0.1 only, and three crashes in a minute exhaust the supervisor's
//! intensity and stop the service, as a real crash loop should. A
//! connection idle for 5 minutes is closed.
//!
//! Run it, then look inside:
//!
//! ```text
//! cargo run --example observed_service 8888 /tmp/kv.ctl 9100
//! cargo run --bin switchboard-ctl -- ps /tmp/kv.ctl
//! cargo run --bin switchboard-ctl -- tree /tmp/kv.ctl
//! cargo run --bin switchboard-ctl -- top /tmp/kv.ctl
//! curl http://127.0.0.1:9100/metrics
//! ```
//!
//! It prints `observed_service on 127.0.0.1:PORT, control at PATH, metrics
//! on 127.0.0.1:MPORT` once everything listens and, on SIGINT or SIGTERM,
//! `observed_service: stopped`.

use std::collections::HashMap;
use std::time::Duration;

use switchboard::prelude::*;
use switchboard::ready_made::{FrameHandler, FramingError, Lines};

/// The longest request line.
const MAX_LINE: usize = 1024;
/// The store's mailbox: connections wait (their reading paused) beyond it.
const STORE_MAILBOX: usize = 1024;
/// How long a connection may stay silent.
const IDLE: Duration = Duration::from_secs(300);
const IDLE_TIMER: u32 = 1;

enum Request {
    Set(String, String),
    Get(String),
    Del(String),
    Crash,
    Bad(&'static str),
}

impl Request {
    fn parse(line: &str) -> Request {
        let mut words = line.splitn(3, ' ');
        match (words.next().unwrap_or(""), words.next(), words.next()) {
            ("SET", Some(k), Some(v)) => Request::Set(k.into(), v.into()),
            ("GET", Some(k), None) => Request::Get(k.into()),
            ("DEL", Some(k), None) => Request::Del(k.into()),
            ("CRASH", None, None) => Request::Crash,
            _ => Request::Bad("ERR unknown command"),
        }
    }
}

/// What the store hears: a request and where its answer goes.
struct Ask(Request, ReplyTo<String>);

#[derive(Default)]
struct KvStore {
    map: HashMap<String, String>,
}

impl Actor for KvStore {
    type Message = Ask;
    fn handle(&mut self, Ask(req, reply): Ask, _ctx: &mut ActorContext<'_, Ask>) {
        let found = |yes: bool| if yes { "OK" } else { "NOT_FOUND" }.to_string();
        let answer = match req {
            Request::Set(k, v) => {
                self.map.insert(k, v);
                "OK".into()
            }
            Request::Get(k) => self.map.get(&k).cloned().unwrap_or_else(|| found(false)),
            Request::Del(k) => found(self.map.remove(&k).is_some()),
            // The asker hears `ERR` (its call fails); the supervisor
            // restarts the store with an empty map.
            Request::Crash => panic!("asked to crash"),
            Request::Bad(e) => e.into(),
        };
        let _ = reply.send(answer);
    }
}

enum Conn {
    Answer(Result<String, CallError>),
}

/// One connection: each line a `t.call` to the store, answered in order.
struct KvConn {
    store: Addr<Ask>,
    active: bool,
}

impl FrameHandler<Conn> for KvConn {
    fn frame(
        &mut self,
        line: Bytes,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        self.active = true;
        let req = Request::parse(&String::from_utf8_lossy(&line));
        t.call(&self.store, |reply| Ask(req, reply), Conn::Answer)?;
        Ok(())
    }
    fn event(
        &mut self,
        ev: StreamEvent<Conn>,
        t: &mut dyn StreamTransport<Conn>,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => t.call_later(IDLE, IDLE_TIMER),
            StreamEvent::Message(Conn::Answer(answer)) => {
                let text = answer.unwrap_or_else(|e| format!("ERR {e}"));
                t.write(format!("{text}\r\n").as_bytes())?;
            }
            StreamEvent::TimerFired(IDLE_TIMER) if !std::mem::take(&mut self.active) => t.close(),
            StreamEvent::TimerFired(IDLE_TIMER) => t.call_later(IDLE, IDLE_TIMER),
            _ => {}
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
    let usage = "usage: observed_service PORT CONTROL_PATH METRICS_PORT";
    let (Some(port), Some(control), Some(mport)) = (args.next(), args.next(), args.next()) else {
        return Err(usage.into());
    };
    let (port, mport): (u16, u16) = (port.parse()?, mport.parse()?);
    switchboard::run(|lp| async move {
        // The store, restarted when it fails: at most 3 times a minute.
        let mut sup = lp
            .supervisor("service")
            .intensity(3, Duration::from_secs(60));
        let store = sup.actor(
            ChildSpec::new("store").mailbox(STORE_MAILBOX),
            KvStore::default,
        );
        let _tree = sup.await?;

        let conn = move || {
            let handler = KvConn {
                store: store.clone(),
                active: false,
            };
            Lines::with_handler(MAX_LINE, handler).strip_cr(true)
        };
        let server = lp
            .create_server(conn)
            .host("127.0.0.1")
            .port(port)
            .name("kv")
            .await?;
        let control = lp.serve_control(&control).await?;
        let metrics = lp.serve_metrics(([127, 0, 0, 1], mport).into()).await?;
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            let (s, c, m) = (server.clone(), control.clone(), metrics.clone());
            lp.add_signal_handler(sig, move || {
                for each in [&s, &c, &m] {
                    each.close();
                    each.close_clients();
                }
            })?;
        }
        println!(
            "observed_service on {}, control at {}, metrics on {}",
            server.sockets()[0],
            control.addresses()[0],
            metrics.sockets()[0]
        );
        server.wait_closed().await;
        control.wait_closed().await;
        metrics.wait_closed().await;
        println!("observed_service: stopped");
        Ok(())
    })
}
