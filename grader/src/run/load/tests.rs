//! The load generator against responders whose behaviour is known: the
//! baseline, a socket that never answers, one that answers with the wrong
//! key, one that takes a millisecond per request. No test compares the
//! speeds of two things that are not wildly apart: a busy machine slows
//! everything, and must not fail them.

use super::*;
use std::collections::HashSet;
use std::sync::Mutex;

/// Longer than any request waits on a machine however busy: only a
/// request that is never answered reaches it.
const PATIENT: Duration = Duration::from_secs(5);

fn load(clients: usize, millis: u64, timeout: Duration) -> Load {
    Load {
        clients,
        duration: Duration::from_millis(millis),
        timeout,
    }
}

/// A socket on 127.0.0.1 that never reads: nothing it gets is answered.
fn silent() -> (UdpSocket, SocketAddrV4) {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = v4(socket.local_addr().unwrap()).unwrap();
    (socket, addr)
}

/// A baseline answers a request with the hw1 server's READ_REP.
#[test]
fn a_baseline_answers() {
    let baseline = Baseline::start(echo_reply).unwrap();
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    client.set_read_timeout(Some(PATIENT)).unwrap();
    let request = Echo.request(0, 0);
    client.send_to(&request, baseline.addr()).unwrap();
    let mut buf = [0u8; 64];
    let (len, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(from, SocketAddr::V4(baseline.addr()));
    let reply = Message::decode(&buf[..len]).unwrap();
    assert_eq!(reply.kind, MsgType::ReadRep);
    assert_eq!(reply.key, key_of(0, 0));
    assert_eq!(reply.value, SERVER_VALUE);
    assert_eq!(len, 33);
    assert!(Echo.answers(&request, &buf[..len]));
}

/// Dropping a baseline stops its thread: the drop returns, and the port
/// answers no more.
#[test]
fn a_dropped_baseline_stops() {
    let baseline = Baseline::start(echo_reply).unwrap();
    let addr = baseline.addr();
    drop(baseline);
    let f = drive(addr, &load(1, 100, Duration::from_millis(50)), &Echo).unwrap();
    assert_eq!(f.answered, 0, "{f:?}");
}

/// Against the baseline every request is answered, and the figures agree
/// with one another.
#[test]
fn drive_against_a_baseline_answers_everything() {
    let baseline = Baseline::start(echo_reply).unwrap();
    let l = load(2, 200, PATIENT);
    let f = drive(baseline.addr(), &l, &Echo).unwrap();
    assert!(f.answered > 0, "{f:?}");
    assert_eq!((f.lost, f.wrong), (0, 0), "{f:?}");
    assert!(Duration::ZERO < f.p50 && f.p50 <= f.p99, "{f:?}");
    assert!(f.p99 < PATIENT, "{f:?}");
    assert!(f.elapsed >= l.duration, "{f:?}");
    let rate = f.answered as f64 / f.elapsed.as_secs_f64();
    assert!((f.per_second - rate).abs() < 1e-6 * rate, "{f:?}");
}

/// A target that never answers: every request is lost, none answered,
/// and the drive still ends, within the timeout after its duration.
#[test]
fn a_target_that_never_answers_loses_every_request() {
    let (_socket, addr) = silent();
    let l = load(2, 150, Duration::from_millis(50));
    let f = drive(addr, &l, &Echo).unwrap();
    assert!(f.lost > 0, "{f:?}");
    assert_eq!((f.answered, f.wrong), (0, 0), "{f:?}");
    assert_eq!(
        (f.p50, f.p99, f.per_second),
        (Duration::ZERO, Duration::ZERO, 0.0)
    );
    // Bounded by the duration and the timeout (and what starting threads
    // on a busy machine takes, far less than this).
    assert!(f.elapsed >= l.duration, "{f:?}");
    assert!(f.elapsed < l.duration + l.timeout + PATIENT, "{f:?}");
}

fn wrong_key(datagram: &[u8]) -> Option<Vec<u8>> {
    Message::decode(datagram).ok()?;
    Some(record(MsgType::ReadRep, "NOTTHEKEY", SERVER_VALUE))
}

/// Replies for another key are counted as wrong, never as answers; the
/// request they came for is lost.
#[test]
fn replies_with_a_wrong_key_are_wrong() {
    let baseline = Baseline::start(wrong_key).unwrap();
    // Every reply it sends is counted wrong, late or not, but for the
    // last request's: the timeout leaves a busy machine time to run it.
    let l = load(1, 150, Duration::from_millis(300));
    let f = drive(baseline.addr(), &l, &Echo).unwrap();
    assert!(f.wrong > 0, "{f:?}");
    assert!(f.lost > 0, "{f:?}");
    assert_eq!(f.answered, 0, "{f:?}");
}

/// One Figures per target, in the order given: the baseline's answered,
/// the silent socket's lost. (The baseline may lose a request too, when
/// a busy machine leaves it without a CPU for the short timeout.)
#[test]
fn drive_alternating_gives_each_target_its_figures() {
    let baseline = Baseline::start(echo_reply).unwrap();
    let (_socket, silent) = silent();
    let l = load(1, 300, Duration::from_millis(50));
    let all = drive_alternating(&[baseline.addr(), silent], &l, 3, &Echo).unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all[0].answered > 0, "{all:?}");
    assert!(all[1].answered == 0 && all[1].lost > 0, "{all:?}");
    // Each target got its three slices of 100 ms.
    for f in &all {
        assert!(f.elapsed >= l.duration, "{all:?}");
    }
}

