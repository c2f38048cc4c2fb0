//! The client: up to W reads in flight, each sent to a server chosen by the
//! policy, each retransmitted on its own until answered.
//!
//! # The window
//!
//! The course's client sent one request and waited for its reply before
//! the next. Then the load of every server is 0 whenever the client
//! chooses, and no policy can tell a slow server from a fast one. This
//! client keeps up to W requests in flight (`--concurrency W`), like a
//! web server's pool of connections to its back ends or a database
//! driver's pipeline: whenever fewer than W are in flight and requests
//! remain, it draws the next one, chooses its server, prints it and sends
//! it. With W = 1 it behaves, and prints, exactly as the course's client.
//!
//! The loop is a single thread that waits in `poll(2)` for whichever comes
//! first: a reply, the earliest retransmission deadline, or Ctrl+C.
//!
//! ```text
//! loop:
//!     while fewer than W in flight and requests remain: draw, choose, print, send
//!     if nothing is in flight: done
//!     wait for a datagram, the earliest deadline, or a signal
//!     a reply: complete the request it answers (see in_flight), print it
//!     any deadline passed: send that request again, or give up after T tries
//! ```
//!
//! # Retransmission
//!
//! Each request has its own deadline, `--timeout-ms` after its last send.
//! When it passes with no reply, the same request goes again *to the same
//! server*: it is still in flight there (a retransmission is not a new
//! request, and choosing again would count it twice). After `--tries` sends
//! the client gives up and exits with status 1. Reads are idempotent, so a
//! server that sees two copies simply answers twice; the second reply finds
//! nothing left to complete and is ignored.
//!
//! Deadlines are checked after every wakeup, not only when `poll(2)` times
//! out, so a steady stream of replies cannot put a retransmission off.

use std::error::Error;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use handout::net::{Endpoint, MAX_DATAGRAM, StopSignals, Wakeup};
use handout::{DecodeError, GOODBYE, Message, MsgType, Rng, generate_key, seed_from_clock};
use nix::errno::Errno;

use crate::choice::{Policy, choose};
use crate::cli::ClientArgs;
use crate::in_flight::{InFlight, Outstanding};

/// Why the client stopped before every request was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// SIGINT or SIGTERM arrived: a normal end.
    Stopped,
    /// A server did not answer a request after every try.
    GaveUp {
        /// The request number, from 0.
        id: u32,
        /// The server, as an index into the ports.
        server: usize,
        /// The server's port.
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
                server,
                port,
                tries,
            } => write!(
                f,
                "no reply to request {id} from server {server} (port {port}) after {tries} tries; giving up"
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

/// Why a datagram the client received completes no request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// It came from an address that is none of the servers.
    Stranger {
        /// Who sent it.
        from: SocketAddrV4,
    },
    /// It is not a record.
    Malformed {
        /// Who sent it.
        from: SocketAddrV4,
        /// What is wrong with it.
        error: DecodeError,
    },
    /// A record, but not a READ_REP.
    WrongType {
        /// Its type.
        kind: MsgType,
        /// The server that sent it.
        server: usize,
    },
    /// A READ_REP for a key that no request in flight at that server has:
    /// a duplicate, or a late answer to a copy already answered.
    Unasked {
        /// Its key.
        key: String,
        /// The server that sent it.
        server: usize,
    },
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ignored::Stranger { from } => {
                write!(f, "datagram from {from}: not one of the servers")
            }
            Ignored::Malformed { from, error } => {
                write!(f, "malformed datagram from {from}: {error}")
            }
            Ignored::WrongType { kind, server } => {
                write!(f, "{kind} from server {server}: expected READ_REP")
            }
            Ignored::Unasked { key, server } => write!(
                f,
                "READ_REP for key {key} from server {server}: no request in flight there has that key"
            ),
        }
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

/// Prints the first three lines of request `id`, before it is sent: its
/// number, its length on the wire, and the request itself.
pub fn print_request(id: u32, request: &Message) {
    println!("Request ID: {id}");
    println!("Sent bytes: {}", request.encode().len());
    println!("{request}");
}

