//! A UDP endpoint over a raw socket, and the one place where a program waits.
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
//! A busy server need not sleep at all: when requests come faster than it
//! answers them, the next one is already queued in the socket by the time
//! it has sent a reply. [`Endpoint::try_receive`] reads such a datagram
//! without waiting (`recvmsg(2)` with `MSG_DONTWAIT`), so the server's loop
//! ([`serve`](crate::server::serve)) asks the queue first and waits in
//! [`Endpoint::receive`] only when the queue is empty: two system calls per
//! request under load (read, send) instead of three (poll, read, send).

use std::io::IoSliceMut;
use std::net::SocketAddrV4;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Instant;

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

/// How many datagrams a server reads from its queue in a row, with
/// [`Endpoint::try_receive`], before it waits in [`Endpoint::receive`]
/// again.
///
/// Only `receive` watches the signal descriptor. A flood that kept the queue
/// from ever running empty would otherwise keep the server from noticing
/// Ctrl+C for as long as it lasts; with this bound, the signal is seen
/// within 64 datagrams. Going through `poll(2)` once every 64 requests costs
/// next to nothing.
pub const BURST: usize = 64;

/// A UDP socket bound to a local address.
///
/// The socket is closed when the `Endpoint` is dropped: `OwnedFd` calls
/// `close(2)` for us, exactly once.
#[derive(Debug)]
pub struct Endpoint {
    fd: OwnedFd,
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
        // TODO: Open a UDP socket and bind it to `addr`: socket(2), then
        //       bind(2). Both programs start here: the server binds its
        //       well-known port, the client port 0, any free one.
        //
        // SOCK_CLOEXEC closes the socket in any program we might exec; a
        // habit worth having even where nothing is exec'd.
        todo!("bind the socket")
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
        // TODO: Send `datagram` to `to` with sendto(2): one call, one
        //       datagram, whole or not at all.
        todo!("send a datagram")
    }

    /// Waits until a datagram arrives, `deadline` passes, or `stop` catches
    /// a signal, whichever comes first, and says which.
    ///
    /// A datagram is read into `buf` (make it [`MAX_DATAGRAM`] bytes long).
    /// A caught signal wins over a waiting datagram, so that Ctrl+C works even
    /// while someone floods the socket. `None` as the deadline waits as long
    /// as it takes.
    ///
    /// # Errors
    ///
    /// Whatever `poll(2)` or `recvfrom(2)` reports, except `EINTR`, after
    /// which it simply waits again.
    pub fn receive(
        &self,
        buf: &mut [u8],
        stop: &StopSignals,
        deadline: Option<Instant>,
    ) -> nix::Result<Wakeup> {
        // TODO: Sleep in poll(2) until the socket or `stop` is readable or
        //       `deadline` passes, and say which. This one wait lets a program
        //       use no CPU while idle, yet notice Ctrl+C and its own timer.
        //
        // Going round the loop after a timeout, rather than returning
        // Deadline at once, makes the deadline exact even if poll(2) wakes
        // a little early. recvfrom(2) always reports the sender of a UDP
        // datagram; nix returns an Option only because other socket types
        // may not.
        todo!("wait for a datagram")
    }

    /// Reads a datagram that is already queued in the socket, without
    /// waiting for one: `None` when the queue is empty.
    ///
    /// The socket stays blocking; `MSG_DONTWAIT` makes this one read
    /// return `EAGAIN` at once instead of sleeping. (nix's `recvfrom` takes
    /// no flags, so this is `recvmsg(2)`, the same read with them.) It never
    /// looks at the signal descriptor: a loop of these must stop now and
    /// then to [`Endpoint::receive`] (see [`BURST`]), and only `receive`
    /// may wait.
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
}
