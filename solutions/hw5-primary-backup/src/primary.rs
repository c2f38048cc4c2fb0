//! The primary: serves the client, and keeps the backups in step.
//!
//! The primary is **event-driven**. It has one socket, and everything
//! reaches it there: the clients' reads and writes, and the backups'
//! acknowledgements. Its loop waits in [`Endpoint::receive`] for the next
//! datagram, with a deadline: the earliest moment a forwarded write must be
//! sent again ([`WriteTable::next_deadline`]). So it handles many writes at
//! once, of several clients and several keys, without threads, and it
//! sleeps in `poll(2)` whenever there is nothing to do. (A primary that
//! called [`handout::net::ask`] for each backup in turn would stop serving
//! everyone else while it waited for one backup.)
//!
//! Each datagram is one event:
//!
//! - `READ_REQ k` from anyone: print it, answer `READ_REP k v` from the
//!   primary's store.
//! - `WRITE_REQ k v` from a client: a new write is printed, applied to the
//!   store at once and admitted to the [`WriteTable`], which forwards it to
//!   the backups when its key's turn comes; a copy of a write seen before is
//!   handled as the table says ([`Seen`]).
//! - `WRITE_REP k` from a backup's address: an acknowledgement, counted by
//!   the table. From any other address it is not one.
//!
//! and so is a passed deadline: the table sends the write again to the
//! backups that have not acknowledged it, or abandons it.
//!
//! What to print and send is the table's [`Action`]s, carried out by
//! [`Primary::perform`].

use std::net::SocketAddrV4;
use std::time::Instant;

use handout::net::{Endpoint, MAX_DATAGRAM, Retry, StopSignals, Wakeup};
use handout::{GOODBYE, Message, MsgType};

use crate::store::{Store, write_reply};
use crate::writes::{Action, Seen, WriteId, WriteTable};

/// The primary's state: its socket, its backups, its store and its write
/// table.
#[derive(Debug)]
pub struct Primary {
    endpoint: Endpoint,
    backups: Vec<SocketAddrV4>,
    store: Store,
    table: WriteTable,
}

impl Primary {
    /// A primary that serves on `endpoint` and forwards writes to
    /// `backups` (backup 0 first), retransmitting as `retry` says.
    pub fn new(endpoint: Endpoint, backups: Vec<SocketAddrV4>, retry: Retry) -> Primary {
        let table = WriteTable::new(backups.len(), retry);
        Primary {
            endpoint,
            backups,
            store: Store::new(),
            table,
        }
    }

    /// The primary's store, as it is now.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `stop` catches a signal, then prints the goodbye lines.
    ///
    /// # Errors
    ///
    /// Whatever `poll(2)`, `recvfrom(2)` or `recvmsg(2)` reports while receiving.
    pub fn serve(&mut self, stop: &StopSignals) -> nix::Result<()> {
        let mut buf = vec![0; MAX_DATAGRAM];
        loop {
            // Without writes in flight there is no deadline, and the wait
            // lasts until a datagram or a signal comes.
            let deadline = self.table.next_deadline();
            match self.endpoint.receive(&mut buf, stop, deadline)? {
                Wakeup::Datagram { len, from } => {
                    self.handle_datagram(&buf[..len], from, Instant::now());
                }
                Wakeup::Deadline => {
                    let actions = self.table.expire(Instant::now());
                    self.perform(actions);
                }
                Wakeup::Stop(_) => {
                    println!();
                    println!("{GOODBYE}");
                    return Ok(());
                }
            }
        }
    }

    /// Handles one datagram that arrived from `from` at `now`.
    ///
    /// Nothing here stops the primary: a malformed datagram, a record it
    /// does not serve, or an acknowledgement from a stranger is reported
    /// with one line on stderr and dropped.
    pub fn handle_datagram(&mut self, datagram: &[u8], from: SocketAddrV4, now: Instant) {
        let message = match Message::decode(datagram) {
            Ok(message) => message,
            Err(error) => {
                eprintln!("server: ignoring malformed datagram from {from}: {error}");
                return;
            }
        };
        // hole: sort a datagram at the primary
        // TODO: Serve the datagram by its type: a read from the store, a
        //       client's write with `client_write`, a WRITE_REP with
        //       `backup_ack` if it comes from a backup's address (only a
        //       backup can acknowledge a forward). Anything else is ignored,
        //       with `ignore_stranger_ack` or `ignore_not_a_request`.
        match message.kind {
            MsgType::ReadReq => {
                println!("{message}");
                self.send(&self.store.read_reply(&message.key), from);
            }
            MsgType::WriteReq => self.client_write(&message, from, now),
            MsgType::WriteRep => match self.backups.iter().position(|&backup| backup == from) {
                Some(backup) => self.backup_ack(backup, &message.key, now),
                None => ignore_stranger_ack(from),
            },
            kind => ignore_not_a_request(kind, from),
        }
        // end hole
    }

