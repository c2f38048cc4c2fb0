//! The echo server: answer every well-formed request, survive everything else.
//!
//! The server is stateless: each datagram is handled on its own, and the
//! answer goes to the address the datagram came from. That makes it safe for
//! a client to send the same request twice — the server just answers twice.
//! Operations for which that is not true (a write that appends, a counter)
//! need the server to remember requests it has seen; hw5 meets that problem.
//!
//! Anyone can send anything to a UDP port. A datagram that is not a record
//! is reported on stderr and dropped; it must never bring the server down.

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddrV4};

use handout::{Message, MsgType};

use crate::GOODBYE;
use crate::cli::ServerArgs;
use crate::socket::{BURST, Endpoint, MAX_DATAGRAM, StopSignals, Wakeup};

/// The value of every READ_REP the server sends.
pub const REPLY_VALUE: &str = "DDDCCCCBBBBAAAA";

/// Runs the server until SIGINT or SIGTERM: binds 127.0.0.1:`args.port` and
/// answers every request.
///
/// # Errors
///
/// `cannot bind <addr>: <why>` when `bind(2)` fails, e.g. because the port is
/// in use; any other error of `poll(2)` or `recvfrom(2)`.
pub fn run(args: &ServerArgs) -> Result<(), Box<dyn Error>> {
    let stop = StopSignals::install()?;
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, args.port);
    let endpoint = Endpoint::bind(addr).map_err(|error| format!("cannot bind {addr}: {error}"))?;
    serve(&endpoint, &stop)?;
    // Dropping the endpoint closes the socket.
    drop(endpoint);
    Ok(())
}

/// Answers datagrams on `endpoint` until `stop` catches a signal, then prints
/// the goodbye line.
///
/// The loop answers what is already queued first, and waits only when there
/// is nothing left:
///
/// - Under load, requests queue up in the socket while the server answers
///   one. Each is read with [`Endpoint::try_receive`] and answered: two
///   system calls per request, `recvmsg(2)` and `sendto(2)`, as few as a
///   loop of blocking `recvfrom(2)` calls makes. Waiting in `poll(2)` first
///   would add a third, only to hear that the socket is readable.
/// - When the queue is empty, [`Endpoint::receive`] sleeps in `poll(2)`
///   until a datagram or a signal comes: an idle server uses no CPU.
/// - After [`BURST`] datagrams in a row it goes through `receive` anyway,
///   since only `receive` watches for Ctrl+C: a flood that never lets the
///   queue run empty cannot keep the server from stopping.
///
/// # Errors
///
/// Whatever `poll(2)`, `recvfrom(2)` or `recvmsg(2)` reports.
pub fn serve(endpoint: &Endpoint, stop: &StopSignals) -> nix::Result<()> {
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        for _ in 0..BURST {
            let Some((len, from)) = endpoint.try_receive(&mut buf)? else {
                break;
            };
            handle_datagram(endpoint, &buf[..len], from);
        }
        match endpoint.receive(&mut buf, stop, None)? {
            Wakeup::Datagram { len, from } => handle_datagram(endpoint, &buf[..len], from),
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

/// Handles one datagram: decodes it and answers it.
///
/// Nothing that happens here stops the server. A malformed datagram is
/// reported on stderr and dropped. A reply that cannot be sent is reported
/// too: the client will ask again. Like the course's server, it prints
/// nothing on stdout for a request.
pub fn handle_datagram(endpoint: &Endpoint, datagram: &[u8], from: SocketAddrV4) {
    let request = match Message::decode(datagram) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("server: ignoring malformed datagram from {from}: {error}");
            return;
        }
    };
    let reply = answer(&request);
    if let Err(error) = endpoint.send_to(&reply.encode(), from) {
        eprintln!("server: cannot answer {from}: {error}");
    }
}

/// The reply to `request`: a READ_REP for the same key, with the value
/// [`REPLY_VALUE`].
///
/// The course's server answered whatever it received this way, whatever
/// its type, and so does this one.
pub fn answer(request: &Message) -> Message {
    // hole: build the reply
    // TODO: Return the READ_REP for `request`: its key, and the value
    //       REPLY_VALUE. This is the echo server's whole answer.
    Message {
        kind: MsgType::ReadRep,
        key: request.key.clone(),
        value: REPLY_VALUE.to_string(),
    }
    // end hole
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn request(key: &str) -> Message {
        Message::new(MsgType::ReadReq, key, "AAAABBBBCCCCDDD").unwrap()
    }

    /// The reply keeps the key, and carries READ_REP and the fixed value.
    #[test]
    fn the_reply_echoes_the_key() {
        let reply = answer(&request("AAAAAAAAAAotIhz"));
        assert_eq!(reply.kind, MsgType::ReadRep);
        assert_eq!(reply.key, "AAAAAAAAAAotIhz");
        assert_eq!(reply.value, REPLY_VALUE);
        assert_eq!(reply.encode().len(), 33);
    }

    /// On real sockets: garbage gets no answer, a request gets its READ_REP.
    #[test]
    fn a_request_is_answered_and_garbage_is_not() {
        let stop = StopSignals::install().unwrap();
        let any_port = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let server = Endpoint::bind(any_port).unwrap();
        let client = Endpoint::bind(any_port).unwrap();
        let client_addr = client.local_addr().unwrap();

        handle_datagram(&server, b"\x00short", client_addr);
        let wire = request("AAAAAAAAAAotIhz").encode_full();
        handle_datagram(&server, &wire, client_addr);

        let mut buf = vec![0; MAX_DATAGRAM];
        let deadline = Instant::now() + Duration::from_secs(5);
        let Wakeup::Datagram { len, from } =
            client.receive(&mut buf, &stop, Some(deadline)).unwrap()
        else {
            panic!("the server did not answer the request");
        };
        assert_eq!(from, server.local_addr().unwrap());
        let reply = Message::decode(&buf[..len]).unwrap();
        assert_eq!(reply, answer(&request("AAAAAAAAAAotIhz")));

        // Exactly one answer: the garbage got none.
        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(
            client.receive(&mut buf, &stop, Some(deadline)).unwrap(),
            Wakeup::Deadline
        );
    }

    /// A flood cannot hold off Ctrl+C: with SIGTERM pending and twice
    /// [`BURST`] requests queued, `serve` stops after one burst, and leaves
    /// the rest in the queue.
    #[test]
    fn a_flood_cannot_hold_off_a_signal() {
        let stop = StopSignals::install().unwrap();
        let any_port = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let server = Endpoint::bind(any_port).unwrap();
        let server_addr = server.local_addr().unwrap();
        let client = Endpoint::bind(any_port).unwrap();
        let wire = request("AAAAAAAAAAotIhz").encode_full();
        for _ in 0..2 * BURST {
            client.send_to(&wire, server_addr).unwrap();
        }
        // raise(3) signals this thread only, which blocks SIGTERM: the
        // signal stays pending until `serve` reads it.
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).unwrap();
        serve(&server, &stop).unwrap();

        // Replies still on their way would only lower the count.
        let mut buf = vec![0; MAX_DATAGRAM];
        let mut answered = 0;
        while client.try_receive(&mut buf).unwrap().is_some() {
            answered += 1;
        }
        assert!(
            answered <= BURST,
            "serve answered {answered} requests after SIGTERM came"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        assert!(
            matches!(
                server.receive(&mut buf, &stop, Some(deadline)).unwrap(),
                Wakeup::Datagram { .. }
            ),
            "serve read the whole queue before it noticed SIGTERM"
        );
    }
}