/// Records every request number each client sends, and answers as
/// [`Echo`].
#[derive(Default)]
struct Numbered {
    sent: Mutex<Vec<(usize, u64)>>,
}

impl Workload for Numbered {
    fn request(&self, client: usize, n: u64) -> Vec<u8> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((client, n));
        Echo.request(client, n)
    }

    fn answers(&self, request: &[u8], reply: &[u8]) -> bool {
        Echo.answers(request, reply)
    }
}

/// A client's requests are numbered on from one slice to the next: no
/// key is sent twice to a target (hw5's primary would answer a second
/// copy of a write from memory).
#[test]
fn request_numbers_go_on_across_slices() {
    let baseline = Baseline::start(echo_reply).unwrap();
    let work = Numbered::default();
    let f = &drive_alternating(&[baseline.addr()], &load(2, 200, PATIENT), 4, &work).unwrap()[0];
    let sent = work.sent.into_inner().unwrap_or_else(|e| e.into_inner());
    let distinct: HashSet<_> = sent.iter().collect();
    assert_eq!(
        distinct.len(),
        sent.len(),
        "a request number was sent twice"
    );
    assert_eq!(sent.len() as u64, f.answered, "{f:?}");
}

fn slow_echo(datagram: &[u8]) -> Option<Vec<u8>> {
    thread::sleep(Duration::from_millis(1));
    echo_reply(datagram)
}

/// A responder that takes a millisecond per request answers fewer than a
/// thousand a second, each after a millisecond at least.
#[test]
fn a_responder_that_sleeps_a_millisecond_is_measured_so() {
    let baseline = Baseline::start(slow_echo).unwrap();
    let f = drive(baseline.addr(), &load(2, 300, PATIENT), &Echo).unwrap();
    assert!(f.answered > 0, "{f:?}");
    assert!(f.per_second < 1000.0, "{f:?}");
    assert!(f.p50 >= Duration::from_millis(1), "{f:?}");
}

/// A load that cannot be driven is refused, not run.
#[test]
fn a_load_without_clients_or_timeout_is_refused() {
    let (_socket, addr) = silent();
    for (l, slices) in [
        (load(0, 100, PATIENT), 1),
        (load(1, 100, Duration::ZERO), 1),
        (load(1, 100, PATIENT), 0),
    ] {
        let e = drive_alternating(&[addr], &l, slices, &Echo).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    }
}

