//! A run's datagrams as a packet capture: a classic libpcap file
//! (`pcap-savefile(5)`) that Wireshark and tshark open, and that
//! `specs/dslab.lua` decodes as the kit's records.
//!
//! Every packet is a real IPv4 header and a real UDP header around the bytes
//! a program sent, between 127.0.0.1 and 127.0.0.1, with the ports the
//! proxy used. Nothing was captured from the wire: the file is written from
//! the [record](crate::run::record::Record) after the run, so it is exactly
//! as deterministic as the record.
//!
//! # What is captured
//!
//! The proxy sits in the middle of every exchange (see
//! [`crate::run::proxy`]), so each datagram crosses the wire twice, and
//! the capture shows both legs, as `tcpdump -i lo` would:
//!
//! - **sender → proxy**, at [`Datagram::sent`]: from the sender's port to
//!   the face through which it reaches the receiver (`faces[from][to]`).
//!   Every datagram has this leg, whatever its fate, refused ones included.
//! - **proxy → receiver**, once per copy, at each [`Datagram::delivered`]
//!   time: from the face at which the receiver sees the sender
//!   (`faces[to][from]`) to the receiver's port. A dropped, partitioned,
//!   undeliverable or refused datagram has *no* second leg: a datagram the
//!   network lost is one that went in and never came out. A duplicated one
//!   has two; a delayed one comes out late.
//! - **forged datagrams** ([`Forged`]) have only the second leg, at their
//!   [`Forged::sent`], from the receiver's face of the real sender, or from
//!   the grader's stranger socket.
//!
//! Packets are in time order; at one moment, an arrival comes before the
//! forgeries made of it, and they before any copy that leaves. Datagrams
//! past `limits.datagrams`, which the record counted but did not keep
//! ([`Record::unkept`]), are not in the file, as with `tcpdump -c`.
//!
//! # Ports
//!
//! The record knows every face's port, and the own port of each listening
//! program and scripted peer (a server replies from the socket it bound,
//! a scripted peer sends from its own). It does not keep the ephemeral
//! port a client program sent from. Such a node gets a made-up port, the
//! same for the whole file: the `i`-th port from [`MADE_UP_PORTS`] up that
//! no node or face of the record uses, for the nodes without a port in
//! order, then for the stranger. Its datagrams leave from that port and
//! its copies arrive at it, so each conversation still pairs up in
//! Wireshark ("Follow UDP Stream"). A node without faces in the record (a
//! hand-made record) gets made-up face ports the same way.
//!
//! # Timestamps
//!
//! Each packet's time is [`EPOCH`], midnight UTC on 1 January 2000, plus
//! its time in the record (since the test started), to the microsecond. So
//! a "time of day" column in Wireshark reads as the time into the test
//! (`00:00:00.115` is 115 ms in), and the odd date says plainly that no
//! clock was read.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::run::record::{Datagram, Forged, Record};

/// The capture's time zero: 2000-01-01T00:00:00Z, in seconds since the
/// Unix epoch. A packet's time is this plus its time in the record.
pub const EPOCH: u64 = 946_684_800;

/// Where the made-up ports of nodes without one of their own start: above
/// Linux's default ephemeral range (32768 to 60999), from which the faces
/// come, and above the range the grader leases servers' ports from.
pub const MADE_UP_PORTS: u16 = 61_000;

/// The link type of raw IP packets (`LINKTYPE_RAW`): no Ethernet header,
/// each packet starts with its IPv4 header.
pub const LINKTYPE_RAW: u32 = 101;

/// The largest packet a capture record holds (the global header's
/// `snaplen`): every UDP datagram over IPv4 fits whole.
pub const SNAPLEN: u32 = 65_535;

/// Length of the global header of the file.
pub const FILE_HEADER_LEN: usize = 24;

/// Length of the header before each packet.
pub const RECORD_HEADER_LEN: usize = 16;

/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;

/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;

