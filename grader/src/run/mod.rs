//! Running one test: lease ports, start the proxy, carry out the steps,
//! stop everything, and hand over the [record](record::Record).
//!
//! The runner judges nothing: it does what the spec says and writes down
//! what happened. When a step cannot be carried out (a program that never
//! exits, never binds its port), that is written down too, and the
//! remaining steps are skipped. The test also ends as soon as its outcome
//! is known: an event that [decides](record::What::decides) it (a scripted
//! peer whose step failed, a node flooding the network) ends it at once,
//! whatever the runner was waiting for. Whoever records such an event
//! marks the record decided; every wait of the runner ends on that mark.
//!
//! When the grader confines what it grades ([`crate::confine`]), the test
//! runs in a network namespace of its own: the thread that runs it enters
//! one before it makes a socket or starts a program, and everything the
//! test makes lives there.
//!
//! Every wait is a wait on the record (an exit, a line, a datagram), up to
//! the test's time limit. The one exception is `start` of a listening
//! program: no event tells when a program binds a port, so `/proc/net/udp`
//! is read every few milliseconds.
//!
//! Time limits and windows are measured on the test's [clock], which
//! stands still while a program starts: a busy machine that takes seconds
//! to start an interpreter does not spend the test's time. Each start-up
//! has its own limit (`limits.startup`).
//!
//! # Layout
//! - this file: the steps, in order;
//! - [`record`]: the typed timeline of a run, and waiting on it;
//! - [`clock`]: the test's clock, which stands still while programs start;
//! - [`seed`]: seeds of tests, nodes and links;
//! - [`ports`]: leasing free UDP ports so tests run side by side;
//! - [`procs`]: lab programs, started in the [sandbox] (as a shell would,
//!   under hard limits, nothing outliving the test) and written into the
//!   record;
//! - [`proxy`]: the interposed network, its rules and seeded faults;
//! - [`script`]: peers played by the grader;
//! - [`select`]: selecting datagrams of the record, for the runner and the checks;
//! - [`load`]: a closed-loop load generator and a minimal baseline server,
//!   for `load` steps (a speed check beside the baseline) and `grader bench`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

pub mod clock;
pub mod load;
pub mod ports;
pub mod procs;
pub mod proxy;
pub mod record;
pub mod script;
pub mod seed;
pub mod select;

use crate::kit::Programs;
use crate::spec::pattern::{self, Lookup, Token};
use crate::spec::plan::{Action, LinkFaults, Node};
use crate::spec::{FaultSettings, Faults, LabSpec, Limits, Stream, TestSpec};
use procs::{Launch, Proc};
use proxy::{Host, Network, Setup};
use record::{Live, NodeRecord, Problem, Record, Recorder, Wake, What};

/// How long a program must not run before an `idle` window starts.
const SETTLE_QUIET: Duration = Duration::from_millis(30);

/// How long the grader waits at most for a program to go quiet before an
/// `idle` window starts.
const SETTLE_MOST: Duration = Duration::from_millis(400);

/// How long a request of a `load` step waits for its answer before the
/// client sends its next one.
const LOAD_TIMEOUT: Duration = Duration::from_millis(200);

/// In how many turns a `load` step drives the node and the grader's own
/// server: whatever else the machine does then falls on both alike.
const LOAD_SLICES: u32 = 6;

/// How often `start` looks whether a listening program has bound its port.
const BIND_POLL: Duration = Duration::from_millis(5);

/// The placeholder values of one node: `seed`, `port`, `peer:X`, `seed:X`.
pub type Vars = BTreeMap<String, String>;

