//! Lab programs as the runner sees them: started through the
//! [sandbox], written into the run's [record](super::record).
//!
//! The sandbox starts a program as a shell would, under the lab's hard
//! limits, and makes sure nothing it starts outlives the test (see the
//! `sandbox` crate: process groups, cgroups or tracking, the warden, the
//! reaper, the keeper). It knows nothing of tests: a witness of each
//! program writes what the sandbox sees into the record of the test,
//! timed as the record times everything: its start, each output line with
//! its time, a flood, a limit, what it left behind, its exit.
//!
//! The sandbox tells a program's exit before it kills what the program
//! left and reaps it, so the record has the exit when it happened: a wait
//! on the program (a `stop` with its `within`) ends then, not after the
//! clean-up.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::record::{Ended, Limit, Recorder, STRAYS_KEPT, Stray, What};
use crate::spec::{Dur, Limits, Size, Stream};

/// What to start.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    /// The node it plays, for the record.
    pub node: usize,
    /// The executable.
    pub program: &'a Path,
    /// Its arguments (without the program's name).
    pub args: &'a [String],
    /// Its hard limits.
    pub limits: &'a Limits,
}

/// A running (or finished) lab program.
pub struct Proc {
    node: usize,
    program: sandbox::Program,
    rec: Recorder,
}

/// The sandbox's limits of a lab's `limits`.
fn sandbox_limits(limits: &Limits) -> sandbox::Limits {
    sandbox::Limits {
        cpu: limits.cpu.0,
        memory: limits.memory.0,
        address_space: limits.address_space.0,
        processes: limits.processes,
        open_files: limits.open_files,
        output: limits.output.0,
    }
}

