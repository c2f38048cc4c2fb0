//! `store`: the replies to reads carry what was last written, key by key.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::model;
use crate::judge::{Check, Kind};
use crate::run::record::{Record, UnknownNode};
use crate::run::select::Selector;
use crate::spec::validate::{self, Invalid};
use crate::spec::{Match, TestSpec};

pub(crate) const KIND: Kind = Kind::new("store");

/// The fields of a `store` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreCheck {
    /// The datagrams that write a value (when delivered).
    pub writes: Match,
    /// The datagrams that start a read.
    pub reads: Match,
    /// The datagrams that answer a read with a value.
    pub replies: Match,
    /// The value of a key never written.
    #[serde(default)]
    pub initial: String,
}

impl WireKind for StoreCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        self.replies.to.as_deref()
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        for (m, name) in [
            (&self.writes, "writes"),
            (&self.reads, "reads"),
            (&self.replies, "replies"),
        ] {
            validate::matcher(t, m, &at.field(name))?;
        }
        Ok(())
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        let (w, r, p) = (
            Selector::new(record, &self.writes)?,
            Selector::new(record, &self.reads)?,
            Selector::new(record, &self.replies)?,
        );
        model::store(record, &w, &r, &p, &self.initial, out);
        Ok(Unsure::claim("every read saw the last write"))
    }
}
