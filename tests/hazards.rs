//! Hazards the other topic files only met on their easy side, produced here
//! for real: a hang-up (`EPOLLHUP`, `EPOLLERR`) rather than a half-close,
//! signals interrupting the loop during a transfer, the buffered protocol's
//! size hint, a PTY master's `EIO`, and signals racing a child's exit.
//! <https://docs.python.org/3/library/asyncio-protocol.html#streaming-protocols>,
//! <https://docs.python.org/3/library/asyncio-protocol.html#buffered-streaming-protocols>,
//! <https://docs.python.org/3/library/asyncio-eventloop.html#working-with-pipes>
//! and <https://docs.python.org/3/library/asyncio-eventloop.html#running-subprocesses>.
//!
//! Ids refer to docs/behavior.md (H4, S7, B1, P1, Q4).

mod support;

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use switchboard::testing::{check_stream_grammar, EventLog, Recorded, RecordingProtocol};
use switchboard::{
    BufferedEvent, BufferedProtocol, NoMessage, ProtocolError, ReadPipeEvent, ReadPipeProtocol,
    ReadPipeTransport, StreamTransport,
};

use support::net::until;
use support::{new_loop, run_with_deadline};

/// The poll flags `fd` reports now, without consuming anything. `fd` is a
/// duplicate of the transport's: the same open socket or pipe, the same
/// flags.
fn poll_flags(fd: &impl AsFd) -> PollFlags {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).expect("poll");
    fds[0].revents().unwrap_or(PollFlags::empty())
}

/// Waits, letting the loop run, until `fd` reports any of `want`; returns
/// all it reports then.
async fn flags_once(lp: &switchboard::EventLoop, fd: &impl AsFd, want: PollFlags) -> PollFlags {
    until(lp, || poll_flags(fd).intersects(want)).await;
    poll_flags(fd)
}

/// The 51 patterned bytes of asyncio's `test_epollhup`.
fn fifty_one() -> Vec<u8> {
    (0..51u8).map(|i| b'a' + i % 26).collect()
}

/// H4 over a Unix socketpair: the peer writes 51 bytes and closes its fd
/// while the transport is registered and idle, so one poll reports
/// `EPOLLIN | EPOLLHUP` at once. A transport that took the hang-up for "all
/// read" (one short read, then wait for an edge that never comes) hangs; one
/// that closes on the hang-up loses the bytes.
#[test]
fn h4_unix_peer_close_is_a_hangup_data_then_eof_then_lost_none() {
    for shutdown_only in [false, true] {
        let (lp, h) = new_loop();
        let l = lp.clone();
        run_with_deadline(&lp, async move {
            let (ours, mut peer) = UnixStream::pair().expect("socketpair");
            let watch = ours.try_clone().unwrap();
            let p = RecordingProtocol::new();
            let log = p.log();
            let conn = l
                .create_unix_connection::<_, NoMessage>(move || p)
                .sock(ours)
                .await
                .expect("adopt the socketpair end");
            until(&l, || !log.is_empty()).await;
            peer.write_all(&fifty_one()).unwrap();
            if shutdown_only {
                // The fd stays open; SHUT_RDWR alone is a hang-up too.
                peer.shutdown(std::net::Shutdown::Both).unwrap();
            } else {
                drop(peer);
            }
            let flags = flags_once(&l, &watch, PollFlags::POLLHUP).await;
            assert!(flags.contains(PollFlags::POLLHUP), "{flags:?}");
            let _ = &conn;
            until(&l, || log.lost_count() == 1).await;
            assert_eq!(
                log.snapshot(),
                vec![
                    Recorded::ConnectionMade,
                    Recorded::Data(fifty_one().into()),
                    Recorded::Eof,
                    Recorded::Lost(None),
                ],
                "shutdown_only={shutdown_only}"
            );
        });
        assert!(h.take().is_empty());
    }
}

