//! The real OpenMetrics parser the metrics tests check against: Python's
//! `prometheus_client` (`openmetrics.parser`), run as a `python3` child.
//! Present, or a clear skip locally, or a failure under `CI=true` (`.ci/run`
//! installs it), as [`super::tools`] does for whole tools.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde::Deserialize;

/// One metric family as the parser read it.
#[derive(Debug, Clone, Deserialize)]
pub struct Family {
    /// Its name, without a sample suffix (`_total`, `_bucket`, …).
    pub name: String,
    /// `counter`, `gauge`, `histogram`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Its unit, or "".
    pub unit: String,
    /// Its samples, in order.
    pub samples: Vec<Sample>,
}

/// One sample as the parser read it (label values unescaped).
#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    /// Its full name (`switchboard_loop_iterations_total`).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// True when `python3` can import `prometheus_client`'s OpenMetrics parser.
/// When it cannot: under `CI=true` the test fails; elsewhere it prints
/// `SKIPPED (no python3 prometheus_client)` and the caller skips what
/// needs it.
pub fn have_prometheus_client() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        super::tools::skip("python3 prometheus_client");
    }
    ok
}

/// Reads the families out of stdin with the parser and prints them as JSON.
const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
print(json.dumps([
    {"name": f.name, "type": f.type, "unit": f.unit,
     "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
    for f in text_string_to_metric_families(sys.stdin.read())
]))
"#;

/// The families of `text`, parsed with `prometheus_client`; panics with the
/// parser's complaint (and the text) if it rejects it.
pub fn parse(text: &str) -> Vec<Family> {
    let mut child = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(text.as_bytes()).expect("write to python3");
    drop(stdin);
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(
        out.status.success(),
        "prometheus_client rejects the text:\n{}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the parser's JSON")
}

/// The value of the sample `name` with exactly `labels` among `families`;
/// panics, listing what there is, if there is none.
pub fn value(families: &[Family], name: &str, labels: &[(&str, &str)]) -> f64 {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let samples = families.iter().flat_map(|f| &f.samples);
    let found: Vec<&Sample> = samples
        .filter(|s| s.name == name && s.labels == wanted)
        .collect();
    match found[..] {
        [one] => one.value,
        _ => panic!("{} samples {name}{wanted:?} in {families:#?}", found.len()),
    }
}

/// The family `name` among `families`.
pub fn family<'a>(families: &'a [Family], name: &str) -> &'a Family {
    families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}
