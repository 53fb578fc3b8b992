//! Servers that stop: `serve_forever` ends when the server is closed, live
//! connections or not.
//! <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.Server.serve_forever>
//!
//! Ids refer to docs/behavior.md (V5).

mod support;

use std::net::TcpStream;

use switchboard::testing::EventLog;

use support::net::{echo_server, until};
use support::{new_loop, run_with_deadline};

#[test]
fn v5_serve_forever_returns_at_close_with_an_idle_client_attached() {
    let (lp, h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let log = EventLog::new();
        let (server, port) = echo_server(&l, &log).await;
        let s2 = server.clone();
        let serving = l
            .create_task(async move { s2.serve_forever().await })
            .expect("task");
        // A client that connects and then says nothing.
        let idle = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        until(&l, || server.connection_count() == 1).await;
        server.close();
        // The README's SIGTERM pattern: close, and serve_forever returns.
        until(&l, || serving.done()).await;
        assert!(matches!(serving.await, Ok(())));
        // The connection itself lives on until it is closed, as in asyncio.
        assert_eq!(server.connection_count(), 1);
        server.close_clients();
        until(&l, || server.connection_count() == 0).await;
        server.wait_closed().await;
        drop(idle);
    });
    assert!(h.take().is_empty());
}
