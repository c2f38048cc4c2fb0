//! The servers `grader bench` drives: a lab's reference programs started
//! as one of its tests starts them, and baselines, each through the
//! [sandbox], each killed when dropped.
//!
//! A test's `{peer:X}` is, in grading, the port of the grader's proxy
//! through which a node reaches X; here it is X's own port: nothing
//! stands between the programs, or between them and the load generator.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::{Answers, BIND_POLL, BuiltLab, SEED, show};
use crate::run::ports::{self, PortLease};
use crate::run::seed;
use crate::spec::Limits;
use crate::spec::pattern;
use crate::spec::plan::{Action, Node};

/// The servers of one lab, started as one of its tests starts them, with
/// the node its `idle` step names as the one to drive.
pub(super) struct Cluster {
    /// In the order started; killed when dropped, before the leases end.
    pub(super) servers: Vec<Server>,
    target: usize,
    _leases: Vec<PortLease>,
}

impl Cluster {
    /// The programs `test` of `lab` starts before its `idle` step.
    ///
    /// # Errors
    /// No such test, a test without an `idle` step, a scripted node or a
    /// program missing, or a server that does not start.
    pub(super) fn start(lab: &BuiltLab, test: &str) -> anyhow::Result<Cluster> {
        let id = &lab.lab.id;
        let Some(t) = lab.spec.tests.iter().find(|t| t.name == test) else {
            bail!(
                "lab {id} has no test `{test}`: grader bench starts a lab's servers as that test does"
            );
        };
        let plan = &t.plan;
        let Some(idle) = plan
            .steps
            .iter()
            .position(|s| matches!(s, Action::Idle { .. }))
        else {
            bail!(
                "test `{test}` of lab {id} has no `idle` step: grader bench drives that step's node"
            );
        };
        let target = plan.steps[idle].node();
        let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
        let mut leases = Vec::new();
        let mut homes = vec![None; names.len()];
        for (i, node) in plan.nodes.iter().enumerate() {
            if matches!(node, Node::Program { listens: true, .. }) {
                let lease = ports::lease().context("leasing a port for a server")?;
                homes[i] = Some(lease.port);
                leases.push(lease);
            }
        }
        let mut vars = BTreeMap::new();
        for (k, v) in &t.vars {
            vars.insert(k.clone(), v.0.clone());
        }
        for (i, name) in names.iter().enumerate() {
            vars.insert(
                format!("seed:{name}"),
                seed::node_seed(SEED, name).to_string(),
            );
            if let Some(port) = homes[i] {
                vars.insert(format!("peer:{name}"), port.to_string());
            }
        }
        let mut servers = Vec::new();
        let mut target_index = None;
        for step in &plan.steps[..idle] {
            let Action::Start(i) = *step else { continue };
            let Node::Program { bin, args, .. } = &plan.nodes[i] else {
                bail!(
                    "test `{test}` of lab {id} starts {}, a peer the grader plays: grader bench starts only programs",
                    names[i]
                );
            };
            let mut own = vars.clone();
            own.insert("seed".into(), seed::node_seed(SEED, names[i]).to_string());
            if let Some(port) = homes[i] {
                own.insert("port".into(), port.to_string());
            }
            let args = (args.iter())
                .map(|a| pattern::fill(a, &own))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|missing| {
                    anyhow::anyhow!(
                        "test `{test}` of lab {id}: an argument of {} needs `{{{}}}`, which grader bench cannot give",
                        names[i],
                        missing.unwrap_or_else(|| "#".into())
                    )
                })?;
            if Some(i) == target {
                target_index = Some(servers.len());
            }
            servers.push(Server::start(lab, names[i], bin, &args, homes[i])?);
        }
        let Some(target) = target_index else {
            bail!("test `{test}` of lab {id} does not start the node of its `idle` step before it");
        };
        Ok(Cluster {
            servers,
            target,
            _leases: leases,
        })
    }

    /// `bin` of `lab` started alone, as the first node of the lab's tests
    /// that runs it and listens, with arguments that name no other node,
    /// starts it; `None` when no test runs it so (a client).
    ///
    /// # Errors
    /// A server that does not start.
    pub(super) fn alone(lab: &BuiltLab, bin: &str) -> anyhow::Result<Option<Cluster>> {
        for t in &lab.spec.tests {
            for (i, node) in t.plan.nodes.iter().enumerate() {
                let Node::Program {
                    bin: b,
                    args,
                    listens: true,
                } = node
                else {
                    continue;
                };
                if b != bin {
                    continue;
                }
                let lease = ports::lease().context("leasing a port for a server")?;
                let name = &t.nodes[i].name;
                let mut vars: BTreeMap<String, String> = (t.vars.iter())
                    .map(|(k, v)| (k.clone(), v.0.clone()))
                    .collect();
                vars.insert("port".into(), lease.port.to_string());
                vars.insert("seed".into(), seed::node_seed(SEED, name).to_string());
                let Ok(args) = (args.iter())
                    .map(|a| pattern::fill(a, &vars))
                    .collect::<Result<Vec<_>, _>>()
                else {
                    continue;
                };
                let server = Server::start(lab, name, bin, &args, Some(lease.port))?;
                return Ok(Some(Cluster {
                    servers: vec![server],
                    target: 0,
                    _leases: vec![lease],
                }));
            }
        }
        Ok(None)
    }

    pub(super) fn target(&self) -> &Server {
        &self.servers[self.target]
    }

    /// An error naming the first server that has exited.
    pub(super) fn still_running(&self) -> anyhow::Result<()> {
        self.servers.iter().try_for_each(Server::still_running)
    }
}

