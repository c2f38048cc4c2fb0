//! `printed_received`: a line that reports a received datagram names one
//! that was delivered, before it was printed.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::{Check, Kind, causal};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{Match, Stream, TestSpec, pattern, transcript};

pub(crate) const KIND: Kind = Kind::new("printed_received");

/// The fields of a `printed_received` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintedReceivedCheck {
    /// The program that prints.
    pub node: String,
    /// The line, a transcript pattern with `{key}` and, optionally,
    /// `{value}`: what the line says was received.
    pub line: String,
    /// The stream (default stdout).
    #[serde(default)]
    pub stream: Stream,
    /// The datagrams such a line may report.
    pub delivered: Match,
}

impl WireKind for PrintedReceivedCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.node)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::program(t, &self.node, "`printed_received`", at.field("node"))?;
        transcript::validate(&[transcript::Item::Line(self.line.clone())])
            .map_err(|m| validate::at(at.field("line"), m))?;
        let tokens = pattern::parse(&self.line).map_err(|m| validate::at(at.field("line"), m))?;
        if !pattern::names(&tokens).any(|n| n == "key") {
            return Err(validate::at(
                at.field("line"),
                "the line of `printed_received` needs `{key}`: the key of the datagram it reports"
                    .into(),
            ));
        }
        validate::matcher(t, &self.delivered, &at.field("delivered"))
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        causal::printed_received(record, self, out)?;
        Ok(Unsure::claim(format!(
            "every line of {} that reports a datagram names one it received",
            self.node
        )))
    }
}
