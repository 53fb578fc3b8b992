//! Datagram endpoints: `create_datagram_endpoint`, `DatagramProtocol` and
//! `DatagramTransport` over UDP loopback and Unix datagram sockets.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.create_datagram_endpoint>
//! and <https://docs.python.org/3/library/asyncio-protocol.html#datagram-transports>.
//!
//! Ids refer to the behaviour catalogue (`docs/behavior.md`): U1–U6 and
//! fault scenarios 8, 9 and 23 (against CPython's asyncio:
//! `net_datagram_interop.rs`).

mod support;

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;

use switchboard::{Address, NetError, WriteError};

use support::datagram::{datagrams, dead_port, endpoint_at, errors, loopback, recorder, Rec};
use support::net::until;
use support::{new_loop, run_with_deadline, turns};

#[test]
fn u1_datagram_boundaries_are_kept_and_replies_reach_the_sender() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, slog, at) = endpoint_at(&l, loopback(), true).await;
        let (client, clog, caddr) = endpoint_at(&l, loopback(), false).await;
        let to = Address::Inet(at);
        client
            .transport
            .sendto(&b"xxx"[..], Some(&to))
            .expect("sendto");
        client
            .transport
            .sendto(&b"12345678"[..], Some(&to))
            .expect("sendto");
        until(&l, || datagrams(&clog).len() == 2).await;
        assert_eq!(
            datagrams(&clog),
            vec![b"resp:xxx".to_vec(), b"resp:12345678".to_vec()]
        );
        assert_eq!(
            datagrams(&slog),
            vec![b"xxx".to_vec(), b"12345678".to_vec()]
        );
        assert!(slog
            .borrow()
            .contains(&Rec::Datagram(b"xxx".to_vec(), Address::Inet(caddr))));
        assert!(clog
            .borrow()
            .contains(&Rec::Datagram(b"resp:xxx".to_vec(), to.clone())));
        client.transport.close();
        server.transport.close();
        assert!(server.transport.is_closing());
        until(&l, || {
            server.transport.is_lost() && client.transport.is_lost()
        })
        .await;
        assert_eq!(slog.borrow().first(), Some(&Rec::Made));
        assert_eq!(slog.borrow().last(), Some(&Rec::Lost(false)));
    });
}

#[test]
fn u2_a_connected_endpoint_sends_to_its_peer_and_refuses_another_address() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, slog, at) = endpoint_at(&l, loopback(), true).await;
        let (p, clog) = recorder(false);
        let client = l
            .create_datagram_endpoint(move || p)
            .remote_addr(at)
            .await
            .expect("connect udp");
        assert_eq!(client.transport.peername(), Some(Address::Inet(at)));
        client
            .transport
            .sendto(&b"to peer"[..], None)
            .expect("no address: the peer");
        client
            .transport
            .sendto(&b"same"[..], Some(&Address::Inet(at)))
            .expect("the peer's own address");
        let other = Address::Inet("127.0.0.1:9".parse().expect("address"));
        let refused = client.transport.sendto(&b"elsewhere"[..], Some(&other));
        assert!(
            matches!(refused, Err(WriteError::InvalidAddress { .. })),
            "{refused:?}"
        );
        until(&l, || datagrams(&clog).len() == 2).await;
        assert_eq!(
            datagrams(&slog),
            vec![b"to peer".to_vec(), b"same".to_vec()]
        );
        // Unconnected, an address is needed.
        let none = server.transport.sendto(&b"where?"[..], None);
        assert!(
            matches!(none, Err(WriteError::InvalidAddress { .. })),
            "{none:?}"
        );
        client.transport.close();
        server.transport.close();
    });
}

