//! `printed_before`: a printed line comes before a datagram is delivered.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::{Check, Kind, causal};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{Match, Stream, TestSpec, transcript};

pub(crate) const KIND: Kind = Kind::new("printed_before");

/// The fields of a `printed_before` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintedBeforeCheck {
    /// The program that prints.
    pub node: String,
    /// The line, a transcript pattern.
    pub line: String,
    /// The stream (default stdout).
    #[serde(default)]
    pub stream: Stream,
    /// The datagrams whose delivery the lines must come before.
    pub delivered: Match,
}

impl WireKind for PrintedBeforeCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.node)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::program(t, &self.node, "`printed_before`", at.field("node"))?;
        transcript::validate(&[transcript::Item::Line(self.line.clone())])
            .map_err(|m| validate::at(at.field("line"), m))?;
        validate::matcher(t, &self.delivered, &at.field("delivered"))
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        causal::printed_before(record, self, out)?;
        Ok(Unsure::claim(format!("{} printed in time", self.node)))
    }
}
