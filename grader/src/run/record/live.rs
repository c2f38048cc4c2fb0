//! The record while a test writes it: the live state waiters read, and
//! the [`Recorder`] every thread of a test writes through.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::*;

/// The record while it is written, and what waiters need to know.
#[derive(Debug)]
pub struct Live {
    /// The record so far.
    pub record: Record,
    /// Per node: output streams still open (0, 1 or 2).
    open: Vec<usize>,
    /// Per node: copies delivered to it so far.
    pub delivered_to: Vec<usize>,
    /// Per node: copies on their way to it (held by a delay).
    pub pending_to: Vec<usize>,
    /// Per scripted node: which of the datagrams delivered to it (by
    /// their number, from 0, in `delivered_to`'s count) were forged.
    pub forged_to: Vec<std::collections::BTreeSet<usize>>,
    /// Per node: running (a started program that has not exited, a script
    /// that has not ended).
    pub alive: Vec<bool>,
    /// Per node: a later step may still start it.
    pub may_start: Vec<bool>,
    /// The test is ending: scripts must stop.
    pub ending: bool,
    /// Per scripted node: paused by the test (it neither acts nor reads).
    pub paused: Vec<bool>,
    /// Per scripted node: killed by the test (its script must stop).
    pub halted: Vec<bool>,
    /// The outcome of the test is known (an event that
    /// [decides](What::decides) it was recorded): the runner ends it.
    pub decided: bool,
    /// How many requests to settle the proxy has answered (see
    /// [`crate::run::proxy::Network::settle`]).
    pub settled: u64,
    /// Datagrams the scripted nodes bound with `as` (`r0.key` and so on),
    /// shared by every scripted node of the test.
    pub bindings: std::collections::BTreeMap<String, String>,
}

impl Live {
    /// Whether `node`'s output is closed (both streams at end of file).
    pub fn output_closed(&self, node: usize) -> bool {
        self.open[node] == 0
    }

    /// Whether a peer that serves (`serve`) can stop: every program (not
    /// the scripted nodes, which may be serving too) has ended and will not
    /// start again, and nothing is on its way to `node`.
    pub fn programs_done_for(&self, node: usize) -> bool {
        self.pending_to[node] == 0
            && (0..self.alive.len())
                .filter(|&j| j != node && !self.record.nodes[j].script)
                .all(|j| !self.alive[j] && !self.may_start[j])
    }

    /// Whether nothing can arrive at `node` any more: nothing is on its way
    /// to it, and every other node has ended and will not start again.
    pub fn nobody_left_for(&self, node: usize) -> bool {
        self.pending_to[node] == 0
            && (0..self.alive.len())
                .filter(|&j| j != node)
                .all(|j| !self.alive[j] && !self.may_start[j])
    }
}

struct Shared {
    t0: Instant,
    live: Mutex<Live>,
    changed: Condvar,
    /// Makes the proxy read what has reached it (see [`Recorder::settle_network`]).
    settler: std::sync::OnceLock<Settler>,
}

/// What makes the test's proxy read every datagram that has reached it so
/// far; whether it did.
pub type Settler = Box<dyn Fn(&Recorder) -> bool + Send + Sync>;

/// How a [`Recorder::wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// What it waited for happened.
    Ready,
    /// Its own bound passed first.
    Passed,
    /// The test's time limit passed first.
    TimeUp,
}

/// Appends to the record of a running test and waits on it; cheap to clone,
/// one per thread that writes.
#[derive(Clone)]
pub struct Recorder(Arc<Shared>);

impl Recorder {
    /// A new record for `test` with `nodes`, timed by `clock`, which
    /// starts now.
    pub fn new(test: &str, seed: u64, clock: Clock, nodes: Vec<NodeRecord>) -> Recorder {
        let n = nodes.len();
        Recorder(Arc::new(Shared {
            settler: std::sync::OnceLock::new(),
            t0: Instant::now(),
            live: Mutex::new(Live {
                record: Record {
                    test: test.to_string(),
                    seed,
                    nodes,
                    events: Vec::new(),
                    datagrams: Vec::new(),
                    forged: Vec::new(),
                    traffic: Traffic::new(n),
                    duration: Duration::ZERO,
                    clock,
                    vars: std::collections::BTreeMap::new(),
                    queries: Vec::new(),
                },
                open: vec![0; n],
                delivered_to: vec![0; n],
                pending_to: vec![0; n],
                forged_to: vec![std::collections::BTreeSet::new(); n],
                alive: vec![false; n],
                may_start: vec![true; n],
                ending: false,
                paused: vec![false; n],
                halted: vec![false; n],
                decided: false,
                settled: 0,
                bindings: std::collections::BTreeMap::new(),
            }),
            changed: Condvar::new(),
        }))
    }

