//! Unix-domain stream sockets: `create_unix_server` and
//! `create_unix_connection` over temporary paths and abstract names.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.create_unix_server>
//! and <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.create_unix_connection>.
//!
//! Ids refer to the behaviour catalogue (`docs/behavior.md`): N1–N4.

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use switchboard::testing::{check_stream_grammar, EventLog, Recorded, RecordingProtocol};
use switchboard::{Address, EventLoop, NetError, NoMessage, Server};

use support::net::{made, until};
use support::tools::have_python;
use support::{new_loop, run_with_deadline};

fn temp_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

async fn echo_unix_server(lp: &EventLoop, path: &Path, log: &EventLog) -> Server {
    let log = log.clone();
    lp.create_unix_server::<_, NoMessage>(move || {
        RecordingProtocol::with_log(log.clone()).echo(true)
    })
    .path(path)
    .await
    .expect("bind the unix path")
}

fn is_socket(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

#[test]
fn n1_unix_echo_with_a_hundred_concurrent_clients_keeps_the_stream_grammar() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "echo.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let server = echo_unix_server(&l, &path, &slog).await;
        assert_eq!(server.addresses(), vec![Address::Unix(path.clone())]);
        assert!(server.sockets().is_empty(), "no IP address");
        let mut clients = Vec::new();
        for i in 0..100u32 {
            let p = RecordingProtocol::new();
            let log = p.log();
            let conn = l
                .create_unix_connection::<_, NoMessage>(move || p)
                .path(&path)
                .await
                .expect("connect");
            conn.transport
                .write(format!("client {i}").as_bytes())
                .unwrap();
            clients.push((i, conn, log));
        }
        until(&l, || {
            clients
                .iter()
                .all(|(i, _, log)| log.data() == format!("client {i}").as_bytes())
        })
        .await;
        let (_, first, _) = &clients[0];
        assert_eq!(
            first.transport.peername(),
            Some(Address::Unix(path.clone()))
        );
        assert_eq!(first.transport.sockname(), Some(Address::Unnamed));
        for (_, conn, _) in &clients {
            conn.transport.write_eof().unwrap();
        }
        // The server's protocols close on EOF; each client sees EOF then lost.
        until(&l, || {
            clients.iter().all(|(_, _, log)| log.lost_count() == 1)
        })
        .await;
        until(&l, || slog.lost_count() == 100).await;
        for (_, _, log) in &clients {
            check_stream_grammar(&log.snapshot()).expect("client grammar");
            assert!(log.snapshot().contains(&Recorded::Eof));
        }
        assert_eq!(made(&slog), 100);
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn n1_peer_credentials_name_this_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "cred.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let server = echo_unix_server(&l, &path, &slog).await;
        let conn = l
            .create_unix_connection::<_, NoMessage>(RecordingProtocol::new)
            .path(&path)
            .await
            .expect("connect");
        let cred = conn
            .transport
            .peer_credentials()
            .expect("SO_PEERCRED on linux");
        assert_eq!(cred.pid, Some(std::process::id() as i32));
        // /proc/self belongs to this process's effective uid and gid.
        let me = std::fs::metadata("/proc/self").expect("/proc/self");
        assert_eq!(cred.uid, std::os::unix::fs::MetadataExt::uid(&me));
        assert_eq!(cred.gid, std::os::unix::fs::MetadataExt::gid(&me));
        conn.transport.close();
        until(&l, || conn.transport.is_lost()).await;
        assert_eq!(conn.transport.peer_credentials(), None, "socket closed");
        server.close();
    });
}

#[test]
fn n2_a_stale_socket_file_is_removed_and_the_bind_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "stale.sock");
    // A socket file whose server is gone.
    drop(UnixListener::bind(&path).expect("bind"));
    assert!(is_socket(&path));
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let server = echo_unix_server(&l, &path, &slog).await;
        let mut peer = UnixStream::connect(&path).expect("connect to the new server");
        peer.write_all(b"n2").expect("write");
        peer.shutdown(std::net::Shutdown::Write).expect("shutdown");
        until(&l, || slog.lost_count() == 1).await;
        let mut got = Vec::new();
        peer.read_to_end(&mut got).expect("read");
        assert_eq!(got, b"n2");
        server.close();
    });
}

#[test]
fn n2_a_file_that_is_not_a_socket_is_kept_and_the_bind_fails_in_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "regular");
    std::fs::write(&path, b"keep me").expect("write");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let p = path.clone();
    let err = run_with_deadline(&lp, async move {
        l.create_unix_server::<_, NoMessage>(RecordingProtocol::new)
            .path(&p)
            .await
            .expect_err("in use")
    });
    assert!(
        matches!(&err, NetError::BindUnix { address: Address::Unix(a), .. } if *a == path),
        "{err:?}"
    );
    assert_eq!(err.io_kind(), Some(ErrorKind::AddrInUse));
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).expect("still there"), b"keep me");
}

