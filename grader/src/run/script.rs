//! Peers the grader plays itself: a client that sends garbage, a server
//! that answers with a stale key, a stranger. Scripts test one program in
//! isolation, with traffic no correct program would produce.
//!
//! A scripted node owns a UDP socket on 127.0.0.1 and reaches the others
//! through the proxy like any node, so its datagrams are recorded and its
//! peers see it at a face, as they would see a real program.
//!
//! Scripts are deterministic where timing would otherwise decide:
//!
//! - a `send` returns only once the proxy has passed the datagram on, so
//!   two sends reach their receiver in the order of the script, even when
//!   they leave from different addresses (`from:`);
//! - a name bound with `as` is visible to every scripted node of the test,
//!   and a step that uses a name not bound yet waits until it is;
//! - every wait is a wait on the run's record: a `recv` wakes when the
//!   proxy delivers a datagram to this node, and ends at once, failing,
//!   when nothing can arrive any more (every other node has ended and no
//!   datagram is on its way). A `silence` ends early, passing, for the
//!   same reason. So a test whose program exits early does not wait out
//!   `within`.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

use handout::{Message, Rng};

use super::record::{Fate, Live, Problem, QueryAnswer, Recorder, ScriptError, Wake};
use crate::spec::pattern::{self, Lookup};
use crate::spec::{RecvStep, ScriptStep, SendStep, ServeStep, parse_hex};

/// What a script that the end of the test interrupted says.
pub const ENDED: &str = "the test ended before the script did";

/// What a step says that the test's time limit cut short: like [`ENDED`],
/// it does not decide the test, and is not reported beside the step that
/// failed (the runner's own wait ends at the same moment, and says why);
/// the timeline shows where the script was.
pub const TIME_UP: &str = "the test's time limit passed";

/// How long reading a datagram the proxy has delivered may take: it is in
/// the socket already, so only a bug of the grader's would reach this.
const RECEIVE_GUARD: Duration = Duration::from_secs(1);

/// How long a `recv` waits when its step sets no `within`.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(5);

/// Everything a script thread needs.
pub struct Context {
    /// This node's index.
    pub me: usize,
    /// Node names, by index.
    pub names: Vec<String>,
    /// `faces[i][j]`: the port node i sends to in order to reach node j.
    pub faces: Vec<Vec<u16>>,
    /// The sockets of the scripted nodes, by node index.
    pub sockets: Arc<Vec<Option<UdpSocket>>>,
    /// The node's own placeholder values (`{seed}`, `{port}`, `{peer:X}`).
    pub vars: BTreeMap<String, String>,
    /// The run's record, and the test's clock every window is measured on.
    pub rec: Recorder,
    /// Whether the node was killed and is starting again: what arrived
    /// while it was dead is lost, as it would be for a restarted program.
    pub restarted: bool,
}

impl Context {
    /// Whether the script must stop: the test is ending, or the node was killed.
    fn over(&self, l: &Live) -> bool {
        l.ending || l.halted[self.me]
    }
}