#[test]
fn u3_fault_9_icmp_port_unreachable_on_a_connected_endpoint_is_not_fatal() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let dead = dead_port();
        let (p, log) = recorder(false);
        let ep = l
            .create_datagram_endpoint(move || p)
            .remote_addr(dead)
            .await
            .expect("connect udp");
        ep.transport.sendto(&b"anyone?"[..], None).expect("sendto");
        until(&l, || !errors(&log).is_empty()).await;
        assert_eq!(errors(&log)[0].0, ErrorKind::ConnectionRefused);
        assert!(!ep.transport.is_closing(), "ErrorReceived is not fatal");
        // Once per failed send.
        ep.transport.sendto(&b"again?"[..], None).expect("sendto");
        until(&l, || errors(&log).len() == 2).await;
        // The endpoint goes on receiving once a peer is there.
        let peer = UdpSocket::bind(dead).expect("rebind the port");
        let me = ep
            .transport
            .sockname()
            .and_then(|a| a.as_inet())
            .expect("inet");
        peer.send_to(b"alive", me).expect("send");
        until(&l, || datagrams(&log) == vec![b"alive".to_vec()]).await;
        assert_eq!(errors(&log).len(), 2);
        ep.transport.close();
        until(&l, || ep.transport.is_lost()).await;
        assert_eq!(log.borrow().last(), Some(&Rec::Lost(false)));
    });
}

#[test]
fn u3_fault_9_an_unconnected_endpoint_invents_no_error_and_keeps_receiving() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (ep, log, me) = endpoint_at(&l, loopback(), false).await;
        ep.transport
            .sendto(&b"void"[..], Some(&Address::Inet(dead_port())))
            .expect("sendto");
        let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
        peer.send_to(b"live", me).expect("send");
        until(&l, || datagrams(&log) == vec![b"live".to_vec()]).await;
        turns(5).await;
        assert!(errors(&log).is_empty(), "{:?}", log.borrow());
        ep.transport.close();
    });
}

#[test]
fn u4_fault_8_empty_datagrams_are_sent_and_oversized_ones_give_emsgsize() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (server, slog, at) = endpoint_at(&l, loopback(), false).await;
        let (client, clog, _) = endpoint_at(&l, loopback(), false).await;
        let to = Address::Inet(at);
        client.transport.sendto(&b""[..], Some(&to)).expect("empty");
        until(&l, || datagrams(&slog) == vec![Vec::<u8>::new()]).await;
        client
            .transport
            .sendto(vec![7u8; 70_000], Some(&to))
            .expect("too big");
        until(&l, || !errors(&clog).is_empty()).await;
        assert_eq!(
            errors(&clog),
            vec![(errors(&clog)[0].0, Some(nix::libc::EMSGSIZE))]
        );
        assert!(!client.transport.is_closing());
        client
            .transport
            .sendto(&b"after"[..], Some(&to))
            .expect("next");
        until(&l, || datagrams(&slog).len() == 2).await;
        // Nothing of the big one arrived, not even truncated.
        assert_eq!(datagrams(&slog), vec![Vec::new(), b"after".to_vec()]);
        client.transport.close();
        server.transport.close();
    });
}

/// A Unix datagram socketpair: the switchboard end and a peer that reads
/// nothing until the test drains it, so sends eventually get `EAGAIN`.
fn stuck_pair() -> (UnixDatagram, UnixDatagram) {
    let (a, b) = UnixDatagram::pair().expect("socketpair");
    b.set_nonblocking(true).expect("nonblocking");
    (a, b)
}

#[test]
fn u5_eagain_queues_whole_datagrams_in_order_with_flow_control_counted() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (mine, peer) = stuck_pair();
        let (p, log) = recorder(false);
        let ep = l
            .create_datagram_endpoint(move || p)
            .sock(mine)
            .max_write_buffer(None)
            .await
            .expect("adopt the socketpair end");
        assert_eq!(ep.transport.peername(), Some(Address::Unnamed));
        ep.transport.set_write_buffer_limits(Some(1000), Some(100));
        // Until the kernel pushes back and the buffer passes the mark.
        let mut sent = 0u32;
        while ep.transport.get_write_buffer_size() <= 1000 {
            ep.transport
                .sendto(sent.to_be_bytes().to_vec(), None)
                .expect("sendto");
            sent += 1;
            turns(1).await;
            assert!(sent < 100_000, "the kernel never pushed back");
        }
        turns(2).await;
        assert!(
            log.borrow().contains(&Rec::Pause),
            "{:?}",
            &log.borrow()[..2]
        );
        // Each queued 4-byte datagram counts 4 + 8 bytes.
        assert_eq!(ep.transport.get_write_buffer_size() % 12, 0);
        // Drain the peer: every datagram arrives whole, in order.
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        until(&l, || {
            while let Ok(n) = peer.recv(&mut buf) {
                assert_eq!(n, 4, "whole datagrams only");
                got.push(u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")));
            }
            got.len() == sent as usize
        })
        .await;
        assert_eq!(got, (0..sent).collect::<Vec<_>>());
        until(&l, || log.borrow().contains(&Rec::Resume)).await;
        assert_eq!(ep.transport.get_write_buffer_size(), 0);
        let flow: Vec<_> = log
            .borrow()
            .iter()
            .filter(|r| matches!(r, Rec::Pause | Rec::Resume))
            .cloned()
            .collect();
        assert_eq!(flow, vec![Rec::Pause, Rec::Resume]);
        ep.transport.close();
    });
}

