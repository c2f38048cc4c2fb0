//! The command-line arguments of `server` and `client`.
//!
//! clap's derive turns these structs into parsers; the doc comments are the
//! `--help` text. A bad argument makes clap print a usage error and exit with
//! status 2, as the kit's command-line contract asks.

use clap::Parser;

/// The port the course's programs use when none is given.
pub const DEFAULT_PORT: u16 = 5001;

/// UDP echo server of lab hw1: answers every request with a READ_REP for the
/// same key, until Ctrl+C.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "server")]
pub struct ServerArgs {
    /// UDP port to listen on, on 127.0.0.1
    #[arg(default_value_t = DEFAULT_PORT)]
    pub port: u16,
}

/// UDP echo client of lab hw1: sends READ_REQs one at a time and prints
/// each reply, sending a request again when its reply does not come.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "client")]
pub struct ClientArgs {
    /// UDP port of the server, on 127.0.0.1
    #[arg(default_value_t = DEFAULT_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,

    /// Seed of the key generator; the same seed gives the same keys
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

    /// Without arguments both programs use the course's defaults.
    #[test]
    fn defaults_are_the_courses() {
        assert_eq!(server(&[]).unwrap(), ServerArgs { port: 5001 });
        assert_eq!(
            client(&[]).unwrap(),
            ClientArgs {
                port: 5001,
                seed: None,
                count: 5,
                timeout_ms: 500,
                tries: 10,
            }
        );
    }

    /// Every option of the client is read.
    #[test]
    fn client_options_are_read() {
        let args = client(&[
            "6000",
            "--seed",
            "42",
            "--count",
            "3",
            "--timeout-ms",
            "20",
            "--tries",
            "1",
        ])
        .unwrap();
        assert_eq!(
            args,
            ClientArgs {
                port: 6000,
                seed: Some(42),
                count: 3,
                timeout_ms: 20,
                tries: 1,
            }
        );
    }

    /// Bad arguments are usage errors (exit status 2), not panics.
    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["--tries", "0"][..],
            &["--timeout-ms", "0"],
            &["--tries", "-1"],
            &["notaport"],
            &["0"],
            &["5001", "5002"],
            &["--seed", "clock"],
        ] {
            let error = client(bad).expect_err(&format!("client {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "client {bad:?}");
        }
        for bad in [&["notaport"][..], &["70000"], &["5001", "5002"]] {
            let error = server(bad).expect_err(&format!("server {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "server {bad:?}");
        }
    }
}