/// Prints a reply when it completes a request: its length on the wire and
/// the record.
pub fn print_received(len: usize, reply: &Message) {
    println!("Received bytes: {len}");
    println!("{reply}");
}

/// The client: its socket, its servers, its settings, the generator of keys
/// and choices, and the requests in flight.
#[derive(Debug)]
pub struct Client {
    endpoint: Endpoint,
    stop: StopSignals,
    servers: Vec<SocketAddrV4>,
    policy: Policy,
    concurrency: usize,
    count: u32,
    keys: u64,
    timeout: Duration,
    tries: u32,
    rng: Rng,
    next: u32,
    in_flight: InFlight,
}

impl Client {
    /// A client that sends from `endpoint` to the servers of `args.ports`
    /// on 127.0.0.1, as `args` says, drawing keys and choices from
    /// `Rng::new(seed)`, and stops waiting when `stop` catches a signal.
    pub fn new(endpoint: Endpoint, stop: StopSignals, args: &ClientArgs, seed: u64) -> Client {
        let servers: Vec<SocketAddrV4> = args
            .ports
            .iter()
            .map(|&port| SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
            .collect();
        Client {
            endpoint,
            stop,
            in_flight: InFlight::new(servers.len()),
            servers,
            policy: args.policy,
            concurrency: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
            count: args.count,
            keys: args.keys,
            timeout: Duration::from_millis(u64::from(args.timeout_ms)),
            tries: args.tries,
            rng: Rng::new(seed),
            next: 0,
        }
    }

    /// How many requests each server has answered so far, by index.
    pub fn answered(&self) -> Vec<u32> {
        (0..self.servers.len())
            .map(|server| self.in_flight.answered(server))
            .collect()
    }

    /// Sends every request and waits for every reply, keeping up to W in
    /// flight (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// [`Halt::GaveUp`] when a request is not answered after every try,
    /// [`Halt::Stopped`] on SIGINT or SIGTERM, [`Halt::Socket`] when
    /// `sendto(2)`, `poll(2)` or `recvfrom(2)` fails.
    pub fn run_requests(&mut self) -> Result<(), Halt> {
        let mut buf = vec![0; MAX_DATAGRAM];
        loop {
            while self.in_flight.len() < self.concurrency && self.next < self.count {
                self.send_next()?;
            }
            if self.in_flight.is_empty() {
                return Ok(());
            }
            let deadline = self.in_flight.next_deadline();
            match self.endpoint.receive(&mut buf, &self.stop, deadline)? {
                Wakeup::Datagram { len, from } => match self.accept(&buf[..len], from) {
                    Ok(reply) => print_received(len, &reply),
                    Err(ignored) => eprintln!("client: ignoring {ignored}"),
                },
                Wakeup::Deadline => {}
                Wakeup::Stop(_) => return Err(Halt::Stopped),
            }
            self.retransmit(Instant::now())?;
        }
    }

    /// Draws the next request, chooses its server, prints it and sends it.
    ///
    /// # Format
    ///
    /// The draws, in this order: the key (`generate_key(rng, K)`), then the
    /// policy's (see [`choice`](crate::choice)). On stdout the three lines
    /// of [`print_request`]; on stderr, just before the request goes out,
    /// `client: request <n> key <k> to <choice>`, the choice as
    /// [`Choice`](crate::choice::Choice) prints it.
    ///
    /// # Errors
    ///
    /// [`Halt::Socket`] when `sendto(2)` fails.
    fn send_next(&mut self) -> Result<(), Halt> {
        let id = self.next;
        self.next += 1;
        let key = generate_key(&mut self.rng, self.keys);
        let choice = choose(self.policy, &mut self.rng, self.in_flight.loads());
        let request = read_request(&key);
        print_request(id, &request);
        eprintln!("client: request {id} key {key} to {choice}");
        let server = choice.server();
        self.endpoint
            .send_to(&request.encode(), self.servers[server])?;
        self.in_flight.insert(Outstanding {
            id,
            key,
            server,
            tries: 1,
            deadline: Instant::now() + self.timeout,
        });
        Ok(())
    }

    /// The reply that `datagram` from `from` is, if it is one: it must come
    /// from one of the servers, decode, be a READ_REP, and complete a
    /// request in flight at that server (the oldest with its key, which
    /// leaves the bookkeeping).
    ///
    /// # Errors
    ///
    /// The first check that fails, as an [`Ignored`]; then nothing changes.
    pub fn accept(&mut self, datagram: &[u8], from: SocketAddrV4) -> Result<Message, Ignored> {
        let server = self
            .servers
            .iter()
            .position(|&addr| addr == from)
            .ok_or(Ignored::Stranger { from })?;
        let reply =
            Message::decode(datagram).map_err(|error| Ignored::Malformed { from, error })?;
        if reply.kind != MsgType::ReadRep {
            return Err(Ignored::WrongType {
                kind: reply.kind,
                server,
            });
        }
        if self.in_flight.complete(server, &reply.key).is_none() {
            return Err(Ignored::Unasked {
                key: reply.key,
                server,
            });
        }
        Ok(reply)
    }

    /// Sends again every request whose deadline is `now` or earlier, to the
    /// same server, with a line on stderr for each; the earliest first.
    ///
    /// # Errors
    ///
    /// [`Halt::GaveUp`] for a request already sent `--tries` times,
    /// [`Halt::Socket`] when `sendto(2)` fails.
    fn retransmit(&mut self, now: Instant) -> Result<(), Halt> {
        while let Some(request) = self.in_flight.next_expired(now) {
            let to = self.servers[request.server];
            if request.tries >= self.tries {
                return Err(Halt::GaveUp {
                    id: request.id,
                    server: request.server,
                    port: to.port(),
                    tries: request.tries,
                });
            }
            request.tries += 1;
            request.deadline = now + self.timeout;
            eprintln!(
                "client: no answer to request {} from {to} within {} ms; sending again (try {} of {})",
                request.id,
                self.timeout.as_millis(),
                request.tries,
                self.tries
            );
            self.endpoint
                .send_to(&read_request(&request.key).encode(), to)?;
        }
        Ok(())
    }

    /// Prints, on stderr, how many requests each server answered:
    /// `client: server <i> (port <P>) answered <m> of <count> requests`.
    pub fn print_summary(&self) {
        for (server, addr) in self.servers.iter().enumerate() {
            eprintln!(
                "client: server {server} (port {}) answered {} of {} requests",
                addr.port(),
                self.in_flight.answered(server),
                self.count
            );
        }
    }
}

/// Runs the client: sends `args.count` reads, up to `args.concurrency` at a
/// time, prints each request and reply, then who answered how many.
///
/// # Errors
///
/// A [`Halt::GaveUp`] when a server does not answer, and any error of
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
    let mut client = Client::new(endpoint, stop, args, seed);
    match client.run_requests() {
        Ok(()) => {
            client.print_summary();
            Ok(())
        }
        Err(Halt::Stopped) => {
            println!();
            println!("{GOODBYE}");
            Ok(())
        }
        Err(halt) => Err(halt.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::thread::{self, JoinHandle};

    use crate::server;

    const KEY: &str = "AAAAAAAAAAotIhz";

    fn any_port() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)
    }