/// H4 over TCP: the peer closes with our bytes unread, so the kernel sends a
/// reset and our socket reports `POLLHUP | POLLERR` with the peer's 51 bytes
/// still queued. Those bytes reach a 50-byte buffered protocol in full (two
/// reads), then `ConnectionLost(reset)`, and no `EofReceived`.
#[test]
fn h4_tcp_reset_with_data_queued_delivers_the_data_then_the_reset() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = EventLog::new();
        let lg = log.clone();
        let ours = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let watch = ours.try_clone().unwrap();
        let conn = l
            .create_buffered_connection::<_, NoMessage>(move || {
                switchboard::testing::RecordingBufferedProtocol::with_log(50, lg)
            })
            .sock(ours)
            .await
            .expect("adopt");
        let (mut peer, _) = listener.accept().unwrap();
        until(&l, || !log.is_empty()).await;
        conn.transport.write(b"never read").unwrap();
        // The peer holds our bytes unread: closing now sends a reset.
        let seen = flags_once(&l, &peer, PollFlags::POLLIN).await;
        assert!(seen.contains(PollFlags::POLLIN), "{seen:?}");
        peer.write_all(&fifty_one()).unwrap();
        drop(peer);
        let flags = flags_once(&l, &watch, PollFlags::POLLHUP).await;
        assert!(
            flags.contains(PollFlags::POLLHUP | PollFlags::POLLERR),
            "{flags:?}"
        );
        until(&l, || log.lost_count() == 1).await;
        let events = log.snapshot();
        assert_eq!(&log.data()[..], &fifty_one()[..], "{events:?}");
        assert!(!events.contains(&Recorded::Eof), "{events:?}");
        assert_eq!(
            events.last(),
            Some(&Recorded::Lost(Some("connection reset by peer".into())))
        );
        check_stream_grammar(&events).expect("grammar");
    });
    // A reset is a connection error: not logged outside debug mode (S7).
    assert!(h.take().is_empty());
}

/// What a recording read pipe protocol saw.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Made,
    Data(Vec<u8>),
    Eof,
    Lost(Option<String>),
}

type Log = Rc<RefCell<Vec<Seen>>>;

struct PipeRecorder(Log);

impl ReadPipeProtocol for PipeRecorder {
    fn handle(
        &mut self,
        ev: ReadPipeEvent,
        _t: &mut dyn ReadPipeTransport,
    ) -> Result<(), ProtocolError> {
        let seen = match ev {
            ReadPipeEvent::ConnectionMade => Seen::Made,
            ReadPipeEvent::DataReceived(d) => Seen::Data(d.to_vec()),
            ReadPipeEvent::EofReceived => Seen::Eof,
            ReadPipeEvent::ConnectionLost(r) => Seen::Lost(r.map(|e| e.to_string())),
            other => panic!("unexpected {other:?}"),
        };
        self.0.borrow_mut().push(seen);
        Ok(())
    }
}

fn pipe_lost(log: &Log) -> bool {
    log.borrow().iter().any(|s| matches!(s, Seen::Lost(_)))
}

fn pipe_data(log: &Log) -> Vec<u8> {
    let log = log.borrow();
    let data = log.iter().filter_map(|s| match s {
        Seen::Data(d) => Some(d.clone()),
        _ => None,
    });
    data.flatten().collect()
}

/// Connects `reader` as a read pipe; `hang_up` then writes and closes the
/// other end while the pipe is registered and idle. Returns what the
/// protocol saw and the poll flags the reader showed after the hang-up.
fn read_pipe_case(reader: OwnedFd, hang_up: impl FnOnce() + 'static) -> (Vec<Seen>, PollFlags) {
    let (lp, h) = new_loop();
    let l = lp.clone();
    let log: Log = Rc::default();
    let rec = log.clone();
    let flags = run_with_deadline(&lp, async move {
        let watch = reader.try_clone().expect("dup");
        let handle = l
            .connect_read_pipe(move || PipeRecorder(rec.clone()), reader)
            .await
            .expect("connect_read_pipe");
        until(&l, || !log.borrow().is_empty()).await;
        hang_up();
        let flags = flags_once(&l, &watch, PollFlags::POLLHUP).await;
        until(&l, || pipe_lost(&log)).await;
        assert!(handle.is_lost());
        (log, flags)
    });
    assert!(h.take().is_empty());
    let (log, flags) = flags;
    let seen = log.borrow().clone();
    (seen, flags)
}

/// H4 for a pipe: the write end closes right after 51 bytes (`POLLHUP`);
/// the data comes in full, then EOF, then `connection_lost(None)`.
#[test]
fn h4_pipe_writer_close_is_a_hangup_data_then_eof_then_lost_none() {
    let (r, w) = nix::unistd::pipe().expect("pipe");
    let (seen, flags) = read_pipe_case(r, move || {
        let mut w = File::from(w);
        w.write_all(&fifty_one()).unwrap();
    });
    assert!(flags.contains(PollFlags::POLLHUP), "{flags:?}");
    assert_eq!(
        seen,
        vec![
            Seen::Made,
            Seen::Data(fifty_one()),
            Seen::Eof,
            Seen::Lost(None)
        ]
    );
}