/// A server started through the sandbox, killed when dropped.
pub(super) struct Server {
    /// Its node's name in the test (`server`, `backup0`), or the baseline's.
    pub(super) name: String,
    /// The lab's executable it runs (`server`, `cache`).
    pub(super) bin: String,
    port: u16,
    program: sandbox::Program,
    log: Arc<Log>,
}

impl Server {
    /// Starts `bin` of `lab` with `args`, and waits until it has bound
    /// `port` (within the lab's start-up limit).
    fn start(
        lab: &BuiltLab,
        name: &str,
        bin: &str,
        args: &[String],
        port: Option<u16>,
    ) -> anyhow::Result<Server> {
        let Some(program) = lab.programs.get(bin) else {
            bail!("lab {} has no executable `{bin}`", lab.lab.id);
        };
        let Some(port) = port else {
            bail!(
                "{} {name} binds no port of its own: grader bench drives only servers",
                lab.lab.id
            );
        };
        let label = format!("{} {name}", lab.lab.id);
        Server::spawn(&label, name, bin, program, args, port, &lab.spec.limits)
    }

    /// A baseline answering like `answers`, in a process of its own.
    pub(super) fn baseline(answers: Answers, limits: &Limits) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("finding the grader's own executable")?;
        let lease = ports::lease().context("leasing a port for the baseline")?;
        let args: Vec<String> = [
            "bench-baseline",
            "--port",
            &lease.port.to_string(),
            "--answers",
            answers.name(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let name = format!("baseline ({})", answers.name());
        let server = Server::spawn(&name, &name, "grader", &exe, &args, lease.port, limits)?;
        // The port is bound: the lease has done its work.
        drop(lease);
        Ok(server)
    }

    fn spawn(
        label: &str,
        name: &str,
        bin: &str,
        program: &Path,
        args: &[String],
        port: u16,
        limits: &Limits,
    ) -> anyhow::Result<Server> {
        let log = Arc::new(Log::default());
        let spawned = sandbox::Program::spawn(
            &sandbox::Launch {
                program,
                args,
                env: &[("RUST_BACKTRACE", "0")],
                limits: &bench_limits(limits),
                user: None,
                dir: None,
            },
            Arc::clone(&log) as Arc<dyn sandbox::Observer>,
        )
        .map_err(|e| anyhow::anyhow!("cannot start {label} ({}): {e}", program.display()))?;
        let server = Server {
            name: name.to_string(),
            bin: bin.to_string(),
            port,
            program: spawned,
            log,
        };
        let deadline = Instant::now() + limits.startup.0;
        while !ports::is_bound(port) {
            server.still_running()?;
            if Instant::now() >= deadline {
                bail!(
                    "{label} did not bind UDP port {port} within its start-up limit ({}){}",
                    show(limits.startup.0),
                    server.log.said()
                );
            }
            std::thread::sleep(BIND_POLL);
        }
        Ok(server)
    }

    pub(super) fn addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port)
    }

    pub(super) fn pid(&self) -> i32 {
        self.program.pid().as_raw()
    }

    /// An error when it has exited, with what it printed last on stderr.
    pub(super) fn still_running(&self) -> anyhow::Result<()> {
        match self.log.status() {
            None => Ok(()),
            Some(status) => bail!(
                "{} (`{} {}`) exited ({status:?}){}",
                self.name,
                self.bin,
                self.port,
                self.log.said()
            ),
        }
    }
}

/// The sandbox's limits for a server under load: the lab's, but for CPU
/// time (a test's ten seconds would end a server driven for minutes) and
/// output (hw2's server prints a line per request; the lines are read
/// and dropped, as they come).
fn bench_limits(l: &Limits) -> sandbox::Limits {
    sandbox::Limits {
        cpu: Duration::from_secs(3600),
        memory: l.memory.0,
        address_space: l.address_space.0,
        processes: l.processes,
        open_files: l.open_files,
        output: u64::MAX,
    }
}

/// Lines of stderr kept of a server, for the message when it fails.
const STDERR_KEPT: usize = 5;

/// What the sandbox tells of a server: how it ended, and its last lines
/// on stderr. Its stdout is dropped as it is read.
#[derive(Default)]
struct Log {
    seen: Mutex<Seen>,
    changed: Condvar,
}

#[derive(Default)]
struct Seen {
    stderr: VecDeque<String>,
    status: Option<sandbox::Status>,
    closed: usize,
}

impl Log {
    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn status(&self) -> Option<sandbox::Status> {
        self.lock().status
    }

    /// `: it said: ...` with its last lines on stderr, or nothing.
    fn said(&self) -> String {
        let seen = self.lock();
        if seen.stderr.is_empty() {
            return String::new();
        }
        let lines: Vec<&str> = seen.stderr.iter().map(String::as_str).collect();
        format!("; its last lines on stderr:\n  {}", lines.join("\n  "))
    }
}

impl sandbox::Observer for Log {
    fn started(&self, _: Instant, _: nix::unistd::Pid) {}

    fn line(&self, stream: sandbox::Stream, text: String) {
        if stream == sandbox::Stream::Stderr {
            let mut seen = self.lock();
            if seen.stderr.len() == STDERR_KEPT {
                seen.stderr.pop_front();
            }
            seen.stderr.push_back(text);
        }
    }

    fn closed(&self, _: sandbox::Stream) {
        self.lock().closed += 1;
        self.changed.notify_all();
    }

    fn flooded(&self, _: sandbox::Stream, _: usize) {}

    fn exceeded(&self, _: sandbox::Limit) {}

    fn exited(&self, exit: sandbox::Exit) {
        self.lock().status = Some(exit.status);
        self.changed.notify_all();
    }

    /// Until both streams close; a second bounds a process out of the
    /// sandbox's reach that holds one open.
    fn wait_closed(&self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut seen = self.lock();
        while seen.closed < 2 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            seen = (self.changed.wait_timeout(seen, left))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
