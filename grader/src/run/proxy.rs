//! The interposed network: every datagram between two nodes passes through
//! the grader, which records it and may drop, duplicate or delay it.
//!
//! # Faces
//! For each ordered pair of nodes (A, B) the proxy binds one UDP socket, the
//! *face of B towards A*: A is told (through `{peer:B}`) to send to it, and
//! everything B sends to A leaves from it. So:
//!
//! ```text
//!   A ──▶ face(A→B) ═══ proxy ═══ face(B→A) ──▶ B's address
//!   A ◀── face(A→B) ═══ proxy ═══ face(B→A) ◀── B replies to its sender
//! ```
//!
//! A server B therefore sees each of its clients at a distinct address (one
//! face per client), replies go back the way they came, and a client sees
//! its replies come from the very address it sent to. A node's address is
//! its leased port when it listens, else it is learned from the datagrams
//! it sends (a client's ephemeral port): the address it used towards a
//! peer is where that peer's datagrams go, and the last address it used
//! at all is where anyone else's go (a stranger writing to a client that
//! never wrote to it).
//!
//! # Faults
//! A datagram's fate is decided in this order: no known address
//! (undeliverable), a partition, the spec's [rules](crate::spec::Rule) (the
//! first that names the datagram decides), then the link's probabilities.
//! Rules make a fault certain: "drop the first READ_REQ" happens on every
//! seed, so a test that needs a retransmission always gets one.
//!
//! Each link (ordered pair) draws its random faults from generators of its
//! own, one per kind of fault (`Draws`): each seeded from the link's seed
//! and the kind's name, each drawing the same count of numbers for every
//! datagram of the link (one for `drop`, one for `duplicate`, one per copy
//! for `jitter`), in the order the link's datagrams arrive. So the same
//! seed makes the same decisions for the same traffic, whatever other links
//! do and whatever a rule decides; and a kind of fault added later draws
//! from a stream of its own, which changes no decision of the kinds there
//! are (see `specs/spec-format.md`, "What a seed replays").
//!
//! # Flooding
//! Before the network, each sender is held to `limits.send_rate`: at most
//! that many datagrams in any one second, counted over a sliding window of
//! the arrival times of what it had passed on (at most `send_rate` of them,
//! so the check is O(1) per datagram, amortised). A datagram past the rate
//! is refused: it is not forwarded, no rule counts it and no draw is made
//! for it, so a flood changes nothing of what the seed decides for the
//! traffic that passes. The first refusal records one
//! [`SendRateExceeded`](super::record::What::SendRateExceeded) event,
//! which decides the test (it fails, and ends); the totals are counted
//! per sender in the record's [traffic](super::record::Traffic). Routers
//! police traffic the same way (a token bucket), and drop rather than
//! queue what goes over.
//!
//! # What is recorded
//! Everything lands in the run's [record](super::record): when a datagram
//! arrived, its fate, the delay of each copy, and when each copy left. The
//! record keeps the first `limits.datagrams` datagrams of a test; past
//! them the proxy forwards as usual and the record only counts.
//!
//! The proxy's own state stays bounded whatever the programs send: a
//! sender's window holds at most `send_rate` times, a rule remembers only
//! keys it may still name, held copies are bounded by the rate times the
//! delay, and the faces are read a batch at a time so that no flood keeps
//! the proxy from delivering what is due or from stopping.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use handout::{Message, Rng};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::record::{Datagram, Fate, Recorder, What};
use super::seed;
use crate::spec::{Faults, Rule};

/// What the proxy needs to know about one node.
#[derive(Debug, Clone, Copy)]
pub struct Host {
    /// Its own port, when it has one (a listening program, a scripted node).
    pub home: Option<u16>,
}

/// The network of one test, as the spec describes it, with node names
/// turned into indexes.
pub struct Setup {
    /// The nodes.
    pub hosts: Vec<Host>,
    /// `faults[from][to]`: the random faults of each link.
    pub faults: Vec<Vec<Faults>>,
    /// `seeds[from][to]`: the seed of each link's fault generators.
    pub seeds: Vec<Vec<u64>>,
    /// The rules, with the indexes of their sender and receiver.
    pub rules: Vec<(usize, usize, Rule)>,
    /// Datagrams the record keeps (`limits.datagrams`); past them the
    /// proxy forwards and counts.
    pub keep: usize,
    /// Datagrams one sender may send in any one second (`limits.send_rate`).
    pub send_rate: u32,
}

/// The random draws of one link: one generator per kind of fault, each
/// seeded from the link's seed and the kind's name, so that the decisions
/// of one kind never shift those of another, and a kind added later leaves
/// every existing stream as it was.
struct Draws {
    drop: Rng,
    duplicate: Rng,
    jitter: Rng,
}

impl Draws {
    fn new(link: u64) -> Draws {
        let stream = |kind: &str| Rng::new(seed::derive(link, kind));
        Draws {
            drop: stream("drop"),
            duplicate: stream("duplicate"),
            jitter: stream("jitter"),
        }
    }

    /// The draws for one datagram under `f`: whether it is dropped, whether
    /// duplicated, and the jitter of each of its (up to two) copies, as a
    /// fraction of `f.jitter`. Every stream draws for every datagram, the
    /// same count whatever the outcome.
    fn next(&mut self, f: &Faults) -> (bool, bool, [f64; 2]) {
        (
            self.drop.chance(f.drop),
            self.duplicate.chance(f.duplicate),
            [self.jitter.next_f64(), self.jitter.next_f64()],
        )
    }
}