#[test]
fn u5_the_write_buffer_is_bounded_by_default_and_a_full_one_drops_with_enobufs() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (mine, _peer) = stuck_pair();
        let (p, log) = recorder(false);
        let ep = l
            .create_datagram_endpoint(move || p)
            .sock(mine)
            .await
            .expect("adopt");
        let chunk = vec![1u8; 4096];
        for _ in 0..2000 {
            // 8 MiB in all: far past the 1 MiB default cap.
            ep.transport.sendto(chunk.clone(), None).expect("sendto");
        }
        until(&l, || {
            errors(&log).iter().any(|e| e.1 == Some(nix::libc::ENOBUFS))
        })
        .await;
        assert!(ep.transport.get_write_buffer_size() <= 1024 * 1024);
        assert!(!ep.transport.is_closing(), "a full buffer is not fatal");
        ep.transport.abort();
        until(&l, || ep.transport.is_lost()).await;
    });
}

#[test]
fn u6_unix_datagrams_work_with_unnamed_peers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dgram.sock");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (p, slog) = recorder(true);
        let server = l
            .create_datagram_endpoint(move || p)
            .local_addr(Address::Unix(path.clone()))
            .await
            .expect("bind unix datagram");
        assert_eq!(
            server.transport.sockname(),
            Some(Address::Unix(path.clone()))
        );
        // An unbound client: its address is unnamed, so no reply can reach it.
        let (p, clog) = recorder(false);
        let client = l
            .create_datagram_endpoint(move || p)
            .remote_addr(Address::Unix(path.clone()))
            .await
            .expect("connect unix datagram");
        client.transport.sendto(&b"hi"[..], None).expect("sendto");
        until(&l, || {
            !slog
                .borrow()
                .iter()
                .all(|r| !matches!(r, Rec::Datagram(..)))
        })
        .await;
        assert!(slog
            .borrow()
            .contains(&Rec::Datagram(b"hi".to_vec(), Address::Unnamed)));
        // The reply to an unnamed address fails with an error, not a panic.
        until(&l, || !errors(&slog).is_empty()).await;
        assert!(datagrams(&clog).is_empty(), "an unnamed peer gets no reply");
        client.transport.close();
        server.transport.close();
        until(&l, || {
            client.transport.is_lost() && server.transport.is_lost()
        })
        .await;
    });
}