/// Runs `steps` until they end, one fails, or the test ends.
///
/// # Errors
/// What went wrong, for the report: which step, what was expected, what
/// happened.
pub fn run(steps: &[ScriptStep], cx: &Context) -> Result<(), ScriptError> {
    let seed = cx
        .vars
        .get("seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let read = if cx.restarted { forget(cx) } else { 0 };
    let mut script = Script::new(cx, read, seed);
    for (i, step) in steps.iter().enumerate() {
        let done = script.exec(step);
        // A killed node's script just stops: the kill was the test's doing.
        if cx.rec.read(|l| l.halted[cx.me]) {
            return Ok(());
        }
        done.map_err(|(kind, expected, actual)| ScriptError {
            step: i + 1,
            kind,
            expected: script.round_note(expected),
            actual,
        })?;
        script.rounds.clear();
    }
    Ok(())
}

/// Throws away what reached the node's socket while it was dead, and
/// returns how many datagrams have been delivered to it so far: a
/// restarted node reads only what arrives from now on.
fn forget(cx: &Context) -> usize {
    let delivered = cx.rec.read(|l| l.delivered_to[cx.me]);
    if let Some(socket) = cx.sockets[cx.me].as_ref()
        && socket.set_nonblocking(true).is_ok()
    {
        let mut buf = [0u8; 65536];
        while socket.recv_from(&mut buf).is_ok() {}
        let _ = socket.set_nonblocking(false);
    }
    delivered
}

/// How long the grader waits for one answer of a `query` before asking again.
pub const QUERY_RETRY: Duration = Duration::from_millis(100);

/// `query`: the node `cx.me` reads each of `keys` from each of `nodes`,
/// asking again every [`QUERY_RETRY`], up to `within` per read. Other
/// datagrams (late answers to earlier traffic) are passed over.
///
/// # Errors
/// The first read that no answer came for.
pub fn query(
    cx: &Context,
    nodes: &[usize],
    keys: &[String],
    within: Duration,
) -> Result<Vec<QueryAnswer>, Problem> {
    let mut script = Script::new(cx, forget(cx), 0);
    let mut answers = Vec::new();
    for &node in nodes {
        for key in keys {
            let value = script
                .read_key(node, key, within)
                .map_err(|why| Problem::Unanswered {
                    node,
                    key: key.clone(),
                    why,
                })?;
            answers.push(QueryAnswer {
                node,
                key: key.clone(),
                value,
                at: cx.rec.now(),
            });
        }
    }
    Ok(answers)
}

/// A failed step: its kind, what was expected, what happened.
type Failed = (&'static str, String, String);

struct Script<'a> {
    cx: &'a Context,
    /// Datagrams this node has read from its socket.
    read: usize,
    /// Whether the datagram read last was forged by a `forge` rule: the
    /// grader's own, which a `query` does not take for an answer.
    forged: bool,
    /// Names bound inside a script: `{i}` of a `repeat`, `{req.key}` and
    /// `{stored}` in a `serve` reply.
    locals: BTreeMap<String, String>,
    /// For `{random:N}`, seeded with the node's seed.
    rng: Rng,
    /// The rounds of the `repeat`s the failing step is in, outermost first.
    rounds: Vec<(usize, usize)>,
}

/// The names a script may use: its locals, the node's own values, and what
/// any scripted node has bound.
struct Values<'a> {
    locals: &'a BTreeMap<String, String>,
    vars: &'a BTreeMap<String, String>,
    bound: &'a BTreeMap<String, String>,
}

impl Lookup for Values<'_> {
    fn value(&self, name: &str) -> Option<&str> {
        self.locals
            .get(name)
            .or_else(|| self.vars.get(name))
            .or_else(|| self.bound.get(name))
            .map(String::as_str)
    }
}

