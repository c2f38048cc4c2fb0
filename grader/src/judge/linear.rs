//! Linearizability of a store of registers: can one copy of the data
//! explain what the clients saw?
//!
//! A history lists each operation with the time its client invoked it and
//! the time its answer came back, or that it never did. The history is
//! *linearizable* when every operation can be given one instant between
//! those two times, its *linearization point*, such that, taken in the
//! order of those instants, the operations are those of a single register:
//! each read returns the value of the latest write before it, or the
//! initial value when there is none. [`check_register`] answers this for
//! one register per key, the model of the kit's key-value labs, and on a
//! failure returns a few operations that show it ([`Violation`]), which
//! [`describe`] turns into lines of a report. This is teaching code, but
//! it is the algorithm of the checkers used on real systems: Knossos
//! (Jepsen's) and Porcupine (Athalye's).
//!
//! # Design
//!
//! - **One key at a time.** Linearizability is compositional (Herlihy &
//!   Wing, 1990): a history of many registers is linearizable exactly when
//!   the history of each one is. So the history is split by key and each
//!   key searched on its own, in key order: 500 operations on 3 keys are
//!   three searches over ~170 operations, not one over 500. Horn & Kroening
//!   call this P-compositionality.
//! - **Search (Wing & Gong, 1993).** Pick an operation that could take
//!   effect first, apply it to the register, recurse on the rest;
//!   backtrack when no operation can come next.
//! - **Just in time (Lowe, 2017).** The calls and returns sit in one list
//!   in time order, and the search walks it from the top. At a call, it
//!   tries to linearize that operation now: a write always can, a read
//!   only if the register holds what it returned. If it can, the call and
//!   its return leave the list and the walk starts again from the top.
//!   Reaching a return means its operation should have taken effect by
//!   then and has not: undo the last operation linearized and try the call
//!   after it instead. So the only operations ever tried are those called
//!   before the first pending return: the ones that could come next.
//! - **Memoized.** Two paths that linearized the same set of operations
//!   and left the same value in the register have the same future. The
//!   search remembers each configuration it reached, the set as a bitset
//!   (one bit per operation) followed by the value, and never enters one
//!   twice. With c clients the configurations number about n · 2^c rather
//!   than n!: a few hundred operations per key and 4 clients take
//!   milliseconds.
//! - **Unanswered operations** may have taken effect at any instant after
//!   their call, or never: their return is at infinity. An unanswered read
//!   constrains nothing and is dropped, and so is an unanswered write whose
//!   value no read returned (any linearization with it is one without it).
//!   Other unanswered writes have no return in the list: the search may
//!   linearize them or not, and is done when every *answered* operation is
//!   linearized.
//! - **Ties.** An operation precedes another only when it returned
//!   strictly before the other was called; when one returns at the very
//!   instant the other is called they are concurrent. In the list, at equal
//!   times, calls come before returns.
//!
//! # Bounds
//!
//! Deciding linearizability is NP-complete (Gibbons & Korach, 1997), and
//! the search is exponential at worst: when many writes of a key overlap,
//! it may try every subset of them. A search that reaches a million
//! configurations (`MAX_STATES`, a second or so) stops, and its key counts
//! as passed: the key is *unknown*, and the checker reports only what it
//! has proved. A configuration takes some 80 bytes plus a bit per
//! operation, so the bound also keeps a search's memory near 100 MB.
//!
//! One common failure needs no search at all: a read of a value that is
//! neither the initial one nor written by any write of the key. That read
//! alone is the violation.
//!
//! # Explaining a violation
//!
//! A history of hundreds of operations is no explanation. A failing key's
//! history is shrunk by delta debugging (Zeller & Hildebrandt, 2002):
//! remove chunks of it, of halving size and finally single operations,
//! and keep a removal when what is left still has no linearization, until
//! no single removal keeps it failing (it is *1-minimal*). A stale read
//! ends up as the two or three operations that make it stale.
//!
//! With one refinement: removing the last write of a value also removes
//! the reads that returned that value. Otherwise "write a, write b, then
//! read a" would shrink to the read alone, shown as returning a value
//! nobody wrote: true of what is shown, false of the run, and the student
//! would look for the wrong bug. (A read of a value that no write wrote
//! at all is found before any search, and shown alone; see above.)
//!
//! Shrinking runs a search per attempt, so it is bounded too: at most
//! 2,000 searches (`MAX_SHRINK_CHECKS`) and ten million configurations
//! in all (`MAX_SHRINK_STATES`). The first, large chunks remove most of a
//! long history in a few searches. An attempt whose search stops counts
//! as passing, so what is reported has always been proved to fail; when
//! the budget runs out, the smallest failing history found so far is.
//! At about a second per million configurations, a failing key costs ten
//! seconds at the very worst, and a few milliseconds in practice.
//!
//! Production checkers go further along the same lines: Porcupine draws
//! the longest partial linearizations it found, and Jepsen's Elle checks
//! transactional histories from dependency graphs instead of by search.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

