//! The labs' shared dependencies compile once per kit: every lab and
//! solution crate builds into one cargo build directory
//! (`target/labs/build/`), each into a target directory of its own for its
//! executables, so that every lab's `server` stays its own.

mod common;

use common::{grader, root};

/// Files in `dir` whose names start with `prefix` and end with `suffix`.
fn count(dir: &std::path::Path, prefix: &str, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with(prefix) && n.ends_with(suffix)
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn two_labs_share_their_dependencies_and_keep_their_programs() {
    for (lab, test) in [("hw1", "echo"), ("hw2", "kv")] {
        let out = grader()
            .args([lab, "--solutions", "-t", test, "--seed", "1"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{lab}: {err}");
    }
    let deps = root().join("target/labs/build/debug/deps");
    // nix and clap, once each, whichever lab asked first.
    assert_eq!(
        count(&deps, "libnix-", ".rlib"),
        1,
        "nix in {}",
        deps.display()
    );
    assert_eq!(
        count(&deps, "libclap-", ".rlib"),
        1,
        "clap in {}",
        deps.display()
    );
    let server = |c: &str| std::fs::read(root().join("target/labs").join(c).join("debug/server"));
    let (one, two) = (
        server("solutions-hw1-udp-echo").expect("hw1's server"),
        server("solutions-hw2-kv-store").expect("hw2's server"),
    );
    assert_ne!(one, two, "hw1 and hw2 have the same server");
}
