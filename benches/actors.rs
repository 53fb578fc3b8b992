//! Side-by-side actor benchmark: switchboard's application actors against
//! actix (on tokio's current-thread runtime, through `actix-rt`), reported
//! as ratios per CPU-second.
//!
//! Run with `cargo bench --bench actors`. Each measurement runs in its own
//! process (this binary re-executed with `--run KIND WORKLOAD N`) pinned to
//! one core with `taskset -c 0` and reports its own CPU time (`getrusage`,
//! user + system). Rounds alternate the two runtimes; the report gives the
//! median and the min–max spread. `SWITCHBOARD_BENCH_ROUNDS` sets the rounds
//! (default 3), `SWITCHBOARD_BENCH_MESSAGES` the one-way messages (default
//! 2,000,000) and `SWITCHBOARD_BENCH_CALLS` the round trips (default
//! 200,000). Without `--bench` on the command line (under
//! `cargo test --benches`) it runs a small smoke of each workload.
//!
//! Workloads, both between two actors of one loop (one thread):
//!
//! 1. `send`: a producer actor sends N messages to a consumer actor, 1,000
//!    per turn (then it sends itself a message to go on): messages handled
//!    per CPU-second.
//! 2. `call`: a task asks an actor N questions one after the other
//!    (`addr.call(..).await` / actix's `addr.send(..).await`) and awaits
//!    each answer: round trips per CPU-second.
//! 3. `protocol_call`: switchboard only, against its own `call` from a
//!    task: a connection's protocol asks the same actor N questions one after
//!    the other with `t.call`, each answer arriving as an event of the
//!    connection (no task, no waker): round trips per CPU-second.

use std::time::Instant;

#[path = "common/child.rs"]
mod child;
#[path = "common/stats.rs"]
mod stats;

const KINDS: [&str; 2] = ["switchboard", "actix"];
const BATCH: u64 = 1000;

// ------------------------------------------------------------ switchboard --

mod sb {
    use super::BATCH;
    use switchboard::prelude::*;
    use switchboard::LoopFuture;

    struct Consumer {
        left: u64,
        done: LoopFuture<()>,
    }

    impl Actor for Consumer {
        type Message = u64;
        fn handle(&mut self, _: u64, _: &mut ActorContext<'_, u64>) {
            self.left -= 1;
            if self.left == 0 {
                let _ = self.done.set_result(());
            }
        }
    }

    struct Producer {
        to: Addr<u64>,
        left: u64,
    }

    struct Go;

    impl Actor for Producer {
        type Message = Go;
        fn handle(&mut self, _: Go, ctx: &mut ActorContext<'_, Go>) {
            let n = BATCH.min(self.left);
            for i in 0..n {
                let _ = self.to.send(i);
            }
            self.left -= n;
            if self.left > 0 {
                let _ = ctx.addr().send(Go);
            }
        }
    }

    pub fn send(n: u64) {
        let lp = EventLoop::new().expect("loop");
        let done = lp.create_future();
        let to = lp
            .spawn(Consumer {
                left: n,
                done: done.clone(),
            })
            .expect("spawn");
        let producer = lp.spawn(Producer { to, left: n }).expect("spawn");
        producer.send(Go).ok();
        lp.run_until_complete(done).expect("run").expect("done");
        lp.close().expect("close");
    }

    struct Echo;

    impl Actor for Echo {
        type Message = (u64, ReplyTo<u64>);
        fn handle(&mut self, (x, r): Self::Message, _: &mut ActorContext<'_, Self::Message>) {
            let _ = r.send(x + 1);
        }
    }

    pub fn call(n: u64) {
        let lp = EventLoop::new().expect("loop");
        let echo = lp.spawn(Echo).expect("spawn");
        let sum = lp
            .run_until_complete(async move {
                let mut sum = 0;
                for i in 0..n {
                    sum += echo.call(|r| (i, r)).await.expect("answer");
                }
                sum
            })
            .expect("run");
        assert_eq!(sum, n * (n + 1) / 2);
        lp.close().expect("close");
    }

