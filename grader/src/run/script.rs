//! Peers the grader plays itself: a client that sends garbage, a server
//! that answers with a stale key. Scripts test one program in isolation,
//! with traffic no correct program would produce.
//!
//! A scripted node owns a UDP socket on 127.0.0.1 and reaches the others
//! through the proxy like any node, so its datagrams are recorded and its
//! peers see it at a face, as they would see a real program.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use handout::Message;

use crate::spec::{RecvStep, ScriptStep, SendStep, parse_hex};

/// How a scripted node reaches the others.
pub struct Peers {
    /// Node names, by index.
    pub names: Vec<String>,
    /// `faces[j]`: the port this node sends to in order to reach node j,
    /// and the port node j's datagrams arrive from.
    pub faces: Vec<u16>,
}

/// Runs `steps` on `socket` until they end, one fails, the deadline passes
/// or `abort` is set (whoever sets it then sends the socket any datagram to
/// wake it).
///
/// # Errors
/// What went wrong, phrased for the report: which step, what was expected,
/// what arrived.
pub fn run(
    steps: &[ScriptStep],
    socket: &UdpSocket,
    peers: &Peers,
    deadline: Instant,
    abort: &Arc<AtomicBool>,
) -> Result<(), String> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        if abort.load(Ordering::SeqCst) {
            return Err("stopped: the test ended first".into());
        }
        match step {
            ScriptStep::Send(s) => {
                send(s, socket, peers, &vars).map_err(|e| format!("step {n} (send): {e}"))?
            }
            ScriptStep::Recv(r) => {
                let got = recv(r, socket, peers, deadline, abort, &vars)
                    .map_err(|e| format!("step {n} (recv): {e}"))?;
                if let Some(name) = &r.bind {
                    vars.insert(format!("{name}.key"), got.key);
                    vars.insert(format!("{name}.value"), got.value);
                    vars.insert(format!("{name}.type"), got.kind.name().into());
                }
            }
            ScriptStep::Silence { window } => {
                let until = Instant::now() + window.0;
                if let Some((bytes, from)) =
                    next_datagram(socket, peers, until.min(deadline), abort)?
                {
                    return Err(format!(
                        "step {n} (silence): nothing should arrive for {window}, but {from} sent {}",
                        describe(&bytes)
                    ));
                }
            }
            ScriptStep::Sleep(d) => {
                std::thread::sleep(d.0.min(deadline.saturating_duration_since(Instant::now())))
            }
        }
    }
    Ok(())
}

fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let j = rest[i..]
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in `{text}`"))?;
        let name = &rest[i + 1..i + j];
        let v = vars
            .get(name)
            .ok_or_else(|| format!("`{{{name}}}` is not bound by an earlier `recv ... as`"))?;
        out.push_str(v);
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn send(
    s: &SendStep,
    socket: &UdpSocket,
    peers: &Peers,
    vars: &BTreeMap<String, String>,
) -> Result<(), String> {
    let bytes = if let Some(h) = &s.hex {
        parse_hex(h)?
    } else if let Some(t) = &s.text {
        t.as_bytes().to_vec()
    } else {
        let kind = s.kind.ok_or("a message needs a `type`")?.0;
        let key = substitute(s.key.as_deref().unwrap_or(""), vars)?;
        let value = substitute(s.value.as_deref().unwrap_or(""), vars)?;
        let msg = Message::new(kind, &key, &value).map_err(|e| e.to_string())?;
        let full = msg.encode_full();
        full[..s.len.unwrap_or(kind.wire_len()).min(full.len())].to_vec()
    };
    let to = peers
        .names
        .iter()
        .position(|n| *n == s.to)
        .ok_or_else(|| format!("no node `{}`", s.to))?;
    socket
        .send_to(&bytes, ("127.0.0.1", peers.faces[to]))
        .map_err(|e| format!("sendto(2) failed: {e}"))?;
    Ok(())
}

/// The next datagram and who sent it, or None at `until`.
fn next_datagram(
    socket: &UdpSocket,
    peers: &Peers,
    until: Instant,
    abort: &AtomicBool,
) -> Result<Option<(Vec<u8>, String)>, String> {
    let mut buf = [0u8; 65536];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        match socket.recv_from(&mut buf) {
            Ok((len, src)) => {
                if abort.load(Ordering::SeqCst) {
                    return Err("stopped: the test ended first".into());
                }
                let from = match peers.faces.iter().position(|&p| p == src.port()) {
                    Some(j) => peers.names[j].clone(),
                    None => format!("a stranger at {src}"),
                };
                return Ok(Some((buf[..len].to_vec(), from)));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(format!("recvfrom(2) failed: {e}")),
        }
    }
}

fn describe(bytes: &[u8]) -> String {
    match Message::decode(bytes) {
        Ok(m) => format!("{} bytes: {m}", bytes.len()),
        Err(e) => format!("a malformed datagram ({e})"),
    }
}

fn recv(
    r: &RecvStep,
    socket: &UdpSocket,
    peers: &Peers,
    deadline: Instant,
    abort: &AtomicBool,
    vars: &BTreeMap<String, String>,
) -> Result<Message, String> {
    let within = r.within.map_or(Duration::from_secs(5), |d| d.0);
    let mut want = Vec::new();
    if let Some(k) = r.kind {
        want.push(k.0.name().to_string());
    }
    let key = r.key.as_deref().map(|k| substitute(k, vars)).transpose()?;
    let value = r
        .value
        .as_deref()
        .map(|v| substitute(v, vars))
        .transpose()?;
    if let Some(k) = &key {
        want.push(format!("key {k}"));
    }
    if let Some(v) = &value {
        want.push(format!("value {v}"));
    }
    if let Some(f) = &r.from {
        want.push(format!("from {f}"));
    }
    let want = if want.is_empty() {
        "a datagram".to_string()
    } else {
        want.join(", ")
    };
    let Some((bytes, from)) = next_datagram(
        socket,
        peers,
        (Instant::now() + within).min(deadline),
        abort,
    )?
    else {
        return Err(format!(
            "expected {want} within {}ms, but nothing arrived",
            within.as_millis()
        ));
    };
    let got = describe(&bytes);
    let wrong = |why: &str| Err(format!("expected {want}; {from} sent {got} ({why})"));
    let msg = match Message::decode(&bytes) {
        Ok(m) => m,
        Err(_) => return wrong("not a record"),
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
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_uses_bound_fields() {
        let mut v = BTreeMap::new();
        v.insert("r.key".to_string(), "AAAAB".to_string());
        assert_eq!(substitute("{r.key}", &v).unwrap(), "AAAAB");
        assert_eq!(substitute("plain", &v).unwrap(), "plain");
        assert!(substitute("{q.key}", &v).unwrap_err().contains("not bound"));
    }
}
