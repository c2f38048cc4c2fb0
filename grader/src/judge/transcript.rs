//! Matching a program's output against its expected transcript.
//!
//! A spec lists the expected lines as [`Item`]s: a line pattern, a block
//! repeated N times, or a group of lines that may come in any order (the
//! syntax is [`crate::spec::pattern`]'s). The output of a program is then
//! matched line by line, either exactly ([`match_exact`]: every line
//! accounted for) or as a subsequence ([`match_includes`]: other lines may
//! come between). A failure is one [`Mismatch`]: the first line where
//! output and expectation part, with the expectation spelt out in the
//! student's own values.
//!
//! # Scopes
//!
//! Bindings made inside one repetition of a `repeat` block are forgotten when
//! the next repetition starts, so `{key}` may be a different key in every
//! round; bindings made before the block are visible inside it. Values the
//! grader knows beforehand (a seed, a port) come in as [`Vars`] and are
//! visible everywhere.
//!
//! # Why not regular expressions
//!
//! Instructors write these patterns and students read them in failure
//! reports; `Request ID: {#}` says what it means where
//! `^Request ID: (\d+)$` needs decoding. The matching is the same idea as
//! `expect(1)` scripts and snapshot tools such as trycmd, which also mask
//! volatile parts of a transcript instead of ignoring it wholesale.
//!
//! Matching commits to the first way a line matches: once a line has bound
//! `{key}`, later lines do not make it reconsider how. Only inside one line,
//! and inside an unordered group, does the matcher backtrack. For lines that
//! a program prints this is never a limit in practice, and it keeps failures
//! explainable: each expected line is tied to one actual line.

use std::collections::BTreeMap;
use std::fmt;

use crate::spec::pattern::{self, Lookup, Token};
pub use crate::spec::transcript::Item;

/// Values bound before matching starts, by name (e.g. `seed`).
pub type Vars = BTreeMap<String, String>;

/// What [`Mismatch`] shows in place of a line when the output has ended.
pub const END_OF_OUTPUT: &str = "(end of output)";

/// Where and how output departs from its expected transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// 1-based number of the actual line where matching failed; one past the
    /// last line when the output ended too early.
    pub line: usize,
    /// The expected pattern with every bound variable replaced by its value,
    /// or [`END_OF_OUTPUT`] when no more lines were expected. Several
    /// candidate lines (of an unordered group) are separated by `\n`.
    pub expected: String,
    /// The actual line, or [`END_OF_OUTPUT`].
    pub actual: String,
    /// Why, when the two lines alone do not say it: which repetition, what a
    /// variable was bound to and where, where a search started. Several
    /// notes are separated by `\n`.
    pub note: Option<String>,
}

impl Mismatch {
    fn with_note_first(mut self, first: String) -> Mismatch {
        self.note = Some(match self.note.take() {
            Some(rest) => format!("{first}\n{rest}"),
            None => first,
        });
        self
    }
}

