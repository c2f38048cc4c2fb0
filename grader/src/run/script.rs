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

use handout::Message;

use super::record::{Fate, Live, Recorder, ScriptError};
use crate::spec::pattern::{self, Lookup};
use crate::spec::{RecvStep, ScriptStep, SendStep, parse_hex};

/// What a script that the end of the test interrupted says.
pub const ENDED: &str = "the test ended before the script did";

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
    /// The run's record.
    pub rec: Recorder,
    /// The test's time limit.
    pub deadline: Instant,
}

/// Runs `steps` until they end, one fails, or the test ends.
///
/// # Errors
/// What went wrong, for the report: which step, what was expected, what
/// happened.
pub fn run(steps: &[ScriptStep], cx: &Context) -> Result<(), ScriptError> {
    let mut script = Script { cx, read: 0 };
    for (i, step) in steps.iter().enumerate() {
        let fail = |kind: &'static str, expected: String, actual: String| ScriptError {
            step: i + 1,
            kind,
            expected,
            actual,
        };
        if cx.rec.read(|l| l.ending) {
            return Err(fail("end", "to finish".into(), ENDED.into()));
        }
        match step {
            ScriptStep::Send(s) => script
                .send(s)
                .map_err(|e| fail("send", "to send a datagram".into(), e))?,
            ScriptStep::Recv(r) => script.recv(r).map_err(|(e, a)| fail("recv", e, a))?,
            ScriptStep::Silence { window } => {
                let until = (Instant::now() + window.0).min(cx.deadline);
                let expected = format!("nothing to arrive for {window}");
                match script.next(until, None) {
                    Ok(None) => {}
                    Ok(Some((bytes, from))) => {
                        let actual = format!("{from} sent {}", describe(&bytes));
                        return Err(fail("silence", expected, actual));
                    }
                    Err(actual) => return Err(fail("silence", expected, actual)),
                }
            }
            ScriptStep::Sleep(d) => {
                let until = (Instant::now() + d.0).min(cx.deadline);
                cx.rec.wait_until(until, |l| l.ending);
            }
        }
    }
    Ok(())
}

struct Script<'a> {
    cx: &'a Context,
    /// Datagrams this node has read from its socket.
    read: usize,
}

/// The names a script may use: the node's own values, and what any
/// scripted node has bound.
struct Values<'a> {
    vars: &'a BTreeMap<String, String>,
    bound: &'a BTreeMap<String, String>,
}

impl Lookup for Values<'_> {
    fn value(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .or_else(|| self.bound.get(name))
            .map(String::as_str)
    }
}

impl Script<'_> {
    /// `text` with its names filled in, waiting for names other scripts
    /// have not bound yet.
    fn fill(&self, text: &str) -> Result<String, String> {
        let cx = self.cx;
        let tokens = pattern::parse(text)?;
        let missing = |l: &Live| {
            pattern::names(&tokens).any(|n| !cx.vars.contains_key(n) && !l.bindings.contains_key(n))
        };
        cx.rec.wait_until(cx.deadline, |l| l.ending || !missing(l));
        cx.rec.read(|l| {
            pattern::substitute(
                text,
                &Values {
                    vars: &cx.vars,
                    bound: &l.bindings,
                },
            )
        })
    }

    fn bytes(&self, s: &SendStep) -> Result<Vec<u8>, String> {
        if let Some(h) = &s.hex {
            return parse_hex(h);
        }
        if let Some(t) = &s.text {
            return Ok(t.as_bytes().to_vec());
        }
        let kind = s.kind.ok_or("a message needs a `type`")?.0;
        let key = self.fill(s.key.as_deref().unwrap_or(""))?;
        let value = self.fill(s.value.as_deref().unwrap_or(""))?;
        let msg = Message::new(kind, &key, &value).map_err(|e| e.to_string())?;
        let full = msg.encode_full();
        Ok(full[..s.len.unwrap_or(kind.wire_len()).min(full.len())].to_vec())
    }

    /// Sends one datagram, and returns once the proxy has passed it on
    /// (`wait`), so that the order of sends is the order of arrival.
    fn send_one(&self, s: &SendStep, wait: bool) -> Result<(), String> {
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
            .wait_until(cx.deadline, |l| l.ending || sent_before(l) > before);
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

    fn send(&mut self, s: &SendStep) -> Result<(), String> {
        self.send_one(s, true)
    }

    /// The next datagram to this node and who sent it, or None at `until`,
    /// or when nothing can arrive any more. With `meanwhile`, sends that
    /// datagram every period while it waits.
    fn next(
        &mut self,
        until: Instant,
        meanwhile: Option<&crate::spec::Meanwhile>,
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
            let wake = next_send.map_or(until, |s| s.min(until));
            let read = self.read;
            cx.rec.wait_until(wake, |l| {
                l.ending || l.delivered_to[me] > read || l.nobody_left_for(me)
            });
            let (ending, arrived, gone) = cx
                .rec
                .read(|l| (l.ending, l.delivered_to[me] > read, l.nobody_left_for(me)));
            if ending {
                return Err(ENDED.into());
            }
            if arrived {
                self.read += 1;
                if let Some(got) = self.receive(until) {
                    return Ok(Some(got));
                }
                continue;
            }
            if gone || Instant::now() >= until {
                return Ok(None);
            }
        }
    }

    /// Reads the datagram the proxy has delivered to this node's socket.
    fn receive(&self, until: Instant) -> Option<(Vec<u8>, String)> {
        let cx = self.cx;
        let socket = cx.sockets[cx.me].as_ref()?;
        let mut buf = [0u8; 65536];
        // The proxy has sent it; on loopback it is in the socket already,
        // or within a moment.
        let left = until
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        socket.set_read_timeout(Some(left)).ok()?;
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
        let started = Instant::now();
        let fill = |t: &Option<String>| {
            t.as_deref()
                .map(|t| self.fill(t))
                .transpose()
                .map_err(|e| ("a datagram".to_string(), e))
        };
        let key = fill(&r.key)?;
        let value = fill(&r.value)?;
        let mut want = Vec::new();
        if let Some(k) = r.kind {
            want.push(k.0.name().to_string());
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
        let until = (started + within).min(cx.deadline);
        let got = self
            .next(until, r.meanwhile.as_ref())
            .map_err(|e| (want.clone(), e))?;
        let Some((bytes, from)) = got else {
            let why = cx.rec.read(|l| {
                if l.nobody_left_for(cx.me) {
                    let ended = ended_programs(l, cx.me);
                    format!("nothing can arrive any more: {ended}")
                } else if Instant::now() >= cx.deadline {
                    "the test's time limit passed".to_string()
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
        if r.kind.is_some_and(|k| k.0 != msg.kind) {
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
                Some((_, status, _)) => format!("{name} had exited ({status})"),
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
