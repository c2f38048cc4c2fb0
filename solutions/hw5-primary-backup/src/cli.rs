//! The command-line arguments of `server` and `client`.
//!
//! clap's derive turns these structs into parsers; the doc comments are the
//! `--help` text. A bad argument makes clap print a usage error and exit with
//! status 2, as the kit's command-line contract asks. One rule is beyond
//! what the derive can say (`--backups` belongs to a primary only), so the
//! server's arguments are read with [`parse_server_args`], which checks it
//! and reports it as a usage error too.

use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, ValueEnum};

/// The primary's port in the course: a server on this port is the primary
/// unless `--role` says otherwise.
pub const PRIMARY_PORT: u16 = 5001;

/// The backups' ports in the course, which a primary forwards to when
/// `--backups` is not given.
pub const DEFAULT_BACKUP_PORTS: [u16; 2] = [5002, 5003];

/// How long the primary waits for a backup's acknowledgement before it
/// forwards the write again, in milliseconds, by default.
pub const DEFAULT_FORWARD_TIMEOUT_MS: u32 = 200;

/// How many times the primary forwards a write to a backup, by default,
/// before it gives up on it.
pub const DEFAULT_FORWARD_TRIES: u32 = 10;

/// The two parts a server can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Serves the client: applies its writes, forwards them to the backups,
    /// and acknowledges them once every backup has.
    Primary,
    /// Applies the writes the primary forwards, and acknowledges them.
    Backup,
}

/// Server of lab hw5: a replica of the key-value store, as the primary or
/// as a backup, until Ctrl+C.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "server")]
pub struct ServerArgs {
    /// UDP port to listen on, on 127.0.0.1
    #[arg(default_value_t = PRIMARY_PORT)]
    pub port: u16,

    /// The part to play [default: primary on port 5001, backup on any
    /// other]
    #[arg(long, value_enum)]
    pub role: Option<Role>,

    /// A primary's backups: their UDP ports on 127.0.0.1, backup 0 first
    /// [default: 5002 5003]
    #[arg(long, value_name = "PORT", num_args = 1.., value_parser = clap::value_parser!(u16).range(1..))]
    pub backups: Vec<u16>,

    /// How long a primary waits for a backup to acknowledge a write before
    /// forwarding it again, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_FORWARD_TIMEOUT_MS, value_parser = clap::value_parser!(u32).range(1..))]
    pub timeout_ms: u32,

    /// How many times a primary forwards a write to a backup before giving
    /// up on it
    #[arg(long, value_name = "T", default_value_t = DEFAULT_FORWARD_TRIES, value_parser = clap::value_parser!(u32).range(1..))]
    pub tries: u32,
}

impl ServerArgs {
    /// The role this server plays: `--role`, or else the course's rule,
    /// primary on port 5001 and backup on any other port.
    pub fn role(&self) -> Role {
        self.role.unwrap_or(if self.port == PRIMARY_PORT {
            Role::Primary
        } else {
            Role::Backup
        })
    }

    /// The ports a primary forwards to: `--backups`, or the course's 5002
    /// and 5003.
    pub fn backup_ports(&self) -> Vec<u16> {
        if self.backups.is_empty() {
            DEFAULT_BACKUP_PORTS.to_vec()
        } else {
            self.backups.clone()
        }
    }
}

/// Reads the server's arguments from `args` (the program's name first, as
/// `std::env::args_os` gives them), with the rule clap's derive cannot
/// express: `--backups` is given to a primary only.
///
/// # Errors
///
/// A clap usage error (exit status 2 when the caller calls
/// [`clap::Error::exit`]), or clap's help and version "errors".
pub fn parse_server_args<I, T>(args: I) -> Result<ServerArgs, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = ServerArgs::try_parse_from(args)?;
    if parsed.role() == Role::Backup && !parsed.backups.is_empty() {
        return Err(ServerArgs::command().error(
            ErrorKind::ArgumentConflict,
            "--backups is for a primary; a backup has no backups",
        ));
    }
    Ok(parsed)
}

