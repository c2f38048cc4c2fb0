//! Free UDP ports for the programs under test, held until the test ends.
//!
//! A server takes its port number on the command line and binds it itself,
//! so the grader cannot hand it a bound socket. Instead it leases a number:
//! outside the kernel's ephemeral range (so no `bind(port 0)` elsewhere can
//! take it), not bound by any socket on the machine, and locked with
//! `flock(2)` on a file under the temporary directory, so that graders
//! running side by side (as the kit's own test suite does) never lease the
//! same number.
//!
//! Whether a port is bound is asked of the kernel in the calling thread's
//! own network namespace (a test may run in a network namespace of its
//! own, which is the thread's, not the process's: see [`sandbox::net`]),
//! with a `sock_diag(7)` lookup or from `/proc/thread-self/net/udp` and
//! `udp6` ([`is_bound`]), never probed with a bind of the grader's own. A probe
//! socket, however briefly held, is copied into every child another thread
//! of the grader forks at that moment, and a child keeps its copy until it
//! reaches `execve(2)` (longer, while the [sandbox] sets it up): the
//! student's server, started right after, would then meet
//! `EADDRINUSE` on a port the grader had just called free.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};

/// A leased port; the lease ends when this is dropped.
#[derive(Debug)]
pub struct PortLease {
    /// The port number.
    pub port: u16,
    _lock: Flock<File>,
}

/// The UDP sockets of the calling thread's network namespace.
const UDP_TABLES: [&str; 2] = ["/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"];

static CURSOR: AtomicU32 = AtomicU32::new(u32::MAX);

/// The range leases come from: below the kernel's ephemeral range.
fn range() -> (u32, u32) {
    let eph = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    if eph > 12000 {
        (10000, eph)
    } else {
        (eph.max(61000), 65535)
    }
}

fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("dslab-kit-ports")
}

/// Makes the lock directory, if it is not there, as `/tmp` is: every user
/// may add files, and remove only their own (graders of several users,
/// root's among them, lease ports side by side).
fn open_to_all(dir: &Path) -> std::io::Result<()> {
    let located =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
    match std::fs::create_dir(dir) {
        Ok(()) => {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)).map_err(located)
        }
        // Made by an older grader, closed to other users: opened, by its owner.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir).map_err(located)?;
            if meta.is_dir()
                && meta.uid() == nix::unistd::geteuid().as_raw()
                && meta.mode() & 0o1777 != 0o1777
            {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))
                    .map_err(located)?;
            }
            Ok(())
        }
        Err(e) => Err(located(e)),
    }
}

/// The lock file of a port, opened (reading is enough for `flock(2)`), or
/// made, readable by every user; never through a symbolic link.
fn lock_file(path: &Path) -> std::io::Result<File> {
    let located =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let open = |create: bool| {
        OpenOptions::new()
            .read(true)
            .write(create)
            .create_new(create)
            .mode(0o644)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
    };
    match open(false) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match open(true) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => open(false).map_err(located),
            other => other.map_err(located),
        },
        other => other.map_err(located),
    }
}

/// Leases a free port.
///
/// # Errors
/// When the lock directory cannot be created or every port is taken.
pub fn lease() -> std::io::Result<PortLease> {
    let (lo, hi) = range();
    let span = hi - lo;
    let dir = lock_dir();
    open_to_all(&dir)?;
    // Start each grader at a different place so they rarely contend.
    let _ = CURSOR.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    let bound = bound_ports();
    for _ in 0..span {
        let port = (lo + CURSOR.fetch_add(1, Ordering::SeqCst) % span) as u16;
        if bound.contains(&port) {
            continue;
        }
        let file = lock_file(&dir.join(format!("{port}.lock")))?;
        // Bound since the table was read? Then by someone about to use it.
        if let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            && !is_bound(port)
        {
            return Ok(PortLease { port, _lock: lock });
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no free UDP port left to lease",
    ))
}

/// Whether some socket is bound to UDP `port` where a datagram to
/// 127.0.0.1 or ::1 would reach it, in the calling thread's network
/// namespace. Read-only: probing with a bind of our own could steal the
/// port from the program that is about to bind it.
///
/// Asked of the kernel with one `sock_diag(7)` lookup per address (the
/// socket a datagram to that port would reach): the grader asks every few
/// milliseconds while a program starts, and `/proc/net/udp` walks every
/// slot of the kernel's UDP hash table at each read. Where `sock_diag`
/// cannot answer (no `udp_diag` in the kernel), `/proc/net/udp` and
/// `udp6` it is.
pub fn is_bound(port: u16) -> bool {
    if diag::works() {
        diag::lookup(port).unwrap_or_else(|| bound_ports().contains(&port))
    } else {
        bound_ports().contains(&port)
    }
}