impl<'a> Script<'a> {
    /// A script of node `cx.me` that has read `read` datagrams, drawing
    /// `{random:N}` from `seed`.
    fn new(cx: &'a Context, read: usize, seed: u64) -> Script<'a> {
        Script {
            cx,
            read,
            forged: false,
            locals: BTreeMap::new(),
            rng: Rng::new(seed),
            rounds: Vec::new(),
        }
    }

    /// "round 3 of 20: " before what a step inside a `repeat` expected.
    fn round_note(&self, expected: String) -> String {
        let rounds: Vec<String> = self
            .rounds
            .iter()
            .map(|(i, n)| format!("round {} of {n}", i + 1))
            .collect();
        if rounds.is_empty() {
            expected
        } else {
            format!("{}: {expected}", rounds.join(", "))
        }
    }

    fn exec(&mut self, step: &ScriptStep) -> Result<(), Failed> {
        let cx = self.cx;
        // A paused node waits, doing nothing, until it is resumed.
        cx.rec.wait(None, None, |l| cx.over(l) || !l.paused[cx.me]);
        if cx.rec.read(|l| cx.over(l)) {
            return Err(("end", "to finish".into(), ENDED.into()));
        }
        match step {
            ScriptStep::Send(s) => self
                .send(s)
                .map_err(|e| ("send", "to send a datagram".into(), e))?,
            ScriptStep::Recv(r) => self.recv(r).map_err(|(e, a)| ("recv", e, a))?,
            ScriptStep::Silence { window } => {
                let until = cx.rec.clock() + window.0;
                let expected = format!("nothing to arrive for {window}");
                match self.next(Some(until), None, false) {
                    Ok(None) => {}
                    Ok(Some((bytes, from))) => {
                        let actual = format!("{from} sent {}", describe(&bytes));
                        return Err(("silence", expected, actual));
                    }
                    Err(actual) => return Err(("silence", expected, actual)),
                }
            }
            ScriptStep::Sleep(d) => {
                let until = cx.rec.clock() + d.0;
                cx.rec.wait(Some(until), None, |l| cx.over(l));
            }
            ScriptStep::Repeat { times, steps } => {
                let outer = self.locals.get("i").cloned();
                for round in 0..*times {
                    self.locals.insert("i".into(), round.to_string());
                    // A round draws its own `{random:N}`, once.
                    self.locals.retain(|k, _| !k.starts_with("random:"));
                    self.rounds.push((round, *times));
                    for s in steps {
                        self.exec(s)?;
                    }
                    self.rounds.pop();
                }
                match outer {
                    Some(i) => self.locals.insert("i".into(), i),
                    None => self.locals.remove("i"),
                };
            }
            ScriptStep::If(c) => {
                let value = self
                    .fill(&c.value)
                    .map_err(|e| ("if", "a value to test".into(), e))?;
                let branch = if c.is.all().contains(&value) {
                    &c.then
                } else {
                    &c.otherwise
                };
                for s in branch {
                    self.exec(s)?;
                }
            }
            ScriptStep::Serve(sv) => self.serve(sv).map_err(|(e, a)| ("serve", e, a))?,
        }
        Ok(())
    }

    /// `text` with its names filled in, waiting for names other scripts
    /// have not bound yet. `{random:N}` is a number below N from the node's
    /// seeded generator, drawn once per round of a `repeat` (and once
    /// outside one), so every use in a round has the same value.
    fn fill(&mut self, text: &str) -> Result<String, String> {
        let cx = self.cx;
        let tokens = pattern::parse(text)?;
        for name in pattern::names(&tokens) {
            if let Some(n) = name.strip_prefix("random:")
                && !self.locals.contains_key(name)
            {
                let n: u64 = n
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("`{{{name}}}`: N must be a whole number above 0"))?;
                let drawn = self.rng.below(n).to_string();
                self.locals.insert(name.to_string(), drawn);
            }
        }
        let locals = &self.locals;
        let missing = |l: &Live| {
            pattern::names(&tokens).any(|n| {
                !locals.contains_key(n) && !cx.vars.contains_key(n) && !l.bindings.contains_key(n)
            })
        };
        cx.rec.wait(None, None, |l| cx.over(l) || !missing(l));
        if cx.rec.read(|l| cx.over(l)) {
            return Err(ENDED.into());
        }
        if cx.rec.read(|l| missing(l)) && cx.rec.time_up() {
            return Err(TIME_UP.into());
        }
        cx.rec.read(|l| {
            pattern::substitute(
                text,
                &Values {
                    locals,
                    vars: &cx.vars,
                    bound: &l.bindings,
                },
            )
        })
    }