/// Shows the two lines one above the other, so a student can spot the
/// difference by eye:
///
/// ```text
/// line 3:
///   expected: Type: READ_REP Key: AAAA Value: DDDCCCCBBBBAAAA
///   actual:   Type: READ_REP Key: AAAA Value: DDDCCCCBBBBAAAB
/// ```
impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const INDENT: &str = "\n            ";
        let shown = |text: &str| match text {
            "" => "(empty line)".to_owned(),
            _ => text.replace('\n', INDENT),
        };
        writeln!(f, "line {}:", self.line)?;
        writeln!(f, "  expected: {}", shown(&self.expected))?;
        write!(f, "  actual:   {}", shown(&self.actual))?;
        if let Some(note) = &self.note {
            write!(f, "\n  note:     {}", note.replace('\n', INDENT))?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

/// Checks that `actual` is exactly the transcript `expected`: every line of
/// output is accounted for, in order.
///
/// Empty (or whitespace-only) lines at the very end of the output are
/// ignored: a final `println!()` is not worth a failed test.
///
/// # Errors
///
/// The first line that does not match, an expected line missing at the end
/// (`actual` is [`END_OF_OUTPUT`]), or an extra line after the transcript
/// (`expected` is [`END_OF_OUTPUT`]).
pub fn match_exact(expected: &[Item], actual: &[&str], vars: &Vars) -> Result<(), Mismatch> {
    let matcher = Matcher {
        actual,
        mode: Mode::Exact,
    };
    let mut scope = Scope::new(vars);
    let end = matcher.items(expected, 0, &mut scope)?;
    let rest = &actual[end..];
    let Some(last) = rest.iter().rposition(|line| !line.trim().is_empty()) else {
        return Ok(());
    };
    let count = last + 1;
    Err(Mismatch {
        line: end + 1,
        expected: END_OF_OUTPUT.to_owned(),
        actual: rest[0].to_owned(),
        note: Some(format!(
            "the output goes on for {count} more line{} after the expected transcript ends",
            plural(count)
        )),
    })
}

/// Checks that the items of `expected` appear in `actual` in order, with any
/// other lines allowed between them (a subsequence).
///
/// Each expected line is matched against the first line that fits, searching
/// on from the line after the previous match. The lines of an unordered
/// group may appear in any order, and other lines may come between them too.
///
/// # Errors
///
/// The first item not found: its `line` is one past the last line, `actual`
/// is [`END_OF_OUTPUT`] and the note says where the search started.
pub fn match_includes(expected: &[Item], actual: &[&str], vars: &Vars) -> Result<(), Mismatch> {
    let matcher = Matcher {
        actual,
        mode: Mode::Includes,
    };
    matcher.items(expected, 0, &mut Scope::new(vars)).map(drop)
}

/// A bound variable and where its value came from.
#[derive(Debug, Clone)]
struct Binding {
    value: String,
    /// The 1-based actual line that bound it; `None` for [`Vars`].
    line: Option<usize>,
}

impl Binding {
    fn describe(&self, name: &str) -> String {
        match self.line {
            Some(line) => format!("`{{{name}}}` was bound to `{}` on line {line}", self.value),
            None => format!("`{{{name}}}` is `{}`, given by the grader", self.value),
        }
    }
}

/// The variables visible at one point of the transcript.
#[derive(Debug, Clone)]
struct Scope {
    bindings: BTreeMap<String, Binding>,
    /// The value of `{#}`.
    index: usize,
}

impl Scope {
    fn new(vars: &Vars) -> Scope {
        let bindings = vars
            .iter()
            .map(|(name, value)| {
                let binding = Binding {
                    value: value.clone(),
                    line: None,
                };
                (name.clone(), binding)
            })
            .collect();
        Scope { bindings, index: 0 }
    }

    /// Binds what line `pos` (0-based) captured; returns the names bound.
    fn bind(&mut self, captured: Vec<(String, String)>, pos: usize) -> Vec<String> {
        let mut names = Vec::with_capacity(captured.len());
        for (name, value) in captured {
            self.bindings.insert(
                name.clone(),
                Binding {
                    value,
                    line: Some(pos + 1),
                },
            );
            names.push(name);
        }
        names
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exact,
    Includes,
}

impl Lookup for Scope {
    fn value(&self, name: &str) -> Option<&str> {
        self.bindings.get(name).map(|b| b.value.as_str())
    }
}

/// Matches one line in `scope`; on success the bindings it made.
fn match_tokens(tokens: &[Token], text: &str, scope: &Scope) -> Option<Vec<(String, String)>> {
    pattern::match_line(tokens, text, scope, scope.index)
}

/// The pattern with what `scope` binds filled in.
fn render(tokens: &[Token], scope: &Scope) -> String {
    pattern::render(tokens, scope, scope.index)
}

/// Walks the items over the actual lines, in one mode.
struct Matcher<'a> {
    actual: &'a [&'a str],
    mode: Mode,
}

