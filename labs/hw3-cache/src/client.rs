//! The client: read through the cache, write around it, and keep it
//! coherent with its own writes.
//!
//! # Look-aside reads
//!
//! The client asks the cache first. On a **hit** the cache's answer carries
//! the value and the read is done: the storage server never hears of it. On
//! a **miss** the client reads the key from the storage server, and then
//! **fills** the cache with what it read (a WRITE_REQ to the cache), so that
//! the next read of that key hits. The cache itself never talks to the
//! store; the client does all the work. memcached is used exactly this way.
//!
//! # Writes, and why the order matters
//!
//! A write goes to the storage server first, and only once the server has
//! acknowledged it does the client **update** the cache with the same value.
//! Without the update, a later read would hit the old value still held in
//! the cache: a *stale read*. Doing it in the other order is worse: if the
//! client updated the cache and then failed before the store had the value,
//! the cache would serve a value the store never held, and an eviction
//! would later make it vanish.
//!
//! With one client, and a network that may lose datagrams but delivers the
//! rest in order, this is enough: every request waits for its answer before
//! the next is sent, so the cache always holds the value the client last
//! wrote or read from the store, and a read never returns a stale value.
//! It is not enough in general:
//!
//! - **A second client** can read the old value from the store on a miss,
//!   be overtaken by our write and update, and then fill the cache with the
//!   old value: the cache is now stale until the key is evicted.
//! - **A network that reorders datagrams** (delays some more than others)
//!   can deliver an old fill, say a late copy of a retransmitted one, after
//!   a newer update, with the same effect.
//!
//! Real systems close these gaps with versions or leases. Facebook's
//! memcached deployment ("Scaling Memcache at Facebook", NSDI 2013) deletes
//! the key from the cache after a write instead of updating it, and hands
//! out a *lease* with each miss: a fill is accepted only with a lease that
//! no write has invalidated since.
//!
//! # Retransmission
//!
//! Every request, to either peer, goes out through [`handout::net::ask`]:
//! sent again after `--timeout-ms` without an answer, up to `--tries` times.
//! All four requests are idempotent, so a retransmitted copy does no harm.
//! An answer is believed only if [`handout::net::check_reply`] accepts it:
//! from the peer asked, well-formed, of an expected type, for the key asked.
//!
//! # The workload
//!
//! [`Workload`] draws the requests from one seeded generator, so `--seed`
//! replays a run exactly. With `--zipf S` the keys are skewed, as real cache
//! workloads are: a few keys take most of the reads, so a cache much smaller
//! than the data set still answers most of them. The client reports how
//! well it did as the *hit ratio*, hits divided by reads.

use std::error::Error;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use handout::net::{self, Answer, Endpoint, Retry, StopSignals, check_reply};
use handout::{
    GOODBYE, Message, MsgType, Rng, Zipf, generate_key, generate_value, key_from_number,
    seed_from_clock,
};
use nix::errno::Errno;

use crate::cli::ClientArgs;

/// One request of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Read `key`: through the cache, from the server on a miss.
    Read {
        /// The key to read.
        key: String,
    },
    /// Write `value` under `key`: to the server, then to the cache.
    Write {
        /// The key to write.
        key: String,
        /// The value to store.
        value: String,
    },
}

/// The client's requests, drawn from one seeded generator.
#[derive(Debug, Clone)]
pub struct Workload {
    rng: Rng,
    keys: u64,
    zipf: Option<Zipf>,
    writes: u8,
}

impl Workload {
    /// The workload of `--seed seed --keys keys [--zipf s] --writes writes`.
    ///
    /// # Panics
    ///
    /// If `keys` is 0, `writes` is more than 100, or the exponent is
    /// negative or not finite (the command line refuses all of these).
    pub fn new(seed: u64, keys: u64, zipf: Option<f64>, writes: u8) -> Workload {
        assert!(keys > 0, "Workload::new: need at least one key");
        assert!(writes <= 100, "Workload::new: {writes}% writes");
        Workload {
            rng: Rng::new(seed),
            keys,
            zipf: zipf.map(|s| Zipf::new(keys, s)),
            writes,
        }
    }

