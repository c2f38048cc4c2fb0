//! The command-line arguments of `server` and `client`.
//!
//! clap's derive turns these structs into parsers; the doc comments are the
//! `--help` text. A bad argument makes clap print a usage error and exit with
//! status 2, as the kit's command-line contract asks. Two rules span several
//! arguments, so the derive cannot say them; [`ClientArgs::check`] does:
//! `--policy p2c` needs two ports at least, and no port may be given twice.

use std::collections::HashSet;
use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use crate::choice::Policy;

/// The port a server listens on when none is given: the course's first
/// server.
pub const DEFAULT_PORT: u16 = 5001;

/// The servers the course's client talked to.
pub const DEFAULT_SERVER_PORTS: [u16; 4] = [5001, 5002, 5003, 5004];

/// Server of lab hw4: answers every READ_REQ with a READ_REP, one at a time,
/// each after --delay-ms, until Ctrl+C.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "server")]
pub struct ServerArgs {
    /// UDP port to listen on, on 127.0.0.1
    #[arg(default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// How long to work on each request before answering it, in
    /// milliseconds: a slow server
    #[arg(long, value_name = "D", default_value_t = 0)]
    pub delay_ms: u32,
}

/// Client of lab hw4: sends --count reads, up to --concurrency at a time,
/// each to a server chosen by --policy, and reports how many each server
/// answered.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "client")]
pub struct ClientArgs {
    /// UDP ports of the servers, on 127.0.0.1: server 0, server 1, and so on
    #[arg(
        value_name = "PORT",
        default_values_t = DEFAULT_SERVER_PORTS,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub ports: Vec<u16>,

    /// Seed of the generator of keys and choices; the same seed gives the
    /// same keys and draws [default: taken from the clock, and printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Number of requests to send
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub count: u32,

    /// How many requests may be in flight at once
    #[arg(long, value_name = "W", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,

    /// How to choose the server of each request
    #[arg(long, value_enum, default_value_t = Policy::P2c)]
    pub policy: Policy,

    /// How long to wait for a reply before sending the request again, in
    /// milliseconds
    #[arg(long, value_name = "MS", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub timeout_ms: u32,

    /// How many times to send a request before giving up
    #[arg(long, value_name = "T", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub tries: u32,

    /// How many different keys requests draw from (the data set size)
    #[arg(long, value_name = "K", default_value_t = handout::DATASET_SIZE, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
}

impl ClientArgs {
    /// Parses `args` (the program's name first) and checks the rules that
    /// span several arguments.
    ///
    /// # Errors
    ///
    /// A clap usage error (exit status 2) for anything clap refuses, and for
    /// what [`ClientArgs::check`] refuses.
    pub fn try_parse_checked<I, T>(args: I) -> Result<ClientArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        ClientArgs::try_parse_from(args)?.check()
    }

    /// Checks the rules the derive cannot say: `--policy p2c` needs two
    /// ports at least (its candidates are two different servers), and each
    /// port is given once (a server is known by its address, so a reply
    /// from a port listed twice would belong to two servers).
    ///
    /// # Errors
    ///
    /// A clap usage error that names the rule broken.
    pub fn check(self) -> Result<ClientArgs, clap::Error> {
        let mut command = ClientArgs::command();
        if self.policy == Policy::P2c && self.ports.len() < 2 {
            return Err(command.error(
                ErrorKind::TooFewValues,
                "--policy p2c needs at least two ports: its two candidates are different servers",
            ));
        }
        let mut seen = HashSet::new();
        if let Some(port) = self.ports.iter().find(|&&port| !seen.insert(port)) {
            return Err(command.error(
                ErrorKind::ValueValidation,
                format!("port {port} is given twice: each server has a port of its own"),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(args: &[&str]) -> Result<ClientArgs, clap::Error> {
        ClientArgs::try_parse_checked(std::iter::once("client").chain(args.iter().copied()))
    }

    fn server(args: &[&str]) -> Result<ServerArgs, clap::Error> {
        ServerArgs::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
    }

    /// Without arguments both programs use the course's defaults: the
    /// client talks to four servers, on 5001 to 5004, one request at a
    /// time, with the power of two choices.
    #[test]
    fn defaults_are_the_courses() {
        assert_eq!(
            server(&[]).unwrap(),
            ServerArgs {
                port: 5001,
                delay_ms: 0
            }
        );
        assert_eq!(
            client(&[]).unwrap(),
            ClientArgs {
                ports: vec![5001, 5002, 5003, 5004],
                seed: None,
                count: 5,
                concurrency: 1,
                policy: Policy::P2c,
                timeout_ms: 500,
                tries: 10,
                keys: 1000,
            }
        );
    }

    /// Every option is read, and any number of ports, in order.
    #[test]
    fn options_are_read() {
        assert_eq!(
            server(&["6004", "--delay-ms", "20"]).unwrap(),
            ServerArgs {
                port: 6004,
                delay_ms: 20
            }
        );
        let args = client(&[
            "6001",
            "6002",
            "6003",
            "--seed",
            "42",
            "--count",
            "100",
            "--concurrency",
            "8",
            "--policy",
            "random",
            "--timeout-ms",
            "20",
            "--tries",
            "3",
            "--keys",
            "6",
        ])
        .unwrap();
        assert_eq!(
            args,
            ClientArgs {
                ports: vec![6001, 6002, 6003],
                seed: Some(42),
                count: 100,
                concurrency: 8,
                policy: Policy::Random,
                timeout_ms: 20,
                tries: 3,
                keys: 6,
            }
        );
        assert_eq!(
            client(&["--policy", "least"]).unwrap().policy,
            Policy::Least
        );
        assert_eq!(client(&["--policy=p2c"]).unwrap().policy, Policy::P2c);
    }

    /// One port is enough for random and least, but not for p2c.
    #[test]
    fn p2c_needs_two_ports() {
        let error = client(&["7000"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("two ports"), "{error}");
        assert_eq!(
            client(&["7000", "--policy", "random"]).unwrap().ports,
            [7000]
        );
        assert_eq!(
            client(&["7000", "--policy", "least"]).unwrap().ports,
            [7000]
        );
        assert_eq!(client(&["7000", "7001"]).unwrap().ports, [7000, 7001]);
    }

    /// Bad arguments are usage errors (exit status 2), not panics.
    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["--concurrency", "0"][..],
            &["--tries", "0"],
            &["--timeout-ms", "0"],
            &["--keys", "0"],
            &["--policy", "fastest"],
            &["--policy", "P2C"],
            &["notaport"],
            &["0", "5002"],
            &["5001", "70000"],
            &["5001", "5002", "5001"],
            &["--seed", "clock"],
            &["--count", "-1"],
            &["--frobnicate"],
        ] {
            let error = client(bad).expect_err(&format!("client {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "client {bad:?}");
        }
        for bad in [
            &["notaport"][..],
            &["70000"],
            &["5001", "5002"],
            &["--delay-ms", "-1"],
            &["--delay-ms", "slow"],
        ] {
            let error = server(bad).expect_err(&format!("server {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "server {bad:?}");
        }
    }
}
