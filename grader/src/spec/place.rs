//! Where each node of a spec file is: line and column, by the node's path.
//!
//! serde_yaml reads a spec into the structs of the format, and knows a
//! position only while it reads: for its own errors. Validation runs on the
//! structs, which carry none. So when validation finds an error, the text
//! is read a second time, as YAML events, into a map from the path of each
//! node (`tests / 3 / steps / 2 / start`) to where it starts; validation
//! names the node it faults by its path ([`At`]), and the map turns that
//! into a line and column. Being read from the events, the positions are
//! right for block and flow style alike, whatever the quotes and spacing.
//!
//! The events come from `saphyr-parser`: a pure Rust YAML 1.2 parser,
//! without unsafe code, tested against the YAML test suite, that gives each
//! event a span (flow collections and quoted scalars included) and needs two
//! small crates. It is the parser of the saphyr project, which the
//! maintainers of yaml-rust2 name as the crate that is developed further
//! (yaml-rust2 only gets basic maintenance). Before 1.0 a minor release may
//! change its API, so `Cargo.toml` keeps it at 0.3.
//!
//! # Format
//! A path is the keys and list indices from the top of the document to the
//! node: the `start` of the third step of the fourth test is
//! `tests/3/steps/2/start`. For each node the map keeps where the node
//! starts (a scalar's first character or its quote, a flow collection's
//! `{` or `[`, a block mapping's first key, an anchor's `&`) and, for the
//! value of a mapping, where its key starts.
//!
//! Only the first document is read (serde_yaml refuses a file with more).
//! An alias is a node of its own, where the `*` is: the nodes of the
//! anchored value are found under the anchor's path. A key that is itself
//! a mapping or a list has no path, nor do the nodes of its value: the
//! format has no such keys.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, Span};

/// One step of a [`NodePath`]: a mapping's key or a list's index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    /// The value of this key of a mapping.
    Key(String),
    /// This item of a list, from 0.
    Index(usize),
}

/// A node of a spec file, by the keys and indices that lead to it from the
/// top: `tests/0/steps/2/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NodePath(Vec<Seg>);

impl NodePath {
    /// The whole document.
    pub fn root() -> NodePath {
        NodePath::default()
    }

    /// The value of `key` in the mapping at this path.
    #[must_use]
    pub fn key(&self, key: &str) -> NodePath {
        self.with(Seg::Key(key.to_string()))
    }

    /// Item `index` (from 0) of the list at this path.
    #[must_use]
    pub fn index(&self, index: usize) -> NodePath {
        self.with(Seg::Index(index))
    }

    /// This path after `prefix`: a path within a test, made one within the file.
    #[must_use]
    pub fn under(&self, prefix: &NodePath) -> NodePath {
        NodePath(prefix.0.iter().chain(&self.0).cloned().collect())
    }

    fn with(&self, seg: Seg) -> NodePath {
        let mut segs = self.0.clone();
        segs.push(seg);
        NodePath(segs)
    }
}

impl fmt::Display for NodePath {
    /// `tests/0/steps/2/start`; the root is `/`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for (i, seg) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            match seg {
                Seg::Key(k) => f.write_str(k)?,
                Seg::Index(n) => write!(f, "{n}")?,
            }
        }
        Ok(())
    }
}

/// What an error points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// The node itself: a value, or an item of a list (a step, a check).
    Node(NodePath),
    /// The key that names the node: a field as a whole (`startup:` of
    /// `startup: 0s`). A node without a key (an item) is found as `Node`.
    Key(NodePath),
}

impl At {
    /// The node's path.
    pub fn path(&self) -> &NodePath {
        match self {
            At::Node(p) | At::Key(p) => p,
        }
    }

    /// The same place, with its path after `prefix`.
    #[must_use]
    pub fn under(self, prefix: &NodePath) -> At {
        match self {
            At::Node(p) => At::Node(p.under(prefix)),
            At::Key(p) => At::Key(p.under(prefix)),
        }
    }
}

/// A place in a file: 1-based line, and 1-based column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, counted in characters.
    pub column: usize,
}

impl Pos {
    fn of(span: Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// Where a node is: its start, and its key's when it is a mapping's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    node: Pos,
    key: Option<Pos>,
}

/// The places of the nodes of one file.
#[derive(Debug, Clone, Default)]
pub struct Places(HashMap<NodePath, Place>);

impl Places {
    /// Reads the nodes of `text`. It never fails: past a YAML error (which
    /// serde_yaml has reported before this runs), the nodes read so far are
    /// all there is.
    pub fn of(text: &str) -> Places {
        let mut walk = Walk::default();
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            if !walk.event(event, Pos::of(span)) {
                break;
            }
        }
        walk.places
    }

    /// Whether the file has a node at `path`.
    pub fn has(&self, path: &NodePath) -> bool {
        self.0.contains_key(path)
    }

