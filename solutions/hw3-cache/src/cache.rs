//! The cache program: an LRU of bounded size that the client consults before
//! the storage server.
//!
//! In a *look-aside* cache (also called cache-aside) the cache is a separate
//! server that knows nothing of the store behind it. It never reads the
//! store and never writes to it. It only answers two questions:
//!
//! - **READ_REQ k**, "do you hold k?": `CACHE_HIT k v` (33 bytes) if it
//!   does, `CACHE_MISS k` (17 bytes) if it does not. A hit is a use of k.
//! - **WRITE_REQ k v**, "hold v for k": the client sends it after reading k
//!   from the store on a miss (a *fill*), and after writing k to the store
//!   (an *update*, which keeps the cache from answering with the old value).
//!   The cache stores it, evicting the least recently used keys if it is
//!   over capacity, and answers `WRITE_REP k` (17 bytes).
//!
//! All the intelligence sits in the client, which decides when to fill and
//! when to update; that is what makes the design easy to deploy (memcached
//! works exactly this way) and also what makes it fragile: the cache
//! believes whatever it is told, in whatever order it arrives. The client's
//! module explains the consequences.
//!
//! The course's cache held nothing: it flipped a coin for hit or miss. This
//! one holds real values, and its answers can be checked against an LRU of
//! the same capacity.
//!
//! Both requests are idempotent, like the storage server's, so a client may
//! retransmit them: a second READ_REQ asks the same question again, a second
//! WRITE_REQ stores the same value again. (A duplicate READ_REQ that hits
//! counts as one more use, which only moves a key that was just used to the
//! front once more.)

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddrV4};

use handout::net::{Endpoint, MAX_DATAGRAM, StopSignals, Wakeup};
use handout::{GOODBYE, Message, MsgType};

use crate::cli::CacheArgs;
use crate::lru::Lru;

/// Runs the cache until SIGINT or SIGTERM: binds 127.0.0.1:`args.port` and
/// answers requests from an empty LRU of `args.capacity` keys.
///
/// # Errors
///
/// `cannot bind <addr>: <why>` when `bind(2)` fails, e.g. because the port is
/// in use; any other error of `poll(2)` or `recvfrom(2)`.
pub fn run(args: &CacheArgs) -> Result<(), Box<dyn Error>> {
    let stop = StopSignals::install()?;
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, args.port);
    let endpoint = Endpoint::bind(addr).map_err(|error| format!("cannot bind {addr}: {error}"))?;
    // The capacity is a u32 at least 1 (clap checks it), so it fits a usize
    // and Lru::new accepts it.
    let capacity = usize::try_from(args.capacity)?;
    serve(&endpoint, &stop, &mut Lru::new(capacity))?;
    Ok(())
}

/// Answers datagrams on `endpoint` from `lru` until `stop` catches a
/// signal, then prints the goodbye lines.
///
/// # Errors
///
/// Whatever `poll(2)`, `recvfrom(2)` or `recvmsg(2)` reports while receiving.
pub fn serve(endpoint: &Endpoint, stop: &StopSignals, lru: &mut Lru) -> nix::Result<()> {
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        match endpoint.receive(&mut buf, stop, None)? {
            Wakeup::Datagram { len, from } => handle_datagram(endpoint, lru, &buf[..len], from),
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

/// Handles one datagram: decodes it, answers it from `lru`, and sends the
/// answer back to `from`.
///
/// Nothing here stops the cache. A malformed datagram, or a record that is
/// not a request, is reported on stderr and dropped; an answer that cannot
/// be sent is reported too (the client will ask again).
pub fn handle_datagram(endpoint: &Endpoint, lru: &mut Lru, datagram: &[u8], from: SocketAddrV4) {
    let request = match Message::decode(datagram) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("cache: ignoring malformed datagram from {from}: {error}");
            return;
        }
    };
    let Some(reply) = answer(lru, &request) else {
        eprintln!(
            "cache: ignoring {} from {from}: not a request",
            request.kind
        );
        return;
    };
    print_answer(&reply);
    if let Err(error) = endpoint.send_to(&reply.encode(), from) {
        eprintln!("cache: cannot answer {from}: {error}");
    }
}

/// Prints, as the course's cache did, `Cache Hit for Key: k` or
/// `Cache Miss for Key: k` on stdout for the answer to a READ_REQ. The
/// answer to a WRITE_REQ prints nothing on stdout.
pub fn print_answer(reply: &Message) {
    match reply.kind {
        MsgType::CacheHit => println!("Cache Hit for Key: {}", reply.key),
        MsgType::CacheMiss => println!("Cache Miss for Key: {}", reply.key),
        _ => {}
    }
}

