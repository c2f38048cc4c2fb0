//! The interposed network: every datagram between two nodes passes through
//! the grader, which records it and may drop, duplicate or delay it.
//!
//! # Faces
//! For each ordered pair of nodes (A, B) the proxy binds one UDP socket, the
//! *face of B towards A*: A is told (through `{peer:B}`) to send to it, and
//! everything B sends to A leaves from it. So:
//!
//! ```text
//!   A ──▶ face(A→B) ═══ proxy ═══ face(B→A) ──▶ B's address
//!   A ◀── face(A→B) ═══ proxy ═══ face(B→A) ◀── B replies to its sender
//! ```
//!
//! A server B therefore sees each of its clients at a distinct address (one
//! face per client), replies go back the way they came, and a client sees
//! its replies come from the very address it sent to. A node's address is
//! its leased port when it listens, else it is learned from the first
//! datagram it sends (a client's ephemeral port).
//!
//! # Faults
//! Each link (ordered pair) draws its faults from its own generator, seeded
//! from the test's seed and the link, in the order of the link's datagrams:
//! the same seed makes the same decisions for the same traffic, whatever
//! the other links do meanwhile.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use handout::Rng;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::spec::Faults;

/// What became of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered once (perhaps late).
    Delivered,
    /// Delivered twice.
    Duplicated,
    /// Lost on purpose (the link's drop probability).
    Dropped,
    /// Lost because a partition separates the nodes.
    Partitioned,
    /// The receiver has no address yet (it never sent anything and has no port).
    Undeliverable,
}

impl Fate {
    /// How many copies reached the receiver.
    pub fn copies(self) -> usize {
        match self {
            Fate::Delivered => 1,
            Fate::Duplicated => 2,
            _ => 0,
        }
    }
}

/// One datagram as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Time since the network started.
    pub at: Duration,
    /// Index of the sending node.
    pub from: usize,
    /// Index of the receiving node.
    pub to: usize,
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// What the proxy did with it.
    pub fate: Fate,
}

/// The record, with a condition variable signalled at each new datagram.
type Log = Arc<(Mutex<Vec<Datagram>>, Condvar)>;

/// Changes a test makes while it runs.
#[derive(Debug, Default)]
struct Control {
    /// Pairs (a, b) with a < b that cannot reach each other.
    partitions: Vec<(usize, usize)>,
}

/// The running proxy of one test.
pub struct Network {
    n: usize,
    ports: Vec<u16>,
    control: Arc<Mutex<Control>>,
    log: Log,
    stop: Arc<AtomicBool>,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

struct Face {
    socket: UdpSocket,
    /// The address of the node this face serves (the sender side).
    peer: Option<SocketAddr>,
}

struct Pending {
    due: Instant,
    seq: u64,
    via: usize,
    to: SocketAddr,
    bytes: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.seq) == (o.due, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(o.due, o.seq))
    }
}

impl Network {
    /// Starts the proxy for nodes whose listening ports are `homes` (None
    /// for a node whose address is learned), with `faults(from, to)` per link.
    ///
    /// # Errors
    /// When a face cannot be bound.
    pub fn start(
        homes: &[Option<u16>],
        faults: impl Fn(usize, usize) -> Faults,
        seed: u64,
    ) -> std::io::Result<Network> {
        let n = homes.len();
        let mut faces = Vec::with_capacity(n * n);
        let mut link_faults = Vec::with_capacity(n * n);
        let mut rngs = Vec::with_capacity(n * n);
        for (a, home) in homes.iter().enumerate() {
            for b in 0..n {
                let socket = UdpSocket::bind("127.0.0.1:0")?;
                socket.set_nonblocking(true)?;
                let peer = home.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
                faces.push(Face { socket, peer });
                link_faults.push(faults(a, b));
                let link = (a * n + b) as u64;
                rngs.push(Rng::new(
                    seed ^ link.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ));
            }
        }
        let ports = faces
            .iter()
            .map(|f| f.socket.local_addr().map(|a| a.port()))
            .collect::<Result<Vec<_>, _>>()?;
        let (wake_rx, wake) = nix::unistd::pipe()?;
        let control = Arc::new(Mutex::new(Control::default()));
        let log: Log = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut state = Proxy {
            n,
            faces,
            faults: link_faults,
            rngs,
            control: Arc::clone(&control),
            log: Arc::clone(&log),
            pending: BinaryHeap::new(),
            seq: 0,
            started: Instant::now(),
        };
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("proxy".into())
            .spawn(move || state.run(&wake_rx, &stop2))?;
        Ok(Network {
            n,
            ports,
            control,
            log,
            stop,
            wake,
            thread: Some(thread),
        })
    }

