use super::*;

const INITIAL: &str = "v0";

fn op(client: usize, kind: OpKind, call: u64, ret: u64) -> Op {
    Op {
        client: format!("client{client}"),
        key: "k".to_string(),
        kind,
        call: Duration::from_millis(call),
        ret: Some(Duration::from_millis(ret)),
    }
}

/// A write of `value` on key `k`, between `call` and `ret` ms.
fn w(client: usize, value: &str, call: u64, ret: u64) -> Op {
    let value = value.to_string();
    op(client, OpKind::Write { value }, call, ret)
}

/// A read of key `k` that returned `value`, between `call` and `ret` ms.
fn r(client: usize, value: &str, call: u64, ret: u64) -> Op {
    let value = value.to_string();
    op(client, OpKind::Read { value }, call, ret)
}

fn on(key: &str, op: Op) -> Op {
    Op {
        key: key.to_string(),
        ..op
    }
}

fn unanswered(op: Op) -> Op {
    Op { ret: None, ..op }
}

fn violation(ops: &[Op]) -> Violation {
    check_register(ops, INITIAL).expect_err("no violation found")
}

#[test]
fn sequential_histories_are_linearizable() {
    let ops = [
        r(0, "v0", 0, 1),
        w(0, "a", 2, 3),
        r(1, "a", 4, 5),
        w(1, "b", 6, 7),
        r(0, "b", 8, 9),
        w(0, "a", 10, 11),
        r(1, "a", 12, 13),
    ];
    assert_eq!(check_register(&ops, INITIAL), Ok(()));
    assert_eq!(check_register(&[], INITIAL), Ok(()));
}

#[test]
fn a_read_concurrent_with_a_write_may_return_either_value() {
    for value in ["v0", "a"] {
        let ops = [w(0, "a", 0, 10), r(1, value, 2, 8)];
        assert_eq!(check_register(&ops, INITIAL), Ok(()), "read {value}");
    }
}

#[test]
fn a_stale_read_after_a_completed_write_fails_with_both() {
    let ops = [
        w(0, "x", 0, 1),
        r(1, "x", 2, 3),
        w(0, "a", 4, 5),
        r(2, "a", 5, 6),
        r(1, "v0", 7, 8),
        w(2, "b", 9, 10),
    ];
    let found = violation(&ops);
    assert_eq!(found.key, "k");
    assert_eq!(found.ops, [w(0, "a", 4, 5), r(1, "v0", 7, 8)]);
}

#[test]
fn a_stale_read_of_an_older_write_keeps_the_write() {
    let ops = [
        w(0, "a", 0, 1),
        w(1, "b", 2, 3),
        r(2, "b", 4, 5),
        r(2, "a", 6, 7),
    ];
    let found = violation(&ops);
    assert_eq!(
        found.ops,
        [w(0, "a", 0, 1), w(1, "b", 2, 3), r(2, "a", 6, 7)]
    );
}

#[test]
fn a_read_of_a_value_never_written_fails_alone() {
    let ops = [
        w(0, "a", 0, 1),
        r(1, "a", 2, 3),
        r(1, "X", 4, 5),
        w(0, "b", 4, 6),
        r(1, "b", 7, 8),
    ];
    assert_eq!(violation(&ops).ops, [r(1, "X", 4, 5)]);
}

#[test]
fn an_unanswered_write_may_or_may_not_take_effect() {
    for value in ["a", "b"] {
        let ops = [
            w(0, "a", 0, 1),
            unanswered(w(1, "b", 2, 3)),
            r(2, value, 5, 6),
        ];
        assert_eq!(check_register(&ops, INITIAL), Ok(()), "read {value}");
    }
    // But once seen to take effect, it has.
    let ops = [
        w(0, "a", 0, 1),
        unanswered(w(1, "b", 2, 3)),
        r(2, "b", 5, 6),
        r(2, "a", 7, 8),
    ];
    assert_eq!(violation(&ops).ops.len(), 4);
}

#[test]
fn an_unanswered_read_constrains_nothing() {
    let ops = [w(0, "a", 0, 1), unanswered(r(1, "zzz", 2, 3))];
    assert_eq!(check_register(&ops, INITIAL), Ok(()));
}

#[test]
fn reads_cannot_go_back_to_a_value_overwritten() {
    let ops = [
        w(0, "A", 0, 20),
        w(1, "B", 0, 20),
        r(2, "A", 1, 2),
        r(2, "B", 3, 4),
        r(2, "A", 5, 6),
    ];
    let found = violation(&ops);
    assert_eq!(found.ops, ops);
    // Without the last read, A then B is fine.
    assert_eq!(check_register(&ops[..4], INITIAL), Ok(()));
}

