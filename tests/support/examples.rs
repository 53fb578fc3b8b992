//! Runs the examples the way a user would, without a `cargo run` per example.
//!
//! [`exe`] builds every example once per test binary, with `cargo build
//! --workspace --examples --message-format=json` (it inherits this process's environment,
//! so it shares `CARGO_TARGET_DIR` with the outer `cargo test`, and may wait
//! there for the build lock), and returns the executable cargo reports. A
//! `cargo run` per example could instead wait on that lock past its own
//! timeout. [`run`] runs a command to completion and kills it if it has not
//! finished within a timeout; [`run_example`] does so for an example.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::Duration;

/// How long one example may run.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long building the examples may take, on a cold or busy target dir.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// Runs `cmd` to completion and returns its stdout; panics if it fails,
/// outlives `timeout` (then it is killed first), or reported an error
/// through the default exception handler (Z4 for examples: see
/// [`reports`]; a test that expects some uses [`run_reporting`]).
pub fn run(cmd: Command, timeout: Duration) -> String {
    let what = format!("{cmd:?}");
    let (stdout, reports) = run_reporting(cmd, timeout);
    assert!(
        reports.is_empty(),
        "{what} reported errors no one expected:\n{}",
        reports.join("\n")
    );
    stdout
}

/// [`run`], returning the program's error reports for the test to check
/// instead of failing on them.
pub fn run_reporting(cmd: Command, timeout: Duration) -> (String, Vec<String>) {
    let (stdout, stderr) = try_run(cmd, timeout).unwrap_or_else(|why| panic!("{why}"));
    (stdout, reports(&stderr))
}

/// The errors a program reported through switchboard's default exception
/// handler (which, with no logger installed, writes `switchboard: MESSAGE`
/// to stderr) and its error diagnostics (`switchboard: error: ..`), one per
/// entry (the first line of each); warnings (`switchboard: warning: ..`)
/// are not errors.
pub fn reports(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("switchboard: ") && !l.starts_with("switchboard: warning:"))
        .map(str::to_string)
        .collect()
}

/// Runs `cmd` to completion and returns its stdout and stderr, or says why
/// not: it failed (with what it printed) or outlived `timeout` (it is
/// killed first).
fn try_run(mut cmd: Command, timeout: Duration) -> Result<(String, String), String> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what} does not start: {e}"))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).ok();
        done.send(out).ok();
    });
    let errors = thread::spawn(move || {
        let mut err = String::new();
        stderr.read_to_string(&mut err).ok();
        err
    });
    // stdout reaches EOF when the child exits (or closes it).
    let Ok(stdout) = finished.recv_timeout(timeout) else {
        child.kill().ok();
        child.wait().ok();
        let stderr = errors.join().unwrap_or_default();
        return Err(format!(
            "{what} did not finish within {timeout:?}; stderr:\n{stderr}"
        ));
    };
    let status = child.wait().expect("the child is waited for");
    let stderr = errors.join().unwrap_or_default();
    if status.success() {
        return Ok((stdout, stderr));
    }
    let said = if stdout.lines().any(|l| l.starts_with('{')) {
        cargo_failure(&stdout, &stderr)
    } else {
        format!("stdout:\n{stdout}\nstderr:\n{stderr}")
    };
    Err(format!("{what} failed with {status}; {said}"))
}

/// Builds every example once and returns each one's executable, by name, as
/// cargo reports them.
///
/// The build selects the whole workspace, as the README's `cargo test
/// --workspace` does, so it resolves the same dependency features and finds
/// the outer build's artifacts fresh instead of compiling a second set. If it
/// fails anyway, the reason is printed and the examples the outer `cargo test`
/// already built beside this test binary are used; only when there are none
/// does the test fail, with cargo's own error rather than its JSON.
fn built() -> &'static HashMap<String, PathBuf> {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args([
                "build",
                "--workspace",
                "--examples",
                "--message-format=json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match try_run(cargo, BUILD_TIMEOUT) {
            Ok((report, _)) => report
                .lines()
                .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
                .filter(|l| l.contains(r#""kind":["example"]"#))
                .filter_map(|l| {
                    let target = &l[l.find(r#""target":{"#)?..];
                    Some((json_str(target, "name")?, json_str(l, "executable")?.into()))
                })
                .collect(),
            Err(why) => {
                // A compile error is the examples' own: never hide it.
                assert!(
                    !why.contains("error[E") && !why.contains("could not compile"),
                    "{why}"
                );
                let beside = already_built();
                assert!(
                    !beside.is_empty(),
                    "building the examples failed, and none were built before:\n{why}"
                );
                eprintln!(
                    "building the examples failed; using the {} the outer build made:\n{why}",
                    beside.len()
                );
                beside
            }
        }
    })
}

/// The examples cargo built for this target dir's profile: `cargo test`
/// builds every example before it runs a test binary, into `examples/` beside
/// the `deps/` this binary runs from.
fn already_built() -> HashMap<String, PathBuf> {
    let Some(profile) = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.to_path_buf()))
    else {
        return HashMap::new();
    };
    let Ok(entries) = std::fs::read_dir(profile.join("examples")) else {
        return HashMap::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_none() && p.is_file())
        .filter_map(|p| Some((p.file_name()?.to_str()?.to_string(), p)))
        .filter(|(name, _)| !name.contains('-'))
        .collect()
}

/// What a failed cargo build said: its rendered compiler messages, any line of
/// stdout that is not JSON, and its stderr.
fn cargo_failure(stdout: &str, stderr: &str) -> String {
    let mut said: Vec<String> = stdout
        .lines()
        .filter(|l| !l.starts_with('{'))
        .map(str::to_string)
        .collect();
    said.extend(
        stdout
            .lines()
            .filter(|l| l.contains(r#""reason":"compiler-message""#))
            .filter_map(|l| json_str(l, "rendered")),
    );
    said.push(stderr.to_string());
    said.join("\n")
}

/// The first string value of `key` in a line of cargo's JSON (paths and target
/// names need no unescaping beyond `\\` and `\"`).
fn json_str(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!(r#""{key}":""#))? + key.len() + 4;
    let mut out = String::new();
    let mut chars = json[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

/// The executable of example `name`, built (with all the others) on first use.
pub fn exe(name: &str) -> &'static Path {
    built()
        .get(name)
        .unwrap_or_else(|| panic!("cargo built no example {name}"))
}

/// A command that runs example `name` with `args` from the package root.
pub fn command(name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(exe(name));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// Runs example `name` with `args` and returns its stdout; panics if it fails
/// or has not finished within [`RUN_TIMEOUT`].
pub fn run_example(name: &str, args: &[&str]) -> String {
    run(command(name, args), RUN_TIMEOUT)
}
