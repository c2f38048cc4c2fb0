use super::*;

fn line(pattern: &str) -> Item {
    Item::Line(pattern.to_owned())
}

fn lines(patterns: &[&str]) -> Vec<Item> {
    patterns.iter().map(|p| line(p)).collect()
}

fn no_vars() -> Vars {
    Vars::new()
}

fn exact(expected: &[Item], actual: &[&str]) -> Result<(), Mismatch> {
    match_exact(expected, actual, &no_vars())
}

fn includes(expected: &[Item], actual: &[&str]) -> Result<(), Mismatch> {
    match_includes(expected, actual, &no_vars())
}

/// Whether one pattern matches one line, for the pattern-syntax tests.
fn is_match(pattern: &str, text: &str) -> bool {
    exact(&[line(pattern)], &[text]).is_ok()
}

fn mismatch(line: usize, expected: &str, actual: &str, note: Option<&str>) -> Mismatch {
    Mismatch {
        line,
        expected: expected.to_owned(),
        actual: actual.to_owned(),
        note: note.map(str::to_owned),
    }
}

#[test]
fn literals_match_only_themselves() {
    assert!(is_match("Write is Done", "Write is Done"));
    assert!(!is_match("Write is Done", "Write is done"));
    assert!(!is_match("Write is Done", "Write is Done!"));
    assert!(!is_match("Write is Done", "Write is"));
    assert!(is_match("", ""));
    assert!(!is_match("", " "));
}

#[test]
fn wildcards_match_at_start_middle_and_end() {
    assert!(is_match("*Done", "Write is Done"));
    assert!(is_match("Write*Done", "Write is Done"));
    assert!(is_match("Write*", "Write is Done"));
    assert!(is_match("Write*", "Write"));
    assert!(is_match("*", ""));
    assert!(!is_match("*Done", "Done!"));
}

#[test]
fn several_wildcards_backtrack() {
    assert!(is_match("a*b*c", "abc"));
    assert!(is_match("a*b*c", "a-b-b-c"));
    assert!(is_match("a*b*c", "abcbc"));
    assert!(!is_match("a*b*c", "a-c-b"));
    assert!(is_match("**x", "yyx"));
    assert!(is_match(
        "Type: * Key: * Value: *",
        "Type: READ_REQ Key: k Value: v"
    ));
}

#[test]
fn captures_bind_and_back_references_compare() {
    assert!(is_match("Key: {key}", "Key: AAAA"));
    assert!(!is_match("Key: {key}", "Key: "));
    assert!(!is_match("Key: {key}", "Key: AA AA"));
    assert!(is_match("{a}-{b}", "x-y"));
    assert!(is_match("{k} and {k}", "abc and abc"));
    assert!(!is_match("{k} and {k}", "abc and abd"));
    // Bound on one line, compared on the next.
    let expected = lines(&["REQ Key: {key}", "REP Key: {key}"]);
    assert_eq!(
        exact(&expected, &["REQ Key: AAAA", "REP Key: AAAA"]),
        Ok(())
    );
    assert_eq!(
        exact(&expected, &["REQ Key: AAAA", "REP Key: BBBB"]),
        Err(mismatch(
            2,
            "REP Key: AAAA",
            "REP Key: BBBB",
            Some("`{key}` was bound to `AAAA` on line 1, and this line has `BBBB`"),
        ))
    );
}

#[test]
fn captures_stop_where_the_rest_of_the_pattern_needs_them_to() {
    assert!(is_match("({id})", "(42)"));
    assert!(is_match("{id},{id}", "7,7"));
    assert!(!is_match("{id},{id}", "7,8"));
}

#[test]
fn pre_bound_vars_are_compared() {
    let vars = Vars::from([("seed".to_owned(), "42".to_owned())]);
    assert_eq!(
        match_exact(&[line("seed={seed}")], &["seed=42"], &vars),
        Ok(())
    );
    assert_eq!(
        match_exact(&[line("seed={seed}")], &["seed=43"], &vars),
        Err(mismatch(
            1,
            "seed=42",
            "seed=43",
            Some("`{seed}` is `42`, given by the grader, and this line has `43`"),
        ))
    );
}

#[test]
fn repetition_index_counts_from_zero() {
    let expected = [
        line("Request ID: {#}"),
        Item::Repeat {
            times: 3,
            lines: lines(&["Request ID: {#}"]),
        },
    ];
    let actual = [
        "Request ID: 0",
        "Request ID: 0",
        "Request ID: 1",
        "Request ID: 2",
    ];
    assert_eq!(exact(&expected, &actual), Ok(()));
    let wrong = [
        "Request ID: 0",
        "Request ID: 0",
        "Request ID: 2",
        "Request ID: 2",
    ];
    assert_eq!(
        exact(&expected, &wrong),
        Err(mismatch(
            3,
            "Request ID: 1",
            "Request ID: 2",
            Some("in repetition 2 of 3 of a repeated block (`{#}` = 1)"),
        ))
    );
}