    enum Got {
        Answer(Result<u64, CallError>),
    }

    /// Asks `echo` one question at a time, from inside its protocol.
    struct Caller {
        echo: Addr<(u64, ReplyTo<u64>)>,
        n: u64,
        next: u64,
        sum: u64,
        done: LoopFuture<u64>,
    }

    impl Caller {
        fn ask(&mut self, t: &mut dyn StreamTransport<Got>) -> Result<(), ProtocolError> {
            let i = self.next;
            self.next += 1;
            t.call(&self.echo, |r| (i, r), Got::Answer)?;
            Ok(())
        }
    }

    impl StreamProtocol<Got> for Caller {
        fn handle(
            &mut self,
            ev: StreamEvent<Got>,
            t: &mut dyn StreamTransport<Got>,
        ) -> Result<(), ProtocolError> {
            match ev {
                StreamEvent::ConnectionMade => self.ask(t)?,
                StreamEvent::Message(Got::Answer(v)) => {
                    self.sum += v.expect("answer");
                    if self.next == self.n {
                        let _ = self.done.set_result(self.sum);
                    } else {
                        self.ask(t)?;
                    }
                }
                _ => {}
            }
            Ok(())
        }
    }

    pub fn protocol_call(n: u64) {
        let lp = EventLoop::new().expect("loop");
        let echo = lp.spawn(Echo).expect("spawn");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let _peer =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (sock, _) = listener.accept().expect("accept");
        let done = lp.create_future::<u64>();
        let caller = Caller {
            echo,
            n,
            next: 0,
            sum: 0,
            done: done.clone(),
        };
        let conn = lp
            .run_until_complete(lp.connect_accepted_socket(move || caller, sock))
            .expect("run")
            .expect("connection");
        let sum = lp.run_until_complete(done).expect("run").expect("done");
        assert_eq!(sum, n * (n + 1) / 2);
        conn.transport.abort();
        lp.close().expect("close");
    }
}

// ------------------------------------------------------------------ actix --

mod ax {
    use super::BATCH;
    use actix::prelude::*;

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Item(#[allow(dead_code)] u64);

    struct Consumer {
        left: u64,
        done: Option<tokio::sync::oneshot::Sender<()>>,
    }

    impl Actor for Consumer {
        type Context = Context<Self>;
    }

    impl Handler<Item> for Consumer {
        type Result = ();
        fn handle(&mut self, _: Item, _: &mut Context<Self>) {
            self.left -= 1;
            if self.left == 0 {
                if let Some(d) = self.done.take() {
                    let _ = d.send(());
                }
            }
        }
    }

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Go;

    struct Producer {
        to: Addr<Consumer>,
        left: u64,
    }

    impl Actor for Producer {
        type Context = Context<Self>;
    }

    impl Handler<Go> for Producer {
        type Result = ();
        fn handle(&mut self, _: Go, ctx: &mut Context<Self>) {
            let n = BATCH.min(self.left);
            for i in 0..n {
                self.to.do_send(Item(i));
            }
            self.left -= n;
            if self.left > 0 {
                ctx.address().do_send(Go);
            }
        }
    }

    pub fn send(n: u64) {
        System::new().block_on(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let to = Consumer {
                left: n,
                done: Some(tx),
            }
            .start();
            Producer { to, left: n }.start().do_send(Go);
            rx.await.expect("done");
        });
    }

    #[derive(Message)]
    #[rtype(result = "u64")]
    struct Ask(u64);

    struct Echo;

    impl Actor for Echo {
        type Context = Context<Self>;
    }

    impl Handler<Ask> for Echo {
        type Result = u64;
        fn handle(&mut self, Ask(x): Ask, _: &mut Context<Self>) -> u64 {
            x + 1
        }
    }