/// How many datagrams are read from one face before the proxy looks at
/// the others, at what is due, and at whether it must stop.
const BATCH: usize = 256;

/// How many datagrams settling reads from one face at most: more than a
/// socket's receive buffer holds, so everything that had arrived.
const SETTLE_BATCH: usize = 4096;

/// The window of the send rate.
const SECOND: Duration = Duration::from_secs(1);

/// Changes a test makes while it runs.
#[derive(Debug, Default)]
struct Control {
    /// Pairs (a, b) with a < b that cannot reach each other.
    partitions: Vec<(usize, usize)>,
    /// Links (from, to) cut in one direction.
    cuts: Vec<(usize, usize)>,
    /// `faults[from * n + to]`: the random faults of each link now.
    faults: Vec<Faults>,
}

impl Control {
    /// Whether the link `from -> to` is cut, one way or both.
    fn cut(&self, from: usize, to: usize) -> bool {
        self.partitions.contains(&(from.min(to), from.max(to))) || self.cuts.contains(&(from, to))
    }
}

/// The running proxy of one test.
pub struct Network {
    n: usize,
    ports: Vec<u16>,
    control: Arc<Mutex<Control>>,
    stop: Arc<AtomicBool>,
    settle: Arc<AtomicU64>,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

struct Face {
    socket: UdpSocket,
    /// The address of the node this face serves (the sender side).
    peer: Option<SocketAddr>,
}

struct Pending {
    due: Instant,
    seq: u64,
    via: usize,
    to: SocketAddr,
    bytes: Vec<u8>,
    /// The receiving node.
    node: usize,
    /// The datagram's index in the record, if the record kept it.
    index: Option<usize>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.seq) == (o.due, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(o.due, o.seq))
    }
}

/// What a rule has counted so far on its link. It remembers only what
/// can still make it name a datagram: no key when it names none by
/// `request` or `copy`, the keys of requests up to the last it names, and
/// nothing more once the last `nth` it names is past. (A rule that names
/// `copy` of every request must count the copies of every key; what the
/// send rate lets through bounds them.)
#[derive(Debug, Default)]
struct RuleCount {
    /// Datagrams of the rule's type seen.
    seen: usize,
    /// Distinct keys seen, while they are counted: the next request number.
    requests: usize,
    /// Per key remembered: its request number and the copies seen.
    keys: BTreeMap<String, (usize, usize)>,
}

impl RuleCount {
    /// Counts one datagram of the rule's link and type; says whether the
    /// rule names it.
    fn names(&mut self, rule: &Rule, key: Option<&str>) -> bool {
        let m = rule.matcher();
        self.seen += 1;
        let past = |list: &Option<Vec<usize>>, v: usize| {
            list.as_ref().is_some_and(|l| l.iter().all(|&x| x < v))
        };
        if past(&m.nth, self.seen) {
            return false;
        }
        let keyed = m.request.is_some() || m.copy.is_some();
        let (request, copy) = match key {
            Some(k) if keyed => match self.keys.get_mut(k) {
                Some((request, copies)) => {
                    *copies += 1;
                    (Some(*request), Some(*copies))
                }
                // Every key whose request number can be named is
                // remembered: one not remembered is past them all.
                None if past(&m.request, self.requests) => (None, None),
                None => {
                    let request = self.requests;
                    self.requests += 1;
                    self.keys.insert(k.to_string(), (request, 1));
                    (Some(request), Some(1))
                }
            },
            _ => (None, None),
        };
        let listed = |list: &Option<Vec<usize>>, v: Option<usize>| {
            list.as_ref()
                .is_none_or(|l| v.is_some_and(|v| l.contains(&v)))
        };
        listed(&m.nth, Some(self.seen)) && listed(&m.request, request) && listed(&m.copy, copy)
    }
}

/// One sender's pace: the arrival times of the datagrams it had passed on
/// in the last second, oldest first. At most `send_rate` of them, so each
/// datagram costs O(1) (amortised) and a sender bounded memory: a sliding
/// window log, the exact form of a token bucket.
#[derive(Debug, Default)]
struct Pace {
    window: VecDeque<Duration>,
    /// Whether it has gone over the rate (the event is recorded once).
    flooding: bool,
}

impl Pace {
    /// Whether a datagram arriving at `now` stays within `rate` a second;
    /// if it does, it counts in the window.
    fn admit(&mut self, now: Duration, rate: u32) -> bool {
        while self
            .window
            .front()
            .is_some_and(|&t| now.saturating_sub(t) >= SECOND)
        {
            self.window.pop_front();
        }
        let room = self.window.len() < usize::try_from(rate).unwrap_or(usize::MAX);
        if room {
            self.window.push_back(now);
        }
        room
    }
}

