//! The streams examples against CPython's asyncio streams, both ways: the
//! `stream_echo_server` example with the docs' "TCP echo client using
//! streams", and the `stream_echo_client` example with the docs' "TCP echo
//! server using streams" (each sending one line, as the examples do).
//! <https://docs.python.org/3/library/asyncio-stream.html#examples>
//!
//! Ids refer to docs/behavior.md (HS9).

mod support;

use std::process::Command;

use support::child::Child;
use support::examples::run_example;
use support::stream_echo::{start_echo_server, stop_echo_server};
use support::tools::have_python;

/// asyncio's streams echo client, sending one line to `argv[1]`.
const PY_CLIENT: &str = r#"
import asyncio, sys

async def tcp_echo_client(message, port):
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    print(f'Send: {message!r}')
    writer.write(message.encode() + b'\n')
    await writer.drain()
    data = await asyncio.wait_for(reader.readline(), 10)
    print(f'Received: {data.decode().rstrip()!r}')
    print('Close the connection')
    writer.close()
    await writer.wait_closed()

asyncio.run(tcp_echo_client('Hello World!', int(sys.argv[1])))
"#;

/// asyncio's streams echo server on a free port (printed), serving lines
/// to one client and exiting after it.
const PY_SERVER: &str = r#"
import asyncio

async def main():
    done = asyncio.Event()

    async def handle_echo(reader, writer):
        addr = writer.get_extra_info('peername')
        while line := await reader.readline():
            message = line.decode().rstrip()
            print(f"Received {message!r} from {addr!r}")
            print(f"Send: {message!r}")
            writer.write(line)
            await writer.drain()
        print("Close the connection")
        writer.close()
        await writer.wait_closed()
        done.set()

    server = await asyncio.start_server(handle_echo, '127.0.0.1', 0)
    print(f"Serving on port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await done.wait()

asyncio.run(main())
"#;

#[test]
fn hs9_stream_echo_server_with_a_cpython_streams_client() {
    if !have_python() {
        return;
    }
    let (mut server, port) = start_echo_server();
    let mut client = Child::start({
        let mut c = Command::new("python3");
        c.args(["-c", PY_CLIENT, &port.to_string()]);
        c
    });
    assert_eq!(
        client.success(),
        "Send: 'Hello World!'\nReceived: 'Hello World!'\nClose the connection\n"
    );
    server.wait_for_output("Close the connection");
    let out = stop_echo_server(server);
    assert!(
        out.contains("Received 'Hello World!' from ('127.0.0.1', "),
        "{out}"
    );
    assert!(
        out.contains("Send: 'Hello World!'\nClose the connection\n"),
        "{out}"
    );
}

#[test]
fn hs9_stream_echo_client_with_a_cpython_streams_server() {
    if !have_python() {
        return;
    }
    let mut server = Child::start({
        let mut c = Command::new("python3");
        c.args(["-c", PY_SERVER]);
        c
    });
    server.wait_for_output("Serving on port ");
    let out = server.stdout();
    let port = out
        .trim()
        .strip_prefix("Serving on port ")
        .unwrap_or_else(|| panic!("{out:?}"));
    let client = run_example("stream_echo_client", &[port]);
    assert_eq!(
        client,
        "Send: 'Hello World!'\nReceived: 'Hello World!'\nClose the connection\n"
    );
    let out = server.success();
    assert!(
        out.contains("Received 'Hello World!' from ('127.0.0.1', "),
        "{out}"
    );
    assert!(
        out.ends_with("Send: 'Hello World!'\nClose the connection\n"),
        "{out}"
    );
}
