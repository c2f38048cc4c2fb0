//! A network of its own for each test: a network namespace with nothing
//! but the loopback interface, up.
//!
//! The grader's proxy sits between the programs of a test on 127.0.0.1.
//! In a namespace of its own, a test's programs reach only that loopback:
//! not the machine's other interfaces, not the internet, not the ports of
//! a test that runs beside it.
//!
//! A namespace belongs to a thread, not to a process: [`Loopback::enter`]
//! moves the calling thread into a new one, and every socket the thread
//! creates afterwards, every thread it starts and every program it starts
//! live there. So a test's thread enters it first, before it binds its
//! scripted peers' sockets, starts its proxy and its programs; the grader's
//! other threads, and the other tests, are not moved. When the guard is
//! dropped the thread goes back where it was; the namespace itself lives
//! as long as a socket or a process holds it.
//!
//! Making a namespace takes `CAP_SYS_ADMIN`: root on an ordinary machine,
//! often not in a container. [`available`] says whether it works here.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;

use nix::libc;
use nix::sched::{CloneFlags, setns, unshare};

/// The calling thread inside a network namespace of its own; dropping it
/// takes the thread back to the namespace it came from.
#[derive(Debug)]
pub struct Loopback {
    home: File,
}

impl Loopback {
    /// Moves the calling thread into a new network namespace, with `lo` up.
    ///
    /// # Errors
    /// When the namespace cannot be made (no `CAP_SYS_ADMIN`) or `lo`
    /// cannot be brought up; the thread is then where it was.
    pub fn enter() -> io::Result<Loopback> {
        let home = File::open("/proc/thread-self/ns/net")?;
        unshare(CloneFlags::CLONE_NEWNET)?;
        let guard = Loopback { home };
        lo_up()?;
        Ok(guard)
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        let _ = setns(&self.home, CloneFlags::CLONE_NEWNET);
    }
}

/// Brings up the loopback interface of the calling thread's namespace,
/// through `SIOCSIFFLAGS` on a socket of that namespace.
fn lo_up() -> io::Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    // SAFETY: an all-zero `ifreq` is valid; the name is copied in with
    // its terminating zero inside the array; the ioctls read and write
    // only this `ifreq`, which outlives them; the union member read is
    // the one SIOCGIFFLAGS wrote.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as libc::c_char;
        }
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) != 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &req) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether tests can have networks of their own here, and if not, why:
/// tried once, in a thread of its own, and remembered.
///
/// # Errors
/// Why not, for people (`no network namespace: EPERM: ...`).
pub fn available() -> Result<(), String> {
    static TRIED: OnceLock<Result<(), String>> = OnceLock::new();
    TRIED
        .get_or_init(|| {
            std::thread::spawn(|| Loopback::enter().map(drop).map_err(|e| e.to_string()))
                .join()
                .unwrap_or_else(|_| Err("the attempt panicked".into()))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_has_its_own_loopback_only() {
        if available().is_err() {
            eprintln!("skipped: no network namespace here ({:?})", available());
            return;
        }
        std::thread::spawn(|| {
            let outside = UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = outside.local_addr().unwrap().port();
            let ns = Loopback::enter().unwrap();
            let dev = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
            let names: Vec<&str> = dev
                .lines()
                .skip(2)
                .filter_map(|l| l.split(':').next().map(str::trim))
                .collect();
            assert_eq!(names, ["lo"]);
            // The outer socket's port is free in here, and lo works.
            let a = UdpSocket::bind(("127.0.0.1", port)).unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            b.send_to(b"x", a.local_addr().unwrap()).unwrap();
            let mut buf = [0u8; 4];
            assert_eq!(a.recv(&mut buf).unwrap(), 1);
            drop(ns);
            // Back home: the outer socket's port is taken again.
            assert!(UdpSocket::bind(("127.0.0.1", port)).is_err());
        })
        .join()
        .unwrap();
    }
}
