//! DNS: `getaddrinfo` and `getnameinfo` with family, type, protocol and
//! flags, resolved on the executor. Only numeric addresses and `localhost`
//! (from `/etc/hosts`): no test needs a network.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#dns>

mod support;

use std::io::ErrorKind;
use std::net::SocketAddr;

use switchboard::{AddrInfoFlags, Family, NameInfoFlags, NetError, SockType};

use support::{new_loop, run_with_deadline};

#[test]
fn getaddrinfo_filters_by_family_type_and_protocol() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let addrs = l.getaddrinfo("127.0.0.1", 8888).await.expect("numeric");
        assert_eq!(
            addrs,
            vec!["127.0.0.1:8888".parse::<SocketAddr>().expect("addr")]
        );
        let stream = l
            .getaddrinfo("localhost", 80)
            .family(Family::Inet)
            .socktype(SockType::Stream)
            .entries()
            .await
            .expect("localhost");
        assert!(!stream.is_empty());
        for e in &stream {
            assert_eq!(
                (e.family, e.socktype, e.protocol),
                (Family::Inet, SockType::Stream, 6)
            );
            assert!(e.addr.ip().is_loopback() && e.addr.port() == 80, "{e:?}");
        }
        let udp = l
            .getaddrinfo("127.0.0.1", 53)
            .protocol(17)
            .entries()
            .await
            .expect("udp");
        assert!(
            udp.iter()
                .all(|e| e.socktype == SockType::Datagram && e.protocol == 17),
            "{udp:?}"
        );
        // Unfiltered, one address comes once per type: deduplicated here.
        let all = l
            .getaddrinfo("127.0.0.1", 1)
            .flags(AddrInfoFlags::NUMERICHOST)
            .await
            .expect("all");
        assert_eq!(all.len(), 1);
    });
}

#[test]
fn getaddrinfo_flags_passive_canonname_and_numerichost() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let wild = l
            .getaddrinfo("", 9999)
            .family(Family::Inet)
            .flags(AddrInfoFlags::PASSIVE)
            .await
            .expect("passive");
        assert_eq!(
            wild,
            vec!["0.0.0.0:9999".parse::<SocketAddr>().expect("addr")]
        );
        let named = l
            .getaddrinfo("localhost", 1)
            .family(Family::Inet)
            .flags(AddrInfoFlags::CANONNAME)
            .entries()
            .await
            .expect("canonname");
        assert!(named[0].canonname.is_some(), "{named:?}");
        let err = l
            .getaddrinfo("localhost", 1)
            .flags(AddrInfoFlags::NUMERICHOST | AddrInfoFlags::NUMERICSERV)
            .await
            .expect_err("a name is not numeric");
        assert!(matches!(err, NetError::Resolve { .. }), "{err:?}");
        assert_eq!(err.io_kind(), Some(ErrorKind::NotFound));
    });
}

#[test]
fn getnameinfo_gives_host_and_service() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let addr: SocketAddr = "127.0.0.1:80".parse().expect("addr");
        let numeric = l
            .getnameinfo(addr)
            .flags(NameInfoFlags::NUMERICHOST | NameInfoFlags::NUMERICSERV)
            .await
            .expect("numeric");
        assert_eq!(numeric, ("127.0.0.1".to_string(), "80".to_string()));
        let (host, _) = l
            .getnameinfo(addr)
            .flags(NameInfoFlags::NUMERICSERV | NameInfoFlags::NAMEREQD)
            .await
            .expect("127.0.0.1 has a name in /etc/hosts");
        assert!(!host.is_empty() && host != "127.0.0.1", "{host}");
        let v6: SocketAddr = "[::1]:8080".parse().expect("addr");
        let (host, port) = l
            .getnameinfo(v6)
            .flags(NameInfoFlags::NUMERICHOST | NameInfoFlags::NUMERICSERV)
            .await
            .expect("v6");
        assert_eq!((host.as_str(), port.as_str()), ("::1", "8080"));
    });
}
