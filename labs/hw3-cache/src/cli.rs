//! The command-line arguments of `cache`, `server` and `client`.
//!
//! clap's derive turns these structs into parsers; the doc comments are the
//! `--help` text. A bad argument makes clap print a usage error and exit with
//! status 2, as the kit's command-line contract asks.

use clap::Parser;

/// The cache's port in the course: the client asks the cache first.
pub const DEFAULT_CACHE_PORT: u16 = 5001;

/// The storage server's port in the course.
pub const DEFAULT_SERVER_PORT: u16 = 5002;

/// How many keys the cache holds when `--capacity` is not given.
pub const DEFAULT_CAPACITY: u32 = 16;

/// How many different keys the client draws from by default: the course's
/// data set size.
pub const DEFAULT_KEYS: u64 = handout::DATASET_SIZE;

/// The most keys `--keys` accepts. With `--zipf` the client keeps one
/// running total per key, so the data set must fit comfortably in memory.
pub const MAX_KEYS: u64 = 1_000_000;

/// Look-aside cache of lab hw3: answers CACHE_HIT or CACHE_MISS to a
/// READ_REQ and stores the WRITE_REQs it is sent, evicting the least
/// recently used key when full, until Ctrl+C.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "cache")]
pub struct CacheArgs {
    /// UDP port to listen on, on 127.0.0.1
    #[arg(default_value_t = DEFAULT_CACHE_PORT)]
    pub port: u16,

    /// How many keys the cache holds at most
    #[arg(long, value_name = "C", default_value_t = DEFAULT_CAPACITY, value_parser = clap::value_parser!(u32).range(1..))]
    pub capacity: u32,
}

/// Storage server of lab hw3: stores WRITE_REQs and answers READ_REQs with
/// the stored value, until Ctrl+C.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "server")]
pub struct ServerArgs {
    /// UDP port to listen on, on 127.0.0.1
    #[arg(default_value_t = DEFAULT_SERVER_PORT)]
    pub port: u16,
}

/// Client of lab hw3: reads through the cache (on a miss from the storage
/// server, then fills the cache), writes to the server and then updates
/// the cache, and prints the hit ratio at the end.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(name = "client")]
pub struct ClientArgs {
    /// UDP port of the cache, on 127.0.0.1
    #[arg(default_value_t = DEFAULT_CACHE_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub cache_port: u16,

    /// UDP port of the storage server, on 127.0.0.1
    #[arg(default_value_t = DEFAULT_SERVER_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub server_port: u16,

    /// Seed of the request generator; the same seed gives the same requests
    /// [default: taken from the clock, and printed]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Number of requests to send
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub count: u32,

    /// How long to wait for an answer before sending the request again, in
    /// milliseconds
    #[arg(long, value_name = "MS", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub timeout_ms: u32,

    /// How many times to send a request before giving up
    #[arg(long, value_name = "T", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub tries: u32,

    /// How many different keys to draw from
    #[arg(long, value_name = "K", default_value_t = DEFAULT_KEYS, value_parser = clap::value_parser!(u64).range(1..=MAX_KEYS))]
    pub keys: u64,

    /// Draw keys from a Zipf distribution with this exponent (a few keys
    /// very often, most rarely) instead of uniformly; 0 is uniform, 1 is
    /// typical of real caches
    #[arg(long, value_name = "S", value_parser = parse_exponent)]
    pub zipf: Option<f64>,

    /// Percentage of requests that are writes, from 0 to 100
    #[arg(long, value_name = "PCT", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub writes: u8,
}

