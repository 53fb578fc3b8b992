//! The optional features, which the default suite (`cargo test
//! --workspace`) does not compile: this builds the library once with
//! `tracing` on and `introspection`, `metrics` and `self-signed` off, and
//! runs the span test there (IN12), so neither the feature nor the
//! compiled-out counters can rot unseen.

use std::process::Command;

#[test]
fn in12_tracing_on_and_counters_compiled_out_build_and_trace() {
    let test = "introspect::spans::tests::in12_connections_and_actors_have_spans_and_their_messages_run_inside";
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "test",
            "--no-default-features",
            "--features",
            "tracing",
            "--lib",
            "--",
            "--exact",
            test,
        ])
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the span test did not run:\n{stdout}"
    );
}
