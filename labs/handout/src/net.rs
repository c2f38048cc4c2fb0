//! Sockets, waiting and retransmission: the plumbing every lab's programs
//! share, handed out from hw2 on.
//!
//! In hw1 each student wrote this layer themselves (the lab's `socket.rs`
//! and its client's retry loop). From hw2 on the labs are about what
//! several servers do together, so the layer comes ready-made here, behind
//! the crate's `net` feature (hw1 does not turn it on, so it cannot lean
//! on it):
//!
//! - [`Endpoint`]: a UDP socket over a raw file descriptor: bind, send, and
//!   [receive](Endpoint::receive) with a deadline and Ctrl+C.
//! - [`StopSignals`]: SIGINT and SIGTERM as a file descriptor `poll(2)` can
//!   watch.
//! - [`ask`]: send a request and wait for the datagram that answers it,
//!   sending it again when no answer comes in time ([`Retry`]).
//! - [`check_reply`]: the tests a reply must pass before a client believes
//!   it: the right sender, a record that decodes, an expected type, the key
//!   of the request.
//!
//! [`Endpoint`] owns a socket file descriptor and offers the three things a
//! UDP program does: open and bind a socket, send a datagram to an address,
//! and receive a datagram. Receiving is where a program spends its life, and
//! it must be able to stop waiting for three reasons: a datagram arrived, a
//! deadline passed (the client's retransmission timer), or the user pressed
//! Ctrl+C. [`Endpoint::receive`] waits for all three at once with `poll(2)`.
//!
//! Ctrl+C reaches the program as a signal, and a signal normally interrupts
//! whatever the program is doing at an arbitrary point. [`StopSignals`] turns
//! it into something calmer: SIGINT and SIGTERM are blocked, so they are no
//! longer delivered, and a `signalfd(2)` file descriptor becomes readable
//! when one of them is pending. `poll(2)` can watch that descriptor next to
//! the socket, so the program notices Ctrl+C exactly where it waits, and
//! nowhere else. (Rust's standard library offers no portable way to catch a
//! signal at all; tokio does the same thing with a self-pipe.)
//!
//! The course's C server set its socket non-blocking and asked it for a
//! datagram in an endless loop: an idle server burned a whole core. Here the
//! program sleeps in the kernel until there is something to do.
//!
//! A busy program need not sleep at all: when requests come faster than a
//! server answers them, the next one is already queued in the socket by the
//! time it has sent a reply. So [`Endpoint::receive`] first reads what is
//! queued, without waiting ([`Endpoint::try_receive`], `recvmsg(2)` with
//! `MSG_DONTWAIT`), and waits in `poll(2)` only when the queue is empty:
//! under load a request costs two system calls (read, send), as in a loop
//! of blocking `recvfrom(2)` calls, not three (poll, read, send). hw1's
//! server did the same in its own loop; here every program gets it.

use std::cell::Cell;
use std::fmt;
use std::io::IoSliceMut;
use std::net::SocketAddrV4;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::message::{DecodeError, Message, MsgType};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, SockaddrIn, bind, getsockname, recvfrom, recvmsg,
    sendto, socket,
};

/// A buffer this large holds any UDP datagram (the payload of an IPv4
/// datagram is at most 65,507 bytes).
///
/// A record is only 33 bytes, but a smaller buffer would silently cut a
/// longer datagram short: a 40-byte datagram would look like a well-formed
/// 33-byte record, when it is garbage.
pub const MAX_DATAGRAM: usize = 65_536;

/// How many datagrams [`Endpoint::receive`] takes from the queue in a row,
/// without `poll(2)`, before it waits in `poll(2)` again.
///
/// Only `poll(2)` watches the signal descriptor. A flood that kept the queue
/// from ever running empty would otherwise keep a server from noticing
/// Ctrl+C for as long as it lasts; with this bound, the signal is seen
/// within 64 datagrams. One `poll(2)` every 64 requests costs next to
/// nothing.
pub const BURST: usize = 64;

