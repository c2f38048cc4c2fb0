//! `choices`: the choices a node prints among candidates, against the record.

use schemars::JsonSchema;
use serde::Deserialize;

use std::collections::BTreeSet;

use super::{Unsure, WireKind, Written};
use crate::judge::{Check, Kind, balance};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{Stream, TestSpec, TypeName, pattern};

pub(crate) const KIND: Kind = Kind::new("choices");

/// The fields of a `choices` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoicesCheck {
    /// The node that chooses.
    pub node: String,
    /// The line that states a choice: a pattern with `{chosen}`, `{first}`
    /// and `{second}` (indexes into `peers`) and `{key}` (the request's key).
    pub line: String,
    /// The stream it prints it on (default stdout).
    #[serde(default)]
    pub stream: Stream,
    /// The group of candidates, in order: index 0 is its first member.
    pub peers: String,
    /// The request type the node sends.
    pub request: TypeName,
    /// The reply type that ends a request.
    pub reply: TypeName,
    /// The two candidates differ.
    #[serde(default)]
    pub distinct: bool,
    /// The chosen candidate had no more requests in flight than the other.
    #[serde(default)]
    pub least_in_flight: bool,
    /// The most requests the node keeps in flight (its `--concurrency`):
    /// before each new request it must have read enough replies to be
    /// under it, which bounds how stale its counts may be.
    #[serde(default)]
    pub window: Option<usize>,
}

impl WireKind for ChoicesCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.node)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::program(t, &self.node, "`choices`", at.field("node"))?;
        if !t.groups.contains_key(&self.peers) {
            return Err(validate::at(
                at.field("peers"),
                format!(
                    "`peers: {}` must name a group (a node with `count`)",
                    self.peers
                ),
            ));
        }
        let line = &self.line;
        let path = at.field("line");
        let tokens = pattern::parse(line)
            .map_err(|m| validate::at(path.clone(), format!("in `{line}`: {m}")))?;
        let names: BTreeSet<&str> = pattern::names(&tokens).collect();
        for needed in ["chosen", "first", "second", "key"] {
            if !names.contains(needed) {
                return Err(validate::at(
                    path,
                    format!(
                        "`{line}` has no `{{{needed}}}`: a choice names the key, the chosen peer and both candidates",
                    ),
                ));
            }
        }
        Ok(())
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        balance::choices(record, self, out)?;
        Ok(Unsure::claim(format!("{} chose well", self.node)))
    }
}
