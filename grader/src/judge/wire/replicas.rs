//! `replicas`: the end-state query found the same value on every replica.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind};
use crate::judge::{Check, Kind, replicas};
use crate::run::record::Record;
use crate::spec::validate::{self, Invalid};
use crate::spec::{OneOrMany, Step, TestSpec};

pub(crate) const KIND: Kind = Kind::new("replicas");

/// The fields of a `replicas` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicasCheck {
    /// The nodes (or groups) that must agree.
    pub nodes: OneOrMany<String>,
}

impl WireKind for ReplicasCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        None
    }

    fn validate(&self, t: &TestSpec) -> Result<(), Invalid> {
        for n in self.nodes.all() {
            validate::node_or_group(t, n)?;
        }
        if !t.steps.iter().any(|s| matches!(s, Step::Query(_))) {
            return Err(validate::at(
                "replicas",
                "`replicas` compares the answers of a `query` step, and the test has none".into(),
            ));
        }
        Ok(())
    }

    /// Reads the query's answers, not the datagrams.
    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Option<Unsure> {
        replicas::replicas(record, &self.nodes, out);
        None
    }
}
