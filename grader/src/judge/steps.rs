//! The step that could not be carried out, and what `idle` measured.
//!
//! A step fails with a [`Problem`] the runner recorded; each kind of
//! problem has its own sentence here, written for the node it is about
//! (or for no node, when a step is about none).

use std::time::Duration;

use super::process::seconds;
use super::{Check, Failure, Kind, Place, fail, pass};
use crate::run::record::{Problem, Record, What};
use crate::spec::plan::Action;
use crate::spec::{Dur, Step, Stream, TestSpec};

/// Both streams, as a failure about a program shows them.
const ALL: [Stream; 2] = [Stream::Stderr, Stream::Stdout];

/// The step that could not be carried out, and CPU measurements.
pub(super) fn steps(test: &TestSpec, record: &Record) -> Vec<Check> {
    let mut out = Vec::new();
    for (node, at, (index, problem)) in record.events_where(|w| match w {
        What::StepFailed { index, problem } => Some((*index, problem.clone())),
        _ => None,
    }) {
        let step = &test.steps[index];
        let subject = node.or_else(|| test.plan.steps.get(index).and_then(Action::node));
        let failed = Failed {
            record,
            step,
            subject,
            who: subject.map_or("", |i| record.nodes[i].name.as_str()),
            at,
            limit: test_limit(record),
        };
        let f = failed.failure(&problem);
        out.push(fail(
            Kind::STEP,
            subject.map(|i| record.nodes[i].name.as_str()),
            started_slowly(record, at, f).at(Place::Step(index)),
        ));
    }
    out.extend(idle_cpu(test, record));
    out.extend(speed(test, record));
    out
}

/// A step that failed, with what its sentences need.
struct Failed<'a> {
    record: &'a Record,
    step: &'a Step,
    /// The node it is about, if one.
    subject: Option<usize>,
    /// Its name, or nothing.
    who: &'a str,
    /// When it failed.
    at: Duration,
    /// The test's time limit, as the report says it.
    limit: String,
}