/// One operation of a client on one key, as seen from outside the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// Who invoked it, for the report.
    pub client: String,
    /// The key (the register) it read or wrote.
    pub key: String,
    /// A read and its answer, or a write.
    pub kind: OpKind,
    /// When the client invoked it.
    pub call: Duration,
    /// When the client got the answer; `None` when it never did (the
    /// operation may or may not have taken effect).
    pub ret: Option<Duration>,
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// A read, and the value it returned.
    Read {
        /// The value the client was given.
        value: String,
    },
    /// A write.
    Write {
        /// The value written.
        value: String,
    },
}

/// A key whose history has no linearization, with a smallest sub-history
/// that still has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The key.
    pub key: String,
    /// A 1-minimal sub-history with no linearization (see the module
    /// docs), in call order.
    pub ops: Vec<Op>,
}

/// The configurations one search may visit before giving up on its key.
const MAX_STATES: usize = 1_000_000;

/// The searches shrinking a violation may run.
const MAX_SHRINK_CHECKS: usize = 2_000;

/// The configurations all the searches shrinking a violation may visit.
const MAX_SHRINK_STATES: usize = 10_000_000;

/// Checks every key's history against a register that starts out holding
/// `initial`.
///
/// A key whose search gives up (after a million configurations; see the
/// module docs) counts as linearizable: only proved violations are
/// reported.
///
/// # Errors
///
/// The first key, in key order, whose history has no linearization, with
/// a 1-minimal sub-history that has none either.
pub fn check_register(ops: &[Op], initial: &str) -> Result<(), Violation> {
    for (key, history) in by_key(ops) {
        if let Some(ops) = violation_in(history, initial) {
            let key = key.to_string();
            return Err(Violation { key, ops });
        }
    }
    Ok(())
}

/// One line per operation of a violation, for the grader's report:
///
/// ```text
///   client0  write AAAAAAAAAAAfPn3 := xK2fQ0aZrT7bYw1   [12.3 ms, 14.0 ms]
///   client1  read  AAAAAAAAAAAfPn3 -> ""   [15.2 ms, never]
/// ```
///
/// Client names are padded to line up; an empty value shows as `""`.
pub fn describe(violation: &Violation) -> Vec<String> {
    let width = violation
        .ops
        .iter()
        .map(|op| op.client.chars().count())
        .max()
        .unwrap_or(0);
    violation
        .ops
        .iter()
        .map(|op| {
            let what = match &op.kind {
                OpKind::Read { value } => format!("read  {} -> {}", op.key, shown(value)),
                OpKind::Write { value } => format!("write {} := {}", op.key, shown(value)),
            };
            let ret = op.ret.map_or_else(|| "never".to_string(), ms);
            format!("  {:<width$}  {what}   [{}, {ret}]", op.client, ms(op.call))
        })
        .collect()
}

fn ms(t: Duration) -> String {
    format!("{:.1} ms", t.as_secs_f64() * 1000.0)
}

