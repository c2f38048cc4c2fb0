//! The choice rule: which server takes the next request.
//!
//! The client knows one thing about each server: how many of its requests
//! are in flight there (sent, not yet answered; see
//! [`in_flight`](crate::in_flight)). A [`Policy`] turns those counts, and a
//! few draws from the client's seeded [`Rng`], into a [`Choice`]:
//!
//! - [`Policy::P2c`], the power of two choices: draw two *different*
//!   servers, `first` and `second`, and take the one with fewer requests in
//!   flight; on a tie, `first`.
//! - [`Policy::Random`]: one server drawn at random, blind to the load.
//! - [`Policy::Least`]: the server with the fewest requests in flight of
//!   all, the lowest-numbered on a tie. No draw.
//!
//! # Why the candidates must differ
//!
//! Two independent draws give the same server one time in N. Then there is
//! nothing to compare, and that request is placed as blindly as with
//! [`Policy::Random`]: with four servers a quarter of the requests would
//! lose the second choice. Drawing the second candidate among the *other*
//! N - 1 servers keeps every request's second choice, and still gives each
//! ordered pair of different servers the same chance, `1 / (N (N - 1))`.
//!
//! # The draws
//!
//! The draws come from the same generator as the keys, so `--seed` replays
//! every choice. For request n the client first draws the key, then:
//!
//! - p2c: `first = below(N)`, then `second = below(N - 1)`, and
//!   `second += 1` when `second >= first` (this skips `first`);
//! - random: `chosen = below(N)`;
//! - least: nothing.

use std::fmt;

use clap::ValueEnum;
use handout::Rng;

/// How the client picks the server of each request (`--policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// The power of two choices: two random candidates, the one with fewer
    /// requests in flight
    #[default]
    #[value(name = "p2c")]
    P2c,
    /// One server at random, whatever its load
    Random,
    /// The server with the fewest requests in flight of all
    Least,
}

/// The server a policy picked for one request, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The power of two choices compared two candidates.
    TwoChoices {
        /// The server chosen: `first` or `second`.
        chosen: usize,
        /// The candidate drawn first; it wins ties.
        first: usize,
        /// The candidate drawn second, never `first`.
        second: usize,
        /// Requests in flight at `first` when the choice was made.
        first_load: u32,
        /// Requests in flight at `second` when the choice was made.
        second_load: u32,
    },
    /// One server drawn at random.
    Random {
        /// The server drawn.
        chosen: usize,
    },
    /// The least loaded server of all.
    Least {
        /// That server.
        chosen: usize,
    },
}

impl Choice {
    /// The server chosen, as an index into the client's list of ports.
    pub fn server(&self) -> usize {
        match *self {
            Choice::TwoChoices { chosen, .. }
            | Choice::Random { chosen }
            | Choice::Least { chosen } => chosen,
        }
    }
}

impl fmt::Display for Choice {
    /// The end of the client's stderr line for a request, after
    /// `client: request <n> key <k> to `:
    ///
    /// - `server 2, candidates 1 and 2, in flight 3 and 0`
    /// - `server 2, at random`
    /// - `server 2, the least loaded`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Choice::TwoChoices {
                chosen,
                first,
                second,
                first_load,
                second_load,
            } => write!(
                f,
                "server {chosen}, candidates {first} and {second}, in flight {first_load} and {second_load}"
            ),
            Choice::Random { chosen } => write!(f, "server {chosen}, at random"),
            Choice::Least { chosen } => write!(f, "server {chosen}, the least loaded"),
        }
    }
}

