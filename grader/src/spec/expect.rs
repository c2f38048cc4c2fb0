//! What a program must have done by the end: its exit, its transcripts, its numbers.

use super::*;

/// What must be true of a program at the end of a test.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeExpect {
    /// `0`, another exit code, or `nonzero`.
    #[serde(default)]
    pub exit: Option<ExitExpect>,
    /// Its whole standard output, line by line.
    #[serde(default)]
    pub stdout: Option<Vec<Item>>,
    /// Lines that must appear in its standard output, in order.
    #[serde(default)]
    pub stdout_includes: Option<Vec<Item>>,
    /// Lines that must appear in its standard error, in order.
    #[serde(default)]
    pub stderr_includes: Option<Vec<Item>>,
    /// Its standard output must be line for line the same as that of this
    /// other program node (a rerun with the same seed, say).
    #[serde(default)]
    pub stdout_same_as: Option<String>,
    /// Checks on numbers it prints.
    #[serde(default)]
    pub numbers: Vec<NumberCheck>,
}

/// The exit status a program must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitExpect {
    /// Exactly this code.
    Code(i32),
    /// Any code but 0 (a usage error, giving up).
    Nonzero,
}

impl<'de> Deserialize<'de> for ExitExpect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ExitExpect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an exit code or `nonzero`")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExitExpect, E> {
                i32::try_from(v)
                    .map(ExitExpect::Code)
                    .map_err(|_| E::custom(format!("exit code {v} is out of range")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExitExpect, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExitExpect, E> {
                match v {
                    "nonzero" => Ok(ExitExpect::Nonzero),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for ExitExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitExpect::Code(c) => write!(f, "exit code {c}"),
            ExitExpect::Nonzero => f.write_str("a non-zero exit code"),
        }
    }
}
