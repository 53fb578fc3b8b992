//! TCP servers on several hosts: one listening socket per host (or per
//! address of a host), a host given twice bound once, no host as dual stack,
//! and the family filter.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#creating-network-servers>
//!
//! Ids refer to docs/behavior.md (V6).

mod support;

use std::net::TcpStream;

use switchboard::testing::{EventLog, RecordingProtocol};
use switchboard::{EventLoop, NetError, NoMessage};

use support::net::{made, refused, until};
use support::{new_loop, run_with_deadline};

/// Connects a recording client to `addr`, round-trips `msg` through an echo
/// server and closes.
async fn round_trip(lp: &EventLoop, addr: std::net::SocketAddr, msg: &'static [u8]) {
    let p = RecordingProtocol::new();
    let log = p.log();
    let conn = lp
        .create_connection::<_, NoMessage>(move || p)
        .host(addr.ip().to_string())
        .port(addr.port())
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    conn.transport.write(msg).unwrap();
    until(lp, || &log.data()[..] == msg).await;
    conn.transport.close();
    until(lp, || log.lost_count() == 1).await;
}

fn ipv6_loopback_available() -> bool {
    let ok = std::net::TcpListener::bind("[::1]:0").is_ok();
    if !ok {
        eprintln!("note: ::1 is not available here; skipping the IPv6 part");
    }
    ok
}

#[test]
fn v6_several_hosts_bind_one_socket_each_and_all_serve() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let server = l
            .create_server::<_, NoMessage>(move || {
                RecordingProtocol::with_log(lg.clone()).echo(true)
            })
            .hosts(["127.0.0.1", "127.0.0.2"])
            .port(0)
            .await
            .expect("bind both");
        let socks = server.sockets();
        let ips: Vec<String> = socks.iter().map(|a| a.ip().to_string()).collect();
        assert_eq!(ips, ["127.0.0.1", "127.0.0.2"]);
        assert_eq!(server.filenos().len(), 2);
        for a in &socks {
            round_trip(&l, *a, b"multi-host").await;
        }
        until(&l, || made(&log) == 2 && log.lost_count() == 2).await;
        server.close();
        for a in &socks {
            assert!(TcpStream::connect(a).is_err(), "{a} closed with the server");
        }
    });
}

#[test]
fn v6_a_host_given_twice_is_bound_once() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let server = l
            .create_server::<_, NoMessage>(move || {
                RecordingProtocol::with_log(lg.clone()).echo(true)
            })
            .hosts(["127.0.0.1", "127.0.0.1"])
            .port(0)
            .await
            .expect("a duplicate is not a second bind (no EADDRINUSE)");
        assert_eq!(server.sockets().len(), 1);
        round_trip(&l, server.sockets()[0], b"once").await;
        server.close();
    });
}

#[test]
fn v6_no_host_is_dual_stack_with_v6only() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let v6 = ipv6_loopback_available();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let server = l
            .create_server::<_, NoMessage>(move || {
                RecordingProtocol::with_log(lg.clone()).echo(true)
            })
            .port(0)
            .await
            .expect("bind every interface");
        let socks = server.sockets();
        let v4 = socks
            .iter()
            .find(|a| a.is_ipv4())
            .copied()
            .expect("an IPv4 socket");
        assert!(v4.ip().is_unspecified(), "{v4}");
        round_trip(&l, (std::net::Ipv4Addr::LOCALHOST, v4.port()).into(), b"v4").await;
        if v6 {
            assert_eq!(socks.len(), 2, "{socks:?}");
            let s6 = socks
                .iter()
                .find(|a| a.is_ipv6())
                .copied()
                .expect("an IPv6 socket");
            assert!(s6.ip().is_unspecified(), "{s6}");
            round_trip(&l, (std::net::Ipv6Addr::LOCALHOST, s6.port()).into(), b"v6").await;
            // V6ONLY: the IPv6 socket takes no IPv4 connection (its own port
            // is free on IPv4 unless the IPv4 socket happens to hold it).
            if s6.port() != v4.port() {
                assert!(
                    refused(s6.port()),
                    "the IPv6 socket accepted IPv4: not V6ONLY"
                );
            }
        }
        server.close();
    });
}

#[test]
fn v6_family_filter_picks_the_sockets() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let v6 = ipv6_loopback_available();
    run_with_deadline(&lp, async move {
        let inet = l
            .create_server::<_, NoMessage>(|| RecordingProtocol::new().echo(true))
            .family(switchboard::Family::Inet)
            .port(0)
            .await
            .expect("IPv4 only");
        let socks = inet.sockets();
        assert_eq!(socks.len(), 1, "{socks:?}");
        assert!(socks[0].is_ipv4());
        round_trip(
            &l,
            (std::net::Ipv4Addr::LOCALHOST, socks[0].port()).into(),
            b"inet",
        )
        .await;
        inet.close();
        if v6 {
            let inet6 = l
                .create_server::<_, NoMessage>(|| RecordingProtocol::new().echo(true))
                .family(switchboard::Family::Inet6)
                .port(0)
                .await
                .expect("IPv6 only");
            let socks = inet6.sockets();
            assert_eq!(socks.len(), 1, "{socks:?}");
            assert!(socks[0].is_ipv6());
            round_trip(
                &l,
                (std::net::Ipv6Addr::LOCALHOST, socks[0].port()).into(),
                b"inet6",
            )
            .await;
            inet6.close();
        }
        // A filter no address passes is an error, not a server with no socket.
        let err = l
            .create_server::<_, NoMessage>(RecordingProtocol::new)
            .host("127.0.0.1")
            .family(switchboard::Family::Inet6)
            .port(0)
            .await
            .expect_err("127.0.0.1 is not IPv6");
        assert!(matches!(err, NetError::NoAddress { .. }), "{err:?}");
    });
}
