use super::*;
use std::sync::{Arc, Barrier};

/// With one worker, items start in the order given, and `each` still
/// sees every result in the order of the items.
#[test]
fn items_start_in_the_order_given_and_are_shown_in_their_own() {
    let items = ["a", "b", "c", "d"];
    let started = Mutex::new(Vec::new());
    let mut shown = Vec::new();
    let out = in_parallel_ordered(
        &items,
        &[2, 0, 3, 1],
        Jobs::fixed(1),
        |&x| {
            started.lock().unwrap().push(x);
            x.to_uppercase()
        },
        |_| false,
        |i, r| shown.push((i, r.clone())),
    );
    assert_eq!(started.into_inner().unwrap(), ["c", "a", "d", "b"]);
    let expect: Vec<(usize, String)> = (0..4).map(|i| (i, items[i].to_uppercase())).collect();
    assert_eq!(shown, expect);
    assert_eq!(out.len(), 4);
    assert!(out.iter().all(Option::is_some));
}

/// Once `enough` holds, nothing more starts: in the order of starts,
/// not of the items.
#[test]
fn enough_stops_the_starts_in_their_order() {
    let items = [0, 1, 2, 3];
    let out = in_parallel_ordered(
        &items,
        &[3, 2, 1, 0],
        Jobs::fixed(1),
        |&x| x,
        |&r| r == 2,
        |_, _| {},
    );
    assert_eq!(out, [None, None, Some(2), Some(3)]);
}

/// The floor runs at once whatever the load: three items that each wait
/// for the other two finish only if all three run together.
#[test]
fn the_floor_runs_together() {
    let items = [0, 1, 2];
    let meet = Barrier::new(3);
    let jobs = Jobs {
        floor: 3,
        ceiling: 3,
    };
    let out = in_parallel(
        &items,
        jobs,
        |&x| {
            meet.wait();
            x
        },
        |_, _| {},
    );
    assert_eq!(out, [0, 1, 2]);
}

/// An item starts only once its gate is open: the items of gate 1 see
/// the flag the opener set just before opening it, and run while the
/// opener still works (the items of gate 0 finish before it returns).
#[test]
fn an_item_waits_for_its_gate() {
    let items = [(0, 'a'), (1, 'b'), (0, 'c'), (1, 'd')];
    let order = [1, 0, 3, 2];
    let opened = AtomicBool::new(false);
    let first_done = Arc::new(Barrier::new(3));
    let pool = Pool {
        order: &order,
        jobs: Jobs::fixed(4),
        gates: 2,
        gate_of: &|&(g, _)| g,
    };
    let out = pool.run(
        &items,
        |g| {
            g.open(0);
            // Both items of gate 0 run before gate 1 opens.
            first_done.wait();
            opened.store(true, Ordering::SeqCst);
            g.open(1);
        },
        |&(gate, c)| {
            if gate == 0 {
                first_done.wait();
            } else {
                assert!(
                    opened.load(Ordering::SeqCst),
                    "{c} started before its gate opened"
                );
            }
            c
        },
        |_| false,
        |_, _| {},
    );
    assert_eq!(out, [Some('a'), Some('b'), Some('c'), Some('d')]);
}

/// The items of a shut gate, and of a gate the opener left closed, never
/// start, are `None`, and are not shown; the others are.
#[test]
fn a_shut_gate_never_starts_its_items() {
    let items = [0usize, 1, 2, 0, 1, 2];
    let order: Vec<usize> = (0..items.len()).collect();
    let ran = Mutex::new(Vec::new());
    let mut shown = Vec::new();
    let pool = Pool {
        order: &order,
        jobs: Jobs::fixed(2),
        gates: 3,
        gate_of: &|&g| g,
    };
    let out = pool.run(
        &items,
        |g| {
            g.shut(1);
            g.open(0);
            // Gate 2 is left closed: it is shut when the opener returns.
        },
        |&g| {
            ran.lock().unwrap().push(g);
            g
        },
        |_| false,
        |i, _| shown.push(i),
    );
    assert_eq!(out, [Some(0), None, None, Some(0), None, None]);
    assert_eq!(ran.into_inner().unwrap(), [0, 0]);
    assert_eq!(shown, [0, 3]);
}

