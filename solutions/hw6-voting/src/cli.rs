//! The command-line arguments of `server` and `client`.
//!
//! clap's derive turns these structs into parsers; the doc comments are the
//! `--help` text. A bad argument makes clap print a usage error and exit with
//! status 2, as the kit's command-line contract asks. One rule spans several
//! arguments (enough servers for `--faults`), so the client's arguments are
//! checked once more after parsing, by [`ClientArgs::check`].

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

/// The server's port when none is given: the course's first server.
pub const DEFAULT_PORT: u16 = 5001;

/// The port of the course's faulty server: a server started on it without
/// `--faulty` or `--honest` lies.
pub const FAULTY_PORT: u16 = 5003;

/// The course's three servers.
pub const DEFAULT_PORTS: [u16; 3] = [5001, 5002, 5003];

/// How many different keys the client draws from by default: the course's
/// data set size.
pub const DEFAULT_KEYS: u64 = handout::DATASET_SIZE;

/// Server of lab hw6: answers every READ_REQ with a READ_REP, honestly or
/// (when faulty) with a lie, until Ctrl+C.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "server")]
pub struct ServerArgs {
    /// UDP port to listen on, on 127.0.0.1
    #[arg(default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// Lie: answer every read with SSWUCSE [default: only on port 5003]
    #[arg(long, conflicts_with = "honest")]
    pub faulty: bool,

    /// Tell the truth, whatever the port
    #[arg(long)]
    pub honest: bool,
}

impl ServerArgs {
    /// Whether this server lies: `--faulty` says yes, `--honest` says no,
    /// and without either the port decides, as in the course (5003 lies).
    pub fn is_faulty(&self) -> bool {
        self.faulty || (!self.honest && self.port == FAULTY_PORT)
    }
}

/// Client of lab hw6: sends each read to every server and prints True when
/// f+1 distinct servers agree on a value, False when none can.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "client")]
pub struct ClientArgs {
    /// UDP ports of the servers, on 127.0.0.1 [default: 5001 5002 5003]
    #[arg(value_parser = clap::value_parser!(u16).range(1..))]
    pub ports: Vec<u16>,

    /// Seed of the request generator; the same seed gives the same requests
    /// [default: taken from the clock, and printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Number of requests to send
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub count: u32,

    /// How many servers may be faulty; the servers must number at least
    /// 2F+1 [default: (number of servers - 1) / 2]
    #[arg(long, value_name = "F")]
    pub faults: Option<u32>,

    /// How many different keys to draw from
    #[arg(long, value_name = "K", default_value_t = DEFAULT_KEYS, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,

    /// How long to wait for a decision before asking the silent servers
    /// again, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub timeout_ms: u32,

    /// How many times to send a request before giving up on a decision
    #[arg(long, value_name = "T", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub tries: u32,
}