/// A UDP socket bound to a local address.
///
/// The socket is closed when the `Endpoint` is dropped: `OwnedFd` calls
/// `close(2)` for us, exactly once.
#[derive(Debug)]
pub struct Endpoint {
    fd: OwnedFd,
    /// How many datagrams [`Endpoint::receive`] has taken from the queue
    /// since it last waited in `poll(2)`; see [`BURST`]. `BURST` itself
    /// after a wait that ended without a datagram: the next call waits at
    /// once. A `Cell`, so that `receive` can count through `&self`: one
    /// thread waits on a socket.
    read_in_a_row: Cell<usize>,
}

/// Why [`Endpoint::receive`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// A datagram of `len` bytes arrived from `from`; it is at the start of
    /// the buffer.
    Datagram {
        /// The length of the datagram, in bytes.
        len: usize,
        /// The address of the socket that sent it.
        from: SocketAddrV4,
    },
    /// The deadline passed before anything arrived.
    Deadline,
    /// SIGINT (Ctrl+C) or SIGTERM asked the program to stop.
    Stop(Signal),
}

impl Endpoint {
    /// Opens a UDP socket bound to `addr`.
    ///
    /// Port 0 asks the kernel to pick a free port; [`Endpoint::local_addr`]
    /// tells which one it picked. A client binds port 0: it does not care
    /// which port it has, as long as the server can answer to it.
    ///
    /// # Errors
    ///
    /// Whatever `socket(2)` or `bind(2)` reports, most often `EADDRINUSE`
    /// when another socket already holds the port.
    pub fn bind(addr: SocketAddrV4) -> nix::Result<Endpoint> {
        let fd = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        bind(fd.as_raw_fd(), &SockaddrIn::from(addr))?;
        Ok(Endpoint {
            fd,
            read_in_a_row: Cell::new(0),
        })
    }

    /// The address the socket is bound to, as `getsockname(2)` reports it.
    ///
    /// # Errors
    ///
    /// Whatever `getsockname(2)` reports; with a bound socket, nothing.
    pub fn local_addr(&self) -> nix::Result<SocketAddrV4> {
        let addr: SockaddrIn = getsockname(self.fd.as_raw_fd())?;
        Ok(addr.into())
    }

    /// Sends `datagram` to `to` and returns the number of bytes sent.
    ///
    /// UDP sends a datagram whole or not at all, so the count is always
    /// `datagram.len()`; a successful send says nothing about whether the
    /// datagram will arrive.
    ///
    /// # Errors
    ///
    /// Whatever `sendto(2)` reports, e.g. `EMSGSIZE` for a datagram too large
    /// to send.
    pub fn send_to(&self, datagram: &[u8], to: SocketAddrV4) -> nix::Result<usize> {
        sendto(
            self.fd.as_raw_fd(),
            datagram,
            &SockaddrIn::from(to),
            MsgFlags::empty(),
        )
    }