/// UDP lookups through `sock_diag(7)` netlink requests.
mod diag {
    use std::net::UdpSocket;
    use std::sync::OnceLock;

    use nix::sys::socket::{
        AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto,
        socket,
    };

    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLMSG_ERROR: u16 = 2;
    const NLM_F_REQUEST: u16 = 1;
    const IPPROTO_UDP: u8 = 17;
    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;

    /// Whether lookups work here: one of a socket of our own, bound to an
    /// ephemeral port (never a port the grader leases), must be found.
    /// Asked once per grader.
    pub(super) fn works() -> bool {
        static WORKS: OnceLock<bool> = OnceLock::new();
        *WORKS.get_or_init(|| {
            let Ok(s) = UdpSocket::bind("127.0.0.1:0") else {
                return false;
            };
            let Ok(a) = s.local_addr() else { return false };
            lookup(a.port()) == Some(true)
        })
    }

    /// Whether a socket would receive a datagram sent to `port` on
    /// 127.0.0.1 or ::1; `None` when the kernel would not say.
    pub(super) fn lookup(port: u16) -> Option<bool> {
        let v4 = one(AF_INET, port)?;
        if v4 {
            return Some(true);
        }
        // No IPv6 on this machine: the IPv4 answer is the answer.
        Some(one(AF_INET6, port).unwrap_or(false))
    }

    /// One exact lookup: the kernel finds the socket a datagram from
    /// the loopback address, port 9, to the loopback address, `port`,
    /// would reach (`udp_dump_one`: the request's source and destination
    /// are the datagram's), and answers with it or with ENOENT.
    fn one(family: u8, port: u16) -> Option<bool> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )
        .ok()?;
        let loopback: [u8; 16] = if family == AF_INET {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[127, 0, 0, 1]);
            a
        } else {
            std::net::Ipv6Addr::LOCALHOST.octets()
        };
        let mut m = Vec::with_capacity(72);
        // struct nlmsghdr
        m.extend_from_slice(&72u32.to_ne_bytes());
        m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        m.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        m.extend_from_slice(&1u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        // struct inet_diag_req_v2: family, protocol, ext, pad, states
        m.extend_from_slice(&[family, IPPROTO_UDP, 0, 0]);
        m.extend_from_slice(&u32::MAX.to_ne_bytes());
        // struct inet_diag_sockid: sport, dport (big-endian), src, dst,
        // interface, cookie (none)
        m.extend_from_slice(&9u16.to_be_bytes());
        m.extend_from_slice(&port.to_be_bytes());
        m.extend_from_slice(&loopback);
        m.extend_from_slice(&loopback);
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&u32::MAX.to_ne_bytes());
        m.extend_from_slice(&u32::MAX.to_ne_bytes());
        debug_assert_eq!(m.len(), 72);
        use std::os::fd::AsRawFd;
        sendto(
            fd.as_raw_fd(),
            &m,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )
        .ok()?;
        let mut reply = [0u8; 512];
        let n = recv(fd.as_raw_fd(), &mut reply, MsgFlags::empty()).ok()?;
        answer(reply.get(..n)?)
    }

    /// What a reply says: a socket (`Some(true)`), ENOENT (`Some(false)`),
    /// or anything else (`None`).
    pub(super) fn answer(reply: &[u8]) -> Option<bool> {
        let kind = u16::from_ne_bytes(reply.get(4..6)?.try_into().ok()?);
        match kind {
            SOCK_DIAG_BY_FAMILY => Some(true),
            NLMSG_ERROR => {
                let error = i32::from_ne_bytes(reply.get(16..20)?.try_into().ok()?);
                (error == -(nix::libc::ENOENT)).then_some(false)
            }
            _ => None,
        }
    }
}

/// Every UDP port some socket on this machine is bound to (IPv4 and IPv6).
fn bound_ports() -> std::collections::BTreeSet<u16> {
    UDP_TABLES
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| {
            t.lines()
                .skip(1)
                .filter_map(|l| {
                    let local = l.split_whitespace().nth(1)?;
                    u16::from_str_radix(local.rsplit(':').next()?, 16).ok()
                })
                .collect::<Vec<u16>>()
        })
        .collect()
}

