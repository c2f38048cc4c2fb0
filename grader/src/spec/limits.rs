//! `limits:` of a lab: the hard limits every program of its tests runs
//! under, and the bounds of what the grader keeps of a run.
//!
//! Every field has a default that suits the kit's labs, so a spec names
//! only what it changes. The limits exist for programs nobody trusts: a
//! correct lab program stays far below each of them.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::Dur;

/// The hard limits of a lab's programs, and the bounds of its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// CPU time each process may use (`RLIMIT_CPU`); past it the kernel kills it with SIGXCPU (default `10s`).
    pub cpu: Dur,
    /// Resident memory of a program together with every process it started; past it the grader kills them (default `256 MiB`).
    pub memory: Size,
    /// Address space of each process (`RLIMIT_AS`): past it an allocation fails (default `4 GiB`).
    pub address_space: Size,
    /// Processes and threads a program may run at once, its own included (default 64).
    pub processes: u32,
    /// Open file descriptors of each process (`RLIMIT_NOFILE`, default 256).
    pub open_files: u32,
    /// What a program may print on each of stdout and stderr in one test; past it the grader kills it (default `1 MiB`).
    pub output: Size,
    /// Datagrams of one test kept in the record; past them the proxy still forwards, and counts (default 20000).
    pub datagrams: u32,
    /// Datagrams one node may send in any one second; past it the node is flooding: the proxy refuses the rest, and the test fails and ends (default 5000).
    pub send_rate: u32,
    /// Time `cargo build` of the graded crate may take (default `10m`).
    pub build: Dur,
    /// Time a program may take to start: until it binds its port (a listening program), or prints or sends its first datagram (any other). The test's clock stands still meanwhile (default `10s`).
    pub startup: Dur,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            cpu: Dur(Duration::from_secs(10)),
            memory: Size(256 << 20),
            address_space: Size(4 << 30),
            processes: 64,
            open_files: 256,
            output: Size(1 << 20),
            datagrams: 20_000,
            send_rate: 5_000,
            build: Dur(Duration::from_secs(600)),
            startup: Dur(Duration::from_secs(10)),
        }
    }
}

/// An amount of memory: `4096` (bytes), `64 KiB`, `256 MiB`, `4 GiB`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

const UNITS: [(&str, u32); 4] = [("GiB", 30), ("MiB", 20), ("KiB", 10), ("B", 0)];

impl Size {
    /// Parses a number of bytes, or a number and a unit (`B`, `KiB`,
    /// `MiB`, `GiB`, with or without a space between).
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(s: &str) -> Result<Size, String> {
        let bad = || {
            format!(
                "invalid size `{s}`: write bytes or a number and a unit, e.g. `64 KiB`, `256 MiB`, `4 GiB`"
            )
        };
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num.parse().map_err(|_| bad())?;
        let unit = unit.trim_start();
        let shift = if unit.is_empty() {
            0
        } else {
            UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|&(_, sh)| sh)
                .ok_or_else(bad)?
        };
        n.checked_mul(1 << shift)
            .filter(|&b| b > 0)
            .map(Size)
            .ok_or_else(|| format!("size `{s}` is out of range (1 byte to 16 EiB)"))
    }
}

impl fmt::Display for Size {
    /// The largest unit that divides the size exactly: `256 MiB`, `1500 B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, shift) in UNITS {
            let whole = 1u64 << shift;
            if self.0 >= whole && self.0.is_multiple_of(whole) {
                return write!(f, "{} {unit}", self.0 >> shift);
            }
        }
        write!(f, "{} B", self.0)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(0) => Err(de::Error::custom("a size of 0 bytes allows nothing")),
            Raw::Bytes(n) => Ok(Size(n)),
            Raw::Text(s) => Size::parse(&s).map_err(de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print_in_their_largest_unit() {
        assert_eq!(Size::parse("256 MiB").unwrap(), Size(256 << 20));
        assert_eq!(Size::parse("4GiB").unwrap(), Size(4 << 30));
        assert_eq!(Size::parse("4096").unwrap(), Size(4096));
        assert_eq!(Size(256 << 20).to_string(), "256 MiB");
        assert_eq!(Size(1500).to_string(), "1500 B");
        assert_eq!(Size(3 << 10).to_string(), "3 KiB");
        for bad in ["", "MiB", "12 MB", "-1", "1.5 GiB", "0"] {
            assert!(Size::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_spec_names_only_the_limits_it_changes() {
        let l: Limits = serde_yaml::from_str("memory: 64 MiB\nprocesses: 8\n").unwrap();
        assert_eq!(l.memory, Size(64 << 20));
        assert_eq!(l.processes, 8);
        assert_eq!(l.cpu, Limits::default().cpu);
        let e = serde_yaml::from_str::<Limits>("memroy: 1\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `memroy`"), "{e}");
    }
}
