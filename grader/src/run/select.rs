//! Selecting datagrams of the record: a spec's [`Match`] with its names
//! resolved to nodes. The runner selects with it (the keys a `query` reads)
//! and so do the checks; it lives here, beside the record it reads, so that
//! the pipeline's arrows point one way (the judge uses the run, never the
//! other way round).

use handout::Message;

use super::record::{Datagram, Record, UnknownNode};
use crate::spec::{Match, OneOrMany, TypeName};

/// A [`Match`] with its node names resolved to node indices.
pub struct Selector<'a> {
    from: Option<Vec<usize>>,
    to: Option<Vec<usize>>,
    kind: Option<&'a OneOrMany<TypeName>>,
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
            from: members(&m.from)?,
            to: members(&m.to)?,
            kind: m.kind.as_ref(),
            spec: m,
        })
    }

    /// The datagram as a record, if it is one this selector takes.
    pub fn take(&self, d: &Datagram) -> Option<Message> {
        if self.from.as_ref().is_some_and(|f| !f.contains(&d.from))
            || self.to.as_ref().is_some_and(|t| !t.contains(&d.to))
        {
            return None;
        }
        let m = d.message().ok()?;
        if self.kind.is_some_and(|k| !k.has(m.kind)) {
            return None;
        }
        Some(m)
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
