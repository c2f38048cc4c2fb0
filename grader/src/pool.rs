//! The pool that runs tests: workers over a list of items, started in a
//! given order (the longest tests first), the results shown in the items'
//! own order, each as soon as it and every item before it are done.
//!
//! Two things decide when an item may start:
//!
//! - **Its gate.** An item belongs to a gate (a lab), and starts only once
//!   the gate is open (the lab is built). The calling thread opens the
//!   gates while the workers already run the items of those it opened: the
//!   first lab's tests run while the next lab builds. A gate that is shut
//!   (the lab did not build, or `--fail-fast` never reached it) never
//!   starts its items.
//! - **The machine** ([`Jobs`]). Up to `floor` items run at once whatever
//!   else the machine does. Above that, up to `ceiling`, an item starts
//!   only while the CPUs have time to spare: at least [`SPARE`] of them
//!   idle over the last [`WINDOW`] (from `/proc/stat`), and one more item
//!   per window at most. Tests mostly wait on timers, so on a quiet machine
//!   many run at once; beside busy loops the pool stays at its floor, the
//!   number known to leave a correct (even slow, interpreted) program
//!   enough CPU. Only *when* items start depends on the load, never a
//!   verdict.
//!
//! Results are sent to the calling thread, which keeps them until the
//! gates are all decided and then shows them in order: nothing is printed
//! while a build may still print cargo's progress.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How many items run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jobs {
    /// Run at once whatever the machine's load.
    pub floor: usize,
    /// Run at once at most, while the CPUs have time to spare.
    pub ceiling: usize,
}

impl Jobs {
    /// Exactly `n` at once (`-j N`).
    pub fn fixed(n: usize) -> Jobs {
        let n = n.max(1);
        Jobs {
            floor: n,
            ceiling: n,
        }
    }

    /// `floor` per CPU whatever the load, up to `ceiling` per CPU while the
    /// CPUs have time to spare.
    pub fn per_cpu(floor: usize, ceiling: usize) -> Jobs {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Jobs {
            floor: (floor * cpus).max(1),
            ceiling: (ceiling * cpus).max(floor * cpus).max(1),
        }
    }
}

/// The share of the CPUs that must have been idle over the last
/// [`WINDOW`] for one more item to start above the floor.
pub const SPARE: f64 = 0.3;

/// How long the CPUs are watched before one more item starts above the
/// floor: two of `/proc/stat`'s 10 ms ticks per CPU, enough to tell busy
/// loops (no idle tick at all) from a machine with time to spare, and
/// short enough that a quiet machine fills up within a few tenths of a
/// second (with 50 ms, `grader all --solutions` took 5.5 s instead of
/// 4.7 s here).
pub const WINDOW: Duration = Duration::from_millis(20);

/// Which items may start: whether each gate is open, and which items are
/// taken.
struct Board {
    gates: Vec<Gate>,
    taken: Vec<bool>,
    /// Items before this place in the order are all taken.
    first: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Closed,
    Open,
    Shut,
}

/// The gates of a pool, for the thread that opens them.
pub struct Gates {
    board: Mutex<Board>,
    changed: Condvar,
}

