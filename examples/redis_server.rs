//! A Redis-protocol (RESP2) server for a handful of commands: PING [msg],
//! ECHO, SET, GET, DEL key..., INCR, pipelined like real Redis.
//!
//! Teaches: a `Framer` of your own whose frame is a parsed command (RESP
//! arrays, and inline commands for `nc` users), with limits and
//! `FramingError::invalid`; bad input answered with `-ERR` in its turn, then
//! a close; the keyspace in one application actor (`lp.spawn`) that
//! each connection asks with `t.call` from inside its protocol, answers
//! written in call order as they come back (no task, no reorder map); and
//! `lp.shutdown_on_signals` for SIGINT/SIGTERM. The services part of the
//! learning path, after asyncio's
//! <https://docs.python.org/3/library/asyncio-protocol.html#tcp-echo-server>.
//!
//! ```text
//! cargo run --example redis_server [port]      # 6379 unless told
//! redis-cli -p 6379 ping                      # PONG
//! redis-benchmark -p 6379 -t ping,set,get -P 16 -q
//! ```
//!
//! It prints `redis_server on 127.0.0.1:6379` and exits with status 0 once
//! SIGINT or SIGTERM has drained its connections.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use switchboard::prelude::*;
use switchboard::ready_made::{FrameHandler, Framed, Framer, FramingError};
use switchboard::BytesMut;

/// The longest bulk string (Redis allows 512 MiB; an example needs less).
const MAX_BULK: usize = 1 << 20;
/// The most arguments in one command.
const MAX_ARGS: usize = 1024;
/// The longest header or inline command line.
const MAX_LINE: usize = 64 * 1024;
/// The most bytes of one command that has not come whole: without it, an
/// array of `MAX_ARGS` bulks of `MAX_BULK` (1 GiB) that never ends would be
/// buffered as it comes.
const MAX_REQUEST: usize = 2 * MAX_BULK;

// --- RESP parsing ------------------------------------------------------------

/// Cuts RESP commands out of the byte stream: `*N\r\n` then N `$len\r\nbytes\r\n`,
/// or an inline line of words. Only what arrived is buffered: a `$len` header
/// reserves nothing, its bytes are awaited within `MAX_BULK`, and a command
/// still not whole past `MAX_REQUEST` bytes is refused.
#[derive(Default)]
struct Resp {
    buf: BytesMut,
}

/// Where a complete command ends in the buffer, and where its arguments lie.
type Parsed = (usize, Vec<Range<usize>>);

/// The line starting at `at` (without its `\r\n`) and where the next begins.
fn line(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, FramingError> {
    let rest = &buf[at.min(buf.len())..];
    match rest.windows(2).position(|w| w == b"\r\n") {
        Some(end) if end <= MAX_LINE => Ok(Some((&rest[..end], at + end + 2))),
        None if rest.len() <= MAX_LINE => Ok(None),
        _ => Err(FramingError::invalid("too big request line")),
    }
}

/// A `*N` or `$len` header's number, if it is one in `0..=max`.
fn header(line: &[u8], max: usize) -> Option<usize> {
    let n: usize = std::str::from_utf8(line.get(1..)?).ok()?.parse().ok()?;
    (n <= max).then_some(n)
}

fn parse(buf: &[u8]) -> Result<Option<Parsed>, FramingError> {
    if buf.first() != Some(&b'*') {
        return inline(buf);
    }
    let Some((head, mut at)) = line(buf, 0)? else {
        return Ok(None);
    };
    let n =
        header(head, MAX_ARGS).ok_or_else(|| FramingError::invalid("invalid multibulk length"))?;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        let Some((head, start)) = line(buf, at)? else {
            return Ok(None);
        };
        if head.first() != Some(&b'$') {
            let got = head.first().map_or('?', |&b| b as char);
            return Err(FramingError::invalid(format!("expected '$', got '{got}'")));
        }
        let len =
            header(head, MAX_BULK).ok_or_else(|| FramingError::invalid("invalid bulk length"))?;
        let end = start + len;
        match buf.get(end..end + 2) {
            None => return Ok(None),
            Some(b"\r\n") => args.push(start..end),
            Some(_) => return Err(FramingError::invalid("expected CRLF after bulk string")),
        }
        at = end + 2;
    }
    Ok(Some((at, args)))
}

