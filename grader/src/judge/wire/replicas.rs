//! `replicas`: the end-state query found the same value on every replica.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::{Check, Kind, replicas};
use crate::run::record::{Record, UnknownNode};
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

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        for (n, path) in validate::each(&self.nodes, &at.field("nodes")) {
            validate::node_or_group(t, n, path)?;
        }
        if !t.steps.iter().any(|s| matches!(s, Step::Query(_))) {
            return Err(validate::at(
                at.item.clone(),
                "`replicas` compares the answers of a `query` step, and the test has none".into(),
            ));
        }
        Ok(())
    }

    /// Reads the query's answers, not the datagrams.
    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        replicas::replicas(record, &self.nodes, out)?;
        Ok(None)
    }
}
