//! The client: ask every server, count the votes that count, decide early.
//!
//! # One request
//!
//! For each request the client draws a key, prints the request's three
//! lines, and sends `READ_REQ key` (17 bytes) to every server, in the order
//! of its ports. Then it waits in one loop (a `poll(2)` with a deadline,
//! through [`Endpoint::receive`]) for three things:
//!
//! - **A datagram.** [`check_vote`] decides whether it is a vote at all:
//!   from one of the servers' addresses, a record, a READ_REP, for the
//!   request's key. The [`Tally`] then decides whether it counts: a
//!   server's first vote does, a second one does not. A counted vote is
//!   printed (`Received bytes: 33` and the record), and the tally is asked
//!   for a [`Decision`]: the first one prints `True` or `False`. Anything
//!   else is one `client: ignoring ...` line on stderr.
//! - **The deadline**, `--timeout-ms` after the last send. Without a
//!   decision, the client sends the request again, but only to the servers
//!   that have not voted: a server that has answered has said all it will
//!   say. After `--tries` sends it prints `False`: not enough servers
//!   answered to decide. With a decision, the request is over.
//! - **SIGINT or SIGTERM**: the goodbye lines, and the client stops.
//!
//! After the decision the client goes on printing the votes that arrive,
//! until every server has voted or the deadline passes, and then prints an
//! empty line: the course's transcript shows every server's reply, and a
//! late reply is better printed under its own request than ignored under
//! the next one.
//!
//! # Why decide early
//!
//! Once `f + 1` distinct servers agree, nothing the others say can change
//! the outcome, so waiting for them only adds their delay to every read,
//! and a silent server would add a whole timeout. Systems that read from a
//! quorum (Cassandra, Dynamo's `R`, PBFT's clients waiting for `f + 1`
//! matching replies) all return as soon as the quorum is there.
//!
//! # What the record lacks
//!
//! The record has no request id, so the key is what ties a reply to a
//! request. A late reply to an earlier request for the same key would be
//! taken for a vote on the current one; with keys drawn among a thousand
//! this is rare, and a real protocol would add a request id (or a nonce,
//! so that a liar cannot replay an old answer).

use std::error::Error;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use handout::net::{Endpoint, MAX_DATAGRAM, Retry, StopSignals, Wakeup};
use handout::{DecodeError, GOODBYE, Message, MsgType, Rng, generate_key, seed_from_clock};
use nix::errno::Errno;

use crate::cli::ClientArgs;
use crate::vote::{Decision, Tally};

/// A reply that [`check_vote`] accepted as a vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// The server's number: its place in the client's list of ports.
    pub server: usize,
    /// The reply, decoded: a READ_REP for the request's key.
    pub reply: Message,
    /// How many bytes the datagram had (printed as `Received bytes: N`).
    pub len: usize,
}

/// Why a datagram is not a vote on the current request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAVote {
    /// It came from an address that is not one of the servers.
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
    /// A record that is not a READ_REP.
    WrongType {
        /// The server that sent it.
        server: usize,
        /// Its type.
        kind: MsgType,
    },
    /// A READ_REP for another key: the answer to another request.
    WrongKey {
        /// The server that sent it.
        server: usize,
        /// Its key.
        key: String,
        /// The key of the request.
        expected: String,
    },
    /// A vote from a server that has voted on this request already.
    Again {
        /// The server that sent it.
        server: usize,
    },
}

impl fmt::Display for NotAVote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotAVote::Stranger { from } => {
                write!(f, "datagram from {from}: not one of the servers")
            }
            NotAVote::Malformed { from, error } => {
                write!(f, "malformed datagram from {from}: {error}")
            }
            NotAVote::WrongType { server, kind } => {
                write!(f, "{kind} from server {server}: expected READ_REP")
            }
            NotAVote::WrongKey {
                server,
                key,
                expected,
            } => write!(
                f,
                "answer for key {key} from server {server}: the request is for key {expected}"
            ),
            NotAVote::Again { server } => write!(
                f,
                "another reply from server {server}: a server votes once per request"
            ),
        }
    }
}

impl Error for NotAVote {}

