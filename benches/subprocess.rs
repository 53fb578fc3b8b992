//! Side-by-side subprocess benchmark: switchboard's `subprocess_exec`
//! against tokio's process module (current-thread runtime), reported as
//! ratios.
//!
//! Run with `cargo bench --bench subprocess`. Each measurement runs in its
//! own process (this binary re-executed with `--run KIND WORKLOAD`) pinned to
//! core 0 with `taskset -c 0`, and reports its own CPU time (`getrusage`,
//! user + system of the parent only, children excluded). Rounds alternate
//! the two runtimes; the report gives the median and the min–max spread.
//! `SWITCHBOARD_BENCH_ROUNDS` sets the rounds (default 3),
//! `SWITCHBOARD_BENCH_SPAWNS` the children per spawn run (default 4000),
//! `SWITCHBOARD_BENCH_MIB` the MiB through `cat` (default 1024). Without
//! `--bench` on the command line (under `cargo test --benches`) it runs a
//! small smoke of each workload and exits.
//!
//! Workloads:
//!
//! 1. `spawn`: spawn-and-reap of `/bin/true`, 8 children at a time, stdio
//!    to `/dev/null`: children per CPU-second of the parent.
//! 2. `cat`: 1 GiB written to `cat`'s stdin and read back from its stdout
//!    in 64 KiB chunks: MiB per CPU-second of the parent. `cat` runs under
//!    `taskset -c 1` (the other core) for both runtimes.

use std::time::Instant;

#[path = "common/child.rs"]
mod child;
#[path = "common/stats.rs"]
mod stats;

const KINDS: [&str; 2] = ["switchboard", "tokio"];
const CHUNK: usize = 64 * 1024;
const PARALLEL: usize = 8;

/// The `cat` both runtimes run: on the other core when there is one.
fn cat_command() -> (&'static str, Vec<&'static str>) {
    if std::env::var_os("SWITCHBOARD_BENCH_CAT_CORE").is_some() {
        ("taskset", vec!["-c", "1", "cat"])
    } else {
        ("cat", vec![])
    }
}

// ------------------------------------------------------------ switchboard --

mod sb {
    use std::cell::Cell;
    use std::rc::Rc;

    use switchboard::prelude::*;
    use switchboard::{LoopFuture, Stdio};

    struct Nop;
    impl SubprocessProtocol for Nop {
        fn handle(
            &mut self,
            _: SubprocessEvent,
            _: &mut dyn SubprocessTransport,
        ) -> Result<(), ProtocolError> {
            Ok(())
        }
    }

    pub fn spawn(n: usize) {
        switchboard::run(|lp| async move {
            let left = Rc::new(Cell::new(n));
            let mut workers = Vec::new();
            for _ in 0..super::PARALLEL {
                let (l, left) = (lp.clone(), left.clone());
                workers.push(lp.create_task(async move {
                    while left.get() > 0 {
                        left.set(left.get() - 1);
                        let child = l
                            .subprocess_exec(|| Nop, "/bin/true", [""; 0])
                            .stdin(Stdio::Null)
                            .stdout(Stdio::Null)
                            .stderr(Stdio::Null)
                            .await
                            .expect("spawn /bin/true");
                        assert_eq!(child.wait().await.expect("exit"), 0);
                    }
                })?);
            }
            for w in workers {
                w.await;
            }
            Ok::<(), switchboard::Error>(())
        })
        .expect("switchboard spawn run");
    }

    /// Writes `total` bytes to stdin as fast as the pipe takes them, counts
    /// what comes back on stdout.
    struct Pump {
        chunk: Bytes,
        left: usize,
        got: usize,
        done: LoopFuture<usize>,
    }

    impl Pump {
        fn fill(&mut self, t: &mut dyn SubprocessTransport) -> Result<(), ProtocolError> {
            let Some(stdin) = t.get_pipe_transport(0).and_then(|p| p.writer()) else {
                return Ok(());
            };
            while self.left > 0 && !stdin.is_writing_paused() {
                let n = self.left.min(self.chunk.len());
                stdin.write_bytes(self.chunk.slice(..n))?;
                self.left -= n;
            }
            if self.left == 0 {
                stdin.close();
            }
            Ok(())
        }
    }

    impl SubprocessProtocol for Pump {
        fn handle(
            &mut self,
            ev: SubprocessEvent,
            t: &mut dyn SubprocessTransport,
        ) -> Result<(), ProtocolError> {
            match ev {
                SubprocessEvent::ConnectionMade | SubprocessEvent::ResumeWriting => self.fill(t)?,
                SubprocessEvent::PipeDataReceived { data, .. } => self.got += data.len(),
                SubprocessEvent::ConnectionLost(_) => {
                    let _ = self.done.set_result(self.got);
                }
                _ => {}
            }
            Ok(())
        }
    }

    pub fn cat(total: usize) {
        let (program, args) = super::cat_command();
        let got = switchboard::run(|lp| async move {
            let done = lp.create_future();
            let pump = Pump {
                chunk: Bytes::from(vec![b'x'; super::CHUNK]),
                left: total,
                got: 0,
                done: done.clone(),
            };
            let _child = lp
                .subprocess_exec(move || pump, program, args)
                .stderr(Stdio::Inherit)
                .await?;
            Ok::<usize, switchboard::Error>(done.await?)
        })
        .expect("switchboard cat run");
        assert_eq!(got, total);
    }
}