/// The largest UDP payload over IPv4: what fits a 16-bit total length.
const MAX_PAYLOAD: usize = 65_535 - IPV4_HEADER_LEN - UDP_HEADER_LEN;

/// 127.0.0.1: every node and the proxy live on the loopback interface.
const LOOPBACK: [u8; 4] = [127, 0, 0, 1];

/// The capture of a run: the `pcap-savefile(5)` bytes of every leg of
/// every datagram the record kept, and of every forged datagram.
///
/// # Format
///
/// Little-endian classic libpcap, version 2.4, microsecond timestamps,
/// [`LINKTYPE_RAW`]. Each packet: an IPv4 header (20 bytes, TTL 64, "don't
/// fragment", a per-file counter as its identification, a valid checksum),
/// a UDP header with a valid checksum, then the datagram's bytes.
pub fn pcap(record: &Record) -> Vec<u8> {
    let ports = Ports::of(record);
    let mut legs = Vec::new();
    for d in &record.datagrams {
        legs.push(arrival(&ports, d));
        legs.extend(copies(&ports, d));
    }
    legs.extend(record.forged.iter().map(|f| forgery(&ports, f)));
    // Arrivals are in order already, copies and forgeries are not: a
    // delayed copy leaves after datagrams that arrived later.
    legs.sort_by_key(|l| (l.at, l.order));
    let mut out = file_header();
    for (id, leg) in legs.iter().enumerate() {
        // The identification field counts packets, as a kernel's counter
        // would; it wraps after 65536 packets.
        packet(&mut out, leg, id as u16);
    }
    out
}

/// One packet to write: when, between which ports, what.
struct Leg<'a> {
    at: Duration,
    /// Ties at one moment: an arrival, then the forgeries, then copies.
    order: u8,
    src: u16,
    dst: u16,
    bytes: &'a [u8],
}

/// The sender → proxy leg of a datagram.
fn arrival<'a>(ports: &Ports, d: &'a Datagram) -> Leg<'a> {
    Leg {
        at: d.sent,
        order: 0,
        src: ports.home[d.from],
        dst: ports.face(d.from, d.to),
        bytes: &d.bytes,
    }
}

/// The proxy → receiver legs of a datagram: one per copy that left.
fn copies<'a>(ports: &Ports, d: &'a Datagram) -> impl Iterator<Item = Leg<'a>> {
    let (src, dst) = (ports.face(d.to, d.from), ports.home[d.to]);
    d.delivered.iter().map(move |&at| Leg {
        at,
        order: 2,
        src,
        dst,
        bytes: &d.bytes,
    })
}

/// A forged datagram: only its proxy → receiver leg.
fn forgery<'a>(ports: &Ports, f: &'a Forged) -> Leg<'a> {
    Leg {
        at: f.sent,
        order: 1,
        src: if f.stranger {
            ports.stranger
        } else {
            ports.face(f.to, f.from)
        },
        dst: ports.home[f.to],
        bytes: &f.bytes,
    }
}

/// The ports of the capture, each node's resolved once.
struct Ports {
    /// Per node: the port it sends from and receives at.
    home: Vec<u16>,
    /// `faces[from][to]`, each one real or made up.
    faces: Vec<Vec<u16>>,
    /// The grader's stranger socket (made up: the record does not keep it).
    stranger: u16,
}

impl Ports {
    /// Every port of the record, the missing ones made up (see the module
    /// docs): first the nodes' own, then the stranger's, then faces.
    fn of(record: &Record) -> Ports {
        let n = record.nodes.len();
        let used: BTreeSet<u16> = (record.nodes.iter())
            .flat_map(|node| node.port.into_iter().chain(node.faces.iter().copied()))
            .collect();
        let mut free = (MADE_UP_PORTS..=u16::MAX)
            .chain(1024..MADE_UP_PORTS)
            .filter(move |p| !used.contains(p));
        let mut made_up = move || free.next().unwrap_or(MADE_UP_PORTS);
        let home = (record.nodes.iter())
            .map(|node| node.port.unwrap_or_else(&mut made_up))
            .collect();
        let stranger = made_up();
        let faces = (record.nodes.iter())
            .map(|node| {
                (0..n)
                    .map(|j| node.faces.get(j).copied().unwrap_or_else(&mut made_up))
                    .collect()
            })
            .collect();
        Ports {
            home,
            faces,
            stranger,
        }
    }

