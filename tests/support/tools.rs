//! Outside tools the interop tests drive (python3, openssl): present, or a
//! clear skip locally, or a failure under `CI=true` (as `.ci/run` runs the
//! suite, after installing them), never a silent pass.
//!
//! A skip prints `SKIPPED (no TOOL)` in its test and is counted: when the
//! test binary exits, one summary line on stderr says how many tests it
//! skipped and for want of what (`switchboard tests: 3 skipped (no
//! python3 ×2, no openssl ×1); CI=true makes them fail`).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Mutex, Once};

/// Skips counted by what was missing.
static SKIPPED: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// Says a test is skipped for want of `what`; fails it under `CI=true`.
pub fn skip(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "`{what}` is missing under CI=true (.ci/run installs it)"
    );
    eprintln!("SKIPPED (no {what})");
    *SKIPPED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(what.to_string())
        .or_insert(0) += 1;
    static SUMMARY: Once = Once::new();
    // SAFETY: `summary` is an `extern "C" fn()` that does not unwind.
    SUMMARY.call_once(|| unsafe {
        nix::libc::atexit(summary);
    });
}

/// The summary line, printed as the test binary exits.
extern "C" fn summary() {
    let skipped = SKIPPED.lock().unwrap_or_else(|p| p.into_inner());
    let total: usize = skipped.values().sum();
    let each: Vec<String> = skipped
        .iter()
        .map(|(what, n)| format!("no {what} ×{n}"))
        .collect();
    eprintln!(
        "switchboard tests: {total} skipped ({}); CI=true makes them fail",
        each.join(", ")
    );
}

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
        skip(cmd);
    }
    ok
}

/// [`have`] for CPython with asyncio.
pub fn have_python() -> bool {
    have("python3", &["-c", "import asyncio"])
}
