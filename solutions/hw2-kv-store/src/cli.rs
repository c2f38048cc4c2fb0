//! The command-line arguments of `server` and `client`.
//!
//! clap's derive turns these structs into parsers; the doc comments are the
//! `--help` text. A bad argument makes clap print a usage error and exit with
//! status 2, as the kit's command-line contract asks.

use clap::Parser;

/// The port a server listens on when none is given: the course's first
/// server, partition 0.
pub const DEFAULT_PORT: u16 = 5001;

/// The servers the course's client talked to: partition 0 on 5001,
/// partition 1 on 5002.
pub const DEFAULT_SERVER_PORTS: [u16; 2] = [5001, 5002];

/// One partition of the key-value store of lab hw2: stores what it is asked
/// to write and answers reads, until Ctrl+C.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "server")]
pub struct ServerArgs {
    /// UDP port to listen on, on 127.0.0.1
    #[arg(default_value_t = DEFAULT_PORT)]
    pub port: u16,
}

/// Client of lab hw2: sends random reads and writes, one at a time, each to
/// the server that owns its key, and prints each request and its reply.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "client")]
pub struct ClientArgs {
    /// UDP ports of the servers, on 127.0.0.1: the first is partition 0, the
    /// second partition 1, and so on
    #[arg(
        value_name = "PORT",
        default_values_t = DEFAULT_SERVER_PORTS,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub ports: Vec<u16>,

    /// Seed of the request generator; the same seed gives the same requests
    /// [default: taken from the clock, and printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Number of requests to send
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub count: u32,

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

#[cfg(test)]
mod tests {
    use super::*;

    fn client(args: &[&str]) -> Result<ClientArgs, clap::Error> {
        ClientArgs::try_parse_from(std::iter::once("client").chain(args.iter().copied()))
    }

    fn server(args: &[&str]) -> Result<ServerArgs, clap::Error> {
        ServerArgs::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
    }

    /// Without arguments both programs use the course's defaults: the
    /// client talks to two servers, on 5001 and 5002.
    #[test]
    fn defaults_are_the_courses() {
        assert_eq!(server(&[]).unwrap(), ServerArgs { port: 5001 });
        assert_eq!(server(&["5002"]).unwrap(), ServerArgs { port: 5002 });
        assert_eq!(
            client(&[]).unwrap(),
            ClientArgs {
                ports: vec![5001, 5002],
                seed: None,
                count: 5,
                timeout_ms: 500,
                tries: 10,
                keys: 1000,
            }
        );
    }

    /// Every option of the client is read, and any number of ports, in
    /// order.
    #[test]
    fn client_options_are_read() {
        let args = client(&[
            "6000",
            "6001",
            "6002",
            "--seed",
            "42",
            "--count",
            "3",
            "--timeout-ms",
            "20",
            "--tries",
            "1",
            "--keys",
            "6",
        ])
        .unwrap();
        assert_eq!(
            args,
            ClientArgs {
                ports: vec![6000, 6001, 6002],
                seed: Some(42),
                count: 3,
                timeout_ms: 20,
                tries: 1,
                keys: 6,
            }
        );
        assert_eq!(client(&["7000"]).unwrap().ports, [7000]);
        // Options may come before, between or after the ports.
        let args = client(&["--seed", "1", "7000", "--count", "0", "7001"]).unwrap();
        assert_eq!(args.ports, [7000, 7001]);
        assert_eq!((args.seed, args.count), (Some(1), 0));
    }

    /// Bad arguments are usage errors (exit status 2), not panics.
    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["--tries", "0"][..],
            &["--timeout-ms", "0"],
            &["--keys", "0"],
            &["--tries", "-1"],
            &["notaport"],
            &["0"],
            &["5001", "70000"],
            &["--seed", "clock"],
            &["--seed", "1", "--seed", "2"],
            &["--count"],
            &["--frobnicate"],
        ] {
            let error = client(bad).expect_err(&format!("client {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "client {bad:?}");
        }
        for bad in [
            &["notaport"][..],
            &["70000"],
            &["5001", "5002"],
            &["--seed", "1"],
        ] {
            let error = server(bad).expect_err(&format!("server {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "server {bad:?}");
        }
    }
}