    pub fn call(n: u64) {
        let sum = System::new().block_on(async move {
            let echo = Echo.start();
            let mut sum = 0;
            for i in 0..n {
                sum += echo.send(Ask(i)).await.expect("answer");
            }
            sum
        });
        assert_eq!(sum, n * (n + 1) / 2);
    }
}

// ------------------------------------------------------------------ harness --

fn run_one(kind: &str, workload: &str, n: u64) {
    let (t0, c0) = (Instant::now(), child::process_cpu_self());
    match (kind, workload) {
        ("switchboard", "send") => sb::send(n),
        ("actix", "send") => ax::send(n),
        ("switchboard", "call") => sb::call(n),
        ("actix", "call") => ax::call(n),
        ("switchboard", "protocol_call") => sb::protocol_call(n),
        _ => panic!("unknown run {kind} {workload}"),
    }
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), child::process_cpu_self() - c0);
    child::report(n as f64, wall, cpu.max(1e-9));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--run") {
        let n = args[i + 3].parse().expect("count");
        run_one(&args[i + 1], &args[i + 2], n);
        return;
    }
    let bench = args.iter().any(|a| a == "--bench");
    let (rounds, messages, calls) = if bench {
        (
            child::env_or("SWITCHBOARD_BENCH_ROUNDS", 3),
            child::env_or("SWITCHBOARD_BENCH_MESSAGES", 2_000_000),
            child::env_or("SWITCHBOARD_BENCH_CALLS", 200_000),
        )
    } else {
        (1, 10_000, 1_000)
    };
    let pin = child::can_pin();
    println!(
        "actors bench: {rounds} rounds, {messages} one-way messages, {calls} call round trips; {}",
        if pin {
            "each run pinned to core 0 (taskset -c 0)"
        } else {
            "NOT pinned (taskset missing)"
        }
    );
    for (workload, n, unit) in [
        ("send", messages, "messages"),
        ("call", calls, "round trips"),
    ] {
        let mut cpu = [Vec::new(), Vec::new()];
        let mut wall = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            // Alternate which runtime goes first.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let (c, w) = child::measure(&[KINDS[k], workload, &n.to_string()], pin, &[]);
                cpu[k].push(c);
                wall[k].push(w);
            }
        }
        let spread = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(0.0, f64::max);
            format!("{lo:.0}–{hi:.0}")
        };
        let (s_spread, a_spread) = (spread(&cpu[0]), spread(&cpu[1]));
        let (sc, ac) = (stats::median(&cpu[0]), stats::median(&cpu[1]));
        let (sw, aw) = (stats::median(&wall[0]), stats::median(&wall[1]));
        println!(
            "{workload}: {unit} per CPU-second: switchboard {sc:.0} ({s_spread}), \
             actix {ac:.0} ({a_spread}), switchboard/actix {:.2}; \
             per wall-second: switchboard {sw:.0}, actix {aw:.0}, ratio {:.2}",
            sc / ac,
            sw / aw
        );
    }
    // `t.call` from a protocol against `call` from a task, switchboard both.
    let mut cpu = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut this = [0.0; 2];
        for k in order {
            let workload = ["protocol_call", "call"][k];
            let (c, _) = child::measure(&["switchboard", workload, &calls.to_string()], pin, &[]);
            cpu[k].push(c);
            this[k] = c;
        }
        ratios.push(this[0] / this[1]);
    }
    let lo_hi = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        (lo, hi)
    };
    let ((pl, ph), (tl, th), (rl, rh)) = (lo_hi(&cpu[0]), lo_hi(&cpu[1]), lo_hi(&ratios));
    println!(
        "protocol_call: round trips per CPU-second: t.call from a protocol {:.0} ({pl:.0}–{ph:.0}), \
         call from a task {:.0} ({tl:.0}–{th:.0}), ratio {:.2} ({rl:.2}–{rh:.2}, within rounds)",
        stats::median(&cpu[0]),
        stats::median(&cpu[1]),
        stats::median(&ratios)
    );
}
