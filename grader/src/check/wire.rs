//! Checks on the datagrams the proxy recorded: who sent what to whom.
//!
//! A transcript shows what a program *says* it did; the wire shows what it
//! did. The course once had a client that printed the right partition and
//! sent to the wrong one: only a wire check catches that.

use handout::{Message, MsgType};

use crate::run::proxy::Datagram;
use crate::spec::WireCheck;

/// Runs one check; each failure is one sentence.
pub fn check(c: &WireCheck, log: &[Datagram], names: &[String]) -> Vec<String> {
    let idx = |n: &str| names.iter().position(|x| x == n);
    let at = |d: &Datagram| format!("{} ms", d.at.as_millis());
    let mut out = Vec::new();
    match c {
        WireCheck::Answered {
            by,
            request,
            reply,
            value,
        } => {
            let Some(by_i) = idx(by) else { return out };
            let mut used = vec![false; log.len()];
            for (i, d) in log.iter().enumerate() {
                let Ok(req) = Message::decode(&d.bytes) else {
                    continue;
                };
                if d.to != by_i || req.kind != request.0 {
                    continue;
                }
                for _ in 0..d.fate.copies() {
                    let found = (i + 1..log.len()).find(|&j| {
                        let r = &log[j];
                        !used[j]
                            && r.from == by_i
                            && r.to == d.from
                            && Message::decode(&r.bytes)
                                .is_ok_and(|m| m.kind == reply.0 && m.key == req.key)
                    });
                    match found {
                        Some(j) => {
                            used[j] = true;
                            let m = Message::decode(&log[j].bytes).ok();
                            if let (Some(v), Some(m)) = (value, m)
                                && m.value != *v
                            {
                                out.push(format!(
                                    "{by} answered the {} for key {} from {} with value `{}`; expected `{v}`",
                                    request.0, req.key, names[d.from], m.value
                                ));
                            }
                        }
                        None => {
                            let elsewhere = log[i + 1..].iter().find(|r| {
                                r.from == by_i
                                    && r.to != d.from
                                    && Message::decode(&r.bytes)
                                        .is_ok_and(|m| m.kind == reply.0 && m.key == req.key)
                            });
                            out.push(match elsewhere {
                                Some(r) => format!(
                                    "{by} sent the {} for key {} (a {} from {}) to {} instead of back to {}",
                                    reply.0, req.key, request.0, names[d.from], names[r.to], names[d.from]
                                ),
                                None => format!(
                                    "{by} never answered the {} for key {} that {} sent at {} (expected a {} with the same key, sent back to {})",
                                    request.0, req.key, names[d.from], at(d), reply.0, names[d.from]
                                ),
                            });
                        }
                    }
                }
            }
        }
        WireCheck::Length { kind, bytes, from } => {
            let from_i = from.as_deref().and_then(idx);
            for d in log {
                if from.is_some() && Some(d.from) != from_i {
                    continue;
                }
                if d.bytes.first().and_then(|&b| MsgType::from_code(b)) == Some(kind.0)
                    && !bytes.contains(&d.bytes.len())
                {
                    let allowed: Vec<String> = bytes.iter().map(|b| b.to_string()).collect();
                    out.push(format!(
                        "{} sent a {} of {} bytes to {} at {}; expected {} bytes",
                        names[d.from],
                        kind.0,
                        d.bytes.len(),
                        names[d.to],
                        at(d),
                        allowed.join(" or ")
                    ));
                }
            }
        }
        WireCheck::WellFormed { from } => {
            let Some(from_i) = idx(from) else { return out };
            for d in log.iter().filter(|d| d.from == from_i) {
                if let Err(e) = Message::decode(&d.bytes) {
                    out.push(format!(
                        "{from} sent a malformed datagram to {} at {}: {e}",
                        names[d.to],
                        at(d)
                    ));
                }
            }
        }
        WireCheck::Count {
            from,
            to,
            kind,
            min,
            max,
        } => {
            let (Some(f), Some(t)) = (idx(from), idx(to)) else {
                return out;
            };
            let n = log
                .iter()
                .filter(|d| d.from == f && d.to == t)
                .filter(|d| {
                    kind.is_none_or(|k| {
                        d.bytes.first().and_then(|&b| MsgType::from_code(b)) == Some(k.0)
                    })
                })
                .count();
            let what = kind.map_or("datagrams".to_string(), |k| format!("{}s", k.0));
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                let range = match (min, max) {
                    (Some(a), Some(b)) if a == b => format!("exactly {a}"),
                    (Some(a), Some(b)) => format!("{a} to {b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => String::new(),
                };
                out.push(format!("{from} sent {n} {what} to {to}; expected {range}"));
            }
        }
    }
    out
}