// ------------------------------------------------------------------ tokio --

mod tk {
    use std::process::Stdio;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::process::Command;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    }

    pub fn spawn(n: usize) {
        runtime().block_on(async move {
            let left = std::rc::Rc::new(std::cell::Cell::new(n));
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async move {
                    let mut workers = Vec::new();
                    for _ in 0..super::PARALLEL {
                        let left = left.clone();
                        workers.push(tokio::task::spawn_local(async move {
                            while left.get() > 0 {
                                left.set(left.get() - 1);
                                let status = Command::new("/bin/true")
                                    .stdin(Stdio::null())
                                    .stdout(Stdio::null())
                                    .stderr(Stdio::null())
                                    .spawn()
                                    .expect("spawn /bin/true")
                                    .wait()
                                    .await
                                    .expect("exit");
                                assert!(status.success());
                            }
                        }));
                    }
                    for w in workers {
                        w.await.expect("worker");
                    }
                })
                .await;
        });
    }

    pub fn cat(total: usize) {
        let (program, args) = super::cat_command();
        let got = runtime().block_on(async move {
            let mut child = Command::new(program)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn cat");
            let mut stdin = child.stdin.take().expect("stdin");
            let mut stdout = child.stdout.take().expect("stdout");
            let writer = async move {
                let chunk = vec![b'x'; super::CHUNK];
                let mut left = total;
                while left > 0 {
                    let n = left.min(chunk.len());
                    stdin.write_all(&chunk[..n]).await.expect("write");
                    left -= n;
                }
                drop(stdin);
            };
            let reader = async move {
                let mut buf = vec![0u8; super::CHUNK];
                let mut got = 0;
                loop {
                    let n = stdout.read(&mut buf).await.expect("read");
                    if n == 0 {
                        break got;
                    }
                    got += n;
                }
            };
            let ((), got) = tokio::join!(writer, reader);
            child.wait().await.expect("wait");
            got
        });
        assert_eq!(got, total);
    }
}

// ----------------------------------------------------------------- driver --

/// Runs one measurement in this process and prints `RESULT rate wall_rate`.
fn run_one(kind: &str, workload: &str, amount: usize) {
    let (t0, c0) = (Instant::now(), child::process_cpu_self());
    match (kind, workload) {
        ("switchboard", "spawn") => sb::spawn(amount),
        ("tokio", "spawn") => tk::spawn(amount),
        ("switchboard", "cat") => sb::cat(amount << 20),
        ("tokio", "cat") => tk::cat(amount << 20),
        _ => panic!("unknown run {kind} {workload}"),
    }
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), child::process_cpu_self() - c0);
    child::report(amount as f64, wall, cpu.max(1e-9));
}

/// Pinning puts the measured process on core 0 and `cat` on core 1, so it
/// needs two cores.
fn can_pin() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2) && child::can_pin()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--run") {
        let amount = args[i + 3].parse().expect("amount");
        run_one(&args[i + 1], &args[i + 2], amount);
        return;
    }
    let bench = args.iter().any(|a| a == "--bench");
    let (rounds, spawns, mib) = if bench {
        (
            child::env_or("SWITCHBOARD_BENCH_ROUNDS", 3),
            child::env_or("SWITCHBOARD_BENCH_SPAWNS", 4000),
            child::env_or("SWITCHBOARD_BENCH_MIB", 1024),
        )
    } else {
        (1, 16, 4)
    };
    let pin = can_pin();
    println!(
        "subprocess bench: {rounds} rounds, {spawns} spawns of /bin/true ({PARALLEL} at a time), \
         {mib} MiB through cat; {}",
        if pin {
            "parents pinned to core 0 (taskset -c 0), cat to core 1"
        } else {
            "NOT pinned (taskset missing or fewer than 2 cores)"
        }
    );
    for (workload, amount, unit) in [("spawn", spawns, "children"), ("cat", mib, "MiB")] {
        let mut cpu = [Vec::new(), Vec::new()];
        let mut wall = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            // Alternate which runtime goes first.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let (c, w) = child::measure(
                    &[KINDS[k], workload, &amount.to_string()],
                    pin,
                    if pin {
                        &[("SWITCHBOARD_BENCH_CAT_CORE", "1")]
                    } else {
                        &[]
                    },
                );
                cpu[k].push(c);
                wall[k].push(w);
            }
        }
        let spread = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(0.0, f64::max);
            format!("{lo:.0}–{hi:.0}")
        };
        let (s_spread, t_spread) = (spread(&cpu[0]), spread(&cpu[1]));
        let (sc, tc) = (stats::median(&cpu[0]), stats::median(&cpu[1]));
        let (sw, tw) = (stats::median(&wall[0]), stats::median(&wall[1]));
        println!(
            "{workload}: {unit} per parent CPU-second: switchboard {sc:.0} ({s_spread}), \
             tokio {tc:.0} ({t_spread}), switchboard/tokio {:.2}; \
             per wall-second: switchboard {sw:.0}, tokio {tw:.0}, ratio {:.2}",
            sc / tc,
            sw / tw
        );
    }
}
