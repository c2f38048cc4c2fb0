//! What a submission may touch: when the grader runs as root, nothing of
//! the grading itself.
//!
//! A submission is code the grader runs: its programs, and, for a crate,
//! its build scripts and procedural macros, which `cargo build` runs. On
//! an autograder that runs as root (Gradescope does), such code could read
//! the hidden tests and print them, rewrite the spec before the grader
//! loads it, replace the grader, or prepare the file the grade is written
//! to. So, when the grader is root and only then:
//!
//! 1. **A user of its own.** The crate is built, and every graded program
//!    runs, as an unprivileged uid ([`sandbox::Identity`]): an unused uid
//!    the grader picks and holds for as long as it runs, or the account
//!    `--run-as` names. The kernel then refuses whatever root owns and the
//!    user does not.
//! 2. **A private copy.** The user cannot reach the kit (the reference
//!    solutions and the hidden tests are in `solutions/`, which the grader
//!    closes to other users before anything runs). So the grader copies
//!    what is graded into a directory of its own under the temporary
//!    directory, `grader-PID-N/` (root's, mode 0711; the keeper removes it
//!    if the grader is killed), whose `home/` belongs
//!    to the user: the crate (with `labs/handout`, and the kit's prebuilt
//!    `target/debug`, so that the dependencies are not built again) is
//!    built there, by the user; executables from `--bin-dir`, or built by
//!    the grader from the reference solution, are copied there. `home/` is
//!    the programs' home and working directory.
//! 3. **A network of its own** for each test ([`sandbox::net`]): the
//!    programs, the proxy and the scripted peers of a test share a
//!    namespace with nothing but its loopback interface, where the machine
//!    allows it.
//! 4. **The end before the grade.** [`Confinement::end`] kills every
//!    process of the user and checks that none is left, removes what it
//!    left in the shared temporary directories and the private
//!    directory; the report is written after it
//!    ([`write_report`]): into a fresh file, renamed over the one asked for.
//!
//! When the grader is not root, none of this happens: a student grading
//! their own work on their laptop owns everything already, and nothing
//! asks for root.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use anyhow::Context;
use nix::unistd::{Gid, Uid, geteuid};
use sandbox::Identity;

use crate::kit::Kit;

/// How the grader confines what it grades, chosen once per process.
#[derive(Debug)]
pub struct Confinement {
    /// The user builds and programs run as; `None` when the grader is not
    /// root, or `--run-as root` keeps it root.
    user: Option<Identity>,
    /// `Ok` when each test gets a network of its own, else why not.
    network: Result<(), String>,
    /// The private directory, while it exists (with `user` only).
    private: Mutex<Option<PathBuf>>,
    /// Numbers the copies in the private directory.
    serial: AtomicUsize,
}

static CURRENT: OnceLock<Confinement> = OnceLock::new();

/// The confinement of this process, once [`set_up`] chose it.
pub fn current() -> Option<&'static Confinement> {
    CURRENT.get()
}

/// Chooses the confinement (see the module docs) before anything is built
/// or run, and closes the kit's `solutions/` to other users when the
/// grader is root. `run_as` is `--run-as`. Called once; later calls return
/// the first one's.
///
/// # Errors
/// When the grader is root and has no user to run submissions as (every
/// uid taken, no such account, a private directory that cannot be made).
pub fn set_up(kit: &Kit, run_as: Option<&str>) -> anyhow::Result<&'static Confinement> {
    if let Some(c) = CURRENT.get() {
        return Ok(c);
    }
    let root = geteuid().is_root();
    if run_as.is_some() && !root {
        anyhow::bail!(
            "--run-as needs the grader to run as root: it is not, and runs everything as you"
        );
    }
    let user = match (root, run_as) {
        (false, _) => None,
        (true, Some(who)) => Some(Identity::named(who).map_err(anyhow::Error::msg)?),
        (true, None) => Some(Identity::pick().map_err(|e| {
            anyhow::anyhow!(
                "the grader runs as root and needs an unprivileged uid for the submission: {e}"
            )
        })?),
    }
    .filter(|u| !u.is_root());
    let network = if root {
        sandbox::net::available()
    } else {
        Err("the grader is not root".into())
    };
    let private = match &user {
        Some(u) => {
            close_solutions(kit)?;
            Some(make_private(u)?)
        }
        None => None,
    };
    let c = Confinement {
        user,
        network,
        private: Mutex::new(private),
        serial: AtomicUsize::new(0),
    };
    Ok(CURRENT.get_or_init(|| c))
}

