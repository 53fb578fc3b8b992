//! Outside tools the interop tests drive (python3, openssl): present, or a
//! clear skip locally, or a failure under `CI=true` (as `.ci/run` runs the
//! suite, after installing them), never a silent pass.

use std::process::{Command, Stdio};

/// True when `cmd args..` runs and succeeds. When it does not: under
/// `CI=true` the test fails, naming the tool; elsewhere it prints
/// `SKIPPED (no CMD)` and the caller skips what needs it.
pub fn have(cmd: &str, args: &[&str]) -> bool {
    let ok = Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{cmd}` is missing under CI=true (.ci/run installs it)"
        );
        eprintln!("SKIPPED (no {cmd})");
    }
    ok
}

/// [`have`] for CPython with asyncio.
pub fn have_python() -> bool {
    have("python3", &["-c", "import asyncio"])
}
