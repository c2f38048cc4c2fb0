//! The server: answers every read, one at a time, at its own pace.
//!
//! All four servers hold the same (imaginary) data and answer every
//! `READ_REQ k` with `READ_REP k DDDCCCCBBBBAAAA`, as the course's servers
//! did. What sets them apart is speed. `--delay-ms D` makes a server work D
//! milliseconds on each request before it answers, the way a real server
//! spends time on a disk read, a query, or a garbage-collection pause; one
//! server started with a larger D than the others is the slow server the
//! client has to notice.
//!
//! # One at a time
//!
//! A server takes its requests in arrival order and finishes each before
//! it reads the next. The requests that arrive meanwhile wait in the
//! socket's receive buffer, in the kernel: that buffer is the server's
//! queue. So a request's time at a server is the delay of every request
//! ahead of it plus its own, and a slow server's queue grows as soon as it
//! is sent requests faster than it answers them. This is the queue the
//! client sees, from the outside, as requests in flight.
//!
//! While it works on a request the server still watches for Ctrl+C (and
//! SIGTERM): it waits in `poll(2)` on the signal descriptor alone, so a
//! stop is obeyed at once, and datagrams stay queued for later.
//!
//! Every copy of a request is served: a read is idempotent, so a
//! retransmitted request is simply answered again.

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use handout::net::{Endpoint, MAX_DATAGRAM, StopSignals, Wakeup, poll_timeout};
use handout::{GOODBYE, Message, MsgType};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::signal::Signal;

use crate::cli::ServerArgs;

/// The value of every READ_REP, as the course's servers answered.
pub const REPLY_VALUE: &str = "DDDCCCCBBBBAAAA";

/// Runs the server until SIGINT or SIGTERM: binds 127.0.0.1:`args.port`
/// and answers reads, each after `args.delay_ms` milliseconds.
///
/// # Errors
///
/// `cannot bind <addr>: <why>` when `bind(2)` fails, e.g. because the port is
/// in use; any other error of `poll(2)` or `recvfrom(2)`.
pub fn run(args: &ServerArgs) -> Result<(), Box<dyn Error>> {
    let stop = StopSignals::install()?;
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, args.port);
    let endpoint = Endpoint::bind(addr).map_err(|error| format!("cannot bind {addr}: {error}"))?;
    let delay = Duration::from_millis(u64::from(args.delay_ms));
    serve(&endpoint, &stop, delay)?;
    Ok(())
}

/// Serves datagrams on `endpoint`, each request after `delay`, until `stop`
/// catches a signal, then prints the goodbye lines.
///
/// # Errors
///
/// Whatever `poll(2)`, `recvfrom(2)` or `recvmsg(2)` reports while receiving.
pub fn serve(endpoint: &Endpoint, stop: &StopSignals, delay: Duration) -> nix::Result<()> {
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        let stopped = match endpoint.receive(&mut buf, stop, None)? {
            Wakeup::Datagram { len, from } => {
                handle_datagram(endpoint, stop, delay, &buf[..len], from)?.is_some()
            }
            // Without a deadline there is no deadline to pass.
            Wakeup::Deadline => false,
            Wakeup::Stop(_) => true,
        };
        if stopped {
            println!();
            println!("{GOODBYE}");
            return Ok(());
        }
    }
}

/// Handles one datagram: decodes it, and if it is a read, prints it, works
/// on it for `delay` and sends the reply back to `from`.
///
/// Returns the signal that arrived during the delay, if one did: the reply
/// is then not sent, and the server should stop. Nothing else stops the
/// server. A malformed datagram, or a record that is not a READ_REQ, is
/// reported on stderr and dropped; a reply that cannot be sent is reported
/// too (the client will ask again).
///
/// # Errors
///
/// Whatever `poll(2)` reports during the delay.
pub fn handle_datagram(
    endpoint: &Endpoint,
    stop: &StopSignals,
    delay: Duration,
    datagram: &[u8],
    from: SocketAddrV4,
) -> nix::Result<Option<Signal>> {
    let request = match Message::decode(datagram) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("server: ignoring malformed datagram from {from}: {error}");
            return Ok(None);
        }
    };
    let Some(reply) = answer(&request) else {
        eprintln!(
            "server: ignoring {} from {from}: not a request",
            request.kind
        );
        return Ok(None);
    };
    // The course's server printed each request as its transcript line
    // without the `Value:` part, a quirk the classic tests keep.
    println!("Type: READ_REQ Key: {}", request.key);
    if let Some(signal) = work(stop, delay)? {
        return Ok(Some(signal));
    }
    if let Err(error) = endpoint.send_to(&reply.encode(), from) {
        eprintln!("server: cannot answer {from}: {error}");
    }
    Ok(None)
}

/// The reply to `request`, or `None` when it is not a READ_REQ (the only
/// request this server serves).
pub fn answer(request: &Message) -> Option<Message> {
    // hole: answer a read
    // TODO: A READ_REQ gets a READ_REP with the same key and REPLY_VALUE;
    //       anything else gets None: a server answers requests, never
    //       replies (two servers that answered each other's replies would
    //       echo one datagram back and forth for ever).
    match request.kind {
        MsgType::ReadReq => Some(Message {
            kind: MsgType::ReadRep,
            key: request.key.clone(),
            value: REPLY_VALUE.to_string(),
        }),
        _ => None,
    }
    // end hole
}

