//! Selecting datagrams: by sender, receiver and type, with names resolved
//! to nodes.
//!
//! [`Pick`] is the one test of a datagram against those three, shared by
//! everything that selects: the proxy's rules (which count what they pick
//! by position and key), the checks and the `query` step (through a
//! [`Selector`], which adds the spec's words for messages). A scripted
//! peer's `recv` is not a selection but a claim about the next datagram,
//! so it compares what came with what it expects instead.
//!
//! It lives here, beside the record it reads, so that the pipeline's
//! arrows point one way (the judge uses the run, never the other way
//! round).

use handout::{Message, MsgType};

use super::record::{Datagram, Record, UnknownNode};
use crate::spec::Match;

/// Which datagrams: from these nodes, to these, of these types; each
/// part left out takes any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pick {
    /// Senders, by index.
    pub from: Option<Vec<usize>>,
    /// Receivers, by index.
    pub to: Option<Vec<usize>>,
    /// Message types.
    pub kinds: Option<Vec<MsgType>>,
}

impl Pick {
    /// One direction of one link, of one type or any.
    pub fn link(from: usize, to: usize, kind: Option<MsgType>) -> Pick {
        Pick {
            from: Some(vec![from]),
            to: Some(vec![to]),
            kinds: kind.map(|k| vec![k]),
        }
    }

    /// Whether a datagram `from -> to` of type `kind` (none: not a record
    /// of the protocol) is one of these.
    pub fn takes(&self, from: usize, to: usize, kind: Option<MsgType>) -> bool {
        let within =
            |list: &Option<Vec<usize>>, i: usize| list.as_ref().is_none_or(|l| l.contains(&i));
        within(&self.from, from)
            && within(&self.to, to)
            && self
                .kinds
                .as_ref()
                .is_none_or(|ks| kind.is_some_and(|k| ks.contains(&k)))
    }
}

/// A [`Match`] with its node names resolved to node indices.
pub struct Selector<'a> {
    pick: Pick,
    spec: &'a Match,
}

impl<'a> Selector<'a> {
    /// Resolves `m`'s names (nodes or groups) in `record`.
    ///
    /// # Errors
    /// A name the record has no node or group for.
    pub fn new(record: &Record, m: &'a Match) -> Result<Selector<'a>, UnknownNode> {
        let members = |n: &Option<String>| n.as_deref().map(|n| record.members(n)).transpose();
        Ok(Selector {
            pick: Pick {
                from: members(&m.from)?,
                to: members(&m.to)?,
                kinds: (m.kind.as_ref()).map(|k| k.all().iter().map(|t| t.0).collect()),
            },
            spec: m,
        })
    }

    /// The datagram as a record, if it is one this selector takes.
    pub fn take(&self, d: &Datagram) -> Option<Message> {
        if !self.pick.takes(d.from, d.to, d.kind()) {
            return None;
        }
        d.message().ok()
    }

    /// The sender the spec names, if it names one.
    pub fn spec_from(&self) -> Option<&str> {
        self.spec.from.as_deref()
    }

    /// The receiver the spec names, if it names one.
    pub fn spec_to(&self) -> Option<&str> {
        self.spec.to.as_deref()
    }

    /// "a CACHE_MISS from cache to client", with `key` if given.
    pub fn describe(&self, key: Option<&str>) -> String {
        let m = self.spec;
        let mut s = match &m.kind {
            Some(k) => format!("a {}", k.names()),
            None => "a datagram".to_string(),
        };
        if let Some(k) = key {
            s.push_str(&format!(" for key {k}"));
        }
        if let Some(f) = &m.from {
            s.push_str(&format!(" from {f}"));
        }
        if let Some(t) = &m.to {
            s.push_str(&format!(" to {t}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pick_takes_what_each_of_its_parts_allows() {
        let read = Some(MsgType::ReadReq);
        let link = Pick::link(1, 0, read);
        assert!(link.takes(1, 0, read));
        assert!(!link.takes(0, 1, read), "the other direction");
        assert!(!link.takes(1, 0, Some(MsgType::WriteReq)), "another type");
        assert!(!link.takes(1, 0, None), "not a record");
        let any = Pick::link(1, 0, None);
        assert!(any.takes(1, 0, None), "no type asked: anything on the link");
        let group = Pick {
            to: Some(vec![2, 3]),
            ..Pick::default()
        };
        assert!(group.takes(0, 3, None) && group.takes(7, 2, read));
        assert!(!group.takes(3, 0, read));
    }
}
