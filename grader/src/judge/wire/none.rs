//! `none`: no datagram from one node to another, over the run or in a window.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::flow;
use crate::judge::{Check, Kind};
use crate::run::record::{Record, UnknownNode};
use crate::run::select::Selector;
use crate::spec::validate::{self, Invalid};
use crate::spec::{Match, OneOrMany, TestSpec, TypeName};

pub(crate) const KIND: Kind = Kind::new("none");

/// The fields of a `none` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoneCheck {
    /// Sender (a group: any member).
    pub from: String,
    /// Receiver (a group: any member).
    pub to: String,
    /// Only this type, or these types.
    #[serde(default, rename = "type")]
    pub kind: Option<OneOrMany<TypeName>>,
    /// The window opens after the first datagram that matches.
    #[serde(default)]
    pub after: Option<Match>,
    /// The window closes at the first datagram that matches, after it opened.
    #[serde(default)]
    pub until: Option<Match>,
}

impl WireKind for NoneCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.from)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::node_or_group(t, &self.from, at.field("from"))?;
        validate::node_or_group(t, &self.to, at.field("to"))?;
        for (m, name) in [(&self.after, "after"), (&self.until, "until")] {
            if let Some(m) = m {
                validate::matcher(t, m, &at.field(name))?;
            }
        }
        Ok(())
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        let m = Match {
            from: Some(self.from.clone()),
            to: Some(self.to.clone()),
            kind: self.kind.clone(),
        };
        let sel = Selector::new(record, &m)?;
        let after = (self.after.as_ref())
            .map(|a| Selector::new(record, a))
            .transpose()?;
        let until = (self.until.as_ref())
            .map(|u| Selector::new(record, u))
            .transpose()?;
        flow::none(record, &sel, after.as_ref(), until.as_ref(), out);
        Ok(Unsure::claim(format!(
            "{} sent nothing to {} then",
            self.from, self.to
        )))
    }
}
