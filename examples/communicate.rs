//! Run commands and collect what they print, with `communicate`.
//!
//! Teaches: `create_subprocess_shell` / `create_subprocess_exec` with piped
//! streams; `communicate(input)` writes stdin while it reads stdout and
//! stderr, so a child that fills one pipe while we fill another cannot
//! deadlock (and keeps at most 64 MiB of each by default); `returncode`;
//! a missing program is an error that says which and why.
//!
//! Mirrors the `communicate` example ("run a shell command") of
//! <https://docs.python.org/3/library/asyncio-subprocess.html#examples>,
//! plus 1 MiB through `sort` and a missing program. The program from
//! `use` to the end is 32 lines, rustfmt'd, blank lines and comments
//! included; tokio's twin is 35.
//!
//! ```text
//! cargo run --example communicate
//! ```
//!
//! Expected output:
//!
//! ```text
//! ["echo out; echo err >&2; exit 3" exited with 3]
//! [stdout]
//! out
//! [stderr]
//! err
//! [sort] 1048576 bytes back, first line 000000000000000
//! [no-such-program] cannot spawn no-such-program: No such file or directory (os error 2)
//! ```

use switchboard::Stdio;

fn main() -> switchboard::Result<()> {
    switchboard::run(|lp| async move {
        let cmd = "echo out; echo err >&2; exit 3";
        let mut sh = lp
            .create_subprocess_shell(cmd)
            .stdout(Stdio::Pipe)
            .stderr(Stdio::Pipe)
            .await?;
        let (out, err) = sh.communicate(None).await?;
        println!("[{cmd:?} exited with {}]", sh.wait().await?);
        let (out, err) = (String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
        print!("[stdout]\n{out}[stderr]\n{err}");

        // 1 MiB through `sort`: its stdin written while its stdout is read.
        let input: String = (0..65_536u32).rev().map(|i| format!("{i:015}\n")).collect();
        let mut sort = lp
            .create_subprocess_exec("sort", [""; 0])
            .stdin(Stdio::Pipe)
            .stdout(Stdio::Pipe)
            .await?;
        let (sorted, _) = sort.communicate(Some(input.as_bytes())).await?;
        let first = String::from_utf8_lossy(&sorted[..sorted.len().min(15)]);
        println!("[sort] {} bytes back, first line {first}", sorted.len());

        // A missing program: the error names it and says why.
        if let Err(e) = lp.create_subprocess_exec("no-such-program", [""; 0]).await {
            println!("[no-such-program] {e}");
        }
        Ok(())
    })
}
