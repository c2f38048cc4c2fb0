//! Lab hw1, UDP echo: a server that answers every request, and a client that
//! gets its answers even when the network loses, duplicates or misdirects
//! datagrams.
//!
//! This is teaching code. It talks to the operating system through the same
//! POSIX calls a C program would use — `socket(2)`, `bind(2)`, `sendto(2)`,
//! `recvfrom(2)`, `poll(2)` — wrapped only as thinly as the `nix` crate wraps
//! them, so that every step stays visible. Production code would reach for
//! `std::net::UdpSocket` or an async runtime such as tokio instead.
//!
//! The client sends five `READ_REQ` records (value `AAAABBBBCCCCDDD`), one at
//! a time; the server answers each with a `READ_REP` for the same key (value
//! `DDDCCCCBBBBAAAA`) to the address the request came from. UDP promises
//! nothing: a request or its reply may be lost, a reply may arrive twice, and
//! anyone may send anything to a socket. So the client waits for a reply only
//! for a while and then sends the request again, and it accepts only a reply
//! that answers the request it is waiting for. The server, for its part,
//! sleeps in the kernel while there is nothing to do, instead of asking the
//! socket over and over as the course's C server did.
//!
//! # Layout
//!
//! - [`socket`]: a UDP endpoint over a raw file descriptor, and a way to wait
//!   for a datagram, a deadline or Ctrl+C, whichever comes first.
//! - [`server`]: the echo server: answer every well-formed request.
//! - [`client`]: the client: send requests, retransmit on timeout, ignore
//!   stray datagrams.
//! - [`cli`]: the command-line arguments of both programs.

pub mod cli;
pub mod client;
pub mod server;
pub mod socket;

/// The line a program prints, after an empty line, when Ctrl+C (or SIGTERM)
/// asks it to stop.
pub const GOODBYE: &str = "Ctrl+C pressed. Exit the program after closing the socket";
