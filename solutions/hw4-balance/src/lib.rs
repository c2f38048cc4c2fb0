//! Lab hw4, power of two choices: four identical servers, one client, and
//! the question of which server should take the next request.
//!
//! This is teaching code: short functions, with the reasons written next
//! to them, over speed or generality. Sockets and waiting come ready-made
//! from the handout library ([`handout::net`]); this lab is about how the
//! client spreads its requests.
//!
//! Five programs run on 127.0.0.1: four servers that answer every READ_REQ
//! with the same READ_REP, and a client that keeps up to W requests in
//! flight at once:
//!
//! ```text
//!                               ┌─────────────┐
//!                         ┌───► │ server 5001 │  0 in flight
//!                         │     └─────────────┘
//!  ┌────────┐  READ_REQ k │     ┌─────────────┐
//!  │ client │ ────────────┼───► │ server 5002 │  2 in flight  ◄─ candidate a
//!  └────────┘             │     └─────────────┘
//!   ◄── READ_REP k v      │     ┌─────────────┐
//!                         ├───► │ server 5003 │  1 in flight  ◄─ candidate b: chosen
//!                         │     └─────────────┘
//!                         │     ┌─────────────┐
//!                         └───► │ server 5004 │  5 in flight  (the slow one)
//!                               └─────────────┘
//! ```
//!
//! # The power of two choices
//!
//! For each request the client draws two *different* servers at random,
//! the candidates, and sends the request to the one with fewer requests
//! **in flight**: sent, and not yet answered. That is all. It sounds like a
//! small change from picking one server at random, and it changes
//! everything (Mitzenmacher, "The Power of Two Choices in Randomized Load
//! Balancing", IEEE TPDS 2001; Azar, Broder, Karlin and Upfal, "Balanced
//! Allocations", 1994): with n servers and n requests placed at random, the
//! busiest server gets about `log n / log log n` of them; with the better of
//! two random choices, about `log log n`. A third choice helps far less than
//! the second.
//!
//! Production load balancers use exactly this rule: Envoy's `LEAST_REQUEST`
//! balancer, NGINX's `random two least_conn`, HAProxy's `random(2)`, and
//! Finagle's balancers all compare two random candidates by their
//! outstanding requests.
//!
//! # Why in flight, and not requests sent
//!
//! The course's client compared how many requests it had *sent* to each
//! candidate so far. With one request at a time, every earlier request is
//! answered before the next is sent, so "sent so far" is the only history
//! the client has, and all servers look alike. Its count balances the
//! *number* of requests, not the *load*: a server that takes ten times as
//! long per request still gets its even share, and its queue grows.
//!
//! Requests in flight measure the load itself. A slow server answers late,
//! so its requests stay in flight longer, its count is higher whenever the
//! client looks, and it loses most comparisons. No one has to tell the
//! client which server is slow: the queue tells it.
//!
//! # Why two choices beat one random choice with a slow server
//!
//! Picking one server at random sends each server a quarter of the
//! requests, whatever its speed. The slow server's quarter piles up in its
//! queue; the client's W slots fill with requests stuck there, and the whole
//! run goes at the pace of the slow server. With two choices the slow server
//! is a candidate in half of the draws, but it is *chosen* only when the
//! other candidate is at least as busy, which rarely happens: its share of
//! the requests falls well below a quarter, and the client's slots stay with
//! the servers that answer. The `slow-server-share` test measures both.
//!
//! Always picking the least loaded server of all (`--policy least`) uses
//! even more information, and with a single client it does well. With many
//! clients it herds: they all see the same idle server and all send to it at
//! once. Two random candidates keep the benefit and break the herd.
//!
//! # Layout
//!
//! - [`choice`]: the choice rule: [`Policy`](choice::Policy) (`p2c`,
//!   `random`, `least`), the draws, and the candidate with fewer requests in
//!   flight.
//! - [`in_flight`]: the client's bookkeeping: every request sent and not yet
//!   answered, the count per server, and which request a reply completes.
//! - [`server`]: the server: answers every READ_REQ, one at a time, after an
//!   optional delay (`--delay-ms`) that makes it slow.
//! - [`client`]: the client: keeps up to W requests in flight, chooses a
//!   server for each, retransmits, and reports who answered how many.
//! - [`cli`]: the command-line arguments of the two programs.

pub mod choice;
pub mod cli;
pub mod client;
pub mod in_flight;
pub mod server;
