//! Running one test: lease ports, start the proxy, carry out the steps,
//! stop everything, then judge.
//!
//! The judging order matters to the person reading the report. An unfilled
//! hole (`todo!()`) explains everything else that went wrong, so when one is
//! found it is the only failure reported. After that come crashes and
//! floods, then steps that could not be carried out (a program that never
//! exited), then each node's `expect` (in the order of `nodes`), then the
//! `wire` checks in the order the spec lists them.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

pub mod ports;
pub mod procs;
pub mod proxy;
pub mod script;

use crate::check::transcript::{self, Item, Vars};
use crate::check::wire;
use crate::spec::{ExitExpect, LabSpec, NodeExpect, Step, Stream, TestSpec};
use ports::PortLease;
use procs::Proc;
use proxy::{Datagram, Network};
use script::Peers;

/// The most a program may print on one stream in one test.
pub const OUTPUT_LIMIT: usize = 1 << 20;

/// How long `stop` waits for a program to exit after SIGINT.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Where each of the lab's executables is.
pub type Programs = BTreeMap<String, PathBuf>;

/// One thing wrong with a test run.
#[derive(Debug, Clone)]
pub struct Failure {
    /// One line: what went wrong.
    pub headline: String,
    /// Further lines: expected/actual, output tails.
    pub details: Vec<String>,
}

impl Failure {
    fn new(headline: impl Into<String>) -> Failure {
        Failure {
            headline: headline.into(),
            details: Vec::new(),
        }
    }
    fn with(mut self, details: Vec<String>) -> Failure {
        self.details = details;
        self
    }
}

/// The result of one test.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The test's name.
    pub name: String,
    /// The seed it ran with.
    pub seed: u64,
    /// How long it took.
    pub elapsed: Duration,
    /// What went wrong; empty when it passed.
    pub failures: Vec<Failure>,
    /// Holes (`todo!()` texts) the programs ran into.
    pub holes: Vec<String>,
    /// The recorded datagrams, rendered.
    pub wire: Vec<String>,
    /// The command line of every program started, to rerun one by hand.
    pub commands: Vec<String>,
}

impl Outcome {
    /// Whether the test passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

enum Node {
    Waiting,
    Proc(Proc),
    Script(Receiver<Result<(), String>>, Option<Result<(), String>>),
}

struct Run<'a> {
    test: &'a TestSpec,
    programs: &'a Programs,
    seed: u64,
    deadline: Instant,
    names: Vec<String>,
    homes: Vec<Option<u16>>,
    net: Network,
    nodes: Vec<Node>,
    sockets: Vec<Option<UdpSocket>>,
    abort: Arc<AtomicBool>,
    vars: Vars,
    failures: Vec<Failure>,
    commands: Vec<String>,
}

/// Runs `test` of `lab` with the lab's `programs` and `seed`.
///
/// # Errors
/// Only when the grader itself cannot set the test up (no free port, no
/// socket for the proxy): the program under test is never the cause.
pub fn run_test(
    lab: &LabSpec,
    test: &TestSpec,
    programs: &Programs,
    seed: u64,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let timeout = test.timeout.unwrap_or(lab.timeout).0;
    let names: Vec<String> = test.nodes.iter().map(|n| n.name.clone()).collect();
    let mut leases: Vec<PortLease> = Vec::new();
    let mut sockets = Vec::new();
    let mut homes = Vec::new();
    for n in &test.nodes {
        if n.script.is_some() {
            let s = UdpSocket::bind("127.0.0.1:0")?;
            homes.push(Some(s.local_addr()?.port()));
            sockets.push(Some(s));
        } else if n.listens() {
            let l = ports::lease()?;
            homes.push(Some(l.port));
            leases.push(l);
            sockets.push(None);
        } else {
            homes.push(None);
            sockets.push(None);
        }
    }
    let net = Network::start(
        &homes,
        |a, b| test.network.faults_for(&names[a], &names[b]),
        seed,
    )?;
    let vars = Vars::new();
    let mut run = Run {
        test,
        programs,
        seed,
        deadline: started + timeout,
        nodes: test.nodes.iter().map(|_| Node::Waiting).collect(),
        names,
        homes,
        net,
        sockets,
        abort: Arc::new(AtomicBool::new(false)),
        vars,
        failures: Vec::new(),
        commands: Vec::new(),
    };
    for step in &test.steps {
        if let Err(f) = run.step(step) {
            run.failures.push(f);
            break;
        }
    }
    let outcome = run.finish(started);
    drop(leases);
    Ok(outcome)
}

