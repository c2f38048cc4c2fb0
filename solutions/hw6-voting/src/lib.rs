//! Lab hw6, voting with a Byzantine server: a client that reads one key
//! from several servers, knowing that some of them may lie, and believes a
//! value only when enough *distinct* servers vouch for it.
//!
//! This is teaching code: short functions, with the reasons written next
//! to them, over speed or generality. Sockets, waiting and signals come
//! ready-made from the handout library ([`handout::net`]); this lab is
//! about which answers to believe.
//!
//! The course runs three servers and a client on 127.0.0.1:
//!
//! ```text
//!               READ_REQ k ────────►  ┌──────────────┐
//!             ◄── READ_REP k DDDD…    │ server 5001  │  honest
//!  ┌────────┐   READ_REQ k ────────►  ├──────────────┤
//!  │ client │ ◄── READ_REP k DDDD…    │ server 5002  │  honest
//!  └────────┘   READ_REQ k ────────►  ├──────────────┤
//!             ◄── READ_REP k SSWUCSE  │ server 5003  │  faulty: it lies
//!                                     └──────────────┘
//! ```
//!
//! The client sends every read to every server and prints `True` when the
//! servers agree enough to be believed, `False` when they cannot.
//!
//! # Byzantine faults, and why n = 2f + 1
//!
//! A server that crashes is easy to handle: it says nothing, and the client
//! waits for the others. A *Byzantine* server is worse: it answers, and its
//! answer is wrong. It may lie consistently, answer twice, answer for
//! another key, or say nothing at all; the client cannot tell a liar from an
//! honest server by looking at one answer. The only defence is numbers.
//!
//! Say at most `f` of the `n` servers are faulty (`--faults F`). A value
//! that `f + 1` distinct servers sent cannot come from liars alone, so at
//! least one honest server sent it, and honest servers tell the truth: the
//! client may believe it. Conversely the liars, all `f` of them together,
//! cannot gather `f + 1` votes for a lie. For the truth to reach `f + 1`
//! votes even when the liars say nothing, there must be `f + 1` honest
//! servers besides the `f` faulty ones: `n >= 2f + 1`. The course's three
//! servers tolerate one liar; five tolerate two. (Agreement protocols
//! among the servers themselves, where the servers must also agree with each
//! other on an order of writes, need more: PBFT uses `n = 3f + 1`.)
//!
//! # Which replies count
//!
//! A reply is a vote only if it comes from one of the servers' addresses,
//! decodes, is a READ_REP, carries the key the client asked for, and is the
//! *first* reply from that server to this request. Each rule closes a way
//! for the liar (or the network) to cheat:
//!
//! - **Distinct servers, not replies.** A liar that sends its lie twice, or
//!   a network that duplicates it, must not double its weight: `f + 1`
//!   replies could all come from one liar. So the client counts each server
//!   once, with its first reply.
//! - **Strangers are ignored.** A datagram from an address that is not one
//!   of the servers is not a vote: otherwise a liar (or anyone) could send
//!   its lie from a second socket and be counted as a second server. UDP
//!   does not authenticate senders, so real systems sign their messages
//!   (PBFT uses MACs); this lab trusts the address the kernel reports.
//! - **The request's key.** A reply for another key answers another
//!   question, perhaps an earlier request's late reply; counting it would
//!   mix two votes.
//!
//! # Deciding early
//!
//! The client decides the moment some value has `f + 1` votes: it does not
//! wait for the other servers, since nothing they say can change the
//! outcome (`f + 1` votes cannot all be lies). That matters because the
//! slowest, or a silent, server would otherwise set the pace of every read.
//! It also gives up the moment no value can reach `f + 1` any more. Then
//! it keeps printing the late replies until every server has answered or
//! the timeout ends, so that the transcript shows all of them.
//!
//! A server that says nothing is retransmitted to, until a decision or the
//! last try; a server that has answered is not asked again.
//!
//! # Layout
//!
//! - [`vote`]: [`Tally`](vote::Tally), the votes of one request: one per
//!   server, and the decision they allow. Pure: no sockets.
//! - [`server`]: the server program, honest or faulty.
//! - [`client`]: the client: asks every server, decides which replies
//!   count, retransmits, prints the transcript.
//! - [`cli`]: the command-line arguments of both programs.

pub mod cli;
pub mod client;
pub mod server;
pub mod vote;
