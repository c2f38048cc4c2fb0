//! The one record format every lab sends over UDP.
//!
//! A datagram carries exactly one packed record: no padding, no length
//! prefix, no byte-order concerns (every field is a single byte or text).
//!
//! | offset | size | field   | meaning                                          |
//! |-------:|-----:|---------|--------------------------------------------------|
//! | 0      | 1    | `type`  | message type code, see [`MsgType`]              |
//! | 1      | 16   | `key`   | NUL-terminated text, at most 15 visible bytes    |
//! | 17     | 16   | `value` | NUL-terminated text, at most 15 visible bytes    |
//!
//! The full record is [`RECORD_LEN`] = 33 bytes. Senders leave the value off
//! when it means nothing, sending only the [`HEADER_LEN`] = 17 bytes of type
//! and key, so **the length of the datagram is part of the protocol**:
//!
//! | type         | code | bytes on the wire                          |
//! |--------------|-----:|--------------------------------------------|
//! | `READ_REQ`   | 0    | 17 (lab 1's client sends all 33)           |
//! | `READ_REP`   | 1    | 33                                         |
//! | `WRITE_REQ`  | 2    | 33                                         |
//! | `WRITE_REP`  | 3    | 17                                         |
//! | `CACHE_HIT`  | 4    | 33 (lab 3 only)                            |
//! | `CACHE_MISS` | 5    | 17 (lab 3 only)                            |
//!
//! UDP keeps message boundaries, so a receiver learns the length from
//! `recvfrom(2)` and needs no length field of its own. A robust receiver
//! accepts 17 or 33 bytes for any type and rejects everything else as
//! malformed; [`Message::decode`] does exactly that.
//!
//! Production protocols rarely use fixed-size, NUL-terminated text fields:
//! memcached's binary protocol, for one, sends explicit key and value lengths
//! so that keys may hold any byte and values may be large. Fixed fields keep
//! the labs about distribution, not parsing.

use std::error::Error;
use std::fmt;

/// Size of the key field on the wire, terminating NUL included.
pub const KEY_SIZE: usize = 16;

/// Size of the value field on the wire, terminating NUL included.
pub const VALUE_SIZE: usize = 16;

/// Length of a record without its value: one type byte and the key field.
pub const HEADER_LEN: usize = 1 + KEY_SIZE;

/// Length of a full record: type byte, key field and value field.
pub const RECORD_LEN: usize = HEADER_LEN + VALUE_SIZE;

/// Most visible bytes a key or a value can hold: one byte of each 16-byte
/// field is kept for the terminating NUL, as a C `char[16]` string would.
pub const MAX_TEXT_LEN: usize = KEY_SIZE - 1;

/// Offset of the key field in a record.
const KEY_OFFSET: usize = 1;

/// Offset of the value field in a record.
const VALUE_OFFSET: usize = HEADER_LEN;

/// The kind of a record, sent as its first byte.
///
/// The codes and the printed names are the C course's, so transcripts of the
/// Rust labs read exactly like the original ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum MsgType {
    /// A client asks for the value of a key.
    ReadReq = 0,
    /// A server answers a read with the key's value.
    ReadRep = 1,
    /// A client asks a server to store a value under a key.
    WriteReq = 2,
    /// A server confirms a write; carries no value.
    WriteRep = 3,
    /// Lab 3's cache answers a read itself, with a value.
    CacheHit = 4,
    /// Lab 3's cache cannot answer; the client must ask the storage server.
    CacheMiss = 5,
}

impl MsgType {
    /// Every message type, in code order.
    pub const ALL: [MsgType; 6] = [
        MsgType::ReadReq,
        MsgType::ReadRep,
        MsgType::WriteReq,
        MsgType::WriteRep,
        MsgType::CacheHit,
        MsgType::CacheMiss,
    ];

    /// The byte this type is sent as.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The type sent as `code`, or `None` if no type has that code.
    pub fn from_code(code: u8) -> Option<MsgType> {
        MsgType::ALL.get(usize::from(code)).copied()
    }

