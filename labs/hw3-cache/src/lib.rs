//! Lab hw3, look-aside cache: a small, fast cache in front of a storage
//! server, and a client that reads through it and keeps it coherent.
//!
//! This is teaching code: short functions, with the reasons written next
//! to them, over speed or generality. Sockets, waiting and retransmission
//! come ready-made from the handout library ([`handout::net`]); this lab is
//! about what the three programs do with them.
//!
//! Three programs run on 127.0.0.1:
//!
//! ```text
//!              READ_REQ k ──────────►  ┌─────────────┐
//!            ◄── CACHE_HIT k v         │ cache  5001 │  LRU of at most C keys
//!            ◄── CACHE_MISS k          │             │
//!  ┌────────┐    WRITE_REQ k v ─────►  │             │  (fill after a miss,
//!  │ client │ ◄── WRITE_REP k          └─────────────┘   update after a write)
//!  └────────┘
//!              READ_REQ k ──────────►  ┌─────────────┐
//!            ◄── READ_REP k v          │ server 5002 │  the store: the truth
//!              WRITE_REQ k v ───────►  │             │
//!            ◄── WRITE_REP k           └─────────────┘
//! ```
//!
//! The cache and the server never talk to each other: the cache sits
//! *beside* the store, not in front of it, and the client does the work
//! (hence "look-aside"). A read asks the cache; on a miss it reads the
//! server and then fills the cache with what it read. A write goes to the
//! server and then updates the cache, so that the cache does not keep
//! answering with the old value. The cache holds at most C keys and, when
//! a new one comes in, forgets the one used least recently (LRU).
//!
//! The course's cache held no data and flipped a coin for hit or miss, and
//! nothing filled or updated it. Here every hit and miss is real and can be
//! checked, and the client reports its hit ratio at the end: the share of
//! reads the cache answered, which is what a cache is for.
//!
//! # Layout
//!
//! - [`lru`]: [`Lru`](lru::Lru), a map of bounded size that evicts the
//!   least recently used key.
//! - [`cache`]: the cache program: answers CACHE_HIT or CACHE_MISS, stores
//!   fills and updates.
//! - [`server`]: the storage server: a map that stores writes and answers
//!   reads (lab hw2's server, handed out complete).
//! - [`client`]: the client: the workload, look-aside reads, writes then
//!   updates, retransmission, the hit ratio.
//! - [`cli`]: the command-line arguments of the three programs.

pub mod cache;
pub mod cli;
pub mod client;
pub mod lru;
pub mod server;
