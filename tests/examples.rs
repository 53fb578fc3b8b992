//! Runs every example of the learning path (`examples/README.md`) and checks
//! that it prints what its Python twin prints: the examples section of
//! <https://docs.python.org/3/library/asyncio-eventloop.html#examples>, the
//! `run_in_executor` example, the `get_running_loop` example of the Low-level
//! API Index, and the tour.
//!
//! The examples are built once and their binaries run directly, each killed if
//! it has not finished in time ([`support::examples`]).

mod support;

use std::process::Command;

use support::examples::run_example;

/// Runs `python3 -c CODE ARGS` and returns its stdout, trimmed.
fn python(code: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python3 is installed (the README lists it as a test requirement)");
    assert!(out.status.success(), "python3 failed: {out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

#[test]
fn hello_world_prints_hello_world_then_stops() {
    assert_eq!(run_example("hello_world", &[]), "Hello World\n");
}

#[test]
fn watch_fd_prints_what_the_reader_received() {
    assert_eq!(run_example("watch_fd", &[]), "Received: abc\n");
}

#[test]
fn display_date_prints_five_utc_timestamps_then_stops() {
    let utc_minute = "import datetime; \
        print(datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M'))";
    let before = python(utc_minute, &[]);
    // Like its Python twin, the example stops once `time() + interval` passes
    // five intervals after the start, so it prints five lines only if its timers
    // are late by less than one interval in total. At 0.05 s a loaded machine
    // (tests run in parallel) misses that now and then; 0.2 s leaves room.
    let out = run_example("display_date", &["0.2"]);
    let after = python(utc_minute, &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "five dates, got:\n{out}");
    for line in &lines {
        // Python's str(datetime): the fraction is left out when it is zero.
        let shape = "dddd-dd-dd dd:dd:dd.dddddd";
        let fits = |s: &str| {
            s.len() == shape.len()
                && s.chars().zip(shape.chars()).all(|(c, p)| {
                    if p == 'd' {
                        c.is_ascii_digit()
                    } else {
                        c == p
                    }
                })
        };
        assert!(fits(line) || fits(&format!("{line}.000000")), "{line:?}");
    }
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "increasing:\n{out}");
    // The calendar arithmetic agrees with Python's UTC clock.
    let minute = &lines[0][..16];
    assert!(
        minute == before || minute == after,
        "{minute} vs python {before}..{after}"
    );
}

#[test]
fn get_running_loop_prints_hello_then_the_future_value() {
    let out = run_example("get_running_loop", &["0.05"]);
    assert_eq!(out, "hello ...\n... world\n");
}

#[test]
fn executor_prints_results_from_the_default_and_a_custom_pool() {
    let out = run_example("executor", &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "three results, got:\n{out}");
    let default = lines[0]
        .strip_prefix("default thread pool ")
        .expect("default pool line");
    let custom = lines[1]
        .strip_prefix("custom thread pool ")
        .expect("custom pool line");
    assert_eq!(lines[2], "custom thread pool 333333283333335000000");
    // The bytes are printed as Python's repr: Python reads them back as 100 bytes.
    let lengths = python(
        "import ast, sys; print(*(len(ast.literal_eval(a)) for a in sys.argv[1:]))",
        &[default, custom],
    );
    assert_eq!(lengths, "100 100");
}

#[test]
fn tour_prints_every_section_in_order() {
    let out = run_example("tour", &[]);
    let headers: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(
        headers,
        [
            "1. Callbacks run in the order they were scheduled",
            "2. Timers: call_later, call_at and cancel",
            "3. A task awaits a future",
            "4. call_soon_threadsafe from another thread",
            "5. run_in_executor: blocking work on a thread pool",
            "6. The exception handler catches a panic",
            "7. A TCP echo server and client on 127.0.0.1",
            "8. A UDP datagram round trip on 127.0.0.1",
            "9. An actor answers questions: call and ReplyTo",
            "10. Deadlines and composition: wait_for and gather",
            "11. Run a child process and handle a signal",
            "12. The same protocols over TLS",
            "13. Streams and processes: readline, drain, communicate",
            "14. A supervisor restarts a crashed actor",
            "15. One loop per core: a LoopGroup shares a port and its actors",
            "16. Seeing inside: a snapshot and the control socket",
            "17. Stopping and closing cleanly",
        ]
    );
    // What each section shows, in order.
    let results = [
        "   callback first\n   callback second\n   callback third\n",
        "   call_at(time() + 0.01) fired first\n   call_later(0.02) fired second\n",
        "   a third timer was cancelled: cancelled() = true\n",
        "   a timer set the future to 41; the task awaited it, and 41 + 1 = 42\n",
        "   a callback sent from thread tour-worker ran on thread main\n",
        "   sum(1..=1000) = 500500, computed on a pool thread: true\n",
        "   handler: Exception in callback <Handle created at examples/tour/errors.rs:",
        "> -> panic: boom\n   the next callback still runs\n",
        "   client: got back 'hello, tour'; closing\n",
        "   server: datagram 'ping' from the client\n   client: got back 'echo: ping', one datagram, whole\n",
        "   ada -> Some(1815), bob -> None\n",
        "   a connection asks it with t.call: \"1815\\nunknown\\n\"\n",
        "   gather -> [\"slow\", \"fast\"]: in the order given, though fast finished first\n",
        "   wait_for: timed out after 0.01 seconds; the sleep was dropped\n",
        "   child said 'hello from a child', exited with 0\n",
        "   a child sent us SIGUSR1; the handler ran on the loop thread\n",
        "   server: received 'hello, tour', echoing it\n   client: got back 'hello, tour'; closing\n",
        "   the session was TLSv1.3 with TLS13_AES_256_GCM_SHA384, server name localhost\n",
        "   client: readline() -> \"HELLO, STREAMS\\n\"\n",
        "   sort via communicate -> \"apple\\nfig\\npear\\n\", exit code 0\n",
        "   counter at 5\n   crash: a counter needs a number\n",
        "   the question that crashed it: the actor dropped the question without answering\n",
        "   restarted: counter at 1, same address\n",
        "   the actor named 'host' answered loop 1 from loop 0\n",
        "   four connections to one port, balanced over the loops: [2, 2]\n",
        "   server 'echo': 1 connection; it read 14 bytes and wrote 14\n",
        "   the control socket answered: 1 loop, ",
        "   the one iteration ran this callback\n",
        "   closed: is_closed() = true; call_soon -> event loop is closed\n",
    ];
    let mut rest = out.as_str();
    for expected in results {
        let at = rest
            .find(expected)
            .unwrap_or_else(|| panic!("{expected:?} missing or out of order in:\n{out}"));
        rest = &rest[at + expected.len()..];
    }
    assert!(
        !out.contains("never printed"),
        "a cancelled timer ran:\n{out}"
    );
    // The panicking callback is reported where it was created: in errors.rs,
    // at a line and column that move whenever that file is edited.
    let location = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("   handler: Exception in callback <Handle created at ")?
                .strip_suffix("> -> panic: boom")
        })
        .unwrap_or_else(|| panic!("no handler line in:\n{out}"));
    let line_col = location
        .strip_prefix("examples/tour/errors.rs:")
        .unwrap_or_else(|| panic!("created at {location}, not in examples/tour/errors.rs"));
    let numbers: Vec<&str> = line_col.split(':').collect();
    assert!(
        numbers.len() == 2 && numbers.iter().all(|n| n.parse::<u32>().is_ok()),
        "created at {location}: expected errors.rs:LINE:COL"
    );
}