/// `identity: ...` of `grader list`, before anything is chosen: what
/// [`set_up`] would do.
pub fn describe_identity() -> String {
    match current() {
        Some(c) => c.describe_user(),
        None if geteuid().is_root() => format!(
            "builds and programs run as an unused uid from {} to {} the grader picks, not root (or the account --run-as names)",
            sandbox::identity::RANGE.start(),
            sandbox::identity::RANGE.end()
        ),
        None => format!(
            "builds and programs run as you (uid {}): the grader is not root",
            nix::unistd::getuid()
        ),
    }
}

/// `network: ...` of `grader list`.
pub fn describe_network() -> String {
    let available = match current() {
        Some(c) => c.network.clone(),
        None if geteuid().is_root() => sandbox::net::available(),
        None => Err("the grader is not root".into()),
    };
    match available {
        Ok(()) => "each test in a network namespace of its own, loopback only".into(),
        Err(why) => format!("the machine's loopback, shared (no network namespace: {why})"),
    }
}

impl Confinement {
    /// The user builds and programs run as, when not the grader's.
    pub fn user(&self) -> Option<&Identity> {
        self.user.as_ref()
    }

    /// Whether each test gets a network of its own.
    pub fn own_network(&self) -> bool {
        self.network.is_ok()
    }

    fn describe_user(&self) -> String {
        match &self.user {
            Some(u) => format!("builds and programs run as {}, not root", u.describe()),
            None if geteuid().is_root() => {
                "builds and programs run as root (--run-as root): nothing keeps a submission from the grading".into()
            }
            None => format!(
                "builds and programs run as you (uid {}): the grader is not root",
                nix::unistd::getuid()
            ),
        }
    }

    /// The user's home in the private directory: the programs' home and
    /// working directory.
    pub fn home(&self) -> Option<PathBuf> {
        let p = self.private.lock().unwrap_or_else(|e| e.into_inner());
        p.as_ref().map(|p| p.join("home"))
    }

    /// The variables a program or a build of the user gets on top of the
    /// grader's: its home, its name.
    pub fn env(&self) -> Vec<(String, String)> {
        match (&self.user, self.home()) {
            (Some(u), Some(home)) => {
                let name = u.name.clone().unwrap_or_else(|| u.uid.to_string());
                vec![
                    ("HOME".into(), home.display().to_string()),
                    ("USER".into(), name.clone()),
                    ("LOGNAME".into(), name),
                ]
            }
            _ => Vec::new(),
        }
    }

    /// A new directory of the user's in its home, `NAME-N`.
    fn fresh(&self, name: &str) -> io::Result<PathBuf> {
        let home = self
            .home()
            .ok_or_else(|| io::Error::other("the private directory is gone"))?;
        let n = self.serial.fetch_add(1, Ordering::Relaxed);
        let dir = home.join(format!("{name}-{n}"));
        fs::create_dir(&dir)?;
        Ok(dir)
    }