/// Client of lab hw5: sends random reads and writes, one at a time, to the
/// primary, and prints each request and its reply.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "client")]
pub struct ClientArgs {
    /// UDP port of the primary, on 127.0.0.1
    #[arg(default_value_t = PRIMARY_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub primary_port: u16,

    /// Seed of the request generator; the same seed gives the same requests
    /// [default: taken from the clock, and printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Number of requests to send
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub count: u32,

    /// How many different keys requests draw from (the data set size)
    #[arg(long, value_name = "K", default_value_t = handout::DATASET_SIZE, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,

    /// How long to wait for a reply before sending the request again, in
    /// milliseconds
    #[arg(long, value_name = "MS", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub timeout_ms: u32,

    /// How many times to send a request before giving up
    #[arg(long, value_name = "T", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub tries: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(args: &[&str]) -> Result<ServerArgs, clap::Error> {
        parse_server_args(std::iter::once("server").chain(args.iter().copied()))
    }

    fn client(args: &[&str]) -> Result<ClientArgs, clap::Error> {
        ClientArgs::try_parse_from(std::iter::once("client").chain(args.iter().copied()))
    }

    /// Without arguments the programs use the course's set-up: the server
    /// is the primary on 5001 with backups on 5002 and 5003, and the client
    /// talks to 5001.
    #[test]
    fn defaults_are_the_courses() {
        let args = server(&[]).unwrap();
        assert_eq!(
            args,
            ServerArgs {
                port: 5001,
                role: None,
                backups: vec![],
                timeout_ms: 200,
                tries: 10,
            }
        );
        assert_eq!(args.role(), Role::Primary);
        assert_eq!(args.backup_ports(), [5002, 5003]);
        assert_eq!(
            client(&[]).unwrap(),
            ClientArgs {
                primary_port: 5001,
                seed: None,
                count: 5,
                keys: 1000,
                timeout_ms: 500,
                tries: 10,
            }
        );
    }

    /// The port decides the role unless --role does.
    #[test]
    fn the_role_follows_the_port_unless_given() {
        assert_eq!(server(&["5002"]).unwrap().role(), Role::Backup);
        assert_eq!(server(&["6001"]).unwrap().role(), Role::Backup);
        assert_eq!(
            server(&["6001", "--role", "primary"]).unwrap().role(),
            Role::Primary
        );
        assert_eq!(
            server(&["5001", "--role", "backup"]).unwrap().role(),
            Role::Backup
        );
    }

    /// Every option is read; --backups takes one port or more.
    #[test]
    fn options_are_read() {
        let args = server(&[
            "6001",
            "--role",
            "primary",
            "--backups",
            "6002",
            "6003",
            "6004",
            "--timeout-ms",
            "50",
            "--tries",
            "3",
        ])
        .unwrap();
        assert_eq!(args.backup_ports(), [6002, 6003, 6004]);
        assert_eq!((args.timeout_ms, args.tries), (50, 3));
        let args = client(&[
            "6001",
            "--seed",
            "42",
            "--count",
            "30",
            "--keys",
            "2",
            "--timeout-ms",
            "20",
            "--tries",
            "1",
        ])
        .unwrap();
        assert_eq!(
            args,
            ClientArgs {
                primary_port: 6001,
                seed: Some(42),
                count: 30,
                keys: 2,
                timeout_ms: 20,
                tries: 1,
            }
        );
    }

    /// Bad arguments are usage errors (exit status 2), not panics.
    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["notaport"][..],
            &["70000"],
            &["5001", "5002"],
            &["--role", "leader"],
            &["--backups"],
            &["--backups", "0"],
            &["--timeout-ms", "0"],
            &["--tries", "0"],
            // --backups belongs to a primary
            &["5002", "--backups", "5003"],
            &["5001", "--role", "backup", "--backups", "5003"],
        ] {
            let error = server(bad).expect_err(&format!("server {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "server {bad:?}");
        }
        for bad in [
            &["notaport"][..],
            &["0"],
            &["5001", "5002"],
            &["--keys", "0"],
            &["--tries", "0"],
            &["--timeout-ms", "0"],
            &["--seed", "clock"],
        ] {
            let error = client(bad).expect_err(&format!("client {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "client {bad:?}");
        }
    }
}