fn shown(value: &str) -> &str {
    if value.is_empty() { "\"\"" } else { value }
}

/// Each key's operations that can constrain a linearization, keys in
/// order, operations in call order.
fn by_key(ops: &[Op]) -> BTreeMap<&str, Vec<&Op>> {
    let read: HashSet<(&str, &str)> = ops
        .iter()
        .filter_map(|op| match &op.kind {
            OpKind::Read { value } if op.ret.is_some() => Some((op.key.as_str(), value.as_str())),
            _ => None,
        })
        .collect();
    let mut keys: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        // Unanswered, only a write someone read can matter.
        let constrains = op.ret.is_some()
            || written(op).is_some_and(|value| read.contains(&(op.key.as_str(), value)));
        if constrains {
            keys.entry(op.key.as_str()).or_default().push(op);
        }
    }
    for history in keys.values_mut() {
        history.sort_by_key(|op| op.call);
    }
    keys
}

/// A 1-minimal sub-history of one key's history with no linearization,
/// if the history has none.
fn violation_in(history: Vec<&Op>, initial: &str) -> Option<Vec<Op>> {
    if let Some(read) = made_up(&history, initial) {
        return Some(vec![read.clone()]);
    }
    let searched = search(&history, initial, MAX_STATES);
    (searched.outcome == Outcome::Violated).then(|| shrink(history, initial))
}

/// The first read of a value that is neither the initial one nor written.
fn made_up<'a>(history: &[&'a Op], initial: &str) -> Option<&'a Op> {
    let written: HashSet<&str> = history.iter().copied().filter_map(written).collect();
    history.iter().copied().find(|op| match &op.kind {
        OpKind::Read { value } => value != initial && !written.contains(value.as_str()),
        OpKind::Write { .. } => false,
    })
}

fn written(op: &Op) -> Option<&str> {
    match &op.kind {
        OpKind::Write { value } => Some(value),
        OpKind::Read { .. } => None,
    }
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Linearizable,
    Violated,
    /// It gave up: too many configurations.
    Unknown,
}

/// How a search ended, and the configurations it visited.
struct Searched {
    outcome: Outcome,
    states: usize,
}

/// One key's history, searched for a linearization, giving up after
/// `budget` configurations.
fn search(history: &[&Op], initial: &str, budget: usize) -> Searched {
    let mut search = Search::new(history, initial);
    let mut entry = search.events.first();
    while search.answered_left > 0 {
        let event = search.events.event[entry];
        match event {
            Event::Call(op) if search.try_linearize(op) => {
                if search.seen.len() > budget {
                    return search.ended(Outcome::Unknown);
                }
                entry = search.events.first();
            }
            Event::Call(_) => entry = search.events.next[entry],
            // While an answered operation is left, its return is in the
            // list, so the walk stops there before the end; were it to
            // reach the end, backtracking would still be sound.
            Event::Return | Event::End => match search.backtrack() {
                Some(op) => entry = search.events.next[search.events.call_of[op]],
                None => return search.ended(Outcome::Violated),
            },
        }
    }
    search.ended(Outcome::Linearizable)
}

/// What an operation does to the register; values are numbered, the
/// initial one 0.
#[derive(Debug, Clone, Copy)]
enum Step {
    Read(u64),
    Write(u64),
}

impl Step {
    /// The operations of a history, their values numbered.
    fn all(history: &[&Op], initial: &str) -> Vec<Step> {
        let mut numbers: HashMap<&str, u64> = HashMap::from([(initial, 0)]);
        let mut number = |value| {
            let next = numbers.len() as u64;
            *numbers.entry(value).or_insert(next)
        };
        let steps = history.iter().map(|op| match &op.kind {
            OpKind::Read { value } => Step::Read(number(value)),
            OpKind::Write { value } => Step::Write(number(value)),
        });
        steps.collect()
    }

    /// The register's value after this step, or `None` if the step cannot
    /// take effect while the register holds `held`.
    fn apply(self, held: u64) -> Option<u64> {
        match self {
            Step::Write(value) => Some(value),
            Step::Read(value) => (value == held).then_some(held),
        }
    }
}