    /// The instant the test's clock started.
    pub fn t0(&self) -> Instant {
        self.0.t0
    }

    /// Time since the test started.
    pub fn now(&self) -> Duration {
        self.0.t0.elapsed()
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        // A panic in one writer must not silence the others.
        self.0.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the live state and wakes every waiter.
    pub fn update<R>(&self, f: impl FnOnce(&mut Live) -> R) -> R {
        let r = f(&mut self.lock());
        self.0.changed.notify_all();
        r
    }

    /// Reads the live state.
    pub fn read<R>(&self, f: impl FnOnce(&Live) -> R) -> R {
        f(&self.lock())
    }

    /// Records an event now.
    pub fn event(&self, node: Option<usize>, what: What) {
        self.event_at(self.now(), node, what);
    }

    /// Records an event that happened at `at` (a start is timed before the
    /// spawn, so that the program's first datagram comes after it). The
    /// events stay in time order.
    pub fn event_at(&self, at: Duration, node: Option<usize>, what: What) {
        self.update(|l| {
            if let Some(n) = node {
                match what {
                    What::Started { .. } => {
                        l.alive[n] = true;
                        l.open[n] = 2;
                        l.record.clock.started(n, at);
                    }
                    What::ScriptStarted => l.alive[n] = true,
                    What::Exited { .. } => {
                        l.alive[n] = false;
                        l.record.clock.ready(n, at);
                    }
                    What::ScriptEnded { .. } => l.alive[n] = false,
                    What::Bound { .. } => l.record.clock.ready(n, at),
                    _ => {}
                }
            }
            l.decided |= what.decides();
            let place = l.record.events.partition_point(|e| e.at <= at);
            l.record.events.insert(place, Event { at, node, what });
        });
    }

    /// Records a line of output now. A `todo!()` panic on stderr decides
    /// the test: an unfilled hole explains every failure that would follow.
    pub fn line(&self, node: usize, stream: Stream, text: String) {
        let at = self.now();
        let hole = match stream {
            Stream::Stderr => hole_in(&text),
            Stream::Stdout => None,
        };
        self.update(|l| {
            if !l.record.nodes[node].listens() {
                l.record.clock.ready(node, at);
            }
            let n = &mut l.record.nodes[node];
            match stream {
                Stream::Stdout => n.stdout.push(Line { at, text }),
                Stream::Stderr => n.stderr.push(Line { at, text }),
            }
            if let Some(hole) = hole {
                l.decided = true;
                let place = l.record.events.partition_point(|e| e.at <= at);
                let what = What::StoppedAtHole { hole };
                l.record.events.insert(
                    place,
                    Event {
                        at,
                        node: Some(node),
                        what,
                    },
                );
            }
        });
    }

    /// Records that one of `node`'s output streams reached end of file.
    pub fn closed(&self, node: usize) {
        self.update(|l| l.open[node] = l.open[node].saturating_sub(1));
    }

    /// Records a datagram: counts it, and keeps it when the record holds
    /// fewer than `keep` datagrams. Returns its index, if it was kept.
    pub fn datagram(&self, d: Datagram, keep: usize) -> Option<usize> {
        self.update(|l| {
            if !l.record.nodes[d.from].listens() {
                l.record.clock.ready(d.from, d.sent);
            }
            let copies = d.fate.copies();
            let now_delivered = d.delivered.len();
            l.delivered_to[d.to] += now_delivered;
            l.pending_to[d.to] += copies - now_delivered;
            l.record.traffic.count(&d);
            let kept = &mut l.record.datagrams;
            (kept.len() < keep).then(|| {
                kept.push(d);
                kept.len() - 1
            })
        })
    }

    /// Records a forged datagram the proxy has just sent: counts it for
    /// its rule and as delivered to its receiver, and keeps it when the
    /// record holds fewer than `keep` forged datagrams. The receiver's
    /// delivery is marked forged ([`Live::forged_to`]), so that the
    /// grader's own reads (a `query`) pass over it.
    pub fn forged(&self, f: Forged, keep: usize) {
        self.update(|l| {
            // Only the grader reads what reaches a scripted node, and
            // only it needs to know.
            if l.record.nodes[f.to].script {
                let number = l.delivered_to[f.to];
                l.forged_to[f.to].insert(number);
            }
            l.delivered_to[f.to] += 1;
            l.record.traffic.count_forged(&f);
            if l.record.forged.len() < keep {
                l.record.forged.push(f);
            }
        });
    }

    /// The test's proxy: [`Recorder::settle_network`] asks it to read what
    /// has reached it. Set once.
    pub fn set_settler(&self, settler: Settler) {
        let _ = self.0.settler.set(settler);
    }

    /// Makes the proxy read every datagram that has reached it so far, so
    /// that the record holds all a program sent before it exited. True at
    /// once when there is no proxy.
    pub fn settle_network(&self) -> bool {
        self.0.settler.get().is_none_or(|settle| settle(self))
    }

    /// Records that a held copy of a datagram to node `to` was delivered:
    /// it left the proxy at `at` (timed before the send, so that nothing
    /// the receiver does about it can come before). `index` is the
    /// datagram's in the record, if it was kept.
    pub fn delivered(&self, to: usize, index: Option<usize>, at: Duration) {
        self.update(|l| {
            if let Some(d) = index.map(|i| &mut l.record.datagrams[i]) {
                d.delivered.push(at);
            }
            l.delivered_to[to] += 1;
            l.pending_to[to] = l.pending_to[to].saturating_sub(1);
        });
    }

    /// What the test's [clock](Clock) reads now.
    pub fn clock(&self) -> Duration {
        let now = self.now();
        self.read(|l| l.record.clock.reading(now))
    }

    /// Whether the test's time limit has passed on its clock.
    pub fn time_up(&self) -> bool {
        let now = self.now();
        self.read(|l| l.record.clock.reading(now) >= l.record.clock.limit)
    }

    /// Waits until `ready` holds, or the test's [clock](Clock) reads
    /// `until`, or the wall clock reaches `wall`, and never past the
    /// test's time limit; says which came first.
    pub fn wait(
        &self,
        until: Option<Duration>,
        wall: Option<Instant>,
        mut ready: impl FnMut(&Live) -> bool,
    ) -> Wake {
        let t0 = self.0.t0;
        let mut live = self.lock();
        loop {
            if ready(&live) {
                return Wake::Ready;
            }
            let clock = &live.record.clock;
            let time_up = t0 + clock.when(clock.limit);
            let own = match (until.map(|u| t0 + clock.when(u)), wall) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let now = Instant::now();
            match own {
                Some(own) if own <= time_up && now >= own => return Wake::Passed,
                _ if now >= time_up => return Wake::TimeUp,
                _ => {}
            }
            let next = own.map_or(time_up, |o| o.min(time_up));
            live = self
                .0
                .changed
                .wait_timeout(live, next - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until `ready` holds or the wall clock reaches `deadline`,
    /// whatever the test's clock reads; returns whether it held.
    pub fn wait_until(&self, deadline: Instant, mut ready: impl FnMut(&Live) -> bool) -> bool {
        let mut live = self.lock();
        loop {
            if ready(&live) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            live = self
                .0
                .changed
                .wait_timeout(live, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The finished record. Its datagrams move out of the live record
    /// rather than being copied (they are most of it): call it once, when
    /// nothing writes any more.
    pub fn finish(&self) -> Record {
        let duration = self.now();
        let mut live = self.lock();
        let datagrams = std::mem::take(&mut live.record.datagrams);
        let forged = std::mem::take(&mut live.record.forged);
        let mut record = Record {
            datagrams,
            forged,
            ..live.record.clone()
        };
        record.duration = duration;
        record
    }
}
