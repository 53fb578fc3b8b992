//! The two server binaries: this bench built once with the default
//! features (`introspection` built in) and once without it, by running
//! cargo from the bench. A cargo feature is fixed per build, so the two
//! sides of the comparison cannot live in one binary.
//!
//! Both builds use the same profile (`bench`, what `cargo bench` itself
//! uses), the same flags and one target directory of their own,
//! `<target>/introspect-ab` (the outer `cargo bench` holds the lock on its
//! own); only the feature list differs. Each binary is copied out as soon
//! as it is built, to `<target>/introspect-ab/server-in` and `server-out`.
//! The first run builds the dependencies once more there (minutes); later
//! runs rebuild only what changed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One side of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Default features: the counters are built in (not queried).
    In,
    /// `--no-default-features --features self-signed,metrics`: the other
    /// default features, the counters compiled out.
    Out,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::In => "in",
            Side::Out => "out",
        }
    }

    fn cargo_features(self) -> &'static [&'static str] {
        match self {
            Side::In => &[],
            Side::Out => &["--no-default-features", "--features", "self-signed,metrics"],
        }
    }
}

/// The target directory this bench binary was built in: it runs as
/// `<target>/<profile>/deps/introspect-HASH`.
fn outer_target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("bench binary");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Builds this bench for `side` and returns the path of its copy.
pub fn build(side: Side) -> PathBuf {
    let dir = outer_target_dir().join("introspect-ab");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    eprintln!(
        "building the server with introspection {} ({} …)",
        side.name(),
        dir.display()
    );
    let out = Command::new(cargo)
        .args(["build", "--profile", "bench", "--bench", "introspect"])
        .args(["--message-format", "json-render-diagnostics", "--locked"])
        .args(side.cargo_features())
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo build for introspection {} failed",
        side.name()
    );
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "introspect")
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .expect("cargo named the bench executable");
    let copy = dir.join(format!("server-{}", side.name()));
    std::fs::copy(&exe, &copy).expect("copy the server binary");
    copy
}

/// What `exe --counting` says: whether its counters are built in.
pub fn counting(exe: &Path) -> bool {
    let out = Command::new(exe)
        .arg("--counting")
        .output()
        .expect("run the server binary");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "COUNTING true" => true,
        "COUNTING false" => false,
        other => panic!("{} --counting answered {other:?}", exe.display()),
    }
}
