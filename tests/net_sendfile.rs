//! Transferring files: `loop.sendfile` over a stream transport and
//! `loop.sock_sendfile` over a socket, native and with the fallback.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#transferring-files>
//!
//! Ids refer to the behaviour catalogue (`docs/behavior.md`): F1–F6.

mod support;

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Seek, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

use socket2::{Domain, Socket, Type};
use switchboard::testing::{EventLog, RecordingProtocol};
use switchboard::{Address, EventLoop, NoMessage, SendfileError, TransportHandle};

use support::net::until;
use support::tools::have_python;
use support::{new_loop, run_with_deadline};

/// A temporary file holding `data`, opened for reading.
fn file_with(data: &[u8]) -> File {
    let mut f = tempfile::tempfile().expect("tempfile");
    f.write_all(data).expect("write");
    f.rewind().expect("rewind");
    f
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 253) as u8).collect()
}

/// A loopback server that records what it receives, and a client transport.
async fn pair(lp: &EventLoop) -> (switchboard::Server, TransportHandle, EventLog) {
    let log = EventLog::new();
    let lg = log.clone();
    let server = lp
        .create_server::<_, NoMessage>(move || RecordingProtocol::with_log(lg.clone()))
        .host("127.0.0.1")
        .port(0)
        .await
        .expect("bind");
    let port = server.sockets()[0].port();
    let conn = lp
        .create_connection::<_, NoMessage>(RecordingProtocol::new)
        .host("127.0.0.1")
        .port(port)
        .await
        .expect("connect");
    (server, conn.transport, log)
}

#[test]
fn f1_returns_the_count_sends_the_slice_and_moves_the_file_position() {
    for native in [true, false] {
        let (lp, _h) = new_loop();
        let l = lp.clone();
        run_with_deadline(&lp, async move {
            let (server, t, log) = pair(&l).await;
            let data = pattern(2000);
            let mut f = file_with(&data);
            f.seek(std::io::SeekFrom::Start(1500)).expect("seek");
            let sent = l
                .sendfile(&t, &mut f)
                .offset(1000)
                .count(100)
                .native(native)
                .await
                .expect("sendfile");
            assert_eq!(sent, 100);
            assert_eq!(f.stream_position().expect("tell"), 1100);
            until(&l, || log.data().len() == 100).await;
            assert_eq!(&log.data()[..], &data[1000..1100]);
            // The default offset is 0, not the file's position.
            let sent = l.sendfile(&t, &mut f).native(native).await.expect("whole");
            assert_eq!(sent, 2000);
            assert_eq!(f.stream_position().expect("tell"), 2000);
            until(&l, || log.data().len() == 2100).await;
            assert_eq!(&log.data()[100..], &data[..]);
            // An empty file sends nothing.
            let mut empty = file_with(b"");
            assert_eq!(
                l.sendfile(&t, &mut empty)
                    .native(native)
                    .await
                    .expect("empty"),
                0
            );
            t.close();
            server.close();
        });
    }
}

#[test]
fn f2_writes_before_and_after_keep_their_order() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, t, log) = pair(&l).await;
        let data = pattern(3 * 1024 * 1024);
        let mut f = file_with(&data);
        t.write(b"PREFIX").unwrap();
        l.sendfile(&t, &mut f).await.expect("sendfile");
        t.write(b"SUFFIX").unwrap();
        let total = data.len() + 12;
        until(&l, || log.data().len() == total).await;
        let got = log.data();
        assert_eq!(&got[..6], b"PREFIX");
        assert!(got[6..total - 6] == data[..]);
        assert_eq!(&got[total - 6..], b"SUFFIX");
        t.close();
        server.close();
    });
}

#[test]
fn f3_no_fallback_when_the_os_cannot_gives_not_available_and_sends_nothing() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, t, log) = pair(&l).await;
        // sendfile(2) reads only from files it can map: a pipe is refused.
        let (r, w) = nix::unistd::pipe().expect("pipe");
        let mut writer = File::from(w);
        writer.write_all(b"through a pipe").expect("write");
        drop(writer);
        let mut pipe = File::from(r);
        let err = l
            .sendfile(&t, &mut pipe)
            .fallback(false)
            .await
            .expect_err("not available");
        assert!(matches!(err, SendfileError::NotAvailable { .. }), "{err:?}");
        support::turns(5).await;
        assert!(log.data().is_empty(), "nothing was sent");
        t.close();
        server.close();
    });
}

