//! A backup: applies the writes the primary forwards, each once, and
//! acknowledges every copy.
//!
//! A backup is a plain server, like hw2's, with one difference that
//! matters: it must not apply a write twice. The primary forwards a write
//! again when an acknowledgement is slow or lost, and the network may
//! deliver a forward twice or late. Writing the same value twice looks
//! harmless (hw2 said so), and it is not: by the time a late copy of write
//! `k = v1` arrives, the primary may have forwarded `k = v2`, and applying
//! the copy would put `v1` back, on this backup only. So the backup
//! remembers every write it has applied, by its [`WriteId`] (the address
//! that sent it, the key, the value), applies a write the first time it
//! sees it, and only acknowledges the copies.
//!
//! Every copy is acknowledged, though: the primary sent it again because
//! it did not hear the acknowledgement of the first one.
//!
//! A backup also answers reads from its own store. The course's client
//! never reads a backup; the grader does, at the end of a test, to compare
//! the replicas.

use std::collections::HashSet;
use std::net::SocketAddrV4;

use handout::net::{Endpoint, MAX_DATAGRAM, StopSignals, Wakeup};
use handout::{GOODBYE, Message, MsgType};

use crate::store::{Store, write_reply};
use crate::writes::WriteId;

/// A backup's state: its store, and every write it has applied.
#[derive(Debug, Clone, Default)]
pub struct Backup {
    store: Store,
    applied: HashSet<WriteId>,
}

impl Backup {
    /// A backup with an empty store, that has applied nothing.
    pub fn new() -> Backup {
        Backup::default()
    }

    /// The backup's store, as it is now.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The answer to `request` from `from`, or `None` when it is not a
    /// request a backup serves. Prints what the course's backup printed.
    ///
    /// - `READ_REQ k`: prints the request, answers `READ_REP k v` from the
    ///   store.
    /// - `WRITE_REQ k v`: [`Backup::apply_write`], then answers
    ///   `WRITE_REP k`.
    pub fn answer(&mut self, request: &Message, from: SocketAddrV4) -> Option<Message> {
        match request.kind {
            MsgType::ReadReq => {
                println!("{request}");
                Some(self.store.read_reply(&request.key))
            }
            MsgType::WriteReq => {
                self.apply_write(request, from);
                Some(write_reply(&request.key))
            }
            _ => None,
        }
    }

    /// Applies the forwarded write `request` from `from`, unless it was
    /// applied before. Returns whether it was applied now.
    ///
    /// A write applied now prints, as the course's backup did, the request
    /// line, `Write is Done` and an empty line. A copy prints nothing.
    pub fn apply_write(&mut self, request: &Message, from: SocketAddrV4) -> bool {
        // hole: apply a forwarded write once
        // TODO: Apply the write, and print it as the course did, only if
        //       this backup never applied the same write (sender, key,
        //       value) before: a late copy applied again would put an old
        //       value back. Return whether it was applied.
        let id = WriteId {
            client: from,
            key: request.key.clone(),
            value: request.value.clone(),
        };
        if !self.applied.insert(id) {
            return false;
        }
        println!("{request}");
        self.store.write(&request.key, &request.value);
        println!("Write is Done");
        println!();
        true
        // end hole
    }
}

/// Serves as a backup on `endpoint` until `stop` catches a signal, then
/// prints the goodbye lines.
///
/// # Errors
///
/// Whatever `poll(2)`, `recvfrom(2)` or `recvmsg(2)` reports while receiving.
pub fn serve(endpoint: &Endpoint, stop: &StopSignals, backup: &mut Backup) -> nix::Result<()> {
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        match endpoint.receive(&mut buf, stop, None)? {
            Wakeup::Datagram { len, from } => handle_datagram(endpoint, backup, &buf[..len], from),
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

/// Handles one datagram: decodes it, answers it, and sends the answer back
/// to `from`. A malformed datagram, or a record that is not a request, is
/// reported on stderr and dropped.
pub fn handle_datagram(
    endpoint: &Endpoint,
    backup: &mut Backup,
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
    let Some(reply) = backup.answer(&request, from) else {
        eprintln!(
            "server: ignoring {} from {from}: not a request",
            request.kind
        );
        return;
    };
    if let Err(error) = endpoint.send_to(&reply.encode(), from) {
        eprintln!("server: cannot answer {from}: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const KEY: &str = "AAAAAAAAAAATqkp";

    fn primary(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    fn write(key: &str, value: &str) -> Message {
        Message::new(MsgType::WriteReq, key, value).unwrap()
    }

    /// A forwarded write is applied and acknowledged in 17 bytes.
    #[test]
    fn a_write_is_applied_and_acknowledged() {
        let mut backup = Backup::new();
        let reply = backup.answer(&write(KEY, "v1"), primary(5001)).unwrap();
        assert_eq!(reply, Message::new(MsgType::WriteRep, KEY, "").unwrap());
        assert_eq!(reply.encode().len(), 17);
        assert_eq!(backup.store().value(KEY), "v1");
    }

    /// A late copy of an old write is acknowledged but not applied: the
    /// newer value stays.
    #[test]
    fn a_late_copy_does_not_undo_a_newer_write() {
        let mut backup = Backup::new();
        assert!(backup.apply_write(&write(KEY, "v1"), primary(5001)));
        assert!(backup.apply_write(&write(KEY, "v2"), primary(5001)));
        assert!(!backup.apply_write(&write(KEY, "v1"), primary(5001)));
        assert_eq!(backup.store().value(KEY), "v2");
        let reply = backup.answer(&write(KEY, "v1"), primary(5001));
        assert_eq!(
            reply.map(|r| r.kind),
            Some(MsgType::WriteRep),
            "still acknowledged"
        );
        assert_eq!(backup.store().value(KEY), "v2");
    }

    /// The same key and value from another sender is another write.
    #[test]
    fn the_sender_is_part_of_the_identity() {
        let mut backup = Backup::new();
        assert!(backup.apply_write(&write(KEY, "v1"), primary(5001)));
        assert!(backup.apply_write(&write(KEY, "v1"), primary(6001)));
    }

    /// Reads are answered from the store; replies are not requests.
    #[test]
    fn reads_are_answered_and_replies_ignored() {
        let mut backup = Backup::new();
        backup.apply_write(&write(KEY, "v1"), primary(5001));
        let read = Message::new(MsgType::ReadReq, KEY, "").unwrap();
        let reply = backup.answer(&read, primary(40000)).unwrap();
        assert_eq!(reply, Message::new(MsgType::ReadRep, KEY, "v1").unwrap());
        for kind in [MsgType::ReadRep, MsgType::WriteRep, MsgType::CacheHit] {
            let stray = Message::new(kind, KEY, "").unwrap();
            assert_eq!(backup.answer(&stray, primary(5001)), None, "{kind}");
        }
    }
}