/// Picks the server of one request by `policy`, given `loads[i]`, the
/// number of requests in flight at server i, and draws from `rng` as the
/// [module docs](self) say.
///
/// # Panics
///
/// If `loads` is empty, or if it holds a single server with
/// [`Policy::P2c`] (the command line refuses both).
pub fn choose(policy: Policy, rng: &mut Rng, loads: &[u32]) -> Choice {
    assert!(!loads.is_empty(), "choose: no server to choose from");
    match policy {
        Policy::P2c => {
            let (first, second) = two_candidates(rng, loads.len());
            Choice::TwoChoices {
                chosen: less_loaded(first, second, loads),
                first,
                second,
                first_load: loads[first],
                second_load: loads[second],
            }
        }
        Policy::Random => Choice::Random {
            chosen: draw_below(rng, loads.len()),
        },
        Policy::Least => Choice::Least {
            chosen: least_loaded(loads),
        },
    }
}

/// A server drawn uniformly from `0..servers`: one `rng.below(servers)`.
pub fn draw_below(rng: &mut Rng, servers: usize) -> usize {
    // A usize always fits a u64 on the platforms the kit runs on, and the
    // result is below `servers`, so it fits a usize again.
    let drawn = rng.below(servers as u64);
    drawn as usize
}

/// Draws the two candidates of the power of two choices among `servers`
/// servers: two *different* indexes, `(first, second)`.
///
/// # Format
///
/// Exactly two draws, in this order: `first = below(servers)`, then
/// `second = below(servers - 1)`; when `second >= first`, add 1 to it, so
/// that it skips `first`. Use [`draw_below`] for each.
///
/// # Panics
///
/// If `servers` is less than 2: there is no second candidate.
pub fn two_candidates(rng: &mut Rng, servers: usize) -> (usize, usize) {
    assert!(
        servers >= 2,
        "two_candidates: need two servers, not {servers}"
    );
    // TODO: Draw `first` among all the servers, then `second` among the
    //       *other* servers, as `# Format` above says: two candidates
    //       that are always different, so that every request gets a real
    //       second choice, and exactly two draws in this order, so that a
    //       seed replays every choice.
    todo!("draw two different candidates")
}

/// The candidate with fewer requests in flight, `loads[i]` being server
/// i's count; `first` on a tie.
pub fn less_loaded(first: usize, second: usize, loads: &[u32]) -> usize {
    // TODO: Return the candidate with fewer requests in flight; on a tie,
    //       `first`. Fewer in flight means less busy now, whatever the
    //       candidate's speed: that is how a slow server is noticed.
    todo!("pick the less loaded candidate")
}