#[test]
fn f4_a_closing_transport_is_refused_and_f6_count_zero_is_invalid() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, t, _log) = pair(&l).await;
        let mut f = file_with(b"data");
        let err = l.sendfile(&t, &mut f).count(0).await.expect_err("count 0");
        assert!(matches!(err, SendfileError::InvalidCount), "{err:?}");
        t.close();
        let err = l.sendfile(&t, &mut f).await.expect_err("closing");
        assert!(matches!(err, SendfileError::TransportClosing), "{err:?}");
        assert_eq!(f.stream_position().expect("tell"), 0);
        server.close();
    });
}

#[test]
fn f4_writes_while_a_native_sendfile_runs_are_refused() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let _ = wait.recv();
            let mut got = Vec::new();
            s.read_to_end(&mut got).expect("read");
            got.len()
        });
        let conn = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        let len = 32 * 1024 * 1024;
        let t = conn.transport.clone();
        let l2 = l.clone();
        let task = l
            .create_task(async move {
                let mut f = file_with(&vec![2u8; len]);
                l2.sendfile(&t, &mut f).await
            })
            .expect("task");
        // The peer reads nothing yet: the sendfile is stuck in the middle.
        support::turns(20).await;
        // Refused at once, as the transport's own `write` refuses it.
        assert_eq!(
            conn.transport.write(b"intruder"),
            Err(switchboard::WriteError::SendfileInProgress)
        );
        support::turns(2).await;
        assert!(h.take().is_empty());
        go.send(()).expect("go");
        assert_eq!(task.await.expect("sendfile") as usize, len);
        conn.transport.close();
        until(&l, || conn.transport.is_lost()).await;
        assert_eq!(
            peer.join().expect("peer"),
            len,
            "the refused write never went out"
        );
    });
}

#[test]
fn f3_the_fallback_respects_the_transports_flow_control() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let peer = support::net::slow_peer();
        let conn = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(peer.port)
            .await
            .expect("connect");
        let len = 16 * 1024 * 1024;
        let t = conn.transport.clone();
        let l2 = l.clone();
        let task = l
            .create_task(async move {
                let mut f = file_with(&pattern(len));
                l2.sendfile(&t, &mut f).native(false).await
            })
            .expect("task");
        // The peer reads nothing: the fallback must stop at the high-water
        // mark instead of queueing the whole file.
        let mut most = 0;
        for _ in 0..50 {
            support::turns(1).await;
            most = most.max(conn.transport.get_write_buffer_size());
        }
        assert!(!task.done(), "a peer that reads nothing cannot take 16 MiB");
        // High-water mark (64 KiB) plus at most one 256 KiB chunk.
        assert!(most <= 64 * 1024 + 256 * 1024, "buffer grew to {most}");
        peer.go.send(()).expect("go");
        assert_eq!(task.await.expect("sendfile") as usize, len);
        conn.transport.close();
        until(&l, || conn.transport.is_lost()).await;
        let got = peer.done.join().expect("peer");
        assert!(got == pattern(len), "the peer got the file");
    });
}

#[test]
fn f5_fault_26_a_peer_that_closes_mid_transfer_fails_it_and_the_position_tells_what_went() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = vec![0u8; 64 * 1024];
            s.read_exact(&mut buf).expect("read some");
            // Closing with unread data sends a reset.
        });
        let conn = l
            .create_connection::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        let len = 64 * 1024 * 1024;
        let mut f = file_with(&vec![1u8; len]);
        let err = l
            .sendfile(&conn.transport, &mut f)
            .await
            .expect_err("peer gone");
        peer.join().expect("peer");
        let kind = err.io_kind();
        assert!(
            matches!(
                kind,
                Some(ErrorKind::BrokenPipe | ErrorKind::ConnectionReset)
            ),
            "{err:?}"
        );
        let SendfileError::Io { sent, .. } = err else {
            unreachable!()
        };
        assert!(sent >= 64 * 1024 && (sent as usize) < len, "{sent}");
        assert_eq!(f.stream_position().expect("tell"), sent);
        conn.transport.abort();
    });
}