/// Whether `datagram`, received from `from`, is a vote on the request for
/// `key` sent to `servers`: it comes from one of the servers' addresses,
/// decodes, is a READ_REP, and carries `key`.
///
/// Whether the server has voted already is the [`Tally`]'s business, not
/// this function's.
///
/// # Errors
///
/// The first of these checks that fails, in this order, as a [`NotAVote`].
pub fn check_vote(
    datagram: &[u8],
    from: SocketAddrV4,
    servers: &[SocketAddrV4],
    key: &str,
) -> Result<Vote, NotAVote> {
    // hole: which replies count
    // TODO: Return the Vote only if the datagram comes from one of
    //       `servers` (its position is the server's number), decodes, is a
    //       READ_REP and carries `key`; otherwise the first NotAVote that
    //       applies. Each check keeps a liar, or the network, from adding
    //       a vote.
    let Some(server) = servers.iter().position(|&addr| addr == from) else {
        return Err(NotAVote::Stranger { from });
    };
    let reply = Message::decode(datagram).map_err(|error| NotAVote::Malformed { from, error })?;
    if reply.kind != MsgType::ReadRep {
        return Err(NotAVote::WrongType {
            server,
            kind: reply.kind,
        });
    }
    if reply.key != key {
        return Err(NotAVote::WrongKey {
            server,
            key: reply.key,
            expected: key.to_string(),
        });
    }
    Ok(Vote {
        server,
        reply,
        len: datagram.len(),
    })
    // end hole
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Enough servers agreed (`True`).
    Decided {
        /// The value believed.
        value: String,
        /// How many distinct servers had sent it when the client decided.
        votes: usize,
    },
    /// The servers disagree too much for any value to reach the quorum
    /// (`False`).
    Undecidable,
    /// Too few servers answered in all the tries (`False`).
    NoQuorum {
        /// How many servers answered.
        answered: usize,
    },
}

/// Why the client stopped before finishing its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// SIGINT or SIGTERM arrived while it waited: a normal end.
    Stopped,
    /// A socket call failed.
    Socket(Errno),
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Halt::Stopped => f.write_str("stopped by a signal"),
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

/// The READ_REQ for `key` (17 bytes on the wire).
pub fn read_request(key: &str) -> Message {
    Message {
        kind: MsgType::ReadReq,
        key: key.to_string(),
        value: String::new(),
    }
}

/// Prints the first three lines of request `id`: its number, its length
/// on the wire, and the request itself.
pub fn print_request(id: u32, request: &Message) {
    println!("Request ID: {id}");
    println!("Sent bytes: {}", request.encode().len());
    println!("{request}");
}

/// The client's socket, the servers, and how it retransmits.
#[derive(Debug)]
pub struct Client {
    endpoint: Endpoint,
    stop: StopSignals,
    servers: Vec<SocketAddrV4>,
    faults: usize,
    retry: Retry,
}

impl Client {
    /// A client that sends from `endpoint` to `servers`, of which at most
    /// `faults` lie, and stops waiting when `stop` catches a signal.
    ///
    /// # Panics
    ///
    /// If there are fewer than `2 * faults + 1` servers.
    pub fn new(
        endpoint: Endpoint,
        stop: StopSignals,
        servers: Vec<SocketAddrV4>,
        faults: usize,
        retry: Retry,
    ) -> Client {
        assert!(
            servers.len() > 2 * faults,
            "Client::new: {} servers cannot outvote {faults} faulty ones",
            servers.len()
        );
        Client {
            endpoint,
            stop,
            servers,
            faults,
            retry,
        }
    }