    /// Waits until a datagram arrives, `deadline` passes, or `stop` catches
    /// a signal, whichever comes first, and says which.
    ///
    /// A datagram is read into `buf` (make it [`MAX_DATAGRAM`] bytes long).
    /// `None` as the deadline waits as long as it takes; a deadline that has
    /// passed is `Deadline` at once, even with datagrams queued.
    ///
    /// A datagram already queued is taken at once with
    /// [`Endpoint::try_receive`], one system call; only an empty queue makes
    /// it wait, in `poll(2)`. After [`BURST`] datagrams in a row it goes
    /// through `poll(2)` anyway, and there a caught signal wins over a
    /// waiting datagram: Ctrl+C works even while someone floods the socket.
    ///
    /// # Errors
    ///
    /// Whatever `poll(2)`, `recvfrom(2)` or `recvmsg(2)` reports, except
    /// `EINTR`, after which it simply waits again.
    pub fn receive(
        &self,
        buf: &mut [u8],
        stop: &StopSignals,
        deadline: Option<Instant>,
    ) -> nix::Result<Wakeup> {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Ok(Wakeup::Deadline);
        }
        let in_a_row = self.read_in_a_row.get();
        if in_a_row < BURST
            && let Some((len, from)) = self.try_receive(buf)?
        {
            self.read_in_a_row.set(in_a_row + 1);
            return Ok(Wakeup::Datagram { len, from });
        }
        let wakeup = self.wait(buf, stop, deadline)?;
        // A datagram may have company in the queue: look there first next
        // time. A deadline or a signal came while the queue was empty, so a
        // program woken by its timer (a retransmission, say) goes straight
        // back to poll(2) instead of asking an empty queue each time.
        let next = match wakeup {
            Wakeup::Datagram { .. } => 0,
            Wakeup::Deadline | Wakeup::Stop(_) => BURST,
        };
        self.read_in_a_row.set(next);
        Ok(wakeup)
    }

    /// Reads a datagram that is already queued in the socket, without
    /// waiting for one: `None` when the queue is empty.
    ///
    /// The socket stays blocking; `MSG_DONTWAIT` makes this one read return
    /// `EAGAIN` at once instead of sleeping. (nix's `recvfrom` takes no
    /// flags, so this is `recvmsg(2)`, the same read with them.) It never
    /// looks at the signal descriptor, and never waits: a program that
    /// called it in a loop until it said `Some` would spin.
    ///
    /// # Errors
    ///
    /// Whatever `recvmsg(2)` reports, except `EAGAIN` (the queue is empty)
    /// and `EINTR`, which are `None`.
    pub fn try_receive(&self, buf: &mut [u8]) -> nix::Result<Option<(usize, SocketAddrV4)>> {
        let mut iov = [IoSliceMut::new(buf)];
        match recvmsg::<SockaddrIn>(self.fd.as_raw_fd(), &mut iov, None, MsgFlags::MSG_DONTWAIT) {
            Ok(msg) => {
                let from = msg.address.ok_or(Errno::EAFNOSUPPORT)?;
                Ok(Some((msg.bytes, from.into())))
            }
            Err(Errno::EAGAIN | Errno::EINTR) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// [`Endpoint::receive`]'s wait: sleeps in `poll(2)` on the socket and
    /// the signal descriptor until one is readable or `deadline` passes.
    ///
    /// Going round the loop after a timeout, rather than returning
    /// `Deadline` at once, makes the deadline exact even if `poll(2)` wakes
    /// a little early.
    fn wait(
        &self,
        buf: &mut [u8],
        stop: &StopSignals,
        deadline: Option<Instant>,
    ) -> nix::Result<Wakeup> {
        loop {
            let timeout = match deadline {
                None => PollTimeout::NONE,
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(Wakeup::Deadline);
                    }
                    poll_timeout(deadline - now)
                }
            };
            let mut fds = [
                PollFd::new(self.fd.as_fd(), PollFlags::POLLIN),
                PollFd::new(stop.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, timeout) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(error) => return Err(error),
            }
            if fds[1].any() == Some(true)
                && let Some(signal) = stop.caught()?
            {
                return Ok(Wakeup::Stop(signal));
            }
            if fds[0].any() == Some(true) {
                let (len, from) = recvfrom::<SockaddrIn>(self.fd.as_raw_fd(), buf)?;
                let from = from.ok_or(Errno::EAFNOSUPPORT)?;
                return Ok(Wakeup::Datagram {
                    len,
                    from: from.into(),
                });
            }
        }
    }
}

/// Turns a time left into a `poll(2)` timeout in whole milliseconds.
///
/// It rounds *up*: rounding down would make poll(2) return just before the
/// deadline, and a caller would then poll again with a timeout of 0 in a
/// short burst of busy waiting.
pub fn poll_timeout(left: std::time::Duration) -> PollTimeout {
    let millis = left.as_nanos().div_ceil(1_000_000);
    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
}

/// SIGINT (Ctrl+C) and SIGTERM, turned into a file descriptor that `poll(2)`
/// can watch.
#[derive(Debug)]
pub struct StopSignals {
    fd: SignalFd,
}