impl Failed<'_> {
    fn failure(&self, problem: &Problem) -> Failure {
        let (who, limit) = (self.who, &self.limit);
        match problem {
            Problem::CannotStart { program, error } => {
                Failure::new(format!("cannot start {who} ({program}): {error}"))
            }
            Problem::ExitedBeforeBinding { port } => Failure::new(format!(
                "{who} {} before binding UDP port {port} (its first argument)",
                self.exited()
            ))
            .showing_if(self.subject, &ALL),
            Problem::NeverBound {
                port,
                instead,
                startup,
            } => self.never_bound(*port, instead, *startup),
            Problem::NotExited => self.not_exited(),
            Problem::NotStopped {
                signal,
                within,
                waited,
                time_up,
            } => self.not_stopped(*signal, *within, *waited, *time_up),
            Problem::AlreadyExited => Failure::new(format!(
                "{who} {} before the grader could stop it",
                (self.subject.and_then(|s| self.record.exit_of(s)))
                    .map_or("had exited".to_string(), |(_, s)| s.had())
            ))
            .showing_if(self.subject, &[Stream::Stderr]),
            Problem::NoOutput {
                pattern,
                stream,
                closed,
            } => self.no_output(pattern, *stream, *closed),
            Problem::NotSent {
                from,
                to,
                kind,
                count,
                seen,
            } => self.not_sent(*from, *to, *kind, *count, *seen),
            Problem::ExitedWhileIdle => Failure::new(format!(
                "{who} {} while the grader watched it idle",
                self.exited()
            ))
            .showing_if(self.subject, &ALL),
            Problem::ExitedUnderLoad => Failure::new(format!(
                "{who} {} while the grader sent it requests as fast as it answered",
                self.exited()
            ))
            .showing_if(self.subject, &ALL),
            Problem::LoadFailed { error } => Failure::new(format!(
                "the grader could not send {who} its load: {error}"
            )),
            Problem::Unanswered { node, key, why } => Failure::new(format!(
                "{} did not answer the grader's READ_REQ for key {key} {why}",
                self.record.nodes[*node].name,
            ))
            .note("at the end of the test the grader reads every key from every replica: each must answer READ_REQ with READ_REP and the value it holds")
            .showing(*node, &[Stream::Stderr]),
            Problem::TimeUp => Failure::new(match self.step {
                Step::Idle { window, .. } => format!(
                    "the test's time limit ({limit}) passed while the grader watched {who} idle, before its window of {window} ended: its CPU use was not measured"
                ),
                Step::Sleep(d) => format!(
                    "the test's time limit ({limit}) passed during `sleep: {d}`"
                ),
                _ => format!("the test's time limit ({limit}) passed during this step"),
            }),
            Problem::UnknownNode { name } => Failure::new(format!(
                "this step names `{name}`, and the test has no node or group by that name"
            )),
            Problem::NotStarted => Failure::new(format!(
                "{who} was never started, so this step could not act on it"
            )),
            Problem::NoKeys { keys } => Failure::new(format!(
                "the grader had no key to read back: nothing on the wire was {keys}"
            )),
            Problem::Unsettled {
                nodes,
                held,
                within,
            } => Failure::new(format!(
                "the grader could not read the end state: after {}, {held} datagram(s) were still on their way to {}",
                crate::spec::Dur(*within),
                nodes.join(", ")
            ))
            .note("the query reads each node once nothing is in flight to it; a program that keeps sending after its work is done never lets the system settle"),
        }
    }

    /// "exited with exit code 1", "was killed by SIGSEGV".
    fn exited(&self) -> String {
        (self.subject.and_then(|i| self.record.exit_of(i)))
            .map_or("exited".to_string(), |(_, s)| s.verb())
    }

    fn never_bound(&self, port: u16, instead: &[u16], startup: Duration) -> Failure {
        let instead = match instead {
            [] => String::new(),
            [p] => format!("; it bound UDP port {p} instead"),
            ps => format!(
                "; it bound UDP ports {} instead",
                ps.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
            ),
        };
        Failure::new(format!(
            "{} did not bind UDP port {port} (its first argument) within its start-up limit ({}, limits.startup){instead}",
            self.who,
            Dur(startup),
        ))
        .showing_if(self.subject, &ALL)
    }

    fn not_exited(&self) -> Failure {
        let (who, limit) = (self.who, &self.limit);
        match self.subject {
            Some(s) if self.record.nodes[s].script => Failure::new(format!(
                "the grader's {who} did not finish its script within the test's time limit ({limit})"
            )),
            Some(s) => Failure::new(format!(
                "{who} did not exit within the test's time limit ({limit})"
            ))
            .showing(s, &ALL),
            None => Failure::new("a step did not finish within the test's time limit"),
        }
    }

    fn not_stopped(
        &self,
        signal: nix::sys::signal::Signal,
        within: Duration,
        waited: Duration,
        time_up: bool,
    ) -> Failure {
        let (who, limit) = (self.who, &self.limit);
        let ctrl_c = if signal == nix::sys::signal::Signal::SIGINT {
            " (Ctrl+C)"
        } else {
            ""
        };
        let signal = format!("{signal}{ctrl_c}");
        let within = Dur(within);
        if time_up {
            Failure::new(format!(
                "the test's time limit ({limit}) passed {} after the grader sent {who} {signal}, before {who} exited; it had {within} to",
                seconds(waited)
            ))
            .note("the steps before this one took the test's time: see the timeline (-v)")
        } else {
            Failure::new(format!("{who} did not exit within {within} of {signal}"))
        }
        .showing_if(self.subject, &ALL)
    }

    fn no_output(&self, pattern: &str, stream: Stream, closed: bool) -> Failure {
        let f = Failure::new(format!(
            "{} never printed a line matching `{pattern}` on {stream}",
            self.who
        ))
        .showing_if(self.subject, &[stream]);
        let exit =
            (self.subject.and_then(|s| self.record.exit_of(s))).filter(|&(at, _)| at <= self.at);
        if closed {
            f.note(match exit {
                Some((_, status)) => format!("it {} first", status.verb()),
                None => "it closed its stdout and stderr first".to_string(),
            })
        } else {
            f.note(format!(
                "the grader waited until the test's time limit ({})",
                self.limit
            ))
        }
    }

    fn not_sent(
        &self,
        from: usize,
        to: usize,
        kind: Option<handout::MsgType>,
        count: usize,
        seen: usize,
    ) -> Failure {
        let record = self.record;
        let s = if seen == 1 { "" } else { "s" };
        let what = kind.map_or(format!("datagram{s}"), |k| format!("{}{s}", k.name()));
        let until = match record.exit_of(from) {
            Some((_, status)) if record.clock.reading(self.at) < record.clock.limit => {
                format!("it {}", status.verb())
            }
            _ => format!("the test's time limit ({}) passed", self.limit),
        };
        Failure::new(format!(
            "{} sent {seen} {what} to {}; the test waited for {count}, until {until}",
            record.nodes[from].name, record.nodes[to].name
        ))
        .showing(from, &ALL)
    }
}

