//! The warden: one thread that enforces the limits the kernel cannot.
//!
//! Memory (resident, each shared page counted once) and the number of
//! processes and threads of a whole family are measured every
//! [`WATCH_EVERY`] (memory every [`MEMORY_EVERY`] rounds): past its limit a family is killed, and its observer
//! told which limit. (An rlimit on processes counts every process of the
//! user, and root is exempt; an rlimit on memory counts address space, not
//! use.) Where cgroups are in use, the kernel also stops a family at its
//! `pids.max` (one past the limit) and `memory.max`; the warden is what
//! tells the observer.

use std::fs;
use std::sync::{Arc, Condvar, Mutex, Once, Weak};
use std::thread;
use std::time::Duration;

use crate::family::{self, Containment, Family, Stat};
use crate::global;
use crate::{Limit, Limits, Observer};

/// How often the warden measures each family.
pub(crate) const WATCH_EVERY: Duration = Duration::from_millis(20);

/// Every how many rounds the warden measures the memory of a family.
const MEMORY_EVERY: u64 = 5;

/// A family the warden measures.
pub(crate) struct Watch {
    /// The family.
    pub family: Arc<Family>,
    /// Its limits.
    pub limits: Limits,
    /// Who to tell of a limit it went past.
    pub observer: Arc<dyn Observer>,
}

/// What the warden watches; the thread starts with the first watch.
pub(crate) struct Warden {
    watched: Mutex<Vec<Weak<Watch>>>,
    wake: Condvar,
    patrol: Once,
}

impl Warden {
    /// A warden watching nothing, its thread not started.
    pub(crate) const fn new() -> Warden {
        Warden {
            watched: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            patrol: Once::new(),
        }
    }
}

/// Has the warden measure `w` until it is dropped.
pub(crate) fn watch(w: &Arc<Watch>) {
    let warden = global::warden();
    warden.patrol.call_once(|| {
        thread::Builder::new()
            .name("warden".into())
            .spawn(patrol)
            .expect("a thread for the warden");
    });
    warden
        .watched
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::downgrade(w));
    warden.wake.notify_all();
}

fn patrol() {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    let warden = global::warden();
    let mut watched = warden.watched.lock().unwrap_or_else(|e| e.into_inner());
    let mut round = 0u64;
    loop {
        watched.retain(|w| w.strong_count() > 0);
        if watched.is_empty() {
            watched = warden.wake.wait(watched).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        let now: Vec<Arc<Watch>> = watched.iter().filter_map(Weak::upgrade).collect();
        drop(watched);
        let table = match family::containment() {
            Containment::Tracking(_) => Some(family::all_processes()),
            Containment::Cgroup(_) => None,
        };
        round += 1;
        for w in &now {
            if !w.family.ended_by_grader() {
                measure(w, table.as_deref(), page, round);
            }
        }
        drop(now);
        watched = warden.watched.lock().unwrap_or_else(|e| e.into_inner());
        watched = warden
            .wake
            .wait_timeout(watched, WATCH_EVERY)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
    }
}

/// Measures one family; kills it past a limit. `table` is every process
/// on the machine, when tracking.
///
/// Tasks are counted every round; memory (a walk of each member's page
/// tables) every [`MEMORY_EVERY`] rounds: in between, `RLIMIT_AS` bounds
/// what a program can map, and in a cgroup `memory.max` what it uses.
/// In a cgroup with the `pids` controller the kernel counts the tasks
/// (`pids.current`): while that is within the limit, the members are not
/// looked at either.
fn measure(w: &Watch, table: Option<&[Stat]>, page: u64, round: u64) {
    let memory_round = round.is_multiple_of(MEMORY_EVERY);
    if !memory_round
        && let Some(tasks) = w.family.cgroup_tasks()
        && tasks <= u64::from(w.limits.processes)
    {
        return;
    }
    let members: Vec<Stat> = w
        .family
        .members(table)
        .into_iter()
        .filter(|s| !s.zombie())
        .collect();
    let tasks: u64 = members.iter().map(|s| s.threads).sum();
    let over = if tasks > u64::from(w.limits.processes) {
        Some(Limit::Processes(w.limits.processes))
    } else if memory_round
        && members.iter().map(|s| memory_of(s, page)).sum::<u64>() > w.limits.memory
    {
        Some(Limit::Memory(w.limits.memory))
    } else {
        None
    };
    if let Some(limit) = over {
        w.family.end_by_grader();
        w.observer.exceeded(limit);
        w.family.kill_now();
    }
}

/// The memory a process uses: its proportional share of resident pages
/// (`Pss`, so that pages forked children share count once in a family's
/// sum), or its resident pages where the kernel does not say.
fn memory_of(s: &Stat, page: u64) -> u64 {
    let pss = fs::read_to_string(format!("/proc/{}/smaps_rollup", s.pid))
        .ok()
        .and_then(|t| {
            let line = t.lines().find(|l| l.starts_with("Pss:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    pss.map_or(s.rss * page, |kib| kib * 1024)
}