    /// Handles `WRITE_REQ k v` from `client`: a new write, or a copy of one
    /// seen before.
    fn client_write(&mut self, request: &Message, client: SocketAddrV4, now: Instant) {
        let id = WriteId {
            client,
            key: request.key.clone(),
            value: request.value.clone(),
        };
        // hole: take a client's write
        // TODO: Ask the table whether this write is new, done, in progress
        //       or abandoned, and act on it: print, store and admit a new
        //       one; answer a done one again (its WRITE_REP may have been
        //       lost); ignore a copy in progress; admit an abandoned one
        //       again. Applied twice, a copy would put an old value back.
        let seen = self.table.seen(&id);
        match seen {
            Seen::New => {
                println!("{request}");
                self.store.write(&request.key, &request.value);
                let actions = self.table.admit(id, now);
                self.perform(actions);
            }
            Seen::Done => self.send(&write_reply(&request.key), client),
            Seen::InProgress => ignore_copy_in_progress(&request.key, client),
            Seen::Abandoned => {
                note_abandoned_copy(&request.key, client);
                let actions = self.table.admit(id, now);
                self.perform(actions);
            }
        }
        // end hole
    }

    /// Handles `WRITE_REP key` from the backup of index `backup`.
    fn backup_ack(&mut self, backup: usize, key: &str, now: Instant) {
        match self.table.acknowledge(backup, key, now) {
            Some(actions) => self.perform(actions),
            None => eprintln!(
                "server: ignoring WRITE_REP for key {key} from backup {backup}: no write of that key is waiting for it"
            ),
        }
    }

    /// Carries out what the write table decided: forwards, answers to
    /// clients (after `Write is Done` and an empty line on stdout), and the
    /// stderr line of each backup given up on.
    pub fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Forward { backup, key, value } => {
                    let forward = Message {
                        kind: MsgType::WriteReq,
                        key,
                        value,
                    };
                    self.send(&forward, self.backups[backup]);
                }
                Action::Complete { client, key } => {
                    println!("Write is Done");
                    println!();
                    self.send(&write_reply(&key), client);
                }
                Action::GiveUp { backup, key, tries } => eprintln!(
                    "server: backup {backup} (port {}) did not acknowledge the write of key {key} after {tries} tries",
                    self.backups[backup].port()
                ),
            }
        }
    }

    /// Sends `message` to `to` in the course's length; a failure is
    /// reported on stderr (the peer will ask again, or the retransmission
    /// timer will send it again).
    fn send(&self, message: &Message, to: SocketAddrV4) {
        if let Err(error) = self.endpoint.send_to(&message.encode(), to) {
            eprintln!("server: cannot send to {to}: {error}");
        }
    }
}

/// Reports a `WRITE_REP` from an address that is no backup's: it is no
/// acknowledgement.
fn ignore_stranger_ack(from: SocketAddrV4) {
    eprintln!("server: ignoring WRITE_REP from {from}: not a backup");
}

/// Reports a record the primary does not serve (a `READ_REP`, say).
fn ignore_not_a_request(kind: MsgType, from: SocketAddrV4) {
    eprintln!("server: ignoring {kind} from {from}: not a request");
}

/// Reports a copy of a write still queued or being forwarded: its
/// `WRITE_REP` will come when every backup has acknowledged it.
fn ignore_copy_in_progress(key: &str, client: SocketAddrV4) {
    eprintln!("server: write of key {key} from {client} is in progress; ignoring a copy");
}

