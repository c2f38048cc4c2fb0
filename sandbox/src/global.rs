//! The sandbox's process-wide state: all of it, in one place.
//!
//! Everything else in the crate belongs to a value the caller holds (a
//! [`Program`](crate::Program), a [`Cleanup`](crate::Cleanup)). What is
//! here cannot: each piece is reached from places that hold none of the
//! caller's values, or is unique to the process by nature.
//!
//! - **containment**: how families are known (cgroup v2 or tracking),
//!   chosen once. The cgroup is the process's own (`grader-PID`), and the
//!   signal thread must find it to remove it.
//! - **serial**: the numbers in families' tags and cgroup names, unique
//!   within the process.
//! - **live**: the families started and not yet reaped. The signal thread
//!   and the panic hook kill them all, and they run outside any caller.
//! - **leaders**: the programs whose exit a reaper thread waits for. A
//!   process has one set of children: whichever thread reaps strays must
//!   know which zombies are not strays.
//! - **warden**: the one thread that measures every family, and what it
//!   watches.
//!
//! Every lock here is recovered if a thread panicked while holding it:
//! the clean-up paths must run whatever went wrong.
//!
//! Nothing here runs in an asynchronous signal handler: the signals are
//! blocked in every thread and taken by a thread of their own with
//! `sigwait(3)` (see [`crate::install_cleanup`]), so taking a lock there is
//! safe.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::family::{Containment, Family};
use crate::warden::Warden;

struct Global {
    containment: OnceLock<Containment>,
    serial: AtomicU64,
    live: Mutex<BTreeMap<i32, Arc<Family>>>,
    leaders: Mutex<BTreeSet<i32>>,
    warden: Warden,
}

static GLOBAL: Global = Global {
    containment: OnceLock::new(),
    serial: AtomicU64::new(0),
    live: Mutex::new(BTreeMap::new()),
    leaders: Mutex::new(BTreeSet::new()),
    warden: Warden::new(),
};

/// The containment of this process: chosen once, by
/// [`crate::family::containment`].
pub(crate) fn containment() -> &'static OnceLock<Containment> {
    &GLOBAL.containment
}

/// A number no other family of this process has.
pub(crate) fn next_serial() -> u64 {
    GLOBAL.serial.fetch_add(1, Ordering::Relaxed)
}

/// Families started and not yet reaped, by leader. Signals are sent under
/// this lock, and only to families in it.
pub(crate) fn live() -> MutexGuard<'static, BTreeMap<i32, Arc<Family>>> {
    GLOBAL.live.lock().unwrap_or_else(|e| e.into_inner())
}

/// Leaders of programs whose exit a thread of their own waits for: never
/// reaped as strays. Hold it across the start of a program and its
/// registration: [`crate::family::reap_strays`] holds it while it looks
/// for zombies, so a program that exits at once is never taken for a stray.
pub(crate) fn leaders() -> MutexGuard<'static, BTreeSet<i32>> {
    GLOBAL.leaders.lock().unwrap_or_else(|e| e.into_inner())
}

/// The warden.
pub(crate) fn warden() -> &'static Warden {
    &GLOBAL.warden
}
