//! The loop's low-level socket methods over sockets the test owns.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#working-with-socket-objects-directly>

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};

use socket2::{Domain, Socket, Type};
use switchboard::{Address, NoMessage, SockError};

use support::{new_loop, run_with_deadline};

fn nonblocking_tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let (b, _) = l.accept().expect("accept");
    a.set_nonblocking(true).expect("nb");
    b.set_nonblocking(true).expect("nb");
    (a, b)
}

#[test]
fn sock_sendall_and_sock_recv_move_a_large_payload_waiting_both_ways() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (a, b) = nonblocking_tcp_pair();
        let payload: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let want = payload.clone();
        let l2 = l.clone();
        // The sender fills the socket buffers and must wait for room.
        let sender = l
            .create_task(async move {
                l2.sock_sendall(&a, &payload).await.expect("sendall");
                a.shutdown(std::net::Shutdown::Write).expect("shutdown");
                a
            })
            .expect("task");
        let mut got = Vec::new();
        loop {
            let chunk = l.sock_recv(&b, 65536).await.expect("recv");
            if chunk.is_empty() {
                break;
            }
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got.len(), want.len());
        assert!(got == want);
        drop(sender.await);
        // recv_into at EOF gives 0.
        let mut buf = [0u8; 8];
        assert_eq!(l.sock_recv_into(&b, &mut buf).await.expect("recv_into"), 0);
    });
}

#[test]
fn sock_sendto_and_sock_recvfrom_keep_datagrams_and_senders() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let a = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let b = UdpSocket::bind("127.0.0.1:0").expect("bind");
        a.set_nonblocking(true).expect("nb");
        b.set_nonblocking(true).expect("nb");
        let (aa, ba) = (a.local_addr().expect("addr"), b.local_addr().expect("addr"));
        let l2 = l.clone();
        let receiver = l
            .create_task(async move {
                let first = l2.sock_recvfrom(&b, 100).await.expect("recvfrom");
                let mut buf = [0u8; 100];
                let (n, from) = l2
                    .sock_recvfrom_into(&b, &mut buf)
                    .await
                    .expect("recvfrom_into");
                (first, buf[..n].to_vec(), from)
            })
            .expect("task");
        let to = Address::Inet(ba);
        assert_eq!(l.sock_sendto(&a, b"one", &to).await.expect("sendto"), 3);
        assert_eq!(l.sock_sendto(&a, b"two!", &to).await.expect("sendto"), 4);
        let ((d1, f1), d2, f2) = receiver.await;
        assert_eq!((&d1[..], f1), (&b"one"[..], Address::Inet(aa)));
        assert_eq!((&d2[..], f2), (&b"two!"[..], Address::Inet(aa)));
    });
}

#[test]
fn sock_connect_and_sock_accept_complete_without_blocking() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nb");
        let at: SocketAddr = listener.local_addr().expect("addr");
        let l2 = l.clone();
        let acceptor = l
            .create_task(async move { l2.sock_accept(&listener).await.expect("accept") })
            .expect("task");
        let client = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        client.set_nonblocking(true).expect("nb");
        l.sock_connect(&client, &Address::Inet(at))
            .await
            .expect("connect");
        let (conn, peer) = acceptor.await;
        let conn = TcpStream::from(conn);
        assert_eq!(
            peer,
            Address::Inet(
                client
                    .local_addr()
                    .expect("addr")
                    .as_socket()
                    .expect("inet")
            )
        );
        l.sock_sendall(&conn, b"hello").await.expect("sendall");
        assert_eq!(&l.sock_recv(&client, 10).await.expect("recv")[..], b"hello");

        // A host name is resolved first.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let named = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        named.set_nonblocking(true).expect("nb");
        l.sock_connect_host(&named, "localhost", port)
            .await
            .expect("connect by name");

        // A refused connect is an error.
        let dead = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        let refused = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        refused.set_nonblocking(true).expect("nb");
        let err = l
            .sock_connect(&refused, &Address::Inet(dead))
            .await
            .expect_err("refused");
        assert_eq!(err.io_kind(), Some(ErrorKind::ConnectionRefused), "{err:?}");
    });
}

#[test]
fn sock_methods_work_on_unix_sockets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sock.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let listener = UnixListener::bind(&path).expect("bind");
        listener.set_nonblocking(true).expect("nb");
        let client = Socket::new(Domain::UNIX, Type::STREAM, None).expect("socket");
        client.set_nonblocking(true).expect("nb");
        l.sock_connect(&client, &Address::Unix(path.clone()))
            .await
            .expect("connect");
        let (conn, peer) = l.sock_accept(&listener).await.expect("accept");
        assert_eq!(peer, Address::Unnamed);
        let mut conn = UnixStream::from(conn);
        conn.write_all(b"unix").expect("write");
        assert_eq!(&l.sock_recv(&client, 10).await.expect("recv")[..], b"unix");
        l.sock_sendall(&client, b"back").await.expect("sendall");
        let mut buf = [0u8; 4];
        conn.set_nonblocking(false).expect("blocking for the check");
        conn.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"back");
    });
}

#[test]
fn a_blocking_socket_and_a_transport_socket_are_refused() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (a, _b) = UnixStream::pair().expect("pair");
        let err = l.sock_recv(&a, 10).await.expect_err("blocking");
        assert!(matches!(err, SockError::Blocking { .. }), "{err:?}");
        let err = l.sock_sendall(&a, b"x").await.expect_err("blocking");
        assert!(matches!(err, SockError::Blocking { .. }), "{err:?}");

        let (c, d) = UnixStream::pair().expect("pair");
        let conn = l
            .create_unix_connection::<_, NoMessage>(switchboard::testing::RecordingProtocol::new)
            .sock(c)
            .await
            .expect("adopt");
        let fd = conn.transport.fileno().expect("open");
        // The transport's socket, borrowed by number for the check only.
        // SAFETY: the transport keeps the descriptor open until close().
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let err = l.sock_recv(&borrowed, 10).await.expect_err("owned");
        assert!(matches!(err, SockError::OwnedByTransport { .. }), "{err:?}");
        conn.transport.close();
        drop(d);
    });
}