/// Reports a copy of an abandoned write, which is forwarded again.
fn note_abandoned_copy(key: &str, client: SocketAddrV4) {
    eprintln!("server: write of key {key} from {client} was abandoned; forwarding it again");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    const KEY: &str = "AAAAAAAAAAATqkp";

    fn any_port() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)
    }

    fn message(kind: MsgType, key: &str, value: &str) -> Message {
        Message::new(kind, key, value).unwrap()
    }

    /// Waits up to 300 ms for a datagram on `endpoint`.
    fn next(endpoint: &Endpoint, stop: &StopSignals) -> Option<(Message, usize, SocketAddrV4)> {
        let mut buf = vec![0; MAX_DATAGRAM];
        let deadline = Instant::now() + Duration::from_millis(300);
        match endpoint.receive(&mut buf, stop, Some(deadline)).unwrap() {
            Wakeup::Datagram { len, from } => {
                Some((Message::decode(&buf[..len]).unwrap(), len, from))
            }
            _ => None,
        }
    }

    /// On real sockets: a write is forwarded to both backups, and the
    /// client hears WRITE_REP only after both acknowledged; a copy of the
    /// done write is answered again and not forwarded; a read is answered
    /// from the primary's store.
    #[test]
    fn a_write_is_acknowledged_after_both_backups() {
        let stop = StopSignals::install().unwrap();
        let client = Endpoint::bind(any_port()).unwrap();
        let backups = [
            Endpoint::bind(any_port()).unwrap(),
            Endpoint::bind(any_port()).unwrap(),
        ];
        let backup_addrs: Vec<SocketAddrV4> =
            backups.iter().map(|b| b.local_addr().unwrap()).collect();
        let retry = Retry {
            timeout: Duration::from_secs(10),
            tries: 3,
        };
        let mut primary = Primary::new(
            Endpoint::bind(any_port()).unwrap(),
            backup_addrs.clone(),
            retry,
        );
        let primary_addr = primary.endpoint.local_addr().unwrap();
        let client_addr = client.local_addr().unwrap();
        let write = message(MsgType::WriteReq, KEY, "v1").encode();
        let ack = message(MsgType::WriteRep, KEY, "").encode();

        primary.handle_datagram(&write, client_addr, Instant::now());
        assert_eq!(primary.store().value(KEY), "v1", "applied at once");
        for backup in &backups {
            let (forward, len, from) = next(backup, &stop).expect("a forward");
            assert_eq!(
                (forward, len, from),
                (message(MsgType::WriteReq, KEY, "v1"), 33, primary_addr)
            );
        }
        // A stranger's WRITE_REP is no acknowledgement.
        primary.handle_datagram(&ack, client_addr, Instant::now());
        primary.handle_datagram(&ack, backup_addrs[0], Instant::now());
        assert!(next(&client, &stop).is_none(), "one backup is not enough");
        primary.handle_datagram(&ack, backup_addrs[1], Instant::now());
        let (reply, len, from) = next(&client, &stop).expect("the acknowledgement");
        assert_eq!(
            (reply, len, from),
            (message(MsgType::WriteRep, KEY, ""), 17, primary_addr)
        );

        // A copy of the done write: answered again, forwarded to nobody.
        primary.handle_datagram(&write, client_addr, Instant::now());
        assert!(next(&client, &stop).is_some());
        assert!(next(&backups[0], &stop).is_none());

        let read = message(MsgType::ReadReq, KEY, "").encode();
        primary.handle_datagram(&read, client_addr, Instant::now());
        let (reply, len, _) = next(&client, &stop).expect("the read's answer");
        assert_eq!((reply, len), (message(MsgType::ReadRep, KEY, "v1"), 33));
    }

    /// A forward nobody acknowledges goes out again at each deadline of
    /// the table, and no more after the last try.
    #[test]
    fn the_timer_retransmits_forwards() {
        let stop = StopSignals::install().unwrap();
        let backup = Endpoint::bind(any_port()).unwrap();
        let retry = Retry {
            timeout: Duration::from_millis(20),
            tries: 3,
        };
        let mut primary = Primary::new(
            Endpoint::bind(any_port()).unwrap(),
            vec![backup.local_addr().unwrap()],
            retry,
        );
        let write = message(MsgType::WriteReq, KEY, "v1").encode();
        primary.handle_datagram(&write, any_port(), Instant::now());
        let mut sends = 1;
        while primary.table.next_deadline().is_some() {
            let deadline = primary.table.next_deadline().unwrap();
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
            let actions = primary.table.expire(Instant::now());
            sends += actions
                .iter()
                .filter(|action| matches!(action, Action::Forward { .. }))
                .count();
            primary.perform(actions);
        }
        assert_eq!(sends, 3);
        for _ in 0..3 {
            assert!(next(&backup, &stop).is_some());
        }
        assert!(next(&backup, &stop).is_none());
    }
}
