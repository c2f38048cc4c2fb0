//! Wire checks on where datagrams go and in what order: `routed`, `none`,
//! `before` and `followed_by`.
//!
//! Each reads the record's datagrams once, in the order the proxy saw them
//! (which is the order they were sent), with a set or a map of keys on the
//! side: linear, or n log n.

use std::collections::{BTreeMap, BTreeSet};

use handout::{Message, hash64};

use super::wire::{before, none, routed};
use super::{Check, Failure, Place, fail};
use crate::run::record::{Datagram, Record, UnknownNode};
use crate::run::select::Selector;
use crate::spec::{OneOrMany, RouteBy, TypeName};

fn ms(d: &Datagram) -> String {
    format!("{} ms", d.sent.as_millis())
}

/// `routed`: each datagram from `from` to a member of `to` went to the
/// member its key's partition names.
pub fn routed(
    record: &Record,
    from: &str,
    to: &str,
    kind: Option<&OneOrMany<TypeName>>,
    by: RouteBy,
    out: &mut Vec<Check>,
) -> Result<(), UnknownNode> {
    let senders = record.members(from)?;
    let group = record.members(to)?;
    let n = group.len() as u64;
    let names: Vec<&str> = record.nodes.iter().map(|x| x.name.as_str()).collect();
    let RouteBy::Hash64 = by;
    for (i, d) in record.datagrams.iter().enumerate() {
        if !senders.contains(&d.from) {
            continue;
        }
        let Some(reached) = group.iter().position(|&g| g == d.to) else {
            continue;
        };
        let Ok(m) = d.message() else { continue };
        if kind.is_some_and(|k| !k.has(m.kind)) {
            continue;
        }
        let h = hash64(&m.key);
        let p = (h % n) as usize;
        if p == reached {
            continue;
        }
        let (owner, got) = (group[p], group[reached]);
        out.push(fail(
            routed::KIND,
            Some(names[d.from]),
            Failure {
                expected: Some(format!("{} (partition {p})", names[owner])),
                actual: Some(format!("{} (partition {reached})", names[got])),
                ..Failure::new(format!(
                    "{} sent the {} for key {} to {} at {}, but the key belongs to partition {p} (hash64 % {n} = {p}), served by {}",
                    names[d.from], m.kind, m.key, names[got], ms(d), names[owner]
                ))
            }
            .note(format!(
                "hash64({}) = {h}; the servers are numbered in the order of the client's ports, from 0",
                m.key
            ))
            .at(Place::Datagram(i)),
        ));
    }
    Ok(())
}

/// `none`: nothing from `from` to `to` (of `kind`) in the window.
pub fn none(
    record: &Record,
    sel: &Selector,
    after: Option<&Selector>,
    until: Option<&Selector>,
    out: &mut Vec<Check>,
) {
    let names: Vec<&str> = record.nodes.iter().map(|x| x.name.as_str()).collect();
    let mut opened: Option<(usize, Message)> = None;
    for (i, d) in record.datagrams.iter().enumerate() {
        if let (Some(a), None) = (after, &opened) {
            if let Some(m) = a.take(d) {
                opened = Some((i, m));
            }
            continue;
        }
        if until.is_some_and(|u| u.take(d).is_some()) {
            return;
        }
        if let Some(m) = sel.take(d) {
            let window = match (&opened, after) {
                (Some((j, first)), Some(a)) => format!(
                    ", after {} at {}",
                    a.describe(Some(&first.key)),
                    ms(&record.datagrams[*j])
                ),
                _ => String::new(),
            };
            out.push(fail(
                none::KIND,
                Some(names[d.from]),
                Failure {
                    expected: Some("nothing".into()),
                    actual: Some(format!("{m}")),
                    ..Failure::new(format!(
                        "{} sent a {} to {} at {}{window}; expected nothing from {} to {} then",
                        names[d.from],
                        m.kind,
                        names[d.to],
                        ms(d),
                        sel.spec_from().unwrap_or("anyone"),
                        sel.spec_to().unwrap_or("anyone"),
                    ))
                }
                .at(Place::Datagram(i)),
            ));
        }
    }
}

/// `before`: every `then` comes after a `first` with its key (and value).
pub fn before(
    record: &Record,
    first: &Selector,
    then: &Selector,
    same_key: bool,
    same_value: bool,
    out: &mut Vec<Check>,
) {
    let names: Vec<&str> = record.nodes.iter().map(|x| x.name.as_str()).collect();
    let ident = |m: &Message| -> (String, String) {
        (
            if same_key {
                m.key.clone()
            } else {
                String::new()
            },
            if same_value {
                m.value.clone()
            } else {
                String::new()
            },
        )
    };
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    // Values seen per key, to say what did come first.
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for (i, d) in record.datagrams.iter().enumerate() {
        if let Some(m) = then.take(d)
            && !seen.contains(&ident(&m))
        {
            let key = same_key.then_some(m.key.as_str());
            let mut f = Failure::new(format!(
                "{} sent a {} for key {} to {} at {} before any {}{}",
                names[d.from],
                m.kind,
                m.key,
                names[d.to],
                ms(d),
                first.describe(key).trim_start_matches("a "),
                if same_value {
                    format!(" with value {}", m.value)
                } else {
                    String::new()
                },
            ))
            .at(Place::Datagram(i));
            if same_value && let Some(v) = values.get(&m.key) {
                f = f.note(format!(
                    "it carries value {}, but the last {} carried {v}",
                    m.value,
                    first.describe(Some(&m.key))
                ));
            }
            out.push(fail(before::KIND, Some(names[d.from]), f));
        }
        if let Some(m) = first.take(d) {
            values.insert(m.key.clone(), m.value.clone());
            seen.insert(ident(&m));
        }
    }
}

/// `followed_by`: every delivered `each` has a later `by` with its key.
pub fn followed_by(
    record: &Record,
    each: &Selector,
    by: &Selector,
    same_key: bool,
    out: &mut Vec<Check>,
) {
    let names: Vec<&str> = record.nodes.iter().map(|x| x.name.as_str()).collect();
    let mut later: BTreeSet<String> = BTreeSet::new();
    let mut found = Vec::new();
    for (i, d) in record.datagrams.iter().enumerate().rev() {
        // Only what reached its receiver: a copy a delay still held when
        // the test ended never did.
        if let Some(m) = each.take(d)
            && !d.delivered.is_empty()
        {
            let k = if same_key {
                m.key.clone()
            } else {
                String::new()
            };
            if !later.contains(&k) {
                let key = same_key.then_some(m.key.as_str());
                found.push(fail(
                    before::KIND,
                    Some(names[d.to]),
                    Failure::new(format!(
                        "{} sent a {} for key {} to {} at {}, and no {} came after it",
                        names[d.from],
                        m.kind,
                        m.key,
                        names[d.to],
                        ms(d),
                        by.describe(key).trim_start_matches("a ")
                    ))
                    .at(Place::Datagram(i)),
                ));
            }
        }
        if let Some(m) = by.take(d) {
            later.insert(if same_key { m.key } else { String::new() });
        }
    }
    found.reverse();
    out.extend(found);
}
