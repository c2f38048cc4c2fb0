//! The steps of a scripted peer, and the datagrams it sends and waits for.

use super::*;

/// One step of a peer the grader plays.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ScriptStep {
    /// Wait for the next datagram; it must match every field given.
    Recv(RecvStep),
    /// Send a datagram to a peer.
    Send(SendStep),
    /// No datagram may arrive during the window.
    Silence {
        /// The window.
        #[serde(rename = "for")]
        window: Dur,
    },
    /// Let time pass.
    Sleep(Dur),
    /// Run steps again and again: `repeat: { times: 20, steps: [...] }`.
    /// Inside, `{i}` is the number of the round, from 0.
    Repeat {
        /// How many rounds.
        times: usize,
        /// The steps of one round.
        #[schemars(with = "Vec<ScriptStep>")]
        steps: Vec<ScriptStep>,
    },
    /// Run `then` when a value (after its names are filled in) is one of
    /// `is`, else `else`: `if: { value: "{a.type}", is: [CACHE_MISS], then: [...] }`.
    If(IfStep),
    /// Answer every datagram that arrives by the first rule that matches
    /// it, keeping a store of keys and values, until every program of the
    /// test has ended (or `for` passes).
    Serve(ServeStep),
}

/// `if`: a choice in a script.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IfStep {
    /// A text with names (`"{a.type}"`).
    pub value: String,
    /// The values that choose `then`.
    pub is: OneOrMany<String>,
    /// Steps when the value is one of `is`.
    #[serde(default)]
    #[schemars(with = "Vec<ScriptStep>")]
    pub then: Vec<ScriptStep>,
    /// Steps otherwise.
    #[serde(default, rename = "else")]
    #[schemars(with = "Vec<ScriptStep>")]
    pub otherwise: Vec<ScriptStep>,
}

/// `serve`: a peer that reacts.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeStep {
    /// The rules, tried in order for each datagram; a datagram no rule
    /// matches fails the script.
    pub rules: Vec<ServeRule>,
    /// The value `{stored}` has for a key never stored (default empty).
    #[serde(default)]
    pub initial: String,
    /// Serve for this long at most (default: until the programs end).
    #[serde(default, rename = "for")]
    pub window: Option<Dur>,
}

/// One rule of `serve`: which datagrams it takes and what it does.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeRule {
    /// The message types it takes (any record, if not given).
    #[serde(default, rename = "on")]
    pub kinds: Option<OneOrMany<TypeName>>,
    /// Only from this node.
    #[serde(default)]
    pub from: Option<String>,
    /// Store the datagram's value under its key first.
    #[serde(default)]
    pub store: bool,
    /// The answer, sent back to the sender. Its fields may use `{req.key}`,
    /// `{req.value}`, `{req.type}` (the datagram), and `{stored}` (the
    /// value stored under its key). No `reply`: the datagram is taken
    /// silently.
    #[serde(default)]
    pub reply: Option<OneOrMany<ReplyStep>>,
}

/// The answer a `serve` rule sends back.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyStep {
    /// Message type.
    #[serde(rename = "type")]
    pub kind: TypeName,
    /// Send it from another scripted node's address: the receiver sees a
    /// stranger (default: this node).
    #[serde(default)]
    pub from: Option<String>,
    /// Key (default `{req.key}`).
    #[serde(default)]
    pub key: Option<String>,
    /// Value (default empty).
    #[serde(default)]
    pub value: Option<String>,
    /// Send only this many bytes of the record (default: the type's length on the wire).
    #[serde(default)]
    pub len: Option<usize>,
}

/// One value, or a list of them: `type: READ_REP` or `type: [CACHE_HIT, CACHE_MISS]`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// One.
    One(T),
    /// Any of these.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values, one or many.
    pub fn all(&self) -> &[T] {
        match self {
            OneOrMany::One(t) => std::slice::from_ref(t),
            OneOrMany::Many(v) => v,
        }
    }
}

impl OneOrMany<TypeName> {
    /// Whether `kind` is one of the types.
    pub fn has(&self, kind: MsgType) -> bool {
        self.all().iter().any(|t| t.0 == kind)
    }

    /// The types as the course prints them, joined with ` or `.
    pub fn names(&self) -> String {
        let v: Vec<&str> = self.all().iter().map(|t| t.0.name()).collect();
        v.join(" or ")
    }
}

/// Expectations on a datagram a scripted node receives.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecvStep {
    /// The node it must come from.
    #[serde(default)]
    pub from: Option<String>,
    /// Its message type, or one of several (`[CACHE_HIT, CACHE_MISS]`).
    #[serde(default, rename = "type")]
    pub kind: Option<OneOrMany<TypeName>>,
    /// Its key (`{r.key}` refers to a datagram bound earlier with `as`).
    #[serde(default)]
    pub key: Option<String>,
    /// Its value.
    #[serde(default)]
    pub value: Option<String>,
    /// Its length in bytes.
    #[serde(default)]
    pub len: Option<usize>,
    /// Bind it as NAME, so later steps (of any scripted node) can use
    /// `{NAME.key}`, `{NAME.value}`, `{NAME.type}`.
    #[serde(default, rename = "as")]
    pub bind: Option<String>,
    /// How long to wait (default 5s, and never past the test's limit).
    #[serde(default)]
    pub within: Option<Dur>,
    /// While waiting, send this datagram again and again.
    #[serde(default)]
    pub meanwhile: Option<Meanwhile>,
}

/// A datagram a scripted node keeps sending while it waits in a `recv`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meanwhile {
    /// How often: the first copy goes at once, then one per period.
    pub every: Dur,
    /// What to send.
    pub send: SendStep,
}

/// A datagram a scripted node sends: a message, or raw bytes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// The peer to send to.
    pub to: String,
    /// Send it from this other scripted node's address, so that `to` sees a
    /// different sender (default: this node).
    #[serde(default)]
    pub from: Option<String>,
    /// Message type (with `key` and `value`).
    #[serde(default, rename = "type")]
    pub kind: Option<TypeName>,
    /// The key; may use `{NAME.key}`.
    #[serde(default)]
    pub key: Option<String>,
    /// The value; may use `{NAME.value}`.
    #[serde(default)]
    pub value: Option<String>,
    /// Send only this many bytes of the record (default: the type's length on the wire).
    #[serde(default)]
    pub len: Option<usize>,
    /// Raw bytes instead of a message, in hex (`"00 41 42"`).
    #[serde(default)]
    pub hex: Option<String>,
    /// Raw bytes instead of a message, as text.
    #[serde(default)]
    pub text: Option<String>,
}
