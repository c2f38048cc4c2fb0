//! One partition of the store: keep what clients write, answer what they
//! read.
//!
//! Each server holds the keys of one partition, in a [`Store`]. It does not
//! know how many partitions there are, nor which keys are its own: the
//! client routes every request, and the server stores whatever reaches it.
//! Routing is the client's job in this lab; Redis Cluster does the same with
//! "smart" clients that know the slot map, while Dynamo and Cassandra let
//! any node take a request and forward it to the owner.
//!
//! The answer goes to the address the request came from, so one server can
//! serve any number of clients.
//!
//! **Duplicates are harmless.** A client that hears nothing sends its request
//! again, and the network may deliver a datagram twice, so a server must
//! expect to see the same request more than once. Both operations are
//! *idempotent*: a write stores the same value again, a read reads again,
//! and the store ends in the same state however often a request arrives.
//! An operation such as "append" or "increment" would not be; the server
//! would then have to remember which requests it has already applied
//! (hw5 meets that problem).

use std::collections::HashMap;
use std::error::Error;
use std::net::{Ipv4Addr, SocketAddrV4};

use handout::net::{Endpoint, MAX_DATAGRAM, StopSignals, Wakeup};
use handout::{GOODBYE, Message, MsgType};

use crate::cli::ServerArgs;

/// The value a read returns for a key that was never written.
///
/// It is the value the course's servers answered every read with, so the
/// course's transcripts still hold for fresh keys. A real store would say
/// "not found" instead (memcached answers `END` with no value, Redis a nil);
/// our record has no room for that, and a client cannot write this value by
/// accident, since [`handout::generate_value`] never makes it.
pub const UNWRITTEN: &str = "DDDCCCCBBBBAAAA";

/// The data of one partition: the last value written under each key.
///
/// A `HashMap` grows with the keys written. The course's servers kept a
/// fixed table of 1000 slots indexed by `hash64(key) % 1000` and stored no
/// key, so two keys sharing a slot overwrote each other; keeping the key
/// avoids that.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Store {
    values: HashMap<String, String>,
}

impl Store {
    /// An empty store: every key reads as [`UNWRITTEN`].
    pub fn new() -> Store {
        Store::default()
    }

    /// Applies `request` to the store and returns the reply to send, or
    /// `None` if `request` is not a request a server serves.
    ///
    /// - `WRITE_REQ k v`: stores `v` under `k`, replacing any earlier value,
    ///   and answers `WRITE_REP k` (sent as 17 bytes: it carries no value).
    /// - `READ_REQ k`: answers `READ_REP k v` with the last value written
    ///   under `k`, or [`UNWRITTEN`] if there was none (33 bytes).
    /// - Any other type (a reply, a cache message) gets no answer: it is not
    ///   a request, and answering replies with replies could set two servers
    ///   talking forever.
    ///
    /// A 17-byte `WRITE_REQ` decodes with the empty value, and stores it.
    pub fn apply(&mut self, request: &Message) -> Option<Message> {
        // TODO: Apply `request` to `self.values` and return the answer: a
        //       WRITE_REQ replaces the key's value and is acknowledged with
        //       a WRITE_REP, a READ_REQ is answered with a READ_REP carrying
        //       the value last written (UNWRITTEN if none). Anything else is
        //       not a request: change nothing and answer nothing (None).
        todo!("apply a request to the store")
    }
}

/// Runs the server until SIGINT or SIGTERM: binds 127.0.0.1:`args.port` and
/// serves reads and writes from an empty store.
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
    // Dropping the endpoint closes the socket.
    drop(endpoint);
    Ok(())
}

