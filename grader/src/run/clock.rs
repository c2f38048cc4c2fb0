//! The test's clock: the time a test takes, not counting the time its
//! programs spend starting.
//!
//! A test's time limit guards against programs that hang. It must not be
//! spent by the machine: on a busy grading machine an interpreter can take
//! seconds to start, and a test that starts five programs one after
//! another would fail a correct submission for its neighbours' load. So
//! the clock stands still while a program is *starting*, from the moment
//! the grader starts it until it is *ready*:
//!
//! - a listening program (one given a `{port}`) when it has bound that port;
//! - any other program at its first sign of life: a line of output, or a
//!   datagram the proxy receives from it;
//! - either, when it exits.
//!
//! A start-up has a limit of its own, `limits.startup`: past it, a
//! listening program fails its `start` step, and any other program counts
//! as started, so the clock runs again. Start-ups of programs started side
//! by side overlap; the clock stands still while any of them lasts.
//!
//! Every window of a test is measured on this clock: the test's `timeout`,
//! a `stop`'s `within`, a `sleep`, an `idle` window, and a script's
//! `within` and `silence`. A wait computes the wall-clock instant at which
//! the clock will read its target, as if every start-up still under way
//! lasted to its limit, the latest that instant can be; when a start-up
//! ends sooner, the record changes, every waiter wakes and computes the
//! instant again.
//!
//! Times here are offsets from the test's start (the record's `t0`), as
//! everywhere in the record.

use std::time::Duration;

/// One program's start-up: from its start to when it was ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Startup {
    /// The node.
    pub node: usize,
    /// When the grader started it.
    pub from: Duration,
    /// When it was ready; `None` while it is starting, or if it never was.
    pub ready: Option<Duration>,
}

/// The test's clock, for a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// The test's time limit, on this clock.
    pub limit: Duration,
    /// How long one start-up may last.
    pub startup_limit: Duration,
    /// Every start-up so far, in the order of their starts.
    pub startups: Vec<Startup>,
}

impl Clock {
    /// A clock for a test with time limit `limit`, whose programs may each
    /// take `startup_limit` to start.
    pub fn new(limit: Duration, startup_limit: Duration) -> Clock {
        Clock {
            limit,
            startup_limit,
            startups: Vec::new(),
        }
    }

    /// `node` was started at `at`: its start-up begins.
    pub fn started(&mut self, node: usize, at: Duration) {
        self.startups.push(Startup {
            node,
            from: at,
            ready: None,
        });
    }

    /// `node` is ready at `at`: its start-up, if one is under way, ends.
    pub fn ready(&mut self, node: usize, at: Duration) {
        if let Some(s) = self.startups.iter_mut().rev().find(|s| s.node == node)
            && s.ready.is_none()
        {
            s.ready = Some(at.max(s.from));
        }
    }

    /// Whether `node`'s last start-up is under way (it has not been ready
    /// since its last start).
    pub fn starting(&self, node: usize) -> bool {
        self.startups
            .iter()
            .rev()
            .find(|s| s.node == node)
            .is_some_and(|s| s.ready.is_none())
    }

    /// The end of a start-up: when it was ready, or its limit for one
    /// that never was (or is not yet).
    fn end(&self, s: &Startup) -> Duration {
        let cap = s.from + self.startup_limit;
        s.ready.map_or(cap, |r| r.min(cap))
    }

