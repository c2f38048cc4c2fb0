use super::*;

const MINIMAL: &str = "\
lab: hw1
title: UDP echo
binaries: [server, client]
tests:
  - name: echo
    description: the client gets its replies
    nodes:
      - name: server
        run: server
        args: [\"{port}\"]
      - name: client
        run: client
        args: [\"{peer:server}\", --seed, \"{seed}\"]
    steps:
      - start: server
      - start: client
      - wait_exit: client
      - stop: server
    expect:
      client:
        exit: 0
        stdout:
          - repeat: 5
            lines: [\"Request ID: {#}\"]
    wire:
      - answered: { by: server, request: READ_REQ, reply: READ_REP }
";

fn parse(text: &str) -> Result<LabSpec, SpecError> {
    LabSpec::parse(Path::new("labs/hw1/spec.yaml"), text)
}

/// A test of the kit's own scripted forms: serve, repeat, if, random.
const REACTIVE: &str = "\
lab: hw1
title: t
binaries: [server, client]
tests:
  - name: r
    description: d
    vars: { capacity: 3 }
    nodes:
      - name: store
        script:
          - serve:
              rules:
                - { on: WRITE_REQ, store: true, reply: { type: WRITE_REP } }
                - { on: [READ_REQ], reply: { type: READ_REP, value: \"{stored}\" } }
      - name: tester
        script:
          - repeat:
              times: 3
              steps:
                - send: { to: store, type: READ_REQ, key: \"K{random:4}-{i}\" }
                - recv: { from: store, type: [READ_REP, CACHE_HIT], as: a }
                - if: { value: \"{a.type}\", is: READ_REP, then: [{ sleep: 1ms }] }
      - name: client
        run: client
        args: [--capacity, \"{capacity}\"]
    steps: [{ start: store }, { start: tester }, { start: client }, { wait_exit: tester }]
    expect:
      client:
        numbers: [{ line: \"ratio {number}\", at_least: \"{capacity} / 10\" }]
";

#[test]
fn a_minimal_spec_parses() {
    let s = parse(MINIMAL).unwrap();
    assert_eq!(s.tests.len(), 1);
    let t = &s.tests[0];
    assert!(t.node("server").unwrap().listens());
    assert!(!t.node("client").unwrap().listens());
    let escaped = parse(&MINIMAL.replace("args: [\"{port}\"]", "args: ['\\{port\\}']")).unwrap();
    assert!(!escaped.tests[0].node("server").unwrap().listens());
    assert_eq!(t.steps.len(), 4);
    assert_eq!(s.timeout, Dur(Duration::from_secs(10)));
    assert_eq!(t.expect["client"].exit, Some(ExitExpect::Code(0)));
}

#[test]
fn an_unknown_field_is_reported_with_line_and_column() {
    let text = MINIMAL.replace("    description:", "    descripton:");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(6));
    assert!(e.message.contains("unknown field `descripton`"), "{e}");
    assert!(e.message.contains("expected one of"), "{e}");
    assert!(e.to_string().starts_with("labs/hw1/spec.yaml:6:"), "{e}");
}

#[test]
fn an_unknown_step_names_the_accepted_ones() {
    let text = MINIMAL.replace("- stop: server", "- halt: server");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(18));
    assert!(e.message.contains("unknown variant `halt`"), "{e}");
}

#[test]
fn locations_skip_descriptions_and_hints() {
    let text = MINIMAL
        .replace(
            "description: the client gets its replies",
            "description: the sever answers",
        )
        .replace("- stop: server", "- stop: sever");
    let e = parse(&text).unwrap_err();
    assert_eq!((e.line, e.column), (Some(18), Some(15)), "{e}");
}

#[test]
fn a_reference_to_a_missing_node_is_located() {
    let text = MINIMAL.replace("- stop: server", "- stop: sever");
    let e = parse(&text).unwrap_err();
    assert_eq!((e.line, e.column), (Some(18), Some(15)), "{e}");
    assert!(e.message.contains("no node `sever`"), "{e}");
}

#[test]
fn a_bad_duration_and_probability_are_rejected() {
    let text = MINIMAL.replace("    steps:", "    timeout: 3 parsecs\n    steps:");
    assert!(
        parse(&text)
            .unwrap_err()
            .message
            .contains("invalid duration")
    );
    let text = MINIMAL.replace(
        "    steps:",
        "    network: { faults: { drop: 1.5 } }\n    steps:",
    );
    assert!(parse(&text).unwrap_err().message.contains("probability"));
}

#[test]
fn a_bad_placeholder_is_rejected() {
    let text = MINIMAL.replace("{peer:server}", "{peer:srv}");
    assert!(parse(&text).unwrap_err().message.contains("no node `srv`"));
    let text = MINIMAL.replace("{peer:server}", "{server}");
    assert!(
        parse(&text)
            .unwrap_err()
            .message
            .contains("unknown placeholder")
    );
}

/// MINIMAL's test in flow style, with odd spacing and quoted keys.
const FLOW: &str = "\
lab: hw1
title: UDP echo
binaries: [server, client]
tests:
  - {name: echo, description: the client gets its replies,
     nodes: [ {name: server, run: server, args: [\"{port}\"]},
              { \"name\" :  client,  'run': client, args: [\"{peer:server}\"] } ],
     steps: [ {start:   server}, {  start : client }, {wait_exit: client}, {  stop : server } ],
     expect: { \"client\" : {exit: 0} } }
";

/// The line and column where `marker`, found once in `text`, starts.
fn place_of(text: &str, marker: &str) -> (Option<usize>, Option<usize>) {
    assert_eq!(text.matches(marker).count(), 1, "`{marker}` in:\n{text}");
    let before = &text[..text.find(marker).unwrap()];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (Some(line), Some(column))
}

/// Each `(from, to)` change of `base` is an error that says `says`,
/// located where `marker` starts in the changed text.
fn located_at(base: &str, cases: &[(&str, &str, &str, &str)]) {
    for &(from, to, says, marker) in cases {
        assert!(base.contains(from), "{from}");
        let text = base.replacen(from, to, 1);
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains(says), "expected `{says}` in: {e}");
        assert_eq!(
            (e.line, e.column),
            place_of(&text, marker),
            "{to}: {e}\n{text}"
        );
    }
}

#[test]
fn errors_in_flow_style_are_located_at_their_node() {
    parse(FLOW).unwrap();
    located_at(
        FLOW,
        &[
            // A node name as a value, after odd spacing.
            (
                "{  stop : server }",
                "{  stop : sevrer }",
                "test `echo` has no node `sevrer`",
                "sevrer",
            ),
            // A step as a whole: its `{`.
            (
                "{  start : client }",
                "{  start : server }",
                "node `server` is started twice",
                "{  start : server }",
            ),
            // A value after a quoted key, in a flow mapping for a node.
            (
                "'run': client",
                "'run': clint",
                "runs `clint`, which is not one of the lab's binaries",
                "clint",
            ),
            (
                "{  stop : server }",
                "{  stop : {  node :   sevrer, within: 1s } }",
                "test `echo` has no node `sevrer`",
                "sevrer",
            ),
            (
                "{wait_exit: client}",
                "{\"wait_exit\":   clinet}",
                "test `echo` has no node `clinet`",
                "clinet",
            ),
            // A pattern, at its opening quote.
            (
                "\"{peer:server}\"",
                "\"{peer:srv}\"",
                "test `echo` has no node `srv`",
                "\"{peer:srv}\"",
            ),
            // A node name as a quoted key.
            (
                "\"client\" : {exit: 0}",
                "\"clinet\" : {exit: 0}",
                "test `echo` has no node `clinet`",
                "\"clinet\"",
            ),
        ],
    );
}

#[test]
fn an_error_in_an_unrolled_step_is_located_where_it_was_written() {
    let groups = FLOW
        .replace(
            "{name: server, run: server, args: [\"{port}\"]}",
            "{name: server, run: server, args: [\"{port}\"], count: 2}",
        )
        .replace(
            "\"{peer:server}\"",
            "--verbose, \"{peers:server}\", \"{seed}\"",
        );
    parse(&groups).unwrap();
    located_at(
        &groups,
        &[
            (
                "{  stop : server } ]",
                "{  stop : server }, { kill: server1 } ]",
                "the step `kill` acts on `server1`, which has already ended by this step",
                "{ kill: server1 }",
            ),
            // `{peers:server}` became two arguments: the one after is the third written.
            (
                "\"{seed}\"",
                "\"{sed}\"",
                "unknown placeholder `{sed}`",
                "\"{sed}\"",
            ),
        ],
    );
}

#[test]
fn an_error_in_a_file_of_extra_tests_is_located_in_that_file() {
    let dir = std::env::temp_dir().join(format!("grader-extra-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hidden.yaml");
    let (_, tests) = FLOW.split_once("tests:\n").unwrap();
    let extra = format!(
        "# hidden\nlab: hw1\ntests:\n{}",
        tests
            .replace("{name: echo,", "{name: echo-hidden,")
            .replace("{  stop : server }", "{  stop : sevrer }")
    );
    std::fs::write(&path, &extra).unwrap();
    let file = ExtraFile::load(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    let mut spec = parse(MINIMAL).unwrap();
    let e = spec.add(&file.unwrap()).unwrap_err();
    assert_eq!(e.file, path);
    assert!(e.message.contains("no node `sevrer`"), "{e}");
    assert_eq!((e.line, e.column), place_of(&extra, "sevrer"), "{e}");
}

#[test]
fn every_step_node_and_check_of_the_kit_is_where_its_path_says() {
    let kit = crate::kit::Kit::find(None).unwrap();
    for lab in kit.labs().unwrap() {
        let text = std::fs::read_to_string(&lab.spec_path).unwrap();
        let spec = LabSpec::parse(&lab.spec_path, &text).unwrap();
        let places = place::Places::of(&text);
        for (i, t) in spec.tests.iter().enumerate() {
            let test = NodePath::root().key("tests").index(i);
            let mut paths = Vec::new();
            for (k, s) in t.steps.iter().enumerate() {
                let item = test.key("steps").index(t.written.steps[k]);
                paths.push(item.key(s.name()));
            }
            for (k, w) in t.wire.iter().enumerate() {
                paths.push(test.key("wire").index(k).key(w.name()));
            }
            for (k, n) in t.nodes.iter().enumerate() {
                let node = test.key("nodes").index(t.written.nodes[k]);
                for &a in &t.written.args[k] {
                    paths.push(node.key("args").index(a));
                }
                paths.push(node.key(if n.is_script() { "script" } else { "run" }));
            }
            for written in t.written.expect.values() {
                paths.push(test.key("expect").key(written));
            }
            for p in paths {
                assert!(places.has(&p), "{}: no {p}", lab.spec_path.display());
            }
        }
    }
}

#[test]
fn durations_parse() {
    assert_eq!(Dur::parse("250ms").unwrap().0, Duration::from_millis(250));
    assert_eq!(Dur::parse("1.5s").unwrap().0, Duration::from_millis(1500));
    assert_eq!(Dur::parse("1m").unwrap().0, Duration::from_secs(60));
    assert!(Dur::parse("5").is_err());
    assert!(Dur::parse("-1s").is_err());
    for loose in [".5s", "2 s", " 2s", "1.s", "1e3ms", "2sec"] {
        assert!(Dur::parse(loose).is_err(), "{loose}");
    }
    assert_eq!(Dur::parse("2s").unwrap().to_string(), "2s");
}

#[test]
fn link_faults_override_defaults() {
    let n: NetworkSpec = serde_yaml::from_str(
        "faults: { drop: 0.1, delay: 5ms }\nlinks: [{ from: a, to: b, drop: 0.5 }]",
    )
    .unwrap();
    assert_eq!(n.faults_for("a", "b").drop, 0.5);
    assert_eq!(n.faults_for("a", "b").delay.0, Duration::from_millis(5));
    assert_eq!(n.faults_for("b", "a").drop, 0.1);
}

#[test]
fn the_location_phrase_is_taken_out_of_messages() {
    assert_eq!(
        strip_location("bad at line 3 column 1, while scanning"),
        "bad, while scanning"
    );
    assert_eq!(strip_location("bad at line 12 column 5"), "bad");
    assert_eq!(strip_location("no place"), "no place");
}

#[test]
fn hex_parses() {
    assert_eq!(parse_hex("00 41 ff").unwrap(), vec![0, 0x41, 0xff]);
    assert!(parse_hex("0").is_err());
    assert!(parse_hex("zz").is_err());
}

#[test]
fn reactive_scripts_and_numbers_validate() {
    parse(REACTIVE).unwrap();
    for (from, to, says) in [
        (
            "K{random:4}-{i}",
            "K{i}{random:0}",
            "must be a whole number above 0",
        ),
        ("{stored}", "{stowed}", "unknown placeholder `{stowed}`"),
        ("ratio {number}", "ratio {num}", "has no `{number}`"),
        ("{capacity} / 10", "{cap} / 10", "no variable `cap`"),
        (
            "is: READ_REP, then",
            "is: READ_REP, than",
            "unknown field `than`",
        ),
    ] {
        let text = REACTIVE.replace(from, to);
        assert_ne!(text, REACTIVE, "{from}");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains(says), "{to}: {e}");
    }
    // `{i}` means something only inside a repeat.
    let text = REACTIVE.replace(
        "      - name: client\n",
        "          - send: { to: store, type: READ_REQ, key: \"{i}\" }\n      - name: client\n",
    );
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("unknown placeholder `{i}`"), "{e}");
}

/// MINIMAL with one `forge` rule of the server's first replies.
fn with_forge() -> String {
    MINIMAL.replace(
        "    steps:",
        "    network:\n      rules:\n        - forge: { from: server, to: client, type: READ_REP, copy: [1], sender: stranger }\n    steps:",
    )
}

#[test]
fn a_forge_rule_parses_and_prints_as_written() {
    let text = with_forge().replace(
        "sender: stranger }",
        "sender: stranger, retype: WRITE_REP, key: other, value: V, bytes: 20 }",
    );
    let s = parse(&text).unwrap();
    let rule = &s.tests[0].network.rules[0];
    assert!(!rule.decides());
    assert_eq!(
        rule.to_string(),
        "forge { from: server, to: client, type: READ_REP, copy: [1], sender: stranger, retype: WRITE_REP, key: other, value: V, bytes: 20 }"
    );
    assert_eq!(
        rule.matcher().forgery(),
        "from a stranger, type WRITE_REP, another key, value V, 20 bytes"
    );
}

#[test]
fn forge_rules_are_validated_where_they_are_written() {
    let base = with_forge();
    parse(&base).unwrap();
    located_at(
        &base,
        &[
            (
                ", sender: stranger }",
                " }",
                "a `forge` rule changes something",
                "{ from: server, to: client, type: READ_REP, copy: [1] }",
            ),
            (
                "sender: stranger",
                "bytes: 0",
                "`bytes` is from 1 to 65507",
                "0 }",
            ),
            ("sender: stranger", "bytes: 65508", "not 65508", "65508"),
            (
                "sender: stranger",
                "retype: NOPE",
                "unknown message type `NOPE`",
                // As an unknown `type`: the parser places it at the rule.
                "{ from: server",
            ),
            (
                "sender: stranger",
                "sender: client",
                "`sender` is `stranger`",
                "client }",
            ),
            (
                "sender: stranger",
                "key: ABCDEFGHIJKLMNOPQ",
                "`ABCDEFGHIJKLMNOPQ` has 17 bytes",
                "ABCDEFGHIJKLMNOPQ",
            ),
            (
                "sender: stranger",
                "key: ''",
                "`key` is `other` or a key of 1 to 15 bytes",
                "''",
            ),
            (
                "sender: stranger",
                "value: ABCDEFGHIJKLMNOPQ",
                "`value` holds at most 15 bytes",
                "ABCDEFGHIJKLMNOPQ",
            ),
            (
                "- forge: { from: server, to: client, type: READ_REP, copy: [1], sender: stranger }",
                "- drop: { from: server, to: client, type: READ_REP, copy: [1], value: X }",
                "only a `forge` rule takes `value`",
                "X }",
            ),
            (
                "sender: stranger }",
                "sender: stranger, by: 5ms }",
                "only a `delay` or a `duplicate` rule takes `by`",
                "forge: {",
            ),
        ],
    );
}
