//! The client's bookkeeping: which requests are in flight, where, and which
//! one a reply completes.
//!
//! A request is **in flight** from the moment it is first sent until its
//! reply arrives. A retransmission is the same request sent again: it does
//! not add to the count. (A request that is given up would leave the count
//! too; the client gives up only to exit, so it never needs to.) The number
//! of requests in flight at each server, its *load*, is what the choice rule
//! compares, so it must be exact: one too many and a server loses
//! comparisons it should win, one too few and it is sent more than its
//! share.
//!
//! # Which request a reply completes
//!
//! A READ_REP carries a key and nothing else: the record has no request id.
//! With several requests in flight, the client must still decide which of
//! them a reply answers. The rule: **a reply from server i with key k
//! completes the oldest request in flight at server i with key k.**
//!
//! - *At server i*, because only server i can answer a request sent to it.
//!   A reply with the right key from another server answers nothing (a
//!   stranger, or a late copy of an earlier exchange).
//! - *The oldest*, because a server serves its requests in arrival order, so
//!   when two requests for the same key wait at the same server, the first
//!   one sent is answered first. (If the network reorders them, the client
//!   pairs them the other way round; both still complete, each with the
//!   correct value, since they asked the same question.)
//! - A reply that completes nothing (a duplicate, or the answer to a copy
//!   of a request already answered) is ignored.
//!
//! Real protocols put a request id in every message (DNS's 16-bit id, the
//! stream id of HTTP/2) and match replies exactly. The course's record has
//! no room for one, so the key has to do.

use std::time::Instant;

/// A request in flight: sent, and not yet answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outstanding {
    /// The request number, from 0, in the order the requests were drawn.
    pub id: u32,
    /// The key it reads.
    pub key: String,
    /// The server it went to, as an index into the client's ports.
    pub server: usize,
    /// How many times it has been sent so far, the first time included.
    pub tries: u32,
    /// When to send it again if no reply has come.
    pub deadline: Instant,
}

/// Every request in flight, in the order they were first sent, with the
/// count per server and the replies each server gave.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// The requests in flight, oldest first.
    requests: Vec<Outstanding>,
    /// `loads[i]`: how many of `requests` went to server i. Kept beside the
    /// list so that a choice reads it without scanning the list.
    loads: Vec<u32>,
    /// `answered[i]`: how many requests server i has answered so far.
    answered: Vec<u32>,
}

impl InFlight {
    /// Nothing in flight at any of `servers` servers.
    pub fn new(servers: usize) -> InFlight {
        InFlight {
            requests: Vec::new(),
            loads: vec![0; servers],
            answered: vec![0; servers],
        }
    }

    /// How many requests are in flight, at all servers together.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether no request is in flight.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// The number of requests in flight at each server: what the choice
    /// rule compares.
    pub fn loads(&self) -> &[u32] {
        &self.loads
    }

    /// How many requests server `server` has answered so far.
    pub fn answered(&self, server: usize) -> u32 {
        self.answered[server]
    }

    /// The requests in flight, oldest first.
    pub fn requests(&self) -> &[Outstanding] {
        &self.requests
    }

    /// Records a request just sent for the first time: it is in flight at
    /// `request.server` from now on.
    pub fn insert(&mut self, request: Outstanding) {
        self.loads[request.server] += 1;
        self.requests.push(request);
    }

    /// Completes the request that a reply from server `server` with key
    /// `key` answers: the oldest request in flight at that server with that
    /// key. It leaves the list and its server's load, counts as answered by
    /// that server, and is returned.
    ///
    /// Returns `None`, and changes nothing, when no request in flight at
    /// `server` has that key: the reply answers nothing.
    pub fn complete(&mut self, server: usize, key: &str) -> Option<Outstanding> {
        // TODO: Take the oldest request in flight at `server` with `key`
        //       out of the list, and keep `loads` and `answered` in step
        //       with it; return it. When none matches (a duplicate, a late
        //       copy, a reply from elsewhere), change nothing and return
        //       None: a wrong count here misleads every later choice.
        todo!("complete the oldest request with the key")
    }

