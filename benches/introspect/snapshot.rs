//! The snapshot's cost: a switchboard server (ready-made `Echo`, in this
//! process) holding N idle connections, clients in a child process (this
//! binary with `--clients ADDR N`, so the two sides do not share one
//! descriptor limit), and `lp.introspect()` timed on the loop's thread,
//! its heap counted by [`crate::heap`], its JSON measured with
//! `serde_json::to_vec`.

use std::time::Instant;

use switchboard::introspect::ActorInfo;

use crate::heap;
use crate::stats::thread_cpu;

/// One `introspect()` call.
#[derive(Debug, Clone, Copy)]
pub struct Take {
    /// Wall seconds of the call.
    pub wall: f64,
    /// The loop thread's CPU seconds in the call.
    pub cpu: f64,
    /// Bytes it left allocated: the returned `Snapshot`'s heap.
    pub held: f64,
    /// The most it had allocated at once during the call.
    pub peak: f64,
    /// `serde_json::to_vec(&snapshot)`'s length.
    pub json: f64,
    /// Wall seconds of that serialisation.
    pub json_wall: f64,
    /// Actors in the snapshot.
    pub actors: usize,
    /// Of `held`, the bytes of the `actors` vector itself: its capacity
    /// times `size_of::<ActorInfo>()` (the rest is strings and the like).
    pub table: f64,
}

fn take(lp: &switchboard::EventLoop) -> Take {
    let before = heap::reset_peak();
    let (c0, t0) = (thread_cpu(), Instant::now());
    let snap = lp.introspect();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = thread_cpu() - c0;
    let held = (heap::live() - before) as f64;
    let peak = (heap::peak() - before) as f64;
    let t1 = Instant::now();
    let json = serde_json::to_vec(&snap).expect("snapshot as JSON");
    let json_wall = t1.elapsed().as_secs_f64();
    Take {
        wall,
        cpu,
        held,
        peak,
        json: json.len() as f64,
        json_wall,
        actors: snap.actors.len(),
        table: (snap.actors.capacity() * size_of::<ActorInfo>()) as f64,
    }
}

/// `warm` untimed snapshots, then `takes` measured ones, with `n` idle
/// connections open.
pub fn measure(n: usize, warm: usize, takes: usize) -> Vec<Take> {
    let lp = switchboard::new_event_loop().expect("loop");
    let (server, child) = crate::idle::echo_with_idle_clients(&lp, n);
    heap::start();
    for _ in 0..warm {
        drop(lp.introspect());
    }
    let out: Vec<Take> = (0..takes).map(|_| take(&lp)).collect();
    heap::stop();
    for t in &out {
        // The server and its connections, and nothing left out.
        assert!(t.actors > n, "{} actors for {n} connections", t.actors);
    }
    crate::idle::release(child);
    server.close();
    server.close_clients();
    lp.run_until_complete(server.wait_closed())
        .expect("wait_closed");
    lp.close().expect("close");
    out
}