/// Works on a request for `delay`: waits that long, while still watching
/// `stop`, and returns the signal if one arrives first.
///
/// It waits in `poll(2)` on the signal descriptor alone, not on the socket:
/// datagrams that arrive meanwhile stay queued in the socket until the
/// server is done with this one. A real server would do real work here (and
/// one with threads would serve other requests meanwhile); `thread::sleep`
/// would wait as long, but would not notice Ctrl+C until it ended.
///
/// # Errors
///
/// Whatever `poll(2)` reports, except `EINTR`, after which it waits again.
pub fn work(stop: &StopSignals, delay: Duration) -> nix::Result<Option<Signal>> {
    let deadline = Instant::now() + delay;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        let mut fds = [PollFd::new(stop.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, poll_timeout(deadline - now)) {
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => {
                if let Some(signal) = stop.caught()? {
                    return Ok(Some(signal));
                }
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAAAAAAAotIhz";

    fn message(kind: MsgType, key: &str, value: &str) -> Message {
        Message::new(kind, key, value).unwrap()
    }

    fn any_port() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)
    }

    /// A read is answered with the course's value, in 33 bytes.
    #[test]
    fn a_read_is_answered_with_the_courses_value() {
        let reply = answer(&message(MsgType::ReadReq, KEY, "")).unwrap();
        assert_eq!(reply, message(MsgType::ReadRep, KEY, REPLY_VALUE));
        assert_eq!(reply.encode().len(), 33);
    }

    /// Replies, writes and cache messages are not served.
    #[test]
    fn only_reads_are_served() {
        for kind in [
            MsgType::ReadRep,
            MsgType::WriteReq,
            MsgType::WriteRep,
            MsgType::CacheHit,
            MsgType::CacheMiss,
        ] {
            assert_eq!(answer(&message(kind, KEY, "x")), None, "{kind}");
        }
    }

    /// Work takes the delay, and no delay takes no time.
    #[test]
    fn work_takes_the_delay() {
        let stop = StopSignals::install().unwrap();
        let start = Instant::now();
        assert_eq!(work(&stop, Duration::from_millis(30)).unwrap(), None);
        assert!(start.elapsed() >= Duration::from_millis(30));
        let start = Instant::now();
        assert_eq!(work(&stop, Duration::ZERO).unwrap(), None);
        assert!(start.elapsed() < Duration::from_millis(20));
    }

    /// A signal ends the work at once.
    #[test]
    fn a_signal_interrupts_the_work() {
        let stop = StopSignals::install().unwrap();
        // raise(3) signals this thread only, and this thread blocks
        // SIGTERM: it stays pending for the signal descriptor.
        nix::sys::signal::raise(Signal::SIGTERM).unwrap();
        let start = Instant::now();
        let caught = work(&stop, Duration::from_secs(30)).unwrap();
        assert_eq!(caught, Some(Signal::SIGTERM));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    /// On real sockets: garbage and non-reads get no answer; a read, in 17
    /// or 33 bytes, gets its reply after the delay, back to its sender.
    #[test]
    fn reads_are_answered_and_nothing_else() {
        let stop = StopSignals::install().unwrap();
        let server = Endpoint::bind(any_port()).unwrap();
        let client = Endpoint::bind(any_port()).unwrap();
        let client_addr = client.local_addr().unwrap();
        let delay = Duration::from_millis(20);
        let handle = |datagram: &[u8]| {
            handle_datagram(&server, &stop, delay, datagram, client_addr).unwrap()
        };

        assert_eq!(handle(b"\x00short"), None);
        assert_eq!(handle(&message(MsgType::ReadRep, KEY, "v").encode()), None);
        let start = Instant::now();
        assert_eq!(handle(&message(MsgType::ReadReq, KEY, "").encode()), None);
        assert!(start.elapsed() >= delay, "the reply waits for the delay");
        let full = message(MsgType::ReadReq, KEY, "AAAABBBBCCCCDDD").encode_full();
        assert_eq!(handle(&full), None);

        let mut buf = vec![0; MAX_DATAGRAM];
        for _ in 0..2 {
            let deadline = Some(Instant::now() + Duration::from_secs(5));
            let Wakeup::Datagram { len, from } = client.receive(&mut buf, &stop, deadline).unwrap()
            else {
                panic!("the server did not answer a read");
            };
            assert_eq!(from, server.local_addr().unwrap());
            assert_eq!(len, 33);
            let reply = Message::decode(&buf[..len]).unwrap();
            assert_eq!(reply, message(MsgType::ReadRep, KEY, REPLY_VALUE));
        }
        let deadline = Some(Instant::now() + Duration::from_millis(50));
        assert_eq!(
            client.receive(&mut buf, &stop, deadline).unwrap(),
            Wakeup::Deadline,
            "only the two reads should have been answered"
        );
    }
}