impl Run<'_> {
    fn idx(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .expect("validated node name")
    }

    fn proc(&mut self, name: &str) -> Result<&mut Proc, Failure> {
        let i = self.idx(name);
        match &mut self.nodes[i] {
            Node::Proc(p) => Ok(p),
            _ => Err(Failure::new(format!(
                "the spec acts on `{name}` before starting it"
            ))),
        }
    }

    fn args(&self, i: usize) -> Vec<String> {
        let seed = node_seed(self.seed, &self.names[i]);
        self.test.nodes[i]
            .args
            .iter()
            .map(|a| {
                let mut a = a.replace("{seed}", &seed.to_string());
                if let Some(p) = self.homes[i] {
                    a = a.replace("{port}", &p.to_string());
                }
                for (j, peer) in self.names.iter().enumerate() {
                    a = a.replace(
                        &format!("{{peer:{peer}}}"),
                        &self.net.face_port(i, j).to_string(),
                    );
                }
                a
            })
            .collect()
    }

    fn step(&mut self, step: &Step) -> Result<(), Failure> {
        match step {
            Step::Start(name) => self.start(name),
            Step::WaitExit(name) => {
                let i = self.idx(name);
                let deadline = self.deadline;
                match &mut self.nodes[i] {
                    Node::Proc(p) => match p.wait_until(deadline) {
                        Some(_) => Ok(()),
                        None => Err(self.hung(name, "did not exit within the test's time limit")),
                    },
                    Node::Script(rx, res) => {
                        if res.is_none() {
                            *res = rx
                                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                                .ok();
                        }
                        match res {
                            Some(_) => Ok(()),
                            None => Err(Failure::new(format!(
                                "the grader's {name} did not finish within the test's time limit"
                            ))),
                        }
                    }
                    Node::Waiting => Err(Failure::new(format!(
                        "the spec waits for `{name}` before starting it"
                    ))),
                }
            }
            Step::Stop(name) => {
                let deadline = (Instant::now() + STOP_GRACE).min(self.deadline);
                let p = self.proc(name)?;
                if p.exit().is_some() {
                    let e = p.exit().cloned();
                    return Err(self.exited_early(name, e));
                }
                p.signal(Signal::SIGINT);
                if p.wait_until(deadline).is_none() {
                    return Err(self.hung(name, "did not exit after SIGINT (Ctrl+C)"));
                }
                Ok(())
            }
            Step::Signal { node, signal } => {
                self.proc(node)?.signal(signal.0);
                Ok(())
            }
            Step::Pause(n) => {
                self.proc(n)?.signal(Signal::SIGSTOP);
                Ok(())
            }
            Step::Resume(n) => {
                self.proc(n)?.signal(Signal::SIGCONT);
                Ok(())
            }
            Step::Kill(n) => {
                self.proc(n)?.kill();
                Ok(())
            }
            Step::Sleep(d) => {
                std::thread::sleep(
                    d.0.min(self.deadline.saturating_duration_since(Instant::now())),
                );
                Ok(())
            }
            Step::WaitOutput { node, line, stream } => {
                let (deadline, vars) = (self.deadline, self.vars.clone());
                let pattern = [Item::Line(line.clone())];
                let p = self.proc(node)?;
                let seen = p.wait_for_output(*stream, deadline, |lines| {
                    let l: Vec<&str> = lines.iter().map(String::as_str).collect();
                    transcript::match_includes(&pattern, &l, &vars).is_ok()
                });
                if seen {
                    Ok(())
                } else {
                    Err(self.hung(
                        node,
                        &format!("never printed a line matching `{line}` on {stream}"),
                    ))
                }
            }
            Step::Idle {
                node,
                window,
                max_cpu,
            } => self.idle(node, window.0, *max_cpu),
            Step::Partition(pair) => {
                let (a, b) = (self.idx(&pair[0]), self.idx(&pair[1]));
                self.net.partition(a, b);
                Ok(())
            }
            Step::Heal => {
                self.net.heal();
                Ok(())
            }
        }
    }

    fn start(&mut self, name: &str) -> Result<(), Failure> {
        let i = self.idx(name);
        let spec = &self.test.nodes[i];
        if let Some(steps) = &spec.script {
            let socket = self.sockets[i].take().expect("a scripted node starts once");
            let peers = Peers {
                names: self.names.clone(),
                faces: (0..self.names.len())
                    .map(|j| self.net.face_port(i, j))
                    .collect(),
            };
            let (tx, rx) = mpsc::channel();
            let (steps, deadline, abort) = (steps.clone(), self.deadline, Arc::clone(&self.abort));
            std::thread::spawn(move || {
                let _ = tx.send(script::run(&steps, &socket, &peers, deadline, &abort));
            });
            self.nodes[i] = Node::Script(rx, None);
            return Ok(());
        }
        let bin = spec.run.as_deref().expect("validated: run or script");
        let program = self
            .programs
            .get(bin)
            .ok_or_else(|| Failure::new(format!("the lab has no program `{bin}`")))?;
        let args = self.args(i);
        self.commands
            .push(format!("{name}: {} {}", program.display(), args.join(" ")));
        let p = Proc::spawn(name, program, &args, OUTPUT_LIMIT).map_err(|e| {
            Failure::new(format!("cannot start {name} ({}): {e}", program.display()))
        })?;
        self.nodes[i] = Node::Proc(p);
        if spec.listens() {
            let port = self.homes[i].expect("a listening node has a port");
            // No event tells when a program binds; /proc/net/udp is read every few ms.
            loop {
                if ports::is_bound(port) {
                    return Ok(());
                }
                let deadline = self.deadline;
                let p = self.proc(name)?;
                if let Some(e) = p.exit().cloned() {
                    let mut f = self.exited_early(name, Some(e));
                    f.headline
                        .push_str(&format!(" before binding UDP port {port}"));
                    return Err(f);
                }
                if Instant::now() >= deadline {
                    return Err(self.hung(name, &format!("did not bind UDP port {port} (its first argument) within the test's time limit")));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    }

    fn idle(&mut self, node: &str, window: Duration, max_cpu: f64) -> Result<(), Failure> {
        let tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        let p = self.proc(node)?;
        let before = p.cpu_ticks();
        let t0 = Instant::now();
        std::thread::sleep(window);
        let p = self.proc(node)?;
        let (after, took) = (p.cpu_ticks(), t0.elapsed());
        match (before, after) {
            (Some(b), Some(a)) => {
                let pct = (a.saturating_sub(b)) as f64 / tck / took.as_secs_f64() * 100.0;
                if pct > max_cpu {
                    return Err(Failure::new(format!(
                        "{node} used {pct:.0}% of a CPU while idle for {} ms (at most {max_cpu:.0}% allowed): it is busy-polling",
                        window.as_millis()
                    ))
                    .with(vec![
                        "a server with nothing to do must block: wait in poll(2) or a blocking recvfrom(2),".into(),
                        "not in a loop around a non-blocking socket".into(),
                    ]));
                }
                Ok(())
            }
            _ => {
                let e = self.proc(node)?.exit().cloned();
                Err(self.exited_early(node, e))
            }
        }
    }

    fn stderr_tail(&mut self, name: &str) -> Vec<String> {
        let Ok(p) = self.proc(name) else {
            return Vec::new();
        };
        tail(&p.lines(Stream::Stderr), &format!("{name} stderr"))
    }

    fn hung(&mut self, name: &str, what: &str) -> Failure {
        let mut details = self.stderr_tail(name);
        if let Ok(p) = self.proc(name) {
            details.extend(tail(&p.lines(Stream::Stdout), &format!("{name} stdout")));
        }
        Failure::new(format!("{name} {what}")).with(details)
    }

    fn exited_early(&mut self, name: &str, e: Option<procs::Exit>) -> Failure {
        let how = e.map_or("exited".to_string(), |e| {
            format!("exited with {}", procs::describe(&e.status))
        });
        let details = self.stderr_tail(name);
        Failure::new(format!("{name} {how}")).with(details)
    }

    /// Stops everything still running, then judges.
    fn finish(mut self, started: Instant) -> Outcome {
        self.abort.store(true, Ordering::SeqCst);
        let mut still_running = vec![false; self.nodes.len()];
        for (i, n) in self.nodes.iter_mut().enumerate() {
            match n {
                Node::Proc(p) => still_running[i] = p.kill(),
                Node::Script(rx, res) => {
                    if res.is_none() {
                        // Wake a script blocked in recvfrom(2); it sees the abort flag.
                        if let Ok(s) = UdpSocket::bind("127.0.0.1:0")
                            && let Some(port) = self.homes[i]
                        {
                            let _ = s.send_to(b"", ("127.0.0.1", port));
                        }
                        *res = rx.recv().ok();
                    }
                }
                Node::Waiting => {}
            }
        }
        let log = self.net.stop();
        let mut failures = Vec::new();
        let mut holes = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Node::Proc(p) = n {
                for h in holes_in(&p.lines(Stream::Stderr)) {
                    failures.push(Failure::new(format!("{} stopped at a hole that is not filled in yet: todo!(\"{h}\")", self.names[i])).with(vec![format!(
                        "write the code marked `// TODO:` above `todo!(\"{h}\")` in your lab crate"
                    )]));
                    holes.push(h);
                }
            }
        }
        if failures.is_empty() {
            failures = self.judge(&log, &still_running);
        }
        Outcome {
            name: self.test.name.clone(),
            seed: self.seed,
            elapsed: started.elapsed(),
            failures,
            holes,
            wire: wire::render(&log, &self.names),
            commands: std::mem::take(&mut self.commands),
        }
    }

    fn judge(&mut self, log: &[Datagram], still_running: &[bool]) -> Vec<Failure> {
        let mut out = Vec::new();
        for (i, n) in self.nodes.iter_mut().enumerate() {
            let name = &self.names[i];
            match n {
                Node::Proc(p) => {
                    let err = p.lines(Stream::Stderr);
                    if let Some(panic) = panic_in(&err) {
                        out.push(
                            Failure::new(format!("{name} crashed: {panic}"))
                                .with(tail(&err, &format!("{name} stderr"))),
                        );
                    }
                    if let Some(s) = p.flooded() {
                        out.push(Failure::new(format!(
                            "{name} printed more than {} MiB on {s}; the grader stopped it",
                            OUTPUT_LIMIT >> 20
                        )));
                    }
                    if let Some(e) = p.exit()
                        && e.leftovers > 0
                    {
                        out.push(Failure::new(format!(
                            "{name} exited but left {} process(es) of its own running; the grader killed them",
                            e.leftovers
                        )));
                    }
                }
                Node::Script(_, Some(Err(e))) => {
                    out.push(Failure::new(format!("the grader's {name}: {e}")))
                }
                _ => {}
            }
        }
        out.append(&mut self.failures);
        for (name, expect) in &self.test.expect {
            let i = self
                .names
                .iter()
                .position(|n| n == name)
                .expect("validated node name");
            match &mut self.nodes[i] {
                Node::Proc(p) => {
                    out.extend(expectations(name, p, expect, still_running[i], &self.vars))
                }
                Node::Waiting => out.push(Failure::new(format!(
                    "{name} was never started, so its checks cannot pass"
                ))),
                Node::Script(..) => {}
            }
        }
        for c in &self.test.wire {
            for msg in wire::check(c, log, &self.names) {
                out.push(Failure::new(msg));
            }
        }
        out
    }
}

fn expectations(
    name: &str,
    p: &mut Proc,
    e: &NodeExpect,
    still_running: bool,
    vars: &Vars,
) -> Vec<Failure> {
    let mut out = Vec::new();
    if let Some(want) = e.exit {
        match (still_running, p.exit()) {
            (true, _) | (false, None) => out.push(Failure::new(format!(
                "{name} was still running at the end of the test; expected {want}"
            ))),
            (false, Some(x)) => {
                let code = x.status.code();
                let ok = match want {
                    ExitExpect::Code(c) => code == Some(c),
                    ExitExpect::Nonzero => code.is_some_and(|c| c != 0),
                };
                if !ok {
                    out.push(
                        Failure::new(format!(
                            "{name} ended with {}; expected {want}",
                            procs::describe(&x.status)
                        ))
                        .with(tail(&p.lines(Stream::Stderr), &format!("{name} stderr"))),
                    );
                }
            }
        }
    }
    let checks: [(&Option<Vec<Item>>, Stream, bool); 3] = [
        (&e.stdout, Stream::Stdout, true),
        (&e.stdout_includes, Stream::Stdout, false),
        (&e.stderr_includes, Stream::Stderr, false),
    ];
    for (items, stream, exact) in checks {
        let Some(items) = items else { continue };
        let lines = p.lines(stream);
        let l: Vec<&str> = lines.iter().map(String::as_str).collect();
        let r = if exact {
            transcript::match_exact(items, &l, vars)
        } else {
            transcript::match_includes(items, &l, vars)
        };
        if let Err(m) = r {
            let what = if exact {
                ""
            } else {
                " (lines that must appear)"
            };
            let mut details = vec![
                format!("expected: {}", m.expected),
                format!("actual:   {}", m.actual),
            ];
            if let Some(n) = &m.note {
                details.extend(n.lines().map(str::to_string));
            }
            out.push(
                Failure::new(format!("{name} {stream}{what} differs at line {}", m.line))
                    .with(details),
            );
        }
    }
    out
}

/// A seed derived from `parent` and a name (FNV-1a of the name, mixed in
/// through the handout's generator): the same pair always gives the same
/// seed, different names give unrelated ones.
pub fn derive_seed(parent: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    handout::Rng::new(parent ^ h).next_u64()
}

/// The seed `{seed}` stands for in a node's arguments: the test's seed
/// mixed with the node's name, so two clients of one test draw different
/// keys, and the same test seed always gives each node the same seed.
/// It is kept below 2^63 so that programs in any language can read it as a
/// signed 64-bit integer.
pub fn node_seed(test_seed: u64, node: &str) -> u64 {
    derive_seed(test_seed, node) >> 1
}

/// The texts of `todo!()` panics in a program's stderr.
pub fn holes_in(stderr: &[String]) -> Vec<String> {
    stderr
        .iter()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("not yet implemented")?;
            Some(rest.trim_start_matches(':').trim().to_string())
        })
        .map(|h| {
            if h.is_empty() {
                "(a todo!() without text)".into()
            } else {
                h
            }
        })
        .collect()
}

