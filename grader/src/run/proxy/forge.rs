//! Forged datagrams: what a `forge` rule sends a receiver just before the
//! datagram it names.
//!
//! A forgery is made from the real datagram, so that it differs in one
//! thing the receiver must check: who sent it, its type, its key, its
//! value or its length. Real attackers forge the same way (a spoofed DNS
//! answer copies the question it answers, and only the address differs),
//! which is why a client must check each of these and not just one.

use handout::{FieldError, Message, MsgType, RECORD_LEN};

use crate::spec::{OTHER_KEY, RuleMatch};

/// A record of `kind` with `key` and `value`, as `len` bytes: cut, or
/// padded with NUL bytes. What a scripted node's `send` sends (with `len`
/// at most a full record), and what a forgery is built from.
///
/// # Errors
/// A key or value that does not fit its 16-byte field with its NUL.
pub fn record(kind: MsgType, key: &str, value: &str, len: usize) -> Result<Vec<u8>, FieldError> {
    let mut bytes = Message::new(kind, key, value)?.encode_full().to_vec();
    bytes.resize(len, 0);
    Ok(bytes)
}

/// The datagram rule `m` forges from `original`.
///
/// # Format
/// A record keeps its length (17 or 33 bytes), or becomes a full record
/// when `value` is given; `retype`, `key` and `value` replace their field,
/// each text NUL-terminated and padded as `specs/protocol.md` says. A
/// datagram that is not a record keeps its bytes, but for its first byte
/// (`retype`). Last, `bytes` cuts it or pads it with NUL bytes.
pub fn forge(m: &RuleMatch, original: &[u8]) -> Vec<u8> {
    let fields = m.retype.is_some() || m.key.is_some() || m.value.is_some();
    let mut bytes = match Message::decode(original) {
        Ok(real) if fields => {
            let kind = m.retype.map_or(real.kind, |t| t.0);
            let key = match m.key.as_deref() {
                None => real.key.clone(),
                Some(OTHER_KEY) => other_key(&real.key),
                Some(k) => k.to_string(),
            };
            let value = m.value.as_deref().unwrap_or(&real.value);
            let len = if m.value.is_some() {
                RECORD_LEN
            } else {
                original.len()
            };
            // Validation keeps the texts within their fields.
            record(kind, &key, value, len).unwrap_or_else(|_| original.to_vec())
        }
        _ => {
            let mut raw = original.to_vec();
            if let (Some(t), Some(first)) = (m.retype, raw.first_mut()) {
                *first = t.0.code();
            }
            raw
        }
    };
    if let Some(n) = m.bytes {
        bytes.resize(n, 0);
    }
    bytes
}

/// Another key of the same length: its last character changed, to `A`
/// (or to `B` when it was `A`), so that every seed gets the same
/// forgery. An empty key has no other of its length and stays.
pub fn other_key(key: &str) -> String {
    let mut other = key.to_string();
    match other.pop() {
        Some('A') => other.push('B'),
        // A character of several bytes becomes as many ASCII ones: the
        // same length on the wire.
        Some(c) => other.push_str(&"A".repeat(c.len_utf8())),
        None => {}
    }
    other
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::TypeName;
    use handout::HEADER_LEN;

    fn rule() -> RuleMatch {
        RuleMatch {
            from: "server".into(),
            to: "client".into(),
            ..RuleMatch::default()
        }
    }

    fn reply() -> Vec<u8> {
        Message::new(MsgType::ReadRep, "AAAAAAAAAAsal4P", "AAAABBBBCCCCDDD")
            .unwrap()
            .encode()
    }

    #[test]
    fn a_stranger_sends_the_datagram_unchanged() {
        let m = RuleMatch {
            sender: Some("stranger".into()),
            ..rule()
        };
        assert_eq!(forge(&m, &reply()), reply());
    }

    #[test]
    fn retype_changes_the_type_byte_only() {
        let m = RuleMatch {
            retype: Some(TypeName(MsgType::WriteRep)),
            ..rule()
        };
        let forged = forge(&m, &reply());
        assert_eq!(forged.len(), RECORD_LEN);
        assert_eq!(forged[0], MsgType::WriteRep.code());
        assert_eq!(forged[1..], reply()[1..]);
        // Not a record: the first byte all the same.
        assert_eq!(forge(&m, b"hello"), [3, b'e', b'l', b'l', b'o']);
    }

    #[test]
    fn key_other_changes_the_last_character() {
        let m = RuleMatch {
            key: Some("other".into()),
            ..rule()
        };
        let forged = Message::decode(&forge(&m, &reply())).unwrap();
        assert_eq!(forged.key, "AAAAAAAAAAsal4A");
        assert_eq!(forged.value, "AAAABBBBCCCCDDD");
        assert_eq!(other_key("KA"), "KB");
        assert_eq!(other_key("Ké"), "KAA");
        assert_eq!(other_key(""), "");
        let literal = RuleMatch {
            key: Some("ELSE".into()),
            ..rule()
        };
        assert_eq!(
            Message::decode(&forge(&literal, &reply())).unwrap().key,
            "ELSE"
        );
    }

    #[test]
    fn value_makes_a_full_record() {
        let m = RuleMatch {
            value: Some("FROMASTRANGER".into()),
            ..rule()
        };
        let request = Message::new(MsgType::ReadReq, "K", "").unwrap().encode();
        assert_eq!(request.len(), HEADER_LEN);
        let forged = forge(&m, &request);
        assert_eq!(forged.len(), RECORD_LEN);
        let forged = Message::decode(&forged).unwrap();
        assert_eq!((forged.kind, forged.key.as_str()), (MsgType::ReadReq, "K"));
        assert_eq!(forged.value, "FROMASTRANGER");
    }

    #[test]
    fn bytes_cuts_or_pads() {
        let cut = RuleMatch {
            bytes: Some(2),
            ..rule()
        };
        assert_eq!(forge(&cut, &reply()), reply()[..2]);
        let padded = RuleMatch {
            bytes: Some(40),
            ..rule()
        };
        let forged = forge(&padded, &reply());
        assert_eq!(forged.len(), 40);
        assert_eq!(forged[..RECORD_LEN], reply()[..]);
        assert!(forged[RECORD_LEN..].iter().all(|&b| b == 0));
    }

    #[test]
    fn changes_combine() {
        let m = RuleMatch {
            retype: Some(TypeName(MsgType::CacheHit)),
            key: Some("other".into()),
            value: Some("V".into()),
            bytes: Some(HEADER_LEN),
            ..rule()
        };
        let forged = Message::decode(&forge(&m, &reply())).unwrap();
        assert_eq!(forged.kind, MsgType::CacheHit);
        assert_eq!(forged.key, "AAAAAAAAAAsal4A");
        assert_eq!(forged.value, "");
    }
}