    /// A copy of the crate in `dir` for the user to build, owned by it:
    /// the crate without its `target/`, the kit's `labs/handout` beside it
    /// when it has one beside it, and `built`, the kit's shared build
    /// directory's `debug/` (without `incremental/`) as the copy's
    /// `target/build/debug`, so that its dependencies are not compiled
    /// again.
    /// Returns the copy's directory.
    ///
    /// # Errors
    /// When something cannot be copied.
    pub fn stage_crate(&self, dir: &Path, built: &Path) -> io::Result<PathBuf> {
        let into = self.fresh("build")?;
        let labs = into.join("labs");
        fs::create_dir(&labs)?;
        // As in the kit, `labs/NAME` beside `labs/handout`: a crate's path
        // to the handout, `../handout` (a lab's) or `../../labs/handout`
        // (a solution's, handed in as a lab), leads to it in the copy too.
        let name = dir.file_name().unwrap_or_else(|| "crate".as_ref());
        let copy = labs.join(name);
        copy_tree(dir, &copy, Links::Keep, &|p| p == dir.join("target"))?;
        if let Some(handout) = dir.parent().map(|p| p.join("handout"))
            && handout.join("Cargo.toml").is_file()
            && name != "handout"
        {
            copy_tree(&handout, &labs.join("handout"), Links::Keep, &|p| {
                p.file_name().is_some_and(|n| n == "target")
            })?;
        }
        // The kit's built dependencies, as the copy's build directory.
        if built.is_dir() {
            let target = copy.join("target");
            fs::create_dir(&target)?;
            fs::create_dir(target.join("build"))?;
            copy_tree(
                built,
                &target.join("build").join("debug"),
                Links::Keep,
                &|p| p == built.join("incremental"),
            )?;
        }
        self.give(&into)?;
        Ok(copy)
    }

    /// A copy of the executables in `dir` for the user to run: the files
    /// `only` names, or, for a directory cargo built (it holds
    /// `.fingerprint/`), its top-level files, or else all of it (a program
    /// may need the files beside it, such as a module it imports).
    /// Returns the copy's directory.
    ///
    /// # Errors
    /// When something cannot be copied.
    pub fn stage_programs(&self, dir: &Path, only: Option<&[String]>) -> io::Result<PathBuf> {
        let into = self.fresh("bin")?;
        let cargo_built = dir.join(".fingerprint").is_dir();
        match only {
            Some(names) => {
                for n in names {
                    copy_tree(&dir.join(n), &into.join(n), Links::Follow, &|_| false)?;
                }
            }
            None if cargo_built => {
                for e in fs::read_dir(dir)? {
                    let e = e?;
                    if e.path().is_file() {
                        copy_tree(&e.path(), &into.join(e.file_name()), Links::Follow, &|_| {
                            false
                        })?;
                    }
                }
            }
            None => {
                fs::remove_dir(&into)?;
                copy_tree(dir, &into, Links::Follow, &|_| false)?;
            }
        }
        self.give(&into)?;
        Ok(into)
    }

    /// Makes everything under `dir` the user's.
    fn give(&self, dir: &Path) -> io::Result<()> {
        let Some(u) = &self.user else {
            return Ok(());
        };
        chown_tree(dir, u.uid, u.gid)
    }

    /// Kills every process of the user and checks that none is left, then
    /// removes the private directory. The grade is written after this.
    /// Does nothing the second time.
    ///
    /// # Errors
    /// When a process of the user would not die, or the directory cannot
    /// be removed.
    pub fn end(&self) -> anyhow::Result<()> {
        let Some(u) = &self.user else {
            return Ok(());
        };
        u.sweep().map_err(anyhow::Error::msg)?;
        // A named account may own files of its own there; a picked uid
        // owns nothing but what the submission made.
        if u.picked() {
            remove_leftovers(u.uid);
        }
        let dir = self
            .private
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(d) = dir {
            fs::remove_dir_all(&d).with_context(|| format!("removing {}", d.display()))?;
        }
        Ok(())
    }
}

/// Ends the confinement, if one was set up: see [`Confinement::end`].
///
/// # Errors
/// As [`Confinement::end`].
pub fn end() -> anyhow::Result<()> {
    current().map_or(Ok(()), Confinement::end)
}

