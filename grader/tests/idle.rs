//! `idle` judges what a program asks of the CPU, not what it gets: on a
//! machine whose cores are all taken, a spinning program gets a small
//! share of a CPU, yet fails as it does on an idle machine; a program that
//! blocks passes beside the same load.

mod common;
use common::{BusyLoops, hw1_spec_with, kit_with_spec, other_language};

#[test]
fn idle_cpu_gives_the_same_verdicts_on_a_crowded_machine() {
    // Programs start slowly on a crowded machine; the test's clock stands
    // still meanwhile, so a long start-up limit costs nothing otherwise.
    let spec = hw1_spec_with(&["idle-cpu"]).replacen(
        "\ntimeout: 10s\n",
        "\ntimeout: 10s\nlimits: { startup: 120s }\n",
        1,
    );
    assert!(spec.contains("startup: 120s"), "{spec}");
    let kit = kit_with_spec("idle-crowd", &spec);
    // Ten busy loops per CPU: a spinning program gets under the 10% of a
    // core that `idle-cpu` allows.
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let _crowd = BusyLoops::start(cpus * 10);
    // The course's server polls a non-blocking socket in a loop.
    let (code, out, err) = common::grade_kit(&kit, &["--seed", "1"], &other_language("hw1-course"));
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("server was running or waiting to run for") && out.contains("is busy polling"),
        "{out}"
    );
    // A server that blocks in recvfrom(2) waits for no CPU.
    let (code, out, err) = common::grade_kit(&kit, &["--seed", "1"], &other_language("hw1-python"));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
}