#[test]
fn each_repetition_binds_afresh() {
    let expected = [Item::Repeat {
        times: 2,
        lines: lines(&["REQ Key: {key}", "REP Key: {key}"]),
    }];
    let actual = [
        "REQ Key: AAAA",
        "REP Key: AAAA",
        "REQ Key: BBBB",
        "REP Key: BBBB",
    ];
    assert_eq!(exact(&expected, &actual), Ok(()));
    let wrong = [
        "REQ Key: AAAA",
        "REP Key: AAAA",
        "REQ Key: BBBB",
        "REP Key: AAAA",
    ];
    let m = exact(&expected, &wrong).unwrap_err();
    assert_eq!((m.line, m.expected.as_str()), (4, "REP Key: BBBB"));
    assert_eq!(
        m.note.as_deref(),
        Some(
            "in repetition 2 of 2 of a repeated block (`{#}` = 1)\n\
                 `{key}` was bound to `BBBB` on line 3, and this line has `AAAA`"
        )
    );
}

#[test]
fn bindings_from_outside_a_repeat_are_visible_inside() {
    let expected = [
        line("server {port}"),
        Item::Repeat {
            times: 2,
            lines: lines(&["sent to {port}"]),
        },
    ];
    let actual = ["server 9000", "sent to 9000", "sent to 9000"];
    assert_eq!(exact(&expected, &actual), Ok(()));
    let wrong = ["server 9000", "sent to 9000", "sent to 9001"];
    assert_eq!(exact(&expected, &wrong).unwrap_err().line, 3);
    // A binding made inside does not leak out after the block.
    let expected = [
        Item::Repeat {
            times: 1,
            lines: lines(&["got {x}"]),
        },
        line("then {x}"),
    ];
    assert_eq!(exact(&expected, &["got 1", "then 2"]), Ok(()));
}

#[test]
fn unordered_lines_match_in_any_order() {
    let expected = [
        Item::Unordered(vec![
            "Write is Done".into(),
            "Type: * Key: {k2} Value: *".into(),
        ]),
        line("again {k2}"),
    ];
    let one = [
        "Write is Done",
        "Type: WRITE_REP Key: K Value: V",
        "again K",
    ];
    let other = [
        "Type: WRITE_REP Key: K Value: V",
        "Write is Done",
        "again K",
    ];
    assert_eq!(exact(&expected, &one), Ok(()));
    assert_eq!(exact(&expected, &other), Ok(()));
}

#[test]
fn unordered_backtracks_when_the_first_choice_is_wrong() {
    let group = [Item::Unordered(vec!["*".into(), "b".into()])];
    assert_eq!(exact(&group, &["b", "x"]), Ok(()));
}

#[test]
fn unordered_failure_names_the_lines_left() {
    let group = [Item::Unordered(vec![
        "Write is Done".into(),
        "Read is Done".into(),
    ])];
    assert_eq!(
        exact(&group, &["Hello", "Write is Done"]),
        Err(mismatch(
            1,
            "Write is Done\nRead is Done",
            "Hello",
            Some("none of the 2 unordered lines above matched (of a group of 2, in any order)"),
        ))
    );
    assert_eq!(
        exact(&group, &["Read is Done", "Hello"]),
        Err(mismatch(
            2,
            "Write is Done",
            "Hello",
            Some("the last line left of an unordered group of 2"),
        ))
    );
    assert_eq!(
        exact(&group, &["Read is Done"]),
        Err(mismatch(
            2,
            "Write is Done",
            END_OF_OUTPUT,
            Some("the last line left of an unordered group of 2"),
        ))
    );
}

#[test]
fn includes_skips_other_lines_but_keeps_order() {
    let expected = lines(&["start", "Key: {k}", "done {k}"]);
    let actual = [
        "debug", "start", "noise", "Key: A", "more", "done A", "tail",
    ];
    assert_eq!(includes(&expected, &actual), Ok(()));
    assert!(exact(&expected, &actual).is_err());
    assert_eq!(
        includes(&lines(&["b", "a"]), &["a", "b"]),
        Err(mismatch(
            3,
            "a",
            END_OF_OUTPUT,
            Some(
                "not found: the output ends at line 2, which matched the previous expected line\n\
                     line 1, before the search started, matches it: is the output out of order?"
            ),
        ))
    );
}

