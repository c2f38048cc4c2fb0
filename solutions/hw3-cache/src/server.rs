//! The storage server: the slow, authoritative store behind the cache.
//!
//! It is lab hw2's server, handed out complete: a map from keys to values
//! that stores every WRITE_REQ and answers every READ_REQ with the value
//! stored last. A key never written reads as [`UNWRITTEN`], the value the
//! course's server returned for everything, so the course's transcripts
//! still hold for keys nobody wrote.
//!
//! The store is the truth; the cache only holds copies. Whatever the cache
//! forgets (an eviction) or never had (a miss) the client reads here. In a
//! real deployment this is a database on another machine, and a read costs
//! a disk access or a network round trip more than a cache hit does: that
//! difference is the reason the cache exists.
//!
//! Like the course's storage server, it prints every reply it sends.
//! Applying the same request twice leaves the same state (a write stores the
//! same value again), so a client may retransmit freely.

use std::collections::HashMap;
use std::error::Error;
use std::net::{Ipv4Addr, SocketAddrV4};

use handout::net::{Endpoint, MAX_DATAGRAM, StopSignals, Wakeup};
use handout::{GOODBYE, Message, MsgType};

use crate::cli::ServerArgs;

/// The value of a key that was never written: the course's server answered
/// every read with it.
pub const UNWRITTEN: &str = "DDDCCCCBBBBAAAA";

/// The stored values, by key.
#[derive(Debug, Clone, Default)]
pub struct Store {
    values: HashMap<String, String>,
}

impl Store {
    /// An empty store: every key reads as [`UNWRITTEN`].
    pub fn new() -> Store {
        Store::default()
    }

    /// The value a read of `key` returns now.
    pub fn value(&self, key: &str) -> &str {
        self.values.get(key).map_or(UNWRITTEN, String::as_str)
    }

    /// Applies one request and returns the reply, or `None` when the
    /// message is not a request this server serves.
    ///
    /// - WRITE_REQ k v: stores v under k and answers WRITE_REP k (17 bytes
    ///   on the wire).
    /// - READ_REQ k: answers READ_REP k with the value stored under k, or
    ///   [`UNWRITTEN`] (33 bytes).
    pub fn apply(&mut self, request: &Message) -> Option<Message> {
        match request.kind {
            MsgType::WriteReq => {
                self.values
                    .insert(request.key.clone(), request.value.clone());
                Some(Message {
                    kind: MsgType::WriteRep,
                    key: request.key.clone(),
                    value: String::new(),
                })
            }
            MsgType::ReadReq => Some(Message {
                kind: MsgType::ReadRep,
                key: request.key.clone(),
                value: self.value(&request.key).to_string(),
            }),
            _ => None,
        }
    }
}

/// Runs the storage server until SIGINT or SIGTERM: binds
/// 127.0.0.1:`args.port` and serves requests from an empty store.
///
/// # Errors
///
/// `cannot bind <addr>: <why>` when `bind(2)` fails, e.g. because the port is
/// in use; any other error of `poll(2)` or `recvfrom(2)`.
pub fn run(args: &ServerArgs) -> Result<(), Box<dyn Error>> {
    let stop = StopSignals::install()?;
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, args.port);
    let endpoint = Endpoint::bind(addr).map_err(|error| format!("cannot bind {addr}: {error}"))?;
    serve(&endpoint, &stop, &mut Store::new())?;
    Ok(())
}

/// Serves datagrams on `endpoint` from `store` until `stop` catches a
/// signal, then prints the goodbye lines.
///
/// # Errors
///
/// Whatever `poll(2)`, `recvfrom(2)` or `recvmsg(2)` reports while receiving.
pub fn serve(endpoint: &Endpoint, stop: &StopSignals, store: &mut Store) -> nix::Result<()> {
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        match endpoint.receive(&mut buf, stop, None)? {
            Wakeup::Datagram { len, from } => handle_datagram(endpoint, store, &buf[..len], from),
            // Without a deadline there is no deadline to pass.
            Wakeup::Deadline => {}
            Wakeup::Stop(_) => {
                println!();
                println!("{GOODBYE}");
                return Ok(());
            }
        }
    }
}

