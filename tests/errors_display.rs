//! What an error says when it is printed: spawn, bind and connect errors
//! name the operand *and* the OS reason, as Python's `FileNotFoundError`,
//! `OSError: [Errno 98] ... address already in use` and
//! `ConnectionRefusedError` do, while `source()` still hands over the
//! `io::Error` itself.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#error-handling-api>
//!
//! Ids refer to docs/behavior.md (Z5).

mod support;

use std::io::ErrorKind;

use switchboard::prelude::*;
use switchboard::{NetError, SubprocessError};

use support::{new_loop, run_with_deadline};

/// A subprocess protocol that ignores every event.
struct Quiet;

impl SubprocessProtocol for Quiet {
    fn handle(
        &mut self,
        _ev: SubprocessEvent,
        _t: &mut dyn SubprocessTransport,
    ) -> Result<(), ProtocolError> {
        Ok(())
    }
}

/// The `io::Error` behind `err`, found by walking `source()`.
fn os_source<'a>(err: &'a (dyn std::error::Error + 'static)) -> &'a std::io::Error {
    let mut next = err.source();
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io;
        }
        next = e.source();
    }
    panic!("no io::Error behind {err:?}");
}

#[test]
fn z5_a_missing_program_says_why_it_cannot_be_spawned() {
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let err = run_with_deadline(&lp, async move {
        l.subprocess_exec(|| Quiet, "no-such-program-xyz", [""; 0])
            .await
            .expect_err("there is no such program")
    });
    assert!(matches!(err, SubprocessError::Spawn { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cannot spawn no-such-program-xyz: No such file or directory (os error 2)"
    );
    assert_eq!(os_source(&err).kind(), ErrorKind::NotFound);
    // Converted into the crate's one error type, it reads the same.
    let err = switchboard::Error::from(err);
    assert_eq!(
        err.to_string(),
        "cannot spawn no-such-program-xyz: No such file or directory (os error 2)"
    );
    assert_eq!(os_source(&err).kind(), ErrorKind::NotFound);
}

#[test]
fn z5_a_port_in_use_says_address_already_in_use() {
    let (lp, _h) = new_loop();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let l = lp.clone();
    let err = run_with_deadline(&lp, async move {
        l.create_server(|| switchboard::ready_made::Echo)
            .addr(addr)
            .reuse_address(false)
            .await
            .expect_err("the port is taken")
    });
    assert!(matches!(err, NetError::Bind { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!(
            "error while attempting to bind on address {addr}: "
        )),
        "{shown}"
    );
    assert!(shown.contains("Address already in use"), "{shown}");
    assert_eq!(os_source(&err).kind(), ErrorKind::AddrInUse);
    drop(taken);
}

#[test]
fn z5_a_refused_connect_says_connection_refused() {
    let (lp, _h) = new_loop();
    // A port that was free a moment ago: nothing listens on it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let l = lp.clone();
    let err = run_with_deadline(&lp, async move {
        l.create_connection(|| switchboard::ready_made::Echo)
            .host("127.0.0.1")
            .port(port)
            .await
            .expect_err("nobody listens")
    });
    assert!(matches!(err, NetError::Connect { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
        "{shown}"
    );
    assert!(shown.contains("Connection refused"), "{shown}");
    assert_eq!(os_source(&err).kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn z5_every_refused_address_is_listed_with_its_reason() {
    let (lp, _h) = new_loop();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let l = lp.clone();
    let err = run_with_deadline(&lp, async move {
        l.create_connection(|| switchboard::ready_made::Echo)
            .host("localhost")
            .port(port)
            .await
            .expect_err("nobody listens")
    });
    let shown = err.to_string();
    match &err {
        NetError::AllFailed { errors } => {
            for (addr, e) in errors {
                assert!(shown.contains(&format!("[{addr}] {e}")), "{shown}");
            }
        }
        // localhost resolved to one address only.
        NetError::Connect { .. } => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(shown.contains("Connection refused"), "{shown}");
}