/// Results are shown only once the opener is done, so that nothing is
/// printed between a build's lines.
#[test]
fn nothing_is_shown_while_gates_are_being_opened() {
    let items = [0, 1];
    let order = [0, 1];
    let opener_done = AtomicBool::new(false);
    let finished = Arc::new(Barrier::new(2));
    let pool = Pool {
        order: &order,
        jobs: Jobs::fixed(2),
        gates: 2,
        gate_of: &|&g| g,
    };
    let mut shown = 0;
    pool.run(
        &items,
        |g| {
            g.open(0);
            // Item 0 has finished and sent its result before gate 1 opens.
            finished.wait();
            // Item 0's result is on its way: a pool that showed results
            // while gates were still being opened would show it now.
            std::thread::sleep(Duration::from_millis(1));
            opener_done.store(true, Ordering::SeqCst);
            g.open(1);
        },
        |&x| {
            if x == 0 {
                finished.wait();
            }
            x
        },
        |_| false,
        |_, _| {
            assert!(opener_done.load(Ordering::SeqCst));
            shown += 1;
        },
    );
    assert_eq!(shown, 2);
}

/// `-j N` is N at once; the default grows with the CPUs, its ceiling
/// never below its floor.
#[test]
fn jobs_fixed_and_per_cpu() {
    assert_eq!(Jobs::fixed(0), Jobs::fixed(1));
    assert_eq!(Jobs::fixed(5).ceiling, 5);
    let j = Jobs::per_cpu(2, 6);
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    assert_eq!((j.floor, j.ceiling), (2 * cpus, 6 * cpus));
    assert_eq!(Jobs::per_cpu(3, 1).ceiling, Jobs::per_cpu(3, 1).floor);
}

/// `/proc/stat`'s first line: idle is `idle` plus `iowait`, of all the
/// ticks; a line that is not the CPUs' is no reading.
#[test]
fn cpu_times_from_proc_stat() {
    let t = CpuTimes::parse("cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 1 2 3 4 5\n").unwrap();
    assert_eq!(
        t,
        CpuTimes {
            idle: 820,
            total: 981
        }
    );
    let later = CpuTimes {
        idle: 880,
        total: 1081,
    };
    assert!((later.idle_share_since(&t) - 0.6).abs() < 1e-9);
    assert_eq!(t.idle_share_since(&t), 0.0);
    assert_eq!(CpuTimes::parse("intr 1 2 3\n"), None);
    assert_eq!(CpuTimes::parse("cpu  1 2\n"), None);
    assert!(CpuTimes::now().is_some(), "this machine has /proc/stat");
}

/// Above the floor, a start needs a whole window in which the CPUs
/// were idle [`SPARE`] of the time: the first reading only starts a
/// window, a reading within it admits nothing, and each admission starts
/// the next window.
#[test]
fn above_the_floor_a_start_needs_an_idle_window() {
    let throttle = Throttle::new(Jobs {
        floor: 1,
        ceiling: 4,
    });
    let mut s = throttle.state.lock().unwrap();
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let reading = |idle: u64, total: u64| CpuTimes { idle, total };
    assert!(
        !throttle.spare_at(&mut s, at(0), reading(0, 0)),
        "no window yet"
    );
    assert!(
        !throttle.spare_at(&mut s, at(10), reading(100, 100)),
        "within the window"
    );
    assert!(
        throttle.spare_at(&mut s, at(60), reading(50, 100)),
        "half idle"
    );
    assert!(
        !throttle.spare_at(&mut s, at(70), reading(100, 120)),
        "a new window began"
    );
    assert!(
        !throttle.spare_at(&mut s, at(130), reading(60, 200)),
        "busy: 10 of 100 idle"
    );
    assert!(
        throttle.spare_at(&mut s, at(190), reading(120, 300)),
        "idle again"
    );
}
