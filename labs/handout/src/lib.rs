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
//!   replays a run exactly, and [`seed_from_clock`] for when no seed is given.
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
pub mod rng;

pub use keys::{
    DATASET_SIZE, HW1_DATASET_SIZE, generate_key, hash64, key_from_number, partition_for,
};
pub use message::{
    DecodeError, Field, FieldError, HEADER_LEN, KEY_SIZE, MAX_TEXT_LEN, Message, MsgType,
    RECORD_LEN, VALUE_SIZE,
};
pub use rng::{Rng, seed_from_clock};