    /// Sends `request` to every server that has not voted in `tally`.
    fn send_to_silent(&self, request: &[u8], tally: &Tally) -> Result<usize, Halt> {
        let mut sent = 0;
        for (server, &addr) in self.servers.iter().enumerate() {
            if !tally.has_voted(server) {
                self.endpoint.send_to(request, addr)?;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Reads `key` from every server (request number `id`) and decides
    /// what to believe, printing the rest of the request's transcript (its
    /// first three lines are printed already): each counted vote, `True`
    /// or `False`, and an empty line.
    ///
    /// # Errors
    ///
    /// [`Halt::Stopped`] on SIGINT or SIGTERM, [`Halt::Socket`] when
    /// `sendto(2)`, `poll(2)` or `recvfrom(2)` fails.
    pub fn vote(&self, id: u32, key: &str) -> Result<Outcome, Halt> {
        let request = read_request(key).encode();
        let n = self.servers.len();
        let mut tally = Tally::new(n, self.faults);
        let mut outcome: Option<Outcome> = None;
        let mut buf = vec![0; MAX_DATAGRAM];

        self.send_to_silent(&request, &tally)?;
        let mut tries = 1;
        let mut deadline = Instant::now() + self.retry.timeout;
        // Decided or not, the request goes on until every server has
        // voted; then there is nothing left to wait for.
        while outcome.is_none() || tally.unanswered() > 0 {
            match self
                .endpoint
                .receive(&mut buf, &self.stop, Some(deadline))?
            {
                Wakeup::Stop(_) => return Err(Halt::Stopped),
                Wakeup::Datagram { len, from } => {
                    let vote = match check_vote(&buf[..len], from, &self.servers, key) {
                        Ok(vote) => vote,
                        Err(why) => {
                            eprintln!("client: ignoring {why}");
                            continue;
                        }
                    };
                    if !tally.record(vote.server, &vote.reply.value) {
                        let again = NotAVote::Again {
                            server: vote.server,
                        };
                        eprintln!("client: ignoring {again}");
                        continue;
                    }
                    println!("Received bytes: {}", vote.len);
                    println!("{}", vote.reply);
                    if outcome.is_none()
                        && let Some(decision) = tally.decision()
                    {
                        outcome = Some(announce(id, n, tally.quorum(), decision));
                    }
                }
                // Decided: the late servers had their chance.
                Wakeup::Deadline if outcome.is_some() => break,
                Wakeup::Deadline if tries == self.retry.tries => {
                    println!("False");
                    eprintln!(
                        "client: request {id} undecided after {tries} tries: {} of {n} servers answered",
                        tally.answered()
                    );
                    outcome = Some(Outcome::NoQuorum {
                        answered: tally.answered(),
                    });
                    break;
                }
                Wakeup::Deadline => {
                    tries += 1;
                    eprintln!(
                        "client: no decision on request {id} within {} ms; sending it again to the {} servers that have not answered (try {tries} of {})",
                        self.retry.timeout.as_millis(),
                        tally.unanswered(),
                        self.retry.tries
                    );
                    self.send_to_silent(&request, &tally)?;
                    deadline = Instant::now() + self.retry.timeout;
                }
            }
        }
        println!();
        // The loop ends only after setting the outcome, or with every
        // server answered, which always allows a decision.
        Ok(outcome.unwrap_or(Outcome::Undecidable))
    }
}

/// Prints a decision: `True` or `False` on stdout, and why on stderr.
fn announce(id: u32, servers: usize, quorum: usize, decision: Decision) -> Outcome {
    match decision {
        Decision::Decided { value, votes } => {
            println!("True");
            eprintln!("client: request {id} decided {value} ({votes} of {servers} servers agree)");
            Outcome::Decided { value, votes }
        }
        Decision::Undecidable => {
            println!("False");
            eprintln!("client: request {id} undecided: no value can reach {quorum} votes");
            Outcome::Undecidable
        }
    }
}

/// Runs the client: sends `args.count` reads, one at a time, each to every
/// server, and prints what the servers' votes allow it to believe.
///
/// # Errors
///
/// Any error of `socket(2)`, `bind(2)`, `sendto(2)`, `poll(2)` or
/// `recvfrom(2)`. SIGINT or SIGTERM is not an error: the goodbye lines are
/// printed and the result is `Ok`. Neither is a request without a
/// decision: it prints `False`, and the client goes on.
pub fn run(args: &ClientArgs) -> Result<(), Box<dyn Error>> {
    let stop = StopSignals::install()?;
    let seed = args.seed.unwrap_or_else(seed_from_clock);
    // On stderr, so that the transcript on stdout stays the course's, and a
    // surprising run can be replayed with --seed.
    eprintln!("client: seed {seed}");

    let endpoint = Endpoint::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
    let servers = args
        .server_ports()
        .into_iter()
        .map(|port| SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
        .collect();
    let retry = Retry {
        timeout: Duration::from_millis(u64::from(args.timeout_ms)),
        tries: args.tries,
    };
    let client = Client::new(endpoint, stop, servers, args.fault_bound(), retry);
    let mut rng = Rng::new(seed);
    let mut decided = 0;

    for id in 0..args.count {
        let key = generate_key(&mut rng, args.keys);
        // The request's lines go out before the request does, so that they
        // are on stdout whatever happens while the client waits.
        print_request(id, &read_request(&key));
        match client.vote(id, &key) {
            Ok(Outcome::Decided { .. }) => decided += 1,
            Ok(_) => {}
            Err(Halt::Stopped) => {
                println!();
                println!("{GOODBYE}");
                return Ok(());
            }
            Err(halt) => return Err(halt.into()),
        }
    }
    eprintln!("client: {decided} of {} requests decided", args.count);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::{self, JoinHandle};

    use crate::server::{self, FAULTY_VALUE, HONEST_VALUE};

    const KEY: &str = "AAAAAAAAAAotIhz";

    fn any_port() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)
    }

    fn addr(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    fn reply(key: &str, value: &str) -> Vec<u8> {
        Message::new(MsgType::ReadRep, key, value).unwrap().encode()
    }

    /// How a test server answers one READ_REQ from `from`.
    type Behaviour = fn(&Endpoint, &[u8], SocketAddrV4);

    fn honest(endpoint: &Endpoint, datagram: &[u8], from: SocketAddrV4) {
        server::handle_datagram(endpoint, false, datagram, from);
    }

    fn faulty(endpoint: &Endpoint, datagram: &[u8], from: SocketAddrV4) {
        server::handle_datagram(endpoint, true, datagram, from);
    }

    fn silent(_: &Endpoint, _: &[u8], _: SocketAddrV4) {}

    /// Answers with its lie twice.
    fn twice(endpoint: &Endpoint, datagram: &[u8], from: SocketAddrV4) {
        faulty(endpoint, datagram, from);
        faulty(endpoint, datagram, from);
    }

    /// A server run by a test thread: it handles every datagram until the
    /// test sends it one from `control`, then hands back how many it got.
    struct Node {
        addr: SocketAddrV4,
        control: Endpoint,
        thread: JoinHandle<usize>,
    }

    impl Node {
        fn spawn(behaviour: Behaviour) -> Node {
            let endpoint = Endpoint::bind(any_port()).unwrap();
            let addr = endpoint.local_addr().unwrap();
            let control = Endpoint::bind(any_port()).unwrap();
            let control_addr = control.local_addr().unwrap();
            let thread = thread::spawn(move || {
                let stop = StopSignals::install().unwrap();
                let mut buf = vec![0; MAX_DATAGRAM];
                let mut heard = 0;
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    match endpoint.receive(&mut buf, &stop, Some(deadline)).unwrap() {
                        Wakeup::Datagram { from, .. } if from == control_addr => return heard,
                        Wakeup::Datagram { len, from } => {
                            heard += 1;
                            behaviour(&endpoint, &buf[..len], from);
                        }
                        other => panic!("test server: {other:?}"),
                    }
                }
            });
            Node {
                addr,
                control,
                thread,
            }
        }

        /// Stops the server and returns how many datagrams it received.
        fn finish(self) -> usize {
            self.control.send_to(b"", self.addr).unwrap();
            self.thread.join().unwrap()
        }
    }

    /// A client of the servers `nodes`, tolerating `faults` liars.
    fn client(nodes: &[Node], faults: usize, timeout_ms: u64, tries: u32) -> Client {
        Client::new(
            Endpoint::bind(any_port()).unwrap(),
            StopSignals::install().unwrap(),
            nodes.iter().map(|node| node.addr).collect(),
            faults,
            Retry {
                timeout: Duration::from_millis(timeout_ms),
                tries,
            },
        )
    }

    /// Every check of a vote, and the order they come in.
    #[test]
    fn which_replies_count() {
        let servers = [addr(6001), addr(6002), addr(6003)];
        let good = check_vote(&reply(KEY, "v"), addr(6002), &servers, KEY).unwrap();
        assert_eq!(good.server, 1);
        assert_eq!(good.reply.value, "v");
        assert_eq!(good.len, 33);
        assert_eq!(
            check_vote(&reply(KEY, "v"), addr(7000), &servers, KEY),
            Err(NotAVote::Stranger { from: addr(7000) })
        );
        assert_eq!(
            check_vote(b"junk", addr(7000), &servers, KEY),
            Err(NotAVote::Stranger { from: addr(7000) }),
            "the sender is checked first"
        );
        assert!(matches!(
            check_vote(b"junk", addr(6001), &servers, KEY),
            Err(NotAVote::Malformed { .. })
        ));
        let write = Message::new(MsgType::WriteRep, KEY, "").unwrap().encode();
        assert_eq!(
            check_vote(&write, addr(6003), &servers, KEY),
            Err(NotAVote::WrongType {
                server: 2,
                kind: MsgType::WriteRep
            })
        );
        let other = check_vote(&reply("OTHERKEY", "v"), addr(6001), &servers, KEY);
        assert_eq!(
            other,
            Err(NotAVote::WrongKey {
                server: 0,
                key: "OTHERKEY".into(),
                expected: KEY.into()
            })
        );
        assert_eq!(
            other.unwrap_err().to_string(),
            format!("answer for key OTHERKEY from server 0: the request is for key {KEY}")
        );
    }

    /// The course's set-up: two honest servers and a liar; the truth wins.
    #[test]
    fn the_honest_majority_wins() {
        let nodes = [
            Node::spawn(honest),
            Node::spawn(honest),
            Node::spawn(faulty),
        ];
        let outcome = client(&nodes, 1, 2000, 3).vote(0, KEY).unwrap();
        assert_eq!(
            outcome,
            Outcome::Decided {
                value: HONEST_VALUE.into(),
                votes: 2
            }
        );
        for node in nodes {
            assert_eq!(node.finish(), 1, "one READ_REQ to each server");
        }
    }

    /// A liar that answers twice is still one vote: with the only honest
    /// server silent, there is no quorum for the lie.
    #[test]
    fn a_liar_answering_twice_is_one_vote() {
        let nodes = [Node::spawn(silent), Node::spawn(honest), Node::spawn(twice)];
        let outcome = client(&nodes, 1, 50, 2).vote(0, KEY).unwrap();
        assert_eq!(outcome, Outcome::NoQuorum { answered: 2 });
        let heard: Vec<usize> = nodes.into_iter().map(Node::finish).collect();
        assert_eq!(heard, [2, 1, 1], "only the silent server is asked again");
    }

    /// A silent server neither blocks the decision nor gets asked again
    /// once the others agree.
    #[test]
    fn a_silent_server_does_not_hold_the_decision() {
        let nodes = [
            Node::spawn(honest),
            Node::spawn(silent),
            Node::spawn(honest),
        ];
        let started = Instant::now();
        let outcome = client(&nodes, 1, 100, 3).vote(0, KEY).unwrap();
        assert_eq!(
            outcome,
            Outcome::Decided {
                value: HONEST_VALUE.into(),
                votes: 2
            }
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let heard: Vec<usize> = nodes.into_iter().map(Node::finish).collect();
        assert_eq!(heard, [1, 1, 1], "no retransmission after a decision");
    }

    /// Three servers, three different answers: undecidable, at once.
    #[test]
    fn disagreement_is_undecidable() {
        fn other(endpoint: &Endpoint, datagram: &[u8], from: SocketAddrV4) {
            let request = Message::decode(datagram).unwrap();
            endpoint
                .send_to(&reply(&request.key, "SOMETHINGELSE"), from)
                .unwrap();
        }
        let nodes = [Node::spawn(honest), Node::spawn(other), Node::spawn(faulty)];
        let started = Instant::now();
        let outcome = client(&nodes, 1, 5000, 3).vote(0, KEY).unwrap();
        assert_eq!(outcome, Outcome::Undecidable);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "all three answered: no reason to wait for the timeout"
        );
        for node in nodes {
            node.finish();
        }
        assert_eq!(FAULTY_VALUE, "SSWUCSE");
    }

    /// The client refuses to start with too few servers for its faults.
    #[test]
    #[should_panic(expected = "cannot outvote")]
    fn too_few_servers_panics() {
        let retry = Retry {
            timeout: Duration::from_millis(10),
            tries: 1,
        };
        Client::new(
            Endpoint::bind(any_port()).unwrap(),
            StopSignals::install().unwrap(),
            vec![addr(6001), addr(6002)],
            1,
            retry,
        );
    }
}
