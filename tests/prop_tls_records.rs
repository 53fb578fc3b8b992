//! TLS record boundaries (behaviour id FR3 in `docs/behavior.md`): however
//! the peer's TLS bytes are cut into reads — mid-header, mid-record, several
//! records in one read — the decrypted stream switchboard's TLS transport
//! delivers is the same, and the session ends cleanly.
//!
//! The TLS layer is driven through the public facade: switchboard is the
//! client (`create_unix_connection(..).sock(..).ssl(..)`) on one end of a
//! `SOCK_SEQPACKET` socketpair, and the test is a rustls server on the other
//! end. A seqpacket read returns exactly one packet, so each cut the test
//! makes in the server's byte stream is exactly one read of the transport
//! (TCP would merge them). Cuts fall anywhere in the server's whole stream:
//! its handshake flight, the session tickets, application records and the
//! close_notify.
//!
//! See <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.create_unix_connection>.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use proptest::prelude::*;
use proptest::test_runner::Config;
use switchboard::prelude::*;

/// How long one session may take before the test fails instead of hanging.
const SESSION_DEADLINE: Duration = Duration::from_secs(10);

/// What the switchboard side of one session saw: the decrypted bytes and
/// whether the connection ended without an error.
type Seen = (Vec<u8>, bool);

/// Collects the decrypted stream; reports it when the connection is lost.
struct Collect {
    got: Vec<u8>,
    done: Option<flume::Sender<Seen>>,
}

impl StreamProtocol for Collect {
    fn handle(
        &mut self,
        ev: StreamEvent,
        _t: &mut dyn StreamTransport,
    ) -> Result<(), ProtocolError> {
        match ev {
            StreamEvent::DataReceived(data) => self.got.extend_from_slice(&data),
            StreamEvent::ConnectionLost(reason) => {
                if let Some(done) = self.done.take() {
                    let _ = done.send((std::mem::take(&mut self.got), reason.is_none()));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One session for the loop thread: its end of the pair, and where to say
/// what it saw.
type Job = (UnixStream, flume::Sender<Seen>);

/// The loop thread, started once per test binary: a switchboard loop that
/// opens a TLS client connection over every socket it is sent.
fn loop_thread() -> &'static flume::Sender<Job> {
    static JOBS: OnceLock<flume::Sender<Job>> = OnceLock::new();
    JOBS.get_or_init(|| {
        let (jobs, inbox) = flume::unbounded::<Job>();
        thread::spawn(move || {
            switchboard::run(|lp| async move {
                while let Ok((sock, done)) = inbox.recv_async().await {
                    let d = done.clone();
                    let made = lp
                        .create_unix_connection(move || Collect {
                            got: Vec::new(),
                            done: Some(d),
                        })
                        .sock(sock)
                        .ssl(support::tls::client_config())
                        .server_hostname("localhost")
                        .await;
                    if let Err(e) = made {
                        let _ = done.send((format!("{e}").into_bytes(), false));
                    }
                }
                Ok::<(), switchboard::Error>(())
            })
            .expect("the loop thread's loop");
        });
        jobs
    })
}

fn server_config() -> Arc<rustls::ServerConfig> {
    static CONFIG: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| support::tls::server_config().rustls().clone())
        .clone()
}

/// The server's whole byte stream, cut at `cuts` (offsets into it) as it
/// goes out: each piece is one read on the other side.
struct Cutter<'a> {
    sock: &'a UnixStream,
    cuts: &'a [usize],
    sent: usize,
}

impl Cutter<'_> {
    fn send(&mut self, mut out: &[u8]) {
        while !out.is_empty() {
            let next_cut = self.cuts.iter().find(|&&c| c > self.sent).copied();
            let n = next_cut.map_or(out.len(), |c| (c - self.sent).min(out.len()));
            (&*self.sock).write_all(&out[..n]).expect("one piece");
            self.sent += n;
            wait_until_read(self.sock);
            out = &out[n..];
        }
    }
}

/// Waits until the peer has read everything sent on `sock`, so the next
/// piece is a read of its own: on a Unix stream socket, `SIOCOUTQ` counts
/// the bytes sent and not yet read by the other end.
fn wait_until_read(sock: &UnixStream) {
    use std::os::fd::AsRawFd;
    let deadline = std::time::Instant::now() + SESSION_DEADLINE;
    loop {
        let mut unread: nix::libc::c_int = 0;
        // SAFETY: `sock` is an open socket for the whole call and `unread`
        // is a valid, writable c_int, which is all SIOCOUTQ writes.
        let rc = unsafe { nix::libc::ioctl(sock.as_raw_fd(), nix::libc::TIOCOUTQ, &mut unread) };
        assert_eq!(rc, 0, "SIOCOUTQ: {}", std::io::Error::last_os_error());
        if unread == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the transport stopped reading"
        );
        thread::yield_now();
    }
}