/// P1: a PTY master whose slave closes reads `EIO`, which asyncio takes as
/// EOF: the output written to the slave arrives, then EOF, then
/// `connection_lost(None)`, never an error. The slave is left in raw mode so
/// the bytes arrive as written.
#[test]
fn p1_pty_master_eio_after_the_slave_closes_is_eof() {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let mut mode = tcgetattr(&pty.slave).expect("tcgetattr");
    cfmakeraw(&mut mode);
    tcsetattr(&pty.slave, SetArg::TCSANOW, &mode).expect("tcsetattr");
    // The master reads EIO once every slave fd is closed (checked with a
    // plain read on a second pty below, so the test proves the EIO path).
    let slave = pty.slave;
    let (seen, _) = read_pipe_case(pty.master, move || {
        let mut s = File::from(slave);
        s.write_all(b"pty output\n").unwrap();
        s.flush().unwrap();
    });
    assert_eq!(
        pipe_data_of(&seen),
        b"pty output\n",
        "everything written before the close: {seen:?}"
    );
    assert_eq!(seen[0], Seen::Made);
    assert_eq!(seen[seen.len() - 2..], [Seen::Eof, Seen::Lost(None)]);

    // What the transport met was EIO, not a zero-byte read.
    let other = nix::pty::openpty(None, None).expect("openpty");
    drop(other.slave);
    let mut master = File::from(other.master);
    let err = master.read(&mut [0u8; 16]).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(nix::libc::EIO), "{err}");
}

fn pipe_data_of(seen: &[Seen]) -> Vec<u8> {
    let log: Log = Rc::new(RefCell::new(seen.to_vec()));
    pipe_data(&log)
}

/// Records every size hint `get_buffer` is given.
struct HintRecorder {
    hints: Rc<RefCell<Vec<isize>>>,
    buf: Vec<u8>,
    log: EventLog,
}

impl BufferedProtocol for HintRecorder {
    fn get_buffer(&mut self, sizehint: isize) -> &mut [u8] {
        self.hints.borrow_mut().push(sizehint);
        &mut self.buf
    }

    fn handle(
        &mut self,
        ev: BufferedEvent,
        _t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            BufferedEvent::ConnectionMade => self.log.push(Recorded::ConnectionMade),
            BufferedEvent::BufferUpdated(n) => self.log.push_buffer_updated(&self.buf[..n]),
            BufferedEvent::EofReceived => self.log.push(Recorded::Eof),
            BufferedEvent::ConnectionLost(r) => {
                self.log.push(Recorded::Lost(r.map(|e| e.to_string())))
            }
            _ => {}
        }
        Ok(())
    }
}

/// B1: every `get_buffer` call gets asyncio's size hint, -1 ("any size";
/// asyncio's selector transport always passes -1), never a byte count such
/// as the bytes pending or the read size; each read follows one call; the
/// bytes match what the peer sent.
#[test]
fn b1_get_buffer_is_asked_with_a_size_hint_of_minus_one() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hints = Rc::new(RefCell::new(Vec::new()));
        let log = EventLog::new();
        let (hs, lg) = (hints.clone(), log.clone());
        let _conn = l
            .create_buffered_connection::<_, NoMessage>(move || HintRecorder {
                hints: hs,
                buf: vec![0; 1000],
                log: lg,
            })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        let (mut peer, _) = listener.accept().unwrap();
        let data: Vec<u8> = (0..9 * 1024u32).map(|i| (i % 241) as u8).collect();
        peer.write_all(&data).unwrap();
        drop(peer);
        until(&l, || log.lost_count() == 1).await;
        assert_eq!(&log.data()[..], &data[..]);
        let hints = hints.borrow();
        let updates = log
            .snapshot()
            .iter()
            .filter(|e| matches!(e, Recorded::BufferUpdated(_)))
            .count();
        // One call per read: one per update, plus the read that met EOF (and
        // perhaps one that met EAGAIN).
        assert!(hints.len() > updates, "{} <= {updates}", hints.len());
        assert!(hints.iter().all(|&h| h == -1), "{hints:?}");
        check_stream_grammar(&log.snapshot()).expect("grammar");
    });
    assert!(h.take().is_empty());
}