#[test]
fn a_return_at_the_instant_of_a_call_does_not_order_them() {
    let ops = [w(0, "a", 0, 5), r(1, "v0", 5, 6)];
    assert_eq!(check_register(&ops, INITIAL), Ok(()));
    let ops = [w(0, "a", 0, 5), r(1, "v0", 6, 7)];
    assert_eq!(violation(&ops).ops.len(), 2);
}

#[test]
fn reads_before_any_write_return_the_initial_value() {
    let ops = [r(0, "", 0, 1), w(1, "a", 2, 3)];
    assert_eq!(check_register(&ops, ""), Ok(()));
    assert!(check_register(&ops, "v0").is_err());
}

#[test]
fn keys_are_independent_and_reported_in_key_order() {
    let fine = [
        on("k1", w(0, "a", 0, 1)),
        on("k2", r(1, "v0", 2, 3)),
        on("k1", r(1, "a", 4, 5)),
    ];
    assert_eq!(check_register(&fine, INITIAL), Ok(()));
    let ops = [
        on("k3", w(0, "a", 0, 1)),
        on("k3", r(1, "v0", 2, 3)),
        on("k2", w(0, "b", 0, 1)),
        on("k2", r(1, "v0", 2, 3)),
        on("k1", r(1, "v0", 2, 3)),
    ];
    let found = violation(&ops);
    assert_eq!(found.key, "k2");
    assert_eq!(found.ops, ops[2..4]);
}

#[test]
fn a_search_that_gives_up_proves_nothing() {
    let ops = [
        w(0, "a", 0, 1),
        w(1, "b", 0, 1),
        r(2, "a", 2, 3),
        r(2, "b", 4, 5),
        r(2, "a", 6, 7),
    ];
    let history: Vec<&Op> = ops.iter().collect();
    assert_eq!(search(&history, INITIAL, 2).outcome, Outcome::Unknown);
    assert_eq!(
        search(&history, INITIAL, MAX_STATES).outcome,
        Outcome::Violated
    );
}

#[test]
fn describe_shows_one_line_per_operation() {
    let found = Violation {
        key: "k".to_string(),
        ops: vec![
            w(0, "a", 12, 14),
            Op {
                client: "c10".to_string(),
                ..unanswered(r(1, "", 15, 0))
            },
        ],
    };
    assert_eq!(
        describe(&found),
        [
            "  client0  write k := a   [12.0 ms, 14.0 ms]",
            "  c10      read  k -> \"\"   [15.0 ms, never]",
        ]
    );
}

/// splitmix64: enough randomness for test histories, and no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// A linearizable history: each client issues an operation as soon as
/// its last one returned, each operation takes effect at a random
/// instant between its call and its return, and reads return what the
/// register held at that instant. One write in 30 goes unanswered,
/// taking effect or not. Times in µs, values unique.
fn random_history(seed: u64, ops: usize, clients: usize, keys: u64) -> Vec<Op> {
    let mut rng = Rng(seed);
    let mut free_at = vec![0; clients];
    // Each op, with the instant it took effect, if it did.
    let mut planned: Vec<(Op, Option<u64>)> = Vec::new();
    for n in 0..ops {
        let client = (0..clients).min_by_key(|&c| free_at[c]).unwrap_or(0);
        let call = free_at[client] + 1 + rng.below(300);
        let at = call + 1 + rng.below(1_000);
        let ret = at + 1 + rng.below(1_000);
        free_at[client] = ret;
        let kind = if rng.below(2) == 0 {
            OpKind::Write {
                value: format!("v{}", n + 1),
            }
        } else {
            OpKind::Read {
                value: String::new(),
            }
        };
        let lost = matches!(kind, OpKind::Write { .. }) && rng.below(30) == 0;
        let took_effect = !lost || rng.below(2) == 0;
        let op = Op {
            client: format!("client{client}"),
            key: format!("key{}", rng.below(keys)),
            kind,
            call: Duration::from_micros(call),
            ret: (!lost).then(|| Duration::from_micros(ret)),
        };
        planned.push((op, took_effect.then_some(at)));
    }
    let mut order: Vec<usize> = (0..ops).filter(|&i| planned[i].1.is_some()).collect();
    order.sort_by_key(|&i| planned[i].1);
    let mut register: HashMap<String, String> = HashMap::new();
    for i in order {
        let op = &mut planned[i].0;
        match &mut op.kind {
            OpKind::Write { value } => {
                register.insert(op.key.clone(), value.clone());
            }
            OpKind::Read { value } => {
                *value = register
                    .get(&op.key)
                    .map_or(INITIAL, String::as_str)
                    .to_string();
            }
        }
    }
    planned.into_iter().map(|(op, _)| op).collect()
}