/// The message of a Rust panic in a program's stderr, if any.
fn panic_in(stderr: &[String]) -> Option<String> {
    let i = stderr.iter().position(|l| l.contains("panicked at"))?;
    let msg = stderr
        .get(i + 1)
        .filter(|m| !m.starts_with("note:"))
        .cloned()
        .unwrap_or_default();
    let at = stderr[i]
        .split("panicked at")
        .nth(1)
        .unwrap_or("")
        .trim()
        .trim_end_matches(':');
    Some(if msg.is_empty() {
        format!("a panic at {at}")
    } else {
        format!("{msg} (at {at})")
    })
}

/// The last few lines of some output, labelled, for a report.
fn tail(lines: &[String], label: &str) -> Vec<String> {
    const N: usize = 6;
    if lines.is_empty() {
        return Vec::new();
    }
    let skip = lines.len().saturating_sub(N);
    let mut out = vec![if skip > 0 {
        format!("{label} (last {N} of {} lines):", lines.len())
    } else {
        format!("{label}:")
    }];
    out.extend(lines[skip..].iter().map(|l| format!("  | {l}")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_are_found_in_panic_messages() {
        let err = vec![
            "thread 'main' panicked at src/socket.rs:12:5:".to_string(),
            "not yet implemented: bind the server socket".to_string(),
        ];
        assert_eq!(holes_in(&err), ["bind the server socket"]);
        assert_eq!(
            holes_in(&["not yet implemented".to_string()]),
            ["(a todo!() without text)"]
        );
        assert!(holes_in(&["all fine".to_string()]).is_empty());
    }

    #[test]
    fn a_panic_is_summarised() {
        let err = vec![
            "thread 'main' panicked at src/main.rs:3:5:".to_string(),
            "index out of bounds".to_string(),
        ];
        assert_eq!(
            panic_in(&err).unwrap(),
            "index out of bounds (at src/main.rs:3:5)"
        );
    }
}
