//! `linearizable`: the clients' history is linearizable for a register.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::{Check, Kind, replicas};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{Step, TestSpec};

pub(crate) const KIND: Kind = Kind::new("linearizable");

/// The fields of a `linearizable` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinearCheck {
    /// The clients (a node or a group).
    pub clients: String,
    /// The node they send their reads and writes to.
    pub server: String,
    /// The value of a key never written.
    #[serde(default)]
    pub initial: String,
    /// Add the end-state `query`'s reads, after everything else.
    #[serde(default)]
    pub query: bool,
}

impl WireKind for LinearCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.server)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::node_or_group(t, &self.clients, at.field("clients"))?;
        validate::known(t, &self.server, at.field("server"))?;
        if self.query && !t.steps.iter().any(|s| matches!(s, Step::Query(_))) {
            return Err(validate::at_key(
                at.field("query"),
                "`query: true` adds the reads of a `query` step, and the test has none".into(),
            ));
        }
        Ok(())
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        replicas::linearizable(record, self, out)?;
        Ok(Unsure::claim("the history was linearizable"))
    }
}