/// The list head's entry.
const HEAD: usize = 0;
/// The list tail's entry.
const TAIL: usize = 1;

#[derive(Debug, Clone, Copy)]
enum Event {
    /// The call of this operation.
    Call(usize),
    Return,
    /// The head or the tail.
    End,
}

/// Calls and returns in time order, as a doubly linked list whose entries
/// leave and come back in stack order (Knuth's dancing links).
struct Events {
    event: Vec<Event>,
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Each operation's call entry.
    call_of: Vec<usize>,
    /// Each operation's return entry, if it was answered.
    return_of: Vec<Option<usize>>,
}

impl Events {
    fn new(history: &[&Op]) -> Events {
        // (time, is a return, op): at equal times calls come first, so an
        // operation called when another returns is concurrent with it. A
        // return stamped before its call (a clock gone wrong) counts as
        // at the call.
        let mut timed: Vec<(Duration, bool, usize)> = Vec::new();
        for (op, o) in history.iter().enumerate() {
            timed.push((o.call, false, op));
            if let Some(ret) = o.ret {
                timed.push((ret.max(o.call), true, op));
            }
        }
        timed.sort();
        let mut events = Events {
            event: vec![Event::End, Event::End],
            next: vec![TAIL, TAIL],
            prev: vec![HEAD, HEAD],
            call_of: vec![HEAD; history.len()],
            return_of: vec![None; history.len()],
        };
        for (_, is_return, op) in timed {
            events.push(is_return, op);
        }
        events
    }

    /// Appends an event before the tail.
    fn push(&mut self, is_return: bool, op: usize) {
        let entry = self.event.len();
        if is_return {
            self.event.push(Event::Return);
            self.return_of[op] = Some(entry);
        } else {
            self.event.push(Event::Call(op));
            self.call_of[op] = entry;
        }
        let last = self.prev[TAIL];
        self.next.push(TAIL);
        self.prev.push(last);
        self.next[last] = entry;
        self.prev[TAIL] = entry;
    }

    fn first(&self) -> usize {
        self.next[HEAD]
    }

    /// Takes an operation's call and return out of the list.
    fn lift(&mut self, op: usize) {
        self.unlink(self.call_of[op]);
        if let Some(ret) = self.return_of[op] {
            self.unlink(ret);
        }
    }

    /// Puts back the operation lifted last.
    fn unlift(&mut self, op: usize) {
        if let Some(ret) = self.return_of[op] {
            self.relink(ret);
        }
        self.relink(self.call_of[op]);
    }

    fn unlink(&mut self, entry: usize) {
        let (prev, next) = (self.prev[entry], self.next[entry]);
        self.next[prev] = next;
        self.prev[next] = prev;
    }

    fn relink(&mut self, entry: usize) {
        let (prev, next) = (self.prev[entry], self.next[entry]);
        self.next[prev] = entry;
        self.prev[next] = entry;
    }
}

/// A search in progress.
struct Search {
    steps: Vec<Step>,
    events: Events,
    /// The operations linearized, as a bitset, then the register's value.
    config: Vec<u64>,
    /// Every configuration reached so far.
    seen: HashSet<Box<[u64]>>,
    /// The operations linearized, in order, each with the value the
    /// register held before it.
    done: Vec<(usize, u64)>,
    /// Answered operations not linearized yet.
    answered_left: usize,
}

impl Search {
    fn new(history: &[&Op], initial: &str) -> Search {
        let words = history.len().div_ceil(64);
        Search {
            steps: Step::all(history, initial),
            events: Events::new(history),
            config: vec![0; words + 1],
            seen: HashSet::new(),
            done: Vec::new(),
            answered_left: history.iter().filter(|op| op.ret.is_some()).count(),
        }
    }

    fn held(&self) -> u64 {
        self.config[self.config.len() - 1]
    }