    /// The earliest deadline of the requests in flight, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.requests.iter().map(|request| request.deadline).min()
    }

    /// The request whose deadline passed first, if any deadline is `now` or
    /// earlier: the next one to send again or to give up on.
    pub fn next_expired(&mut self, now: Instant) -> Option<&mut Outstanding> {
        self.requests
            .iter_mut()
            .filter(|request| request.deadline <= now)
            .min_by_key(|request| request.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const K1: &str = "AAAAAAAAAAotIhz";
    const K2: &str = "AAAAAAAAAAAAFGP";

    fn request(id: u32, key: &str, server: usize) -> Outstanding {
        Outstanding {
            id,
            key: key.to_string(),
            server,
            tries: 1,
            deadline: Instant::now() + Duration::from_secs(1),
        }
    }

    /// Each request sent adds one to its server's load.
    #[test]
    fn sending_adds_to_the_load() {
        let mut book = InFlight::new(3);
        assert!(book.is_empty());
        book.insert(request(0, K1, 2));
        book.insert(request(1, K2, 2));
        book.insert(request(2, K1, 0));
        assert_eq!(book.loads(), [1, 0, 2]);
        assert_eq!(book.len(), 3);
    }

    /// A reply completes the request with its key at its server, which
    /// leaves the load and counts as answered.
    #[test]
    fn a_reply_completes_its_request() {
        let mut book = InFlight::new(2);
        book.insert(request(0, K1, 0));
        book.insert(request(1, K2, 1));
        let done = book.complete(1, K2).expect("request 1 is in flight");
        assert_eq!(done.id, 1);
        assert_eq!(book.loads(), [1, 0]);
        assert_eq!((book.answered(0), book.answered(1)), (0, 1));
        assert_eq!(book.len(), 1);
    }

    /// Of two requests for one key at one server, the oldest completes
    /// first.
    #[test]
    fn the_oldest_request_with_the_key_completes() {
        let mut book = InFlight::new(2);
        book.insert(request(0, K1, 1));
        book.insert(request(1, K2, 1));
        book.insert(request(2, K1, 1));
        book.insert(request(3, K1, 1));
        assert_eq!(book.complete(1, K1).unwrap().id, 0);
        assert_eq!(book.complete(1, K1).unwrap().id, 2);
        assert_eq!(book.loads(), [0, 2]);
        let left: Vec<u32> = book.requests().iter().map(|r| r.id).collect();
        assert_eq!(left, [1, 3], "the others stay, in order");
    }

    /// A reply from another server than the request's completes nothing,
    /// even with the right key.
    #[test]
    fn a_reply_from_another_server_completes_nothing() {
        let mut book = InFlight::new(3);
        book.insert(request(0, K1, 0));
        book.insert(request(1, K1, 2));
        assert_eq!(book.complete(1, K1), None);
        assert_eq!(book.loads(), [1, 0, 1]);
        assert_eq!(
            book.complete(2, K1).unwrap().id,
            1,
            "not the older one at 0"
        );
        assert_eq!(book.loads(), [1, 0, 0]);
        assert_eq!(book.answered(0), 0);
    }

    /// A second reply to an answered request (a duplicate) and a reply
    /// with an unknown key complete nothing and change nothing.
    #[test]
    fn duplicates_and_unknown_keys_complete_nothing() {
        let mut book = InFlight::new(1);
        book.insert(request(0, K1, 0));
        assert!(book.complete(0, K1).is_some());
        assert_eq!(book.complete(0, K1), None);
        assert_eq!(book.complete(0, K2), None);
        assert_eq!(book.loads(), [0]);
        assert_eq!(book.answered(0), 1);
        assert!(book.is_empty());
    }

    /// The next deadline is the earliest; only passed deadlines expire,
    /// the earliest first.
    #[test]
    fn deadlines_expire_earliest_first() {
        let now = Instant::now();
        let mut book = InFlight::new(2);
        assert_eq!(book.next_deadline(), None);
        for (id, ms) in [(0, 30), (1, 10), (2, 20)] {
            book.insert(Outstanding {
                deadline: now + Duration::from_millis(ms),
                ..request(id, K1, 0)
            });
        }
        assert_eq!(book.next_deadline(), Some(now + Duration::from_millis(10)));
        assert!(book.next_expired(now).is_none());
        let later = now + Duration::from_millis(25);
        let expired = book.next_expired(later).unwrap();
        assert_eq!(expired.id, 1);
        expired.deadline = later + Duration::from_millis(100);
        assert_eq!(book.next_expired(later).unwrap().id, 2);
    }
}
