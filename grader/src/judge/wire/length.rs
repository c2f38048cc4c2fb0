//! `length`: every datagram of a type has one of the lengths allowed.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written, at};
use crate::judge::{Check, Failure, Kind, Place, fail};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{TestSpec, TypeName};

pub(crate) const KIND: Kind = Kind::new("length");

/// The fields of a `length` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LengthCheck {
    /// Message type.
    #[serde(rename = "type")]
    pub kind: TypeName,
    /// Allowed lengths in bytes.
    pub bytes: Vec<usize>,
    /// Only datagrams sent by this node.
    #[serde(default)]
    pub from: Option<String>,
}

impl WireKind for LengthCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        self.from.as_deref()
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        if let Some(f) = &self.from {
            validate::known(t, f, at.field("from"))?;
        }
        if self.bytes.is_empty() {
            return Err(validate::at_key(
                at.field("bytes"),
                "`bytes` lists no length".into(),
            ));
        }
        Ok(())
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        let names = record.names();
        let from = (self.from.as_deref())
            .map(|f| record.members(f))
            .transpose()?;
        let allowed: Vec<String> = self.bytes.iter().map(|b| b.to_string()).collect();
        let allowed = allowed.join(" or ");
        for (i, d) in record.datagrams.iter().enumerate() {
            if from.as_ref().is_some_and(|f| !f.contains(&d.from)) {
                continue;
            }
            if d.kind() == Some(self.kind.0) && !self.bytes.contains(&d.bytes.len()) {
                out.push(fail(
                    KIND,
                    Some(names[d.from]),
                    Failure {
                        expected: Some(format!("{allowed} bytes")),
                        actual: Some(format!("{} bytes", d.bytes.len())),
                        ..Failure::new(format!(
                            "{} sent a {} of {} bytes to {} at {}; expected {allowed} bytes",
                            names[d.from],
                            self.kind.0,
                            d.bytes.len(),
                            names[d.to],
                            at(d),
                        ))
                    }
                    .at(Place::Datagram(i)),
                ));
            }
        }
        let sender = self
            .from
            .as_deref()
            .map_or(String::new(), |f| format!(" {f} sent"));
        Ok(Unsure::claim(format!(
            "every {}{sender} is {allowed} bytes",
            self.kind.0
        )))
    }
}