/// Serves datagrams on `endpoint` from `store` until `stop` catches a
/// signal, then prints the goodbye line.
///
/// The wait has no deadline: with nothing queued, the server sleeps in
/// `poll(2)` until a datagram or a signal arrives, and uses no CPU while
/// idle. Under load, [`Endpoint::receive`] takes each request straight from
/// the socket's queue, with no `poll(2)` first, and still goes through
/// `poll(2)`, where it notices Ctrl+C, once every
/// [`BURST`](handout::net::BURST) requests.
///
/// # Errors
///
/// Whatever `poll(2)`, `recvfrom(2)` or `recvmsg(2)` reports while receiving.
pub fn serve(
    endpoint: &Endpoint,
    stop: &StopSignals,
    store: &mut Store,
) -> Result<(), Box<dyn Error>> {
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

/// Handles one datagram from `from`: decodes it, applies it to `store`,
/// prints it, and answers it.
///
/// Nothing that happens here stops the server. A malformed datagram, or a
/// record that is not a request, is reported with one line on stderr and
/// dropped. A reply that cannot be sent is reported too: the client will
/// ask again. A request is printed on stdout, as the course's servers did,
/// before its reply goes out, so that the line is there by the time the
/// client has its answer.
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
    println!("{request}");
    if let Err(error) = endpoint.send_to(&reply.encode(), from) {
        eprintln!("server: cannot answer {from}: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const KEY: &str = "AAAAAAAAAAAxbqr";
    const OTHER: &str = "AAAAAAAAAAATqkp";

    fn write(key: &str, value: &str) -> Message {
        Message::new(MsgType::WriteReq, key, value).unwrap()
    }

    fn read(key: &str) -> Message {
        Message::new(MsgType::ReadReq, key, "").unwrap()
    }

    fn read_rep(key: &str, value: &str) -> Option<Message> {
        Some(Message::new(MsgType::ReadRep, key, value).unwrap())
    }

    fn write_rep(key: &str) -> Option<Message> {
        Some(Message::new(MsgType::WriteRep, key, "").unwrap())
    }

    /// A key never written reads as UNWRITTEN, in a READ_REP of 33 bytes.
    #[test]
    fn an_unwritten_key_reads_as_unwritten() {
        let mut store = Store::new();
        let reply = store.apply(&read(KEY));
        assert_eq!(reply, read_rep(KEY, UNWRITTEN));
        assert_eq!(reply.unwrap().encode().len(), 33);
        // Reading does not write.
        assert_eq!(store, Store::new());
    }

    /// A write is acknowledged with a 17-byte WRITE_REP, and a read then
    /// returns the value written; other keys are untouched.
    #[test]
    fn a_read_returns_the_last_write() {
        let mut store = Store::new();
        let reply = store.apply(&write(KEY, "AAAAfirstvalue1"));
        assert_eq!(reply, write_rep(KEY));
        assert_eq!(reply.unwrap().encode().len(), 17);
        assert_eq!(store.apply(&read(KEY)), read_rep(KEY, "AAAAfirstvalue1"));
        assert_eq!(store.apply(&read(OTHER)), read_rep(OTHER, UNWRITTEN));

        assert_eq!(store.apply(&write(KEY, "AAAAsecondvalue")), write_rep(KEY));
        assert_eq!(store.apply(&read(KEY)), read_rep(KEY, "AAAAsecondvalue"));
    }

    /// The same write applied twice (a retransmission, a duplicate) leaves
    /// the store as one application does, and gets the same answer.
    #[test]
    fn a_repeated_write_changes_nothing_more() {
        let mut once = Store::new();
        once.apply(&write(KEY, "AAAAvalue123456"));
        let mut twice = once.clone();
        assert_eq!(twice.apply(&write(KEY, "AAAAvalue123456")), write_rep(KEY));
        assert_eq!(twice, once);
        assert_eq!(twice.apply(&read(KEY)), read_rep(KEY, "AAAAvalue123456"));
    }

    /// A 17-byte WRITE_REQ carries the empty value, and stores it.
    #[test]
    fn a_short_write_stores_the_empty_value() {
        let mut store = Store::new();
        let short = Message::decode(&write(KEY, "ignored").encode()[..17]).unwrap();
        assert_eq!(store.apply(&short), write_rep(KEY));
        assert_eq!(store.apply(&read(KEY)), read_rep(KEY, ""));
    }

    /// A 33-byte READ_REQ decodes with a value, which a read ignores: it
    /// answers what is stored and writes nothing.
    #[test]
    fn a_long_read_writes_nothing() {
        let mut store = Store::new();
        let long = Message::new(MsgType::ReadReq, KEY, "AAAAreadsvalue1").unwrap();
        assert_eq!(store.apply(&long), read_rep(KEY, UNWRITTEN));
        assert_eq!(store, Store::new());
        store.apply(&write(KEY, "AAAAvalue123456"));
        assert_eq!(store.apply(&long), read_rep(KEY, "AAAAvalue123456"));
        assert_eq!(store.apply(&read(KEY)), read_rep(KEY, "AAAAvalue123456"));
    }

    /// Records that are not requests get no answer and change nothing.
    #[test]
    fn other_types_are_not_requests() {
        let mut store = Store::new();
        for kind in [
            MsgType::ReadRep,
            MsgType::WriteRep,
            MsgType::CacheHit,
            MsgType::CacheMiss,
        ] {
            let record = Message::new(kind, KEY, "AAAAvalue123456").unwrap();
            assert_eq!(store.apply(&record), None, "{kind}");
        }
        assert_eq!(store, Store::new());
    }

    /// On real sockets: garbage and replies get no answer, a write and a
    /// read get theirs, in order, from the server's address.
    #[test]
    fn requests_are_answered_and_the_rest_is_not() {
        let stop = StopSignals::install().unwrap();
        let any_port = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let server = Endpoint::bind(any_port).unwrap();
        let client = Endpoint::bind(any_port).unwrap();
        let client_addr = client.local_addr().unwrap();
        let mut store = Store::new();

        handle_datagram(&server, &mut store, b"\x00short", client_addr);
        let stray_reply = read_rep(KEY, "AAAAvalue123456").unwrap().encode();
        handle_datagram(&server, &mut store, &stray_reply, client_addr);
        let write_wire = write(KEY, "AAAAvalue123456").encode();
        handle_datagram(&server, &mut store, &write_wire, client_addr);
        handle_datagram(&server, &mut store, &read(KEY).encode(), client_addr);

        let mut buf = vec![0; MAX_DATAGRAM];
        let expected = [write_rep(KEY), read_rep(KEY, "AAAAvalue123456")];
        for (want, len) in expected.into_iter().zip([17, 33]) {
            let deadline = Instant::now() + Duration::from_secs(5);
            let Wakeup::Datagram { len: got, from } =
                client.receive(&mut buf, &stop, Some(deadline)).unwrap()
            else {
                panic!("the server did not answer");
            };
            assert_eq!(from, server.local_addr().unwrap());
            assert_eq!(got, len);
            assert_eq!(Message::decode(&buf[..got]).ok(), want);
        }
        // Exactly two answers: the garbage and the stray reply got none.
        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(
            client.receive(&mut buf, &stop, Some(deadline)).unwrap(),
            Wakeup::Deadline
        );
    }
}
