//! Read a child's output with the high-level subprocess API.
//!
//! Teaches: `lp.create_subprocess_exec(program, args)` with
//! `.stdout(Stdio::Pipe)` gives a `Process` whose `stdout` is a
//! `StreamReader`; `readline` reads one line of it (bounded by the reader's
//! limit, 64 KiB); `wait` gives the return code. Compare `subprocess_date`,
//! the same program on the protocol layer.
//!
//! Mirrors the "date" example of
//! <https://docs.python.org/3/library/asyncio-subprocess.html#examples>
//! (the child is `date`, not another Python).
//!
//! ```text
//! cargo run --example process_date
//! ```
//!
//! Expected output (the date varies):
//!
//! ```text
//! Current date: Wed Dec  2 15:46:52 UTC 2026
//! ```

use switchboard::Stdio;

fn main() -> switchboard::Result<()> {
    let date = switchboard::run(|lp| async move {
        // Create the subprocess; redirect the standard output into a pipe.
        let mut proc = lp
            .create_subprocess_exec("date", [""; 0])
            .stdout(Stdio::Pipe)
            .await?;

        // Read one line of output.
        let data = match proc.stdout.as_mut() {
            Some(stdout) => stdout.readline().await?,
            None => unreachable!("stdout was made a pipe"),
        };
        let line = String::from_utf8_lossy(&data).trim_end().to_string();

        // Wait for the subprocess exit.
        let code = proc.wait().await?;
        if code != 0 {
            eprintln!("date exited with {code}");
        }
        Ok::<_, switchboard::Error>(line)
    })?;
    println!("Current date: {date}");
    Ok(())
}