#[test]
fn n2_connecting_to_a_missing_path_is_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "nobody.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let err = run_with_deadline(&lp, async move {
        l.create_unix_connection::<_, NoMessage>(RecordingProtocol::new)
            .path(&path)
            .await
            .expect_err("nobody listens")
    });
    assert!(matches!(err, NetError::ConnectUnix { .. }), "{err:?}");
    assert_eq!(err.io_kind(), Some(ErrorKind::NotFound));
}

#[test]
fn n2_linux_abstract_names_serve_and_leave_no_file() {
    let name = format!("\0switchboard-n2-{}", std::process::id());
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let server = echo_unix_server(&l, Path::new(&name), &slog).await;
        let want = Address::Abstract(name.as_bytes()[1..].to_vec());
        assert_eq!(server.addresses(), vec![want.clone()]);
        let p = RecordingProtocol::new();
        let log = p.log();
        let conn = l
            .create_unix_connection::<_, NoMessage>(move || p)
            .path(&name)
            .await
            .expect("connect by abstract name");
        assert_eq!(conn.transport.peername(), Some(want));
        conn.transport.write(b"abstract").unwrap();
        until(&l, || &log.data()[..] == b"abstract").await;
        conn.transport.close();
        server.close();
    });
}

#[test]
fn n3_close_removes_the_socket_file_it_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "n3.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let server = echo_unix_server(&l, &path, &EventLog::new()).await;
        assert!(is_socket(&path));
        server.close();
        assert!(!path.exists(), "removed on close");
        server.close();
    });
}

#[test]
fn n3_cleanup_socket_false_keeps_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "kept.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let p = path.clone();
    run_with_deadline(&lp, async move {
        let server = l
            .create_unix_server::<_, NoMessage>(RecordingProtocol::new)
            .path(&p)
            .cleanup_socket(false)
            .await
            .expect("bind");
        server.close();
    });
    assert!(is_socket(&path), "cleanup_socket(false) keeps it");
}

#[test]
fn n3_a_replaced_or_vanished_file_is_left_alone_without_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "replaced.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let p = path.clone();
    run_with_deadline(&lp, async move {
        // Replaced by another socket: that one stays.
        let server = echo_unix_server(&l, &p, &EventLog::new()).await;
        std::fs::remove_file(&p).expect("remove");
        let other = UnixListener::bind(&p).expect("another server at the path");
        server.close();
        assert!(is_socket(&p), "the other server's file stays");
        drop(other);
        std::fs::remove_file(&p).expect("remove");
        // Gone already: nothing to do, nothing reported.
        let server = echo_unix_server(&l, &p, &EventLog::new()).await;
        std::fs::remove_file(&p).expect("remove");
        server.close();
        assert!(!p.exists());
    });
}

#[test]
fn n3_a_server_on_a_given_sock_removes_its_file_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "given.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let p = path.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let lg = slog.clone();
        let server = l
            .create_unix_server::<_, NoMessage>(move || RecordingProtocol::with_log(lg.clone()))
            .sock(listener)
            .await
            .expect("serve on the given socket");
        assert_eq!(server.addresses(), vec![Address::Unix(p.clone())]);
        let _peer = UnixStream::connect(&p).expect("connect");
        until(&l, || made(&slog) == 1).await;
        server.close();
        server.close_clients();
    });
    assert!(!path.exists());
}

#[test]
fn n1_start_serving_false_refuses_until_started_and_backlog_is_taken() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "later.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let slog = EventLog::new();
        let lg = slog.clone();
        let server = l
            .create_unix_server::<_, NoMessage>(move || RecordingProtocol::with_log(lg.clone()))
            .path(&path)
            .backlog(5)
            .start_serving(false)
            .await
            .expect("bind");
        assert!(!server.is_serving());
        let refused = UnixStream::connect(&path).expect_err("bound, not listening");
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
        server.start_serving();
        assert!(server.is_serving());
        let _peer = UnixStream::connect(&path).expect("listening now");
        until(&l, || made(&slog) == 1).await;
        server.close();
        server.close_clients();
        until(&l, || slog.lost_count() == 1).await;
        assert!(!path.exists());
    });
}

#[test]
fn n4_path_and_sock_together_or_neither_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "n4.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let listener = UnixListener::bind(&path).expect("bind");
        let both = l
            .create_unix_server::<_, NoMessage>(RecordingProtocol::new)
            .path(&path)
            .sock(listener)
            .await;
        assert!(matches!(both, Err(NetError::InvalidArgs(_))), "{both:?}");
        let neither = l
            .create_unix_server::<_, NoMessage>(RecordingProtocol::new)
            .await;
        assert!(
            matches!(neither, Err(NetError::InvalidArgs(_))),
            "{neither:?}"
        );
        let (a, _b) = UnixStream::pair().expect("pair");
        let both = l
            .create_unix_connection::<_, NoMessage>(RecordingProtocol::new)
            .path(&path)
            .sock(a)
            .await;
        assert!(matches!(both, Err(NetError::InvalidArgs(_))), "{both:?}");
        let neither = l
            .create_unix_connection::<_, NoMessage>(RecordingProtocol::new)
            .await;
        assert!(
            matches!(neither, Err(NetError::InvalidArgs(_))),
            "{neither:?}"
        );
    });
}