/// Runs `test` of `lab` with the lab's `programs` and the test's `seed`.
///
/// # Errors
/// Only when the grader itself cannot set the test up (no free port, no
/// socket for the proxy): the program under test is never the cause.
pub fn run_test(
    lab: &LabSpec,
    test: &TestSpec,
    programs: &Programs,
    seed: u64,
) -> anyhow::Result<Record> {
    // First of all, where the machine allows it: a network of the test's
    // own, which every socket and program below is made in.
    let _network = match crate::confine::current().filter(|c| c.own_network()) {
        Some(_) => Some(
            sandbox::net::Loopback::enter()
                .map_err(|e| anyhow::anyhow!("making the test's network namespace: {e}"))?,
        ),
        None => None,
    };
    let (homes, sockets, leases) = homes(test)?;
    let mut run = Run::set_up(lab, test, programs, seed, homes, sockets)?;
    let steps = &test.plan.steps;
    for (i, step) in steps.iter().enumerate() {
        run.rec.update(|l| {
            for (j, may) in l.may_start.iter_mut().enumerate() {
                *may = steps[i..].iter().any(|s| s.starts(j));
            }
        });
        run.rec.event(None, What::Step { index: i });
        match run.step(step) {
            Ok(()) => {}
            Err(Stop::Failed(problem)) => {
                run.rec.event(None, What::StepFailed { index: i, problem });
                break;
            }
            Err(Stop::Decided) => break,
        }
        if run.rec.read(doomed) {
            break;
        }
    }
    let record = run.finish();
    drop(leases);
    Ok(record)
}

/// Each node's own port, if it has one: a scripted node's socket, bound
/// now; a listening program's leased port, held until the test ends.
type Homes = (
    Vec<Option<u16>>,
    Vec<Option<UdpSocket>>,
    Vec<ports::PortLease>,
);

fn homes(test: &TestSpec) -> anyhow::Result<Homes> {
    let n = test.plan.nodes.len();
    let (mut homes, mut sockets, mut leases) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::new());
    for node in &test.plan.nodes {
        if node.is_script() {
            let s = UdpSocket::bind("127.0.0.1:0")?;
            homes.push(Some(s.local_addr()?.port()));
            sockets.push(Some(s));
        } else if matches!(node, Node::Program { listens: true, .. }) {
            let l = ports::lease()?;
            homes.push(Some(l.port));
            leases.push(l);
            sockets.push(None);
        } else {
            homes.push(None);
            sockets.push(None);
        }
    }
    Ok((homes, sockets, leases))
}

/// Why the steps stopped early.
enum Stop {
    /// This step could not be carried out.
    Failed(Problem),
    /// An event decided the test (a scripted peer failed, a node
    /// flooded): the outcome is known, the test ends now.
    Decided,
}

/// Whether an event has decided the test. One flag, not a search of the
/// events: every wait asks it at every change of the record.
fn doomed(l: &Live) -> bool {
    l.decided
}

struct Run<'a> {
    test: &'a TestSpec,
    limits: Limits,
    programs: &'a Programs,
    rec: Recorder,
    net: Network,
    vars: Vec<Vars>,
    faces: Vec<Vec<u16>>,
    sockets: Arc<Vec<Option<UdpSocket>>>,
    procs: Vec<Option<Proc>>,
    scripts: Vec<JoinHandle<()>>,
    /// The random faults in force, as `faults` steps changed them.
    faults: LinkFaults,
    /// Each node's own port, if it has one.
    homes: Vec<Option<u16>>,
}