impl Gates {
    /// `gates` gates, all closed, before `items` items none of which is
    /// taken (none, for gates only decided, as `--fail-fast` decides them
    /// before its rounds).
    pub fn new(gates: usize, items: usize) -> Gates {
        Gates {
            board: Mutex::new(Board {
                gates: vec![Gate::Closed; gates],
                taken: vec![false; items],
                first: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// Lets the items of gate `g` start.
    pub fn open(&self, g: usize) {
        self.set(g, Gate::Open);
    }

    /// The items of gate `g` never start (they are `None`).
    pub fn shut(&self, g: usize) {
        self.set(g, Gate::Shut);
    }

    fn set(&self, g: usize, to: Gate) {
        let mut b = self.board.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(gate) = b.gates.get_mut(g)
            && *gate == Gate::Closed
        {
            *gate = to;
        }
        drop(b);
        self.changed.notify_all();
    }

    /// Shuts every gate still closed.
    fn shut_the_rest(&self) {
        let mut b = self.board.lock().unwrap_or_else(|e| e.into_inner());
        for g in &mut b.gates {
            if *g == Gate::Closed {
                *g = Gate::Shut;
            }
        }
        drop(b);
        self.changed.notify_all();
    }
}

/// What a worker gets from the board.
enum Pick {
    /// Run this item.
    Run(usize),
    /// This item's gate is shut: it never runs.
    Skip(usize),
    /// Nothing is left.
    Done,
}

impl Gates {
    /// The next item in `order` that may start or never will; waits while
    /// only items behind closed gates are left.
    fn pick(&self, order: &[usize], gate_of: &dyn Fn(usize) -> usize) -> Pick {
        let mut b = self.board.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while b.first < order.len() && b.taken[b.first] {
                b.first += 1;
            }
            if b.first == order.len() {
                return Pick::Done;
            }
            let found = (b.first..order.len())
                .filter(|&k| !b.taken[k])
                .find_map(|k| match b.gates[gate_of(order[k])] {
                    Gate::Closed => None,
                    Gate::Open => Some((k, Pick::Run(order[k]))),
                    Gate::Shut => Some((k, Pick::Skip(order[k]))),
                });
            if let Some((k, pick)) = found {
                b.taken[k] = true;
                return pick;
            }
            b = self.changed.wait(b).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Admits items above the floor while the CPUs have time to spare.
struct Throttle {
    jobs: Jobs,
    state: Mutex<Load>,
    freed: Condvar,
}

struct Load {
    running: usize,
    /// The last reading of `/proc/stat`, when it began a window.
    since: Option<(Instant, CpuTimes)>,
}

impl Throttle {
    fn new(jobs: Jobs) -> Throttle {
        Throttle {
            jobs,
            state: Mutex::new(Load {
                running: 0,
                since: None,
            }),
            freed: Condvar::new(),
        }
    }

    /// Waits until one more item may run, and counts it.
    fn enter(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if s.running < self.jobs.floor {
                break;
            }
            if s.running < self.jobs.ceiling && self.spare(&mut s) {
                break;
            }
            s = (self.freed.wait_timeout(s, WINDOW / 2))
                .map_or_else(|e| e.into_inner().0, |(g, _)| g);
        }
        // Above the floor, `spare` began a new window for the next start.
        s.running += 1;
    }

    /// An item ended.
    fn leave(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.running -= 1;
        drop(s);
        self.freed.notify_one();
    }

    /// Whether the CPUs were idle [`SPARE`] of a whole [`WINDOW`] that
    /// ended now; starts a window when none is under way.
    fn spare(&self, s: &mut Load) -> bool {
        if s.since.is_some_and(|(began, _)| began.elapsed() < WINDOW) {
            return false;
        }
        match CpuTimes::now() {
            Some(now) => self.spare_at(s, Instant::now(), now),
            // No `/proc/stat`: no way to tell, so the floor it is.
            None => false,
        }
    }

    /// [`Throttle::spare`] with the reading `now` taken at `at`.
    fn spare_at(&self, s: &mut Load, at: Instant, now: CpuTimes) -> bool {
        match s.since {
            Some((began, then)) if at.duration_since(began) >= WINDOW => {
                s.since = Some((at, now));
                now.idle_share_since(&then) >= SPARE
            }
            Some(_) => false,
            None => {
                s.since = Some((at, now));
                false
            }
        }
    }
}

/// The machine's CPU time so far, in ticks (`/proc/stat`'s first line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CpuTimes {
    idle: u64,
    total: u64,
}

impl CpuTimes {
    fn now() -> Option<CpuTimes> {
        CpuTimes::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// `cpu  user nice system idle iowait irq softirq steal ...`: idle
    /// time is `idle` and `iowait`; guest time is already in `user`.
    fn parse(stat: &str) -> Option<CpuTimes> {
        let line = stat.lines().next()?;
        let mut fields = line.split_whitespace();
        (fields.next()? == "cpu").then_some(())?;
        let n: Vec<u64> = fields
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        (n.len() >= 5).then_some(())?;
        Some(CpuTimes {
            idle: n[3] + n[4],
            total: n.iter().sum(),
        })
    }

    /// The share of the time since `then` the CPUs were idle (0 when no
    /// tick passed).
    fn idle_share_since(&self, then: &CpuTimes) -> f64 {
        let total = self.total.saturating_sub(then.total);
        if total == 0 {
            return 0.0;
        }
        self.idle.saturating_sub(then.idle) as f64 / total as f64
    }
}

/// `work` on every item, `jobs` at a time; `each` sees the results in the
/// order of `items`, each as soon as it and those before it are done.
pub fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: Jobs,
    work: impl Fn(&T) -> R + Sync,
    each: impl FnMut(usize, &R),
) -> Vec<R> {
    in_parallel_until(items, jobs, work, |_| false, each)
        .into_iter()
        .flatten()
        .collect()
}

/// [`in_parallel`], until `enough` holds of a result: from then on no item
/// starts (those under way finish). Items never started are `None`, and
/// `each` passes over them.
pub fn in_parallel_until<T: Sync, R: Send>(
    items: &[T],
    jobs: Jobs,
    work: impl Fn(&T) -> R + Sync,
    enough: impl Fn(&R) -> bool + Sync,
    each: impl FnMut(usize, &R),
) -> Vec<Option<R>> {
    let order: Vec<usize> = (0..items.len()).collect();
    in_parallel_ordered(items, &order, jobs, work, enough, each)
}

/// [`in_parallel_until`], the items started in the order of `order` (a
/// permutation of their indices); `each` still sees them in the order of
/// `items`.
pub fn in_parallel_ordered<T: Sync, R: Send>(
    items: &[T],
    order: &[usize],
    jobs: Jobs,
    work: impl Fn(&T) -> R + Sync,
    enough: impl Fn(&R) -> bool + Sync,
    each: impl FnMut(usize, &R),
) -> Vec<Option<R>> {
    let pool = Pool {
        order,
        jobs,
        gates: 1,
        gate_of: &|_| 0,
    };
    pool.run(items, |g| g.open(0), work, enough, each)
}

/// A pool's shape: the order of starts, how many at once, and which gate
/// each item waits behind.
pub struct Pool<'a, T> {
    /// The order in which items start (a permutation of their indices).
    pub order: &'a [usize],
    /// How many run at once.
    pub jobs: Jobs,
    /// How many gates there are.
    pub gates: usize,
    /// The gate of an item.
    pub gate_of: &'a (dyn Fn(&T) -> usize + Sync),
}

impl<T: Sync> Pool<'_, T> {
    /// Runs `work` on `items` in parallel while `open` decides the gates on
    /// the calling thread (a gate it leaves closed is shut when it
    /// returns); then shows each result with `each`, in the order of
    /// `items`. After a result of which `enough` holds, no item starts.
    /// Items that never started are `None`.
    pub fn run<R: Send>(
        &self,
        items: &[T],
        open: impl FnOnce(&Gates),
        work: impl Fn(&T) -> R + Sync,
        enough: impl Fn(&R) -> bool + Sync,
        mut each: impl FnMut(usize, &R),
    ) -> Vec<Option<R>> {
        debug_assert_eq!(self.order.len(), items.len());
        let gates = Gates::new(self.gates, items.len());
        let throttle = Throttle::new(self.jobs);
        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel();
        let mut done: Vec<Option<Option<R>>> = (0..items.len()).map(|_| None).collect();
        let mut shown = 0;
        let gate_of = |i: usize| (self.gate_of)(&items[i]);
        let workers = self.jobs.ceiling.max(1).min(items.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..workers {
                let tx = tx.clone();
                let (gates, throttle, work, enough, stop, gate_of) =
                    (&gates, &throttle, &work, &enough, &stop, &gate_of);
                s.spawn(move || {
                    loop {
                        let (i, r) = match gates.pick(self.order, gate_of) {
                            Pick::Done => break,
                            Pick::Skip(i) => (i, None),
                            Pick::Run(i) if stop.load(Ordering::SeqCst) => (i, None),
                            Pick::Run(i) => {
                                throttle.enter();
                                let r = if stop.load(Ordering::SeqCst) {
                                    None
                                } else {
                                    let r = work(&items[i]);
                                    if enough(&r) {
                                        stop.store(true, Ordering::SeqCst);
                                    }
                                    Some(r)
                                };
                                throttle.leave();
                                (i, r)
                            }
                        };
                        if tx.send((i, r)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            open(&gates);
            gates.shut_the_rest();
            for (i, r) in rx {
                done[i] = Some(r);
                while let Some(Some(r)) = done.get(shown) {
                    if let Some(r) = r {
                        each(shown, r);
                    }
                    shown += 1;
                }
            }
        });
        done.into_iter().map(Option::flatten).collect()
    }
}

#[cfg(test)]
mod tests;