    /// The name the course prints for this type, e.g. `READ_REQ`.
    pub fn name(self) -> &'static str {
        match self {
            MsgType::ReadReq => "READ_REQ",
            MsgType::ReadRep => "READ_REP",
            MsgType::WriteReq => "WRITE_REQ",
            MsgType::WriteRep => "WRITE_REP",
            MsgType::CacheHit => "CACHE_HIT",
            MsgType::CacheMiss => "CACHE_MISS",
        }
    }

    /// The type printed as `name` (exactly, upper case), or `None`.
    ///
    /// Useful for reading transcripts back, e.g. in the grader.
    pub fn from_name(name: &str) -> Option<MsgType> {
        MsgType::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// How many bytes the course sends for a record of this type: 33 when
    /// the value means something, 17 when it does not (see the module docs).
    ///
    /// The one exception in the course is lab 1's client, which sends its
    /// READ_REQs as full records; it uses [`Message::encode_full`].
    pub fn wire_len(self) -> usize {
        match self {
            MsgType::ReadRep | MsgType::WriteReq | MsgType::CacheHit => RECORD_LEN,
            MsgType::ReadReq | MsgType::WriteRep | MsgType::CacheMiss => HEADER_LEN,
        }
    }
}

impl fmt::Display for MsgType {
    /// Prints [`MsgType::name`], e.g. `WRITE_REP`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One of the two text fields of a record, to say where a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The key field, bytes 1..17.
    Key,
    /// The value field, bytes 17..33.
    Value,
}

impl fmt::Display for Field {
    /// Prints `key` or `value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Key => "key",
            Field::Value => "value",
        })
    }
}

/// Why [`Message::new`] refused a key or a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// The text has more than [`MAX_TEXT_LEN`] bytes; `len` is its length in
    /// bytes (not characters: a non-ASCII character takes several).
    TooLong {
        /// Which field was too long.
        field: Field,
        /// Its length in bytes.
        len: usize,
    },
    /// The text contains a NUL byte, which would end it early on the wire.
    ContainsNul {
        /// Which field held the NUL.
        field: Field,
    },
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::TooLong { field, len } => {
                write!(f, "{field} is {len} bytes long: at most {MAX_TEXT_LEN} fit")
            }
            FieldError::ContainsNul { field } => write!(f, "{field} contains a NUL byte"),
        }
    }
}

impl Error for FieldError {}

/// Why [`Message::decode`] refused a datagram.
///
/// Servers usually print the error and drop the datagram: with UDP a
/// malformed datagram is just another kind of lost one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The datagram is neither [`HEADER_LEN`] (17) nor [`RECORD_LEN`] (33)
    /// bytes long; holds the length received.
    Length(usize),
    /// The first byte is not the code of any [`MsgType`]; holds that byte.
    UnknownType(u8),
    /// The field has no NUL byte within its 16 bytes.
    Unterminated(Field),
    /// The bytes of the field before its NUL are not UTF-8 text.
    NotText(Field),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Length(len) => write!(
                f,
                "datagram of {len} bytes: a record is {HEADER_LEN} or {RECORD_LEN} bytes"
            ),
            DecodeError::UnknownType(code) => write!(f, "unknown message type {code}"),
            DecodeError::Unterminated(field) => {
                write!(f, "{field} is not NUL-terminated within {KEY_SIZE} bytes")
            }
            DecodeError::NotText(field) => write!(f, "{field} is not UTF-8 text"),
        }
    }
}

impl Error for DecodeError {}

/// One record: a type, a key and a value.
///
/// A value that a type does not carry (a READ_REQ's, a WRITE_REP's) is the
/// empty string. Build messages with [`Message::new`], which checks that the
/// texts fit; the fields are public so that tests and servers can pattern-match
/// on them and build replies cheaply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Message {
    /// What kind of record this is.
    pub kind: MsgType,
    /// The key, at most [`MAX_TEXT_LEN`] bytes, no NUL.
    pub key: String,
    /// The value, at most [`MAX_TEXT_LEN`] bytes, no NUL; empty if unused.
    pub value: String,
}