impl Network {
    /// Binds the faces and starts the proxy thread.
    ///
    /// # Errors
    /// When a face cannot be bound.
    pub fn start(setup: Setup, rec: &Recorder) -> std::io::Result<Network> {
        let n = setup.hosts.len();
        let mut faces = Vec::with_capacity(n * n);
        let mut draws = Vec::with_capacity(n * n);
        for (a, host) in setup.hosts.iter().enumerate() {
            for b in 0..n {
                let socket = UdpSocket::bind("127.0.0.1:0")?;
                socket.set_nonblocking(true)?;
                let peer = host.home.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
                faces.push(Face { socket, peer });
                draws.push(Draws::new(setup.seeds[a][b]));
            }
        }
        let ports = faces
            .iter()
            .map(|f| f.socket.local_addr().map(|a| a.port()))
            .collect::<Result<Vec<_>, _>>()?;
        let (wake_rx, wake) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let control = Arc::new(Mutex::new(Control {
            faults: setup.faults.into_iter().flatten().collect(),
            ..Control::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let counts = setup.rules.iter().map(|_| RuleCount::default()).collect();
        let addrs = setup
            .hosts
            .iter()
            .map(|h| h.home.map(|p| SocketAddr::from(([127, 0, 0, 1], p))))
            .collect();
        let mut state = Proxy {
            n,
            keep: setup.keep,
            send_rate: setup.send_rate,
            paces: (0..n).map(|_| Pace::default()).collect(),
            faces,
            addrs,
            draws,
            rules: setup.rules,
            counts,
            control: Arc::clone(&control),
            rec: rec.clone(),
            pending: BinaryHeap::new(),
            seq: 0,
        };
        let settle = Arc::new(AtomicU64::new(0));
        let (stop2, settle2) = (Arc::clone(&stop), Arc::clone(&settle));
        let thread = std::thread::Builder::new()
            .name("proxy".into())
            .spawn(move || state.run(&wake_rx, &stop2, &settle2))?;
        Ok(Network {
            n,
            ports,
            control,
            stop,
            settle,
            wake,
            thread: Some(thread),
        })
    }

    /// The port node `from` sends to in order to reach node `to`.
    pub fn face_port(&self, from: usize, to: usize) -> u16 {
        self.ports[from * self.n + to]
    }

    /// Cuts both directions between `a` and `b`.
    pub fn partition(&self, a: usize, b: usize) {
        self.control
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .partitions
            .push((a.min(b), a.max(b)));
    }

    /// Cuts the direction `from -> to` only.
    pub fn cut(&self, from: usize, to: usize) {
        self.control().cuts.push((from, to));
    }

    /// Ends every partition and every cut.
    pub fn heal(&self) {
        let mut c = self.control();
        c.partitions.clear();
        c.cuts.clear();
    }

    /// Heals the direction `from -> to`: a cut of it, and the partition
    /// between the two (which then still cuts `to -> from`).
    pub fn heal_link(&self, from: usize, to: usize) {
        let mut c = self.control();
        c.cuts.retain(|&l| l != (from, to));
        let pair = (from.min(to), from.max(to));
        if c.partitions.contains(&pair) {
            c.partitions.retain(|&p| p != pair);
            c.cuts.push((to, from));
        }
    }

    /// From now on, the random faults of the link `from -> to` are `f`.
    pub fn set_faults(&self, from: usize, to: usize, f: Faults) {
        let n = self.n;
        self.control().faults[from * n + to] = f;
    }

    fn control(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the proxy has read every datagram that has reached its
    /// faces so far (at most until the test's time limit): after it, the
    /// record holds everything a program that has exited ever sent.
    /// Returns whether it settled.
    pub fn settle(&self, rec: &Recorder) -> bool {
        let ticket = self.settle.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = nix::unistd::write(&self.wake, &[1]);
        rec.wait(None, None, |l| l.settled >= ticket) == super::record::Wake::Ready
    }

    /// Stops the proxy: datagrams still held by a delay are not delivered.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = nix::unistd::write(&self.wake, &[1]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Proxy {
    n: usize,
    keep: usize,
    send_rate: u32,
    /// Per sender.
    paces: Vec<Pace>,
    faces: Vec<Face>,
    /// Per node: the address it last sent from, or its own port.
    addrs: Vec<Option<SocketAddr>>,
    draws: Vec<Draws>,
    rules: Vec<(usize, usize, Rule)>,
    counts: Vec<RuleCount>,
    control: Arc<Mutex<Control>>,
    rec: Recorder,
    pending: BinaryHeap<Reverse<Pending>>,
    seq: u64,
}

impl Proxy {
    /// Blocks in poll(2) until a face is readable, the next delayed
    /// datagram is due, or the test wakes it (to stop, or to settle).
    fn run(&mut self, wake: &OwnedFd, stop: &AtomicBool, settle: &AtomicU64) {
        let mut buf = vec![0u8; 65536];
        let mut settled = 0;
        while !stop.load(Ordering::SeqCst) {
            let timeout = match self.pending.peek() {
                Some(Reverse(p)) => {
                    let left = p.due.saturating_duration_since(Instant::now());
                    let ms = left.as_nanos().div_ceil(1_000_000).min(60_000);
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            let ready: Vec<usize> = {
                let mut fds: Vec<PollFd> = self
                    .faces
                    .iter()
                    .map(|f| PollFd::new(f.socket.as_fd(), PollFlags::POLLIN))
                    .collect();
                fds.push(PollFd::new(wake.as_fd(), PollFlags::POLLIN));
                match poll(&mut fds, timeout) {
                    Err(nix::Error::EINTR) => continue,
                    Err(_) => break,
                    Ok(_) => {}
                }
                if fds[self.faces.len()]
                    .revents()
                    .is_some_and(|r| !r.is_empty())
                {
                    let _ = nix::unistd::read(wake, &mut [0u8; 64]);
                }
                fds[..self.faces.len()]
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                    .map(|(i, _)| i)
                    .collect()
            };
            for k in ready {
                self.read(k, &mut buf, BATCH);
            }
            let asked = settle.load(Ordering::SeqCst);
            if asked > settled {
                // Read whatever is waiting on any face, then answer.
                for k in 0..self.faces.len() {
                    self.read(k, &mut buf, SETTLE_BATCH);
                }
                settled = asked;
                self.rec.update(|l| l.settled = asked);
            }
            self.deliver_due();
        }
    }

    /// Reads and forwards up to `max` datagrams waiting on face `k`.
    fn read(&mut self, k: usize, buf: &mut [u8], max: usize) {
        for _ in 0..max {
            let Ok((len, src)) = self.faces[k].socket.recv_from(buf) else {
                return;
            };
            self.forward(k, src, &buf[..len]);
        }
    }

    /// The first rule that names this datagram of link `from -> to`. Every
    /// rule of the link counts it, whichever decides.
    fn rule_for(&mut self, from: usize, to: usize, bytes: &[u8]) -> Option<usize> {
        let message = Message::decode(bytes).ok();
        let kind = bytes.first().and_then(|&b| handout::MsgType::from_code(b));
        let mut chosen = None;
        for (i, (f, t, rule)) in self.rules.iter().enumerate() {
            let m = rule.matcher();
            if (*f, *t) != (from, to) || m.kind.is_some_and(|k| Some(k.0) != kind) {
                continue;
            }
            let key = message.as_ref().map(|m| m.key.as_str());
            if self.counts[i].names(rule, key) && chosen.is_none() {
                chosen = Some(i);
            }
        }
        chosen
    }

    /// A datagram of a sender over the send rate: not forwarded, and the
    /// first one marks the sender as flooding.
    fn refuse(&mut self, from: usize, to: usize, sent: Duration, bytes: &[u8]) {
        if !self.paces[from].flooding {
            self.paces[from].flooding = true;
            self.rec.event_at(
                sent,
                Some(from),
                What::SendRateExceeded {
                    limit: self.send_rate,
                },
            );
        }
        self.rec.datagram(
            Datagram {
                sent,
                from,
                to,
                bytes: bytes.to_vec(),
                fate: Fate::Refused,
                delays: Vec::new(),
                delivered: Vec::new(),
                rule: None,
            },
            self.keep,
        );
    }

    fn forward(&mut self, k: usize, src: SocketAddr, bytes: &[u8]) {
        let sent = self.rec.now();
        let (from, to) = (k / self.n, k % self.n);
        self.faces[k].peer = Some(src);
        self.addrs[from] = Some(src);
        if !self.paces[from].admit(sent, self.send_rate) {
            self.refuse(from, to, sent, bytes);
            return;
        }
        let back = to * self.n + from;
        let dest = self.faces[back].peer.or(self.addrs[to]);
        let (f, cut) = {
            let c = self.control.lock().unwrap_or_else(|e| e.into_inner());
            (c.faults[k], c.cut(from, to))
        };
        // Drawn for every datagram, before the rules: a rule's decision
        // never shifts the draws of the next datagram.
        let (drop, dup, jitters) = self.draws[k].next(&f);
        // Every datagram of the link counts for its rules; a rule decides
        // only one that can be delivered at all.
        let named = self.rule_for(from, to, bytes);
        let rule = named.filter(|_| dest.is_some() && !cut);
        // A rule's `by`: for `delay` every copy; for `duplicate`, the
        // second copy comes `by` after the first (it takes the first's
        // jitter, so that it is late whatever the jitter).
        let mut extra = [Duration::ZERO; 2];
        let mut jitters = jitters;
        let fate = match (dest, rule.map(|r| &self.rules[r].2)) {
            (None, _) => Fate::Undeliverable,
            (Some(_), _) if cut => Fate::Partitioned,
            (Some(_), Some(Rule::Drop(_))) => Fate::Dropped,
            (Some(_), Some(Rule::Duplicate(m))) => {
                if let Some(by) = m.by {
                    extra[1] = by.0;
                    jitters[1] = jitters[0];
                }
                Fate::Duplicated
            }
            (Some(_), Some(Rule::Delay(m))) => {
                extra = [m.by.map_or(Duration::ZERO, |d| d.0); 2];
                Fate::Delivered
            }
            (Some(_), None) if drop => Fate::Dropped,
            (Some(_), None) if dup => Fate::Duplicated,
            (Some(_), None) => Fate::Delivered,
        };
        let delays: Vec<Duration> = jitters
            .iter()
            .zip(extra)
            .take(fate.copies())
            .map(|(j, extra)| f.delay.0 + f.jitter.0.mul_f64(*j) + extra)
            .collect();
        let mut delivered = Vec::new();
        let mut held = Vec::new();
        if let Some(dest) = dest {
            for delay in &delays {
                if delay.is_zero() {
                    // Timed before it leaves: whatever the receiver does
                    // about it comes after this, however late this thread
                    // runs again.
                    delivered.push(self.rec.now());
                    let _ = self.faces[back].socket.send_to(bytes, dest);
                } else {
                    held.push((Instant::now() + *delay, dest));
                }
            }
        }
        let index = self.rec.datagram(
            Datagram {
                sent,
                from,
                to,
                bytes: bytes.to_vec(),
                fate,
                delays,
                delivered,
                rule,
            },
            self.keep,
        );
        for (due, dest) in held {
            self.seq += 1;
            self.pending.push(Reverse(Pending {
                due,
                seq: self.seq,
                via: back,
                to: dest,
                bytes: bytes.to_vec(),
                node: to,
                index,
            }));
        }
    }

    fn deliver_due(&mut self) {
        let now = Instant::now();
        while self.pending.peek().is_some_and(|Reverse(p)| p.due <= now) {
            let Some(Reverse(p)) = self.pending.pop() else {
                break;
            };
            let at = self.rec.now();
            let _ = self.faces[p.via].socket.send_to(&p.bytes, p.to);
            self.rec.delivered(p.node, p.index, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::clock::Clock;
    use crate::run::record::{NodeRecord, Record};
    use crate::spec::{Dur, RuleMatch, TypeName};

    fn recorder(n: usize) -> Recorder {
        let nodes = (0..n).map(|i| NodeRecord::new(&format!("n{i}"))).collect();
        Recorder::new(
            "t",
            1,
            Clock::new(Duration::from_secs(60), Duration::from_secs(60)),
            nodes,
        )
    }

    fn setup(
        homes: &[Option<u16>],
        faults: Faults,
        seed: u64,
        rules: Vec<(usize, usize, Rule)>,
    ) -> Setup {
        let n = homes.len();
        Setup {
            hosts: homes.iter().map(|&home| Host { home }).collect(),
            faults: vec![vec![faults; n]; n],
            seeds: (0..n)
                .map(|a| (0..n).map(|b| seed ^ (a * n + b) as u64).collect())
                .collect(),
            rules,
            keep: 20_000,
            send_rate: 5_000,
        }
    }

    fn wait_for(rec: &Recorder, n: usize) {
        assert!(
            rec.wait_until(Instant::now() + Duration::from_secs(5), |l| {
                l.record.datagrams.len() >= n
            })
        );
    }

    /// A server on node 0 and a client (address learned) on node 1.
    fn pair(
        faults: Faults,
        seed: u64,
        rules: Vec<(usize, usize, Rule)>,
    ) -> (UdpSocket, UdpSocket, Network, Recorder) {
        pair_limited(faults, seed, rules, 20_000, 5_000)
    }

    /// [`pair`], with the record keeping `keep` datagrams and a send rate.
    fn pair_limited(
        faults: Faults,
        seed: u64,
        rules: Vec<(usize, usize, Rule)>,
        keep: usize,
        send_rate: u32,
    ) -> (UdpSocket, UdpSocket, Network, Recorder) {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&server, &client] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let port = server.local_addr().unwrap().port();
        let rec = recorder(2);
        let setup = Setup {
            keep,
            send_rate,
            ..setup(&[Some(port), None], faults, seed, rules)
        };
        let net = Network::start(setup, &rec).unwrap();
        (server, client, net, rec)
    }

    fn finish(mut net: Network, rec: &Recorder) -> Record {
        net.stop();
        rec.finish()
    }

    #[test]
    fn a_request_and_its_reply_pass_through_distinct_faces() {
        let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
        let to_server = net.face_port(1, 0);
        client.send_to(b"ping", ("127.0.0.1", to_server)).unwrap();
        let mut buf = [0u8; 64];
        let (n, src) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(
            src.port(),
            net.face_port(0, 1),
            "the server sees the client's face"
        );
        server.send_to(b"pong", src).unwrap();
        let (n, src) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(
            src.port(),
            to_server,
            "the reply comes from where the request went"
        );
        wait_for(&rec, 2);
        let log = finish(net, &rec).datagrams;
        assert_eq!(
            (log[0].from, log[0].to, log[0].fate),
            (1, 0, Fate::Delivered)
        );
        assert_eq!(log[0].delivered.len(), 1);
        assert!(log[0].delivered[0] >= log[0].sent);
        assert_eq!((log[1].from, log[1].to), (0, 1));
    }

    #[test]
    fn to_a_node_without_an_address_is_undeliverable() {
        let (server, _client, net, rec) = pair(Faults::default(), 1, vec![]);
        server
            .send_to(b"hello", ("127.0.0.1", net.face_port(0, 1)))
            .unwrap();
        wait_for(&rec, 1);
        assert_eq!(finish(net, &rec).datagrams[0].fate, Fate::Undeliverable);
    }

    fn fates(
        seed: u64,
        faults: Faults,
        count: usize,
        rules: Vec<(usize, usize, Rule)>,
    ) -> Vec<(Fate, Option<usize>)> {
        let (_server, client, net, rec) = pair(faults, seed, rules);
        for i in 0..count {
            let m = Message::new(handout::MsgType::ReadReq, &format!("K{}", i / 2), "").unwrap();
            client
                .send_to(&m.encode(), ("127.0.0.1", net.face_port(1, 0)))
                .unwrap();
        }
        wait_for(&rec, count);
        finish(net, &rec)
            .datagrams
            .iter()
            .map(|d| (d.fate, d.rule))
            .collect()
    }

    #[test]
    fn each_kind_of_fault_draws_from_a_stream_of_its_own() {
        // Each kind's decisions follow from the link's seed and the kind's
        // name alone: what another kind draws, or whether it exists, changes
        // none of them.
        let f = Faults {
            drop: 0.5,
            duplicate: 0.3,
            ..Faults::default()
        };
        let mut draws = Draws::new(42);
        let stream = |kind: &str| Rng::new(seed::derive(42, kind));
        let (mut drop, mut dup, mut jitter) =
            (stream("drop"), stream("duplicate"), stream("jitter"));
        for _ in 0..200 {
            let (d, u, j) = draws.next(&f);
            assert_eq!(d, drop.chance(0.5));
            assert_eq!(u, dup.chance(0.3));
            assert_eq!(j, [jitter.next_f64(), jitter.next_f64()]);
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_decisions() {
        let f = Faults {
            drop: 0.3,
            duplicate: 0.2,
            ..Faults::default()
        };
        let a = fates(7, f, 60, vec![]);
        assert_eq!(a, fates(7, f, 60, vec![]));
        assert_ne!(a, fates(8, f, 60, vec![]));
        let dropped = a.iter().filter(|x| x.0 == Fate::Dropped).count();
        assert!(
            (5..=35).contains(&dropped),
            "{dropped} of 60 dropped at p=0.3"
        );
        assert!(a.iter().any(|x| x.0 == Fate::Duplicated));
    }

    fn rule(
        kind: fn(RuleMatch) -> Rule,
        nth: Option<Vec<usize>>,
        request: Option<Vec<usize>>,
        copy: Option<Vec<usize>>,
    ) -> (usize, usize, Rule) {
        (
            1,
            0,
            kind(RuleMatch {
                from: "n1".into(),
                to: "n0".into(),
                kind: Some(TypeName(handout::MsgType::ReadReq)),
                nth,
                request,
                copy,
                by: None,
            }),
        )
    }

    #[test]
    fn rules_decide_before_the_probabilities_and_leave_the_draws_alone() {
        // Keys K0 K0 K1 K1 K2 K2 K3 K3: requests 0..3, two copies each.
        let never = Faults::default();
        let got = fates(
            1,
            never,
            8,
            vec![rule(Rule::Drop, Some(vec![1, 4]), None, None)],
        );
        let dropped: Vec<usize> = got
            .iter()
            .enumerate()
            .filter(|(_, f)| f.0 == Fate::Dropped)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(dropped, [0, 3]);
        assert_eq!(got[0].1, Some(0));
        let got = fates(
            1,
            never,
            8,
            vec![rule(Rule::Duplicate, None, Some(vec![0, 2]), Some(vec![1]))],
        );
        let dup: Vec<usize> = got
            .iter()
            .enumerate()
            .filter(|(_, f)| f.0 == Fate::Duplicated)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(dup, [0, 4], "the first copy of requests 0 and 2");
        // With every datagram dropped at random, a rule still wins, and the
        // random decisions of the others stay what they were.
        let always = Faults {
            drop: 0.5,
            ..Faults::default()
        };
        let plain = fates(9, always, 8, vec![]);
        let ruled = fates(
            9,
            always,
            8,
            vec![rule(Rule::Duplicate, Some(vec![2]), None, None)],
        );
        for i in [0, 2, 3, 4, 5, 6, 7] {
            assert_eq!(plain[i].0, ruled[i].0, "datagram {i}");
        }
        assert_eq!(ruled[1].0, Fate::Duplicated);
    }

    #[test]
    fn a_delayed_datagram_arrives_late_and_its_delivery_is_recorded() {
        let mut delay = rule(Rule::Delay, Some(vec![1]), None, None);
        if let Rule::Delay(m) = &mut delay.2 {
            m.by = Some(Dur(Duration::from_millis(150)));
        }
        let (server, client, net, rec) = pair(Faults::default(), 1, vec![delay]);
        let t = Instant::now();
        let m = Message::new(handout::MsgType::ReadReq, "K", "").unwrap();
        client
            .send_to(&m.encode(), ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
        let mut buf = [0u8; 64];
        server.recv_from(&mut buf).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(150));
        assert!(
            rec.wait_until(Instant::now() + Duration::from_secs(5), |l| l.delivered_to
                [0]
                == 1)
        );
        let d = &finish(net, &rec).datagrams[0];
        assert_eq!(d.delays, [Duration::from_millis(150)]);
        assert!(d.delivered[0] >= d.sent + Duration::from_millis(150));
    }

    #[test]
    fn settling_reads_everything_already_sent() {
        let (_server, client, net, rec) = pair(Faults::default(), 1, vec![]);
        for i in 0..50u8 {
            client
                .send_to(&[i], ("127.0.0.1", net.face_port(1, 0)))
                .unwrap();
        }
        // No waiting on the record: settling alone makes it complete.
        assert!(net.settle(&rec));
        assert_eq!(rec.read(|l| l.record.datagrams.len()), 50);
        assert!(net.settle(&rec), "twice");
    }

    #[test]
    fn a_partition_cuts_both_ways() {
        let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
        net.partition(0, 1);
        client
            .send_to(b"x", ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
        wait_for(&rec, 1);
        net.heal();
        client
            .send_to(b"y", ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
        let mut buf = [0u8; 8];
        let (n, _) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"y");
        assert_eq!(finish(net, &rec).datagrams[0].fate, Fate::Partitioned);
    }

    /// Waits until the proxy has counted `n` datagrams, kept or not.
    fn wait_counted(rec: &Recorder, n: usize) {
        assert!(
            rec.wait_until(Instant::now() + Duration::from_secs(5), |l| {
                l.record.traffic.received() >= n
            })
        );
    }

    #[test]
    fn past_its_bound_the_record_counts_and_the_proxy_still_forwards() {
        let (server, client, net, rec) = pair_limited(Faults::default(), 1, vec![], 3, 5_000);
        for i in 0..8u8 {
            client
                .send_to(&[i], ("127.0.0.1", net.face_port(1, 0)))
                .unwrap();
        }
        let mut buf = [0u8; 8];
        for i in 0..8u8 {
            let (n, _) = server.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i], "every datagram is forwarded, in order");
        }
        wait_counted(&rec, 8);
        let r = finish(net, &rec);
        assert_eq!(r.datagrams.len(), 3);
        assert_eq!(r.datagrams[2].bytes, [2], "the first ones are kept");
        assert_eq!(r.unkept(), 5);
        assert_eq!(r.traffic.links[1][0].all, 8);
    }

    #[test]
    fn a_sender_over_the_rate_is_refused_and_flagged_once() {
        let (server, client, net, rec) = pair_limited(Faults::default(), 1, vec![], 20_000, 10);
        for i in 0..40u8 {
            client
                .send_to(&[i], ("127.0.0.1", net.face_port(1, 0)))
                .unwrap();
        }
        wait_counted(&rec, 40);
        assert!(rec.read(|l| l.decided), "a flood decides the test");
        // The server got what passed, and nothing else. The proxy counts a
        // datagram after passing it on, and on loopback it is then in the
        // server's socket already: the short timeout only ends the reading.
        server
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let mut got = 0;
        let mut buf = [0u8; 8];
        while server.recv_from(&mut buf).is_ok() {
            got += 1;
        }
        let r = finish(net, &rec);
        let s = r.traffic.senders[1];
        assert_eq!(s.sent, 40);
        assert!(s.refused > 0, "40 datagrams at once, 10 a second allowed");
        assert_eq!(got, 40 - s.refused);
        // Within one second, exactly the rate passes.
        if s.last - s.first < SECOND {
            assert_eq!(s.refused, 30);
        }
        let refused = r.datagrams.iter().filter(|d| d.fate == Fate::Refused);
        assert_eq!(refused.count(), s.refused);
        let events: Vec<_> = r
            .events_where(|w| match w {
                What::SendRateExceeded { limit } => Some(*limit),
                _ => None,
            })
            .collect();
        assert_eq!(events.len(), 1, "one event, not one per datagram");
        assert_eq!(events[0].0, Some(1));
        assert_eq!(events[0].2, 10);
    }

    #[test]
    fn the_window_slides() {
        let mut p = Pace::default();
        let ms = Duration::from_millis;
        assert!(p.admit(ms(0), 2));
        assert!(p.admit(ms(500), 2));
        assert!(!p.admit(ms(999), 2), "three in one second");
        assert!(p.admit(ms(1000), 2), "the first has left the window");
        assert!(!p.admit(ms(1499), 2));
        assert!(p.admit(ms(1500), 2));
        assert!(p.window.len() <= 2);
    }

    #[test]
    fn a_rule_remembers_only_the_keys_it_can_still_name() {
        let (_, _, request) = rule(Rule::Drop, None, Some(vec![1]), None);
        let mut count = RuleCount::default();
        let named: Vec<bool> = ["A", "B", "A", "B", "C", "D"]
            .iter()
            .map(|k| count.names(&request, Some(k)))
            .collect();
        assert_eq!(named, [false, true, false, true, false, false]);
        for i in 0..10_000 {
            count.names(&request, Some(&format!("K{i}")));
        }
        assert_eq!(count.keys.len(), 2, "keys past request 1 are not kept");
        let (_, _, nth) = rule(Rule::Drop, Some(vec![2]), None, None);
        let mut count = RuleCount::default();
        let named: Vec<bool> = (0..1000)
            .map(|i| count.names(&nth, Some(&format!("K{i}"))))
            .collect();
        assert_eq!(named.iter().filter(|&&n| n).count(), 1);
        assert!(named[1]);
        assert!(count.keys.is_empty(), "a rule by place alone keeps no key");
    }

    /// Sends `bytes` from the client (node 1) to the server (node 0).
    fn up(client: &UdpSocket, net: &Network, bytes: &[u8]) {
        client
            .send_to(bytes, ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
    }

    /// Sends `bytes` from the server (node 0) to the client (node 1).
    fn down(server: &UdpSocket, net: &Network, bytes: &[u8]) {
        server
            .send_to(bytes, ("127.0.0.1", net.face_port(0, 1)))
            .unwrap();
    }

    /// Receives one datagram on `socket`, which must be `want`.
    fn expect(socket: &UdpSocket, want: &[u8]) {
        let mut buf = [0u8; 64];
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], want);
    }

    /// The fates of the record's datagrams, with their links.
    fn links(r: &Record) -> Vec<(usize, usize, Fate)> {
        r.datagrams.iter().map(|d| (d.from, d.to, d.fate)).collect()
    }

    #[test]
    fn a_cut_drops_one_direction_only() {
        let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
        net.cut(1, 0);
        up(&client, &net, b"lost");
        wait_for(&rec, 1);
        // The client's address is known from the datagram the cut lost.
        down(&server, &net, b"down");
        expect(&client, b"down");
        net.heal();
        up(&client, &net, b"up");
        expect(&server, b"up");
        wait_for(&rec, 3);
        assert_eq!(
            links(&finish(net, &rec)),
            [
                (1, 0, Fate::Partitioned),
                (0, 1, Fate::Delivered),
                (1, 0, Fate::Delivered),
            ]
        );
    }

    #[test]
    fn heal_link_heals_one_direction_of_a_partition() {
        let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
        net.partition(0, 1);
        net.heal_link(1, 0);
        up(&client, &net, b"up");
        expect(&server, b"up");
        down(&server, &net, b"lost");
        wait_for(&rec, 2);
        // Healing it again changes nothing; healing the other direction
        // ends the partition.
        net.heal_link(1, 0);
        down(&server, &net, b"still lost");
        wait_for(&rec, 3);
        net.heal_link(0, 1);
        down(&server, &net, b"down");
        expect(&client, b"down");
        wait_for(&rec, 4);
        assert_eq!(
            links(&finish(net, &rec)),
            [
                (1, 0, Fate::Delivered),
                (0, 1, Fate::Partitioned),
                (0, 1, Fate::Partitioned),
                (0, 1, Fate::Delivered),
            ]
        );
    }

    #[test]
    fn heal_link_heals_a_cut_and_heal_clears_every_cut() {
        let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
        net.cut(1, 0);
        // Healing the other direction leaves the cut.
        net.heal_link(0, 1);
        up(&client, &net, b"lost");
        wait_for(&rec, 1);
        net.heal_link(1, 0);
        up(&client, &net, b"one");
        expect(&server, b"one");
        net.cut(1, 0);
        net.cut(0, 1);
        up(&client, &net, b"lost");
        wait_for(&rec, 3);
        down(&server, &net, b"lost");
        wait_for(&rec, 4);
        net.heal();
        up(&client, &net, b"two");
        expect(&server, b"two");
        down(&server, &net, b"three");
        expect(&client, b"three");
        wait_for(&rec, 6);
        assert_eq!(
            links(&finish(net, &rec)),
            [
                (1, 0, Fate::Partitioned),
                (1, 0, Fate::Delivered),
                (1, 0, Fate::Partitioned),
                (0, 1, Fate::Partitioned),
                (1, 0, Fate::Delivered),
                (0, 1, Fate::Delivered),
            ]
        );
    }

    #[test]
    fn set_faults_changes_one_link_while_the_test_runs() {
        let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
        up(&client, &net, b"before");
        expect(&server, b"before");
        let lossy = Faults {
            drop: 1.0,
            ..Faults::default()
        };
        net.set_faults(1, 0, lossy);
        for _ in 0..5 {
            up(&client, &net, b"lost");
        }
        wait_for(&rec, 6);
        // The other direction keeps its faults.
        down(&server, &net, b"down");
        expect(&client, b"down");
        net.set_faults(1, 0, Faults::default());
        up(&client, &net, b"after");
        expect(&server, b"after");
        wait_for(&rec, 8);
        let fates: Vec<Fate> = finish(net, &rec).datagrams.iter().map(|d| d.fate).collect();
        assert_eq!(
            fates,
            [
                Fate::Delivered,
                Fate::Dropped,
                Fate::Dropped,
                Fate::Dropped,
                Fate::Dropped,
                Fate::Dropped,
                Fate::Delivered,
                Fate::Delivered,
            ]
        );
    }

    /// A rule that duplicates every READ_REQ from the client, the second
    /// copy `by` later.
    fn duplicate_by(by: Duration) -> (usize, usize, Rule) {
        let mut dup = rule(Rule::Duplicate, None, None, None);
        if let Rule::Duplicate(m) = &mut dup.2 {
            m.by = Some(Dur(by));
        }
        dup
    }

    #[test]
    fn a_duplicate_rule_with_by_delivers_the_second_copy_later() {
        let by = Duration::from_millis(150);
        let (server, client, net, rec) = pair(Faults::default(), 1, vec![duplicate_by(by)]);
        let t = Instant::now();
        let m = Message::new(handout::MsgType::ReadReq, "K", "").unwrap();
        up(&client, &net, &m.encode());
        expect(&server, &m.encode());
        expect(&server, &m.encode());
        assert!(t.elapsed() >= by);
        assert!(
            rec.wait_until(Instant::now() + Duration::from_secs(5), |l| l.delivered_to
                [0]
                == 2)
        );
        let d = &finish(net, &rec).datagrams[0];
        assert_eq!(d.fate, Fate::Duplicated);
        assert_eq!(d.rule, Some(0));
        assert_eq!(d.delays, [Duration::ZERO, by]);
        assert_eq!(d.delivered.len(), 2);
        assert!(d.delivered[1] >= d.sent + by, "{d:?}");
    }

    #[test]
    fn with_jitter_the_second_copy_still_comes_by_after_the_first() {
        // spec-format.md, Network rules: "the second copy arrives `by`
        // later than the first would, so a stale copy turns up after newer
        // traffic".
        let by = Duration::from_millis(50);
        let jitter = Faults {
            jitter: Dur(Duration::from_millis(100)),
            ..Faults::default()
        };
        let (_server, client, net, rec) = pair(jitter, 1, vec![duplicate_by(by)]);
        for i in 0..20 {
            let m = Message::new(handout::MsgType::ReadReq, &format!("K{i}"), "").unwrap();
            up(&client, &net, &m.encode());
        }
        wait_for(&rec, 20);
        for d in &finish(net, &rec).datagrams {
            assert_eq!(d.fate, Fate::Duplicated);
            assert!(d.delays[1] >= d.delays[0] + by, "{:?}", d.delays);
        }
    }
}