#[test]
fn includes_failure_says_where_the_search_started() {
    let actual = ["one", "two", "three"];
    assert_eq!(
        includes(&lines(&["one", "four"]), &actual),
        Err(mismatch(
            4,
            "four",
            END_OF_OUTPUT,
            Some("not found after line 1, which matched the previous expected line"),
        ))
    );
    assert_eq!(
        includes(&lines(&["four"]), &actual),
        Err(mismatch(
            4,
            "four",
            END_OF_OUTPUT,
            Some("not found anywhere in the output")
        ))
    );
    let m = includes(
        &lines(&["Key: {k}", "Value of {k}"]),
        &["Key: A", "Value of B"],
    )
    .unwrap_err();
    assert_eq!(
        m.note.as_deref(),
        Some(
            "not found after line 1, which matched the previous expected line\n\
                 line 2 would match, but `{k}` was bound to `A` on line 1, and this line has `B`"
        )
    );
}

#[test]
fn includes_unordered_lines_may_be_scattered() {
    let expected = [Item::Unordered(vec!["b".into(), "a".into()]), line("c")];
    assert_eq!(includes(&expected, &["x", "a", "y", "b", "c"]), Ok(()));
    assert_eq!(
        includes(&expected, &["a", "c"]),
        Err(mismatch(
            3,
            "b",
            END_OF_OUTPUT,
            Some("not found anywhere in the output: 1 of the 2 lines of an unordered group"),
        ))
    );
}

#[test]
fn escapes_are_literal() {
    assert!(is_match(r"a\*b", "a*b"));
    assert!(!is_match(r"a\*b", "axb"));
    assert!(is_match(r"\{key\}", "{key}"));
    assert!(!is_match(r"\{key\}", "AAAA"));
    assert!(is_match(r"C:\\dir", r"C:\dir"));
    // The expected line shows them escaped, as the spec wrote them.
    assert_eq!(
        exact(&[line(r"\{x\} \* {y}")], &["nope"])
            .unwrap_err()
            .expected,
        r"\{x\} \* {y}"
    );
}

#[test]
fn trailing_empty_lines_are_ignored_only_at_the_end() {
    let expected = lines(&["a", "b"]);
    assert_eq!(exact(&expected, &["a", "b", "", "  "]), Ok(()));
    assert_eq!(exact(&expected, &["a", "", "b"]).unwrap_err().line, 2);
    // An expected empty line must still be there.
    assert_eq!(exact(&lines(&["a", ""]), &["a", ""]), Ok(()));
    assert_eq!(
        exact(&lines(&["a", ""]), &["a"]),
        Err(mismatch(2, "", END_OF_OUTPUT, None))
    );
}

#[test]
fn wrong_line_gives_its_number_and_both_texts() {
    let expected = lines(&["Request ID: {#}", "Type: READ_REQ Key: {key} Value: *"]);
    assert_eq!(
        exact(
            &expected,
            &["Request ID: 0", "Type: READ_REP Key: AAAA Value: x"]
        ),
        Err(mismatch(
            2,
            "Type: READ_REQ Key: {key} Value: *",
            "Type: READ_REP Key: AAAA Value: x",
            None,
        ))
    );
}

#[test]
fn missing_lines_point_past_the_end() {
    assert_eq!(
        exact(&lines(&["a", "b", "c"]), &["a"]),
        Err(mismatch(2, "b", END_OF_OUTPUT, None))
    );
    assert_eq!(
        exact(&lines(&["a"]), &[]),
        Err(mismatch(1, "a", END_OF_OUTPUT, None))
    );
}

#[test]
fn extra_lines_are_reported_with_their_count() {
    assert_eq!(
        exact(&lines(&["a"]), &["a", "b", "c", ""]),
        Err(mismatch(
            2,
            END_OF_OUTPUT,
            "b",
            Some("the output goes on for 2 more lines after the expected transcript ends"),
        ))
    );
    assert_eq!(
        exact(&lines(&["a", "b"]), &["a", "debug", "b"]),
        Err(mismatch(
            2,
            "b",
            "debug",
            Some("line 3 matches it: is line 2 extra?")
        ))
    );
}

#[test]
fn trailing_whitespace_is_pointed_out() {
    assert_eq!(
        exact(&lines(&["done"]), &["done  "])
            .unwrap_err()
            .note
            .as_deref(),
        Some("the actual line ends with whitespace that is not expected")
    );
}

#[test]
fn display_shows_expected_above_actual() {
    let m = mismatch(3, "Key: AAAA", "Key: BBBB", None);
    assert_eq!(
        m.to_string(),
        "line 3:\n  expected: Key: AAAA\n  actual:   Key: BBBB"
    );
    let m = mismatch(2, "a\nb", "", Some("first\nsecond"));
    assert_eq!(
        m.to_string(),
        "line 2:\n  expected: a\n            b\n  actual:   (empty line)\n  note:     first\n            second"
    );
}

#[test]
fn invalid_pattern_at_match_time_is_a_mismatch() {
    let m = exact(&[line("{")], &["x"]).unwrap_err();
    assert_eq!(
        (m.line, m.expected.as_str(), m.actual.as_str()),
        (1, "{", "x")
    );
    assert!(
        m.note
            .unwrap()
            .starts_with("the spec's pattern is invalid: unclosed")
    );
}
