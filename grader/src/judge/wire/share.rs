//! `share`: the share of a node's datagrams that go to one node among a group.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::{Check, Kind, balance};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{TestSpec, TypeName};

pub(crate) const KIND: Kind = Kind::new("share");

/// The fields of a `share` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareCheck {
    /// The sender.
    pub from: String,
    /// The node whose share is measured.
    pub to: String,
    /// The group of all receivers (`to` among them).
    pub among: String,
    /// Only this type.
    #[serde(default, rename = "type")]
    pub kind: Option<TypeName>,
    /// The highest share allowed; with `versus`, the highest ratio of the
    /// two shares.
    pub at_most: f64,
    /// Another sender: its share to `to` among `among` is the yardstick.
    #[serde(default)]
    pub versus: Option<String>,
}

impl WireKind for ShareCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.from)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::known(t, &self.from, at.field("from"))?;
        validate::known(t, &self.to, at.field("to"))?;
        validate::node_or_group(t, &self.among, at.field("among"))?;
        if let Some(v) = &self.versus {
            validate::known(t, v, at.field("versus"))?;
        }
        if self.at_most.is_nan() || self.at_most < 0.0 {
            return Err(validate::at_key(
                at.field("at_most"),
                "`at_most` is a number, at least 0".into(),
            ));
        }
        Ok(())
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        balance::share(record, self, out)?;
        Ok(Unsure::claim(format!(
            "{}'s share to {} was small enough",
            self.from, self.to
        )))
    }
}