    /// The face through which `from` reaches `to`.
    fn face(&self, from: usize, to: usize) -> u16 {
        self.faces[from][to]
    }
}

/// The global header: magic (microseconds), version 2.4, UTC, snaplen,
/// link type.
fn file_header() -> Vec<u8> {
    let mut h = Vec::with_capacity(FILE_HEADER_LEN);
    h.extend(0xa1b2_c3d4_u32.to_le_bytes());
    h.extend(2_u16.to_le_bytes());
    h.extend(4_u16.to_le_bytes());
    h.extend(0_i32.to_le_bytes()); // thiszone: times are UTC
    h.extend(0_u32.to_le_bytes()); // sigfigs: always 0
    h.extend(SNAPLEN.to_le_bytes());
    h.extend(LINKTYPE_RAW.to_le_bytes());
    h
}

/// Appends one packet, its record header first.
fn packet(out: &mut Vec<u8>, leg: &Leg, id: u16) {
    // A datagram over IPv4 cannot be longer; the proxy never receives one
    // that is, but the headers must stay consistent whatever the record says.
    let payload = &leg.bytes[..leg.bytes.len().min(MAX_PAYLOAD)];
    let udp_len = (UDP_HEADER_LEN + payload.len()) as u16;
    let total = IPV4_HEADER_LEN as u16 + udp_len;
    let seconds = EPOCH + leg.at.as_secs();
    out.extend((seconds as u32).to_le_bytes());
    out.extend(leg.at.subsec_micros().to_le_bytes());
    out.extend(u32::from(total).to_le_bytes()); // captured
    out.extend(u32::from(total).to_le_bytes()); // on the wire

    let mut ip = [0u8; IPV4_HEADER_LEN];
    ip[0] = 0x45; // version 4, 5 words of header
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6] = 0x40; // don't fragment, as Linux sends UDP
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    ip[12..16].copy_from_slice(&LOOPBACK);
    ip[16..20].copy_from_slice(&LOOPBACK);
    let sum = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    out.extend(ip);

    let mut udp = [0u8; UDP_HEADER_LEN];
    udp[0..2].copy_from_slice(&leg.src.to_be_bytes());
    udp[2..4].copy_from_slice(&leg.dst.to_be_bytes());
    udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
    // The checksum covers a pseudo-header (addresses, protocol, length),
    // the UDP header and the payload (RFC 768). A sum of 0 is sent as
    // 0xffff: 0 means "no checksum".
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&LOOPBACK);
    pseudo[4..8].copy_from_slice(&LOOPBACK);
    pseudo[9] = 17;
    pseudo[10..12].copy_from_slice(&udp_len.to_be_bytes());
    let sum = match checksum(&[&pseudo, &udp, payload]) {
        0 => 0xffff,
        s => s,
    };
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    out.extend(udp);
    out.extend_from_slice(payload);
}

