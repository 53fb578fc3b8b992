//! `run_in_executor()`: blocking and CPU-bound functions off the loop thread.
//!
//! Teaches: `run_in_executor(None, f)` on the loop's default thread pool,
//! `run_in_executor(Some(&pool), f)` on a pool of your own, awaiting the
//! result in a task, and shutting pools down (`ThreadPool::shutdown`,
//! `shutdown_default_executor`) as `with` and `asyncio.run` do in Python.
//!
//! Mirrors the example of `loop.run_in_executor()` in the Event Loop page,
//! section "Executing code in thread or process pools":
//! <https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.run_in_executor>
//! Rust has no process pool; the CPU-bound function runs in the custom thread
//! pool instead, where it keeps the loop thread free just the same.
//!
//! Run it:
//!
//! ```text
//! cargo run --example executor
//! ```
//!
//! Expected output (the bytes are random):
//!
//! ```text
//! default thread pool b'\x8f\x1c...'
//! custom thread pool b'\x03W\xd2...'
//! custom thread pool 333333283333335000000
//! ```

use std::io::Read;

use switchboard::{get_running_loop, ThreadPool};

/// File operations (such as logging) can block the event loop: run them in a
/// thread pool.
fn blocking_io() -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; 100];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf)
}

/// CPU-bound operations block the event loop too.
fn cpu_bound() -> u128 {
    (0..10u128.pow(7)).map(|i| i * i).sum()
}

async fn main_task() -> switchboard::Result<()> {
    let lp = get_running_loop()?;

    // 1. Run in the default loop's executor. `flatten` makes one error of
    // the pool's (a panic in the job, say) and blocking_io's own.
    let result = lp.run_in_executor(None, blocking_io)?.flatten().await?;
    println!("default thread pool {}", py_bytes(&result));

    // 2. Run in a custom thread pool, then shut it down and wait, like
    // leaving Python's `with ThreadPoolExecutor() as pool:` block.
    let pool = ThreadPool::with_default_size();
    let result = lp
        .run_in_executor(Some(&pool), blocking_io)?
        .flatten()
        .await?;
    println!("custom thread pool {}", py_bytes(&result));

    // 3. The CPU-bound function, where Python uses a process pool.
    let result = lp.run_in_executor(Some(&pool), cpu_bound)?.await?;
    println!("custom thread pool {result}");
    pool.shutdown(true);
    Ok(())
}

fn main() -> switchboard::Result<()> {
    // asyncio.run(main()): run main, shut the default executor down, close.
    switchboard::run(|_lp| main_task())
}

/// Renders bytes the way Python's `repr(bytes)` does: `b'...'`, or `b"..."`
/// when that saves escaping a `'`.
fn py_bytes(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = format!("b{quote}");
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\'' if quote == '\'' => out.push_str("\\'"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out
}