/// The UDP ports bound by sockets that process `pid` holds open, from its
/// descriptors and `/proc/net/udp` (for saying which port a program bound
/// instead of its own).
pub fn bound_by(pid: i32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_str()?;
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut ports: Vec<u16> = UDP_TABLES
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| {
            t.lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let port = f.get(1)?.rsplit(':').next()?;
                    inodes
                        .iter()
                        .any(|i| Some(&i.as_str()) == f.get(9))
                        .then(|| u16::from_str_radix(port, 16).ok())?
                })
                .collect::<Vec<u16>>()
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn leases_are_distinct_and_bindable() {
        let a = lease().unwrap();
        let b = lease().unwrap();
        assert_ne!(a.port, b.port);
        assert!(!is_bound(a.port));
        let s = UdpSocket::bind(("127.0.0.1", a.port)).unwrap();
        assert!(is_bound(a.port));
        assert!(bound_by(std::process::id() as i32).contains(&a.port));
        drop(s);
        // Not `!is_bound`: a child that another test is starting holds a
        // copy of `s` until it reaches execve(2). This process holds none.
        assert!(!bound_by(std::process::id() as i32).contains(&a.port));
    }

    /// A server binds its leased port without `SO_REUSEADDR`: nothing of
    /// the grader's may still hold it, not even a copy of a descriptor in
    /// a child that another thread is starting (between `fork(2)` and
    /// `execve(2)` a child holds every descriptor of the grader).
    #[test]
    fn a_leased_port_is_free_while_programs_are_being_started() {
        use crate::run::clock::Clock;
        use crate::run::procs::{Launch, Proc};
        use crate::run::record::{NodeRecord, Recorder};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        let starters: Vec<_> = (0..2)
            .map(|_| {
                let (stop, started) = (Arc::clone(&stop), Arc::clone(&started));
                std::thread::spawn(move || {
                    let limits = crate::spec::Limits::default();
                    let launch = Launch {
                        node: 0,
                        program: std::path::Path::new("/bin/true"),
                        args: &[],
                        limits: &limits,
                    };
                    // Bounded: at most 20,000 programs, each gone at once.
                    for _ in 0..20_000 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let limit = std::time::Duration::from_secs(600);
                        let clock = Clock::new(limit, limit);
                        let rec = Recorder::new("t", 1, clock, vec![NodeRecord::new("true")]);
                        let mut p = Proc::spawn(&launch, &rec).unwrap();
                        rec.wait(None, None, |l| !l.alive[0]);
                        p.kill();
                        started.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        let mut refused = Vec::new();
        // Leases for as long as 1,000 programs take to start (at most
        // 100,000 leases).
        for _ in 0..100_000 {
            if started.load(Ordering::SeqCst) >= 1_000 {
                break;
            }
            let l = lease().unwrap();
            if let Err(e) = UdpSocket::bind(("127.0.0.1", l.port)) {
                refused.push(format!("{}: {e}", l.port));
            }
        }
        stop.store(true, Ordering::SeqCst);
        for s in starters {
            s.join().unwrap();
        }
        assert!(
            refused.is_empty(),
            "leased ports a server could not bind: {refused:?}"
        );
    }

    #[test]
    fn a_leased_port_is_locked_against_other_leases() {
        let a = lease().unwrap();
        let file = OpenOptions::new()
            .write(true)
            .open(lock_dir().join(format!("{}.lock", a.port)))
            .unwrap();
        assert!(Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err());
    }

    /// The kernel's lookup finds a socket bound to the loopback address, to
    /// every address, and to IPv6's loopback, as `/proc/net/udp` does, and
    /// works on this machine (or the fallback would hide a broken one).
    #[test]
    fn the_kernel_lookup_finds_what_proc_lists() {
        if !diag::works() {
            // `is_bound` reads /proc here, as `leases_are_distinct_and_bindable` tests.
            eprintln!("sock_diag cannot answer on this machine: nothing to test");
            return;
        }
        let a = lease().unwrap();
        assert_eq!(diag::lookup(a.port), Some(false));
        for addr in ["127.0.0.1", "0.0.0.0", "::1", "::"] {
            let Ok(s) = UdpSocket::bind((addr, a.port)) else {
                // No IPv6 here.
                assert!(addr.contains(':'), "cannot bind {addr}");
                continue;
            };
            assert_eq!(diag::lookup(a.port), Some(true), "bound to {addr}");
            assert!(bound_ports().contains(&a.port));
            drop(s);
        }
    }

    /// Replies: a socket, ENOENT, or something else (no answer).
    #[test]
    fn kernel_replies_are_read() {
        let reply = |kind: u16, error: i32| {
            let mut r = vec![0u8; 20];
            r[4..6].copy_from_slice(&kind.to_ne_bytes());
            r[16..20].copy_from_slice(&error.to_ne_bytes());
            r
        };
        assert_eq!(diag::answer(&reply(20, 0)), Some(true));
        assert_eq!(diag::answer(&reply(2, -nix::libc::ENOENT)), Some(false));
        assert_eq!(diag::answer(&reply(2, -nix::libc::EPERM)), None);
        assert_eq!(diag::answer(&reply(3, 0)), None);
        assert_eq!(diag::answer(&[0u8; 3]), None);
    }
}