/// The Internet checksum (RFC 1071) of the parts, read as one run of
/// big-endian 16-bit words: the ones' complement of their ones' complement
/// sum. Every part but the last has an even length.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        for pair in part.chunks(2) {
            let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
            sum += u32::from(word);
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::record::{Fate, NodeRecord};
    use handout::{Message, MsgType};

    /// One packet of a capture, read back field by field.
    #[derive(Debug)]
    struct Packet {
        at: Duration,
        src: u16,
        dst: u16,
        payload: Vec<u8>,
    }

    fn u16_be(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn u32_le(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// Reads a capture as a reader of `pcap-savefile(5)` would, checking
    /// every header and checksum on the way.
    fn parse(file: &[u8]) -> Vec<Packet> {
        assert!(file.len() >= FILE_HEADER_LEN, "no global header");
        assert_eq!(&file[0..4], &[0xd4, 0xc3, 0xb2, 0xa1], "magic");
        assert_eq!(&file[4..8], &[2, 0, 4, 0], "version 2.4");
        assert_eq!(&file[8..16], &[0; 8], "thiszone and sigfigs");
        assert_eq!(u32_le(file, 16), SNAPLEN);
        assert_eq!(u32_le(file, 20), LINKTYPE_RAW);
        let mut at = FILE_HEADER_LEN;
        let mut packets = Vec::new();
        while at < file.len() {
            let h = &file[at..at + RECORD_HEADER_LEN];
            let (secs, micros) = (u32_le(h, 0), u32_le(h, 4));
            let (caplen, len) = (u32_le(h, 8) as usize, u32_le(h, 12) as usize);
            assert!(micros < 1_000_000, "microseconds {micros}");
            assert_eq!(caplen, len, "every packet is captured whole");
            at += RECORD_HEADER_LEN;
            let p = &file[at..at + caplen];
            at += caplen;

            let ip = &p[..IPV4_HEADER_LEN];
            assert_eq!(ip[0], 0x45, "IPv4 without options");
            assert_eq!(u16_be(ip, 2) as usize, p.len(), "IPv4 total length");
            assert_eq!(ip[8], 64, "TTL");
            assert_eq!(ip[9], 17, "protocol UDP");
            assert_eq!(checksum(&[ip]), 0, "IPv4 header checksum: {ip:02x?}");
            assert_eq!(&ip[12..16], &LOOPBACK);
            assert_eq!(&ip[16..20], &LOOPBACK);

            let udp = &p[IPV4_HEADER_LEN..];
            assert_eq!(u16_be(udp, 4) as usize, udp.len(), "UDP length");
            let mut pseudo = [0u8; 12];
            pseudo[0..4].copy_from_slice(&LOOPBACK);
            pseudo[4..8].copy_from_slice(&LOOPBACK);
            pseudo[9] = 17;
            pseudo[10..12].copy_from_slice(&(udp.len() as u16).to_be_bytes());
            assert_ne!(u16_be(udp, 6), 0, "a UDP checksum is written");
            assert_eq!(checksum(&[&pseudo, udp]), 0, "UDP checksum");
            packets.push(Packet {
                at: Duration::new(u64::from(secs) - EPOCH, micros * 1000),
                src: u16_be(udp, 0),
                dst: u16_be(udp, 2),
                payload: udp[UDP_HEADER_LEN..].to_vec(),
            });
        }
        packets
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn datagram(at: u64, from: usize, to: usize, m: &Message, fate: Fate) -> Datagram {
        let delivered: Vec<Duration> = match fate {
            Fate::Delivered => vec![ms(at + 1)],
            // The second copy late, so that it leaves after later datagrams.
            Fate::Duplicated => vec![ms(at + 1), ms(at + 50)],
            _ => vec![],
        };
        Datagram {
            sent: ms(at),
            from,
            to,
            bytes: m.encode(),
            fate,
            delays: vec![Duration::ZERO; delivered.len()],
            delivered,
            rule: None,
        }
    }

    /// A client without a port of its own, a server on 20000, and the
    /// proxy's faces between them: 40001 is the client's way to the server,
    /// 40002 the server's way to the client.
    fn record() -> Record {
        let mut client = NodeRecord::new("client");
        client.faces = vec![40000, 40001];
        let mut server = NodeRecord::new("server");
        server.port = Some(20000);
        server.faces = vec![40002, 40003];
        let read = Message::new(MsgType::ReadReq, "k1", "").unwrap();
        let reply = Message::new(MsgType::ReadRep, "k1", "v1").unwrap();
        let write = Message::new(MsgType::WriteReq, "k2", "v2").unwrap();
        let datagrams = vec![
            datagram(10, 0, 1, &read, Fate::Dropped),
            datagram(20, 0, 1, &read, Fate::Delivered),
            datagram(22, 1, 0, &reply, Fate::Duplicated),
            datagram(30, 0, 1, &write, Fate::Delivered),
        ];
        let mut r = Record::of(vec![client, server], datagrams);
        r.forged.push(Forged {
            sent: ms(30),
            from: 0,
            to: 1,
            stranger: true,
            bytes: Message::new(MsgType::WriteReq, "k2", "X").unwrap().encode(),
            rule: 0,
            changes: "from a stranger, value X".into(),
        });
        r
    }

    /// Every leg is a packet, in time order, between the right ports: the
    /// client at a made-up port, the server at its own.
    #[test]
    fn each_leg_is_a_packet_between_the_real_ports() {
        let r = record();
        let packets = parse(&pcap(&r));
        let client = MADE_UP_PORTS;
        let stranger = MADE_UP_PORTS + 1;
        let legs: Vec<(u64, u16, u16, usize)> = (packets.iter())
            .map(|p| (p.at.as_millis() as u64, p.src, p.dst, p.payload.len()))
            .collect();
        let expected = vec![
            (10, client, 40001, 17), // dropped: it goes in, never out
            (20, client, 40001, 17),
            (21, 40002, 20000, 17),
            (22, 20000, 40002, 33),
            (23, 40001, client, 33), // the first copy of the duplicate
            (30, client, 40001, 33),
            (30, stranger, 20000, 33), // forged, after the arrival it was made of
            (31, 40002, 20000, 33),
            (72, 40001, client, 33), // the second copy, late
        ];
        assert_eq!(
            legs, expected,
            "\nactual:   {legs:?}\nexpected: {expected:?}"
        );
        let copies: usize = r.datagrams.iter().map(|d| 1 + d.delivered.len()).sum();
        assert_eq!(packets.len(), copies + r.forged.len());
        assert_eq!(packets[0].payload, r.datagrams[0].bytes);
        assert_eq!(&packets[6].payload[17..19], b"X\0");
    }

    /// Times are the epoch plus the record's, to the microsecond.
    #[test]
    fn timestamps_are_the_epoch_plus_record_time() {
        let mut r = record();
        r.datagrams.truncate(1);
        r.datagrams[0].sent = Duration::new(3, 123_456_789);
        r.forged.clear();
        let file = pcap(&r);
        let h = &file[FILE_HEADER_LEN..];
        assert_eq!(u32_le(h, 0), (EPOCH + 3) as u32);
        assert_eq!(u32_le(h, 4), 123_456);
    }

    /// A record without datagrams is a valid, empty capture; a node the
    /// record has no faces for gets made-up ones, none of them a real port.
    #[test]
    fn an_empty_record_and_a_hand_made_one_are_valid_captures() {
        let empty = Record::of(vec![NodeRecord::new("a")], vec![]);
        assert_eq!(pcap(&empty).len(), FILE_HEADER_LEN);
        assert!(parse(&pcap(&empty)).is_empty());

        let m = Message::new(MsgType::WriteRep, "k", "").unwrap();
        let mut server = NodeRecord::new("b");
        server.port = Some(MADE_UP_PORTS);
        let bare = Record::of(
            vec![NodeRecord::new("a"), server],
            vec![datagram(1, 0, 1, &m, Fate::Delivered)],
        );
        let packets = parse(&pcap(&bare));
        assert_eq!(packets.len(), 2);
        assert_eq!(
            packets[0].src,
            MADE_UP_PORTS + 1,
            "the server's port is skipped"
        );
        assert_eq!(packets[1].dst, MADE_UP_PORTS);
        let ports: BTreeSet<u16> = packets.iter().flat_map(|p| [p.src, p.dst]).collect();
        assert_eq!(ports.len(), 4, "a, b, and a face each way: {ports:?}");
    }

    /// The checksum of RFC 1071's worked example, and of an odd length.
    #[test]
    fn the_internet_checksum() {
        let words = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&[&words]), !0xddf2);
        assert_eq!(checksum(&[&[0x01]]), !0x0100);
    }
}
