//! The write side of a stream transport over loopback TCP: what a write, a
//! close or an abort does to the buffer and to the flow-control events, seen
//! from the protocol and from a `TransportHandle`.
//! <https://docs.python.org/3/library/asyncio-protocol.html#write-only-transports>
//!
//! Ids: W2, G5, fault scenarios 6 and 7, and issue 7's defects 4, 7 and 8.

mod support;

use switchboard::protocols::testing::{check_stream_grammar, EventLog, Recorded};
use switchboard::protocols::ProtocolError;

use support::net::{slow_peer, until};
use support::script::{script, On};
use support::{new_loop, run_with_deadline};

/// Far more than the default high-water mark (64 KiB) plus what the kernel
/// takes from a peer that reads nothing.
const OVER_HIGH: usize = 4 * 1024 * 1024;

#[test]
fn issue_7_defect_7_pause_raised_before_abort_is_dropped() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || {
                script::<()>(&lg, |on, t| {
                    if let On::Made = on {
                        t.write(&vec![1u8; OVER_HIGH])?;
                        assert!(t.get_write_buffer_size() > 65536, "crossed high");
                        t.abort();
                    }
                    Ok(())
                })
            })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        until(&l, || conn.transport.is_lost()).await;
        support::turns(5).await;
        // A transport that is dying with an empty buffer has nothing to pause.
        assert_eq!(
            log.snapshot(),
            vec![Recorded::ConnectionMade, Recorded::Lost(None)]
        );
    });
    drop(peer.go);
    peer.done.join().expect("peer");
}

#[test]
fn issue_7_defect_7_pause_raised_before_a_failing_handler_is_dropped() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    let peer = slow_peer();
    let port = peer.port;
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let lg = log.clone();
        let conn = l
            .create_connection(move || {
                script::<()>(&lg, |on, t| {
                    if let On::Message(()) = on {
                        t.write(&vec![1u8; OVER_HIGH])?;
                        return Err(ProtocolError::failed("fails after crossing high"));
                    }
                    Ok(())
                })
            })
            .host("127.0.0.1")
            .port(port)
            .await
            .expect("connect");
        conn.protocol.send(()).expect("the protocol is alive");
        until(&l, || conn.transport.is_lost()).await;
        support::turns(5).await;
        let events = log.snapshot();
        check_stream_grammar(&events).expect("grammar");
        assert_eq!(
            events,
            vec![
                Recorded::ConnectionMade,
                Recorded::Message("message".into()),
                Recorded::Lost(Some("protocol failed: fails after crossing high".into()))
            ]
        );
    });
    assert_eq!(
        h.take_one().message,
        "Fatal error: protocol.message() call failed."
    );
    drop(peer.go);
    peer.done.join().expect("peer");
}