impl Matcher<'_> {
    /// Matches `items` from actual line `pos` (0-based) on; returns the
    /// position after the last line they used.
    fn items(&self, items: &[Item], mut pos: usize, scope: &mut Scope) -> Result<usize, Mismatch> {
        for item in items {
            pos = match item {
                Item::Line(pattern) => self.line(pattern, pos, scope)?,
                Item::Repeat { times, lines } => {
                    for index in 0..*times {
                        // A fresh copy per repetition: what it binds is
                        // forgotten when the next one starts.
                        let mut inner = Scope {
                            bindings: scope.bindings.clone(),
                            index,
                        };
                        pos = self.items(lines, pos, &mut inner).map_err(|m| {
                            m.with_note_first(format!(
                                "in repetition {} of {times} of a repeated block (`{{#}}` = {index})",
                                index + 1
                            ))
                        })?;
                    }
                    pos
                }
                Item::Unordered(patterns) => self.unordered(patterns, pos, scope)?,
            };
        }
        Ok(pos)
    }

    fn actual_at(&self, pos: usize) -> String {
        self.actual.get(pos).unwrap_or(&END_OF_OUTPUT).to_string()
    }

    fn compile(&self, pattern: &str, pos: usize) -> Result<Vec<Token>, Mismatch> {
        pattern::parse(pattern).map_err(|e| Mismatch {
            line: pos + 1,
            expected: pattern.to_owned(),
            actual: self.actual_at(pos),
            note: Some(format!("the spec's pattern is invalid: {e}")),
        })
    }

    fn line(&self, pattern: &str, pos: usize, scope: &mut Scope) -> Result<usize, Mismatch> {
        let tokens = self.compile(pattern, pos)?;
        let candidates = match self.mode {
            Mode::Exact => pos..(pos + 1).min(self.actual.len()),
            Mode::Includes => pos..self.actual.len(),
        };
        for at in candidates {
            if let Some(captured) = match_tokens(&tokens, self.actual[at], scope) {
                scope.bind(captured, at);
                return Ok(at + 1);
            }
        }
        Err(match self.mode {
            Mode::Exact => self.wrong_line(&tokens, pos, scope),
            Mode::Includes => self.not_found(&tokens, pos, scope),
        })
    }

    /// Exact mode: line `pos` is not what `tokens` expect.
    fn wrong_line(&self, tokens: &[Token], pos: usize, scope: &Scope) -> Mismatch {
        let mut notes = Vec::new();
        if let Some(&text) = self.actual.get(pos) {
            if let Some(note) = binding_note(tokens, text, scope) {
                notes.push(note);
            } else if match_tokens(tokens, text.trim_end(), scope).is_some() {
                notes.push("the actual line ends with whitespace that is not expected".to_owned());
            } else if !tokens.contains(&Token::Star) {
                // Only for patterns without `*`: a wildcard matches too many
                // lines for "it comes later" to be a useful hint.
                let later = (pos + 1..self.actual.len())
                    .find(|&at| match_tokens(tokens, self.actual[at], scope).is_some());
                if let Some(at) = later {
                    notes.push(match at - pos {
                        1 => format!("line {} matches it: is line {} extra?", at + 1, pos + 1),
                        _ => format!(
                            "line {} matches it: are lines {} to {at} extra?",
                            at + 1,
                            pos + 1
                        ),
                    });
                }
            }
        }
        Mismatch {
            line: pos + 1,
            expected: render(tokens, scope),
            actual: self.actual_at(pos),
            note: join_notes(notes),
        }
    }

    /// Includes mode: no line from `pos` on matches `tokens`.
    fn not_found(&self, tokens: &[Token], pos: usize, scope: &Scope) -> Mismatch {
        let mut notes = vec![self.searched(pos)];
        let near_miss = Relaxed::new(tokens, scope).and_then(|relaxed| {
            (pos..self.actual.len())
                .find_map(|at| relaxed.note(self.actual[at]).map(|note| (at, note)))
        });
        if let Some((at, note)) = near_miss {
            notes.push(format!("line {} would match, but {note}", at + 1));
        } else if let Some(at) =
            (0..pos).find(|&at| match_tokens(tokens, self.actual[at], scope).is_some())
        {
            notes.push(format!(
                "line {}, before the search started, matches it: is the output out of order?",
                at + 1
            ));
        }
        Mismatch {
            line: self.actual.len() + 1,
            expected: render(tokens, scope),
            actual: END_OF_OUTPUT.to_owned(),
            note: join_notes(notes),
        }
    }

    /// Says where an includes-mode search started.
    fn searched(&self, pos: usize) -> String {
        match pos {
            0 => "not found anywhere in the output".to_owned(),
            _ if pos == self.actual.len() => format!(
                "not found: the output ends at line {pos}, which matched the previous expected line"
            ),
            _ => format!("not found after line {pos}, which matched the previous expected line"),
        }
    }

    fn unordered(
        &self,
        patterns: &[String],
        pos: usize,
        scope: &mut Scope,
    ) -> Result<usize, Mismatch> {
        let compiled = patterns
            .iter()
            .map(|pattern| self.compile(pattern, pos))
            .collect::<Result<Vec<_>, _>>()?;
        match self.mode {
            Mode::Exact => self.permutation(&compiled, pos, scope),
            Mode::Includes => self.scattered(&compiled, pos, scope),
        }
    }

    /// Exact mode: the next `k` lines are the `k` patterns in some order.
    fn permutation(
        &self,
        patterns: &[Vec<Token>],
        pos: usize,
        scope: &mut Scope,
    ) -> Result<usize, Mismatch> {
        let end = (pos + patterns.len()).min(self.actual.len());
        let mut search = Permutation {
            patterns,
            lines: &self.actual[pos..end],
            first: pos,
            used: vec![false; patterns.len()],
            deepest: (0, (0..patterns.len()).collect()),
        };
        let mut inner = scope.clone();
        if search.run(0, &mut inner) {
            *scope = inner;
            return Ok(pos + patterns.len());
        }
        let (depth, left) = search.deepest;
        let at = pos + depth;
        let k = patterns.len();
        if let [only] = left[..] {
            let mismatch = self.wrong_line(&patterns[only], at, scope);
            return Err(mismatch
                .with_note_first(format!("the last line left of an unordered group of {k}")));
        }
        let n = left.len();
        Err(Mismatch {
            line: at + 1,
            expected: left
                .iter()
                .map(|&i| render(&patterns[i], scope))
                .collect::<Vec<_>>()
                .join("\n"),
            actual: self.actual_at(at),
            note: Some(format!(
                "none of the {n} unordered lines above matched (of a group of {k}, in any order)"
            )),
        })
    }

    /// Includes mode: the patterns each match a line from `pos` on, in any
    /// order. Each line goes to the first pattern left that it matches.
    fn scattered(
        &self,
        patterns: &[Vec<Token>],
        pos: usize,
        scope: &mut Scope,
    ) -> Result<usize, Mismatch> {
        let mut left: Vec<usize> = (0..patterns.len()).collect();
        let mut end = pos;
        for at in pos..self.actual.len() {
            if left.is_empty() {
                break;
            }
            let text = self.actual[at];
            let found = left
                .iter()
                .enumerate()
                .find_map(|(slot, &i)| match_tokens(&patterns[i], text, scope).map(|c| (slot, c)));
            if let Some((slot, captured)) = found {
                scope.bind(captured, at);
                left.remove(slot);
                end = at + 1;
            }
        }
        if left.is_empty() {
            return Ok(end);
        }
        let k = patterns.len();
        let n = left.len();
        Err(Mismatch {
            line: self.actual.len() + 1,
            expected: left
                .iter()
                .map(|&i| render(&patterns[i], scope))
                .collect::<Vec<_>>()
                .join("\n"),
            actual: END_OF_OUTPUT.to_owned(),
            note: Some(format!(
                "{}: {n} of the {k} lines of an unordered group",
                self.searched(pos)
            )),
        })
    }
}

