//! Interrupting the grader mid-test leaves no lab process running.

mod common;
use std::time::{Duration, Instant};

use common::{TempDir, grader};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn running(pid: i32) -> bool {
    // A zombie waiting for its new parent to reap it is not running.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(
            t.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ctrl+C (SIGINT) to the grader kills the programs it started, and their children.
#[test]
fn sigint_to_the_grader_leaves_nothing_running() {
    let top = TempDir::new("interrupt");
    // A "server" that never binds its port (the grader waits for it) and
    // starts a child of its own, recording both process ids in a
    // directory every user may write (a grader that runs as root runs it
    // as another user).
    let (bin, dir) = (top.0.join("bin"), TempDir(top.0.join("pids")));
    std::fs::create_dir(&bin).unwrap();
    std::fs::create_dir(&dir.0).unwrap();
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let script = format!(
        "#!/bin/sh\nsleep 300 &\necho $! > {d}/child.pid\necho $$ > {d}/server.pid.tmp\nmv {d}/server.pid.tmp {d}/server.pid\nexec sleep 300\n",
        d = dir.0.display()
    );
    for role in ["server", "client"] {
        let p = bin.join(role);
        std::fs::write(&p, &script).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let mut child = grader()
        .args(["hw1", "-t", "echo", "--seed", "1", "--bin-dir"])
        .arg(&bin)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pidfile = dir.0.join("server.pid");
    wait_for("the server starting", Duration::from_secs(60), || {
        pidfile.exists()
    });
    let read = |f: &str| {
        std::fs::read_to_string(dir.0.join(f))
            .unwrap()
            .trim()
            .parse::<i32>()
            .unwrap()
    };
    let (server, grandchild) = (read("server.pid"), read("child.pid"));
    assert!(running(server) && running(grandchild));

    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        // Only ends a broken run: the grader stops at once.
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the grader did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("grader: interrupted by SIGINT: stopped 1 running program\n"),
        "{err}"
    );
    wait_for(
        "the server and its child ending",
        Duration::from_secs(30),
        || !running(server) && !running(grandchild),
    );
}