/// An inline command: one line (`\n` or `\r\n`) of words separated by spaces.
fn inline(buf: &[u8]) -> Result<Option<Parsed>, FramingError> {
    let Some(end) = buf.iter().take(MAX_LINE + 1).position(|&b| b == b'\n') else {
        return match buf.len() > MAX_LINE {
            true => Err(FramingError::invalid("too big inline request")),
            false => Ok(None),
        };
    };
    let (mut args, mut i) = (Vec::new(), 0);
    while i < end {
        let start = i;
        while i < end && !buf[i].is_ascii_whitespace() {
            i += 1;
        }
        if i > start {
            args.push(start..i);
        }
        i += 1;
    }
    Ok(Some((end + 1, args)))
}

impl Framer for Resp {
    type Item = Vec<Bytes>;
    fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }
    fn next_frame(&mut self) -> Result<Option<Vec<Bytes>>, FramingError> {
        let Some((end, args)) = parse(&self.buf)? else {
            // What the buffer holds now is one command not yet whole.
            if self.buf.len() > MAX_REQUEST {
                return Err(FramingError::invalid("too big request"));
            }
            return Ok(None);
        };
        let frame = self.buf.split_to(end).freeze();
        Ok(Some(args.into_iter().map(|r| frame.slice(r)).collect()))
    }
    fn finish(&mut self) -> Result<Option<Vec<Bytes>>, FramingError> {
        Ok(None) // a command cut short by EOF is dropped, as Redis does
    }
}

// --- Commands ----------------------------------------------------------------

/// One answer, RESP-encoded by `encode`.
enum Reply {
    Simple(&'static str),
    Error(String),
    Int(i64),
    Bulk(Option<Bytes>),
}

impl Reply {
    /// Writes the RESP encoding; the pieces leave together (the answers to
    /// one batch of calls go out in one write), so nothing is assembled here.
    fn encode(&self, t: &mut dyn StreamTransport<Answered>) -> Result<(), ProtocolError> {
        let mut digits = [0u8; 24];
        match self {
            Reply::Simple(s) => t.writelines(&[b"+", s.as_bytes(), b"\r\n"])?,
            Reply::Error(e) => t.writelines(&[b"-", e.as_bytes(), b"\r\n"])?,
            Reply::Int(n) => t.writelines(&[b":", number(*n, &mut digits), b"\r\n"])?,
            Reply::Bulk(None) => t.write(b"$-1\r\n")?,
            Reply::Bulk(Some(v)) => {
                let len = number(v.len() as i64, &mut digits);
                t.writelines(&[b"$", len, b"\r\n", v, b"\r\n"])?
            }
        }
        Ok(())
    }
}

/// `n` in decimal, in `buf`.
fn number(n: i64, buf: &mut [u8; 24]) -> &[u8] {
    use std::io::Write;
    let mut w = &mut buf[..];
    let _ = write!(w, "{n}");
    let left = w.len();
    &buf[..24 - left]
}

/// The keyspace: lives in one actor, so commands run one at a time, as in Redis.
#[derive(Default)]
struct Keyspace {
    map: HashMap<Bytes, Bytes>,
}

impl Keyspace {
    fn execute(&mut self, args: &[Bytes]) -> Reply {
        let name = args[0].to_ascii_uppercase();
        match (&name[..], &args[1..]) {
            (b"PING", []) => Reply::Simple("PONG"),
            (b"PING" | b"ECHO", [msg]) => Reply::Bulk(Some(msg.clone())),
            (b"SET", [k, v]) => {
                self.map.insert(k.clone(), v.clone());
                Reply::Simple("OK")
            }
            (b"GET", [k]) => Reply::Bulk(self.map.get(k).cloned()),
            (b"DEL", keys) if !keys.is_empty() => Reply::Int(
                keys.iter()
                    .filter(|k| self.map.remove(*k).is_some())
                    .count() as i64,
            ),
            (b"INCR", [k]) => self.incr(k),
            (b"PING" | b"ECHO" | b"SET" | b"GET" | b"DEL" | b"INCR", _) => Reply::Error(format!(
                "ERR wrong number of arguments for '{}' command",
                String::from_utf8_lossy(&name).to_lowercase()
            )),
            _ => Reply::Error(format!(
                "ERR unknown command '{}'",
                String::from_utf8_lossy(&args[0])
            )),
        }
    }

