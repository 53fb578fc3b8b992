//! Interoperation with CPython's asyncio over loopback: a Python asyncio
//! client against a switchboard server, and a switchboard client against a
//! Python asyncio server. Skipped (with a note) when `python3` is missing.
//! <https://docs.python.org/3/library/asyncio-protocol.html#tcp-echo-server>

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use switchboard::testing::{check_stream_grammar, EventLog, Recorded, RecordingProtocol};
use switchboard::EventLoop;
use switchboard::NoMessage;

use support::tools::have_python;
use support::{new_loop, run_with_deadline};

async fn until(lp: &EventLoop, mut cond: impl FnMut() -> bool) {
    while !cond() {
        let _ = lp.sleep(Duration::from_millis(1)).await;
    }
}

const CLIENTS: usize = 5;

const PY_CLIENT: &str = r#"
import asyncio, sys

class Echo(asyncio.Protocol):
    def __init__(self, msg, done):
        self.msg, self.done, self.got, self.eof = msg, done, b"", False
    def connection_made(self, t):
        t.write(self.msg)
        t.write_eof()
    def data_received(self, data):
        self.got += data
    def eof_received(self):
        self.eof = True
    def connection_lost(self, exc):
        self.done.set_result((self.got, self.eof, exc))

async def one(port, i):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    msg = (b"hello %d " % i) * 1000
    await loop.create_connection(lambda: Echo(msg, done), "127.0.0.1", port)
    got, eof, exc = await done
    assert got == msg and eof and exc is None, (len(got), eof, exc)
    return len(got)

async def main(port, n):
    sizes = await asyncio.wait_for(asyncio.gather(*(one(port, i) for i in range(n))), 10)
    print("OK", sum(sizes), flush=True)

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"#;

#[test]
fn asyncio_client_against_a_switchboard_echo_server() {
    if !have_python() {
        return;
    }
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let log = EventLog::new();
    let lg = log.clone();
    let (server, port) = run_with_deadline(&lp, async move {
        let server = l
            .create_server::<_, NoMessage>(move || {
                RecordingProtocol::with_log(lg.clone()).echo(true)
            })
            .host("127.0.0.1")
            .port(0)
            .await
            .expect("bind");
        let port = server.sockets()[0].port();
        (server, port)
    });
    let child = Command::new("python3")
        .args(["-c", PY_CLIENT, &port.to_string(), &CLIENTS.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let l = lp.clone();
    let lg = log.clone();
    run_with_deadline(&lp, async move {
        // Each connection ends: data, EOF from the client, our close.
        until(&l, || lg.lost_count() == CLIENTS).await;
        server.close();
    });
    let out = child.wait_with_output().expect("python3 output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total: usize = (0..CLIENTS)
        .map(|i| format!("hello {i} ").len() * 1000)
        .sum();
    assert_eq!(stdout.trim(), format!("OK {total}"));
    assert_eq!(log.data().len(), total);
    let events = log.snapshot();
    assert_eq!(
        events.iter().filter(|e| **e == Recorded::Eof).count(),
        CLIENTS
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == Recorded::Lost(None))
            .count(),
        CLIENTS
    );
}

const PY_SERVER: &str = r#"
import asyncio

class Echo(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t
    def data_received(self, data):
        self.t.write(data)
    def eof_received(self):
        self.t.close()
    def connection_lost(self, exc):
        done.set_result(exc)

async def main():
    global done
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    exc = await asyncio.wait_for(done, 10)
    server.close()
    await server.wait_closed()
    print("DONE", exc, flush=True)

asyncio.run(main())
"#;

#[test]
fn switchboard_client_against_an_asyncio_echo_server() {
    if !have_python() {
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", PY_SERVER])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("the server prints its port");
    let port: u16 = line.trim().parse().unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("no port from python: {line:?}")
    });
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    let s2 = sent.clone();
    let log = run_with_deadline(&lp, async move {
        let p = RecordingProtocol::new();
        let log = p.log();
        let conn = l
            .create_connection::<_, NoMessage>(move || p)
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect to asyncio");
        conn.transport.write(&s2).unwrap();
        conn.transport.write_eof().unwrap();
        until(&l, || log.lost_count() == 1).await;
        log
    });
    assert_eq!(&log.data()[..], &sent[..]);
    check_stream_grammar(&log.snapshot()).expect("grammar");
    assert_eq!(log.snapshot().last(), Some(&Recorded::Lost(None)));
    let mut rest = String::new();
    stdout.read_line(&mut rest).expect("python's last line");
    let status = child.wait().expect("python exits");
    assert!(status.success(), "python server failed: {rest}");
    assert_eq!(rest.trim(), "DONE None");
}
