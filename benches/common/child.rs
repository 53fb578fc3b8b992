//! One measurement run in a child process of the bench binary, so each
//! runtime is measured alone (and pinned to core 0 when asked): the parent
//! re-executes itself with `--run ARGS...`, the child does the work and prints
//! `RESULT <rate per CPU-second> <rate per wall-second>`.

use std::process::Command;
use std::str::FromStr;

/// User + system CPU seconds of this process so far (`getrusage(RUSAGE_SELF)`;
/// children excluded).
pub fn process_cpu_self() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let u = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage(RUSAGE_SELF)");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
    secs(u.user_time()) + secs(u.system_time())
}

/// The environment variable `name` parsed, or `default`.
pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// True when `taskset -c 0` works here.
pub fn can_pin() -> bool {
    Command::new("taskset")
        .args(["-c", "0", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Prints what [`measure`] reads: `count` units done in `wall` seconds and
/// `cpu` CPU-seconds.
pub fn report(count: f64, wall: f64, cpu: f64) {
    println!("RESULT {} {}", count / cpu, count / wall);
}

/// Re-executes this bench binary with `--run ARGS...` (under `taskset -c 0`
/// if `pin`, with `envs` set) and returns its (per CPU-second, per
/// wall-second) rates.
pub fn measure(args: &[&str], pin: bool, envs: &[(&str, &str)]) -> (f64, f64) {
    measure_on(args, pin.then_some("0"), envs)
}

/// [`measure`] under `taskset -c CPUS` when `cpus` is given.
pub fn measure_on(args: &[&str], cpus: Option<&str>, envs: &[(&str, &str)]) -> (f64, f64) {
    let exe = std::env::current_exe().expect("bench binary");
    let mut cmd = if let Some(cpus) = cpus {
        let mut c = Command::new("taskset");
        c.args(["-c", cpus]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.arg("--run").args(args).envs(envs.iter().copied());
    let out = cmd.output().expect("run the bench child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?} failed:\n{stdout}\n{}",
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