    /// Where `at` is. A path the file does not have (a default, or a
    /// shorter form such as `stop: server` for `stop/node`) is found at its
    /// nearest ancestor that it has; `None` only when the file has no
    /// document.
    pub fn find(&self, at: &At) -> Option<Pos> {
        if let Some(place) = self.0.get(at.path()) {
            return Some(match at {
                At::Key(_) => place.key.unwrap_or(place.node),
                At::Node(_) => place.node,
            });
        }
        let mut segs = at.path().0.clone();
        while segs.pop().is_some() {
            if let Some(place) = self.0.get(&NodePath(segs.clone())) {
                return Some(place.node);
            }
        }
        None
    }
}

/// A collection being read.
enum Frame {
    /// A list, and the index of its next item.
    Seq { path: NodePath, next: usize },
    /// A mapping, and where it is between a key and its value.
    Map { path: NodePath, key: Key },
    /// A collection without a path (a key, or the value of a key that is
    /// not a scalar), and how many collections deep it is read.
    Skip { depth: usize },
}

/// Whether a mapping waits for a key or for the value of one.
enum Key {
    Awaited,
    Named(String, Pos),
    Unnamed,
}

/// What the next node is, from what holds it.
enum Slot {
    /// A node with a path, and its key's place.
    Node(NodePath, Option<Pos>),
    /// The key of a mapping.
    Key,
    /// Nothing to record.
    Ignored,
}

/// The start of a node, as far as the walk cares.
enum Start<'t> {
    Scalar(&'t str),
    Alias,
    Seq,
    Map,
}

/// The walk over the events, with the collections it is in.
#[derive(Default)]
struct Walk {
    frames: Vec<Frame>,
    places: Places,
    /// The document's top node has been read.
    done: bool,
}

impl Walk {
    /// Takes one event; false once the first document is read.
    fn event(&mut self, event: Event<'_>, pos: Pos) -> bool {
        match event {
            Event::Scalar(text, ..) => self.start(Start::Scalar(&text), pos),
            Event::Alias(_) => self.start(Start::Alias, pos),
            Event::SequenceStart(..) => self.start(Start::Seq, pos),
            Event::MappingStart(..) => self.start(Start::Map, pos),
            Event::SequenceEnd | Event::MappingEnd => self.end(),
            Event::DocumentEnd => self.done = true,
            _ => {}
        }
        !(self.done && self.frames.is_empty())
    }

    fn start(&mut self, start: Start<'_>, pos: Pos) {
        let collection = matches!(start, Start::Seq | Start::Map);
        if let Some(Frame::Skip { depth }) = self.frames.last_mut() {
            *depth += usize::from(collection);
            return;
        }
        match self.slot() {
            Slot::Node(path, key) => {
                self.places
                    .0
                    .entry(path.clone())
                    .or_insert(Place { node: pos, key });
                match start {
                    Start::Seq => self.frames.push(Frame::Seq { path, next: 0 }),
                    Start::Map => self.frames.push(Frame::Map {
                        path,
                        key: Key::Awaited,
                    }),
                    Start::Scalar(_) | Start::Alias => {}
                }
            }
            Slot::Key => {
                let key = match start {
                    Start::Scalar(text) => Key::Named(text.to_string(), pos),
                    _ => Key::Unnamed,
                };
                if let Some(Frame::Map { key: k, .. }) = self.frames.last_mut() {
                    *k = key;
                }
                if collection {
                    self.frames.push(Frame::Skip { depth: 1 });
                }
            }
            Slot::Ignored if collection => self.frames.push(Frame::Skip { depth: 1 }),
            Slot::Ignored => {}
        }
        if self.frames.is_empty() {
            self.done = true;
        }
    }

    /// Which node comes next, moving the collection that holds it on.
    fn slot(&mut self) -> Slot {
        match self.frames.last_mut() {
            None if self.done => Slot::Ignored,
            None => Slot::Node(NodePath::root(), None),
            Some(Frame::Seq { path, next }) => {
                *next += 1;
                Slot::Node(path.index(*next - 1), None)
            }
            Some(Frame::Map { path, key }) => match std::mem::replace(key, Key::Awaited) {
                Key::Awaited => Slot::Key,
                Key::Named(name, at) => Slot::Node(path.key(&name), Some(at)),
                Key::Unnamed => Slot::Ignored,
            },
            Some(Frame::Skip { .. }) => Slot::Ignored,
        }
    }