    /// The next request.
    ///
    /// # Format
    ///
    /// Three draws from the generator, in this order, whatever the options:
    ///
    /// 1. `write = rng.below(100) < writes` (drawn even with `--writes 0`);
    /// 2. the key: `key_from_number(zipf.sample(rng))` with `--zipf`, else
    ///    `generate_key(rng, keys)`;
    /// 3. for a write only, the value: `generate_value(rng)`.
    pub fn next_op(&mut self) -> Op {
        let write = self.rng.below(100) < u64::from(self.writes);
        let key = match &self.zipf {
            Some(zipf) => key_from_number(zipf.sample(&mut self.rng)),
            None => generate_key(&mut self.rng, self.keys),
        };
        if write {
            let value = generate_value(&mut self.rng);
            Op::Write { key, value }
        } else {
            Op::Read { key }
        }
    }
}

/// The two programs the client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The cache (port 5001 in the course).
    Cache,
    /// The storage server (port 5002 in the course).
    Server,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Peer::Cache => "the cache",
            Peer::Server => "the storage server",
        })
    }
}

/// An answer the client accepted, and its length on the wire (printed as
/// `Received bytes: N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The answer, decoded.
    pub message: Message,
    /// How many bytes the datagram had.
    pub len: usize,
}

/// Why the client stopped before finishing its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// SIGINT or SIGTERM arrived while it waited: a normal end.
    Stopped,
    /// A peer did not answer request `id` after every try.
    GaveUp {
        /// The request number, from 0.
        id: u32,
        /// Who did not answer.
        peer: Peer,
        /// The peer's port.
        port: u16,
        /// How many times the request was sent.
        tries: u32,
    },
    /// A socket call failed.
    Socket(Errno),
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Halt::Stopped => f.write_str("stopped by a signal"),
            Halt::GaveUp {
                id,
                peer,
                port,
                tries,
            } => write!(
                f,
                "no reply to request {id} from {peer} (port {port}) after {tries} tries; giving up"
            ),
            Halt::Socket(errno) => write!(f, "{errno}"),
        }
    }
}

impl Error for Halt {}

impl From<Errno> for Halt {
    fn from(errno: Errno) -> Halt {
        Halt::Socket(errno)
    }
}

/// What a look-aside read found, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The cache held the value.
    Hit(String),
    /// The cache did not; the value came from the storage server.
    Miss(String),
}

impl Lookup {
    /// The value read, wherever it came from.
    pub fn value(&self) -> &str {
        match self {
            Lookup::Hit(value) | Lookup::Miss(value) => value,
        }
    }
}

/// Reads and hits so far, printed as `H/R = X.XXX`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HitRatio {
    /// Reads the cache answered.
    pub hits: u32,
    /// All reads.
    pub reads: u32,
}

impl HitRatio {
    /// Counts one read.
    pub fn count(&mut self, lookup: &Lookup) {
        self.reads += 1;
        if matches!(lookup, Lookup::Hit(_)) {
            self.hits += 1;
        }
    }

    /// Hits divided by reads; 0 when there were no reads.
    pub fn ratio(&self) -> f64 {
        if self.reads == 0 {
            0.0
        } else {
            f64::from(self.hits) / f64::from(self.reads)
        }
    }
}

impl fmt::Display for HitRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} = {:.3}", self.hits, self.reads, self.ratio())
    }
}

/// The READ_REQ for `key` (17 bytes on the wire).
pub fn read_request(key: &str) -> Message {
    Message {
        kind: MsgType::ReadReq,
        key: key.to_string(),
        value: String::new(),
    }
}