impl Proc {
    /// Starts a program as a shell would, under its limits, and records
    /// its start; its output and its exit are recorded as they happen.
    ///
    /// # Errors
    /// Why the program could not be started, explained for a person.
    pub fn spawn(launch: &Launch, rec: &Recorder) -> Result<Proc, String> {
        let mut command = vec![launch.program.display().to_string()];
        command.extend(launch.args.iter().cloned());
        let witness = Witness {
            node: launch.node,
            rec: rec.clone(),
            command,
        };
        // Confined (the grader is root): as the unprivileged user, at home.
        let confined = crate::confine::current().filter(|c| c.user().is_some());
        let mut env = vec![("RUST_BACKTRACE".to_string(), "0".to_string())];
        let home = confined.and_then(|c| c.home());
        if let Some(c) = confined {
            env.extend(c.env());
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let program = sandbox::Program::spawn(
            &sandbox::Launch {
                program: launch.program,
                args: launch.args,
                env: &env,
                limits: &sandbox_limits(launch.limits),
                user: confined.and_then(|c| c.user()),
                dir: home.as_deref(),
            },
            Arc::new(witness),
        )?;
        Ok(Proc {
            node: launch.node,
            program,
            rec: rec.clone(),
        })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> Pid {
        self.program.pid()
    }

    /// Sends `sig` to the program's process group if it has not been reaped.
    pub fn signal(&self, sig: Signal) -> bool {
        self.program.signal(sig)
    }

    /// Whether it has exited (as the record says).
    pub fn exited(&self) -> bool {
        self.rec.read(|l| !l.alive[self.node])
    }

    /// Kills the program's process group, waits until it is reaped and
    /// the rest of its family killed, and until its output closes (at most
    /// until the test's time limit). Returns whether it was still running.
    pub fn kill(&mut self) -> bool {
        let was_running = !self.exited();
        if was_running {
            self.program.kill();
        }
        self.program.wait();
        was_running
    }

    /// CPU time used so far (user + system), in clock ticks, from `/proc/PID/stat`.
    pub fn cpu_ticks(&self) -> Option<u64> {
        self.program.cpu_ticks()
    }

    /// How its threads have used the scheduler so far, if the kernel tells.
    pub fn sched(&self) -> Option<sandbox::Sched> {
        self.program.sched()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the sandbox sees of one program, written into the record as the
/// events of its node.
struct Witness {
    node: usize,
    rec: Recorder,
    /// The command line, for [`What::Started`].
    command: Vec<String>,
}

impl Witness {
    /// `at` as the record times events: since the test started.
    fn time(&self, at: Instant) -> std::time::Duration {
        at.saturating_duration_since(self.rec.t0())
    }
}

fn stream(s: sandbox::Stream) -> Stream {
    match s {
        sandbox::Stream::Stdout => Stream::Stdout,
        sandbox::Stream::Stderr => Stream::Stderr,
    }
}

fn limit(l: sandbox::Limit) -> Limit {
    match l {
        sandbox::Limit::Memory(bytes) => Limit::Memory(Size(bytes)),
        sandbox::Limit::Processes(n) => Limit::Processes(n),
        sandbox::Limit::Cpu(d) => Limit::Cpu(Dur(d)),
    }
}

impl sandbox::Observer for Witness {
    fn started(&self, at: Instant, pid: Pid) {
        let what = What::Started {
            command: self.command.clone(),
            pid: pid.as_raw(),
        };
        self.rec.event_at(self.time(at), Some(self.node), what);
    }

    fn line(&self, s: sandbox::Stream, text: String) {
        self.rec.line(self.node, stream(s), text);
    }

    fn closed(&self, _: sandbox::Stream) {
        self.rec.closed(self.node);
    }

    fn flooded(&self, s: sandbox::Stream, limit: usize) {
        let stream = stream(s);
        self.rec
            .event(Some(self.node), What::Flooded { stream, limit });
    }

    fn exceeded(&self, l: sandbox::Limit) {
        let limit = limit(l);
        self.rec
            .event(Some(self.node), What::LimitExceeded { limit });
    }

    fn exited(&self, exit: sandbox::Exit) {
        let (at, node) = (self.time(exit.at), Some(self.node));
        if let Some(l) = exit.exceeded {
            let limit = limit(l);
            self.rec.event_at(at, node, What::LimitExceeded { limit });
        }
        if !exit.strays.is_empty() {
            let total = exit.strays.len();
            let strays = (exit.strays.into_iter().take(STRAYS_KEPT))
                .map(|s| Stray {
                    pid: s.pid,
                    command: s.command,
                })
                .collect();
            let (on_exit, escaped) = (exit.on_exit, exit.escaped);
            let what = What::LeftBehind {
                strays,
                total,
                on_exit,
                escaped,
            };
            self.rec.event_at(at, node, what);
        }
        let status = match exit.status {
            sandbox::Status::Code(c) => Ended::Code(c),
            sandbox::Status::Signal(s) => Ended::Signal(s),
        };
        // What it sent before exiting has reached the proxy's sockets:
        // have it read, so that whoever waits on the exit sees it.
        self.rec.settle_network();
        self.rec.event_at(at, node, What::Exited { status });
    }

    /// Until the output closes, or the test's time limit.
    fn wait_closed(&self) {
        let node = self.node;
        self.rec.wait(None, None, |l| l.output_closed(node));
    }
}

/// The sandbox's own tests show what it contains and how; these show that
/// what it sees lands in the record, as the judge reads it.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::record::NodeRecord;
    use std::thread;
    use std::time::{Duration, Instant};

    /// A record whose time limit is far beyond any bound a test here
    /// asserts: `kill` waits for a program's output until it, and a test
    /// that shows it does not must not depend on how fast the machine is.
    fn recorder() -> Recorder {
        let limit = Duration::from_secs(600);
        let clock = crate::run::clock::Clock::new(limit, limit);
        Recorder::new("t", 1, clock, vec![NodeRecord::new("sh")])
    }

    fn sh(rec: &Recorder, script: &str, output: u64) -> Proc {
        let limits = Limits {
            output: crate::spec::Size(output),
            ..Limits::default()
        };
        sh_under(rec, script, &limits)
    }

    fn sh_under(rec: &Recorder, script: &str, limits: &Limits) -> Proc {
        start(rec, "/bin/sh", &["-c", script], limits).unwrap()
    }

    fn start(
        rec: &Recorder,
        program: &str,
        args: &[&str],
        limits: &Limits,
    ) -> Result<Proc, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Proc::spawn(
            &Launch {
                node: 0,
                program: Path::new(program),
                args: &args,
                limits,
            },
            rec,
        )
    }

    /// The bound of a wait that ends a broken test: far beyond what a
    /// working one takes on any machine.
    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    /// Waits until `rec` shows that `node` exited, or `deadline` passes.
    fn wait_exit(rec: &Recorder, node: usize, deadline: Instant) -> bool {
        rec.wait_until(deadline, |l| !l.alive[node])
    }

    #[test]
    fn output_and_exit_status_are_recorded() {
        let rec = recorder();
        let mut p = sh(
            &rec,
            "echo one; printf 'two\\r\\nthree' >&2; exit 3",
            1 << 20,
        );
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(r.exit_of(0).map(|e| e.1), Some(Ended::Code(3)));
        assert_eq!(r.nodes[0].texts(Stream::Stdout), ["one"]);
        assert_eq!(r.nodes[0].texts(Stream::Stderr), ["two", "three"]);
        assert_eq!(r.command_of(0).unwrap()[0], "/bin/sh");
    }

    #[test]
    fn a_flood_is_cut_and_the_program_killed() {
        let rec = recorder();
        let mut p = sh(&rec, "yes flood", 4096);
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(r.exit_of(0).map(|e| e.1), Some(Ended::Signal(9)));
        assert!(r.events.iter().any(|e| matches!(
            e.what,
            What::Flooded {
                stream: Stream::Stdout,
                ..
            }
        )));
        assert!(r.nodes[0].stdout.len() <= 4096 / 6 + 1);
    }

    #[test]
    fn children_left_behind_are_counted_and_killed() {
        let rec = recorder();
        let mut p = sh(&rec, "sleep 30 & echo $!; exit 0", 1 << 20);
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(left_behind(&r), 1);
        let child: i32 = r.nodes[0].stdout[0].text.parse().unwrap();
        // The orphan was killed with the group; once reparented it is reaped.
        let gone = (0..200).any(|_| {
            thread::sleep(Duration::from_millis(10));
            !Path::new(&format!("/proc/{child}")).exists()
                || std::fs::read_to_string(format!("/proc/{child}/stat"))
                    .is_ok_and(|s| s.contains(") Z"))
        });
        assert!(gone, "the orphan {child} is still running");
    }

    #[test]
    fn kill_stops_a_running_program() {
        let rec = recorder();
        let mut p = sh(&rec, "exec sleep 30", 1 << 20);
        assert!(!p.exited());
        assert!(p.kill());
        let r = rec.finish();
        assert_eq!(
            r.exit_of(0).map(|e| e.1.to_string()).unwrap(),
            "killed by SIGKILL"
        );
        assert!(
            !p.signal(Signal::SIGTERM),
            "a reaped group is not signalled"
        );
    }

    /// How many processes the program left behind, by the record.
    fn left_behind(r: &crate::run::record::Record) -> usize {
        r.events_where(|w| match w {
            What::LeftBehind { total, .. } => Some(*total),
            _ => None,
        })
        .map(|(_, _, total)| total)
        .sum()
    }

    fn limit_of(r: &crate::run::record::Record) -> Option<Limit> {
        r.events.iter().find_map(|e| match e.what {
            What::LimitExceeded { limit } => Some(limit),
            _ => None,
        })
    }

    #[test]
    fn a_memory_hog_is_killed_at_its_memory_limit() {
        let rec = recorder();
        let limits = Limits {
            memory: crate::spec::Size(32 << 20),
            ..Limits::default()
        };
        // Touches 16 MiB at a time, up to 1 GiB, unless stopped.
        let mut p = sh_under(
            &rec,
            "exec python3 -c 'import time\nx=[]\nfor i in range(64): x.append(bytearray(16<<20))\ntime.sleep(30)'",
            &limits,
        );
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(
            limit_of(&r),
            Some(Limit::Memory(crate::spec::Size(32 << 20)))
        );
        assert_eq!(r.exit_of(0).map(|e| e.1), Some(Ended::Signal(9)));
    }

    #[test]
    fn a_spinning_program_is_killed_at_its_cpu_limit() {
        let rec = recorder();
        let limits = Limits {
            cpu: crate::spec::Dur(Duration::from_secs(1)),
            ..Limits::default()
        };
        let mut p = sh_under(&rec, "while :; do :; done", &limits);
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(limit_of(&r), Some(Limit::Cpu(limits.cpu)));
        assert_eq!(r.exit_of(0).map(|e| e.1), Some(Ended::Signal(24)));
    }

    #[test]
    fn limits_are_set_before_the_program_runs() {
        let rec = recorder();
        let mut p = sh(&rec, "ulimit -c; ulimit -n; ulimit -t; ulimit -v", 1 << 20);
        assert!(wait_exit(&rec, 0, soon()));
        p.kill();
        let r = rec.finish();
        assert_eq!(
            r.nodes[0].texts(Stream::Stdout),
            ["0", "256", "10", &(4u64 << 20).to_string()]
        );
    }
}