/// What `idle` steps measured: a program busy while it had nothing to do
/// fails, and so does one that keeps waking up.
///
/// Busy is the CPU the program *asked* for (it ran or waited to run), when
/// the kernel keeps scheduler counts: a spinning program on a machine
/// whose cores are all taken gets a small share of a CPU, but is ready to
/// run all the time, so the verdict does not depend on what else runs.
/// Without those counts, the CPU it got is judged.
fn idle_cpu(test: &TestSpec, record: &Record) -> Vec<Check> {
    // Each measurement belongs to the step during which it was made.
    let mut step = None;
    let mut measured = std::collections::BTreeMap::new();
    for e in &record.events {
        match e.what {
            What::Step { index } => step = Some(index),
            What::CpuMeasured { .. } => {
                if let Some(i) = step {
                    measured.insert(i, (e.at, &e.what));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (i, step) in test.steps.iter().enumerate() {
        let Step::Idle {
            node,
            max_cpu,
            max_wakeups,
            ..
        } = step
        else {
            continue;
        };
        let Some(&(
            at,
            &What::CpuMeasured {
                window,
                percent,
                busy,
                wakeups,
            },
        )) = measured.get(&i)
        else {
            continue;
        };
        let ms = window.as_millis();
        let rate = wakeups.map(|n| n as f64 / window.as_secs_f64());
        let asked = busy.unwrap_or(percent);
        // A program that wakes a thousand times a second waits for a CPU
        // after every wake-up on a busy machine, and asks for much in all:
        // both causes are named when both limits are passed.
        let woke = |n: u64, r: f64| {
            format!(
                "woke up {n} times in {ms} ms while idle ({r:.0} a second; at most {max_wakeups:.0} allowed)"
            )
        };
        let failure = if asked > *max_cpu {
            let how = match busy {
                Some(b) => format!(
                    "{node} was running or waiting to run for {b:.0}% of {ms} ms while idle (it got {percent:.0}% of a CPU)"
                ),
                None => format!("{node} used {percent:.0}% of a CPU while idle for {ms} ms"),
            };
            let also = match (wakeups, rate) {
                (Some(n), Some(r)) if r > *max_wakeups => format!(
                    "; it also {}: a timeout of a few milliseconds is polling too",
                    woke(n, r)
                ),
                _ => String::new(),
            };
            Some(Failure::new(format!(
                "{how} (at most {max_cpu:.0}% allowed): poll(2) with a zero timeout, or a loop around a non-blocking socket, is busy polling{also}"
            )))
        } else if let (Some(n), Some(r)) = (wakeups, rate)
            && r > *max_wakeups
        {
            Some(Failure::new(format!(
                "{node} {}: a timeout of a few milliseconds in poll(2) or recvfrom(2), when nothing is pending, is polling too",
                woke(n, r)
            )))
        } else {
            None
        };
        out.push(match failure {
            Some(f) => fail(
                Kind::IDLE_CPU,
                Some(node),
                f.note("a program with nothing to do must block: in poll(2) with a timeout of -1 or until its next deadline, or in a blocking recvfrom(2)")
                    .at(Place::Time(at)),
            ),
            None => pass(Kind::IDLE_CPU, Some(node)),
        });
    }
    out
}

/// What `load` steps measured: a server slower than `at_least` of the
/// grader's own minimal server, driven in turns with it on the same
/// machine in the same run, fails with both figures. Comparing with a
/// server measured beside it, never with a fixed number, keeps a slow or
/// busy machine from failing a correct server.
fn speed(test: &TestSpec, record: &Record) -> Vec<Check> {
    let mut step = None;
    let mut measured = std::collections::BTreeMap::new();
    for e in &record.events {
        match e.what {
            What::Step { index } => step = Some(index),
            What::LoadMeasured { .. } => {
                if let Some(i) = step {
                    measured.insert(i, (e.at, &e.what));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (i, step) in test.steps.iter().enumerate() {
        let Step::Load(l) = step else { continue };
        let Some(&(
            at,
            &What::LoadMeasured {
                clients,
                node,
                baseline,
            },
        )) = measured.get(&i)
        else {
            continue;
        };
        let who = &l.node;
        let floor = l.at_least * baseline.per_second;
        let failure = if node.answered == 0 {
            Some(Failure::new(format!(
                "{who} answered none of the grader's requests under {clients} client(s) ({} went unanswered, {} replies answered nothing asked); the grader's minimal server answered {}",
                node.lost,
                node.wrong,
                baseline.describe()
            )))
        } else if node.per_second < floor {
            Some(Failure::new(format!(
                "{who} answered {} under {clients} client(s), where the grader's minimal blocking server, in turns with it on this machine, answered {}: at least {:.0}% of that ({floor:.0} a second) is needed",
                node.describe(),
                baseline.describe(),
                l.at_least * 100.0
            )))
        } else {
            None
        };
        out.push(match failure {
            Some(f) => fail(
                Kind::SPEED,
                Some(who),
                f.note("answer each request as soon as it comes: no sleep, no poll(2) timeout before a reply, no work the request does not need; a blocking recvfrom(2) then sendto(2) is the speed to match")
                    .at(Place::Time(at)),
            ),
            None => pass(Kind::SPEED, Some(who)),
        });
    }
    out
}

/// The test's time limit as the report says it.
pub(super) fn test_limit(record: &Record) -> String {
    Dur(record.clock.limit).to_string()
}

/// `f`, for a step that failed at `at`, with a note on the time programs
/// took to start when the test's time limit had passed by then and the
/// start-ups were long enough to matter: the test lasted longer than its
/// limit says, and a person should see why (see [`crate::run::clock`]).
pub(super) fn started_slowly(record: &Record, at: Duration, f: Failure) -> Failure {
    let starting = record.clock.standing(at);
    if record.clock.reading(at) < record.clock.limit || starting < STARTUP_WORTH_SAYING {
        return f;
    }
    f.note(format!(
        "the test's clock stood still for the {} its programs took to start (limits.startup); its time limit counts the rest",
        seconds(starting)
    ))
}

/// Start-up time a report mentions: below it, a person would only wonder
/// why it is there.
const STARTUP_WORTH_SAYING: Duration = Duration::from_millis(500);