/// The WRITE_REQ that stores `value` under `key` (33 bytes on the wire):
/// a write to the storage server, or a fill or update of the cache.
pub fn write_request(key: &str, value: &str) -> Message {
    Message {
        kind: MsgType::WriteReq,
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// `answer` retyped as a READ_REP: the course's client printed a cache hit
/// as if the storage server had answered it.
pub fn as_read_reply(answer: &Message) -> Message {
    Message {
        kind: MsgType::ReadRep,
        ..answer.clone()
    }
}

/// Prints the first three lines of request `id`: its number, its length
/// on the wire, and the request itself.
pub fn print_request(id: u32, request: &Message) {
    println!("Request ID: {id}");
    println!("Sent bytes: {}", request.encode().len());
    println!("{request}");
}

/// Prints an answer: its length on the wire, the record, and the empty line
/// that ends a request in the course's transcript.
pub fn print_received(len: usize, answer: &Message) {
    println!("Received bytes: {len}");
    println!("{answer}");
    println!();
}

/// The client's socket, its two peers, and how it retransmits.
#[derive(Debug)]
pub struct Client {
    endpoint: Endpoint,
    stop: StopSignals,
    cache: SocketAddrV4,
    server: SocketAddrV4,
    retry: Retry,
}

impl Client {
    /// A client that sends from `endpoint` to the cache at `cache` and the
    /// storage server at `server`, and stops waiting when `stop` catches a
    /// signal.
    pub fn new(
        endpoint: Endpoint,
        stop: StopSignals,
        cache: SocketAddrV4,
        server: SocketAddrV4,
        retry: Retry,
    ) -> Client {
        Client {
            endpoint,
            stop,
            cache,
            server,
            retry,
        }
    }

    /// The address of `peer`.
    pub fn addr(&self, peer: Peer) -> SocketAddrV4 {
        match peer {
            Peer::Cache => self.cache,
            Peer::Server => self.server,
        }
    }

    /// Sends `request` (part of request number `id`) to `peer`, and waits
    /// for an answer of one of the types `kinds` for the same key, sending
    /// the request again after each timeout.
    ///
    /// Each datagram that is not the answer is reported on stderr
    /// (`client: ignoring ...`) and skipped.
    ///
    /// # Errors
    ///
    /// [`Halt::GaveUp`] after the last try, [`Halt::Stopped`] on SIGINT or
    /// SIGTERM, [`Halt::Socket`] when `sendto(2)`, `poll(2)` or
    /// `recvfrom(2)` fails.
    pub fn ask(
        &self,
        peer: Peer,
        id: u32,
        request: &Message,
        kinds: &[MsgType],
    ) -> Result<Reply, Halt> {
        let to = self.addr(peer);
        let answer = net::ask(
            &self.endpoint,
            &self.stop,
            &request.encode(),
            to,
            self.retry,
            "client",
            |datagram, from| {
                check_reply(datagram, from, to, kinds, &request.key).map(|message| Reply {
                    message,
                    len: datagram.len(),
                })
            },
        )?;
        match answer {
            Answer::Reply(reply) => Ok(reply),
            Answer::GaveUp => Err(Halt::GaveUp {
                id,
                peer,
                port: to.port(),
                tries: self.retry.tries,
            }),
            Answer::Stopped(_) => Err(Halt::Stopped),
        }
    }

    /// Reads `key` (request number `id`) the look-aside way: from the cache
    /// if it holds the key; otherwise from the storage server, and then
    /// fills the cache with the value read. Prints the rest of the request's
    /// transcript (its first three lines are printed already).
    ///
    /// # Errors
    ///
    /// Whatever [`Client::ask`] returns for any of the requests.
    pub fn read(&self, id: u32, key: &str) -> Result<Lookup, Halt> {
        // TODO: Ask the cache first. A hit is the answer, and the storage
        //       server never hears of it. On a miss, read the storage server
        //       and then fill the cache with what it returned, so that the
        //       next read of the key hits. Print what the page's transcript
        //       shows for each case.
        todo!("look-aside read")
    }

    /// Writes `value` under `key` (request number `id`): to the storage
    /// server first, then, once the server has acknowledged it, to the cache,
    /// so that the cache does not go on answering with the old value. Prints
    /// the rest of the request's transcript.
    ///
    /// # Errors
    ///
    /// Whatever [`Client::ask`] returns for either request.
    pub fn write(&self, id: u32, key: &str, value: &str) -> Result<(), Halt> {
        // TODO: Write to the storage server, the truth, and only once it has
        //       acknowledged the write, update the cache with the same
        //       WRITE_REQ, so that the cache does not go on answering with
        //       the old value (a stale read).
        todo!("write then update the cache")
    }
}

/// Runs the client: sends `args.count` requests, one at a time, printing
/// each, then prints the hit ratio on stderr.
///
/// # Errors
///
/// A [`Halt::GaveUp`] when a peer does not answer, and any error of
/// `socket(2)`, `bind(2)`, `sendto(2)`, `poll(2)` or `recvfrom(2)`. SIGINT
/// or SIGTERM is not an error: the goodbye lines are printed and the result
/// is `Ok`.
pub fn run(args: &ClientArgs) -> Result<(), Box<dyn Error>> {
    let stop = StopSignals::install()?;
    let seed = args.seed.unwrap_or_else(seed_from_clock);
    // On stderr, so that the transcript on stdout stays the course's, and a
    // surprising run can be replayed with --seed.
    eprintln!("client: seed {seed}");

    let endpoint = Endpoint::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
    let retry = Retry {
        timeout: Duration::from_millis(u64::from(args.timeout_ms)),
        tries: args.tries,
    };
    let client = Client::new(
        endpoint,
        stop,
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, args.cache_port),
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, args.server_port),
        retry,
    );
    let mut workload = Workload::new(seed, args.keys, args.zipf, args.writes);
    let mut hit_ratio = HitRatio::default();

    for id in 0..args.count {
        // The request's first lines go out before the request does, so that
        // they are on stdout whatever happens while the client waits.
        let done = match workload.next_op() {
            Op::Read { key } => {
                print_request(id, &read_request(&key));
                client.read(id, &key).map(|lookup| hit_ratio.count(&lookup))
            }
            Op::Write { key, value } => {
                print_request(id, &write_request(&key, &value));
                client.write(id, &key, &value)
            }
        };
        match done {
            Ok(()) => {}
            Err(Halt::Stopped) => {
                println!();
                println!("{GOODBYE}");
                return Ok(());
            }
            Err(halt) => return Err(halt.into()),
        }
    }
    eprintln!("client: hit ratio {hit_ratio}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::{self, JoinHandle};
    use std::time::Instant;

    use handout::net::{MAX_DATAGRAM, Wakeup};

    use crate::cache;
    use crate::lru::Lru;
    use crate::server::{self, Store, UNWRITTEN};

    const KEY: &str = "AAAAAAAAAAotIhz";

    fn any_port() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)
    }

    /// A cache or storage server run by a test thread: it handles every
    /// datagram until the test sends it one from `control`, and then hands
    /// back its state and every record it received.
    struct Node<S> {
        addr: SocketAddrV4,
        control: Endpoint,
        thread: JoinHandle<(S, Vec<Message>)>,
    }

    type Handler<S> = fn(&Endpoint, &mut S, &[u8], SocketAddrV4);

    impl<S: Send + 'static> Node<S> {
        fn spawn(mut state: S, handle: Handler<S>) -> Node<S> {
            let endpoint = Endpoint::bind(any_port()).unwrap();
            let addr = endpoint.local_addr().unwrap();
            let control = Endpoint::bind(any_port()).unwrap();
            let control_addr = control.local_addr().unwrap();
            let thread = thread::spawn(move || {
                let stop = StopSignals::install().unwrap();
                let mut buf = vec![0; MAX_DATAGRAM];
                let mut heard = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    match endpoint.receive(&mut buf, &stop, Some(deadline)).unwrap() {
                        Wakeup::Datagram { from, .. } if from == control_addr => {
                            return (state, heard);
                        }
                        Wakeup::Datagram { len, from } => {
                            heard.extend(Message::decode(&buf[..len]));
                            handle(&endpoint, &mut state, &buf[..len], from);
                        }
                        other => panic!("test node: {other:?}"),
                    }
                }
            });
            Node {
                addr,
                control,
                thread,
            }
        }

        fn finish(self) -> (S, Vec<Message>) {
            self.control.send_to(b"", self.addr).unwrap();
            self.thread.join().unwrap()
        }
    }

    /// A client, a cache of `capacity` keys and a storage server, on
    /// loopback.
    fn setup(capacity: usize) -> (Client, Node<Lru>, Node<Store>) {
        let cache = Node::spawn(Lru::new(capacity), cache::handle_datagram);
        let server = Node::spawn(Store::new(), server::handle_datagram);
        let retry = Retry {
            timeout: Duration::from_millis(500),
            tries: 10,
        };
        let client = Client::new(
            Endpoint::bind(any_port()).unwrap(),
            StopSignals::install().unwrap(),
            cache.addr,
            server.addr,
            retry,
        );
        (client, cache, server)
    }

    /// The workload draws write-or-read, then the key, then (for a write)
    /// the value, all from one generator.
    #[test]
    fn the_workload_draws_in_the_documented_order() {
        let mut workload = Workload::new(9, 1000, None, 50);
        let mut rng = Rng::new(9);
        for _ in 0..100 {
            let write = rng.below(100) < 50;
            let key = generate_key(&mut rng, 1000);
            let expected = if write {
                Op::Write {
                    key,
                    value: generate_value(&mut rng),
                }
            } else {
                Op::Read { key }
            };
            assert_eq!(workload.next_op(), expected);
        }
    }

    /// Without --writes every request is a read, and the write-or-read draw
    /// still happens.
    #[test]
    fn no_writes_still_draws_the_coin() {
        let mut workload = Workload::new(1, 1000, None, 0);
        let mut rng = Rng::new(1);
        for _ in 0..20 {
            rng.below(100);
            let key = generate_key(&mut rng, 1000);
            assert_eq!(workload.next_op(), Op::Read { key });
        }
        let mut all_writes = Workload::new(1, 10, None, 100);
        assert!((0..20).all(|_| matches!(all_writes.next_op(), Op::Write { .. })));
    }

    /// With --zipf the key is the course's key of a Zipf-drawn number, and
    /// the first keys are the popular ones.
    #[test]
    fn zipf_keys_come_from_key_from_number() {
        let mut workload = Workload::new(4, 100, Some(1.0), 0);
        let mut rng = Rng::new(4);
        let zipf = Zipf::new(100, 1.0);
        let mut first = 0;
        for _ in 0..500 {
            rng.below(100);
            let n = zipf.sample(&mut rng);
            first += u32::from(n == 0);
            let key = key_from_number(n);
            assert_eq!(workload.next_op(), Op::Read { key });
        }
        // Key 0 takes 1 / H(100), about 19% of the draws.
        assert!((60..140).contains(&first), "{first} of 500");
    }

    /// The hit ratio prints with three decimals, and 0.000 without reads.
    #[test]
    fn the_hit_ratio_line() {
        let mut ratio = HitRatio::default();
        assert_eq!(ratio.to_string(), "0/0 = 0.000");
        ratio.count(&Lookup::Miss("a".into()));
        ratio.count(&Lookup::Hit("a".into()));
        ratio.count(&Lookup::Hit("a".into()));
        assert_eq!(ratio.to_string(), "2/3 = 0.667");
    }

    /// Requests have the course's lengths: 17 bytes for a read, 33 for a
    /// write; a hit prints as a READ_REP.
    #[test]
    fn requests_have_the_courses_lengths() {
        assert_eq!(read_request(KEY).encode().len(), 17);
        assert_eq!(write_request(KEY, "v").encode().len(), 33);
        let hit = Message::new(MsgType::CacheHit, KEY, "v").unwrap();
        assert_eq!(
            as_read_reply(&hit).to_string(),
            format!("Type: READ_REP Key: {KEY} Value: v")
        );
    }

    /// The first read of a key misses, reads the server and fills the
    /// cache; the second hits and sends nothing to the server.
    #[test]
    fn a_repeated_read_hits_and_skips_the_server() {
        let (client, cache, server) = setup(4);
        assert_eq!(client.read(0, KEY).unwrap(), Lookup::Miss(UNWRITTEN.into()));
        assert_eq!(client.read(1, KEY).unwrap(), Lookup::Hit(UNWRITTEN.into()));
        assert_eq!(client.read(2, KEY).unwrap(), Lookup::Hit(UNWRITTEN.into()));

        let (lru, to_cache) = cache.finish();
        let (_, to_server) = server.finish();
        assert_eq!(
            to_server,
            [read_request(KEY)],
            "only the miss reads the server"
        );
        assert_eq!(
            to_cache,
            [
                read_request(KEY),
                write_request(KEY, UNWRITTEN),
                read_request(KEY),
                read_request(KEY),
            ],
            "a read, the fill after the miss, then two reads that hit"
        );
        assert!(lru.contains(KEY));
    }

    /// A write reaches the server and then the cache, so a read after it
    /// returns the written value from the cache, even when the cache held
    /// an older value.
    #[test]
    fn a_read_after_a_write_returns_the_written_value() {
        let (client, cache, server) = setup(4);
        assert_eq!(client.read(0, KEY).unwrap(), Lookup::Miss(UNWRITTEN.into()));
        client.write(1, KEY, "NEWVALUE").unwrap();
        assert_eq!(client.read(2, KEY).unwrap(), Lookup::Hit("NEWVALUE".into()));

        let (_, to_cache) = cache.finish();
        let (store, to_server) = server.finish();
        assert_eq!(store.value(KEY), "NEWVALUE");
        assert_eq!(
            to_server,
            [read_request(KEY), write_request(KEY, "NEWVALUE")]
        );
        assert_eq!(to_cache[2], write_request(KEY, "NEWVALUE"), "the update");
        assert_eq!(to_cache.len(), 4);
    }

    /// A written key that the cache did not hold is read back as a hit:
    /// the update stored it.
    #[test]
    fn a_write_fills_the_cache_too() {
        let (client, cache, server) = setup(4);
        client.write(0, KEY, "V1").unwrap();
        assert_eq!(client.read(1, KEY).unwrap(), Lookup::Hit("V1".into()));
        let (_, to_server) = server.finish();
        assert_eq!(to_server, [write_request(KEY, "V1")]);
        cache.finish();
    }

    /// A key the LRU evicted misses again and is read from the server
    /// again.
    #[test]
    fn an_evicted_key_misses_again() {
        let (client, cache, server) = setup(1);
        let other = "AAAAAAAAAAAAAAB";
        assert!(matches!(client.read(0, KEY).unwrap(), Lookup::Miss(_)));
        assert!(matches!(client.read(1, other).unwrap(), Lookup::Miss(_)));
        assert!(matches!(client.read(2, KEY).unwrap(), Lookup::Miss(_)));
        let (lru, _) = cache.finish();
        let (_, to_server) = server.finish();
        assert_eq!(to_server.len(), 3);
        assert!(lru.contains(KEY) && !lru.contains(other));
    }

    /// With nobody answering at the cache's address, the client gives up
    /// after its tries and says who did not answer.
    #[test]
    fn the_client_gives_up_on_a_silent_cache() {
        let silent = Endpoint::bind(any_port()).unwrap();
        let server = Endpoint::bind(any_port()).unwrap();
        let silent_addr = silent.local_addr().unwrap();
        let client = Client::new(
            Endpoint::bind(any_port()).unwrap(),
            StopSignals::install().unwrap(),
            silent_addr,
            server.local_addr().unwrap(),
            Retry {
                timeout: Duration::from_millis(10),
                tries: 3,
            },
        );
        let halt = client.read(4, KEY).unwrap_err();
        assert_eq!(
            halt,
            Halt::GaveUp {
                id: 4,
                peer: Peer::Cache,
                port: silent_addr.port(),
                tries: 3,
            }
        );
        assert_eq!(
            halt.to_string(),
            format!(
                "no reply to request 4 from the cache (port {}) after 3 tries; giving up",
                silent_addr.port()
            )
        );
    }
}
