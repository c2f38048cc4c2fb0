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
//! A `forge` rule decides nothing: for a datagram it names (one that can
//! be delivered at all), the proxy sends the receiver a forged datagram
//! made from it ([`forge`]) at once, before the original meets its fate.
//! It comes from the face the receiver sees the real sender at, or from
//! the test's *stranger*, a socket of the proxy's that is no node's
//! address and that it never reads. It is recorded apart from what the
//! programs sent ([`Record::forged`](super::record::Record::forged)), and
//! draws nothing.
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

use super::record::{Datagram, Fate, Forged, Recorder, What};
use super::seed;
use super::select::Pick;
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

/// How long a settle from outside the test's thread waits at most: the
/// proxy answers in microseconds unless it has stopped.
pub const SETTLE_GUARD: Duration = Duration::from_secs(2);

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
            stranger: UdpSocket::bind("127.0.0.1:0")?,
            rules: (setup.rules.into_iter())
                .map(|(f, t, rule)| (Pick::link(f, t, rule.matcher().kind.map(|k| k.0)), rule))
                .collect(),
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

    /// [`Network::settle`], for whoever sees a program exit (the sandbox's
    /// observer thread), through the record: a program's last datagrams
    /// are read before its exit is recorded, so a script that waits for
    /// them does not conclude that nothing more can arrive. Bounded by
    /// [`SETTLE_GUARD`] in case the proxy has stopped.
    ///
    /// # Errors
    /// The wake-up pipe cannot be duplicated.
    pub fn settler(&self) -> std::io::Result<super::record::Settler> {
        let (settle, stop) = (Arc::clone(&self.settle), Arc::clone(&self.stop));
        let wake = self.wake.try_clone()?;
        Ok(Box::new(move |rec| {
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            let ticket = settle.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = nix::unistd::write(&wake, &[1]);
            rec.wait_until(Instant::now() + SETTLE_GUARD, |l| l.settled >= ticket)
        }))
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
    /// Where forged datagrams `from a stranger` come from: no node's
    /// address, and never read.
    stranger: UdpSocket,
    /// Each rule, with the datagrams it may name.
    rules: Vec<(Pick, Rule)>,
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

    /// The rules that name this datagram of link `from -> to`: the first
    /// that decides its fate, if any, and every `forge` rule that names
    /// it. Every rule of the link counts it, whichever decides.
    fn rules_for(&mut self, from: usize, to: usize, bytes: &[u8]) -> (Option<usize>, Vec<usize>) {
        let message = Message::decode(bytes).ok();
        let kind = bytes.first().and_then(|&b| handout::MsgType::from_code(b));
        let mut chosen = None;
        let mut forges = Vec::new();
        for (i, (pick, rule)) in self.rules.iter().enumerate() {
            if !pick.takes(from, to, kind) {
                continue;
            }
            let key = message.as_ref().map(|m| m.key.as_str());
            if !self.counts[i].names(rule, key) {
                continue;
            }
            if !rule.decides() {
                forges.push(i);
            } else if chosen.is_none() {
                chosen = Some(i);
            }
        }
        (chosen, forges)
    }

    /// Sends `to`, at `dest`, what each rule of `forges` forges from
    /// `bytes` (a datagram of `from` that arrived at `sent`), and records
    /// it: from the face `back` of the real sender, or from the stranger.
    fn forge(
        &mut self,
        forges: &[usize],
        sent: Duration,
        link: (usize, usize, usize),
        dest: SocketAddr,
        bytes: &[u8],
    ) {
        let (from, to, back) = link;
        for &r in forges {
            let m = self.rules[r].1.matcher();
            let forged = forge::forge(m, bytes);
            let stranger = m.sender.is_some();
            let socket = if stranger {
                &self.stranger
            } else {
                &self.faces[back].socket
            };
            let _ = socket.send_to(&forged, dest);
            self.rec.forged(
                Forged {
                    sent,
                    from,
                    to,
                    stranger,
                    bytes: forged,
                    rule: r,
                    changes: m.forgery(),
                },
                self.keep,
            );
        }
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
        let (named, forges) = self.rules_for(from, to, bytes);
        let rule = named.filter(|_| dest.is_some() && !cut);
        // Forged datagrams leave first, so they arrive before the original.
        if let Some(dest) = dest
            && !cut
        {
            self.forge(&forges, sent, (from, to, back), dest, bytes);
        }
        // A rule's `by`: for `delay` every copy; for `duplicate`, the
        // second copy comes `by` after the first (it takes the first's
        // jitter, so that it is late whatever the jitter).
        let mut extra = [Duration::ZERO; 2];
        let mut jitters = jitters;
        let fate = match (dest, rule.map(|r| &self.rules[r].1)) {
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
            // `rules_for` never chooses a rule that decides nothing; the
            // link would decide.
            (Some(_), Some(Rule::Forge(_)) | None) if drop => Fate::Dropped,
            (Some(_), Some(Rule::Forge(_)) | None) if dup => Fate::Duplicated,
            (Some(_), Some(Rule::Forge(_)) | None) => Fate::Delivered,
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

pub mod forge;

#[cfg(test)]
mod tests;