/// One line per datagram, for a failure report: time, sender, receiver, length, content, fate.
pub fn render(log: &[Datagram], names: &[String]) -> Vec<String> {
    log.iter()
        .map(|d| {
            let what = match Message::decode(&d.bytes) {
                Ok(m) => m.to_string(),
                Err(e) => format!("malformed: {e}"),
            };
            let fate = match d.fate {
                crate::run::proxy::Fate::Delivered => String::new(),
                f => format!("  [{f:?}]").to_lowercase(),
            };
            format!(
                "{:>6} ms  {} -> {}  {} bytes  {what}{fate}",
                d.at.as_millis(),
                names[d.from],
                names[d.to],
                d.bytes.len()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::proxy::Fate;
    use crate::spec::TypeName;
    use std::time::Duration;

    fn dg(at: u64, from: usize, to: usize, kind: MsgType, key: &str, fate: Fate) -> Datagram {
        let m = Message::new(kind, key, "DDDCCCCBBBBAAAA").unwrap();
        Datagram {
            at: Duration::from_millis(at),
            from,
            to,
            bytes: m.encode_full().to_vec(),
            fate,
        }
    }

    fn names() -> Vec<String> {
        vec!["server".into(), "client1".into(), "client2".into()]
    }

    fn answered() -> WireCheck {
        WireCheck::Answered {
            by: "server".into(),
            request: TypeName(MsgType::ReadReq),
            reply: TypeName(MsgType::ReadRep),
            value: None,
        }
    }

    #[test]
    fn every_delivered_request_needs_a_reply_to_its_sender() {
        let ok = [
            dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered),
            dg(2, 0, 1, MsgType::ReadRep, "K1", Fate::Delivered),
        ];
        assert!(check(&answered(), &ok, &names()).is_empty());
        let dropped = [dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Dropped)];
        assert!(
            check(&answered(), &dropped, &names()).is_empty(),
            "a lost request needs no answer"
        );
        let silent = [dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered)];
        assert!(check(&answered(), &silent, &names())[0].contains("never answered"));
        let misrouted = [
            dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered),
            dg(2, 0, 2, MsgType::ReadRep, "K1", Fate::Delivered),
        ];
        assert!(
            check(&answered(), &misrouted, &names())[0]
                .contains("to client2 instead of back to client1")
        );
        let dup = [
            dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Duplicated),
            dg(2, 0, 1, MsgType::ReadRep, "K1", Fate::Delivered),
        ];
        assert_eq!(
            check(&answered(), &dup, &names()).len(),
            1,
            "a duplicated request is answered twice"
        );
    }

    #[test]
    fn lengths_and_counts() {
        let mut short = dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered);
        short.bytes.truncate(17);
        let c = WireCheck::Length {
            kind: TypeName(MsgType::ReadReq),
            bytes: vec![33],
            from: None,
        };
        assert!(check(&c, &[short.clone()], &names())[0].contains("of 17 bytes"));
        let c = WireCheck::Count {
            from: "client1".into(),
            to: "server".into(),
            kind: None,
            min: Some(2),
            max: None,
        };
        assert!(
            check(&c, &[short], &names())[0]
                .contains("sent 1 datagrams to server; expected at least 2")
        );
        let bad = Datagram {
            at: Duration::ZERO,
            from: 1,
            to: 0,
            bytes: vec![1, 2, 3],
            fate: Fate::Delivered,
        };
        let c = WireCheck::WellFormed {
            from: "client1".into(),
        };
        assert!(check(&c, &[bad], &names())[0].contains("malformed"));
    }
}