#[test]
fn subprocess_date_prints_the_date_the_child_printed() {
    let out = run_example("subprocess_date", &[]);
    let date = Command::new("date").output().expect("date runs");
    let today = String::from_utf8_lossy(&date.stdout);
    let line = out.strip_suffix('\n').expect("one line");
    let rest = line.strip_prefix("Current date: ").expect(line);
    // Same day, month and year as a `date` run right after it (the time of
    // day moves on).
    let words = |s: &str| -> Vec<String> { s.split_whitespace().map(String::from).collect() };
    let (got, now) = (words(rest), words(&today));
    assert_eq!(got.len(), now.len(), "{rest} vs {today}");
    assert_eq!(got[..3], now[..3], "{rest} vs {today}");
    assert_eq!(got.last(), now.last());
}

#[test]
fn subprocess_shell_feeds_stdin_and_prints_the_return_code() {
    assert_eq!(
        run_example("subprocess_shell", &[]),
        "child: 2 apple\nchild: 1 pear\nprocess exited with 3\nwait() -> 3\n"
    );
}

#[test]
fn pipes_passes_three_lines_from_the_write_pipe_to_the_read_pipe() {
    assert_eq!(
        run_example("pipes", &[]),
        "write pipe: connected, writing 3 lines then closing\n\
         read pipe: ping 1\nread pipe: ping 2\nread pipe: ping 3\n\
         read pipe: EOF\nread pipe: closed\n"
    );
}