    fn incr(&mut self, key: &Bytes) -> Reply {
        let old = self.map.get(key).map_or(Some(0), |v| {
            std::str::from_utf8(v).ok()?.parse::<i64>().ok()
        });
        let Some(old) = old else {
            return Reply::Error("ERR value is not an integer or out of range".into());
        };
        let Some(new) = old.checked_add(1) else {
            return Reply::Error("ERR increment or decrement would overflow".into());
        };
        self.map.insert(key.clone(), Bytes::from(new.to_string()));
        Reply::Int(new)
    }
}

// --- Plumbing: the actor, the connection, the server ----------------------------

/// A command for the keyspace actor, with where its reply goes.
struct Command(Vec<Bytes>, ReplyTo<Reply>);

impl Actor for Keyspace {
    type Message = Command;
    fn handle(&mut self, Command(args, reply): Command, _ctx: &mut ActorContext<'_, Command>) {
        let _ = reply.send(self.execute(&args)); // the caller may be gone
    }
}

/// The answer to one command, back at its connection.
struct Answered(Result<Reply, CallError>);
type Transport<'a> = dyn StreamTransport<Answered> + 'a;
type Handled = Result<(), ProtocolError>;

/// One connection: each command is a call to the keyspace, each answer
/// written as it comes back (in call order). Bad input is answered after the
/// commands before it, then the connection closes.
struct Conn(Addr<Command>);

impl FrameHandler<Answered, Vec<Bytes>> for Conn {
    fn frame(&mut self, args: Vec<Bytes>, t: &mut Transport<'_>) -> Handled {
        if !args.is_empty() {
            t.call(&self.0, |reply| Command(args, reply), Answered)?;
        }
        Ok(())
    }
    fn event(&mut self, ev: StreamEvent<Answered>, t: &mut Transport<'_>) -> Handled {
        if let StreamEvent::Message(Answered(answer)) = ev {
            let reply = answer.unwrap_or_else(|e| Reply::Error(format!("ERR {e}")));
            reply.encode(t)?;
        }
        Ok(())
    }
    fn framing_error(&mut self, err: FramingError, t: &mut Transport<'_>) -> Handled {
        t.write(format!("-ERR Protocol error: {err}\r\n").as_bytes())?;
        Ok(()) // then the connection closes, after what was written
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(6379), |p| p.parse())?;
    switchboard::run(|lp| async move {
        let keyspace = lp.spawn(Keyspace::default())?;
        let conn = move || Framed::with_framer(Resp::default(), Conn(keyspace.clone()));
        let server = lp.create_server(conn).host("127.0.0.1").port(port).await?;
        let stop = [Signal::SIGINT, Signal::SIGTERM];
        let done = lp.shutdown_on_signals(&stop, Duration::from_secs(5))?;
        println!("redis_server on {}", server.sockets()[0]);
        done.await?;
        Ok::<(), switchboard::Error>(())
    })?;
    Ok(())
}

// The RESP framer's property tests, in the example's test build only.
#[cfg(test)]
#[path = "redis_server/resp_props.rs"]
mod resp_props;