impl StopSignals {
    /// Blocks SIGINT and SIGTERM in the calling thread and opens a
    /// `signalfd(2)` that becomes readable when one of them is pending.
    ///
    /// Call it first thing in `main`, before any other thread exists: new
    /// threads inherit the signal mask, and a signal is delivered to any one
    /// thread that does not block it.
    ///
    /// # Errors
    ///
    /// Whatever `pthread_sigmask(3)` or `signalfd(2)` reports.
    pub fn install() -> nix::Result<StopSignals> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGINT);
        mask.add(Signal::SIGTERM);
        mask.thread_block()?;
        // Non-blocking, so that `caught` never waits: it is called only when
        // poll(2) said there is something to read.
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
        Ok(StopSignals { fd })
    }

    /// Takes one pending signal, if there is one.
    ///
    /// # Errors
    ///
    /// Whatever `read(2)` on the signal descriptor reports.
    pub fn caught(&self) -> nix::Result<Option<Signal>> {
        let Some(info) = self.fd.read_signal()? else {
            return Ok(None);
        };
        let number = i32::try_from(info.ssi_signo).map_err(|_| Errno::EINVAL)?;
        Signal::try_from(number).map(Some)
    }
}

impl AsFd for StopSignals {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// How a client retransmits: wait `timeout` for an answer, then send the
/// request again, `tries` times in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// How long to wait for an answer to one copy of the request.
    pub timeout: Duration,
    /// How many copies to send before giving up, at least 1.
    pub tries: u32,
}

/// How [`ask`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// The answer, as `accept` returned it.
    Reply(T),
    /// Every try timed out.
    GaveUp,
    /// SIGINT or SIGTERM arrived while waiting.
    Stopped(Signal),
}

/// Sends `request` to `to` and waits for a datagram that `accept` takes,
/// sending the same bytes again after each `retry.timeout` with no answer.
///
/// `accept` sees every datagram that arrives, with its sender, and returns
/// the answer or why the datagram is not one; the reason is printed on
/// stderr after `who` (`client: ignoring ...`) and the wait goes on. Each
/// copy's deadline is fixed when it is sent: a stream of stray datagrams
/// does not put the next copy off.
///
/// # Errors
///
/// Whatever `sendto(2)`, `poll(2)` or `recvfrom(2)` reports.
pub fn ask<T>(
    endpoint: &Endpoint,
    stop: &StopSignals,
    request: &[u8],
    to: SocketAddrV4,
    retry: Retry,
    who: &str,
    mut accept: impl FnMut(&[u8], SocketAddrV4) -> Result<T, Stray>,
) -> nix::Result<Answer<T>> {
    let mut buf = vec![0; MAX_DATAGRAM];
    for attempt in 1..=retry.tries {
        if attempt > 1 {
            eprintln!(
                "{who}: no answer from {to} within {} ms; sending again (try {attempt} of {})",
                retry.timeout.as_millis(),
                retry.tries
            );
        }
        endpoint.send_to(request, to)?;
        let deadline = Instant::now() + retry.timeout;
        loop {
            match endpoint.receive(&mut buf, stop, Some(deadline))? {
                Wakeup::Datagram { len, from } => match accept(&buf[..len], from) {
                    Ok(answer) => return Ok(Answer::Reply(answer)),
                    Err(stray) => eprintln!("{who}: ignoring {stray}"),
                },
                Wakeup::Deadline => break,
                Wakeup::Stop(signal) => return Ok(Answer::Stopped(signal)),
            }
        }
    }
    Ok(Answer::GaveUp)
}

/// Why a datagram is not the answer a client waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stray {
    /// It came from someone other than the peer the request went to.
    Stranger {
        /// Who sent it.
        from: SocketAddrV4,
        /// Who was asked.
        peer: SocketAddrV4,
    },
    /// It is not a record.
    Malformed {
        /// Who sent it.
        from: SocketAddrV4,
        /// What is wrong with it.
        error: DecodeError,
    },
    /// A record of a type that does not answer the request.
    WrongType {
        /// Its type.
        kind: MsgType,
        /// The types that would.
        expected: Vec<MsgType>,
    },
    /// A record for another key: a late answer to an earlier request.
    WrongKey {
        /// Its key.
        key: String,
        /// The key of the request.
        expected: String,
    },
}

