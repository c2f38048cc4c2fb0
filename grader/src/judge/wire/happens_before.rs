//! `happens_before`: an answer comes only after its causes were delivered.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::causal;
use crate::judge::{Check, Kind};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{Match, TestSpec};

pub(crate) const KIND: Kind = Kind::new("happens_before");

/// The fields of a `happens_before` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HappensBeforeCheck {
    /// What may happen only after its causes.
    pub effect: Match,
    /// What must have been delivered first; `from` names every node
    /// that must have sent one.
    pub causes: Match,
    /// The request that opens the window of each effect.
    pub since: Match,
}

impl WireKind for HappensBeforeCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        self.effect.from.as_deref()
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        for (m, name) in [
            (&self.effect, "effect"),
            (&self.causes, "causes"),
            (&self.since, "since"),
        ] {
            validate::matcher(t, m, &at.field(name))?;
        }
        if self.causes.from.is_none() {
            return Err(validate::at_key(
                at.field("causes"),
                "`happens_before` needs `causes.from`: the nodes that must each have answered"
                    .into(),
            ));
        }
        Ok(())
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        causal::happens_before(record, &self.effect, &self.causes, &self.since, out)?;
        Ok(Unsure::claim("every answer waited for its causes"))
    }
}
