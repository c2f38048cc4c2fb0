//! The small values of the format: expressions, message types, signals,
//! durations, and the match that selects datagrams for a check.

use super::*;

/// A number, or arithmetic over numbers and test variables:
/// `"0.5 * {capacity} / {keys}"` (`+ - * /` and parentheses).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(transparent)]
pub struct Expr(#[schemars(with = "serde_json::Value")] pub String);

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::String(s) => Ok(Expr(s)),
            serde_yaml::Value::Number(n) => Ok(Expr(n.to_string())),
            _ => Err(de::Error::custom(
                "expected a number or an expression in quotes",
            )),
        }
    }
}

/// A check on a number a program prints.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberCheck {
    /// A transcript pattern with `{number}` where the number is:
    /// `"client: hit ratio * = {number}"`. The last line that matches counts.
    pub line: String,
    /// `stdout` (default) or `stderr`.
    #[serde(default)]
    pub stream: Stream,
    /// The number must be at least this.
    #[serde(default)]
    pub at_least: Option<Expr>,
    /// The number must be at most this.
    #[serde(default)]
    pub at_most: Option<Expr>,
}

/// A message type written as the course prints it (`READ_REQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeName(pub MsgType);

impl<'de> Deserialize<'de> for TypeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MsgType::from_name(&s).map(TypeName).ok_or_else(|| {
            let names: Vec<&str> = MsgType::ALL.iter().map(|t| t.name()).collect();
            de::Error::custom(format!(
                "unknown message type `{s}`, expected one of {}",
                names.join(", ")
            ))
        })
    }
}

/// The signals a step may send, by name.
pub const SIGNALS: [(&str, nix::sys::signal::Signal); 8] = {
    use nix::sys::signal::Signal::*;
    [
        ("SIGINT", SIGINT),
        ("SIGTERM", SIGTERM),
        ("SIGKILL", SIGKILL),
        ("SIGSTOP", SIGSTOP),
        ("SIGCONT", SIGCONT),
        ("SIGHUP", SIGHUP),
        ("SIGUSR1", SIGUSR1),
        ("SIGUSR2", SIGUSR2),
    ]
};

/// A signal a step may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalName(pub nix::sys::signal::Signal);

impl<'de> Deserialize<'de> for SignalName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match SIGNALS.iter().find(|(name, _)| *name == s) {
            Some(&(_, sig)) => Ok(SignalName(sig)),
            None => Err(de::Error::custom(format!(
                "unknown signal `{s}`, expected SIGINT, SIGTERM, SIGKILL, SIGSTOP, SIGCONT, SIGHUP, SIGUSR1 or SIGUSR2"
            ))),
        }
    }
}

/// A duration written as `250ms`, `2s`, `1.5s` or `1m`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    /// Parses `250ms`, `2s`, `1.5s`, `1m`.
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(s: &str) -> Result<Dur, String> {
        let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
            Some(i) => s.split_at(i),
            None => (s, ""),
        };
        // Exactly what the JSON Schema says: digits, perhaps a fraction,
        // and the unit right after, nothing else.
        let (whole, fraction) = num.split_once('.').unwrap_or((num, "1"));
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(fraction) {
            return Err(bad_duration(s));
        }
        let n: f64 = num.parse().map_err(|_| bad_duration(s))?;
        let secs = match unit {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            _ => return Err(bad_duration(s)),
        };
        if !(0.0..=86_400.0).contains(&secs) {
            return Err(format!("duration `{s}` is out of range (0 to 24 hours)"));
        }
        Ok(Dur(Duration::from_secs_f64(secs)))
    }
}

fn bad_duration(s: &str) -> String {
    format!("invalid duration `{s}`: write a number and a unit, e.g. `250ms`, `2s`, `1m`")
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) && ms > 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Dur::parse(&s).map_err(de::Error::custom)
    }
}

/// Which datagrams a wire check is about; every field given must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Sent by this node (a group: any member).
    #[serde(default)]
    pub from: Option<String>,
    /// Sent to this node (a group: any member).
    #[serde(default)]
    pub to: Option<String>,
    /// Of this type, or one of these types.
    #[serde(default, rename = "type")]
    pub kind: Option<OneOrMany<TypeName>>,
}

/// How `routed` finds the partition of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteBy {
    /// `hash64(key) % N`, with the course's `hash64`.
    Hash64,
}