/// Makes a read in the second half of the history return the value of
/// a write overwritten before the read was called; returns the read.
fn make_stale(ops: &mut [Op]) -> Op {
    let done_before = |a: &Op, b: &Op| a.ret.is_some_and(|ret| ret < b.call);
    let is_write = |o: &Op| matches!(o.kind, OpKind::Write { .. });
    for i in ops.len() / 2..ops.len() {
        let read = &ops[i];
        if is_write(read) || read.ret.is_none() {
            continue;
        }
        let same_key = |o: &&Op| o.key == read.key && is_write(o);
        let old = ops.iter().filter(same_key).find(|old| {
            let overwritten = |new: &&Op| done_before(old, new) && done_before(new, read);
            ops.iter().filter(same_key).any(|new| overwritten(&new))
        });
        if let Some(OpKind::Write { value }) = old.map(|old| old.kind.clone()) {
            ops[i].kind = OpKind::Read { value };
            return ops[i].clone();
        }
    }
    panic!("no read to make stale")
}

/// Wing & Gong's search without its refinements, as an oracle: try
/// every operation no other remaining one must precede.
fn brute_force(ops: &[Op], held: &str) -> bool {
    if ops.iter().all(|o| o.ret.is_none()) {
        return true;
    }
    let must_precede = |a: &Op, b: &Op| a.ret.is_some_and(|ret| ret < b.call);
    (0..ops.len()).any(|i| {
        let first = &ops[i];
        if ops.iter().any(|o| must_precede(o, first)) {
            return false;
        }
        let held = match &first.kind {
            OpKind::Write { value } => value.as_str(),
            OpKind::Read { value } if value == held || first.ret.is_none() => held,
            OpKind::Read { .. } => return false,
        };
        let mut rest = ops.to_vec();
        rest.remove(i);
        brute_force(&rest, held)
    })
}

#[test]
fn small_random_histories_agree_with_brute_force() {
    let mut rng = Rng(99);
    let mut violations = 0;
    for _ in 0..3_000 {
        let n = 1 + rng.below(7) as usize;
        let ops: Vec<Op> = (0..n)
            .map(|i| {
                let call = rng.below(10);
                let ret = call + rng.below(6);
                let value = ["v0", "a", "b"][rng.below(3) as usize];
                let op = if rng.below(2) == 0 {
                    w(i, value, call, ret)
                } else {
                    r(i, value, call, ret)
                };
                if rng.below(6) == 0 {
                    unanswered(op)
                } else {
                    op
                }
            })
            .collect();
        let expected = brute_force(&ops, INITIAL);
        let found = check_register(&ops, INITIAL);
        assert_eq!(found.is_ok(), expected, "{ops:#?}");
        if let Err(found) = found {
            violations += 1;
            assert!(!brute_force(&found.ops, INITIAL), "{ops:#?}");
        }
    }
    assert!(violations > 100, "only {violations} violations");
}

#[test]
fn a_large_random_linearizable_history_passes() {
    for seed in 1..=5 {
        let ops = random_history(seed, 500, 4, 3);
        assert_eq!(check_register(&ops, INITIAL), Ok(()), "seed {seed}");
    }
}

#[test]
fn a_stale_read_in_a_large_history_shrinks_to_a_few_operations() {
    for seed in 1..=5 {
        let mut ops = random_history(seed, 500, 4, 3);
        let stale = make_stale(&mut ops);
        let found = violation(&ops);
        assert_eq!(found.key, stale.key, "seed {seed}");
        assert!(
            (2..=4).contains(&found.ops.len()) && found.ops.contains(&stale),
            "seed {seed}: {:#?}",
            describe(&found)
        );
    }
}

#[test]
fn a_made_up_value_in_a_large_history_shrinks_to_its_read() {
    let mut ops = random_history(7, 500, 4, 3);
    let i = ops
        .iter()
        .rposition(|o| matches!(o.kind, OpKind::Read { .. }) && o.ret.is_some())
        .expect("a read");
    ops[i].kind = OpKind::Read {
        value: "made up".to_string(),
    };
    assert_eq!(violation(&ops).ops, [ops[i].clone()]);
}
