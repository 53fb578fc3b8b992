//! Datagram endpoints against CPython's asyncio: an asyncio UDP client
//! against a switchboard UDP server, and the other way round.
//! <https://docs.python.org/3/library/asyncio-protocol.html#udp-echo-server>
//!
//! Ids refer to the behaviour catalogue (`docs/behavior.md`): U1.

mod support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use support::datagram::{datagrams, endpoint_at, loopback, recorder};
use support::net::until;
use support::tools::have_python;
use support::{new_loop, run_with_deadline};

const PY_UDP_CLIENT: &str = r#"
import asyncio, sys

class Client(asyncio.DatagramProtocol):
    def __init__(self, done):
        self.done, self.got = done, []
    def connection_made(self, t):
        for i in range(20):
            t.sendto(b"msg %d" % i)
    def datagram_received(self, data, addr):
        self.got.append(data)
        if len(self.got) == 20 and not self.done.done():
            self.done.set_result(self.got)

async def main(port):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    t, _ = await loop.create_datagram_endpoint(lambda: Client(done), remote_addr=("127.0.0.1", port))
    got = await asyncio.wait_for(done, 10)
    t.close()
    assert sorted(got) == sorted(b"resp:msg %d" % i for i in range(20)), got
    print("OK", len(got), flush=True)

asyncio.run(main(int(sys.argv[1])))
"#;

#[test]
fn u1_asyncio_udp_client_against_a_switchboard_udp_server() {
    if !have_python() {
        return;
    }
    let (lp, _h) = new_loop();
    let l = lp.clone();
    let (server, slog, at) =
        run_with_deadline(&lp, async move { endpoint_at(&l, loopback(), true).await });
    let child = Command::new("python3")
        .args(["-c", PY_UDP_CLIENT, &at.port().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let l = lp.clone();
    let sl = slog.clone();
    run_with_deadline(&lp, async move {
        until(&l, || datagrams(&sl).len() == 20).await;
    });
    let out = child.wait_with_output().expect("python3 output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "OK 20");
    server.transport.close();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        until(&l, || server.transport.is_lost()).await
    });
}

const PY_UDP_SERVER: &str = r#"
import asyncio

class Echo(asyncio.DatagramProtocol):
    def connection_made(self, t):
        self.t = t
    def datagram_received(self, data, addr):
        self.t.sendto(b"resp:" + data, addr)
        if data == b"bye":
            done.set_result(None)

async def main():
    global done
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    t, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    print(t.get_extra_info("sockname")[1], flush=True)
    await asyncio.wait_for(done, 10)
    t.close()
    print("DONE", flush=True)

asyncio.run(main())
"#;

#[test]
fn u1_switchboard_udp_client_against_an_asyncio_udp_server() {
    use std::io::{BufRead, BufReader};
    if !have_python() {
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", PY_UDP_SERVER])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("the server prints its port");
    let port: u16 = line.trim().parse().expect("a port");
    let (lp, _h) = new_loop();
    let l = lp.clone();
    run_with_deadline(&lp, async move {
        let (p, log) = recorder(false);
        let at: SocketAddr = ([127, 0, 0, 1], port).into();
        let ep = l
            .create_datagram_endpoint(move || p)
            .remote_addr(at)
            .await
            .expect("connect");
        for i in 0..10 {
            ep.transport
                .sendto(format!("m{i}").into_bytes(), None)
                .expect("sendto");
        }
        until(&l, || datagrams(&log).len() == 10).await;
        let mut got = datagrams(&log);
        got.sort();
        let mut want: Vec<Vec<u8>> = (0..10).map(|i| format!("resp:m{i}").into_bytes()).collect();
        want.sort();
        assert_eq!(got, want);
        ep.transport.sendto(&b"bye"[..], None).expect("sendto");
        until(&l, || datagrams(&log).len() == 11).await;
        ep.transport.close();
    });
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("rest");
    assert!(child.wait().expect("exit").success());
    assert_eq!(rest.trim(), "DONE");
}