/// Makes the private directory anew once [`end`] removed it, for a grader
/// that grades again in the same process (`grader watch`): each run
/// copies what it grades into a directory made for it. Does nothing when
/// the grader does not confine what it grades, or the directory exists.
///
/// # Errors
/// When the directory cannot be made.
pub fn reopen() -> anyhow::Result<()> {
    let Some(c) = current() else {
        return Ok(());
    };
    let Some(user) = &c.user else {
        return Ok(());
    };
    let mut private = c.private.lock().unwrap_or_else(|e| e.into_inner());
    if private.is_none() {
        *private = Some(make_private(user)?);
    }
    Ok(())
}

/// Removes what `uid` left in the directories every user may write
/// (`/tmp`, `/var/tmp`, `/dev/shm`), so that nothing of this submission
/// reaches the next one graded as the same uid on this machine.
fn remove_leftovers(uid: u32) {
    let mut shared = vec![std::env::temp_dir()];
    shared.extend(["/tmp", "/var/tmp", "/dev/shm"].map(PathBuf::from));
    shared.dedup();
    for dir in shared {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = fs::symlink_metadata(e.path()) else {
                continue;
            };
            if meta.uid() == uid {
                let _ = if meta.is_dir() {
                    fs::remove_dir_all(e.path())
                } else {
                    fs::remove_file(e.path())
                };
            }
        }
    }
}

/// Removes every permission of other users from the kit's `solutions/`,
/// which holds the reference solutions and the hidden tests, when they had
/// any; says so.
fn close_solutions(kit: &Kit) -> anyhow::Result<()> {
    let dir = kit.root.join("solutions");
    let Ok(meta) = fs::symlink_metadata(&dir) else {
        return Ok(());
    };
    if meta.is_dir() && meta.mode() & 0o007 != 0 {
        let mode = meta.mode() & 0o7770;
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
            .with_context(|| format!("closing {} to other users", dir.display()))?;
        eprintln!(
            "grader: closed {} to other users (mode {mode:o}): it holds the reference solutions and the hidden tests",
            kit.show(&dir)
        );
    }
    Ok(())
}

/// Makes the private directory: root's, mode 0711 (the user may pass
/// through, not look inside), with `home/`, the user's, mode 0700. Its
/// name is new: `create_dir` fails on anything already there.
fn make_private(user: &Identity) -> anyhow::Result<PathBuf> {
    let tmp = std::env::temp_dir();
    for n in 0..1000 {
        let prefix = sandbox::keeper::private_dir_prefix(std::process::id());
        let dir = tmp.join(format!("{prefix}{n}"));
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o711))?;
                let home = dir.join("home");
                fs::DirBuilder::new().mode(0o700).create(&home)?;
                nix::unistd::chown(
                    &home,
                    Some(Uid::from_raw(user.uid)),
                    Some(Gid::from_raw(user.gid)),
                )?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("making {}", dir.display())),
        }
    }
    anyhow::bail!("cannot make a private directory in {}", tmp.display())
}

/// How [`copy_tree`] copies a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Links {
    /// As a link: a crate's, which cargo reads as they are.
    Keep,
    /// As what it points to: executables, whose links may point into the
    /// kit (where the user cannot follow them) or anywhere else.
    Follow,
}

/// Copies `from` to `to` (a file with its mode and times, a symbolic link
/// as `links` says, or a directory with all it holds), leaving out every
/// path `skip` says. Followed links go at most 16 directories deep, so a
/// loop of links ends.
fn copy_tree(from: &Path, to: &Path, links: Links, skip: &dyn Fn(&Path) -> bool) -> io::Result<()> {
    copy_at(from, to, links, skip, 0)
}