#[test]
fn sock_sendfile_mixes_with_sock_sendall_in_order() {
    for native in [true, false] {
        let (lp, _h) = new_loop();
        let l = lp.clone();
        run_with_deadline(&lp, async move {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let at = listener.local_addr().expect("addr");
            let reader = std::thread::spawn(move || {
                let (mut s, _) = listener.accept().expect("accept");
                let mut got = Vec::new();
                s.read_to_end(&mut got).expect("read");
                // The second connection, the blocking one.
                drop(listener.accept());
                got
            });
            let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
            sock.set_nonblocking(true).expect("nb");
            l.sock_connect(&sock, &Address::Inet(at))
                .await
                .expect("connect");
            let data = pattern(5 * 1024 * 1024 + 17);
            let mut f = file_with(&data);
            l.sock_sendall(&sock, b"buf").await.expect("sendall");
            let sent = l
                .sock_sendfile(&sock, &mut f)
                .native(native)
                .await
                .expect("sock_sendfile");
            assert_eq!(sent as usize, data.len());
            l.sock_sendall(&sock, b"buf").await.expect("sendall");
            sock.shutdown(std::net::Shutdown::Write).expect("shutdown");
            let blocking = TcpStream::connect(at).expect("connect");
            let err = l
                .sock_sendfile(&blocking, &mut f)
                .await
                .expect_err("blocking");
            assert!(
                matches!(
                    err,
                    SendfileError::Sock(switchboard::SockError::Blocking { .. })
                ),
                "{err:?}"
            );
            let got = reader.join().expect("reader");
            assert_eq!(&got[..3], b"buf");
            assert!(got[3..3 + data.len()] == data[..]);
            assert_eq!(&got[3 + data.len()..], b"buf");
        });
    }
}

const PY_RECEIVER: &str = r#"
import asyncio, hashlib, sys

class Sink(asyncio.Protocol):
    def __init__(self):
        self.h, self.n = hashlib.sha256(), 0
    def data_received(self, data):
        self.h.update(data)
        self.n += len(data)
    def eof_received(self):
        print(self.n, self.h.hexdigest(), flush=True)
        done.set_result(None)

async def main():
    global done
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    server = await loop.create_server(Sink, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.wait_for(done, 60)
    server.close()

asyncio.run(main())
"#;

fn sha256_of(path: &std::path::Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
        ])
        .arg(path)
        .output()
        .expect("python3 hashlib");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn f1_f3_a_64_mib_file_reaches_an_asyncio_receiver_intact_native_and_fallback() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.bin");
    let len = 64 * 1024 * 1024 + 123;
    {
        let mut f = File::create(&path).expect("create");
        let block = pattern(1024 * 1024);
        let mut left = len;
        while left > 0 {
            let n = left.min(block.len());
            f.write_all(&block[..n]).expect("write");
            left -= n;
        }
    }
    let want = sha256_of(&path);
    for native in [true, false] {
        let mut child = Command::new("python3")
            .args(["-c", PY_RECEIVER])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("port");
        let port: u16 = line.trim().parse().expect("a port");
        let (lp, _h) = new_loop();
        let l = lp.clone();
        let p = path.clone();
        let sent = run_with_deadline(&lp, async move {
            let conn = l
                .create_connection::<_, NoMessage>(RecordingProtocol::new)
                .host("127.0.0.1")
                .port(port)
                .await
                .expect("connect");
            let mut f = File::open(&p).expect("open");
            let sent = l
                .sendfile(&conn.transport, &mut f)
                .native(native)
                .await
                .expect("sendfile");
            conn.transport.write_eof().unwrap();
            conn.transport.close();
            until(&l, || conn.transport.is_lost()).await;
            sent
        });
        assert_eq!(sent as usize, len);
        let mut rest = String::new();
        out.read_line(&mut rest).expect("summary");
        assert!(child.wait().expect("exit").success());
        assert_eq!(rest.trim(), format!("{len} {want}"), "native={native}");
    }
}