/// Keys are 15 letters and digits, one per client and request.
#[test]
fn keys_are_distinct_and_fit_a_record() {
    let mut seen = HashSet::new();
    for client in [0, 1, 35, 36, 46_655] {
        for n in [0, 1, 35, 36, 1 << 40] {
            let key = key_of(client, n);
            assert_eq!(key.len(), 15, "{key}");
            assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
            assert!(Message::new(MsgType::ReadReq, &key, "").is_ok(), "{key}");
            assert!(seen.insert(key.clone()), "{key} twice");
        }
    }
}

/// The store workload writes a key, then reads it back; the store
/// baseline's answers answer it, and a WRITE_REP does not answer a read.
#[test]
fn the_store_workload_writes_then_reads_back() {
    let (write, read) = (Store.request(3, 8), Store.request(3, 9));
    let (w, r) = (
        Message::decode(&write).unwrap(),
        Message::decode(&read).unwrap(),
    );
    assert_eq!((w.kind, r.kind), (MsgType::WriteReq, MsgType::ReadReq));
    assert_eq!(w.key, r.key);
    assert_eq!((write.len(), read.len()), (33, 17));
    let (write_rep, read_rep) = (store_reply(&write).unwrap(), store_reply(&read).unwrap());
    assert_eq!((write_rep.len(), read_rep.len()), (17, 33));
    assert!(Store.answers(&write, &write_rep));
    assert!(Store.answers(&read, &read_rep));
    assert!(!Store.answers(&read, &write_rep));
    assert!(
        !Store.answers(&Store.request(3, 11), &read_rep),
        "another key"
    );
    // Any value answers a read: the baseline stores nothing.
    let other = record(MsgType::ReadRep, &r.key, "written");
    assert!(Store.answers(&read, &other));
    assert_eq!(store_reply(&write_rep), None, "a reply is no request");
}

/// The echo baseline answers only READ_REQs, as a READ_REP of the key.
#[test]
fn the_echo_reply_is_the_hw1_servers() {
    let request = Echo.request(1, 2);
    assert_eq!(request.len(), 33, "hw1's client sends whole records");
    let reply = echo_reply(&request).unwrap();
    assert_eq!(reply, record(MsgType::ReadRep, &key_of(1, 2), SERVER_VALUE));
    assert_eq!(echo_reply(&reply), None);
    assert_eq!(echo_reply(b"garbage"), None);
}

/// Each write of the write workload has a key of its own, answered by a
/// WRITE_REP of that key.
#[test]
fn every_write_has_a_key_of_its_own() {
    let (a, b) = (Writes.request(0, 0), Writes.request(0, 1));
    assert_ne!(
        Message::decode(&a).unwrap().key,
        Message::decode(&b).unwrap().key
    );
    assert!(Writes.answers(&a, &store_reply(&a).unwrap()));
    assert!(!Writes.answers(&b, &store_reply(&a).unwrap()));
}

/// A reservoir keeps no more than its room, and sees every offer.
#[test]
fn a_reservoir_is_bounded() {
    let mut r = Reservoir::new(3, 1);
    let mut samples = Vec::new();
    for i in 0..1000 {
        r.offer(&mut samples, Duration::from_nanos(i));
    }
    assert_eq!(samples.len(), 3);
    assert_eq!(r.seen, 1000);
}

/// Percentiles by nearest rank.
#[test]
fn percentiles_are_nearest_rank() {
    let sorted: Vec<u64> = (1..=100).collect();
    assert_eq!(percentile(&sorted, 0.50), Duration::from_nanos(50));
    assert_eq!(percentile(&sorted, 0.99), Duration::from_nanos(99));
    assert_eq!(percentile(&[7], 0.99), Duration::from_nanos(7));
    assert_eq!(percentile(&[], 0.5), Duration::ZERO);
}