fn copy_at(
    from: &Path,
    to: &Path,
    links: Links,
    skip: &dyn Fn(&Path) -> bool,
    depth: usize,
) -> io::Result<()> {
    if skip(from) {
        return Ok(());
    }
    let meta = match links {
        Links::Keep => fs::symlink_metadata(from)?,
        Links::Follow => match fs::metadata(from) {
            Ok(m) => m,
            // A dangling link: nothing to run there.
            Err(_) if fs::symlink_metadata(from).is_ok() => return Ok(()),
            Err(e) => return Err(e),
        },
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        symlink(fs::read_link(from)?, to)
    } else if kind.is_dir() {
        if depth >= 16 {
            return Ok(());
        }
        fs::create_dir(to)?;
        fs::set_permissions(to, meta.permissions())?;
        for e in fs::read_dir(from)? {
            let e = e?;
            copy_at(&e.path(), &to.join(e.file_name()), links, skip, depth + 1)?;
        }
        Ok(())
    } else if kind.is_file() {
        // With its time: cargo judges whether a build is fresh by the
        // times of what it built.
        fs::copy(from, to)?;
        let times = fs::FileTimes::new()
            .set_accessed(meta.accessed()?)
            .set_modified(meta.modified()?);
        fs::File::options().write(true).open(to)?.set_times(times)
    } else {
        // Sockets, pipes, devices: nothing a program needs to run.
        Ok(())
    }
}

/// Gives `path` and everything under it to `uid`:`gid` (links themselves,
/// not what they point to).
fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for e in fs::read_dir(path)? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Why the user cannot reach `path` (a directory on the way it may not
/// pass through, or the file itself it may not read and run), judged by
/// the permissions of other users: the user owns none of it and is in no
/// group.
pub fn unreachable_by_others(path: &Path) -> Option<String> {
    let mut blocker = None;
    for dir in path.ancestors().skip(1) {
        if let Ok(m) = fs::metadata(dir)
            && m.mode() & 0o001 == 0
        {
            blocker = Some(format!("{} is mode {:o}", dir.display(), m.mode() & 0o7777));
        }
    }
    if blocker.is_some() {
        return blocker;
    }
    match fs::metadata(path) {
        Ok(m) if m.is_file() && m.mode() & 0o005 != 0o005 => Some(format!(
            "{} is mode {:o}",
            path.display(),
            m.mode() & 0o7777
        )),
        _ => None,
    }
}

/// Writes the report to `path` so that nothing prepared there beforehand
/// decides where it lands: into a new file beside it (created exclusively,
/// never through a link), renamed over `path` (a link there is replaced,
/// not followed).
///
/// # Errors
/// When the file cannot be written or renamed.
pub fn write_report(path: &Path, text: &str) -> io::Result<()> {
    write_bytes(path, text.as_bytes())
}

/// [`write_report`], of any bytes.
///
/// # Errors
/// When the file cannot be written or renamed.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("the path names no file"))?;
    for n in 0..1000 {
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}-{n}", std::process::id()));
        let tmp = dir.join(tmp_name);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&tmp);
        match file {
            Ok(mut f) => {
                let written = f.write_all(bytes).and_then(|()| f.sync_all());
                if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
                    let _ = fs::remove_file(&tmp);
                    return Err(e);
                }
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free name for a temporary file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_replaces_a_link_instead_of_following_it() {
        let dir = std::env::temp_dir().join(format!("confine-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let elsewhere = dir.join("elsewhere");
        fs::write(&elsewhere, "untouched").unwrap();
        let report = dir.join("results.json");
        symlink(&elsewhere, &report).unwrap();
        write_report(&report, "{}").unwrap();
        assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "untouched");
        assert!(!fs::symlink_metadata(&report).unwrap().is_symlink());
        assert_eq!(fs::read_to_string(&report).unwrap(), "{}");
        let left: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file is left");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_closed_directory_on_the_way_is_named() {
        let dir = std::env::temp_dir().join(format!("confine-reach-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("inner")).unwrap();
        fs::write(dir.join("inner/tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(dir.join("inner/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let why = unreachable_by_others(&dir.join("inner/tool")).unwrap();
        assert!(why.contains("is mode 700"), "{why}");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o711)).unwrap();
        if unreachable_by_others(&dir).is_none() {
            assert_eq!(unreachable_by_others(&dir.join("inner/tool")), None);
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
