//! A closed-loop load generator: clients that each send a request, wait
//! for its answer, and send the next, as fast as a server answers.
//!
//! A *closed loop* keeps a fixed number of requests in flight (one per
//! client), so the rate it measures is the rate the server sustains at
//! that concurrency, and the latency is what each request waited. An
//! *open loop* (requests sent on a schedule, whatever the answers) would
//! measure something else: how latency grows as the offered rate nears
//! the server's limit. Production load generators offer both (wrk2 and
//! memtier are open-loop, `redis-benchmark` closed); a lab server on a
//! shared machine is measured best the closed way, which never floods it.
//!
//! # Design
//!
//! - One thread and one blocking UDP socket per client, on 127.0.0.1:0;
//!   the socket waits with a read timeout (`SO_RCVTIMEO`, see
//!   `setsockopt(2)`), never spins.
//! - A [`Workload`] says what client `c` sends as its `n`-th request and
//!   whether a reply answers it. A reply that does not (an old one, a
//!   wrong key) is counted as `wrong`, and the client keeps waiting for
//!   the right one until the request's timeout; then the request is
//!   `lost`, and the client sends its next one.
//! - Every client sends its last request before the duration ends, and
//!   waits at most the timeout for it: every thread ends within
//!   `timeout` after the duration.
//! - Latencies (send → answer) are kept for percentiles, at most
//!   [`MAX_SAMPLES`] per target; past its share of them, a client keeps a
//!   uniform random sample of its latencies (reservoir sampling), which
//!   then stands for all of them.
//! - [`drive_alternating`] drives several targets in turn, in short
//!   slices (A B A B ...), so that whatever else the machine does at the
//!   time falls on each target alike: a comparison of two servers on a
//!   shared machine is only fair that way.
//! - [`Baseline`] is the simplest server there is (`recvfrom(2)` then
//!   `sendto(2)`, one thread): the figure a real server is compared with,
//!   measured on the same machine in the same run.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use handout::{Message, MsgType};

/// How a [`Baseline`] answers a datagram (`None`: it does not).
pub type Respond = fn(&[u8]) -> Option<Vec<u8>>;

/// Latency samples kept per target, over all its clients and slices.
/// Beyond them each client keeps a uniform random sample of its own
/// latencies (reservoir sampling), its share of the bound.
pub const MAX_SAMPLES: usize = 1_000_000;

/// How long a [`Baseline`]'s thread waits for a datagram before it looks
/// at its stop flag again.
const BASELINE_WAKE: Duration = Duration::from_millis(50);

/// The largest datagram a client reads whole; a longer reply is cut, and
/// answers nothing.
const REPLY_BUFFER: usize = 2048;

/// What one client sends and what counts as its answer.
pub trait Workload: Sync {
    /// The datagram client `client` sends as its `n`-th request (n from 0).
    fn request(&self, client: usize, n: u64) -> Vec<u8>;
    /// Whether `reply` answers `request` (wrong type or key: false). A reply that
    /// does not answer the request in flight is counted as `wrong` and the client
    /// keeps waiting for the right one (until the timeout).
    fn answers(&self, request: &[u8], reply: &[u8]) -> bool;
}

/// How hard and how long to push.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Closed-loop clients, one thread and one socket each.
    pub clients: usize,
    /// Per target, in all (split into slices, see [`drive_alternating`]).
    pub duration: Duration,
    /// A request unanswered this long is `lost`; the client sends its next one.
    pub timeout: Duration,
}

/// What a target did under a load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Requests answered.
    pub answered: u64,
    /// Requests unanswered within the timeout.
    pub lost: u64,
    /// Replies that answered no request in flight.
    pub wrong: u64,
    /// Time actually spent driving this target.
    pub elapsed: Duration,
    /// `answered / elapsed`.
    pub per_second: f64,
    /// Median latency of answered requests (send → answer).
    pub p50: Duration,
    /// 99th percentile latency of answered requests.
    pub p99: Duration,
}

