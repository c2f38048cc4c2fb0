//! A client that floods the network fails for that cause, soon, with a
//! short report: the proxy refuses what goes over `limits.send_rate`, the
//! test ends once the flood is established, and the report stays a few
//! lines in every format.

mod common;
use std::path::Path;

use common::{TempDir, hw1_spec_with, kit_with_spec, other_language};
use serde_json::Value;

/// A hw1 client that sends READ_REQs to the port of its first argument in
/// a loop that never waits: at most 5 000 000 of them, for at most 30 s
/// (far longer than hw1's time limit, so only the grader can end it
/// sooner).
const FLOODER: &str = r#"#!/usr/bin/env python3
import socket
import sys
import time

port = int(sys.argv[1])
request = bytes([0]) + b"FLOODFLOODFLOOD\0" + b"AAAABBBBCCCCDDD\0"
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
deadline = time.monotonic() + 30
for i in range(5_000_000):
    if i % 1000 == 0 and time.monotonic() > deadline:
        break
    try:
        sock.sendto(request, ("127.0.0.1", port))
    except OSError:
        pass
"#;

/// `--bin-dir` with the Python hw1 server and the flooder as client.
fn flood_bins(dir: &Path) {
    let python = other_language("hw1-python");
    for file in ["server", "hw1kit.py"] {
        std::fs::copy(python.join(file), dir.join(file)).unwrap();
    }
    let client = dir.join("client");
    std::fs::write(&client, FLOODER).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The flooding client fails `echo` for flooding, within the test's time
/// limit, and the human and JSON reports stay short.
#[test]
fn a_flooding_client_fails_soon_with_a_short_report() {
    let kit = kit_with_spec("flood", &hw1_spec_with(&["echo"]));
    let bins = TempDir::new("flood-bin");
    flood_bins(&bins.0);
    let json = kit.0.join("results.json");
    let (code, out, err) = common::grade_kit(
        &kit,
        &[
            "--seed",
            "3",
            "--format",
            "json",
            "--output",
            json.to_str().unwrap(),
        ],
        &bins.0,
    );
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let summary = out
        .lines()
        .find(|l| l.contains(": flooding (limit 5000 a second)"))
        .unwrap_or_else(|| panic!("no flooding failure:\n{out}"));
    // "client sent N datagrams in T: flooding", with N past the rate.
    let sent: usize = summary
        .trim()
        .strip_prefix("client sent ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(sent > 5000, "{summary}");
    assert!(summary.contains(" datagrams in "), "{summary}");
    assert!(out.contains("refused the other "), "{out}");
    assert!(
        !out.contains("never answered") && !out.contains("still running"),
        "a flood's consequences are not reported as failures of their own:\n{out}"
    );
    assert!(
        out.lines().count() <= 25,
        "{} lines:\n{out}",
        out.lines().count()
    );
    assert!(out.len() <= 4096, "{} bytes:\n{out}", out.len());

    let text = std::fs::read_to_string(&json).unwrap();
    assert!(text.len() <= 16_384, "{} bytes of JSON", text.len());
    let doc: Value = serde_json::from_str(&text).unwrap();
    let run = &doc["labs"][0]["tests"][0]["runs"][0];
    // The flood ended the test: had the grader waited for the flooder, it
    // would have reached the time limit (10 s, which the flooder outlasts)
    // and said `client did not exit within the test's time limit` too. A
    // fact of the record, not a measure of how fast the machine is.
    let failures = run["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{run:#}");
    assert_eq!(failures[0]["kind"], "send_rate");
    assert_eq!(failures[0]["node"], "client");
    assert_eq!(failures[0]["message"], summary.trim());
    let received = run["datagrams"].as_u64().unwrap();
    assert!(received as usize >= sent, "{run:#}");
    assert!(run["datagrams_kept"].as_u64().unwrap() <= 20_000, "{run:#}");
}
