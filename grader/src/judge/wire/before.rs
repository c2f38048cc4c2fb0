//! `before`: every datagram of one kind comes after one of another.

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

/// The fields of a `before` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BeforeCheck {
    /// What must come first.
    pub first: Match,
    /// What must come after it.
    pub then: Match,
    /// The two carry the same key (default true).
    #[serde(default = "crate::spec::yes")]
    pub same_key: bool,
    /// The two carry the same value (default false).
    #[serde(default)]
    pub same_value: bool,
}

impl WireKind for BeforeCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        self.then.from.as_deref()
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::matcher(t, &self.first, &at.field("first"))?;
        validate::matcher(t, &self.then, &at.field("then"))
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        let (f, t) = (
            Selector::new(record, &self.first)?,
            Selector::new(record, &self.then)?,
        );
        flow::before(record, &f, &t, self.same_key, self.same_value, out);
        Ok(Unsure::claim(format!("{} came first", f.describe(None))))
    }
}
