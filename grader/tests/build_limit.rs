//! `limits.build`: a crate whose build takes longer than its limit is
//! stopped (cargo and everything it started), and the lab scores nothing
//! with a message that says why.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{grader, hw1_spec_with, kit_with_spec, run};

/// A build script that never ends on its own: it writes its process id,
/// then waits (at most a minute) for a file nobody creates. Cargo runs it
/// again whenever the file `trigger` changes. Both files are in the
/// directory `SHARED_DIR` names, open to every user: a grader that runs as
/// root builds a copy of the crate, as another user.
const BUILD_RS: &str = r#"
use std::path::Path;
use std::time::Duration;

fn main() {
    println!("cargo:rerun-if-changed=trigger");
    let dir = std::env::var("SHARED_DIR").unwrap();
    let dir = Path::new(&dir);
    std::fs::write(dir.join("build-script.pid"), std::process::id().to_string()).unwrap();
    for _ in 0..1200 {
        if dir.join("release").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
"#;

const CARGO_TOML: &str = r#"[package]
name = "hw1-udp-echo"
version = "0.1.0"
edition = "2024"
publish = false
build = "build.rs"

[[bin]]
name = "server"
path = "src/bin/server.rs"

[[bin]]
name = "client"
path = "src/bin/client.rs"

[workspace]
"#;

/// Whether process `pid` is gone, or dying: a zombie, exiting, or with
/// SIGKILL pending. Read once, from `/proc`: no waiting.
fn dead_or_dying(pid: u32) -> Result<(), String> {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Ok(());
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let state = fields.first().copied().unwrap_or("");
    // Field 9 of stat, the 7th after the state: PF_EXITING is 0x4.
    let flags: u64 = fields.get(6).and_then(|f| f.parse().ok()).unwrap_or(0);
    let kill_pending = status.lines().any(|l| {
        (l.starts_with("ShdPnd:") || l.starts_with("SigPnd:"))
            && u64::from_str_radix(l.split_whitespace().nth(1).unwrap_or("0"), 16)
                .is_ok_and(|mask| mask & (1 << 8) != 0)
    });
    if matches!(state, "Z" | "X") || flags & 0x4 != 0 || kill_pending {
        Ok(())
    } else {
        Err(format!("process {pid} is alive (state {state}):\n{status}"))
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A build past `limits.build` is stopped: the grader says so, scores the
/// lab 0 with exit status 1, and the build script it was running is dead.
#[test]
fn a_build_past_its_limit_is_stopped_and_scores_nothing() {
    let spec =
        hw1_spec_with(&["echo"]).replacen("\ntests:\n", "\nlimits:\n  build: 8s\n\ntests:\n", 1);
    let kit = kit_with_spec("build-limit", &spec);
    let lab = kit.0.join("labs/hw1-udp-echo");
    let shared = kit.0.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    write(&lab.join("Cargo.toml"), CARGO_TOML);
    write(&lab.join("build.rs"), BUILD_RS);
    write(&lab.join("src/bin/server.rs"), "fn main() {}\n");
    write(&lab.join("src/bin/client.rs"), "fn main() {}\n");
    // Compile the build script first, as the grader would (with `release`
    // there, it ends at once): the grader's build then only runs it again,
    // within milliseconds, however slowly this machine compiles.
    write(&lab.join("trigger"), "1");
    write(&shared.join("release"), "");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let dirs = grader::kit::Kit::find(Some(&kit.0)).unwrap();
    let built = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(lab.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(dirs.own_target(&lab))
        .arg("--config")
        .arg(format!(
            "build.build-dir=\"{}\"",
            dirs.build_dir_of(&lab).display()
        ))
        .env("SHARED_DIR", &shared)
        .status()
        .unwrap();
    assert!(built.success());
    std::fs::remove_file(shared.join("release")).unwrap();
    std::fs::remove_file(shared.join("build-script.pid")).unwrap();
    write(&lab.join("trigger"), "2");

    let started = Instant::now();
    let (code, out, err) = run(grader()
        .arg("--root")
        .arg(&kit.0)
        .args(["hw1", "--format", "json"])
        .env("SHARED_DIR", &shared));
    let took = started.elapsed();
    // Whatever happened, let a build script that was not stopped end.
    write(&shared.join("release"), "");
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let message = "building labs/hw1-udp-echo took longer than 8s: stopped";
    assert!(err.contains(&format!("grader: {message}\n")), "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"));
    let lab_result = &j["labs"][0];
    assert_eq!(lab_result["builds"], false, "{j:#}");
    let output = lab_result["build_output"].as_str().unwrap();
    assert!(
        output.starts_with(&format!(
            "{message} (the limit is `limits.build` of the lab's spec.yaml)\n"
        )),
        "{output}"
    );
    assert_eq!((&j["score"], &j["failed"]), (&0.into(), &1.into()), "{j:#}");
    // A grader that waited for the build script would take its minute;
    // the limit is 8 s: a wide margin on any machine.
    assert!(
        took < Duration::from_secs(50),
        "the grader waited for the build script ({took:?})"
    );

    let pid: u32 = std::fs::read_to_string(shared.join("build-script.pid"))
        .expect("the build script started within the limit")
        .trim()
        .parse()
        .unwrap();
    dead_or_dying(pid).unwrap();
}
