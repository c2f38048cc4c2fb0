//! `followed_by`: every datagram of one kind is followed by one of another.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::flow;
use crate::judge::{Check, Kind};
use crate::run::record::{Record, UnknownNode};
use crate::run::select::Selector;
use crate::spec::validate::{self, Invalid};
use crate::spec::{Match, TestSpec};

pub(crate) const KIND: Kind = Kind::new("order");

/// The fields of a `followed_by` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowedByCheck {
    /// What must be followed.
    pub each: Match,
    /// What must follow.
    pub by: Match,
    /// The two carry the same key (default true).
    #[serde(default = "crate::spec::yes")]
    pub same_key: bool,
}

impl WireKind for FollowedByCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        self.by.from.as_deref()
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::matcher(t, &self.each, &at.field("each"))?;
        validate::matcher(t, &self.by, &at.field("by"))
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        let (e, b) = (
            Selector::new(record, &self.each)?,
            Selector::new(record, &self.by)?,
        );
        flow::followed_by(record, &e, &b, self.same_key, out);
        Ok(Unsure::claim(format!(
            "{} followed every {}",
            b.describe(None),
            e.describe(None)
        )))
    }
}