    /// Sets or clears an operation's bit, and sets the register's value.
    fn mark(&mut self, op: usize, linearized: bool, held: u64) {
        let bit = 1 << (op % 64);
        if linearized {
            self.config[op / 64] |= bit;
        } else {
            self.config[op / 64] &= !bit;
        }
        let last = self.config.len() - 1;
        self.config[last] = held;
    }

    /// Linearizes an operation next, unless it cannot take effect now or
    /// that leads to a configuration already seen.
    fn try_linearize(&mut self, op: usize) -> bool {
        let held = self.held();
        let Some(after) = self.steps[op].apply(held) else {
            return false;
        };
        self.mark(op, true, after);
        if self.seen.contains(self.config.as_slice()) {
            self.mark(op, false, held);
            return false;
        }
        self.seen.insert(self.config.clone().into_boxed_slice());
        self.done.push((op, held));
        self.events.lift(op);
        if self.events.return_of[op].is_some() {
            self.answered_left -= 1;
        }
        true
    }

    /// Undoes the last linearization and returns its operation, if any.
    fn backtrack(&mut self) -> Option<usize> {
        let (op, held) = self.done.pop()?;
        self.mark(op, false, held);
        self.events.unlift(op);
        if self.events.return_of[op].is_some() {
            self.answered_left += 1;
        }
        Some(op)
    }

    fn ended(&self, outcome: Outcome) -> Searched {
        Searched {
            outcome,
            states: self.seen.len(),
        }
    }
}

/// A 1-minimal failing sub-history of a failing key's history, as far as
/// the budgets allow; see the module docs.
fn shrink(history: Vec<&Op>, initial: &str) -> Vec<Op> {
    let mut shrinking = Shrinking {
        initial,
        checks_left: MAX_SHRINK_CHECKS,
        states_left: MAX_SHRINK_STATES,
        kept: history,
    };
    let mut chunk = (shrinking.kept.len() / 2).max(1);
    while !shrinking.exhausted() {
        let removed = shrinking.pass(chunk);
        if chunk > 1 {
            chunk /= 2;
        } else if !removed {
            break;
        }
    }
    shrinking.kept.into_iter().cloned().collect()
}

/// A failing history being shrunk.
struct Shrinking<'a> {
    initial: &'a str,
    checks_left: usize,
    states_left: usize,
    /// The smallest failing sub-history so far, in call order.
    kept: Vec<&'a Op>,
}

impl<'a> Shrinking<'a> {
    fn exhausted(&self) -> bool {
        self.checks_left == 0 || self.states_left == 0
    }

    /// Tries to remove each run of `chunk` operations, front to back;
    /// returns whether any removal stuck.
    fn pass(&mut self, chunk: usize) -> bool {
        let mut removed = false;
        let mut start = 0;
        while start < self.kept.len() && !self.exhausted() {
            let end = (start + chunk).min(self.kept.len());
            let rest = self.without(start..end);
            if self.fails(&rest) {
                self.kept = rest;
                removed = true;
            } else {
                start += chunk;
            }
        }
        removed
    }

    /// The history kept but for a run of operations, and but for the reads
    /// of values that what is left no longer writes.
    fn without(&self, run: Range<usize>) -> Vec<&'a Op> {
        let mut rest = self.kept[..run.start].to_vec();
        rest.extend_from_slice(&self.kept[run.end..]);
        let still_written: HashSet<&str> = rest.iter().copied().filter_map(written).collect();
        rest.retain(|op| match &op.kind {
            OpKind::Write { .. } => true,
            OpKind::Read { value } => {
                value == self.initial || still_written.contains(value.as_str())
            }
        });
        rest
    }

    /// Whether a search, within what is left of the budgets, proves that
    /// a history has no linearization.
    fn fails(&mut self, history: &[&Op]) -> bool {
        self.checks_left -= 1;
        let searched = search(history, self.initial, MAX_STATES.min(self.states_left));
        self.states_left = self.states_left.saturating_sub(searched.states);
        searched.outcome == Outcome::Violated
    }
}

#[cfg(test)]
mod tests;