impl Message {
    /// A message of type `kind`, after checking that `key` and `value` fit.
    ///
    /// # Errors
    ///
    /// [`FieldError::TooLong`] if the key or the value has more than
    /// [`MAX_TEXT_LEN`] (15) bytes, [`FieldError::ContainsNul`] if either
    /// holds a NUL byte (the receiver would see the text end there). The key
    /// is checked before the value, the length before the NUL.
    pub fn new(kind: MsgType, key: &str, value: &str) -> Result<Message, FieldError> {
        check_text(Field::Key, key)?;
        check_text(Field::Value, value)?;
        Ok(Message {
            kind,
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }

    /// The bytes the course sends for this message: [`RECORD_LEN`] or
    /// [`HEADER_LEN`] bytes, as [`MsgType::wire_len`] says for its type.
    ///
    /// A 17-byte record drops the value, whatever it holds.
    ///
    /// # Format
    ///
    /// See the table in the [module docs](self). Unused bytes of a field are
    /// zero, so a 15-byte text still gets its NUL at index 15 of the field.
    ///
    /// A message built with [`Message::new`] always fits. One built by hand
    /// with a longer key or value is not refused: the text is cut to at most
    /// [`MAX_TEXT_LEN`] bytes, at a character boundary so that it stays UTF-8,
    /// just as a careful C sender would `strncpy` into a `char[16]`. A NUL
    /// byte inside a hand-built text is sent as is, and ends the text early
    /// for the receiver.
    pub fn encode(&self) -> Vec<u8> {
        let full = self.encode_full();
        full[..self.kind.wire_len()].to_vec()
    }

    /// All [`RECORD_LEN`] (33) bytes of this message, whatever its type.
    ///
    /// Lab 1's client sends its READ_REQs this way, value included; the
    /// other labs send [`Message::encode`]'s shorter records.
    ///
    /// # Format
    ///
    /// As for [`Message::encode`], including the truncation of over-long text.
    pub fn encode_full(&self) -> [u8; RECORD_LEN] {
        let mut record = [0u8; RECORD_LEN];
        record[0] = self.kind.code();
        put_text(&mut record[KEY_OFFSET..KEY_OFFSET + KEY_SIZE], &self.key);
        put_text(
            &mut record[VALUE_OFFSET..VALUE_OFFSET + VALUE_SIZE],
            &self.value,
        );
        record
    }

    /// Reads one record from a received datagram.
    ///
    /// Accepts a 17-byte or a 33-byte record for any type, as a robust
    /// receiver in the course does; a 17-byte record gets the value `""`.
    /// Inside a field, the bytes after the first NUL are ignored (C senders
    /// often leave garbage there).
    ///
    /// # Errors
    ///
    /// Checked in this order, the first problem found is returned:
    ///
    /// 1. [`DecodeError::Length`] if `bytes` is not 17 or 33 bytes long;
    /// 2. [`DecodeError::UnknownType`] if the first byte is not a known code;
    /// 3. [`DecodeError::Unterminated`] or [`DecodeError::NotText`] for the
    ///    key, then for the value (33-byte records only).
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        if bytes.len() != HEADER_LEN && bytes.len() != RECORD_LEN {
            return Err(DecodeError::Length(bytes.len()));
        }
        let kind = MsgType::from_code(bytes[0]).ok_or(DecodeError::UnknownType(bytes[0]))?;
        let key = get_text(Field::Key, &bytes[KEY_OFFSET..KEY_OFFSET + KEY_SIZE])?;
        let value = if bytes.len() == RECORD_LEN {
            get_text(
                Field::Value,
                &bytes[VALUE_OFFSET..VALUE_OFFSET + VALUE_SIZE],
            )?
        } else {
            String::new()
        };
        Ok(Message { kind, key, value })
    }
}

impl fmt::Display for Message {
    /// The course's transcript line: `Type: READ_REQ Key: <key> Value: <value>`.
    ///
    /// An empty value still prints its label, leaving a trailing space, as
    /// the C programs' `printf` did.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Type: {} Key: {} Value: {}",
            self.kind, self.key, self.value
        )
    }
}

