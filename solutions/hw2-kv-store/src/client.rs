//! The client: draw reads and writes, and send each to the server that owns
//! its key.
//!
//! The store is split into N partitions, one per server. Which server owns a
//! key is decided by the key alone, `hash64(key) % N`, so every client that
//! knows the N servers, in the same order, sends a key's writes and reads to
//! the same place, and a read finds what a write stored, without any server
//! knowing about the others.
//!
//! Plain `% N` has a price a real store will not pay: with one server more,
//! almost every key changes owner, and its data has to move. Dynamo,
//! Cassandra and memcached clients use consistent hashing instead, which
//! moves only about 1/N of the keys; Redis Cluster fixes 16384 slots and
//! moves whole slots between servers.
//!
//! Requests go one at a time, each sent again until its reply comes
//! ([`handout::net::ask`] does the waiting and retransmitting). A write may
//! be applied twice that way, which is harmless: see [`crate::server`].

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use handout::net::{Answer, Endpoint, Retry, StopSignals, Stray, ask, check_reply};
use handout::{
    GOODBYE, Message, MsgType, Rng, generate_key, generate_value, partition_for, seed_from_clock,
};

use crate::cli::ClientArgs;

/// The reply to a request, and how many bytes it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply, decoded.
    pub message: Message,
    /// The length of the datagram it came in: 17 or 33.
    pub len: usize,
}

