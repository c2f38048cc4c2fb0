//! Lab hw5, primary-backup replication: one primary and two backups hold
//! the same key-value store, and a client reads and writes through the
//! primary.
//!
//! This is teaching code: short functions, with the reasons written next
//! to them, over speed or generality. Sockets, waiting and retransmission
//! come ready-made from the handout library ([`handout::net`]); this lab is
//! about what the primary does with a write.
//!
//! Four programs run on 127.0.0.1, all of them but the client the same
//! `server` binary in one of two roles:
//!
//! ```text
//!                                     ┌──────────────┐  WRITE_REQ k v ──►  ┌──────────────┐
//!  ┌────────┐  READ_REQ k ───────►    │              │  ◄── WRITE_REP k    │ backup  5002 │
//!  │ client │  ◄── READ_REP k v       │ primary 5001 │                     └──────────────┘
//!  └────────┘  WRITE_REQ k v ────►    │              │  WRITE_REQ k v ──►  ┌──────────────┐
//!              ◄── WRITE_REP k        └──────────────┘  ◄── WRITE_REP k    │ backup  5003 │
//!                                                                          └──────────────┘
//! ```
//!
//! The client talks to the primary only. A read is answered from the
//! primary's store. A write is applied at the primary, forwarded to both
//! backups, and acknowledged to the client only once **both** backups have
//! acknowledged it: from then on the write survives the loss of any one
//! replica, and a client that was told "done" can rely on it. That rule is
//! the whole point of replication, and the course's programs already
//! followed it.
//!
//! What the course's programs did not do is survive the network. Here the
//! primary retransmits a forward that goes unacknowledged, and gives up
//! (abandons the write, and does not answer the client) after a number of
//! tries. Retransmission makes copies, so every replica must recognise a
//! write it has seen before: a write is identified by **who sent it, its
//! key and its value** ([`writes::WriteId`]); the client draws a fresh
//! random value for each write, so two different writes never share an
//! identity. And the primary forwards the writes of **one key one at a
//! time**, in the order they arrived, so that every replica applies them in
//! the same order and ends with the same value. The module
//! [`writes`] explains both rules, and why each is needed.
//!
//! # Layout
//!
//! - [`writes`]: [`WriteTable`](writes::WriteTable), the primary's record
//!   of every client write: seen before or new, queued behind an earlier
//!   write of its key, forwarded and waiting for acknowledgements, done or
//!   abandoned. Pure: no sockets, no clock of its own.
//! - [`primary`]: the primary role: one socket, one event loop with a
//!   timer for retransmissions.
//! - [`backup`]: the backup role: apply each forwarded write once, and
//!   acknowledge every copy.
//! - [`store`]: [`Store`](store::Store), the map from keys to values every
//!   replica keeps.
//! - [`server`]: the `server` program: picks the role and runs it.
//! - [`client`]: the client: the course's workload, one request at a time,
//!   all to the primary, with retransmission.
//! - [`cli`]: the command-line arguments of the two programs.

pub mod backup;
pub mod cli;
pub mod client;
pub mod primary;
pub mod server;
pub mod store;
pub mod writes;
