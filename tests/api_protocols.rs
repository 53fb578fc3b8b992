//! The public API's conventions, part two: framing for stateful protocols,
//! what a protocol can do inside its handler (pause state, timers, socket
//! options), builders and `Display`, diagnostics without a logger, and the
//! prelude. Part one (`tests/api.rs`) covers `run`, `Error`, tasks, ask and
//! reply, `wait_for`/`gather`/`sleep` and `Signal`.
//!
//! See <https://docs.python.org/3/library/asyncio-protocol.html>.

mod support;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use switchboard::prelude::*;
use switchboard::ready_made::{Echo, FrameHandler, Lines};
use switchboard::testing::FakeConnection;

/// An actor that takes no messages worth handling (for the prelude check).
struct Nothing;

impl Actor for Nothing {
    type Message = ();
    fn handle(&mut self, _msg: (), _ctx: &mut ActorContext<'_, ()>) {}
}

// ---- framing for a stateful protocol ------------------------------------------------

/// A line handler with its own state and its own message type.
#[derive(Default)]
struct Tally {
    lines: Vec<String>,
    events: Vec<&'static str>,
}

impl FrameHandler<u8> for Tally {
    fn frame(&mut self, line: Bytes, t: &mut dyn StreamTransport<u8>) -> Result<(), ProtocolError> {
        self.lines.push(String::from_utf8_lossy(&line).into_owned());
        t.write(&line)
            .map_err(ProtocolError::from)
            .and_then(|()| Ok(t.write(b"\n")?))
    }
    fn event(
        &mut self,
        ev: StreamEvent<u8>,
        _t: &mut dyn StreamTransport<u8>,
    ) -> Result<(), ProtocolError> {
        self.events.push(match ev {
            StreamEvent::ConnectionMade => "made",
            StreamEvent::Message(_) => "message",
            StreamEvent::EofReceived => "eof",
            StreamEvent::ConnectionLost(_) => "lost",
            _ => "other",
        });
        Ok(())
    }
}

#[test]
fn framed_lines_serve_a_stateful_protocol_with_its_own_messages_and_strip_crlf() {
    let protocol = Lines::with_handler(64, Tally::default()).strip_cr(true);
    let mut conn = FakeConnection::<u8>::from_protocol(switchboard::AnyStreamProtocol::Stream(
        Box::new(protocol),
    ));
    conn.connect().expect("made");
    conn.receive(b"one\r\ntw").expect("data");
    conn.message(7).expect("message");
    conn.receive(b"o\r\nthree").expect("data");
    conn.receive_eof().expect("eof");
    assert_eq!(conn.transport().written(), b"one\ntwo\nthree\n");
}

// ---- inside a handler: pause state, timers, socket options -----------------------

/// Writes until the transport says writing is paused, records what it saw.
struct Producer {
    seen: Rc<RefCell<Vec<String>>>,
}

impl StreamProtocol for Producer {
    fn handle(
        &mut self,
        ev: StreamEvent,
        t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::ConnectionMade => {
                let s = t.socket().expect("open socket");
                s.set_nodelay(false)?;
                s.set_keepalive(true)?;
                s.set_linger(Some(Duration::from_secs(1)))?;
                s.set_send_buffer_size(4096)?;
                let opts = format!(
                    "nodelay={} keepalive={} linger={:?} sndbuf_set={}",
                    s.nodelay()?,
                    s.keepalive()?,
                    s.linger()?,
                    s.send_buffer_size()? > 0
                );
                self.seen.borrow_mut().push(opts);
                let mut writes = 0;
                while !t.is_writing_paused() {
                    t.write(&[0; 16 * 1024])?;
                    writes += 1;
                }
                let over = t.get_write_buffer_size() > t.get_write_buffer_limits().high;
                self.seen
                    .borrow_mut()
                    .push(format!("paused after {writes} writes, over high: {over}"));
                t.call_later(Duration::from_millis(20), 7);
            }
            StreamEvent::PauseWriting => self.seen.borrow_mut().push("PauseWriting".into()),
            StreamEvent::TimerFired(token) => {
                self.seen.borrow_mut().push(format!("TimerFired({token})"));
                t.abort();
            }
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn a_protocol_reads_its_pause_state_sets_timers_and_socket_options_inside_its_handler() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    support::run(|lp| async move {
        let _z4 = support::RecordingHandler::install(&lp);
        // A peer that never reads: the kernel buffers fill, writes queue.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr: SocketAddr = listener.local_addr()?;
        let conn = lp
            .create_connection(move || Producer { seen: s })
            .addr(addr)
            .await?;
        let (_peer, _) = listener.accept()?;
        let lost = conn.transport.clone();
        let until = switchboard::wait_for(
            async move {
                while !lost.is_lost() {
                    switchboard::sleep(0.005).await;
                }
            },
            10.0,
        );
        until.await?;
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
    let seen = seen.borrow();
    assert_eq!(
        seen[0],
        "nodelay=false keepalive=true linger=Some(1s) sndbuf_set=true"
    );
    assert!(seen[1].ends_with("over high: true"), "{seen:?}");
    assert_eq!(&seen[2..], ["PauseWriting", "TimerFired(7)"]);
}

// ---- builders and Display -----------------------------------------------------------

#[test]
fn host_means_one_host_on_both_builders_and_hosts_takes_a_list() {
    support::run(|lp| async move {
        let _z4 = support::RecordingHandler::install(&lp);
        let one = lp
            .create_server(|| Echo)
            .host("127.0.0.2")
            .host("127.0.0.1")
            .port(0)
            .await?;
        let socks = one.sockets();
        assert_eq!(socks.len(), 1, "host replaces: {socks:?}");
        assert_eq!(socks[0].ip().to_string(), "127.0.0.1");
        let two = lp
            .create_server(|| Echo)
            .hosts(["127.0.0.1", "127.0.0.2"])
            .port(0)
            .await?;
        assert_eq!(two.sockets().len(), 2);
        let conn = lp.create_connection(|| Echo).addr(socks[0]).await?;
        assert_eq!(
            conn.transport.peername(),
            Some(switchboard::Address::Inet(socks[0]))
        );
        assert_eq!(one.to_string(), format!("<Server sockets=[{}]>", socks[0]));
        assert!(format!("{one:?}").starts_with("Server {"));
        conn.transport.close();
        one.close();
        two.close();
        Ok::<(), switchboard::Error>(())
    })
    .expect("run");
}

// ---- diagnostics ------------------------------------------------------------------------

#[test]
fn without_a_logger_debug_warnings_reach_stderr() {
    if std::env::var_os("SWITCHBOARD_API_CHILD").is_some() {
        // The child: debug mode, a server left open at close.
        let (lp, _z4) = support::new_loop();
        lp.set_debug(true);
        let server = lp.run_until_complete(lp.create_server(|| Echo).host("127.0.0.1").port(0));
        let _server = server.expect("loop ran").expect("served");
        lp.close().expect("close");
        println!("child done");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "without_a_logger_debug_warnings_reach_stderr",
            "--exact",
            "--nocapture",
        ])
        .env("SWITCHBOARD_API_CHILD", "1")
        .output()
        .expect("re-exec the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("child done"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("switchboard: warn: unclosed resource at loop close"),
        "no warning on stderr:\n{stderr}"
    );
}

// ---- the prelude -----------------------------------------------------------------------

/// Names every item the prelude promises; compiling is the test.
#[allow(dead_code, clippy::too_many_arguments)]
fn prelude_names(
    _: EventLoop,
    _: &dyn StreamTransport,
    _: StreamEvent,
    _: BufferedEvent,
    _: Addr<u8>,
    _: ReplyTo<u8>,
    _: ProtocolError,
    _: Bytes,
    _: Signal,
    _: &ActorContext<'_, u8>,
) {
    fn protocol<P: StreamProtocol>() {}
    fn buffered<P: BufferedProtocol>() {}
    fn actor<A: Actor>() {}
    protocol::<Echo>();
    let _ = (
        buffered::<switchboard::testing::RecordingBufferedProtocol>,
        actor::<Nothing>,
    );
}

#[test]
fn the_first_write_dropped_after_close_warns_on_stderr_without_a_logger() {
    if std::env::var_os("SWITCHBOARD_API_CHILD").is_some() {
        support::run(|lp| async move {
            let _z4 = support::RecordingHandler::install(&lp);
            let server = lp.create_server(|| Echo).host("127.0.0.1").port(0).await?;
            let conn = lp
                .create_connection(|| Echo)
                .addr(server.sockets()[0])
                .await?;
            conn.transport.close();
            conn.transport.write(b"late").unwrap();
            switchboard::sleep(0.01).await;
            server.close();
            Ok::<(), switchboard::Error>(())
        })
        .expect("run");
        println!("child done");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "the_first_write_dropped_after_close_warns_on_stderr_without_a_logger",
            "--exact",
            "--nocapture",
        ])
        .env("SWITCHBOARD_API_CHILD", "1")
        .output()
        .expect("re-exec the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("child done"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("switchboard: warn:") && stderr.contains("4 bytes dropped"),
        "no warning for the first dropped write on stderr:\n{stderr}"
    );
}