    /// `serve`: answers what arrives until the programs are done.
    fn serve(&mut self, sv: &ServeStep) -> Result<(), (String, String)> {
        let cx = self.cx;
        let until = sv.window.map(|w| cx.rec.clock() + w.0);
        let expected = "a datagram one of its rules takes".to_string();
        let mut store: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let Some((bytes, from)) = self
                .next(until, None, true)
                .map_err(|e| (expected.clone(), e))?
            else {
                return Ok(());
            };
            // A stranger neither writes to the store nor gets an answer.
            if cx.names.iter().all(|n| *n != from) {
                return Err((
                    expected,
                    format!(
                        "{from} sent {}: a stranger gets no answer",
                        describe(&bytes)
                    ),
                ));
            }
            let msg = Message::decode(&bytes);
            let rule = sv.rules.iter().find(|r| {
                r.from.as_ref().is_none_or(|f| *f == from)
                    && match (&r.kinds, &msg) {
                        (None, _) => msg.is_ok(),
                        (Some(k), Ok(m)) => k.has(m.kind),
                        (Some(_), Err(_)) => false,
                    }
            });
            let (Some(rule), Ok(msg)) = (rule, msg) else {
                return Err((expected, format!("{from} sent {}", describe(&bytes))));
            };
            if rule.store {
                store.insert(msg.key.clone(), msg.value.clone());
            }
            let Some(replies) = &rule.reply else {
                continue;
            };
            let stored = store.get(&msg.key).unwrap_or(&sv.initial).clone();
            self.locals.insert("req.key".into(), msg.key.clone());
            self.locals.insert("req.value".into(), msg.value.clone());
            self.locals
                .insert("req.type".into(), msg.kind.name().into());
            self.locals.insert("stored".into(), stored);
            for reply in replies.all() {
                let send = SendStep {
                    to: from.clone(),
                    from: reply.from.clone(),
                    kind: Some(reply.kind),
                    key: Some(reply.key.clone().unwrap_or_else(|| "{req.key}".into())),
                    value: reply.value.clone(),
                    len: reply.len,
                    hex: None,
                    text: None,
                };
                // Several replies reach the sender in the order of the rule.
                self.send_one(&send, replies.all().len() > 1)
                    .map_err(|e| ("to answer".to_string(), e))?;
            }
        }
    }

    fn bytes(&mut self, s: &SendStep) -> Result<Vec<u8>, String> {
        if let Some(h) = &s.hex {
            return parse_hex(h);
        }
        if let Some(t) = &s.text {
            return Ok(t.as_bytes().to_vec());
        }
        let kind = s.kind.ok_or("a message needs a `type`")?.0;
        let key = self.fill(s.key.as_deref().unwrap_or(""))?;
        let value = self.fill(s.value.as_deref().unwrap_or(""))?;
        let len = s.len.unwrap_or(kind.wire_len()).min(handout::RECORD_LEN);
        super::proxy::forge::record(kind, &key, &value, len).map_err(|e| e.to_string())
    }

    /// Sends one datagram, and returns once the proxy has passed it on
    /// (`wait`), so that the order of sends is the order of arrival.
    fn send_one(&mut self, s: &SendStep, wait: bool) -> Result<(), String> {
        let cx = self.cx;
        let bytes = self.bytes(s)?;
        let index = |name: &str| cx.names.iter().position(|n| n == name);
        let to = index(&s.to).ok_or_else(|| format!("no node `{}`", s.to))?;
        let from = match &s.from {
            Some(f) => index(f).ok_or_else(|| format!("no node `{f}`"))?,
            None => cx.me,
        };
        let socket = cx.sockets[from]
            .as_ref()
            .ok_or_else(|| format!("`{}` is not a scripted node", cx.names[from]))?;
        // The link's counts, not the datagrams kept: exact past the bound
        // of the record, and one look per change of the record.
        let sent_before = |l: &Live| l.record.traffic.links[from][to].all;
        let before = cx.rec.read(sent_before);
        socket
            .send_to(&bytes, ("127.0.0.1", cx.faces[from][to]))
            .map_err(|e| format!("sendto(2) failed: {e}"))?;
        if !wait {
            return Ok(());
        }
        cx.rec
            .wait(None, None, |l| cx.over(l) || sent_before(l) > before);
        // A datagram nobody can receive would make the step prove nothing.
        let undeliverable = cx
            .rec
            .read(|l| l.record.traffic.links[from][to].last == Some(Fate::Undeliverable));
        if undeliverable {
            return Err(format!(
                "{} has sent nothing yet, so the proxy knows no address to deliver to",
                cx.names[to]
            ));
        }
        Ok(())
    }

    /// One read of a `query`: the value `node` answers for `key`.
    ///
    /// # Errors
    /// Why no answer came, as the end of a sentence that starts "NODE did
    /// not answer the grader's READ_REQ for key KEY": "within 2s",
    /// "before the test's time limit (10s) passed", ...
    fn read_key(&mut self, node: usize, key: &str, within: Duration) -> Result<String, String> {
        let cx = self.cx;
        let window = || format!("within {}", crate::spec::Dur(within));
        let give_up = cx.rec.clock() + within;
        let ask = SendStep {
            to: cx.names[node].clone(),
            from: None,
            kind: Some(crate::spec::TypeName(handout::MsgType::ReadReq)),
            key: Some(key.to_string()),
            value: None,
            len: None,
            hex: None,
            text: None,
        };
        while cx.rec.clock() < give_up {
            self.send_one(&ask, false)
                .map_err(|e| format!("(the grader could not send it: {e})"))?;
            let again = (cx.rec.clock() + QUERY_RETRY).min(give_up);
            loop {
                match self.next(Some(again), None, false) {
                    Ok(Some((bytes, from))) => {
                        if from == cx.names[node]
                            && !self.forged
                            && let Ok(m) = Message::decode(&bytes)
                            && m.kind == handout::MsgType::ReadRep
                            && m.key == key
                        {
                            return Ok(m.value);
                        }
                    }
                    // Nobody left to answer.
                    Ok(None) if cx.rec.clock() < again => {
                        let ended = cx.rec.read(|l| ended_programs(l, cx.me));
                        return Err(format!(
                            "{}: nothing could arrive any more ({ended})",
                            window()
                        ));
                    }
                    Ok(None) => break,
                    Err(e) if e == TIME_UP => {
                        let limit = cx.rec.read(|l| crate::spec::Dur(l.record.clock.limit));
                        return Err(format!("before the test's time limit ({limit}) passed"));
                    }
                    Err(_) => return Err("before the test ended".into()),
                }
            }
        }
        Err(window())
    }

    fn send(&mut self, s: &SendStep) -> Result<(), String> {
        self.send_one(s, true)
    }

    /// The next datagram to this node and who sent it, or None when the
    /// test's clock reads `until` or the time limit passes, or when nothing
    /// can arrive any more (`serving`: when the programs are done, whatever
    /// other scripted nodes do). With `meanwhile`, sends that datagram
    /// every period (of the wall clock) while it waits.
    fn next(
        &mut self,
        until: Option<Duration>,
        meanwhile: Option<&crate::spec::Meanwhile>,
        serving: bool,
    ) -> Result<Option<(Vec<u8>, String)>, String> {
        let cx = self.cx;
        let me = cx.me;
        let mut next_send = meanwhile.map(|_| Instant::now());
        loop {
            if let (Some(at), Some(m)) = (next_send, meanwhile)
                && Instant::now() >= at
            {
                self.send_one(&m.send, false)
                    .map_err(|e| format!("the `meanwhile` datagram could not be sent: {e}"))?;
                next_send = Some(at + m.every.0);
            }
            let read = self.read;
            let done = |l: &Live| {
                if serving {
                    l.programs_done_for(me)
                } else {
                    l.nobody_left_for(me)
                }
            };
            // A paused node reads nothing: what arrives waits in its
            // socket, and it waits to be resumed even when nothing more
            // can arrive.
            let arrived = |l: &Live| l.delivered_to[me] > read && !l.paused[me];
            let gone = |l: &Live| done(l) && !l.paused[me];
            let wake = cx
                .rec
                .wait(until, next_send, |l| cx.over(l) || arrived(l) || gone(l));
            let (ending, arrived, gone) = cx.rec.read(|l| (cx.over(l), arrived(l), gone(l)));
            if ending {
                return Err(ENDED.into());
            }
            if arrived {
                self.forged = cx.rec.read(|l| l.forged_to[me].contains(&self.read));
                self.read += 1;
                if let Some(got) = self.receive() {
                    return Ok(Some(got));
                }
                continue;
            }
            if gone {
                return Ok(None);
            }
            if wake == Wake::TimeUp {
                // A `serve` ends with the programs, or with the test; a
                // step that waits for something did not get it.
                return if serving {
                    Ok(None)
                } else {
                    Err(TIME_UP.into())
                };
            }
            if until.is_some_and(|u| cx.rec.clock() >= u) {
                return Ok(None);
            }
        }
    }

    /// Reads the datagram the proxy has delivered to this node's socket.
    fn receive(&self) -> Option<(Vec<u8>, String)> {
        let cx = self.cx;
        let socket = cx.sockets[cx.me].as_ref()?;
        let mut buf = [0u8; 65536];
        // The proxy has sent it: on loopback, sendto(2) has put it in this
        // socket's queue before it returned, so it is there already. The
        // timeout only guards against a grader bug.
        socket.set_read_timeout(Some(RECEIVE_GUARD)).ok()?;
        let (len, src) = socket.recv_from(&mut buf).ok()?;
        let from = match cx.faces[cx.me].iter().position(|&p| p == src.port()) {
            Some(j) => cx.names[j].clone(),
            None => format!("a stranger at {src}"),
        };
        Some((buf[..len].to_vec(), from))
    }

    fn recv(&mut self, r: &RecvStep) -> Result<(), (String, String)> {
        let cx = self.cx;
        let within = r.within.map_or(DEFAULT_WITHIN, |d| d.0);
        let started = cx.rec.clock();
        let mut fill = |t: &Option<String>| {
            t.as_deref()
                .map(|t| self.fill(t))
                .transpose()
                .map_err(|e| ("a datagram".to_string(), e))
        };
        let key = fill(&r.key)?;
        let value = fill(&r.value)?;
        let mut want = Vec::new();
        if let Some(k) = &r.kind {
            want.push(k.names());
        }
        if let Some(k) = &key {
            want.push(format!("key {k}"));
        }
        if let Some(v) = &value {
            want.push(format!("value {v}"));
        }
        if let Some(l) = r.len {
            want.push(format!("{l} bytes"));
        }
        if let Some(f) = &r.from {
            want.push(format!("from {f}"));
        }
        let mut want = if want.is_empty() {
            "a datagram".to_string()
        } else {
            want.join(", ")
        };
        want.push_str(&format!(" within {}", crate::spec::Dur(within)));
        if let Some(m) = &r.meanwhile {
            want.push_str(&format!(
                " (while {} was sent a stray datagram every {})",
                m.send.to, m.every
            ));
        }
        let until = started + within;
        let got = self
            .next(Some(until), r.meanwhile.as_ref(), false)
            .map_err(|e| (want.clone(), e))?;
        let Some((bytes, from)) = got else {
            let why = cx.rec.read(|l| {
                if l.nobody_left_for(cx.me) {
                    let ended = ended_programs(l, cx.me);
                    format!("nothing can arrive any more: {ended}")
                } else {
                    format!("nothing arrived in {}", crate::spec::Dur(within))
                }
            });
            return Err((want, why));
        };
        let got = describe(&bytes);
        let wrong = |why: &str| Err((want.clone(), format!("{from} sent {got} ({why})")));
        let Ok(msg) = Message::decode(&bytes) else {
            return wrong("not a record");
        };
        if r.from.as_ref().is_some_and(|f| *f != from) {
            return wrong("wrong sender");
        }
        if r.kind.as_ref().is_some_and(|k| !k.has(msg.kind)) {
            return wrong("wrong type");
        }
        if key.as_ref().is_some_and(|k| *k != msg.key) {
            return wrong("wrong key");
        }
        if value.as_ref().is_some_and(|v| *v != msg.value) {
            return wrong("wrong value");
        }
        if r.len.is_some_and(|l| l != bytes.len()) {
            return wrong("wrong length");
        }
        if let Some(name) = &r.bind {
            cx.rec.update(|l| {
                l.bindings.insert(format!("{name}.key"), msg.key.clone());
                l.bindings
                    .insert(format!("{name}.value"), msg.value.clone());
                l.bindings
                    .insert(format!("{name}.type"), msg.kind.name().into());
            });
        }
        Ok(())
    }
}

/// "client exited with exit code 0, server was never started", for a
/// message on why nothing can arrive.
fn ended_programs(l: &Live, me: usize) -> String {
    let r = &l.record;
    let parts: Vec<String> = (0..r.nodes.len())
        .filter(|&j| j != me)
        .map(|j| {
            let name = &r.nodes[j].name;
            match r.exit_of(j) {
                Some((_, status)) => format!("{name} {}", status.had()),
                None if r.started(j) => format!("{name} had finished"),
                None => format!("{name} was not started"),
            }
        })
        .collect();
    parts.join(", ")
}

/// A datagram as a report shows it: `33 bytes: Type: READ_REP Key: ...`.
pub fn describe(bytes: &[u8]) -> String {
    match Message::decode(bytes) {
        Ok(m) => format!("{} bytes: {m}", bytes.len()),
        Err(e) => format!("a malformed datagram ({e})"),
    }
}