/// Drives `load` at `target` and measures it.
///
/// # Errors
/// A load with no client or a zero timeout (`InvalidInput`); a socket
/// that cannot be made or used (`socket(2)`, `sendto(2)`, `recvfrom(2)`),
/// with the target in the message.
pub fn drive(target: SocketAddrV4, load: &Load, work: &dyn Workload) -> io::Result<Figures> {
    drive_alternating(&[target], load, 1, work).map(|mut all| all.remove(0))
}

/// Drives each target in turn, in `slices` rounds of `load.duration / slices` each
/// (A B A B ...), so that whatever else the machine does falls on all of them alike;
/// figures per target, in the order given, merged over its slices (percentiles over
/// all its samples).
///
/// Each client's requests are numbered on from one slice to the next of
/// the same target, so a workload whose keys follow the number never
/// sends the same key twice (a server that remembers requests, as hw5's
/// primary does, must not answer a later slice from memory).
///
/// # Errors
/// As [`drive`]; `slices` 0 is `InvalidInput` too.
pub fn drive_alternating(
    targets: &[SocketAddrV4],
    load: &Load,
    slices: u32,
    work: &dyn Workload,
) -> io::Result<Vec<Figures>> {
    check(load, slices)?;
    let slice = load.duration / slices;
    let share = (MAX_SAMPLES / (load.clients * slices as usize)).max(1);
    let mut tallies: Vec<Tally> = targets
        .iter()
        .map(|_| Tally {
            next: vec![0; load.clients],
            ..Tally::default()
        })
        .collect();
    for _ in 0..slices {
        for (target, tally) in targets.iter().zip(&mut tallies) {
            drive_slice(*target, load, slice, share, work, tally)?;
        }
    }
    Ok(tallies.into_iter().map(Tally::figures).collect())
}

fn check(load: &Load, slices: u32) -> io::Result<()> {
    let invalid = |what: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            what.to_string(),
        ))
    };
    if load.clients == 0 {
        return invalid("a load needs at least one client");
    }
    if load.timeout.is_zero() {
        return invalid("a load's timeout must be longer than zero");
    }
    if slices == 0 {
        return invalid("a load is driven in at least one slice");
    }
    Ok(())
}

/// What one target did so far, over its slices.
#[derive(Debug, Default)]
struct Tally {
    answered: u64,
    lost: u64,
    wrong: u64,
    elapsed: Duration,
    /// Latencies, in nanoseconds.
    samples: Vec<u64>,
    /// Each client's next request number.
    next: Vec<u64>,
}

impl Tally {
    fn figures(mut self) -> Figures {
        self.samples.sort_unstable();
        let secs = self.elapsed.as_secs_f64();
        Figures {
            answered: self.answered,
            lost: self.lost,
            wrong: self.wrong,
            elapsed: self.elapsed,
            per_second: if secs > 0.0 {
                self.answered as f64 / secs
            } else {
                0.0
            },
            p50: percentile(&self.samples, 0.50),
            p99: percentile(&self.samples, 0.99),
        }
    }
}