/// The cache's answer to `request`, or `None` when it is not a request the
/// cache serves (anything but READ_REQ and WRITE_REQ).
///
/// A WRITE_REQ prints one line `cache: evicting key K` on stderr for each
/// key it pushes out.
pub fn answer(lru: &mut Lru, request: &Message) -> Option<Message> {
    // hole: answer a cache request
    // TODO: A READ_REQ asks "do you hold this key?": answer CACHE_HIT with
    //       the value held (a use of the key) or CACHE_MISS. A WRITE_REQ is
    //       a fill or an update: store it, report each eviction on stderr,
    //       and answer WRITE_REP. Anything else is not a request: None.
    match request.kind {
        MsgType::ReadReq => Some(match lru.get(&request.key) {
            Some(value) => Message {
                kind: MsgType::CacheHit,
                key: request.key.clone(),
                value,
            },
            None => Message {
                kind: MsgType::CacheMiss,
                key: request.key.clone(),
                value: String::new(),
            },
        }),
        MsgType::WriteReq => {
            for evicted in lru.put(&request.key, &request.value) {
                eprintln!("cache: evicting key {evicted}");
            }
            Some(Message {
                kind: MsgType::WriteRep,
                key: request.key.clone(),
                value: String::new(),
            })
        }
        _ => None,
    }
    // end hole
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const KEY: &str = "AAAAAAAAAAotIhz";

    fn message(kind: MsgType, key: &str, value: &str) -> Message {
        Message::new(kind, key, value).unwrap()
    }

    /// A key the cache does not hold is a miss, answered in 17 bytes.
    #[test]
    fn an_empty_cache_misses() {
        let mut lru = Lru::new(2);
        let reply = answer(&mut lru, &message(MsgType::ReadReq, KEY, "")).unwrap();
        assert_eq!(reply, message(MsgType::CacheMiss, KEY, ""));
        assert_eq!(reply.encode().len(), 17);
        assert!(lru.is_empty(), "a miss stores nothing");
    }

    /// After a fill, the key is a hit that carries the value, in 33 bytes.
    #[test]
    fn a_fill_makes_a_hit() {
        let mut lru = Lru::new(2);
        let reply = answer(&mut lru, &message(MsgType::WriteReq, KEY, "v1")).unwrap();
        assert_eq!(reply, message(MsgType::WriteRep, KEY, ""));
        assert_eq!(reply.encode().len(), 17);
        let reply = answer(&mut lru, &message(MsgType::ReadReq, KEY, "")).unwrap();
        assert_eq!(reply, message(MsgType::CacheHit, KEY, "v1"));
        assert_eq!(reply.encode().len(), 33);
    }

    /// An update replaces the value held.
    #[test]
    fn an_update_replaces_the_value() {
        let mut lru = Lru::new(2);
        answer(&mut lru, &message(MsgType::WriteReq, KEY, "old"));
        answer(&mut lru, &message(MsgType::WriteReq, KEY, "new"));
        let reply = answer(&mut lru, &message(MsgType::ReadReq, KEY, "")).unwrap();
        assert_eq!(reply.value, "new");
    }

    /// Hits and misses follow the LRU: a read that hits keeps its key, the
    /// key not read is the one evicted.
    #[test]
    fn answers_follow_the_lru() {
        let mut lru = Lru::new(2);
        let read = |lru: &mut Lru, key: &str| answer(lru, &message(MsgType::ReadReq, key, ""));
        answer(&mut lru, &message(MsgType::WriteReq, "a", "1"));
        answer(&mut lru, &message(MsgType::WriteReq, "b", "2"));
        assert_eq!(read(&mut lru, "a").unwrap().kind, MsgType::CacheHit);
        answer(&mut lru, &message(MsgType::WriteReq, "c", "3"));
        assert_eq!(read(&mut lru, "b").unwrap().kind, MsgType::CacheMiss);
        assert_eq!(read(&mut lru, "a").unwrap().kind, MsgType::CacheHit);
        assert_eq!(read(&mut lru, "c").unwrap().kind, MsgType::CacheHit);
    }

    /// Replies and cache answers are not requests: no answer, no change.
    #[test]
    fn only_requests_are_answered() {
        let mut lru = Lru::new(2);
        for kind in [
            MsgType::ReadRep,
            MsgType::WriteRep,
            MsgType::CacheHit,
            MsgType::CacheMiss,
        ] {
            assert_eq!(answer(&mut lru, &message(kind, KEY, "x")), None, "{kind}");
        }
        assert!(lru.is_empty());
    }

    /// On real sockets: garbage and non-requests get no answer, a request
    /// gets its answer, sent back to its sender.
    #[test]
    fn a_request_is_answered_and_nothing_else() {
        let stop = StopSignals::install().unwrap();
        let any_port = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let cache = Endpoint::bind(any_port).unwrap();
        let client = Endpoint::bind(any_port).unwrap();
        let client_addr = client.local_addr().unwrap();
        let mut lru = Lru::new(4);

        handle_datagram(&cache, &mut lru, b"\x00short", client_addr);
        let junk = [9u8; 17];
        handle_datagram(&cache, &mut lru, &junk, client_addr);
        let stray = message(MsgType::ReadRep, KEY, "v").encode();
        handle_datagram(&cache, &mut lru, &stray, client_addr);
        let read = message(MsgType::ReadReq, KEY, "").encode();
        handle_datagram(&cache, &mut lru, &read, client_addr);

        let mut buf = vec![0; MAX_DATAGRAM];
        let deadline = Instant::now() + Duration::from_secs(5);
        let Wakeup::Datagram { len, from } =
            client.receive(&mut buf, &stop, Some(deadline)).unwrap()
        else {
            panic!("the cache did not answer the read");
        };
        assert_eq!(from, cache.local_addr().unwrap());
        let reply = Message::decode(&buf[..len]).unwrap();
        assert_eq!(reply, message(MsgType::CacheMiss, KEY, ""));
        assert_eq!(len, 17);

        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(
            client.receive(&mut buf, &stop, Some(deadline)).unwrap(),
            Wakeup::Deadline,
            "only the read should have been answered"
        );
        assert!(lru.is_empty());
    }
}