/// Runs one session: the server answers the handshake, writes `writes` as
/// separate records, then close_notify, all cut at `cuts`; returns what
/// switchboard decrypted and how many bytes the server sent in all.
fn session(writes: &[Vec<u8>], cuts: &[usize]) -> (Seen, usize) {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("a Unix stream socketpair");
    let (ours, theirs) = (UnixStream::from(ours), UnixStream::from(theirs));
    ours.set_read_timeout(Some(SESSION_DEADLINE))
        .expect("a read timeout");
    let (done, seen) = flume::bounded(1);
    loop_thread()
        .send((theirs, done))
        .expect("the loop thread runs");

    let mut tls = rustls::ServerConnection::new(server_config()).expect("a server session");
    let mut cutter = Cutter {
        sock: &ours,
        cuts,
        sent: 0,
    };
    let mut written = false;
    let mut read = vec![0u8; 64 * 1024];
    loop {
        let mut out = Vec::new();
        while tls.wants_write() {
            tls.write_tls(&mut out).expect("into a Vec");
        }
        cutter.send(&out);
        if !tls.is_handshaking() && !written {
            written = true;
            for w in writes {
                tls.writer().write_all(w).expect("plaintext in");
            }
            tls.send_close_notify();
            continue;
        }
        // The client's flight, its close_notify, then its EOF (0).
        let n = match (&ours).read(&mut read) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        tls.read_tls(&mut &read[..n]).expect("from a slice");
        if tls.process_new_packets().is_err() {
            break;
        }
    }
    let got = seen
        .recv_timeout(SESSION_DEADLINE)
        .expect("the client reports its session");
    (got, cutter.sent)
}

/// The server's plaintext: `n` writes of the given sizes, each a distinct
/// byte pattern so a lost, repeated or reordered piece shows.
fn plaintext(sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut at = 0u32;
    sizes
        .iter()
        .map(|&n| {
            (0..n)
                .map(|_| {
                    at += 1;
                    (at.wrapping_mul(2_654_435_761) >> 24) as u8
                })
                .collect()
        })
        .collect()
}

fn check(sizes: &[usize], cuts: &[usize]) -> Result<usize, TestCaseError> {
    let writes = plaintext(sizes);
    let ((got, clean), total) = session(&writes, cuts);
    prop_assert!(
        clean,
        "the session ended with an error: {:?}",
        String::from_utf8_lossy(&got)
    );
    prop_assert!(
        got == writes.concat(),
        "decrypted {} bytes, sent {:?}",
        got.len(),
        sizes
    );
    Ok(total)
}

/// FR3, exhaustively for one session: a cut at every offset of the server's
/// stream in turn (handshake, tickets, two records, close_notify).
#[test]
fn fr3_tls_every_single_cut_of_a_session_gives_the_same_stream() {
    let sizes = [300, 1];
    let total = check(&sizes, &[]).expect("the uncut session");
    for cut in 1..total {
        check(&sizes, &[cut]).unwrap_or_else(|e| panic!("cut at {cut} of {total}: {e}"));
    }
}

fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::with_cases(CASES)
    }
}

/// 10,000, as the other property files: each case is a whole TLS session,
/// which the workspace's dev profile keeps cheap by building ring and
/// rustls optimised. The exhaustive test above covers every single cut;
/// these cases cover many cuts at once.
const CASES: u32 = 10_000;

proptest! {
    #![proptest_config(config())]

    /// FR3: any set of cuts (several per record, 1-byte pieces, a read
    /// holding many records) and any record sizes give the plaintext sent.
    #[test]
    fn fr3_tls_any_cuts_give_the_same_stream(
        sizes in prop::collection::vec(prop_oneof![3 => 1usize..64, 1 => 64usize..3000], 0..4),
        cuts in prop::collection::vec(0usize..4000, 0..12),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        check(&sizes, &cuts)?;
    }
}
