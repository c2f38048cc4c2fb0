//! `forge` rules on hw1: the reference programs ignore what the proxy
//! forges, and clients that accept any sender, any type or any key are
//! caught, by a message that names the forged value.

mod common;

use std::path::Path;

use common::{TempDir, grade_kit, hw1_solution, kit_with_spec, other_language};

/// A spec of one test, `forged`, with hw1's two programs, the client
/// patient (one request, sent once unless a reply is lost), and `rule`.
fn spec(rule: &str, checks: &str) -> String {
    format!(
        "lab: hw1
title: forge
binaries: [server, client]
timeout: 10s
tests:
  - name: forged
    description: a forged datagram reaches a program first
    nodes:
      - {{ name: server, run: server, args: [\"{{port}}\"] }}
      - {{ name: client, run: client, args: [\"{{peer:server}}\", --seed, \"{{seed}}\", --count, \"1\", --timeout-ms, \"2000\", --tries, \"2\"] }}
    network:
      rules:
        - forge: {rule}
    steps:
      - start: server
      - start: client
      - wait_exit: client
      - stop: server
    expect:
      client:
        exit: 0
        stdout:
          - \"Request ID: 0\"
          - \"type: READ_REQ Key: {{key}} Value: AAAABBBBCCCCDDD\"
          - \"Type: READ_REP Key: {{key}} Value: DDDCCCCBBBBAAAA\"
{checks}"
    )
}

/// What the client's forgeries are made from: the server's first reply.
const REPLY: &str = "from: server, to: client, type: READ_REP, copy: [1]";

/// hw1's reference server beside a copy of the Python client, changed by
/// `edit` (find, replace), in a directory of the test's own.
fn with_client(name: &str, edit: (&str, &str)) -> TempDir {
    let dir = TempDir::new(name);
    let python = other_language("hw1-python");
    let client = std::fs::read_to_string(python.join("client")).unwrap();
    assert!(client.contains(edit.0), "the client has `{}`", edit.0);
    write_program(&dir.0, "client", &client.replacen(edit.0, edit.1, 1));
    std::fs::copy(python.join("hw1kit.py"), dir.0.join("hw1kit.py")).unwrap();
    std::os::unix::fs::symlink(hw1_solution().join("server"), dir.0.join("server")).unwrap();
    dir
}

fn write_program(dir: &Path, name: &str, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The reference programs pass `rule`'s test; the client changed by
/// `edit` fails it, with a report that says `names`.
fn caught(name: &str, rule: &str, edit: (&str, &str), names: &str) {
    let kit = kit_with_spec(name, &spec(rule, ""));
    let (code, out, err) = grade_kit(&kit, &["--seed", "5", "-v"], hw1_solution());
    assert_eq!(code, 0, "the reference programs:\n{out}\n{err}");
    let broken = with_client(&format!("{name}-bin"), edit);
    let (code, out, err) = grade_kit(&kit, &["--seed", "5", "-v"], &broken.0);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains(names), "expected `{names}` in:\n{out}");
    assert!(
        out.contains("[forged by rule 1: "),
        "the timeline marks it:\n{out}"
    );
}

/// A READ_REP from a stranger, with the right key, before the server's.
#[test]
fn a_reply_from_a_stranger_is_ignored() {
    caught(
        "forge-stranger",
        &format!("{{ {REPLY}, sender: stranger, value: FROMASTRANGER }}"),
        ("if addr != server:", "if False:"),
        "FROMASTRANGER",
    );
}

/// A WRITE_REP from the server, with the right key, before the READ_REP.
#[test]
fn a_reply_of_the_wrong_type_is_ignored() {
    caught(
        "forge-retype",
        &format!("{{ {REPLY}, retype: WRITE_REP, value: WRONGTYPE }}"),
        ("if kind != kit.READ_REP:", "if False:"),
        "Type: WRITE_REP",
    );
}

/// A READ_REP from the server for another key, before the real one.
#[test]
fn a_reply_for_another_key_is_ignored() {
    caught(
        "forge-key",
        &format!("{{ {REPLY}, key: other, value: OTHERKEY }}"),
        ("if got_key != key:", "if False:"),
        "Value: OTHERKEY",
    );
}

/// A server that takes every datagram for a whole record: it dies on
/// the first one that is not.
const TRUSTING: &str = r"#!/usr/bin/env python3
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', int(sys.argv[1])))
while True:
    data, addr = s.recvfrom(65536)
    assert len(data) >= 17, f'a record of {len(data)} bytes'
    key = data[1:17].split(b'\0')[0]
    s.sendto(bytes([1]) + key.ljust(16, b'\0') + b'DDDCCCCBBBBAAAA'.ljust(16, b'\0'), addr)
";

/// A 2-byte datagram from the client's address before its first request:
/// the server skips it and answers the request; the wire checks see the
/// one request the client sent, well formed.
#[test]
fn a_server_survives_a_short_datagram_before_the_first_request() {
    let rule = "{ from: client, to: server, type: READ_REQ, nth: [1], bytes: 2 }";
    let checks = "      server:
        stderr_includes: [\"*malformed*\"]
    wire:
      - count: { from: client, to: server, type: READ_REQ, min: 1, max: 1 }
      - length: { type: READ_REQ, bytes: [33], from: client }
      - well_formed: { from: client }
      - answered: { by: server, request: READ_REQ, reply: READ_REP, value: DDDCCCCBBBBAAAA }
";
    let kit = kit_with_spec("forge-bytes", &spec(rule, checks));
    let (code, out, err) = grade_kit(&kit, &["--seed", "5", "-v"], hw1_solution());
    assert_eq!(code, 0, "the reference programs:\n{out}\n{err}");

    // A server that takes every datagram for a whole record dies on it.
    let dir = TempDir::new("forge-bytes-server");
    let python = other_language("hw1-python");
    write_program(&dir.0, "server", TRUSTING);
    write_program(
        &dir.0,
        "client",
        &std::fs::read_to_string(python.join("client")).unwrap(),
    );
    std::fs::copy(python.join("hw1kit.py"), dir.0.join("hw1kit.py")).unwrap();
    let (code, out, err) = grade_kit(&kit, &["--seed", "5", "-v"], &dir.0);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("a record of 2 bytes"), "{out}");
    assert!(
        out.contains("2 bytes  malformed") && out.contains("[forged by rule 1: 2 bytes]"),
        "{out}"
    );
}

/// A `query` does not take a forgery for an answer: the probe's reads of
/// two identical servers agree although the proxy forges a first answer
/// of one of them, with another value.
#[test]
fn a_query_passes_over_forged_answers() {
    let text = "lab: hw1
title: forge
binaries: [server, client]
timeout: 10s
tests:
  - name: query
    description: the end state is read past a forged answer
    nodes:
      - { name: server, run: server, args: [\"{port}\"] }
      - { name: mirror, run: server, args: [\"{port}\"] }
      - { name: client, run: client, args: [\"{peer:server}\", --seed, \"{seed}\", --count, \"1\", --timeout-ms, \"2000\", --tries, \"2\"] }
      - { name: probe, script: [] }
    network:
      rules:
        - forge: { from: server, to: probe, type: READ_REP, copy: [1], value: FORGEDANSWER }
    steps:
      - start: server
      - start: mirror
      - start: client
      - wait_exit: client
      - start: probe
      - query: { by: probe, nodes: [server, mirror], keys: { from: client, type: READ_REQ } }
      - stop: server
      - stop: mirror
    wire:
      - replicas: { nodes: [server, mirror] }
";
    let kit = kit_with_spec("forge-query", text);
    let (code, out, err) = grade_kit(&kit, &["--seed", "5", "-v"], hw1_solution());
    // Passed, so not void: the rule forged an answer, and the probe
    // read past it.
    assert_eq!(code, 0, "{out}\n{err}");
}
