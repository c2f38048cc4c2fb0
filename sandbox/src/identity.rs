//! Whom a program runs as: when the grader is root, an unprivileged user
//! of its own, so that nothing a program does can reach what root owns.
//!
//! A student's program, and the build scripts and procedural macros of a
//! student's crate, are code the grader runs. Run as root, they could read
//! the hidden tests, rewrite the spec before it is loaded, replace the
//! grader, or prepare the file the grade is written to. Run as a user
//! that owns nothing, they can do none of that; the kernel checks every
//! access, whatever language the program is in.
//!
//! # Which user
//!
//! [`Identity::pick`] takes an unused uid: one in [`RANGE`] that no entry
//! of `/etc/passwd` or `/etc/group` names, that no process runs as, and
//! whose lock no other grader holds. The lock (`flock(2)` on a file in a
//! directory only root may write) makes the uid this grader's alone for
//! as long as it lives, so that [`Identity::sweep`] may kill every process
//! of the uid without touching another grader's. The group is the number
//! of the uid, and the programs get no supplementary group.
//! [`Identity::named`] takes an account the caller names instead: it must
//! be the grader's alone, for the same reason.
//!
//! # Becoming it
//!
//! The child switches between its birth and `execve(2)`, after joining its
//! cgroup and before it asks for its parent-death signal (the kernel
//! clears that signal when the credentials change): see `contain`.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Group, Uid, User};

use crate::contain;
use crate::family::reap_all_strays;

/// The uids [`Identity::pick`] chooses from: Debian leaves 60000–64999 to
/// accounts created on demand, which no ordinary machine has, and all of
/// them fit the 16-bit uid maps of containers.
pub const RANGE: std::ops::RangeInclusive<u32> = 60100..=60999;

/// Where the locks of picked uids are: a directory only root may write.
const LOCKS: &str = "dslab-kit-uids";

/// A user programs run as.
#[derive(Debug)]
pub struct Identity {
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
    /// The account's name, when it has one.
    pub name: Option<String>,
    /// Held while the uid is in use: [`Identity::pick`]'s only.
    _lock: Option<Flock<File>>,
}