/// An 8 MiB transfer whose loop thread is hit by SIGUSR1 (with a loop
/// handler installed) as fast as another thread can send it: the loop's
/// `epoll_wait` and reads are interrupted (EINTR), which is never an error:
/// every byte arrives, in order, then EOF and `connection_lost(None)`, and the
/// exception handler hears nothing. Run alone in a child: signals are
/// process-wide.
#[test]
fn s7_eintr_during_an_8_mib_transfer_is_never_an_error() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use support::net::{is_alone_child, run_alone};
    if !is_alone_child() {
        return run_alone(
            "s7_eintr_during_an_8_mib_transfer_is_never_an_error",
            "S7-EINTR-OK",
        );
    }
    const TOTAL: usize = 8 << 20;
    let (lp, h) = new_loop();
    let l = lp.clone();
    let handled = Rc::new(std::cell::Cell::new(0usize));
    let hd = handled.clone();
    let (sent, received) = run_with_deadline(&lp, async move {
        l.add_signal_handler(switchboard::Signal::SIGUSR1, move || hd.set(hd.get() + 1))
            .expect("handler");
        let (ours, peer) = UnixStream::pair().expect("socketpair");
        let p = RecordingProtocol::new();
        let log = p.log();
        let _conn = l
            .create_unix_connection::<_, NoMessage>(move || p)
            .sock(ours)
            .await
            .expect("adopt");
        let me = nix::sys::pthread::pthread_self();
        let done = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let (d, s) = (done.clone(), sent.clone());
        let storm = std::thread::spawn(move || {
            // Paced (the storm is the scenario, not a synchronisation): a
            // signal every 50 us keeps interrupting the loop's waits without
            // starving it on a busy two-core machine in a debug build.
            while !d.load(Ordering::Relaxed) {
                nix::sys::pthread::pthread_kill(me, nix::sys::signal::Signal::SIGUSR1)
                    .expect("pthread_kill");
                s.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        });
        let writer = std::thread::spawn(move || {
            let mut peer = peer;
            let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
            for _ in 0..TOTAL / chunk.len() {
                peer.write_all(&chunk).unwrap();
            }
        });
        until(&l, || log.lost_count() == 1).await;
        done.store(true, Ordering::Relaxed);
        storm.join().unwrap();
        writer.join().unwrap();
        let data = log.data();
        assert_eq!(data.len(), TOTAL);
        assert!(data
            .iter()
            .enumerate()
            .all(|(i, &b)| b == ((i % 65536) % 251) as u8));
        let events = log.snapshot();
        assert_eq!(
            &events[events.len() - 2..],
            &[Recorded::Eof, Recorded::Lost(None)]
        );
        // Let the handler hear the last signals before it is removed.
        until(&l, || handled.get() > 0).await;
        (sent.load(Ordering::Relaxed), handled.get())
    });
    assert!(h.take().is_empty());
    assert!(sent > 0 && received > 0, "sent {sent}, handled {received}");
    println!("S7-EINTR-OK sent {sent} handled {received}");
}

/// Q4: children that kill themselves with SIGTERM and children that `exit 3`,
/// forty of them at once, half of the latter also sent SIGTERM as they exit:
/// each return code is exactly -15 or 3, never the 255 of a status reaped by
/// someone else (a `waitpid(-1)` stealing a sibling's status) or mangled.
#[test]
fn q4_signals_racing_the_exit_never_give_255() {
    use support::subprocess::{spawn_shell, Log as QLog};
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let mut children = Vec::new();
        for i in 0..40 {
            let log: QLog = Rc::default();
            let cmd = if i % 2 == 0 {
                "kill -TERM $$"
            } else {
                "exit 3"
            };
            let c = spawn_shell(&l, &log, cmd).await;
            if i % 4 == 1 {
                // Races the exit: delivered, or refused as already exited.
                let _ = c.terminate();
            }
            children.push((i, c));
        }
        for (i, c) in children {
            let code = c.wait().await.expect("wait");
            match i % 4 {
                0 | 2 => assert_eq!(code, -15, "child {i}"),
                1 => assert!(code == -15 || code == 3, "child {i}: {code}"),
                _ => assert_eq!(code, 3, "child {i}"),
            }
        }
    });
}