/// Checks that `text` fits in a 16-byte field: at most 15 bytes, no NUL.
fn check_text(field: Field, text: &str) -> Result<(), FieldError> {
    if text.len() > MAX_TEXT_LEN {
        return Err(FieldError::TooLong {
            field,
            len: text.len(),
        });
    }
    if text.bytes().any(|b| b == 0) {
        return Err(FieldError::ContainsNul { field });
    }
    Ok(())
}

/// Copies `text` into a zeroed field, cut to at most `field.len() - 1` bytes
/// at a character boundary, so at least one NUL always follows it.
fn put_text(field: &mut [u8], text: &str) {
    let mut len = text.len().min(field.len() - 1);
    while !text.is_char_boundary(len) {
        len -= 1;
    }
    field[..len].copy_from_slice(&text.as_bytes()[..len]);
}

/// Reads the NUL-terminated text at the start of `field`.
fn get_text(which: Field, field: &[u8]) -> Result<String, DecodeError> {
    let end = field
        .iter()
        .position(|&b| b == 0)
        .ok_or(DecodeError::Unterminated(which))?;
    std::str::from_utf8(&field[..end])
        .map(str::to_owned)
        .map_err(|_| DecodeError::NotText(which))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message whose texts are short enough for `new`.
    fn msg(kind: MsgType, key: &str, value: &str) -> Message {
        Message::new(kind, key, value).expect("test texts fit")
    }

    /// A valid 33-byte record, to be spoiled by the tests.
    fn good_record() -> [u8; RECORD_LEN] {
        msg(MsgType::ReadRep, "key", "value").encode_full()
    }

    #[test]
    fn lengths_match_the_c_struct() {
        assert_eq!(HEADER_LEN, 17);
        assert_eq!(RECORD_LEN, 33);
        assert_eq!(MAX_TEXT_LEN, 15);
    }

    #[test]
    fn codes_names_and_wire_lengths_are_the_courses() {
        let expected = [
            (MsgType::ReadReq, 0, "READ_REQ", 17),
            (MsgType::ReadRep, 1, "READ_REP", 33),
            (MsgType::WriteReq, 2, "WRITE_REQ", 33),
            (MsgType::WriteRep, 3, "WRITE_REP", 17),
            (MsgType::CacheHit, 4, "CACHE_HIT", 33),
            (MsgType::CacheMiss, 5, "CACHE_MISS", 17),
        ];
        assert_eq!(MsgType::ALL.len(), expected.len());
        for (kind, code, name, len) in expected {
            assert_eq!(kind.code(), code, "{kind:?}");
            assert_eq!(MsgType::from_code(code), Some(kind));
            assert_eq!(kind.name(), name);
            assert_eq!(kind.to_string(), name);
            assert_eq!(MsgType::from_name(name), Some(kind));
            assert_eq!(kind.wire_len(), len, "{kind:?}");
        }
        for (i, kind) in MsgType::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(kind.code()), i, "ALL is in code order");
        }
    }

    #[test]
    fn unknown_codes_and_names_are_none() {
        for code in 6..=255u8 {
            assert_eq!(MsgType::from_code(code), None, "code {code}");
        }
        for name in ["", "read_req", "READ", "READ_REQ ", "CACHEHIT"] {
            assert_eq!(MsgType::from_name(name), None, "name {name:?}");
        }
    }

    #[test]
    fn encode_lays_out_the_record_byte_by_byte() {
        let bytes = msg(MsgType::WriteReq, "AB", "xyz").encode();
        let mut expected = vec![0u8; 33];
        expected[0] = 2;
        expected[1..3].copy_from_slice(b"AB");
        expected[17..20].copy_from_slice(b"xyz");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn encode_sends_the_courses_length_for_each_type() {
        for kind in MsgType::ALL {
            let m = msg(kind, "AAAAAAAAAAotIhz", "AAAABBBBCCCCDDD");
            assert_eq!(m.encode().len(), kind.wire_len(), "{kind}");
            assert_eq!(m.encode()[..], m.encode_full()[..kind.wire_len()]);
        }
    }

    #[test]
    fn fifteen_byte_texts_keep_their_nul() {
        let full = msg(MsgType::ReadRep, "123456789012345", "abcdefghijklmno").encode_full();
        assert_eq!(&full[1..16], b"123456789012345");
        assert_eq!(full[16], 0, "key's NUL at index 15 of the field");
        assert_eq!(&full[17..32], b"abcdefghijklmno");
        assert_eq!(full[32], 0, "value's NUL at index 15 of the field");
    }

    #[test]
    fn round_trips_for_every_type_at_both_lengths() {
        for kind in MsgType::ALL {
            for (key, value) in [("", ""), ("k", "v"), ("123456789012345", "abcdefghijklmno")] {
                let m = msg(kind, key, value);
                // The full record keeps everything.
                assert_eq!(Message::decode(&m.encode_full()), Ok(m.clone()));
                // The header alone keeps the key and loses the value.
                let header = &m.encode_full()[..HEADER_LEN];
                assert_eq!(Message::decode(header), Ok(msg(kind, key, "")));
                // The course's own length for the type.
                let expected = if kind.wire_len() == RECORD_LEN {
                    m.clone()
                } else {
                    msg(kind, key, "")
                };
                assert_eq!(Message::decode(&m.encode()), Ok(expected), "{kind}");
            }
        }
    }

    #[test]
    fn non_ascii_text_round_trips() {
        let m = msg(MsgType::WriteReq, "키", "값값");
        assert_eq!(Message::decode(&m.encode()), Ok(m));
    }

    #[test]
    fn every_other_length_is_malformed() {
        let source = [0u8; 64];
        for len in 0..=40 {
            if len == HEADER_LEN || len == RECORD_LEN {
                continue;
            }
            assert_eq!(
                Message::decode(&source[..len]),
                Err(DecodeError::Length(len)),
                "length {len}"
            );
        }
        assert_eq!(Message::decode(&source), Err(DecodeError::Length(64)));
    }

    #[test]
    fn unknown_types_are_malformed_at_both_lengths() {
        for code in 6..=255u8 {
            let mut record = good_record();
            record[0] = code;
            assert_eq!(
                Message::decode(&record),
                Err(DecodeError::UnknownType(code))
            );
            assert_eq!(
                Message::decode(&record[..HEADER_LEN]),
                Err(DecodeError::UnknownType(code))
            );
        }
    }

    #[test]
    fn unterminated_fields_are_malformed() {
        let mut record = good_record();
        record[1..17].fill(b'k');
        assert_eq!(
            Message::decode(&record),
            Err(DecodeError::Unterminated(Field::Key))
        );
        assert_eq!(
            Message::decode(&record[..HEADER_LEN]),
            Err(DecodeError::Unterminated(Field::Key))
        );

        let mut record = good_record();
        record[17..33].fill(b'v');
        assert_eq!(
            Message::decode(&record),
            Err(DecodeError::Unterminated(Field::Value))
        );
        // Cut to 17 bytes, the broken value is not there any more.
        assert!(Message::decode(&record[..HEADER_LEN]).is_ok());
    }

    #[test]
    fn non_utf8_fields_are_malformed() {
        let mut record = good_record();
        record[1] = 0xff;
        assert_eq!(
            Message::decode(&record),
            Err(DecodeError::NotText(Field::Key))
        );

        let mut record = good_record();
        record[17..19].copy_from_slice(&[0xc3, 0x28]); // a broken 2-byte sequence
        assert_eq!(
            Message::decode(&record),
            Err(DecodeError::NotText(Field::Value))
        );
    }

    #[test]
    fn errors_are_reported_in_order_length_type_key_value() {
        let mut record = [0xffu8; RECORD_LEN];
        assert_eq!(Message::decode(&record[..20]), Err(DecodeError::Length(20)));
        assert_eq!(
            Message::decode(&record),
            Err(DecodeError::UnknownType(0xff))
        );
        record[0] = 1;
        assert_eq!(
            Message::decode(&record),
            Err(DecodeError::Unterminated(Field::Key))
        );
        record[16] = 0;
        assert_eq!(
            Message::decode(&record),
            Err(DecodeError::NotText(Field::Key))
        );
        record[1] = 0;
        assert_eq!(
            Message::decode(&record),
            Err(DecodeError::Unterminated(Field::Value))
        );
    }

    #[test]
    fn bytes_after_the_nul_are_ignored() {
        let mut record = good_record();
        record[5] = 0;
        record[6..17].fill(0xff); // garbage, not even UTF-8
        record[23..33].fill(b'#');
        record[22] = 0;
        let m = Message::decode(&record).expect("garbage after the NUL is fine");
        assert_eq!(m, msg(MsgType::ReadRep, "key", "value"));
    }

    #[test]
    fn new_rejects_texts_that_do_not_fit() {
        assert_eq!(
            Message::new(MsgType::ReadReq, "1234567890123456", ""),
            Err(FieldError::TooLong {
                field: Field::Key,
                len: 16
            })
        );
        assert_eq!(
            Message::new(MsgType::WriteReq, "k", "1234567890123456"),
            Err(FieldError::TooLong {
                field: Field::Value,
                len: 16
            })
        );
        assert_eq!(
            Message::new(MsgType::ReadReq, "a\0b", ""),
            Err(FieldError::ContainsNul { field: Field::Key })
        );
        assert_eq!(
            Message::new(MsgType::WriteReq, "k", "\0"),
            Err(FieldError::ContainsNul {
                field: Field::Value
            })
        );
        // Eight 2-byte characters are 16 bytes: bytes count, not characters.
        assert_eq!(
            Message::new(MsgType::ReadReq, "éééééééé", ""),
            Err(FieldError::TooLong {
                field: Field::Key,
                len: 16
            })
        );
        // The key is checked first.
        assert_eq!(
            Message::new(MsgType::ReadReq, "\0", "1234567890123456"),
            Err(FieldError::ContainsNul { field: Field::Key })
        );
    }

    #[test]
    fn encode_truncates_hand_built_long_texts() {
        let m = Message {
            kind: MsgType::ReadRep,
            key: "1234567890123456789".to_owned(),
            // Eight 2-byte characters: a cut at byte 15 would split the
            // eighth, so encode backs off to 14 bytes.
            value: "éééééééé".to_owned(),
        };
        let bytes = m.encode();
        assert_eq!(bytes.len(), RECORD_LEN);
        assert_eq!(
            Message::decode(&bytes),
            Ok(msg(MsgType::ReadRep, "123456789012345", "ééééééé"))
        );
    }

    #[test]
    fn display_formats() {
        assert_eq!(
            msg(MsgType::ReadReq, "AAAAAAAAAAotIhz", "AAAABBBBCCCCDDD").to_string(),
            "Type: READ_REQ Key: AAAAAAAAAAotIhz Value: AAAABBBBCCCCDDD"
        );
        assert_eq!(
            msg(MsgType::WriteRep, "k", "").to_string(),
            "Type: WRITE_REP Key: k Value: "
        );
        assert_eq!(Field::Key.to_string(), "key");
        assert_eq!(Field::Value.to_string(), "value");
        assert_eq!(
            DecodeError::Length(5).to_string(),
            "datagram of 5 bytes: a record is 17 or 33 bytes"
        );
        assert_eq!(
            DecodeError::UnknownType(9).to_string(),
            "unknown message type 9"
        );
        assert_eq!(
            DecodeError::Unterminated(Field::Key).to_string(),
            "key is not NUL-terminated within 16 bytes"
        );
        assert_eq!(
            DecodeError::NotText(Field::Value).to_string(),
            "value is not UTF-8 text"
        );
        assert_eq!(
            FieldError::TooLong {
                field: Field::Key,
                len: 20
            }
            .to_string(),
            "key is 20 bytes long: at most 15 fit"
        );
        assert_eq!(
            FieldError::ContainsNul {
                field: Field::Value
            }
            .to_string(),
            "value contains a NUL byte"
        );
    }

    #[test]
    fn errors_are_std_errors() {
        fn boxed(e: impl Error + Send + Sync + 'static) -> Box<dyn Error + Send + Sync> {
            Box::new(e)
        }
        assert_eq!(
            boxed(DecodeError::Length(0)).to_string(),
            "datagram of 0 bytes: a record is 17 or 33 bytes"
        );
        assert_eq!(
            boxed(FieldError::ContainsNul { field: Field::Key }).to_string(),
            "key contains a NUL byte"
        );
    }
}
