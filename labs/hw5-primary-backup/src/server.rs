//! The `server` program: one replica, in the role its arguments give it.
//!
//! The course ran the same program three times, and the port decided the
//! part: `./server 5001` was the primary, `./server 5002` and
//! `./server 5003` the backups, which the primary knew by their ports.
//! `--role` and `--backups` make both explicit, so that the grader can run
//! the replicas on any ports.

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use handout::net::{Endpoint, Retry, StopSignals};

use crate::backup::{self, Backup};
use crate::cli::{Role, ServerArgs};
use crate::primary::Primary;

/// Runs the server until SIGINT or SIGTERM: binds 127.0.0.1:`args.port`
/// and serves as the primary or as a backup.
///
/// # Errors
///
/// `cannot bind <addr>: <why>` when `bind(2)` fails, e.g. because the port is
/// in use; any other error of `poll(2)` or `recvfrom(2)`.
pub fn run(args: &ServerArgs) -> Result<(), Box<dyn Error>> {
    let stop = StopSignals::install()?;
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, args.port);
    let endpoint = Endpoint::bind(addr).map_err(|error| format!("cannot bind {addr}: {error}"))?;
    match args.role() {
        Role::Primary => {
            let backups: Vec<SocketAddrV4> = args
                .backup_ports()
                .into_iter()
                .map(|port| SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
                .collect();
            let names: Vec<String> = backups.iter().map(ToString::to_string).collect();
            // On stderr, so that stdout stays the course's transcript.
            eprintln!("server: primary on {addr}, backups {}", names.join(" "));
            let retry = Retry {
                timeout: Duration::from_millis(u64::from(args.timeout_ms)),
                tries: args.tries,
            };
            Primary::new(endpoint, backups, retry).serve(&stop)?;
        }
        Role::Backup => {
            eprintln!("server: backup on {addr}");
            backup::serve(&endpoint, &stop, &mut Backup::new())?;
        }
    }
    Ok(())
}
