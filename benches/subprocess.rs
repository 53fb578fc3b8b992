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

use std::process::Command;
use std::time::Instant;

const KINDS: [&str; 2] = ["switchboard", "tokio"];
const CHUNK: usize = 64 * 1024;
const PARALLEL: usize = 8;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU seconds of this process so far (children excluded).
fn cpu_secs() -> f64 {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage");
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    t(u.user_time()) + t(u.system_time())
}

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
    let (t0, c0) = (Instant::now(), cpu_secs());
    match (kind, workload) {
        ("switchboard", "spawn") => sb::spawn(amount),
        ("tokio", "spawn") => tk::spawn(amount),
        ("switchboard", "cat") => sb::cat(amount << 20),
        ("tokio", "cat") => tk::cat(amount << 20),
        _ => panic!("unknown run {kind} {workload}"),
    }
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_secs() - c0);
    println!(
        "RESULT {} {}",
        amount as f64 / cpu.max(1e-9),
        amount as f64 / wall
    );
}

/// Runs one measurement in a child process (pinned to core 0 if `pin`);
/// returns (per CPU-second, per wall-second).
fn measure(kind: &str, workload: &str, amount: usize, pin: bool) -> (f64, f64) {
    let exe = std::env::current_exe().expect("bench binary");
    let amount = amount.to_string();
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(&exe);
        c.env("SWITCHBOARD_BENCH_CAT_CORE", "1");
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(["--run", kind, workload, &amount]);
    let out = cmd.output().expect("run the bench child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{kind} {workload} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("a RESULT line");
    let mut v = line
        .split_whitespace()
        .map(|x| x.parse::<f64>().expect("number"));
    (v.next().expect("cpu rate"), v.next().expect("wall rate"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn can_pin() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && Command::new("taskset")
            .args(["-c", "0", "true"])
            .status()
            .is_ok_and(|s| s.success())
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
            env_usize("SWITCHBOARD_BENCH_ROUNDS", 3),
            env_usize("SWITCHBOARD_BENCH_SPAWNS", 4000),
            env_usize("SWITCHBOARD_BENCH_MIB", 1024),
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
                let (c, w) = measure(KINDS[k], workload, amount, pin);
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
        let (sc, tc) = (median(&mut cpu[0]), median(&mut cpu[1]));
        let (sw, tw) = (median(&mut wall[0]), median(&mut wall[1]));
        println!(
            "{workload}: {unit} per parent CPU-second: switchboard {sc:.0} ({s_spread}), \
             tokio {tc:.0} ({t_spread}), switchboard/tokio {:.2}; \
             per wall-second: switchboard {sw:.0}, tokio {tw:.0}, ratio {:.2}",
            sc / tc,
            sw / tw
        );
    }
}