    fn args(ports: Vec<u16>, policy: Policy, concurrency: u32, count: u32) -> ClientArgs {
        ClientArgs {
            ports,
            seed: None,
            count,
            concurrency,
            policy,
            timeout_ms: 500,
            tries: 10,
            keys: 3,
        }
    }

    fn client(args: &ClientArgs, seed: u64) -> Client {
        let endpoint = Endpoint::bind(any_port()).unwrap();
        Client::new(endpoint, StopSignals::install().unwrap(), args, seed)
    }

    /// A server run by a test thread, with a delay per request: it serves
    /// until the test sends it a datagram from `control`, and then tells
    /// how many requests it received.
    struct TestServer {
        addr: SocketAddrV4,
        control: Endpoint,
        thread: JoinHandle<u32>,
    }

    impl TestServer {
        fn spawn(delay_ms: u64) -> TestServer {
            let endpoint = Endpoint::bind(any_port()).unwrap();
            let addr = endpoint.local_addr().unwrap();
            let control = Endpoint::bind(any_port()).unwrap();
            let control_addr = control.local_addr().unwrap();
            let thread = thread::spawn(move || {
                let stop = StopSignals::install().unwrap();
                let delay = Duration::from_millis(delay_ms);
                let mut buf = vec![0; MAX_DATAGRAM];
                let mut received = 0;
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    match endpoint.receive(&mut buf, &stop, Some(deadline)).unwrap() {
                        Wakeup::Datagram { from, .. } if from == control_addr => return received,
                        Wakeup::Datagram { len, from } => {
                            received += 1;
                            server::handle_datagram(&endpoint, &stop, delay, &buf[..len], from)
                                .unwrap();
                        }
                        other => panic!("test server: {other:?}"),
                    }
                }
            });
            TestServer {
                addr,
                control,
                thread,
            }
        }

