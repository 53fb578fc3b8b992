//! Helpers of the streams tests: a client connection to a local port.
#![allow(dead_code)]

use switchboard::{EventLoop, StreamReader, StreamWriter};

/// `open_connection` to `127.0.0.1:port`, which must succeed.
pub async fn dial(lp: &EventLoop, port: u16) -> (StreamReader, StreamWriter) {
    lp.open_connection()
        .host("127.0.0.1")
        .port(port)
        .await
        .expect("connect to the test server")
}
