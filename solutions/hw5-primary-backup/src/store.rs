//! The store every replica keeps: the last value written under each key.
//!
//! The primary and each backup hold one [`Store`] each. Replication is the
//! art of keeping them equal: the primary applies a client's write to its
//! own store at once and forwards it, and each backup applies it when the
//! forward arrives. Once every write has reached every replica, in the same
//! order, the three stores are the same map.

use std::collections::HashMap;

use handout::{Message, MsgType};

/// The value a read returns for a key that was never written.
///
/// It is the value the course's servers answered every read with, so the
/// course's transcripts still hold for fresh keys, and
/// [`handout::generate_value`] never makes it.
pub const UNWRITTEN: &str = "DDDCCCCBBBBAAAA";

/// The replica's data: the last value written under each key.
///
/// The course's servers kept a fixed table of 1000 slots and no keys, so
/// two keys sharing a slot overwrote each other; a map keeps every key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Store {
    values: HashMap<String, String>,
}

impl Store {
    /// An empty store: every key reads as [`UNWRITTEN`].
    pub fn new() -> Store {
        Store::default()
    }

    /// The value a read of `key` returns now.
    pub fn value(&self, key: &str) -> &str {
        self.values.get(key).map_or(UNWRITTEN, String::as_str)
    }

    /// Stores `value` under `key`, replacing any earlier value.
    pub fn write(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_string(), value.to_string());
    }

    /// The answer to a `READ_REQ` for `key`: `READ_REP key value`, 33 bytes
    /// on the wire.
    pub fn read_reply(&self, key: &str) -> Message {
        Message {
            kind: MsgType::ReadRep,
            key: key.to_string(),
            value: self.value(key).to_string(),
        }
    }
}

/// The acknowledgement of a write of `key`: `WRITE_REP key`, 17 bytes on
/// the wire. The primary sends it to the client, and a backup to the
/// primary.
pub fn write_reply(key: &str) -> Message {
    Message {
        kind: MsgType::WriteRep,
        key: key.to_string(),
        value: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAAAAAAAATqkp";

    /// A key never written reads as UNWRITTEN; a write replaces the value.
    #[test]
    fn a_read_returns_the_last_write() {
        let mut store = Store::new();
        assert_eq!(store.value(KEY), UNWRITTEN);
        store.write(KEY, "first");
        store.write(KEY, "second");
        assert_eq!(store.value(KEY), "second");
        assert_eq!(store.value("AAAAAAAAAAAAFGP"), UNWRITTEN);
    }

    /// The replies have the course's lengths: 33 bytes for a READ_REP, 17
    /// for a WRITE_REP.
    #[test]
    fn replies_have_the_courses_lengths() {
        let mut store = Store::new();
        store.write(KEY, "v");
        let reply = store.read_reply(KEY);
        assert_eq!(reply, Message::new(MsgType::ReadRep, KEY, "v").unwrap());
        assert_eq!(reply.encode().len(), 33);
        assert_eq!(write_reply(KEY).encode().len(), 17);
    }
}