/// Backtracking search for an order of `patterns` that matches `lines`.
struct Permutation<'a> {
    patterns: &'a [Vec<Token>],
    lines: &'a [&'a str],
    /// The 0-based actual line number of `lines[0]`.
    first: usize,
    used: Vec<bool>,
    /// The most lines matched on any path, and the patterns then left: the
    /// best place to report a failure.
    deepest: (usize, Vec<usize>),
}

impl Permutation<'_> {
    fn run(&mut self, depth: usize, scope: &mut Scope) -> bool {
        if depth == self.patterns.len() {
            return true;
        }
        if depth > self.deepest.0 {
            let left = (0..self.patterns.len())
                .filter(|&i| !self.used[i])
                .collect();
            self.deepest = (depth, left);
        }
        let Some(&text) = self.lines.get(depth) else {
            return false;
        };
        for i in 0..self.patterns.len() {
            if self.used[i] {
                continue;
            }
            let Some(captured) = match_tokens(&self.patterns[i], text, scope) else {
                continue;
            };
            self.used[i] = true;
            let bound = scope.bind(captured, self.first + depth);
            if self.run(depth + 1, scope) {
                return true;
            }
            for name in bound {
                scope.bindings.remove(&name);
            }
            self.used[i] = false;
        }
        false
    }
}

/// If `text` would match `tokens` were its bound variables free, says what
/// they were bound to and what `text` has there instead.
fn binding_note(tokens: &[Token], text: &str, scope: &Scope) -> Option<String> {
    Relaxed::new(tokens, scope)?.note(text)
}

/// A pattern's bound variables set free, to find a line that would match
/// but for their values. Built once and tried on many lines: freeing them
/// copies the scope.
struct Relaxed<'a> {
    tokens: &'a [Token],
    scope: &'a Scope,
    names: Vec<&'a str>,
    relaxed: Scope,
}

impl<'a> Relaxed<'a> {
    /// None when the pattern uses no bound variable.
    fn new(tokens: &'a [Token], scope: &'a Scope) -> Option<Relaxed<'a>> {
        let mut names: Vec<&str> = tokens
            .iter()
            .filter_map(|token| match token {
                Token::Var(name) if scope.bindings.contains_key(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        names.dedup();
        if names.is_empty() {
            return None;
        }
        let mut relaxed = scope.clone();
        for name in &names {
            relaxed.bindings.remove(*name);
        }
        Some(Relaxed {
            tokens,
            scope,
            names,
            relaxed,
        })
    }

    fn note(&self, text: &str) -> Option<String> {
        let captured = match_tokens(self.tokens, text, &self.relaxed)?;
        let notes: Vec<String> = self
            .names
            .iter()
            .filter_map(|name| {
                let binding = &self.scope.bindings[*name];
                let (_, here) = captured.iter().find(|(n, _)| n == name)?;
                (*here != binding.value)
                    .then(|| format!("{}, and this line has `{here}`", binding.describe(name)))
            })
            .collect();
        (!notes.is_empty()).then(|| notes.join("; "))
    }
}

fn join_notes(notes: Vec<String>) -> Option<String> {
    (!notes.is_empty()).then(|| notes.join("\n"))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests;
