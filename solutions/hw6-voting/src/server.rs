//! The server: answers every read, honestly or not.
//!
//! An honest server answers `READ_REQ k` with `READ_REP k DDDDCCCCBBBBAAA`
//! ([`HONEST_VALUE`]); a faulty one with `READ_REP k SSWUCSE`
//! ([`FAULTY_VALUE`]), as the course's server on port 5003 did. Neither
//! keeps any state, so every copy of a request, retransmitted or
//! duplicated, is answered again, and any number of clients can ask.
//!
//! The faulty server is the simplest Byzantine server there is: it lies,
//! the same way, every time. The lab's tests play worse ones (a liar that
//! answers twice, one that answers from another address, one that says
//! nothing) and the client must withstand them all; see the client's
//! module.
//!
//! The server is handed out complete: the lab is about the client.

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddrV4};

use handout::net::{Endpoint, MAX_DATAGRAM, StopSignals, Wakeup};
use handout::{GOODBYE, Message, MsgType};

use crate::cli::ServerArgs;

/// What an honest server answers to every read (note: four D's and three
/// A's, unlike hw2's `DDDCCCCBBBBAAAA`).
pub const HONEST_VALUE: &str = "DDDDCCCCBBBBAAA";

/// What the faulty server answers to every read.
pub const FAULTY_VALUE: &str = "SSWUCSE";

/// The answer of a server to `request`, or `None` when it is not a
/// READ_REQ: `READ_REP` with the request's key and [`FAULTY_VALUE`] if
/// `faulty`, [`HONEST_VALUE`] if not.
pub fn answer(request: &Message, faulty: bool) -> Option<Message> {
    if request.kind != MsgType::ReadReq {
        return None;
    }
    let value = if faulty { FAULTY_VALUE } else { HONEST_VALUE };
    Some(Message {
        kind: MsgType::ReadRep,
        key: request.key.clone(),
        value: value.to_string(),
    })
}

/// Runs the server until SIGINT or SIGTERM: binds 127.0.0.1:`args.port`
/// and answers reads, lying if [`ServerArgs::is_faulty`].
///
/// # Errors
///
/// `cannot bind <addr>: <why>` when `bind(2)` fails, e.g. because the port is
/// in use; any other error of `poll(2)` or `recvfrom(2)`.
pub fn run(args: &ServerArgs) -> Result<(), Box<dyn Error>> {
    let stop = StopSignals::install()?;
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, args.port);
    let endpoint = Endpoint::bind(addr).map_err(|error| format!("cannot bind {addr}: {error}"))?;
    if args.is_faulty() {
        eprintln!("server: faulty: every read is answered {FAULTY_VALUE}");
    }
    serve(&endpoint, &stop, args.is_faulty())?;
    Ok(())
}

/// Answers datagrams on `endpoint` until `stop` catches a signal, then
/// prints the goodbye lines.
///
/// # Errors
///
/// Whatever `poll(2)`, `recvfrom(2)` or `recvmsg(2)` reports while receiving.
pub fn serve(endpoint: &Endpoint, stop: &StopSignals, faulty: bool) -> nix::Result<()> {
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        match endpoint.receive(&mut buf, stop, None)? {
            Wakeup::Datagram { len, from } => handle_datagram(endpoint, faulty, &buf[..len], from),
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

/// Handles one datagram: decodes it, prints the request, and sends the
/// answer back to `from`.
///
/// Nothing here stops the server. A malformed datagram, or a record that is
/// not a READ_REQ, is reported on stderr and dropped; an answer that cannot
/// be sent is reported too (the client will ask again).
pub fn handle_datagram(endpoint: &Endpoint, faulty: bool, datagram: &[u8], from: SocketAddrV4) {
    let request = match Message::decode(datagram) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("server: ignoring malformed datagram from {from}: {error}");
            return;
        }
    };
    let Some(reply) = answer(&request, faulty) else {
        eprintln!(
            "server: ignoring {} from {from}: not a request",
            request.kind
        );
        return;
    };
    // The course's servers printed each request they answered.
    println!("{request}");
    if let Err(error) = endpoint.send_to(&reply.encode(), from) {
        eprintln!("server: cannot answer {from}: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const KEY: &str = "AAAAAAAAAAotIhz";

    fn message(kind: MsgType, key: &str, value: &str) -> Message {
        Message::new(kind, key, value).unwrap()
    }

    /// An honest server answers the course's value, a faulty one its lie,
    /// both in 33 bytes with the request's key.
    #[test]
    fn honest_and_faulty_answers() {
        let read = message(MsgType::ReadReq, KEY, "");
        let honest = answer(&read, false).unwrap();
        assert_eq!(honest, message(MsgType::ReadRep, KEY, HONEST_VALUE));
        assert_eq!(honest.encode().len(), 33);
        let faulty = answer(&read, true).unwrap();
        assert_eq!(faulty, message(MsgType::ReadRep, KEY, FAULTY_VALUE));
    }

    /// Only reads are answered.
    #[test]
    fn only_reads_are_answered() {
        for kind in [
            MsgType::ReadRep,
            MsgType::WriteReq,
            MsgType::WriteRep,
            MsgType::CacheHit,
            MsgType::CacheMiss,
        ] {
            assert_eq!(answer(&message(kind, KEY, "x"), false), None, "{kind}");
        }
    }

    /// On real sockets: garbage and non-requests get no answer, each copy
    /// of a read gets one.
    #[test]
    fn every_read_is_answered_and_nothing_else() {
        let stop = StopSignals::install().unwrap();
        let any_port = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let server = Endpoint::bind(any_port).unwrap();
        let client = Endpoint::bind(any_port).unwrap();
        let client_addr = client.local_addr().unwrap();

        handle_datagram(&server, true, b"\x00short", client_addr);
        let stray = message(MsgType::ReadRep, KEY, "v").encode();
        handle_datagram(&server, true, &stray, client_addr);
        let read = message(MsgType::ReadReq, KEY, "").encode();
        handle_datagram(&server, true, &read, client_addr);
        handle_datagram(&server, true, &read, client_addr);

        let mut buf = vec![0; MAX_DATAGRAM];
        for copy in 1..=2 {
            let deadline = Instant::now() + Duration::from_secs(5);
            let Wakeup::Datagram { len, from } =
                client.receive(&mut buf, &stop, Some(deadline)).unwrap()
            else {
                panic!("the server did not answer copy {copy} of the read");
            };
            assert_eq!(from, server.local_addr().unwrap());
            assert_eq!(len, 33);
            let reply = Message::decode(&buf[..len]).unwrap();
            assert_eq!(reply, message(MsgType::ReadRep, KEY, FAULTY_VALUE));
        }
        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(
            client.receive(&mut buf, &stop, Some(deadline)).unwrap(),
            Wakeup::Deadline,
            "only the two reads should have been answered"
        );
    }
}
