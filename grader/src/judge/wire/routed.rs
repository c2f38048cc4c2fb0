//! `routed`: every datagram goes to the member of its key's partition.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::flow;
use crate::judge::{Check, Kind};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{OneOrMany, RouteBy, TestSpec, TypeName};

pub(crate) const KIND: Kind = Kind::new("routed");

/// The fields of a `routed` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutedCheck {
    /// The sender.
    pub from: String,
    /// The group of receivers, in order.
    pub to: String,
    /// Only these types (default: every record).
    #[serde(default, rename = "type")]
    pub kind: Option<OneOrMany<TypeName>>,
    /// The partition function: `hash64` (`hash64(key) % N`).
    pub by: RouteBy,
}

impl WireKind for RoutedCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.from)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::node_or_group(t, &self.from, at.field("from"))?;
        validate::node_or_group(t, &self.to, at.field("to"))
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        flow::routed(
            record,
            &self.from,
            &self.to,
            self.kind.as_ref(),
            self.by,
            out,
        )?;
        Ok(Unsure::claim(format!(
            "every datagram from {} reached the member of {} its key belongs to",
            self.from, self.to
        )))
    }
}