impl<'a> Run<'a> {
    /// The record, the proxy and every node's placeholders, before the
    /// first step.
    fn set_up(
        lab: &LabSpec,
        test: &'a TestSpec,
        programs: &'a Programs,
        seed: u64,
        homes: Vec<Option<u16>>,
        sockets: Vec<Option<UdpSocket>>,
    ) -> anyhow::Result<Run<'a>> {
        let timeout = test.timeout.unwrap_or(lab.timeout).0;
        let n = test.nodes.len();
        let names: Vec<&str> = test.nodes.iter().map(|n| n.name.as_str()).collect();
        let seeds: Vec<u64> = names.iter().map(|m| seed::node_seed(seed, m)).collect();
        let rec = Recorder::new(
            &test.name,
            seed,
            clock::Clock::new(timeout, lab.limits.startup.0),
            (test.nodes.iter().zip(&seeds).zip(&homes))
                .map(|((node, &seed), &port)| NodeRecord {
                    script: node.is_script(),
                    seed,
                    port,
                    member: node.member.clone(),
                    ..NodeRecord::new(&node.name)
                })
                .collect(),
        );
        let test_vars: BTreeMap<String, String> = (test.vars.iter())
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect();
        rec.update(|l| l.record.vars = test_vars.clone());
        let net = Network::start(
            Setup {
                hosts: homes.iter().map(|&home| Host { home }).collect(),
                faults: (0..n)
                    .map(|a| (0..n).map(|b| test.plan.faults.of(a, b)).collect())
                    .collect(),
                seeds: (names.iter())
                    .map(|a| names.iter().map(|b| seed::link_seed(seed, a, b)).collect())
                    .collect(),
                rules: test.plan.rules.clone(),
                keep: usize::try_from(lab.limits.datagrams).unwrap_or(usize::MAX),
                send_rate: lab.limits.send_rate,
            },
            &rec,
        )?;
        rec.set_settler(net.settler()?);
        let faces: Vec<Vec<u16>> = (0..n)
            .map(|i| (0..n).map(|j| net.face_port(i, j)).collect())
            .collect();
        rec.update(|l| {
            for (node, f) in l.record.nodes.iter_mut().zip(&faces) {
                node.faces = f.clone();
            }
        });
        let vars: Vec<Vars> = (0..n)
            .map(|i| {
                let mut v = test_vars.clone();
                v.insert("seed".into(), seeds[i].to_string());
                if let Some(p) = homes[i] {
                    v.insert("port".into(), p.to_string());
                }
                for (j, name) in names.iter().enumerate() {
                    v.insert(format!("peer:{name}"), faces[i][j].to_string());
                    v.insert(format!("seed:{name}"), seeds[j].to_string());
                }
                v
            })
            .collect();
        Ok(Run {
            test,
            limits: lab.limits,
            programs,
            rec,
            net,
            vars,
            faces,
            sockets: Arc::new(sockets),
            procs: (0..n).map(|_| None).collect(),
            scripts: Vec::new(),
            faults: test.plan.faults.clone(),
            homes,
        })
    }
}