    fn end(&mut self) {
        if let Some(Frame::Skip { depth }) = self.frames.last_mut()
            && *depth > 1
        {
            *depth -= 1;
            return;
        }
        self.frames.pop();
        if self.frames.is_empty() {
            self.done = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line and column of the node at `path` ("tests/0/name"), or of its key.
    fn find(text: &str, path: &str, key: bool) -> Option<(usize, usize)> {
        let mut p = NodePath::root();
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            p = match seg.parse() {
                Ok(i) => p.index(i),
                Err(_) => p.key(seg),
            };
        }
        let at = if key { At::Key(p) } else { At::Node(p) };
        Places::of(text).find(&at).map(|p| (p.line, p.column))
    }

    const BLOCK: &str = "\
lab: hw1
limits:
  startup: 0s
tests:
  - name: echo
    steps:
      - start: server
      - stop: { node: client, within: 1s }
";

    #[test]
    fn block_nodes_are_found_at_their_start_and_their_keys() {
        for (path, key, want) in [
            ("lab", true, (1, 1)),
            ("lab", false, (1, 6)),
            ("limits/startup", true, (3, 3)),
            ("limits/startup", false, (3, 12)),
            ("tests/0", false, (5, 5)),
            ("tests/0/name", true, (5, 5)),
            ("tests/0/steps/0", false, (7, 9)),
            ("tests/0/steps/0/start", false, (7, 16)),
            ("tests/0/steps/1/stop", false, (8, 15)),
            ("tests/0/steps/1/stop/node", false, (8, 23)),
            ("tests/0/steps/1/stop/within", true, (8, 31)),
            // An item has no key: its own start.
            ("tests/0/steps/1", true, (8, 9)),
        ] {
            assert_eq!(find(BLOCK, path, key), Some(want), "{path} (key: {key})");
        }
    }

    #[test]
    fn a_missing_path_is_found_at_its_nearest_ancestor() {
        assert_eq!(
            find(BLOCK, "tests/0/steps/0/start/node", false),
            Some((7, 16))
        );
        assert_eq!(find(BLOCK, "tests/0/steps/7/start", true), Some((7, 7)));
        assert_eq!(find(BLOCK, "tests/4", false), Some((5, 3)));
        assert_eq!(find(BLOCK, "nothing/here", false), Some((1, 1)));
        assert_eq!(find("", "lab", false), None);
        assert_eq!(find("# only a comment\n", "lab", false), None);
    }

    #[test]
    fn flow_style_quotes_and_spacing_do_not_move_a_node() {
        let text =
            "tests:\n  - {\"name\" :  'echo', steps: [ {start:   server}, {  stop : client } ]}\n";
        for (path, key, want) in [
            ("tests/0", false, (2, 5)),
            ("tests/0/name", true, (2, 6)),
            ("tests/0/name", false, (2, 16)),
            ("tests/0/steps", false, (2, 31)),
            ("tests/0/steps/0", false, (2, 33)),
            ("tests/0/steps/0/start", false, (2, 43)),
            ("tests/0/steps/1", false, (2, 52)),
            ("tests/0/steps/1/stop", true, (2, 55)),
            ("tests/0/steps/1/stop", false, (2, 62)),
        ] {
            assert_eq!(find(text, path, key), Some(want), "{path} (key: {key})");
        }
    }

    #[test]
    fn anchors_aliases_and_odd_keys_are_read_without_harm() {
        let text = "\
base: &b { drop: 0.5 }
copy: *b
? [complex, key]
: { inner: 1 }
? { a: 1 }
: plain
after: 2
";
        assert_eq!(find(text, "base/drop", false), Some((1, 18)));
        assert_eq!(find(text, "base", false), Some((1, 7)));
        // The alias is where the `*` is; what it stands for is not repeated.
        assert_eq!(find(text, "copy", false), Some((2, 7)));
        assert_eq!(find(text, "copy/drop", false), Some((2, 7)));
        assert_eq!(find(text, "inner", false), Some((1, 1)));
        assert_eq!(find(text, "after", false), Some((7, 8)));
        // After keys that are collections, the walk is still in step.
        let text = "? [complex, key]\n: { inner: 1 }\n? { a: [1] }\n: x\nafter: 2\n";
        assert_eq!(find(text, "after", true), Some((5, 1)));
        assert_eq!(find(text, "after", false), Some((5, 8)));
    }

    #[test]
    fn only_the_first_document_and_what_precedes_an_error_are_read() {
        let text = "a: 1\n---\nb: 2\n";
        assert_eq!(find(text, "a", false), Some((1, 4)));
        assert_eq!(find(text, "b", false), Some((1, 1)));
        let text = "a: 1\nb: [2\nc: 3\n";
        assert_eq!(find(text, "a", false), Some((1, 4)));
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(find("é: { ü: x }\n", "é/ü", false), Some((1, 9)));
    }

    #[test]
    fn paths_print_as_written() {
        let p = NodePath::root().key("tests").index(3).key("steps");
        assert_eq!(p.to_string(), "tests/3/steps");
        assert_eq!(NodePath::root().to_string(), "/");
        let within = NodePath::root().index(2).key("start");
        assert_eq!(within.under(&p).to_string(), "tests/3/steps/2/start");
    }
}