#[test]
fn n1_a_connected_sock_becomes_a_transport() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (a, mut b) = UnixStream::pair().expect("pair");
        let p = RecordingProtocol::new().echo(true);
        let log = p.log();
        let conn = l
            .create_unix_connection::<_, NoMessage>(move || p)
            .sock(a)
            .await
            .expect("adopt");
        assert_eq!(conn.transport.peername(), Some(Address::Unnamed));
        b.write_all(b"pair").expect("write");
        until(&l, || &log.data()[..] == b"pair").await;
        conn.transport.close();
        until(&l, || log.lost_count() == 1).await;
        let mut got = Vec::new();
        b.read_to_end(&mut got).expect("read");
        assert_eq!(got, b"pair");
    });
}

const PY_UNIX_CLIENT: &str = r#"
import asyncio, sys

async def main(path):
    reader, writer = await asyncio.open_unix_connection(path)
    msg = b"unix " * 20000
    writer.write(msg)
    writer.write_eof()
    got = await asyncio.wait_for(reader.read(), 10)
    assert got == msg, len(got)
    writer.close()
    await writer.wait_closed()
    print("OK", len(got), flush=True)

asyncio.run(main(sys.argv[1]))
"#;

#[test]
fn n1_asyncio_unix_client_against_a_switchboard_unix_echo_server() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "py.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let slog = EventLog::new();
    let lg = slog.clone();
    let p = path.clone();
    let server = run_with_deadline(&lp, async move { echo_unix_server(&l, &p, &lg).await });
    let child = Command::new("python3")
        .args(["-c", PY_UNIX_CLIENT, path.to_str().expect("utf-8 path")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let l = lp.clone();
    let lg = slog.clone();
    run_with_deadline(&lp, async move {
        until(&l, || lg.lost_count() == 1).await;
        server.close();
    });
    let out = child.wait_with_output().expect("python3 output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "OK 100000");
    check_stream_grammar(&slog.snapshot()).expect("server grammar");
}

const PY_UNIX_SERVER: &str = r#"
import asyncio, sys

class Echo(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t
    def data_received(self, data):
        self.t.write(data)
    def eof_received(self):
        self.t.close()
    def connection_lost(self, exc):
        done.set_result(exc)

async def main(path):
    global done
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    server = await loop.create_unix_server(Echo, path)
    print("LISTENING", flush=True)
    exc = await asyncio.wait_for(done, 10)
    server.close()
    await server.wait_closed()
    print("DONE", exc, flush=True)

asyncio.run(main(sys.argv[1]))
"#;

#[test]
fn n1_switchboard_unix_client_against_an_asyncio_unix_echo_server() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "pyserver.sock");
    let mut child = Command::new("python3")
        .args(["-c", PY_UNIX_SERVER, path.to_str().expect("utf-8 path")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("the server says it listens");
    assert_eq!(line.trim(), "LISTENING");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 239) as u8).collect();
    let s2 = sent.clone();
    let log = run_with_deadline(&lp, async move {
        let p = RecordingProtocol::new();
        let log = p.log();
        let conn = l
            .create_unix_connection::<_, NoMessage>(move || p)
            .path(&path)
            .await
            .expect("connect to asyncio");
        conn.transport.write(&s2).unwrap();
        conn.transport.write_eof().unwrap();
        until(&l, || log.lost_count() == 1).await;
        log
    });
    assert_eq!(&log.data()[..], &sent[..]);
    check_stream_grammar(&log.snapshot()).expect("grammar");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("rest");
    assert!(child.wait().expect("exit").success());
    assert_eq!(rest.trim(), "DONE None");
}

/// N4's "a failed bind closes the socket": binds that fail after the socket
/// was made leave no descriptor behind. Run alone: other tests' descriptors
/// would make the count meaningless.
#[test]
fn n4_a_failed_bind_closes_its_socket() {
    if !support::net::is_alone_child() {
        return support::net::run_alone("n4_a_failed_bind_closes_its_socket", "N4-CHILD-OK");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-dir").join("x.sock");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        // Warm up whatever the loop opens once (its poller, a resolver).
        let (server, _) = support::net::serve::<_, NoMessage>(&l, RecordingProtocol::new).await;
        server.close();
        let before = support::net::open_fds();
        for _ in 0..20 {
            let r = l
                .create_unix_server::<_, NoMessage>(RecordingProtocol::new)
                .path(&missing)
                .await;
            assert!(r.is_err(), "bound a path in a missing directory");
            let r = l
                .create_server::<_, NoMessage>(RecordingProtocol::new)
                .host("127.0.0.1")
                .port(port)
                .await;
            assert!(r.is_err(), "bound a port in use");
        }
        support::turns(4).await;
        assert_eq!(
            support::net::open_fds(),
            before,
            "a failed bind left fds open"
        );
    });
    drop(taken);
    println!("N4-CHILD-OK");
}