impl Run<'_> {
    /// Node `i`'s program, once started. Validation makes sure a step acts
    /// only on a node an earlier step started, and a program that could
    /// not start ended the test; if either ever failed, the step fails
    /// saying so.
    fn proc(&self, i: usize) -> Result<&Proc, Stop> {
        self.procs[i]
            .as_ref()
            .ok_or(Stop::Failed(Problem::NotStarted))
    }

    fn signal(&self, i: usize, signal: Signal) -> Result<(), Stop> {
        let p = self.proc(i)?;
        self.rec.event(Some(i), What::Signalled { signal });
        p.signal(signal);
        Ok(())
    }

    /// Waits until `ready`, or `window` passes on the test's clock, or the
    /// time limit; says which came first. An event that decides the test
    /// ends the wait too, and the steps.
    fn wait(
        &self,
        window: Option<Duration>,
        mut ready: impl FnMut(&Live) -> bool,
    ) -> Result<Wake, Stop> {
        let until = window.map(|w| self.rec.clock() + w);
        let wake = self.rec.wait(until, None, |l| ready(l) || doomed(l));
        if self.rec.read(doomed) && !self.rec.read(|l| ready(l)) {
            return Err(Stop::Decided);
        }
        Ok(wake)
    }

    fn step(&mut self, step: &Action) -> Result<(), Stop> {
        match step {
            Action::Start(i) => self.launch(*i, false),
            Action::WaitExit(i) => {
                let i = *i;
                match self.wait(None, |l| !l.alive[i])? {
                    Wake::Ready => Ok(()),
                    Wake::Passed | Wake::TimeUp => Err(Stop::Failed(Problem::NotExited)),
                }
            }
            Action::Stop {
                node,
                signal,
                within,
            } => self.stop(*node, *signal, *within),
            Action::Signal { node, signal } => self.signal(*node, *signal),
            Action::Pause(i) | Action::Resume(i) | Action::Kill(i) if self.scripted(*i) => {
                self.hold(step, *i)
            }
            Action::Pause(i) => self.signal(*i, Signal::SIGSTOP),
            Action::Resume(i) => self.signal(*i, Signal::SIGCONT),
            Action::Kill(i) => {
                self.kill(*i);
                Ok(())
            }
            Action::Sleep(d) => match self.wait(Some(*d), |_| false)? {
                Wake::TimeUp => Err(Stop::Failed(Problem::TimeUp)),
                Wake::Ready | Wake::Passed => Ok(()),
            },
            Action::WaitOutput {
                node,
                pattern,
                line,
                stream,
            } => self.wait_output(*node, pattern, line, *stream),
            Action::WaitSent {
                from,
                to,
                kind,
                count,
            } => self.wait_sent(*from, *to, *kind, *count),
            Action::Idle { node, window } => self.idle(*node, *window),
            &Action::Load {
                node,
                workload,
                clients,
                window,
            } => self.load(node, workload, clients, window),
            Action::Partition(a, b) => {
                self.net.partition(*a, *b);
                self.rec.event(None, What::Partitioned { a: *a, b: *b });
                Ok(())
            }
            Action::Heal => {
                self.net.heal();
                self.rec.event(None, What::Healed);
                Ok(())
            }
            Action::Cut { from, to } => {
                self.net.cut(*from, *to);
                self.rec.event(
                    None,
                    What::Cut {
                        from: *from,
                        to: *to,
                    },
                );
                Ok(())
            }
            Action::HealLink(directions) => {
                for &(from, to) in directions {
                    self.net.heal_link(from, to);
                    self.rec.event(None, What::LinkHealed { from, to });
                }
                Ok(())
            }
            Action::Faults { link, settings } => {
                self.change_faults(*link, settings);
                Ok(())
            }
            Action::Restart(i) => {
                let i = *i;
                self.rec.update(|l| {
                    l.halted[i] = false;
                    l.paused[i] = false;
                });
                self.kill(i);
                self.procs[i] = None;
                self.launch(i, true)
            }
            Action::Query {
                by,
                nodes,
                keys,
                within,
            } => self.query(*by, nodes, keys, *within),
        }
    }

    /// `stop`: the signal, then up to `within` for the program to exit.
    fn stop(&self, i: usize, signal: Signal, within: Duration) -> Result<(), Stop> {
        if self.proc(i)?.exited() {
            return Err(Stop::Failed(Problem::AlreadyExited));
        }
        self.signal(i, signal)?;
        let sent = self.rec.now();
        match self.wait(Some(within), |l| !l.alive[i])? {
            Wake::Ready => Ok(()),
            // Two causes, two messages: the program had its `within` and
            // did not exit, or the test ran out first.
            wake => Err(Stop::Failed(Problem::NotStopped {
                signal,
                within,
                waited: self.rec.now().saturating_sub(sent),
                time_up: wake == Wake::TimeUp,
            })),
        }
    }

    /// `wait_output`: until node `i` prints a line that matches.
    fn wait_output(
        &self,
        i: usize,
        tokens: &[Token],
        line: &str,
        stream: Stream,
    ) -> Result<(), Stop> {
        let vars = self.vars[i].clone();
        let mut checked = 0;
        let mut matched = |l: &Live| {
            let lines = l.record.nodes[i].lines(stream);
            let hit = lines[checked..]
                .iter()
                .any(|x| pattern::match_line(tokens, &x.text, &vars as &dyn Lookup, 0).is_some());
            checked = lines.len();
            hit
        };
        let mut closed = false;
        if self.wait(None, |l| {
            closed = l.output_closed(i);
            matched(l) || closed
        })? == Wake::Ready
            && !closed
        {
            return Ok(());
        }
        // The output closed: one last look at what it printed.
        if self.rec.read(|l| matched(l)) {
            return Ok(());
        }
        Err(Stop::Failed(Problem::NoOutput {
            pattern: line.to_string(),
            stream,
            closed,
        }))
    }

    /// `wait_sent`: until the proxy has seen `count` datagrams `f -> t`.
    fn wait_sent(
        &self,
        f: usize,
        t: usize,
        kind: Option<handout::MsgType>,
        count: usize,
    ) -> Result<(), Stop> {
        // The counts, not the datagrams kept: exact past the bound of the
        // record, and one look per change of the record.
        let seen = |l: &Live| l.record.traffic.links[f][t].of(kind);
        // A program that has exited sends nothing more: once the proxy has
        // read what it sent, the wait is over.
        let program = !self.scripted(f);
        self.wait(None, |l| seen(l) >= count || (program && !l.alive[f]))?;
        if self.rec.read(|l| seen(l) < count && !l.alive[f]) {
            self.net.settle(&self.rec);
        }
        if self.rec.read(|l| seen(l) >= count) {
            Ok(())
        } else {
            Err(Stop::Failed(Problem::NotSent {
                from: f,
                to: t,
                kind,
                count,
                seen: self.rec.read(seen),
            }))
        }
    }

    /// SIGKILL to a program still running, as a crash would, recorded as
    /// the grader's signal; waits until it is gone.
    fn kill(&mut self, i: usize) {
        if let Some(p) = self.procs[i].as_mut() {
            if !p.exited() {
                let signal = Signal::SIGKILL;
                self.rec.event(Some(i), What::Signalled { signal });
            }
            p.kill();
        }
    }

    fn scripted(&self, i: usize) -> bool {
        self.test.plan.nodes[i].is_script()
    }

    /// Pauses, resumes or kills scripted node `i`: its script reads the
    /// flag; a kill waits until the script has stopped.
    fn hold(&self, step: &Action, i: usize) -> Result<(), Stop> {
        let (how, set): (&'static str, fn(&mut Live, usize)) = match step {
            Action::Pause(_) => ("paused", |l, i| l.paused[i] = true),
            Action::Resume(_) => ("resumed", |l, i| l.paused[i] = false),
            _ => ("killed", |l, i| l.halted[i] = true),
        };
        self.rec.update(|l| set(l, i));
        self.rec.event(Some(i), What::ScriptHeld { how });
        if matches!(step, Action::Kill(_)) {
            self.wait(None, |l| !l.alive[i])?;
        }
        Ok(())
    }

    /// `faults`: new random faults for one link, or for every link (the
    /// spec's `links` still override them, as do earlier `faults` steps
    /// that named a link).
    fn change_faults(&mut self, link: Option<(usize, usize)>, settings: &FaultSettings) {
        self.faults.change(link, settings);
        let n = self.test.plan.nodes.len();
        for a in 0..n {
            for b in 0..n {
                self.net.set_faults(a, b, self.faults.of(a, b));
            }
        }
        let faults = match link {
            Some((a, b)) => self.faults.of(a, b),
            None => self.faults.every.over(Faults::default()),
        };
        self.rec.event(None, What::FaultsChanged { link, faults });
    }

    /// `query`: the scripted node `by` reads every key that matching
    /// datagrams carried from every node named, into the record.
    fn query(
        &mut self,
        me: usize,
        nodes: &[usize],
        keys: &crate::spec::Match,
        within: Duration,
    ) -> Result<(), Stop> {
        // The keys in the order first seen, and what carried them.
        let (keys, carriers) = self
            .rec
            .read(|l| {
                let select = select::Selector::new(&l.record, keys)?;
                let mut seen = std::collections::BTreeSet::new();
                let keys: Vec<String> = (l.record.datagrams.iter())
                    .filter_map(|d| select.take(d))
                    .map(|m| m.key)
                    .filter(|k| seen.insert(k.clone()))
                    .collect();
                Ok((keys, select.describe(None)))
            })
            .map_err(|record::UnknownNode(name)| Stop::Failed(Problem::UnknownNode { name }))?;
        if keys.is_empty() {
            return Err(Stop::Failed(Problem::NoKeys { keys: carriers }));
        }
        self.settled(nodes, within)?;
        let cx = self.context(me, false);
        let answers = script::query(&cx, nodes, &keys, within).map_err(Stop::Failed)?;
        self.rec.update(|l| l.record.queries.extend(answers));
        self.rec.event(
            Some(me),
            What::Queried {
                keys: keys.len(),
                nodes: nodes.len(),
            },
        );
        Ok(())
    }

    /// Waits, up to `within` on the test's clock, until nothing sent so
    /// far is on its way to `nodes`: the proxy has read every datagram
    /// that reached it, and delivered or dropped each copy it held. A
    /// replica is read settled, not while a forward to it is still held.
    fn settled(&self, nodes: &[usize], within: Duration) -> Result<(), Stop> {
        self.net.settle(&self.rec);
        let until = self.rec.clock() + within;
        let held = |l: &record::Live| nodes.iter().map(|&n| l.pending_to[n]).sum::<usize>();
        match self.rec.wait(Some(until), None, |l| held(l) == 0) {
            record::Wake::Ready => Ok(()),
            record::Wake::TimeUp => Err(Stop::Failed(Problem::TimeUp)),
            record::Wake::Passed => Err(Stop::Failed(Problem::Unsettled {
                nodes: nodes
                    .iter()
                    .map(|&n| self.test.nodes[n].name.clone())
                    .collect(),
                held: self.rec.read(held),
                within,
            })),
        }
    }

    /// What a script of node `i` needs.
    fn context(&self, i: usize, restarted: bool) -> script::Context {
        script::Context {
            me: i,
            names: self.test.nodes.iter().map(|n| n.name.clone()).collect(),
            faces: self.faces.clone(),
            sockets: Arc::clone(&self.sockets),
            vars: self.vars[i].clone(),
            rec: self.rec.clone(),
            restarted,
        }
    }

    /// Starts node `i`, or starts it again (`restarted`).
    fn launch(&mut self, i: usize, restarted: bool) -> Result<(), Stop> {
        let (bin, args, listens) = match &self.test.plan.nodes[i] {
            Node::Script(steps) => {
                let cx = self.context(i, restarted);
                let steps = steps.clone();
                self.rec.event(Some(i), What::ScriptStarted);
                self.scripts.push(std::thread::spawn(move || {
                    let error = script::run(&steps, &cx).err();
                    cx.rec.event(Some(cx.me), What::ScriptEnded { error });
                }));
                return Ok(());
            }
            Node::Program { bin, args, listens } => (bin, args, *listens),
        };
        let cannot = |program: String, error: String| {
            Err(Stop::Failed(Problem::CannotStart { program, error }))
        };
        let Some(program) = self.programs.get(bin) else {
            return cannot(bin.clone(), "the lab has no such executable".into());
        };
        let args = match (args.iter())
            .map(|a| pattern::fill(a, &self.vars[i]))
            .collect::<Result<Vec<String>, _>>()
        {
            Ok(args) => args,
            Err(missing) => {
                let what = missing.map_or("`{#}`".to_string(), |name| format!("`{{{name}}}`"));
                return cannot(
                    program.display().to_string(),
                    format!("{what} in its arguments has no value"),
                );
            }
        };
        let launch = Launch {
            node: i,
            program,
            args: &args,
            limits: &self.limits,
        };
        let spawned = Instant::now();
        match Proc::spawn(&launch, &self.rec) {
            Ok(p) => self.procs[i] = Some(p),
            Err(error) => return cannot(program.display().to_string(), error),
        }
        match self.homes[i] {
            Some(port) if listens => self.bound(i, port, spawned),
            _ => Ok(()),
        }
    }

    /// Waits until node `i`, started at `spawned`, has bound `port`, within
    /// its start-up limit.
    fn bound(&self, i: usize, port: u16, spawned: Instant) -> Result<(), Stop> {
        loop {
            if ports::is_bound(port) {
                self.rec.event(Some(i), What::Bound { port });
                return Ok(());
            }
            if self.proc(i)?.exited() {
                return Err(Stop::Failed(Problem::ExitedBeforeBinding { port }));
            }
            // The start-up's own limit, on the wall clock: the test's
            // clock stands still meanwhile.
            let startup = self.limits.startup.0;
            if spawned.elapsed() >= startup {
                let instead = ports::bound_by(self.proc(i)?.pid().as_raw());
                return Err(Stop::Failed(Problem::NeverBound {
                    port,
                    instead,
                    startup,
                }));
            }
            // No event tells when a program binds: look again shortly, or
            // as soon as it exits.
            let poll = (Instant::now() + BIND_POLL).min(spawned + startup);
            self.rec.wait_until(poll, |l| !l.alive[i] || doomed(l));
            if self.rec.read(doomed) {
                return Err(Stop::Decided);
            }
        }
    }

    fn idle(&mut self, i: usize, window: Duration) -> Result<(), Stop> {
        let tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        self.settle(i)?;
        let before = (self.proc(i)?.cpu_ticks(), self.proc(i)?.sched());
        let t0 = Instant::now();
        // A window the time limit cut short measures too little to judge.
        if self.wait(Some(window), |l| !l.alive[i])? == Wake::TimeUp {
            return Err(Stop::Failed(Problem::TimeUp));
        }
        let after = (self.proc(i)?.cpu_ticks(), self.proc(i)?.sched());
        let took = t0.elapsed();
        match (before.0, after.0) {
            (Some(b), Some(a)) if !self.proc(i)?.exited() => {
                let share = |d: Duration| d.as_secs_f64() / took.as_secs_f64() * 100.0;
                let percent = a.saturating_sub(b) as f64 / tck / took.as_secs_f64() * 100.0;
                // The scheduler's counts, when the kernel keeps them: CPU
                // asked for (running or waiting to run) and wake-ups, which
                // other work on the machine does not change.
                let sched = before.1.zip(after.1).map(|(b, a)| a.since(b));
                self.rec.event(
                    Some(i),
                    What::CpuMeasured {
                        window: took,
                        percent,
                        busy: sched.map(|s| share(s.running + s.waiting)),
                        wakeups: sched.map(|s| s.slices),
                    },
                );
                // A busy program is a finding, not a reason to stop: the
                // test goes on and stops it normally.
                Ok(())
            }
            _ => Err(Stop::Failed(Problem::ExitedWhileIdle)),
        }
    }

    /// Before an `idle` window: waits until node `i` has gone
    /// [`SETTLE_QUIET`] without being put on a CPU, at most
    /// [`SETTLE_MOST`], so that what a program does once at its start
    /// (after it bound its port: a line printed, a buffer allocated) is
    /// not counted as idling. A program that spins or wakes up all the time
    /// never goes quiet, and is measured after the bound all the same.
    fn settle(&self, i: usize) -> Result<(), Stop> {
        let started = Instant::now();
        while started.elapsed() < SETTLE_MOST {
            let Some(before) = self.proc(i)?.sched() else {
                return Ok(());
            };
            if self.wait(Some(SETTLE_QUIET), |l| !l.alive[i])? == Wake::TimeUp {
                return Err(Stop::Failed(Problem::TimeUp));
            }
            match self.proc(i)?.sched() {
                Some(after) if after.since(before).slices == 0 => return Ok(()),
                Some(_) => {}
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// The `load` step: node `i` and the grader's own minimal server
    /// ([`load::Baseline`]), driven in turns with the same closed-loop
    /// load for `window` each, straight to their ports. The node's
    /// requests and replies do not go through the proxy, and are not in
    /// the record: only the figures are.
    fn load(
        &mut self,
        i: usize,
        workload: crate::spec::WorkloadName,
        clients: usize,
        window: Duration,
    ) -> Result<(), Stop> {
        use crate::spec::WorkloadName;
        let Some(port) = self.homes[i] else {
            return Err(Stop::Failed(Problem::LoadFailed {
                error: "the node has no port of its own".into(),
            }));
        };
        let (work, respond): (&dyn load::Workload, load::Respond) = match workload {
            WorkloadName::Echo => (&load::Echo, load::echo_reply),
            WorkloadName::Store => (&load::Store, load::store_reply),
        };
        let target = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        let setup = |e: std::io::Error| {
            Stop::Failed(Problem::LoadFailed {
                error: e.to_string(),
            })
        };
        let baseline = load::Baseline::start(respond).map_err(setup)?;
        let plan = load::Load {
            clients,
            duration: window,
            timeout: LOAD_TIMEOUT,
        };
        let figures = load::drive_alternating(&[target, baseline.addr()], &plan, LOAD_SLICES, work)
            .map_err(setup)?;
        drop(baseline);
        if !self.proc(i)?.exited() {
            self.rec.event(
                Some(i),
                What::LoadMeasured {
                    clients,
                    node: (&figures[0]).into(),
                    baseline: (&figures[1]).into(),
                },
            );
            Ok(())
        } else {
            Err(Stop::Failed(Problem::ExitedUnderLoad))
        }
    }

    /// Ends the test: stops the scripts, kills what still runs, stops the
    /// proxy, and returns the record.
    fn finish(mut self) -> Record {
        self.rec.update(|l| l.ending = true);
        for (i, p) in self.procs.iter_mut().enumerate() {
            if let Some(p) = p
                && !p.exited()
            {
                self.rec.event(Some(i), What::KilledAtEnd);
                p.kill();
            }
        }
        for p in self.procs.iter_mut().flatten() {
            p.kill();
        }
        for s in self.scripts.drain(..) {
            let _ = s.join();
        }
        self.net.stop();
        self.rec.finish()
    }
}