/// Runs the client: sends `args.count` random requests, each to the server
/// of its partition among `args.ports`, one at a time, and prints each
/// request and its reply.
///
/// # Errors
///
/// `no reply to request <n> from partition <p> (port <P>) after <T> tries;
/// giving up` when a request goes unanswered; any error of `socket(2)`,
/// `bind(2)`, `sendto(2)`, `poll(2)` or `recvfrom(2)`.
pub fn run(args: &ClientArgs) -> Result<(), Box<dyn Error>> {
    let stop = StopSignals::install()?;
    let seed = args.seed.unwrap_or_else(seed_from_clock);
    // On stderr, so that stdout stays the course's transcript, and a run
    // with surprising requests can be replayed with --seed.
    eprintln!("client: seed {seed}");

    let servers: Vec<SocketAddrV4> = args
        .ports
        .iter()
        .map(|&port| SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
        .collect();
    let endpoint = Endpoint::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
    let retry = Retry {
        timeout: Duration::from_millis(u64::from(args.timeout_ms)),
        tries: args.tries,
    };
    let mut rng = Rng::new(seed);

    for id in 0..args.count {
        let request = draw_request(&mut rng, args.keys);
        let partition = partition_for(&request.key, servers.len());
        let server = server_for(&request.key, &servers);
        let wire = request.encode();
        // The course's transcript, printed before the request goes out.
        println!("Request ID: {id}");
        println!("Partition: {partition}");
        println!("Sent bytes: {}", wire.len());
        println!("{request}");

        match exchange(&endpoint, &stop, &request, server, retry)? {
            Answer::Reply(reply) => {
                println!("Received bytes: {}", reply.len);
                println!("{}", reply.message);
            }
            Answer::Stopped(_) => {
                println!();
                println!("{GOODBYE}");
                return Ok(());
            }
            Answer::GaveUp => {
                return Err(format!(
                    "no reply to request {id} from partition {partition} (port {}) after {} tries; giving up",
                    server.port(),
                    retry.tries
                )
                .into());
            }
        }
    }
    Ok(())
}

/// The next request of a run, drawn from `rng` in the order every
/// implementation of the lab must follow, so that a seed gives the same
/// requests in any language:
///
/// 1. `rng.below(2)`: 1 is a write, 0 a read;
/// 2. the key, `generate_key(rng, keys)`;
/// 3. for a write only, the value, `generate_value(rng)`.
///
/// A read carries the empty value. Each write gets a value no earlier write
/// had (with overwhelming probability), so a read shows which write it sees.
///
/// # Panics
///
/// If `keys` is 0: there is no key to draw.
pub fn draw_request(rng: &mut Rng, keys: u64) -> Message {
    let write = rng.below(2) == 1;
    let key = generate_key(rng, keys);
    let (kind, value) = if write {
        (MsgType::WriteReq, generate_value(rng))
    } else {
        (MsgType::ReadReq, String::new())
    };
    // Keys and values are 15 letters: they always fit in a record.
    Message { kind, key, value }
}

/// The server that owns `key`: the one at index `hash64(key) % N` of
/// `servers`, where N is the number of servers.
///
/// Every client must pick the same server for a key, or a read would miss
/// the value a write left on another server: compute it from the key of
/// the request being sent, and from nothing else.
///
/// # Panics
///
/// If `servers` is empty.
pub fn server_for(key: &str, servers: &[SocketAddrV4]) -> SocketAddrV4 {
    // hole: route the request
    // TODO: Return the server that owns `key`. Every client must send a
    //       key's reads and writes to the same server, so the choice may
    //       depend on nothing but the key and the servers, in their order:
    //       partition_for(key, N) is hash64(key) % N.
    servers[partition_for(key, servers.len())]
    // end hole
}

/// The type of the reply that answers a request of type `kind`.
fn reply_kind(kind: MsgType) -> MsgType {
    match kind {
        MsgType::WriteReq => MsgType::WriteRep,
        _ => MsgType::ReadRep,
    }
}

/// Sends `request` to `server` and waits for its reply, sending it again
/// after each `retry.timeout` with no reply, `retry.tries` times in all.
///
/// Only a datagram from `server` that decodes as the reply type of the
/// request (WRITE_REP for a WRITE_REQ, READ_REP for a READ_REQ) and carries
/// the request's key is the reply; anything else is reported on stderr
/// (`client: ignoring ...`) and skipped. The request goes out in the
/// course's length: 33 bytes for a write, 17 for a read.
///
/// # Errors
///
/// Whatever `sendto(2)`, `poll(2)` or `recvfrom(2)` reports.
pub fn exchange(
    endpoint: &Endpoint,
    stop: &StopSignals,
    request: &Message,
    server: SocketAddrV4,
    retry: Retry,
) -> Result<Answer<Reply>, Box<dyn Error>> {
    let kinds = [reply_kind(request.kind)];
    let accept = |datagram: &[u8], from: SocketAddrV4| -> Result<Reply, Stray> {
        let message = check_reply(datagram, from, server, &kinds, &request.key)?;
        Ok(Reply {
            message,
            len: datagram.len(),
        })
    };
    let answer = ask(
        endpoint,
        stop,
        &request.encode(),
        server,
        retry,
        "client",
        accept,
    )?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{Store, UNWRITTEN, handle_datagram};
    use handout::net::{MAX_DATAGRAM, Wakeup};
    use handout::{DATASET_SIZE, key_from_number};
    use std::thread;
    use std::time::Instant;

    fn servers(n: u16) -> Vec<SocketAddrV4> {
        (0..n)
            .map(|i| SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5001 + i))
            .collect()
    }

    /// Every key goes to the server at index `partition_for(key, N)`, for
    /// any number of servers, and each server gets some of the keys.
    #[test]
    fn routing_follows_partition_for() {
        for n in [1, 2, 3, 5] {
            let servers = servers(n);
            let mut used = vec![0; servers.len()];
            for number in 0..DATASET_SIZE {
                let key = key_from_number(number);
                let p = partition_for(&key, servers.len());
                assert_eq!(server_for(&key, &servers), servers[p], "{key} among {n}");
                used[p] += 1;
            }
            assert!(used.iter().all(|&c| c > 0), "{n} servers: {used:?}");
        }
        // The two test vectors of specs/protocol.md.
        assert_eq!(server_for("AAAAAAAAAAotIhz", &servers(2)).port(), 5001);
        assert_eq!(server_for("hello", &servers(2)).port(), 5002);
        assert_eq!(server_for("AAAAAAAAAAotIhz", &servers(3)).port(), 5002);
    }

    /// The draw order is pinned: seed 7 gives the requests that
    /// specs/hw2.md shows.
    #[test]
    fn seed_7_draws_the_documented_requests() {
        let mut rng = Rng::new(7);
        let lines: Vec<String> = (0..5)
            .map(|_| draw_request(&mut rng, DATASET_SIZE).to_string())
            .collect();
        assert_eq!(lines, SEED_7);
    }

    const SEED_7: [&str; 5] = [
        "Type: WRITE_REQ Key: AAAAAAAAAAATqkp Value: AAAANlKCP4O0YAR",
        "Type: WRITE_REQ Key: AAAAAAAAAABH3oF Value: AAAAPnpc6vDfFyu",
        "Type: READ_REQ Key: AAAAAAAAAAAHZyn Value: ",
        "Type: READ_REQ Key: AAAAAAAAAAAKtTa Value: ",
        "Type: WRITE_REQ Key: AAAAAAAAAAAznOM Value: AAAAERdZxf6AsoO",
    ];

    /// A write goes out as 33 bytes and a read as 17, as in the course.
    #[test]
    fn requests_have_the_courses_lengths() {
        let mut rng = Rng::new(11);
        let mut seen = [false; 2];
        for _ in 0..50 {
            let request = draw_request(&mut rng, 6);
            let len = request.encode().len();
            match request.kind {
                MsgType::WriteReq => {
                    assert_eq!(len, 33);
                    assert_eq!(request.value.len(), 15);
                    seen[0] = true;
                }
                MsgType::ReadReq => {
                    assert_eq!(len, 17);
                    assert_eq!(request.value, "");
                    seen[1] = true;
                }
                other => panic!("drew a {other}"),
            }
            assert!((0..6).any(|n| key_from_number(n) == request.key));
        }
        assert_eq!(seen, [true, true]);
    }

    /// On real sockets, against a store: a read of a fresh key, a write,
    /// and a read of the value written, with a wrong-type answer and a
    /// stray that the client must skip.
    #[test]
    fn a_round_trip_through_a_server() {
        let any_port = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let stop = StopSignals::install().unwrap();
        let client = Endpoint::bind(any_port).unwrap();
        let server = Endpoint::bind(any_port).unwrap();
        let server_addr = server.local_addr().unwrap();
        let key = key_from_number(3);

        // A server that answers three requests from a store, and before the
        // second one's answer sends a READ_REP for the same key, which is
        // not the answer to a write.
        let serving = thread::spawn(move || {
            let stop = StopSignals::install().unwrap();
            let mut store = Store::new();
            let mut buf = vec![0; MAX_DATAGRAM];
            for n in 0..3 {
                let deadline = Instant::now() + Duration::from_secs(10);
                let Wakeup::Datagram { len, from } =
                    server.receive(&mut buf, &stop, Some(deadline)).unwrap()
                else {
                    panic!("request {n} did not come");
                };
                if n == 1 {
                    let request = Message::decode(&buf[..len]).unwrap();
                    let wrong = Message::new(MsgType::ReadRep, &request.key, "x").unwrap();
                    server.send_to(&wrong.encode(), from).unwrap();
                }
                handle_datagram(&server, &mut store, &buf[..len], from);
            }
        });

        let retry = Retry {
            timeout: Duration::from_secs(2),
            tries: 2,
        };
        let ask_server = |request: Message| match exchange(
            &client,
            &stop,
            &request,
            server_addr,
            retry,
        )
        .unwrap()
        {
            Answer::Reply(reply) => reply,
            other => panic!("no reply to {request}: {other:?}"),
        };
        let fresh = ask_server(Message::new(MsgType::ReadReq, &key, "").unwrap());
        assert_eq!(fresh.message.value, UNWRITTEN);
        assert_eq!(fresh.len, 33);
        let ack = ask_server(Message::new(MsgType::WriteReq, &key, "AAAAvalue123456").unwrap());
        assert_eq!(
            ack.message,
            Message::new(MsgType::WriteRep, &key, "").unwrap()
        );
        assert_eq!(ack.len, 17);
        let read = ask_server(Message::new(MsgType::ReadReq, &key, "").unwrap());
        assert_eq!(read.message.value, "AAAAvalue123456");
        serving.join().unwrap();
    }

    /// With nobody answering, the exchange gives up after its tries.
    #[test]
    fn the_client_gives_up() {
        let any_port = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let stop = StopSignals::install().unwrap();
        let client = Endpoint::bind(any_port).unwrap();
        let silent = Endpoint::bind(any_port).unwrap();
        let retry = Retry {
            timeout: Duration::from_millis(10),
            tries: 3,
        };
        let request = Message::new(MsgType::ReadReq, "AAAAAAAAAAotIhz", "").unwrap();
        let started = Instant::now();
        let answer = exchange(
            &client,
            &stop,
            &request,
            silent.local_addr().unwrap(),
            retry,
        )
        .unwrap();
        assert_eq!(answer, Answer::GaveUp);
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