/// Handles one datagram: decodes it, applies it, prints the reply and sends
/// it back to `from`.
///
/// Nothing here stops the server. A malformed datagram, or a record that is
/// not a request, is reported on stderr and dropped; a reply that cannot be
/// sent is reported too (the client will ask again).
pub fn handle_datagram(
    endpoint: &Endpoint,
    store: &mut Store,
    datagram: &[u8],
    from: SocketAddrV4,
) {
    let request = match Message::decode(datagram) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("server: ignoring malformed datagram from {from}: {error}");
            return;
        }
    };
    let Some(reply) = store.apply(&request) else {
        eprintln!(
            "server: ignoring {} from {from}: not a request",
            request.kind
        );
        return;
    };
    // The course's storage server printed each reply it sent.
    println!("{reply}");
    if let Err(error) = endpoint.send_to(&reply.encode(), from) {
        eprintln!("server: cannot answer {from}: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const KEY: &str = "AAAAAAAAAAotIhz";

    fn request(kind: MsgType, key: &str, value: &str) -> Message {
        Message::new(kind, key, value).unwrap()
    }

    /// A key never written reads as UNWRITTEN.
    #[test]
    fn an_unwritten_key_reads_as_the_courses_value() {
        let mut store = Store::new();
        let reply = store.apply(&request(MsgType::ReadReq, KEY, "")).unwrap();
        assert_eq!(reply, request(MsgType::ReadRep, KEY, UNWRITTEN));
        assert_eq!(reply.encode().len(), 33);
    }

    /// A read returns the last value written, and a write is answered with
    /// a 17-byte WRITE_REP.
    #[test]
    fn a_read_returns_the_last_write() {
        let mut store = Store::new();
        for value in ["first", "second"] {
            let reply = store
                .apply(&request(MsgType::WriteReq, KEY, value))
                .unwrap();
            assert_eq!(reply, request(MsgType::WriteRep, KEY, ""));
            assert_eq!(reply.encode().len(), 17);
        }
        let reply = store.apply(&request(MsgType::ReadReq, KEY, "")).unwrap();
        assert_eq!(reply.value, "second");
        assert_eq!(store.value("AAAAAAAAAAAAAAB"), UNWRITTEN);
    }

    /// Replies, cache answers and unknown records are not requests.
    #[test]
    fn only_requests_are_served() {
        let mut store = Store::new();
        for kind in [
            MsgType::ReadRep,
            MsgType::WriteRep,
            MsgType::CacheHit,
            MsgType::CacheMiss,
        ] {
            assert_eq!(store.apply(&request(kind, KEY, "x")), None, "{kind}");
        }
        assert_eq!(store.value(KEY), UNWRITTEN);
    }

    /// On real sockets: garbage and non-requests get no answer, a request
    /// gets its reply.
    #[test]
    fn a_request_is_answered_and_nothing_else() {
        let stop = StopSignals::install().unwrap();
        let any_port = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let server = Endpoint::bind(any_port).unwrap();
        let client = Endpoint::bind(any_port).unwrap();
        let client_addr = client.local_addr().unwrap();
        let mut store = Store::new();

        handle_datagram(&server, &mut store, b"\x00short", client_addr);
        let stray = request(MsgType::CacheMiss, KEY, "").encode();
        handle_datagram(&server, &mut store, &stray, client_addr);
        let write = request(MsgType::WriteReq, KEY, "v1").encode();
        handle_datagram(&server, &mut store, &write, client_addr);

        let mut buf = vec![0; MAX_DATAGRAM];
        let deadline = Instant::now() + Duration::from_secs(5);
        let Wakeup::Datagram { len, from } =
            client.receive(&mut buf, &stop, Some(deadline)).unwrap()
        else {
            panic!("the server did not answer the write");
        };
        assert_eq!(from, server.local_addr().unwrap());
        assert_eq!(len, 17);
        let reply = Message::decode(&buf[..len]).unwrap();
        assert_eq!(reply, request(MsgType::WriteRep, KEY, ""));

        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(
            client.receive(&mut buf, &stop, Some(deadline)).unwrap(),
            Wakeup::Deadline,
            "only the write should have been answered"
        );
    }
}
