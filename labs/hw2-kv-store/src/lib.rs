//! Lab hw2, a partitioned key-value store: N servers each hold one part of
//! the keys, and a client sends every read and write to the server that
//! owns its key.
//!
//! This is teaching code. It is as small as the idea allows, and the
//! comments say what real stores do differently.
//!
//! # The design
//!
//! A single server holds only as much data, and answers only as many
//! requests, as one machine can. Partitioning (sharding) splits the keys
//! among N servers, so that each holds and serves about 1/N of them. It
//! needs one rule that every client applies the same way: the owner of a
//! key is server number `hash64(key) % N`, numbered in the order the
//! servers are given on the client's command line. The servers know
//! nothing of each other, nor of N; each is a plain store.
//!
//! - The **client** draws each request from one seeded generator: read or
//!   write, a key among `--keys` keys, and for a write a fresh value. It
//!   prints the course's transcript, sends the request to the owner of its
//!   key, and waits for the reply, sending the request again when no reply
//!   comes in time. It accepts only the reply that answers its request: from
//!   that server, of the right type, for the right key.
//! - A **server** keeps the last value written under each key in a
//!   [`server::Store`]. A write is stored and acknowledged with a
//!   `WRITE_REP`; a read is answered with a `READ_REP` carrying the stored
//!   value, or [`server::UNWRITTEN`] for a key never written. Anything else
//!   is reported on stderr and gets no answer.
//!
//! Since the client retransmits, a server may apply a request twice. Both
//! operations are idempotent, so that does no harm; and since each key has
//! exactly one owner and the client waits for each reply before its next
//! request, a read always returns the last value that client wrote. There
//! is no replication: a server that dies takes its partition with it. hw5
//! adds backups.
//!
//! The sockets, the wait for a datagram or Ctrl+C, and the retransmission
//! loop are hw1's work, handed out ready-made in [`handout::net`].
//!
//! # Layout
//!
//! - [`server`]: the store and the server loop: apply each request, answer
//!   it, survive everything else.
//! - [`client`]: drawing requests, routing each to its partition
//!   ([`client::server_for`]), and waiting for its reply.
//! - [`cli`]: the command-line arguments of both programs.

pub mod cli;
pub mod client;
pub mod server;