    /// The port node `from` sends to in order to reach node `to`.
    pub fn face_port(&self, from: usize, to: usize) -> u16 {
        self.ports[from * self.n + to]
    }

    /// The node that `from` reaches through `port`, if `port` is one of its faces.
    pub fn peer_behind(&self, from: usize, port: u16) -> Option<usize> {
        (0..self.n).find(|&to| self.face_port(from, to) == port)
    }

    /// Cuts both directions between `a` and `b`.
    pub fn partition(&self, a: usize, b: usize) {
        self.control
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .partitions
            .push((a.min(b), a.max(b)));
    }

    /// Ends every partition.
    pub fn heal(&self) {
        self.control
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .partitions
            .clear();
    }

    /// The datagrams recorded so far.
    pub fn log(&self) -> Vec<Datagram> {
        self.log.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until at least `n` datagrams are recorded or `timeout` passes;
    /// returns whether they were.
    pub fn wait_recorded(&self, n: usize, timeout: Duration) -> bool {
        let (lock, cv) = &*self.log;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |log| log.len() < n)
            .unwrap_or_else(|e| e.into_inner());
        guard.len() >= n
    }

    /// Stops the proxy and returns everything it recorded.
    pub fn stop(&mut self) -> Vec<Datagram> {
        self.shutdown();
        self.log()
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = nix::unistd::write(&self.wake, &[1]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Proxy {
    n: usize,
    faces: Vec<Face>,
    faults: Vec<Faults>,
    rngs: Vec<Rng>,
    control: Arc<Mutex<Control>>,
    log: Log,
    pending: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    started: Instant,
}

impl Proxy {
    /// Blocks in poll(2) until a face is readable, the next delayed
    /// datagram is due, or the test stops the network.
    fn run(&mut self, wake: &OwnedFd, stop: &AtomicBool) {
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::SeqCst) {
            let timeout = match self.pending.peek() {
                Some(Reverse(p)) => {
                    let ms = p.due.saturating_duration_since(Instant::now()).as_millis();
                    PollTimeout::try_from(ms.min(60_000) as i32 + 1).unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            let ready: Vec<usize> = {
                let mut fds: Vec<PollFd> = self
                    .faces
                    .iter()
                    .map(|f| PollFd::new(f.socket.as_fd(), PollFlags::POLLIN))
                    .collect();
                fds.push(PollFd::new(wake.as_fd(), PollFlags::POLLIN));
                match poll(&mut fds, timeout) {
                    Err(nix::Error::EINTR) => continue,
                    Err(_) => break,
                    Ok(_) => {}
                }
                fds[..self.faces.len()]
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                    .map(|(i, _)| i)
                    .collect()
            };
            for k in ready {
                while let Ok((len, src)) = self.faces[k].socket.recv_from(&mut buf) {
                    self.forward(k, src, buf[..len].to_vec());
                }
            }
            self.deliver_due();
        }
    }

    fn forward(&mut self, k: usize, src: SocketAddr, bytes: Vec<u8>) {
        let (from, to) = (k / self.n, k % self.n);
        self.faces[k].peer = Some(src);
        let back = to * self.n + from;
        let dest = self.faces[back].peer;
        let f = self.faults[k];
        let rng = &mut self.rngs[k];
        // Always draw the same numbers per datagram, so that one decision
        // never shifts the draws of the next.
        let drop = rng.chance(f.drop);
        let dup = rng.chance(f.duplicate);
        let jitters = [rng.next_f64(), rng.next_f64()];
        let cut = {
            let c = self.control.lock().unwrap_or_else(|e| e.into_inner());
            c.partitions.contains(&(from.min(to), from.max(to)))
        };
        let fate = match dest {
            None => Fate::Undeliverable,
            Some(_) if cut => Fate::Partitioned,
            Some(_) if drop => Fate::Dropped,
            Some(_) if dup => Fate::Duplicated,
            Some(_) => Fate::Delivered,
        };
        if let Some(dest) = dest {
            for j in jitters.iter().take(fate.copies()) {
                let delay = f.delay.0 + f.jitter.0.mul_f64(*j);
                if delay.is_zero() {
                    let _ = self.faces[back].socket.send_to(&bytes, dest);
                } else {
                    self.seq += 1;
                    let p = Pending {
                        due: Instant::now() + delay,
                        seq: self.seq,
                        via: back,
                        to: dest,
                        bytes: bytes.clone(),
                    };
                    self.pending.push(Reverse(p));
                }
            }
        }
        let d = Datagram {
            at: self.started.elapsed(),
            from,
            to,
            bytes,
            fate,
        };
        self.log.0.lock().unwrap_or_else(|e| e.into_inner()).push(d);
        self.log.1.notify_all();
    }

    fn deliver_due(&mut self) {
        let now = Instant::now();
        while self.pending.peek().is_some_and(|Reverse(p)| p.due <= now) {
            let Some(Reverse(p)) = self.pending.pop() else {
                break;
            };
            let _ = self.faces[p.via].socket.send_to(&p.bytes, p.to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Dur;

    fn pair() -> (UdpSocket, UdpSocket, Network) {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&server, &client] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let port = server.local_addr().unwrap().port();
        let net = Network::start(&[Some(port), None], |_, _| Faults::default(), 1).unwrap();
        (server, client, net)
    }

    #[test]
    fn a_request_and_its_reply_pass_through_distinct_faces() {
        let (server, client, mut net) = pair();
        let to_server = net.face_port(1, 0);
        client.send_to(b"ping", ("127.0.0.1", to_server)).unwrap();
        let mut buf = [0u8; 64];
        let (n, src) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(
            src.port(),
            net.face_port(0, 1),
            "the server sees the client's face"
        );
        server.send_to(b"pong", src).unwrap();
        let (n, src) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(
            src.port(),
            to_server,
            "the reply comes from where the request went"
        );
        let log = net.stop();
        assert_eq!(log.len(), 2);
        assert_eq!(
            (log[0].from, log[0].to, log[0].fate),
            (1, 0, Fate::Delivered)
        );
        assert_eq!((log[1].from, log[1].to), (0, 1));
    }

    #[test]
    fn to_a_node_without_an_address_is_undeliverable() {
        let (server, _client, mut net) = pair();
        server
            .send_to(b"hello", ("127.0.0.1", net.face_port(0, 1)))
            .unwrap();
        assert!(net.wait_recorded(1, Duration::from_secs(5)));
        assert_eq!(net.stop()[0].fate, Fate::Undeliverable);
    }

    fn fates(seed: u64, faults: Faults, count: usize) -> Vec<Fate> {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let mut net = Network::start(&[Some(port), None], move |_, _| faults, seed).unwrap();
        for i in 0..count {
            client
                .send_to(&[i as u8], ("127.0.0.1", net.face_port(1, 0)))
                .unwrap();
        }
        assert!(net.wait_recorded(count, Duration::from_secs(5)));
        net.stop().iter().map(|d| d.fate).collect()
    }

    #[test]
    fn the_same_seed_makes_the_same_decisions() {
        let f = Faults {
            drop: 0.3,
            duplicate: 0.2,
            ..Faults::default()
        };
        let a = fates(7, f, 60);
        assert_eq!(a, fates(7, f, 60));
        assert_ne!(a, fates(8, f, 60));
        let dropped = a.iter().filter(|x| **x == Fate::Dropped).count();
        assert!(
            (5..=35).contains(&dropped),
            "{dropped} of 60 dropped at p=0.3"
        );
        assert!(a.contains(&Fate::Duplicated));
    }

    #[test]
    fn a_delayed_datagram_arrives_late() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let f = Faults {
            delay: Dur(Duration::from_millis(150)),
            ..Faults::default()
        };
        let net = Network::start(&[Some(port), None], move |_, _| f, 1).unwrap();
        let t = Instant::now();
        client
            .send_to(b"x", ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
        let mut buf = [0u8; 8];
        server.recv_from(&mut buf).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn a_partition_cuts_both_ways() {
        let (server, client, mut net) = pair();
        net.partition(0, 1);
        client
            .send_to(b"x", ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
        assert!(net.wait_recorded(1, Duration::from_secs(5)));
        net.heal();
        client
            .send_to(b"y", ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
        let mut buf = [0u8; 8];
        let (n, _) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"y");
        assert_eq!(net.stop()[0].fate, Fate::Partitioned);
    }
}
