//! `well_formed`: every datagram a node sends is a record of the protocol.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written, at};
use crate::judge::{Check, Failure, Kind, Place, fail};
use crate::run::record::{Record, UnknownNode};
use crate::spec::TestSpec;
use crate::spec::validate::{self, Invalid};

pub(crate) const KIND: Kind = Kind::new("well_formed");

/// The fields of a `well_formed` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WellFormedCheck {
    /// The node.
    pub from: String,
}

impl WireKind for WellFormedCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.from)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::known(t, &self.from, at.field("from")).map(|_| ())
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        let names = record.names();
        let from = record.members(&self.from)?;
        for (i, d) in record.datagrams.iter().enumerate() {
            if !from.contains(&d.from) {
                continue;
            }
            if let Err(e) = d.message() {
                out.push(fail(
                    KIND,
                    Some(&self.from),
                    Failure::new(format!(
                        "{} sent a malformed datagram to {} at {}: {e}",
                        self.from,
                        names[d.to],
                        at(d)
                    ))
                    .at(Place::Datagram(i)),
                ));
            }
        }
        Ok(Unsure::claim(format!(
            "every datagram {} sent is a record",
            self.from
        )))
    }
}