        fn finish(self) -> u32 {
            self.control.send_to(b"", self.addr).unwrap();
            self.thread.join().unwrap()
        }
    }

    /// With several requests in flight, and keys that repeat among them,
    /// every request is answered once and the servers' counts add up.
    #[test]
    fn every_request_is_answered_with_concurrency() {
        let servers: Vec<TestServer> = (0..3).map(|_| TestServer::spawn(0)).collect();
        let ports = servers.iter().map(|s| s.addr.port()).collect();
        let mut settings = args(ports, Policy::P2c, 4, 40);
        // Long enough that even a loaded machine sends nothing twice.
        settings.timeout_ms = 10_000;
        let mut client = client(&settings, 1);
        client.run_requests().unwrap();
        assert!(client.in_flight.is_empty());
        let answered = client.answered();
        assert_eq!(answered.iter().sum::<u32>(), 40, "{answered:?}");
        let received: Vec<u32> = servers.into_iter().map(TestServer::finish).collect();
        assert_eq!(received, answered, "no loss on loopback: one datagram each");
    }

    /// A reply completes a request only at the server that sent it, and
    /// only once; strangers, garbage and other types complete nothing.
    #[test]
    fn only_the_right_server_completes_a_request() {
        let a = Endpoint::bind(any_port()).unwrap();
        let b = Endpoint::bind(any_port()).unwrap();
        let (a, b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let stranger: SocketAddrV4 = "127.0.0.1:9".parse().unwrap();
        let mut client = client(&args(vec![a.port(), b.port()], Policy::P2c, 2, 2), 1);
        client.in_flight.insert(Outstanding {
            id: 0,
            key: KEY.to_string(),
            server: 0,
            tries: 1,
            deadline: Instant::now(),
        });
        let reply = Message::new(MsgType::ReadRep, KEY, "DDDCCCCBBBBAAAA").unwrap();
        let datagram = reply.encode();

        assert_eq!(
            client.accept(&datagram, stranger),
            Err(Ignored::Stranger { from: stranger })
        );
        let unasked = client.accept(&datagram, b).unwrap_err();
        assert_eq!(
            unasked.to_string(),
            format!(
                "READ_REP for key {KEY} from server 1: no request in flight there has that key"
            )
        );
        let wrong = Message::new(MsgType::WriteRep, KEY, "").unwrap().encode();
        assert_eq!(
            client.accept(&wrong, a).unwrap_err().to_string(),
            "WRITE_REP from server 0: expected READ_REP"
        );
        assert!(matches!(
            client.accept(b"junk", a),
            Err(Ignored::Malformed { .. })
        ));
        assert_eq!(client.in_flight.loads(), [1, 0], "nothing completed yet");

        assert_eq!(client.accept(&datagram, a), Ok(reply));
        assert_eq!(client.answered(), [1, 0]);
        assert!(matches!(
            client.accept(&datagram, a),
            Err(Ignored::Unasked { .. })
        ));
    }

    /// With nobody answering, the client sends the request again to the
    /// same server, and gives up after its tries, saying who did not answer.
    #[test]
    fn the_client_gives_up_on_a_silent_server() {
        let stop = StopSignals::install().unwrap();
        let silent = Endpoint::bind(any_port()).unwrap();
        let port = silent.local_addr().unwrap().port();
        let mut settings = args(vec![port], Policy::Least, 1, 1);
        settings.timeout_ms = 10;
        settings.tries = 3;
        let halt = client(&settings, 1).run_requests().unwrap_err();
        assert_eq!(
            halt,
            Halt::GaveUp {
                id: 0,
                server: 0,
                port,
                tries: 3
            }
        );
        assert_eq!(
            halt.to_string(),
            format!("no reply to request 0 from server 0 (port {port}) after 3 tries; giving up")
        );
        let mut buf = vec![0; MAX_DATAGRAM];
        let mut keys = Vec::new();
        for _ in 0..3 {
            let soon = Some(Instant::now() + Duration::from_secs(1));
            let Wakeup::Datagram { len, .. } = silent.receive(&mut buf, &stop, soon).unwrap()
            else {
                panic!("the silent server did not get three copies");
            };
            keys.push(Message::decode(&buf[..len]).unwrap().key);
        }
        assert!(keys.iter().all(|key| *key == keys[0]), "{keys:?}");
    }

    /// How many of `count` requests go to a slow server, in a simulation
    /// that counts time in ticks: servers 0 to 2 take 1 tick per request,
    /// server 3 takes 10, each serves its queue in order, and the client
    /// keeps 8 requests in flight with `policy`.
    fn sent_to_the_slow_server(policy: Policy, seed: u64, count: u32) -> u32 {
        const SERVICE: [u32; 4] = [1, 1, 1, 10];
        let mut rng = Rng::new(seed);
        let mut book = InFlight::new(4);
        let mut queues: Vec<VecDeque<String>> = vec![VecDeque::new(); 4];
        let mut left = SERVICE;
        let (mut next, mut slow) = (0, 0);
        loop {
            while book.len() < 8 && next < count {
                let key = generate_key(&mut rng, 1000);
                let server = choose(policy, &mut rng, book.loads()).server();
                slow += u32::from(server == 3);
                queues[server].push_back(key.clone());
                book.insert(Outstanding {
                    id: next,
                    key,
                    server,
                    tries: 1,
                    deadline: Instant::now(),
                });
                next += 1;
            }
            if book.is_empty() {
                return slow;
            }
            for server in 0..4 {
                if queues[server].is_empty() {
                    continue;
                }
                left[server] -= 1;
                if left[server] == 0 {
                    let key = queues[server].pop_front().unwrap();
                    assert!(book.complete(server, &key).is_some());
                    left[server] = SERVICE[server];
                }
            }
        }
    }

    /// The claim of the lab, replayed without sockets or clocks: with one
    /// server ten times slower, random sends it about a quarter of the
    /// requests, the power of two choices far fewer, and least even fewer.
    #[test]
    fn p2c_spares_a_slow_server() {
        for seed in 1..6 {
            let random = sent_to_the_slow_server(Policy::Random, seed, 400);
            let p2c = sent_to_the_slow_server(Policy::P2c, seed, 400);
            let least = sent_to_the_slow_server(Policy::Least, seed, 400);
            assert!((70..130).contains(&random), "seed {seed}: random {random}");
            assert!(p2c * 2 < random, "seed {seed}: p2c {p2c}, random {random}");
            assert!(least <= p2c, "seed {seed}: least {least}, p2c {p2c}");
        }
    }
}