impl ClientArgs {
    /// The arguments of `client ARGS...`, parsed and checked: what `main`
    /// uses.
    ///
    /// # Errors
    ///
    /// A clap usage error (exit status 2) for an argument clap refuses, or
    /// for arguments that do not fit together (see [`ClientArgs::check`]).
    pub fn try_from_args<I, T>(args: I) -> Result<ClientArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        ClientArgs::try_parse_from(args)?.check()
    }

    /// The servers' ports: those given, or the course's three.
    pub fn server_ports(&self) -> Vec<u16> {
        if self.ports.is_empty() {
            DEFAULT_PORTS.to_vec()
        } else {
            self.ports.clone()
        }
    }

    /// How many servers may be faulty: `--faults`, or as many as the
    /// servers can outvote, `(n - 1) / 2`.
    pub fn fault_bound(&self) -> usize {
        let n = self.server_ports().len();
        self.faults.map_or((n - 1) / 2, |f| f as usize)
    }

    /// Checks what clap cannot see one argument at a time: no port is given
    /// twice (a server votes once), and there are at least `2F + 1`
    /// servers, so that `F + 1` honest ones can outvote `F` liars.
    ///
    /// # Errors
    ///
    /// A clap usage error, which exits with status 2.
    pub fn check(self) -> Result<ClientArgs, clap::Error> {
        let ports = self.server_ports();
        for (i, port) in ports.iter().enumerate() {
            if ports[..i].contains(port) {
                return Err(ClientArgs::command().error(
                    ErrorKind::ValueValidation,
                    format!("port {port} is given twice: each server votes once"),
                ));
            }
        }
        let n = ports.len();
        let f = self.fault_bound();
        if n < 2 * f + 1 {
            return Err(ClientArgs::command().error(
                ErrorKind::ArgumentConflict,
                format!(
                    "--faults {f} needs at least {} servers to outvote the faulty ones, and {n} are given",
                    2 * f + 1
                ),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(args: &[&str]) -> Result<ServerArgs, clap::Error> {
        ServerArgs::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
    }

    fn client(args: &[&str]) -> Result<ClientArgs, clap::Error> {
        ClientArgs::try_from_args(std::iter::once("client").chain(args.iter().copied()))
    }

    /// Without arguments the programs use the course's ports, and the
    /// client tolerates one liar among three servers.
    #[test]
    fn defaults_are_the_courses() {
        let args = server(&[]).unwrap();
        assert_eq!(args.port, 5001);
        assert!(!args.is_faulty());
        let args = client(&[]).unwrap();
        assert_eq!(
            args,
            ClientArgs {
                ports: vec![],
                seed: None,
                count: 5,
                faults: None,
                keys: 1000,
                timeout_ms: 500,
                tries: 3,
            }
        );
        assert_eq!(args.server_ports(), [5001, 5002, 5003]);
        assert_eq!(args.fault_bound(), 1);
    }

    /// The server on 5003 lies unless told otherwise; the flags win over
    /// the port.
    #[test]
    fn the_port_or_a_flag_makes_a_liar() {
        assert!(server(&["5003"]).unwrap().is_faulty());
        assert!(!server(&["5003", "--honest"]).unwrap().is_faulty());
        assert!(server(&["6001", "--faulty"]).unwrap().is_faulty());
        assert!(!server(&["6001"]).unwrap().is_faulty());
    }

    /// Every option is read, and F defaults to (n - 1) / 2.
    #[test]
    fn options_are_read() {
        let args = client(&[
            "6001",
            "6002",
            "6003",
            "6004",
            "6005",
            "--seed",
            "42",
            "--count",
            "7",
            "--keys",
            "10",
            "--timeout-ms",
            "20",
            "--tries",
            "1",
        ])
        .unwrap();
        assert_eq!(args.server_ports(), [6001, 6002, 6003, 6004, 6005]);
        assert_eq!(args.fault_bound(), 2);
        assert_eq!(
            (
                args.seed,
                args.count,
                args.keys,
                args.timeout_ms,
                args.tries
            ),
            (Some(42), 7, 10, 20, 1)
        );
        assert_eq!(client(&["6001", "--faults", "0"]).unwrap().fault_bound(), 0);
        assert_eq!(client(&["6001", "6002"]).unwrap().fault_bound(), 0);
        assert_eq!(
            client(&["1", "2", "3", "4", "--faults", "1"])
                .unwrap()
                .fault_bound(),
            1
        );
    }

    /// Bad arguments are usage errors (exit status 2), not panics.
    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["--faults", "2"][..],
            &["6001", "6002", "--faults", "1"],
            &["6001", "6002", "6001"],
            &["--tries", "0"],
            &["--timeout-ms", "0"],
            &["--keys", "0"],
            &["notaport"],
            &["0"],
            &["--faults", "-1"],
            &["--seed", "clock"],
        ] {
            let error = client(bad).expect_err(&format!("client {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "client {bad:?}");
        }
        for bad in [
            &["notaport"][..],
            &["70000"],
            &["5001", "5002"],
            &["--faulty", "--honest"],
        ] {
            let error = server(bad).expect_err(&format!("server {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "server {bad:?}");
        }
    }
}