    /// The spans in which the clock stands still, merged, in order.
    fn still(&self) -> Vec<(Duration, Duration)> {
        let mut spans: Vec<(Duration, Duration)> = self
            .startups
            .iter()
            .map(|s| (s.from, self.end(s)))
            .filter(|(a, b)| b > a)
            .collect();
        spans.sort();
        let mut merged: Vec<(Duration, Duration)> = Vec::with_capacity(spans.len());
        for (a, b) in spans {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        merged
    }

    /// What the clock reads at `at`, counting a start-up under way as
    /// lasting until `at`.
    pub fn reading(&self, at: Duration) -> Duration {
        let still: Duration = self
            .still()
            .into_iter()
            .filter(|&(a, _)| a < at)
            .map(|(a, b)| b.min(at) - a)
            .sum();
        at.saturating_sub(still)
    }

    /// When the clock reads `reading`, counting every start-up under way
    /// as lasting to its limit: the latest that moment can be.
    pub fn when(&self, reading: Duration) -> Duration {
        let (mut cursor, mut run) = (Duration::ZERO, Duration::ZERO);
        for (a, b) in self.still() {
            if run + (a - cursor) >= reading {
                break;
            }
            run += a - cursor;
            cursor = b;
        }
        cursor + (reading - run)
    }

    /// The time programs spent starting, by `at` (the clock stood still
    /// that long).
    pub fn standing(&self, at: Duration) -> Duration {
        at.saturating_sub(self.reading(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn clock() -> Clock {
        Clock::new(ms(1000), ms(500))
    }

    #[test]
    fn without_start_ups_the_clock_is_the_wall_clock() {
        let c = clock();
        assert_eq!(c.reading(ms(700)), ms(700));
        assert_eq!(c.when(ms(1000)), ms(1000));
        assert_eq!(c.standing(ms(700)), ms(0));
    }

    #[test]
    fn the_clock_stands_still_while_a_program_starts() {
        let mut c = clock();
        c.started(0, ms(100));
        c.ready(0, ms(300));
        assert_eq!(c.reading(ms(50)), ms(50));
        assert_eq!(c.reading(ms(200)), ms(100));
        assert_eq!(c.reading(ms(400)), ms(200));
        assert_eq!(c.when(ms(1000)), ms(1200));
        assert_eq!(c.standing(ms(400)), ms(200));
        // Only the first sign of life ends a start-up.
        c.ready(0, ms(350));
        assert_eq!(c.when(ms(1000)), ms(1200));
    }

    #[test]
    fn a_start_up_under_way_counts_until_its_limit() {
        let mut c = clock();
        c.started(0, ms(100));
        assert!(c.starting(0));
        // Now, 200 ms in: it has stood still for 100 ms so far...
        assert_eq!(c.reading(ms(200)), ms(100));
        // ...and may stand still until 600 ms, its limit.
        assert_eq!(c.when(ms(1000)), ms(1500));
        // Past its limit the clock runs, ready or not.
        assert_eq!(c.reading(ms(800)), ms(300));
        c.ready(0, ms(250));
        assert!(!c.starting(0));
        assert_eq!(c.when(ms(1000)), ms(1150));
    }

    #[test]
    fn overlapping_start_ups_stop_the_clock_once() {
        let mut c = clock();
        c.started(0, ms(100));
        c.started(1, ms(200));
        c.ready(0, ms(300));
        c.ready(1, ms(400));
        c.started(2, ms(600));
        c.ready(2, ms(700));
        // Still from 100 to 400 and from 600 to 700.
        assert_eq!(c.reading(ms(1000)), ms(600));
        assert_eq!(c.when(ms(1000)), ms(1400));
        assert_eq!(c.when(ms(100)), ms(100));
        assert_eq!(c.when(ms(150)), ms(450));
    }

    #[test]
    fn a_start_after_the_limit_does_not_wind_the_clock_back() {
        let mut c = clock();
        c.started(0, ms(1500));
        assert_eq!(c.when(ms(1000)), ms(1000));
        assert_eq!(c.reading(ms(1600)), ms(1500));
    }

    #[test]
    fn a_restart_has_a_start_up_of_its_own() {
        let mut c = clock();
        c.started(0, ms(0));
        c.ready(0, ms(100));
        c.started(0, ms(500));
        assert!(c.starting(0));
        c.ready(0, ms(550));
        assert_eq!(c.reading(ms(1000)), ms(850));
    }
}
