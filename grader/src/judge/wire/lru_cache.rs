//! `lru_cache`: a node behaves as a least-recently-used cache.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written};
use crate::judge::model;
use crate::judge::{Check, Failure, Kind, fail};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{Expr, TestSpec, expr};

pub(crate) const KIND: Kind = Kind::new("lru_cache");

/// The fields of an `lru_cache` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LruCacheCheck {
    /// The cache node.
    pub node: String,
    /// How many entries it holds: a number or an expression (`"{capacity}"`).
    pub capacity: Expr,
}

impl WireKind for LruCacheCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.node)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::known(t, &self.node, at.field("node"))?;
        validate::expression(t, &self.capacity, at.field("capacity"))
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        let node = Some(self.node.as_str());
        let vars = |n: &str| record.vars.get(n).cloned();
        for i in record.members(&self.node)? {
            match expr::eval(&self.capacity.0, &vars) {
                Ok(c) if c >= 0.0 && c.fract() == 0.0 => {
                    model::lru(record, i, c as usize, out);
                }
                Ok(c) => out.push(fail(
                    KIND,
                    node,
                    Failure::new(format!(
                        "the capacity `{}` is {c}, not a whole number",
                        self.capacity.0
                    )),
                )),
                Err(e) => out.push(fail(KIND, node, Failure::new(e))),
            }
        }
        Ok(Unsure::claim(format!(
            "{} behaved as an LRU cache",
            self.node
        )))
    }
}