impl Identity {
    /// An unused uid, this grader's alone while it lives (see the module
    /// docs).
    ///
    /// # Errors
    /// When the lock directory is not root's alone, or every uid of
    /// [`RANGE`] is in use.
    pub fn pick() -> Result<Identity, String> {
        let dir = std::env::temp_dir().join(LOCKS);
        let _ = fs::DirBuilder::new().mode(0o700).create(&dir);
        let meta = fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if !meta.is_dir() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "{} is not a directory that only root may write: remove it, and the grader makes it again",
                dir.display()
            ));
        }
        let busy = users_with_processes();
        for uid in RANGE {
            let named = User::from_uid(Uid::from_raw(uid)).ok().flatten().is_some()
                || Group::from_gid(Gid::from_raw(uid)).ok().flatten().is_some();
            if named || busy.contains(&uid) {
                continue;
            }
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("{uid}.lock")))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
                continue;
            };
            // Taken by a program between the look at /proc and the lock?
            // Then another grader used it a moment ago: not this one.
            if !processes_of(uid).is_empty() {
                continue;
            }
            return Ok(Identity {
                uid,
                gid: uid,
                name: None,
                _lock: Some(lock),
            });
        }
        Err(format!(
            "every uid from {} to {} is in use",
            RANGE.start(),
            RANGE.end()
        ))
    }

    /// The account `who` (a name or a number); its primary group.
    ///
    /// # Errors
    /// When there is no such account.
    pub fn named(who: &str) -> Result<Identity, String> {
        let user = match who.parse::<u32>() {
            Ok(n) => User::from_uid(Uid::from_raw(n)),
            Err(_) => User::from_name(who),
        }
        .map_err(|e| format!("looking up the user {who}: {e}"))?;
        match (user, who.parse::<u32>()) {
            (Some(u), _) => Ok(Identity {
                uid: u.uid.as_raw(),
                gid: u.gid.as_raw(),
                name: Some(u.name),
                _lock: None,
            }),
            (None, Ok(n)) => Ok(Identity {
                uid: n,
                gid: n,
                name: None,
                _lock: None,
            }),
            (None, Err(_)) => Err(format!("there is no user called {who}")),
        }
    }

    /// `uid 60123` or `uid 1001 (grading)`, for people.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("uid {} ({n})", self.uid),
            None => format!("uid {}", self.uid),
        }
    }

    /// Whether [`Identity::pick`] chose it (rather than a caller naming an
    /// account).
    pub fn picked(&self) -> bool {
        self._lock.is_some()
    }

    /// Whether this is root itself (`--run-as root`): then nothing is dropped.
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// The live (not zombie) processes that run as this uid.
    pub fn processes(&self) -> Vec<i32> {
        processes_of(self.uid)
    }

    /// Kills every process that runs as this uid, and waits until none is
    /// left: from a process of the uid itself, with `kill(-1, SIGKILL)`,
    /// which the kernel delivers to all of them in one pass, so that a
    /// program that forks meanwhile cannot outrun it. Orphans that came
    /// back to the grader are reaped.
    ///
    /// # Errors
    /// The processes still there after five seconds (stuck in the kernel),
    /// or why the killer could not start. Root is never swept.
    pub fn sweep(&self) -> Result<(), String> {
        if self.is_root() {
            return Ok(());
        }
        let started = Instant::now();
        let mut pause = Duration::from_micros(200);
        loop {
            if self.processes().is_empty() {
                reap_all_strays();
                return Ok(());
            }
            contain::kill_every_process_of(self.uid, self.gid)
                .map_err(|e| format!("cannot start a process as {}: {e}", self.describe()))?;
            reap_all_strays();
            if self.processes().is_empty() {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(5) {
                return Err(format!(
                    "processes of {} would not die: {:?}",
                    self.describe(),
                    self.processes()
                ));
            }
            // Killed processes take a moment to be gone; no event says when.
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

/// The ids of a process's `Uid:` line (real, effective, saved, file system)
/// and whether it is a zombie.
fn uids_of(pid: &str) -> Option<([u32; 4], bool)> {
    let status = fs::read_to_string(Path::new("/proc").join(pid).join("status")).ok()?;
    let mut ids = [u32::MAX; 4];
    let mut zombie = false;
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("Uid:") {
            for (slot, n) in ids.iter_mut().zip(v.split_whitespace()) {
                *slot = n.parse().ok()?;
            }
        } else if let Some(v) = line.strip_prefix("State:") {
            zombie = v.trim_start().starts_with('Z');
        }
    }
    Some((ids, zombie))
}

fn each_process(mut f: impl FnMut(i32, [u32; 4], bool)) {
    let Ok(dir) = fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Some((ids, zombie)) = uids_of(&pid.to_string()) {
            f(pid, ids, zombie);
        }
    }
}

fn processes_of(uid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    each_process(|pid, ids, zombie| {
        if !zombie && ids.contains(&uid) {
            out.push(pid);
        }
    });
    out
}

fn users_with_processes() -> std::collections::BTreeSet<u32> {
    let mut out = std::collections::BTreeSet::new();
    each_process(|_, ids, _| out.extend(ids));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_accounts_and_numbers() {
        let root = Identity::named("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.is_root());
        assert_eq!(root.describe(), "uid 0 (root)");
        let n = Identity::named("60999").unwrap();
        assert_eq!(
            (n.uid, n.gid, n.describe()),
            (60999, 60999, "uid 60999".into())
        );
        assert!(Identity::named("no-such-user-anywhere").is_err());
    }

    #[test]
    fn own_processes_are_seen() {
        let me = nix::unistd::getuid().as_raw();
        assert!(processes_of(me).contains(&(std::process::id() as i32)));
    }
}
