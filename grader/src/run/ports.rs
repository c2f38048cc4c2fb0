//! Free UDP ports for the programs under test, held until the test ends.
//!
//! A server takes its port number on the command line and binds it itself,
//! so the grader cannot hand it a bound socket. Instead it leases a number:
//! outside the kernel's ephemeral range (so no `bind(port 0)` elsewhere can
//! take it), probed with a test bind, and locked with `flock(2)` on a file
//! under the temporary directory, so that graders running side by side (as
//! the kit's own test suite does) never lease the same number.

use std::fs::{File, OpenOptions};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};

/// A leased port; the lease ends when this is dropped.
#[derive(Debug)]
pub struct PortLease {
    /// The port number.
    pub port: u16,
    _lock: Flock<File>,
}

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

/// Leases a free port.
///
/// # Errors
/// When the lock directory cannot be created or every port is taken.
pub fn lease() -> std::io::Result<PortLease> {
    let (lo, hi) = range();
    let span = hi - lo;
    let dir = lock_dir();
    std::fs::create_dir_all(&dir)?;
    // Start each grader at a different place so they rarely contend.
    let _ = CURSOR.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let port = (lo + CURSOR.fetch_add(1, Ordering::SeqCst) % span) as u16;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{port}.lock")))?;
        let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
            continue;
        };
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(PortLease { port, _lock: lock });
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no free UDP port left to lease",
    ))
}

/// Whether some socket on this machine is bound to UDP `port`, from
/// `/proc/net/udp` and `/proc/net/udp6`. Read-only: probing with a bind of
/// our own could steal the port from the program that is about to bind it.
pub fn is_bound(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    ["/proc/net/udp", "/proc/net/udp6"].iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|t| {
            t.lines().skip(1).any(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|local| format!("{local} ").ends_with(&needle))
            })
        })
    })
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
    let mut ports: Vec<u16> = ["/proc/net/udp", "/proc/net/udp6"]
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

    #[test]
    fn leases_are_distinct_and_bindable() {
        let a = lease().unwrap();
        let b = lease().unwrap();
        assert_ne!(a.port, b.port);
        assert!(!is_bound(a.port));
        let s = UdpSocket::bind(("127.0.0.1", a.port)).unwrap();
        assert!(is_bound(a.port));
        assert_eq!(bound_by(std::process::id() as i32), [a.port]);
        drop(s);
        assert!(!is_bound(a.port));
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
}