/// The `p`-th quantile of sorted `samples` (nearest rank); zero when
/// there is none.
fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Duration::from_nanos(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// One client's figures of one slice.
#[derive(Debug)]
struct ClientRun {
    /// When it sent its first request.
    began: Instant,
    /// When its last request was answered or lost.
    ended: Instant,
    answered: u64,
    lost: u64,
    wrong: u64,
    samples: Vec<u64>,
    next: u64,
}

/// Drives `target` for `length` with `load.clients` clients, and adds
/// what they saw to `tally`.
fn drive_slice(
    target: SocketAddrV4,
    load: &Load,
    length: Duration,
    share: usize,
    work: &dyn Workload,
    tally: &mut Tally,
) -> io::Result<()> {
    let located = |e: io::Error| io::Error::new(e.kind(), format!("driving {target}: {e}"));
    // Every socket is ready before the first request goes out.
    let sockets = (0..load.clients)
        .map(|_| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()
        .map_err(located)?;
    let start = Barrier::new(load.clients);
    let runs = thread::scope(|scope| {
        let clients: Vec<_> = (sockets.into_iter().enumerate())
            .map(|(client, socket)| {
                let first = tally.next[client];
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    let client = Client {
                        index: client,
                        socket,
                        target,
                        timeout: load.timeout,
                        share,
                    };
                    client.run(work, first, length)
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|c| {
                c.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a client thread panicked")))
            })
            .collect::<Vec<_>>()
    });
    let runs = runs
        .into_iter()
        .collect::<io::Result<Vec<_>>>()
        .map_err(located)?;
    // From the first client's start to the last one's end.
    let began = runs.iter().map(|r| r.began).min();
    let ended = runs.iter().map(|r| r.ended).max();
    if let (Some(began), Some(ended)) = (began, ended) {
        tally.elapsed += ended.saturating_duration_since(began);
    }
    for (client, run) in runs.into_iter().enumerate() {
        tally.answered += run.answered;
        tally.lost += run.lost;
        tally.wrong += run.wrong;
        tally.samples.extend(run.samples);
        tally.next[client] = run.next;
    }
    Ok(())
}

/// One closed-loop client.
struct Client {
    /// Its number, given to the workload.
    index: usize,
    socket: UdpSocket,
    target: SocketAddrV4,
    timeout: Duration,
    /// The latencies it keeps at most.
    share: usize,
}

impl Client {
    /// Sends requests `first`, `first + 1`, ... one at a time, each after
    /// the last was answered or lost, until `length` has passed.
    fn run(&self, work: &dyn Workload, first: u64, length: Duration) -> io::Result<ClientRun> {
        let began = Instant::now();
        let end = began + length;
        let mut run = ClientRun {
            began,
            ended: began,
            answered: 0,
            lost: 0,
            wrong: 0,
            samples: Vec::new(),
            next: first,
        };
        let mut reservoir = Reservoir::new(self.share, first ^ self.index as u64);
        let mut buf = [0u8; REPLY_BUFFER];
        // The read timeout is set again only after a wrong reply, which
        // leaves less than a whole timeout to wait: one system call fewer
        // per request in the usual case.
        self.socket.set_read_timeout(Some(self.timeout))?;
        let mut shortened = false;
        while Instant::now() < end {
            let request = work.request(self.index, run.next);
            run.next += 1;
            if shortened {
                self.socket.set_read_timeout(Some(self.timeout))?;
                shortened = false;
            }
            let sent = Instant::now();
            send(&self.socket, &request, self.target)?;
            let give_up = sent + self.timeout;
            loop {
                match self.socket.recv_from(&mut buf) {
                    Ok((len, from)) => {
                        // Datagrams from anyone else are not replies.
                        if from == SocketAddr::V4(self.target) {
                            if work.answers(&request, &buf[..len]) {
                                run.answered += 1;
                                reservoir.offer(&mut run.samples, sent.elapsed());
                                break;
                            }
                            run.wrong += 1;
                        }
                        let left = give_up.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            run.lost += 1;
                            break;
                        }
                        self.socket.set_read_timeout(Some(left))?;
                        shortened = true;
                    }
                    Err(e) if is_timeout(&e) => {
                        run.lost += 1;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        run.ended = Instant::now();
        Ok(run)
    }
}

/// `sendto(2)`, again when a signal interrupted it.
fn send(socket: &UdpSocket, datagram: &[u8], to: SocketAddrV4) -> io::Result<()> {
    loop {
        match socket.send_to(datagram, to) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether a read ended because its timeout passed (`EAGAIN` on Linux).
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Keeps at most `room` latencies, a uniform random sample of all those
/// offered (Vitter's algorithm R).
struct Reservoir {
    room: usize,
    seen: u64,
    rng: handout::Rng,
}

impl Reservoir {
    fn new(room: usize, seed: u64) -> Reservoir {
        Reservoir {
            room,
            seen: 0,
            rng: handout::Rng::new(seed),
        }
    }

    fn offer(&mut self, samples: &mut Vec<u64>, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.seen += 1;
        if samples.len() < self.room {
            samples.push(nanos);
        } else {
            let slot = self.rng.below(self.seen);
            if let Some(s) = usize::try_from(slot).ok().and_then(|i| samples.get_mut(i)) {
                *s = nanos;
            }
        }
    }
}

/// A minimal blocking responder: one thread, a blocking socket on 127.0.0.1:0,
/// `recvfrom` then `sendto(respond(datagram))` (no answer when it returns None), nothing
/// else. The baseline a student's server is compared with, on the same machine in the
/// same run. Stops and joins its thread on drop.
///
/// It is as little as a UDP server can be: no `poll(2)`, no decoding
/// beyond what `respond` does, no printing, no state. A real server
/// that does more per request (waits in `poll(2)` for a signal as well,
/// prints a line, keeps a store) is slower by what that costs.
pub struct Baseline {
    addr: SocketAddrV4,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Baseline {
    /// Binds 127.0.0.1:0 and answers every datagram with `respond`'s
    /// answer, on a thread of its own, until dropped.
    ///
    /// # Errors
    /// When the socket cannot be made (`socket(2)`, `bind(2)`), or the
    /// thread cannot be started.
    pub fn start(respond: fn(&[u8]) -> Option<Vec<u8>>) -> io::Result<Baseline> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = v4(socket.local_addr()?)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("baseline".into())
            .spawn(move || {
                // An error of the socket ends the responder; its clients
                // then see their requests lost, which says enough.
                let _ = answer_until(&socket, respond, &flag);
            })?;
        Ok(Baseline {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it answers on.
    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The [`Baseline`]'s loop in the calling thread, on 127.0.0.1:`port`,
/// until the process ends: for a baseline in a process of its own
/// (`grader bench-baseline`), which no load generator's thread shares.
///
/// # Errors
/// When the port cannot be bound, or the socket fails.
pub fn respond_forever(port: u16, respond: fn(&[u8]) -> Option<Vec<u8>>) -> io::Result<()> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, port))
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind 127.0.0.1:{port}: {e}")))?;
    answer_until(&socket, respond, &AtomicBool::new(false))
}

/// `recvfrom(2)`, then `sendto(2)` of `respond`'s answer to the sender,
/// until `stop` is set (looked at every [`BASELINE_WAKE`] at least).
fn answer_until(
    socket: &UdpSocket,
    respond: fn(&[u8]) -> Option<Vec<u8>>,
    stop: &AtomicBool,
) -> io::Result<()> {
    socket.set_read_timeout(Some(BASELINE_WAKE))?;
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        match socket.recv_from(&mut buf) {
            Ok((len, from)) => {
                if let Some(reply) = respond(&buf[..len]) {
                    // A client that is gone is no concern of the server's.
                    let _ = socket.send_to(&reply, from);
                }
            }
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn v4(addr: SocketAddr) -> io::Result<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(a) => Err(io::Error::other(format!(
            "bound {a}, an IPv6 address, where 127.0.0.1 was asked for"
        ))),
    }
}

/// The value of every READ_REP the hw1 server sends, and of every key
/// never written in a store (hw2, hw5).
pub const SERVER_VALUE: &str = "DDDCCCCBBBBAAAA";

/// The value hw1's client sends in its READ_REQs.
const CLIENT_VALUE: &str = "AAAABBBBCCCCDDD";

/// The key of client `client`'s `n`-th request: 15 letters and digits,
/// the client's number in base 36 (3 digits) then the request's (12), so
/// that no two requests of a run share a key (up to 46,656 clients and
/// 36¹² requests each, far more than a run sends).
pub fn key_of(client: usize, n: u64) -> String {
    let mut key = String::with_capacity(15);
    push_base36(&mut key, client as u64 % 36u64.pow(3), 3);
    push_base36(&mut key, n % 36u64.pow(12), 12);
    key
}

fn push_base36(out: &mut String, mut value: u64, digits: u32) {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut text = [b'0'; 12];
    for slot in text[..digits as usize].iter_mut().rev() {
        *slot = DIGITS[(value % 36) as usize];
        value /= 36;
    }
    out.extend(text[..digits as usize].iter().map(|&b| char::from(b)));
}

/// A record of `kind`, `key` and `value` on the wire, in the length the
/// course sends it ([`MsgType::wire_len`]).
fn record(kind: MsgType, key: &str, value: &str) -> Vec<u8> {
    Message {
        kind,
        key: key.to_string(),
        value: value.to_string(),
    }
    .encode()
}

/// Whether `reply` is a well-formed record of type `kind` for the key of
/// the well-formed `request`.
fn is_reply(request: &[u8], reply: &[u8], kind: MsgType) -> bool {
    match (Message::decode(request), Message::decode(reply)) {
        (Ok(req), Ok(rep)) => rep.kind == kind && rep.key == req.key,
        _ => false,
    }
}

/// READ_REQ/READ_REP echo workload for hw1 (keys distinct per client and
/// request so a late reply never matches a newer request): every request
/// a READ_REQ of a key of its own, sent whole (33 bytes) as hw1's client
/// sends it; its answer a READ_REP of the same key, whatever its value.
pub struct Echo;

impl Workload for Echo {
    fn request(&self, client: usize, n: u64) -> Vec<u8> {
        Message {
            kind: MsgType::ReadReq,
            key: key_of(client, n),
            value: CLIENT_VALUE.to_string(),
        }
        .encode_full()
        .to_vec()
    }

    fn answers(&self, request: &[u8], reply: &[u8]) -> bool {
        is_reply(request, reply, MsgType::ReadRep)
    }
}

/// The answer of hw1's server, for a [`Baseline`]: a READ_REQ gets the
/// READ_REP of the same key with the value `DDDCCCCBBBBAAAA` (33 bytes);
/// anything else, nothing.
pub fn echo_reply(datagram: &[u8]) -> Option<Vec<u8>> {
    let request = Message::decode(datagram).ok()?;
    (request.kind == MsgType::ReadReq).then(|| record(MsgType::ReadRep, &request.key, SERVER_VALUE))
}

/// hw2 store workload: each client writes keys of its own, then reads
/// each back: request `2i` is `WRITE_REQ k v` and request `2i + 1` is
/// `READ_REQ k` (17 bytes), for the `i`-th key of the client. A write is
/// answered by a `WRITE_REP k`, a read by a `READ_REP k`.
///
/// A read's answer is accepted whatever its value: the [`store_reply`]
/// baseline keeps no state and answers every read with the value of a key
/// never written, and the one workload measures both alike. That a store
/// gives back what was written is what the lab's tests check; here it is
/// the speed that is measured.
pub struct Store;

impl Workload for Store {
    fn request(&self, client: usize, n: u64) -> Vec<u8> {
        let key = key_of(client, n / 2);
        if n.is_multiple_of(2) {
            record(MsgType::WriteReq, &key, &key)
        } else {
            record(MsgType::ReadReq, &key, "")
        }
    }

    fn answers(&self, request: &[u8], reply: &[u8]) -> bool {
        match request.first().copied().and_then(MsgType::from_code) {
            Some(MsgType::WriteReq) => is_reply(request, reply, MsgType::WriteRep),
            Some(MsgType::ReadReq) => is_reply(request, reply, MsgType::ReadRep),
            _ => false,
        }
    }
}

/// The answer of a store, for a [`Baseline`]: a `WRITE_REQ k v` gets
/// `WRITE_REP k` (17 bytes), a `READ_REQ k` gets `READ_REP k` with the
/// value of a key never written (`DDDCCCCBBBBAAAA`, 33 bytes); it stores
/// nothing (see [`Store`]). Anything else gets no answer.
pub fn store_reply(datagram: &[u8]) -> Option<Vec<u8>> {
    let request = Message::decode(datagram).ok()?;
    match request.kind {
        MsgType::WriteReq => Some(record(MsgType::WriteRep, &request.key, "")),
        MsgType::ReadReq => Some(record(MsgType::ReadRep, &request.key, SERVER_VALUE)),
        _ => None,
    }
}

/// Writes only, each of a key of its own: `WRITE_REQ k v`, answered by
/// `WRITE_REP k`. For hw5's primary, which answers a write once both
/// backups have acknowledged it: a key of its own per write keeps every
/// write new (a copy of a write it has done, the primary answers from
/// memory) and out of any other write's queue.
pub struct Writes;

impl Workload for Writes {
    fn request(&self, client: usize, n: u64) -> Vec<u8> {
        let key = key_of(client, n);
        record(MsgType::WriteReq, &key, &key)
    }

    fn answers(&self, request: &[u8], reply: &[u8]) -> bool {
        is_reply(request, reply, MsgType::WriteRep)
    }
}

#[cfg(test)]
mod tests;
