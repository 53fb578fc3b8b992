//! Identity: a handle names one actor, not a row of the loop's table. Each
//! test ends an actor, makes the loop reuse its row for a new one (the
//! table hands out the row freed last first; the tests check they got it),
//! then uses the stale handle and checks the new tenant is untouched.
//!
//! Ids refer to docs/behavior.md (ID1–ID4).

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::rc::Rc;

use switchboard::prelude::*;
use switchboard::testing::{EventLog, RecordingProtocol};
use switchboard::{
    Connection, DatagramEvent, DatagramProtocol, DatagramTransport, NoMessage, SubprocessHandle,
    WriteError, WritePipeEvent, WritePipeProtocol, WritePipeTransport,
};

use support::net::until;
use support::subprocess::{lost, recorder, Log};
use support::{new_loop, run_with_deadline, turns};

/// A peer on its own thread that echoes every connection it accepts until
/// the client closes (so only the client side takes rows in the loop).
fn echo_peer() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

async fn connect(lp: &EventLoop, port: u16) -> (Connection<NoMessage>, EventLog) {
    let p = RecordingProtocol::new();
    let log = p.log();
    let conn = lp
        .create_connection(move || p)
        .host("127.0.0.1")
        .port(port)
        .await
        .expect("connect");
    (conn, log)
}

#[test]
fn id1_a_stale_transport_handle_never_reaches_the_next_connection_in_its_row() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let port = echo_peer();
        let (a, alog) = connect(&l, port).await;
        a.transport.close();
        until(&l, || alog.lost_count() == 1).await;
        assert!(a.transport.is_lost());
        let (b, blog) = connect(&l, port).await;
        assert_eq!(a.transport.id(), b.transport.id(), "the row was reused");
        // Every verb on the stale handle, then let the loop apply them.
        assert_eq!(a.transport.write(b"stale"), Ok(()));
        a.transport.pause_reading();
        a.transport.write_eof().unwrap();
        a.transport.close();
        a.transport.abort();
        turns(5).await;
        // The new tenant is untouched: open, reading, and its bytes flow.
        assert!(!b.transport.is_closing());
        assert!(b.transport.is_reading());
        b.transport.write(b"fresh").unwrap();
        until(&l, || &blog.data()[..] == b"fresh").await;
        assert_eq!(blog.lost_count(), 0);
        b.transport.close();
        until(&l, || blog.lost_count() == 1).await;
    });
    assert!(h.take().is_empty());
}

async fn spawn(lp: &EventLoop, cmd: &str) -> (SubprocessHandle, Log) {
    let log: Log = Rc::default();
    let child = lp
        .subprocess_shell(recorder(&log), cmd)
        .await
        .expect("spawn");
    (child, log)
}

#[test]
fn id2_closing_an_exited_childs_handle_never_kills_the_next_child() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (a, alog) = spawn(&l, "exit 0").await;
        until(&l, || lost(&alog)).await;
        assert_eq!(a.get_returncode(), Some(0));
        // The next child reads one line from its stdin, then exits 0.
        let (b, blog) = spawn(&l, "read line; exit 0").await;
        assert_eq!(a.id(), b.id(), "the row was reused");
        a.close();
        assert!(matches!(
            a.kill(),
            Err(switchboard::ProcessError::Exited { .. })
        ));
        if let Some(stdin) = a.get_pipe_transport(0) {
            stdin.close();
        }
        turns(5).await;
        assert_eq!(b.get_returncode(), None, "the next child still runs");
        assert!(!b.is_closing());
        let stdin = b.get_pipe_transport(0).expect("stdin is a pipe");
        stdin.write(b"go\n").unwrap();
        until(&l, || lost(&blog)).await;
        // It exited by itself (0), not by a SIGKILL meant for `a` (-9).
        assert_eq!(b.get_returncode(), Some(0));
    });
    assert!(h.take().is_empty());
}

/// A write-pipe protocol that records nothing.
struct Quiet;

impl WritePipeProtocol for Quiet {
    fn handle(
        &mut self,
        _ev: WritePipeEvent,
        _t: &mut dyn WritePipeTransport,
    ) -> Result<(), ProtocolError> {
        Ok(())
    }
}

fn pipe() -> (std::fs::File, std::os::fd::OwnedFd) {
    let (r, w) = nix::unistd::pipe().unwrap();
    (std::fs::File::from(r), w)
}

#[test]
fn id3_a_stale_pipe_handle_never_reaches_the_next_pipe_in_its_row() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (_ra, wa) = pipe();
        let a = l.connect_write_pipe(|| Quiet, wa).await.unwrap();
        a.close();
        until(&l, || a.is_lost()).await;
        let (mut rb, wb) = pipe();
        let b = l.connect_write_pipe(|| Quiet, wb).await.unwrap();
        assert_eq!(a.id(), b.id(), "the row was reused");
        a.write(b"stale").unwrap();
        a.abort();
        a.close();
        turns(5).await;
        assert!(!b.is_closing() && !b.is_lost());
        b.write(b"fresh").unwrap();
        b.close();
        until(&l, || b.is_lost()).await;
        let mut got = Vec::new();
        rb.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"fresh", "nothing of the stale handle's reached it");
    });
    assert!(h.take().is_empty());
}

/// Records the datagrams an endpoint receives.
struct Datagrams(Rc<std::cell::RefCell<Vec<Vec<u8>>>>);

impl DatagramProtocol for Datagrams {
    fn handle(
        &mut self,
        ev: DatagramEvent,
        _t: &mut dyn DatagramTransport,
    ) -> Result<(), ProtocolError> {
        if let DatagramEvent::DatagramReceived { data, .. } = ev {
            self.0.borrow_mut().push(data.to_vec());
        }
        Ok(())
    }
}

#[test]
fn id4_a_stale_datagram_handle_never_reaches_the_next_endpoint_in_its_row() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let local: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let a = l
            .create_datagram_endpoint(|| Datagrams(Rc::default()))
            .local_addr(local)
            .await
            .unwrap();
        a.transport.close();
        until(&l, || a.transport.is_lost()).await;
        let got = Rc::new(std::cell::RefCell::new(Vec::new()));
        let g = got.clone();
        let b = l
            .create_datagram_endpoint(move || Datagrams(g))
            .local_addr(local)
            .await
            .unwrap();
        assert_eq!(a.transport.id(), b.transport.id(), "the row was reused");
        let to = b.transport.sockname().unwrap();
        a.transport.close();
        a.transport.abort();
        let stale = a.transport.sendto(&b"stale"[..], Some(&to));
        assert!(matches!(
            stale,
            Ok(()) | Err(WriteError::InvalidAddress { .. })
        ));
        turns(5).await;
        assert!(!b.transport.is_closing());
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"fresh", to.as_inet().unwrap()).unwrap();
        until(&l, || !got.borrow().is_empty()).await;
        assert_eq!(got.borrow().as_slice(), [b"fresh".to_vec()]);
        b.transport.close();
    });
    assert!(h.take().is_empty());
}