/// Reads a Zipf exponent: a finite number, 0 or more.
fn parse_exponent(text: &str) -> Result<f64, String> {
    let exponent: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if exponent.is_finite() && exponent >= 0.0 {
        Ok(exponent)
    } else {
        Err(format!("{exponent} is not a finite number >= 0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(args: &[&str]) -> Result<CacheArgs, clap::Error> {
        CacheArgs::try_parse_from(std::iter::once("cache").chain(args.iter().copied()))
    }

    fn server(args: &[&str]) -> Result<ServerArgs, clap::Error> {
        ServerArgs::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
    }

    fn client(args: &[&str]) -> Result<ClientArgs, clap::Error> {
        ClientArgs::try_parse_from(std::iter::once("client").chain(args.iter().copied()))
    }

    /// Without arguments the programs use the course's ports: cache 5001,
    /// storage server 5002.
    #[test]
    fn defaults_are_the_courses() {
        assert_eq!(
            cache(&[]).unwrap(),
            CacheArgs {
                port: 5001,
                capacity: 16,
            }
        );
        assert_eq!(server(&[]).unwrap(), ServerArgs { port: 5002 });
        assert_eq!(
            client(&[]).unwrap(),
            ClientArgs {
                cache_port: 5001,
                server_port: 5002,
                seed: None,
                count: 5,
                timeout_ms: 500,
                tries: 10,
                keys: 1000,
                zipf: None,
                writes: 0,
            }
        );
    }

    /// Every option is read.
    #[test]
    fn options_are_read() {
        assert_eq!(
            cache(&["6001", "--capacity", "3"]).unwrap(),
            CacheArgs {
                port: 6001,
                capacity: 3,
            }
        );
        assert_eq!(server(&["6002"]).unwrap(), ServerArgs { port: 6002 });
        let args = client(&[
            "6001",
            "6002",
            "--seed",
            "42",
            "--count",
            "300",
            "--timeout-ms",
            "20",
            "--tries",
            "1",
            "--keys",
            "100",
            "--zipf",
            "1.0",
            "--writes",
            "50",
        ])
        .unwrap();
        assert_eq!(
            args,
            ClientArgs {
                cache_port: 6001,
                server_port: 6002,
                seed: Some(42),
                count: 300,
                timeout_ms: 20,
                tries: 1,
                keys: 100,
                zipf: Some(1.0),
                writes: 50,
            }
        );
    }

    /// One port given to the client is the cache's; the server keeps its
    /// default.
    #[test]
    fn the_first_port_is_the_caches() {
        let args = client(&["6001"]).unwrap();
        assert_eq!((args.cache_port, args.server_port), (6001, 5002));
    }

    /// The edges of the ranges are accepted.
    #[test]
    fn edges_are_accepted() {
        assert_eq!(cache(&["--capacity", "1"]).unwrap().capacity, 1);
        assert_eq!(client(&["--writes", "0"]).unwrap().writes, 0);
        assert_eq!(client(&["--writes", "100"]).unwrap().writes, 100);
        assert_eq!(client(&["--zipf", "0"]).unwrap().zipf, Some(0.0));
        assert_eq!(client(&["--keys", "1"]).unwrap().keys, 1);
        assert_eq!(client(&["--keys", "1000000"]).unwrap().keys, MAX_KEYS);
    }

    /// Bad arguments are usage errors (exit status 2), not panics.
    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["--tries", "0"][..],
            &["--timeout-ms", "0"],
            &["notaport"],
            &["0"],
            &["5001", "0"],
            &["5001", "5002", "5003"],
            &["--seed", "clock"],
            &["--keys", "0"],
            &["--keys", "1000001"],
            &["--writes", "101"],
            &["--writes", "-1"],
            &["--zipf", "-1"],
            &["--zipf", "inf"],
            &["--zipf", "NaN"],
            &["--zipf", "high"],
        ] {
            let error = client(bad).expect_err(&format!("client {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "client {bad:?}");
        }
        for bad in [
            &["notaport"][..],
            &["70000"],
            &["5001", "5002"],
            &["--capacity", "0"],
            &["--capacity", "-3"],
            &["--capacity", "many"],
        ] {
            let error = cache(bad).expect_err(&format!("cache {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "cache {bad:?}");
        }
        for bad in [&["notaport"][..], &["70000"], &["5001", "5002"]] {
            let error = server(bad).expect_err(&format!("server {bad:?} should be refused"));
            assert_eq!(error.exit_code(), 2, "server {bad:?}");
        }
    }
}