impl fmt::Display for Stray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stray::Stranger { from, peer } => {
                write!(f, "datagram from {from}: the request went to {peer}")
            }
            Stray::Malformed { from, error } => {
                write!(f, "malformed datagram from {from}: {error}")
            }
            Stray::WrongType { kind, expected } => {
                let names: Vec<&str> = expected.iter().map(|t| t.name()).collect();
                write!(f, "{kind} from the peer: expected {}", names.join(" or "))
            }
            Stray::WrongKey { key, expected } => {
                write!(f, "answer for key {key}: the request is for key {expected}")
            }
        }
    }
}

impl std::error::Error for Stray {}

/// The checks a client makes before it believes a datagram answers its
/// request: it comes from `peer`, the very address the request went to; it
/// decodes; its type is one of `kinds`; it carries `key`.
///
/// # Errors
///
/// The first check that fails, as a [`Stray`].
pub fn check_reply(
    datagram: &[u8],
    from: SocketAddrV4,
    peer: SocketAddrV4,
    kinds: &[MsgType],
    key: &str,
) -> Result<Message, Stray> {
    if from != peer {
        return Err(Stray::Stranger { from, peer });
    }
    let reply = Message::decode(datagram).map_err(|error| Stray::Malformed { from, error })?;
    if !kinds.contains(&reply.kind) {
        return Err(Stray::WrongType {
            kind: reply.kind,
            expected: kinds.to_vec(),
        });
    }
    if reply.key != key {
        return Err(Stray::WrongKey {
            key: reply.key,
            expected: key.to_string(),
        });
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn any_port() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)
    }

    /// A datagram sent to our own socket comes back whole, with our address
    /// as the sender.
    #[test]
    fn a_datagram_to_ourselves_arrives_whole() {
        let stop = StopSignals::install().unwrap();
        let endpoint = Endpoint::bind(any_port()).unwrap();
        let addr = endpoint.local_addr().unwrap();
        assert_ne!(addr.port(), 0, "getsockname should report the port picked");

        assert_eq!(endpoint.send_to(b"hello", addr).unwrap(), 5);
        let mut buf = vec![0; MAX_DATAGRAM];
        let deadline = Instant::now() + Duration::from_secs(5);
        let wakeup = endpoint.receive(&mut buf, &stop, Some(deadline)).unwrap();
        assert_eq!(wakeup, Wakeup::Datagram { len: 5, from: addr });
        assert_eq!(&buf[..5], b"hello");
    }

    /// With nothing to read, `receive` returns at the deadline, not before.
    #[test]
    fn receive_gives_up_at_the_deadline() {
        let stop = StopSignals::install().unwrap();
        let endpoint = Endpoint::bind(any_port()).unwrap();
        let mut buf = vec![0; MAX_DATAGRAM];
        let deadline = Instant::now() + Duration::from_millis(50);
        let wakeup = endpoint.receive(&mut buf, &stop, Some(deadline)).unwrap();
        assert_eq!(wakeup, Wakeup::Deadline);
        assert!(Instant::now() >= deadline, "returned before the deadline");
    }

    /// `try_receive` says `None` at once when nothing is queued, and reads
    /// a queued datagram whole, with its sender.
    #[test]
    fn try_receive_reads_only_what_is_queued() {
        let endpoint = Endpoint::bind(any_port()).unwrap();
        let addr = endpoint.local_addr().unwrap();
        // On a blocking socket, a plain recvfrom(2) would sleep here for
        // ever; run it aside, so that such a bug fails instead of hanging.
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0; MAX_DATAGRAM];
            let got = endpoint.try_receive(&mut buf);
            let _ = done.send((endpoint, got));
        });
        let (endpoint, got) = result
            .recv_timeout(Duration::from_secs(5))
            .expect("try_receive waited on an empty socket");
        assert_eq!(got.unwrap(), None);

        endpoint.send_to(b"hello", addr).unwrap();
        // Wait until the datagram is queued, then read it without waiting.
        let mut fds = [PollFd::new(endpoint.fd.as_fd(), PollFlags::POLLIN)];
        assert_eq!(poll(&mut fds, PollTimeout::from(5000u16)).unwrap(), 1);
        let mut buf = vec![0; MAX_DATAGRAM];
        assert_eq!(endpoint.try_receive(&mut buf).unwrap(), Some((5, addr)));
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(endpoint.try_receive(&mut buf).unwrap(), None);
    }

    /// `receive` takes queued datagrams without looking at the signal
    /// descriptor, but only [`BURST`] in a row: with SIGTERM pending and a
    /// flood queued, `Stop` comes while datagrams still wait.
    #[test]
    fn a_flood_cannot_hold_off_a_signal() {
        let stop = StopSignals::install().unwrap();
        let server = Endpoint::bind(any_port()).unwrap();
        let server_addr = server.local_addr().unwrap();
        let client = Endpoint::bind(any_port()).unwrap();
        for _ in 0..2 * BURST {
            client.send_to(b"flood", server_addr).unwrap();
        }
        let mut fds = [PollFd::new(server.fd.as_fd(), PollFlags::POLLIN)];
        assert_eq!(poll(&mut fds, PollTimeout::from(5000u16)).unwrap(), 1);
        // raise(3) signals this thread only, which blocks SIGTERM: the
        // signal stays pending until `receive` reads it.
        nix::sys::signal::raise(Signal::SIGTERM).unwrap();

        let mut buf = vec![0; MAX_DATAGRAM];
        let mut read = 0;
        loop {
            match server.receive(&mut buf, &stop, None).unwrap() {
                Wakeup::Datagram { .. } => read += 1,
                Wakeup::Stop(Signal::SIGTERM) => break,
                other => panic!("expected a datagram or SIGTERM, got {other:?}"),
            }
            assert!(read <= BURST, "{read} datagrams in a row hid SIGTERM");
        }
        assert!(read >= 1, "SIGTERM came before the queued datagram");
        // The flood is still there: the signal did not wait for it to end.
        let deadline = Some(Instant::now() + Duration::from_secs(5));
        assert!(matches!(
            server.receive(&mut buf, &stop, deadline).unwrap(),
            Wakeup::Datagram { len: 5, .. }
        ));
    }

    /// A pending SIGTERM wakes `receive` even when it would wait forever.
    #[test]
    fn a_signal_stops_the_wait() {
        let stop = StopSignals::install().unwrap();
        let endpoint = Endpoint::bind(any_port()).unwrap();
        // raise(3) signals this thread only, and this thread blocks SIGTERM:
        // the signal stays pending instead of killing the test process.
        nix::sys::signal::raise(Signal::SIGTERM).unwrap();
        let mut buf = vec![0; MAX_DATAGRAM];
        let wakeup = endpoint.receive(&mut buf, &stop, None).unwrap();
        assert_eq!(wakeup, Wakeup::Stop(Signal::SIGTERM));
    }

    /// The poll timeout never ends before the time left.
    #[test]
    fn poll_timeout_rounds_up() {
        assert_eq!(poll_timeout(Duration::ZERO), PollTimeout::ZERO);
        assert_eq!(
            poll_timeout(Duration::from_micros(1)),
            PollTimeout::from(1u8)
        );
        assert_eq!(
            poll_timeout(Duration::from_millis(500)),
            PollTimeout::from(500u16)
        );
        assert_eq!(
            poll_timeout(Duration::from_secs(u64::MAX)),
            PollTimeout::MAX
        );
    }

    /// `ask` sends again after a timeout, skips what `accept` refuses, and
    /// returns the answer.
    #[test]
    fn ask_retransmits_and_skips_strays() {
        let stop = StopSignals::install().unwrap();
        let client = Endpoint::bind(any_port()).unwrap();
        let server = Endpoint::bind(any_port()).unwrap();
        let server_addr = server.local_addr().unwrap();
        let key = "AAAAAAAAAAotIhz";
        let request = Message::new(MsgType::ReadReq, key, "").unwrap().encode();
        let lossy = std::thread::spawn(move || {
            let stop = StopSignals::install().unwrap();
            let mut buf = vec![0; MAX_DATAGRAM];
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut from = None;
            for _ in 0..2 {
                match server.receive(&mut buf, &stop, Some(deadline)).unwrap() {
                    Wakeup::Datagram { from: f, .. } => from = Some(f),
                    other => panic!("the request did not come twice: {other:?}"),
                }
            }
            let from = from.unwrap();
            let stale = Message::new(MsgType::ReadRep, "AAAAAAAAAAAAAAB", "x").unwrap();
            server.send_to(&stale.encode(), from).unwrap();
            let good = Message::new(MsgType::ReadRep, key, "v").unwrap();
            server.send_to(&good.encode(), from).unwrap();
        });
        let retry = Retry {
            timeout: Duration::from_millis(50),
            tries: 100,
        };
        let answer = ask(
            &client,
            &stop,
            &request,
            server_addr,
            retry,
            "test",
            |d, from| check_reply(d, from, server_addr, &[MsgType::ReadRep], key),
        )
        .unwrap();
        lossy.join().unwrap();
        let Answer::Reply(reply) = answer else {
            panic!("no reply: {answer:?}");
        };
        assert_eq!(reply.value, "v");
    }

    /// `ask` gives up after its tries.
    #[test]
    fn ask_gives_up() {
        let stop = StopSignals::install().unwrap();
        let client = Endpoint::bind(any_port()).unwrap();
        let silent = Endpoint::bind(any_port()).unwrap();
        let retry = Retry {
            timeout: Duration::from_millis(10),
            tries: 3,
        };
        let to = silent.local_addr().unwrap();
        let answer = ask(&client, &stop, b"x", to, retry, "test", |_, _| Ok(())).unwrap();
        assert_eq!(answer, Answer::GaveUp);
        let mut buf = vec![0; MAX_DATAGRAM];
        for _ in 0..3 {
            let soon = Some(Instant::now() + Duration::from_secs(1));
            let got = silent.receive(&mut buf, &stop, soon).unwrap();
            assert!(matches!(got, Wakeup::Datagram { len: 1, .. }), "{got:?}");
        }
    }

    /// Each check of `check_reply` refuses what it should, in order.
    #[test]
    fn check_reply_refuses_strays() {
        let peer: SocketAddrV4 = "127.0.0.1:5001".parse().unwrap();
        let other: SocketAddrV4 = "127.0.0.1:5002".parse().unwrap();
        let key = "AAAAAAAAAAotIhz";
        let good = Message::new(MsgType::ReadRep, key, "v").unwrap().encode();
        let kinds = [MsgType::ReadRep];
        assert!(check_reply(&good, peer, peer, &kinds, key).is_ok());
        let stray = check_reply(&good, other, peer, &kinds, key).unwrap_err();
        assert_eq!(
            stray.to_string(),
            "datagram from 127.0.0.1:5002: the request went to 127.0.0.1:5001"
        );
        let stray = check_reply(&good[..3], peer, peer, &kinds, key).unwrap_err();
        assert!(matches!(stray, Stray::Malformed { .. }), "{stray:?}");
        let stray = check_reply(
            &good,
            peer,
            peer,
            &[MsgType::CacheHit, MsgType::CacheMiss],
            key,
        )
        .unwrap_err();
        assert_eq!(
            stray.to_string(),
            "READ_REP from the peer: expected CACHE_HIT or CACHE_MISS"
        );
        let stray = check_reply(&good, peer, peer, &kinds, "AAAAAAAAAAAAAAB").unwrap_err();
        assert_eq!(
            stray.to_string(),
            "answer for key AAAAAAAAAAotIhz: the request is for key AAAAAAAAAAAAAAB"
        );
    }
}
