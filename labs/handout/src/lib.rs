//! The handout library: what every lab and every reference solution shares.
//!
//! In the original C course each lab came with a `util.h` holding the message
//! struct, the key generator and a hash function. This crate plays that part.
//! It is teaching code: it favours short, readable functions with the reasons
//! written next to them over speed or generality, and it has no dependencies,
//! so every line a lab relies on can be read here.
//!
//! # Layout
//!
//! - [`message`]: the 17- or 33-byte UDP record every lab sends, its
//!   [`MsgType`]s, and how to [encode](Message::encode) and
//!   [decode](Message::decode) it.
//! - [`keys`]: the course's key generator ([`generate_key`],
//!   [`key_from_number`]), [`hash64`], and [`partition_for`], which picks the
//!   server that owns a key.
//! - [`rng`]: [`Rng`], a small seeded random generator, so that `--seed S`
//!   replays a run exactly, [`seed_from_clock`] for when no seed is given,
//!   and [`Zipf`], a skewed choice among N keys (lab 3's workload).
//! - `net` (with the `net` feature, labs hw2 on): the socket layer hw1's
//!   students wrote: a UDP `Endpoint`, Ctrl+C as a file descriptor
//!   (`StopSignals`), and `ask`, which sends a request again until its
//!   answer comes.
//!
//! # Example
//!
//! ```
//! use handout::{generate_key, Message, MsgType, Rng, DATASET_SIZE};
//!
//! let mut rng = Rng::new(7);
//! let key = generate_key(&mut rng, DATASET_SIZE);
//! let request = Message::new(MsgType::ReadReq, &key, "").unwrap();
//! let datagram = request.encode(); // 17 bytes: a READ_REQ carries no value
//! assert_eq!(datagram.len(), 17);
//! assert_eq!(Message::decode(&datagram).unwrap(), request);
//! ```

pub mod keys;
pub mod message;
#[cfg(feature = "net")]
pub mod net;
pub mod rng;

/// The line a program prints, after an empty line, when Ctrl+C (or SIGTERM)
/// asks it to stop.
pub const GOODBYE: &str = "Ctrl+C pressed. Exit the program after closing the socket";

pub use keys::{
    DATASET_SIZE, HW1_DATASET_SIZE, generate_key, generate_value, hash64, key_from_number,
    partition_for,
};
pub use message::{
    DecodeError, Field, FieldError, HEADER_LEN, KEY_SIZE, MAX_TEXT_LEN, Message, MsgType,
    RECORD_LEN, VALUE_SIZE,
};
pub use rng::{Rng, Zipf, seed_from_clock};