/// The server with the fewest requests in flight, the lowest index on a
/// tie.
///
/// # Panics
///
/// If `loads` is empty.
pub fn least_loaded(loads: &[u32]) -> usize {
    // min_by_key returns the first of several equal minima.
    loads
        .iter()
        .enumerate()
        .min_by_key(|&(_, load)| *load)
        .map(|(server, _)| server)
        .expect("least_loaded: no server")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The candidates are always two different servers in range.
    #[test]
    fn candidates_differ_and_are_in_range() {
        let mut rng = Rng::new(1);
        for servers in 2..7 {
            for _ in 0..2000 {
                let (first, second) = two_candidates(&mut rng, servers);
                assert_ne!(first, second, "with {servers} servers");
                assert!(first < servers && second < servers);
            }
        }
    }

    /// Every ordered pair of different servers comes up about equally
    /// often: the second draw skips the first without favouring anyone.
    #[test]
    fn every_ordered_pair_is_equally_likely() {
        let mut rng = Rng::new(2);
        let mut seen = [[0u32; 4]; 4];
        let draws = 24_000;
        for _ in 0..draws {
            let (first, second) = two_candidates(&mut rng, 4);
            seen[first][second] += 1;
        }
        // 12 ordered pairs: 2000 each on average.
        for (first, row) in seen.iter().enumerate() {
            for (second, &count) in row.iter().enumerate() {
                if first == second {
                    assert_eq!(count, 0);
                } else {
                    assert!(
                        (1700..2300).contains(&count),
                        "({first}, {second}): {count}"
                    );
                }
            }
        }
    }

    /// The candidates are the documented draws: below(N), then below(N - 1)
    /// shifted past the first.
    #[test]
    fn candidates_follow_the_documented_draws() {
        let mut rng = Rng::new(7);
        let mut replay = Rng::new(7);
        for _ in 0..500 {
            let first = replay.below(4) as usize;
            let mut second = replay.below(3) as usize;
            if second >= first {
                second += 1;
            }
            assert_eq!(two_candidates(&mut rng, 4), (first, second));
        }
    }

    /// With two servers the candidates are both of them, in either order.
    #[test]
    fn two_servers_are_both_candidates() {
        let mut rng = Rng::new(3);
        let mut orders = [0; 2];
        for _ in 0..200 {
            let pair = two_candidates(&mut rng, 2);
            assert!(pair == (0, 1) || pair == (1, 0), "{pair:?}");
            orders[pair.0] += 1;
        }
        assert!(orders[0] > 50 && orders[1] > 50, "{orders:?}");
    }

    /// The candidate with fewer requests in flight wins; a tie goes to the
    /// first.
    #[test]
    fn the_less_loaded_candidate_wins() {
        let loads = [3, 0, 3, 1];
        assert_eq!(less_loaded(0, 1, &loads), 1);
        assert_eq!(less_loaded(1, 0, &loads), 1);
        assert_eq!(less_loaded(3, 2, &loads), 3);
        assert_eq!(less_loaded(2, 3, &loads), 3);
        assert_eq!(less_loaded(0, 2, &loads), 0, "a tie goes to the first");
        assert_eq!(less_loaded(2, 0, &loads), 2, "a tie goes to the first");
    }

    /// p2c reports its candidates and their loads, and chooses the less
    /// loaded; a busy server is never chosen against an idle one.
    #[test]
    fn p2c_chooses_the_less_loaded_candidate() {
        let loads = [0, 0, 0, 5];
        let mut rng = Rng::new(11);
        let mut replay = Rng::new(11);
        for _ in 0..200 {
            let choice = choose(Policy::P2c, &mut rng, &loads);
            let (first, second) = two_candidates(&mut replay, 4);
            let Choice::TwoChoices {
                chosen,
                first: f,
                second: s,
                first_load,
                second_load,
            } = choice
            else {
                panic!("p2c made {choice:?}");
            };
            assert_eq!((f, s), (first, second));
            assert_eq!((first_load, second_load), (loads[first], loads[second]));
            assert_ne!(chosen, 3, "{choice}");
            assert_eq!(chosen, if first == 3 { second } else { first });
        }
    }

    /// random draws one number below N; least draws nothing and takes the
    /// lowest index among the least loaded.
    #[test]
    fn random_and_least() {
        let mut rng = Rng::new(5);
        let mut replay = Rng::new(5);
        for _ in 0..100 {
            let expected = replay.below(4) as usize;
            assert_eq!(
                choose(Policy::Random, &mut rng, &[9, 9, 9, 9]),
                Choice::Random { chosen: expected }
            );
        }
        let before = rng.clone();
        assert_eq!(
            choose(Policy::Least, &mut rng, &[2, 1, 3, 1]),
            Choice::Least { chosen: 1 }
        );
        assert_eq!(least_loaded(&[0, 0, 0]), 0);
        assert_eq!(least_loaded(&[4, 2, 0]), 2);
        assert_eq!(
            rng.next_u64(),
            before.clone().next_u64(),
            "least draws nothing"
        );
    }

    /// The stderr line of each kind of choice.
    #[test]
    fn choices_print_as_documented() {
        let p2c = Choice::TwoChoices {
            chosen: 2,
            first: 1,
            second: 2,
            first_load: 3,
            second_load: 0,
        };
        assert_eq!(
            p2c.to_string(),
            "server 2, candidates 1 and 2, in flight 3 and 0"
        );
        assert_eq!(p2c.server(), 2);
        assert_eq!(
            Choice::Random { chosen: 0 }.to_string(),
            "server 0, at random"
        );
        assert_eq!(
            Choice::Least { chosen: 3 }.to_string(),
            "server 3, the least loaded"
        );
    }
}
