//! Runs `examples/sharded_echo.rs` and `examples/sharded_kv.rs` (two loops)
//! and drives them from CPython's asyncio: every connection echoed, the
//! balanced mode spreading held connections within one, every key landing
//! on exactly one shard whichever loop a connection is on, and SIGTERM
//! draining every loop with status 0. Ids refer to docs/behavior.md (LG10).

mod support;

use std::process::Command;

use nix::sys::signal::Signal;

use support::child::Child;
use support::examples;

/// The port in a banner line `NAME on 127.0.0.1:PORT, ...`.
fn port_of(banner: &str) -> u16 {
    let at = banner.split(" on ").nth(1).expect("banner");
    let addr = at.split(',').next().expect("address");
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

/// Starts `name args..` and waits for its banner; returns it and the port.
fn start(name: &str, args: &[&str], banner: &str) -> (Child, u16) {
    let mut child = Child::start(examples::command(name, args));
    child.wait_for_output(banner);
    let out = child.stdout();
    let line = out
        .lines()
        .find(|l| l.contains(banner))
        .expect("banner line");
    let port = port_of(line);
    (child, port)
}

fn python(script: &str, port: u16) -> String {
    let out = Command::new("python3")
        .args(["-c", script, &port.to_string()])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Holds 20 connections at once, echoes 1 KiB on each, then leaves.
const ECHO_CLIENT: &str = r#"
import asyncio, sys

async def main(port):
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
    for i, (r, w) in enumerate(conns):
        data = bytes([65 + i % 26]) * 1024
        w.write(data)
        await w.drain()
        got = await asyncio.wait_for(r.readexactly(1024), 10)
        assert got == data, "echo %d" % i
    print("echoed 20")
    for r, w in conns:
        w.close()
        await w.wait_closed()

asyncio.run(main(int(sys.argv[1])))
"#;

/// `loop N served K connections` lines, in loop order.
fn served(out: &str) -> Vec<usize> {
    out.lines()
        .filter(|l| l.starts_with("loop "))
        .map(|l| {
            l.split(' ')
                .nth(3)
                .and_then(|n| n.parse().ok())
                .expect("count")
        })
        .collect()
}

#[test]
fn lg10_sharded_echo_balanced_serves_a_cpython_client_and_drains_on_sigterm() {
    if !support::tools::have_python() {
        return;
    }
    let (mut child, port) = start("sharded_echo", &["0", "balanced", "2"], "sharded_echo on");
    assert!(python(ECHO_CLIENT, port).contains("echoed 20"));
    child.signal(Signal::SIGTERM);
    let out = child.success();
    let n = served(&out);
    assert_eq!(n.len(), 2, "{out}");
    assert_eq!(n.iter().sum::<usize>(), 20, "{out}");
    assert!(
        n[0].abs_diff(n[1]) <= 1,
        "20 held connections, balanced: {out}"
    );
    assert!(out.contains("sharded_echo: 2 servers drained"), "{out}");
}

#[test]
fn lg10_sharded_echo_on_reuse_port_serves_every_connection() {
    if !support::tools::have_python() {
        return;
    }
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let p = free.to_string();
    let (mut child, port) = start("sharded_echo", &[&p, "reuse-port", "2"], "sharded_echo on");
    assert_eq!(port, free);
    assert!(python(ECHO_CLIENT, port).contains("echoed 20"));
    child.signal(Signal::SIGINT);
    let out = child.success();
    assert_eq!(served(&out).iter().sum::<usize>(), 20, "{out}");
}

/// Four connections (balanced over two loops: two on each); 200 keys set
/// round-robin over them, each read back and its shard asked from another.
const KV_CLIENT: &str = r#"
import asyncio, sys

async def ask(conn, line):
    r, w = conn
    w.write(line.encode() + b"\r\n")
    await w.drain()
    return (await asyncio.wait_for(r.readline(), 10)).decode().rstrip("\r\n")

async def main(port):
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
    for i in range(200):
        assert await ask(conns[i % 4], "SET k%d v%d" % (i, i)) == "OK"
    shards = set()
    for i in range(200):
        assert await ask(conns[(i + 1) % 4], "GET k%d" % i) == "v%d" % i, i
        a = await ask(conns[(i + 2) % 4], "SHARD k%d" % i)
        b = await ask(conns[(i + 3) % 4], "SHARD k%d" % i)
        assert a == b, (i, a, b)
        shards.add(a)
    assert await ask(conns[0], "BOGUS") == "ERR unknown command"
    # Pipelined on one connection: answers in request order across shards.
    r, w = conns[1]
    w.write(b"".join(b"GET k%d\r\n" % i for i in range(200)))
    await w.drain()
    for i in range(200):
        assert (await asyncio.wait_for(r.readline(), 10)).decode().rstrip() == "v%d" % i
    print("keys ok, shards %s" % ",".join(sorted(shards)))
    for r, w in conns:
        w.close()
        await w.wait_closed()

asyncio.run(main(int(sys.argv[1])))
"#;

#[test]
fn lg10_sharded_kv_puts_every_key_on_exactly_one_shard_and_drains_on_sigterm() {
    if !support::tools::have_python() {
        return;
    }
    let (mut child, port) = start("sharded_kv", &["0", "2"], "sharded_kv on");
    let said = python(KV_CLIENT, port);
    assert!(said.contains("keys ok, shards 0,1"), "{said}");
    child.signal(Signal::SIGTERM);
    let out = child.success();
    let keys: Vec<usize> = out
        .lines()
        .filter(|l| l.starts_with("shard "))
        .map(|l| {
            l.rsplit(' ')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .expect("count")
        })
        .collect();
    assert_eq!(keys.len(), 2, "{out}");
    assert_eq!(
        keys.iter().sum::<usize>(),
        200,
        "each key on one shard: {out}"
    );
    assert!(keys.iter().all(|&k| k > 0), "{out}");
}
