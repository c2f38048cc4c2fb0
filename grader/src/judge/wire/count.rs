//! `count`: how many datagrams went from one node to another.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::{Check, Failure, Kind, fail};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{TestSpec, TypeName};

pub(crate) const KIND: Kind = Kind::new("count");

/// The fields of a `count` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountCheck {
    /// Sender (a group: any member).
    pub from: String,
    /// Receiver (a group: any member).
    pub to: String,
    /// Only this type.
    #[serde(default, rename = "type")]
    pub kind: Option<TypeName>,
    /// At least this many.
    #[serde(default)]
    pub min: Option<usize>,
    /// At most this many.
    #[serde(default)]
    pub max: Option<usize>,
}

impl WireKind for CountCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.from)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::node_or_group(t, &self.from, at.field("from"))?;
        validate::node_or_group(t, &self.to, at.field("to"))?;
        if let (Some(a), Some(b)) = (self.min, self.max)
            && a > b
        {
            return Err(validate::at(
                at.item.clone(),
                format!("`min` ({a}) is more than `max` ({b})"),
            ));
        }
        Ok(())
    }

    /// Reads the record's counts, which cover every datagram, kept in the
    /// record or not.
    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        let (fs, ts) = (record.members(&self.from)?, record.members(&self.to)?);
        let n: usize = fs
            .iter()
            .flat_map(|&f| ts.iter().map(move |&t| (f, t)))
            .map(|(f, t)| record.traffic.links[f][t].of(self.kind.map(|k| k.0)))
            .sum();
        let what = |n: usize| {
            let s = if n == 1 { "" } else { "s" };
            self.kind
                .map_or(format!("datagram{s}"), |k| format!("{}{s}", k.0))
        };
        if self.min.is_some_and(|m| n < m) || self.max.is_some_and(|m| n > m) {
            let range = match (self.min, self.max) {
                (Some(a), Some(b)) if a == b => format!("exactly {a}"),
                (Some(a), Some(b)) => format!("{a} to {b}"),
                (Some(a), None) => format!("at least {a}"),
                (None, Some(b)) => format!("at most {b}"),
                (None, None) => String::new(),
            };
            out.push(fail(
                KIND,
                Some(&self.from),
                Failure {
                    expected: Some(format!("{range} {}", what(2))),
                    actual: Some(format!("{n} {}", what(n))),
                    ..Failure::new(format!(
                        "{} sent {n} {} to {}; expected {range}",
                        self.from,
                        what(n),
                        self.to
                    ))
                },
            ));
        }
        Ok(None)
    }
}