/// U6's first half, checked where a wrongly sent datagram would land: the
/// receiver. The client closes while datagrams are still queued (the
/// receiver does not read), so a `close` that flushes has work to do when
/// the late `sendto` comes; the queued datagrams arrive, the late one does
/// not, and the drop is logged.
#[test]
fn u6_sendto_after_close_never_reaches_the_peer_and_is_logged() {
    support::logs::install();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("peer.sock");
    let peer = UnixDatagram::bind(&path).expect("bind the peer");
    peer.set_nonblocking(true).expect("nonblocking");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let (sent, received) = run_with_deadline(&lp, async move {
        let (p, _clog) = recorder(false);
        let client = l
            .create_datagram_endpoint(move || p)
            .remote_addr(Address::Unix(path.clone()))
            .await
            .expect("connect unix datagram");
        // Until the peer's queue is full and the transport holds some back.
        let mut sent = 0;
        loop {
            sent += 1;
            client
                .transport
                .sendto(vec![b'q'; 1024], None)
                .expect("sendto");
            turns(2).await;
            if client.transport.get_write_buffer_size() > 0 {
                break;
            }
            assert!(sent < 100_000, "the peer's queue never filled");
        }
        client.transport.close();
        client
            .transport
            .sendto(&b"late"[..], None)
            .expect("dropped, no error");
        // Read while the close flushes, until the transport is gone.
        let mut received = Vec::new();
        let mut buf = [0u8; 2048];
        let mut drain = |received: &mut Vec<Vec<u8>>| {
            while let Ok(n) = peer.recv(&mut buf) {
                received.push(buf[..n].to_vec());
            }
        };
        until(&l, || {
            drain(&mut received);
            client.transport.is_lost()
        })
        .await;
        drain(&mut received);
        (sent, received)
    });
    assert!(
        !received.iter().any(|d| d.as_slice() == b"late"),
        "a datagram sent after close reached the peer"
    );
    assert_eq!(
        received.len(),
        sent,
        "close flushes what was queued before it"
    );
    assert!(received.iter().all(|d| d == &vec![b'q'; 1024]));
    let logged = support::logs::take_mine();
    assert!(
        logged
            .iter()
            .any(|r| r.level == log::Level::Warn && r.message.contains("write() after close")),
        "no warning for the dropped datagram: {logged:?}"
    );
}

#[test]
fn u_reuse_address_true_is_refused_and_sock_excludes_other_options() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (p, _) = recorder(false);
        let r = l
            .create_datagram_endpoint(move || p)
            .local_addr(loopback())
            .reuse_address(true)
            .await;
        assert!(matches!(r, Err(NetError::ReuseAddressUnsupported)), "{r:?}");
        let (p, _) = recorder(false);
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let r = l
            .create_datagram_endpoint(move || p)
            .sock(sock)
            .local_addr(loopback())
            .await;
        assert!(matches!(r, Err(NetError::InvalidArgs(_))), "{r:?}");
        let (p, _) = recorder(false);
        let r = l.create_datagram_endpoint(move || p).await;
        assert!(
            matches!(r, Err(NetError::InvalidArgs(_))),
            "no address, no family: {r:?}"
        );
        // A given UDP socket is used as it is.
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let at = sock.local_addr().expect("addr");
        let (p, log) = recorder(false);
        let ep = l
            .create_datagram_endpoint(move || p)
            .sock(sock)
            .await
            .expect("adopt");
        assert_eq!(ep.transport.sockname(), Some(Address::Inet(at)));
        UdpSocket::bind("127.0.0.1:0")
            .expect("bind")
            .send_to(b"given", at)
            .expect("send");
        until(&l, || datagrams(&log) == vec![b"given".to_vec()]).await;
        ep.transport.close();
        // reuse_port lets two endpoints share a port.
        let (p, _) = recorder(false);
        let a = l
            .create_datagram_endpoint(move || p)
            .local_addr(loopback())
            .reuse_port(true)
            .allow_broadcast(true)
            .await
            .expect("first");
        let port = a
            .transport
            .sockname()
            .and_then(|a| a.as_inet())
            .expect("inet");
        let (p, _) = recorder(false);
        let b = l
            .create_datagram_endpoint(move || p)
            .local_addr(port)
            .reuse_port(true)
            .await
            .expect("second on the same port");
        a.transport.close();
        b.transport.close();
    });
}

#[test]
fn fault_23_spurious_readiness_does_nothing_and_the_endpoint_stays_registered() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (ep, log, me) = endpoint_at(&l, loopback(), false).await;
        let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
        for i in 0..3u8 {
            peer.send_to(&[i], me).expect("send");
            until(&l, || datagrams(&log).len() == usize::from(i) + 1).await;
            // Several turns with no datagram: reads that find EAGAIN add nothing.
            turns(3).await;
        }
        assert_eq!(datagrams(&log), vec![vec![0], vec![1], vec![2]]);
        assert!(errors(&log).is_empty());
        ep.transport.close();
    });
}
