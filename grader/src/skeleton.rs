//! Lab skeletons, generated from reference solutions.
//!
//! A student's starting point (`labs/hwN-*`) is the reference solution
//! (`solutions/hwN-*`) with its marked regions cut out, the way rustlings
//! keeps exercises and solutions side by side. Generating one from the other
//! means the two cannot disagree on file layout, header comments, signatures
//! or unit tests: there is one source, and [`drift`] tells CI when a
//! committed skeleton no longer matches it.
//!
//! # Markers
//!
//! In `.rs` files a hole looks like this:
//!
//! ```text
//! fn bind_server(port: u16) -> nix::Result<OwnedFd> {
//!     // hole: bind the server socket
//!     // TODO: Create a UDP socket with socket(2) and bind it to 127.0.0.1:`port`
//!     //       with bind(2). Return the socket.
//!     let fd = socket(...)?;
//!     bind(...)?;
//!     Ok(fd)
//!     // end hole
//! }
//! ```
//!
//! The marker line goes, the comment lines right after it stay (they must
//! start with `// TODO:`, the sentence that tells the student what to
//! write), the code up to `// end hole` goes, and `todo!("bind the server
//! socket")` takes its place at the marker's indentation. A `// skeleton: `
//! line inside a hole survives as code, just before the `todo!` (e.g.
//! `let _ = port;` to keep the skeleton free of unused-variable warnings).
//!
//! Two line markers work in every file this module edits, with `//` as the
//! comment in `.rs` files and `#` in `.toml`, `.yaml`, `.yml`, `.sh` and
//! `.py` files:
//!
//! - a line ending with `// solution-only` is dropped (a `use` or a
//!   dependency that only the solution needs);
//! - a line whose text starts with `// skeleton: ` becomes the rest of the
//!   line at the same indentation (a dependency or a line only the skeleton
//!   needs).
//!
//! Every other file (`Cargo.lock`, `README.md`, data) is copied unchanged,
//! bytes and all: a `# skeleton:` Markdown heading must stay a heading.
//!
//! # What belongs to the lab only
//!
//! `target/`, `spec.yaml`, `requirements.yaml`, `mutants.yaml` and
//! `hidden.yaml` at the top of a crate, and every file or directory whose
//! name starts with `.`, are neither generated, nor compared, nor removed:
//! they are build output, the grader's spec and the requirements it
//! traces, the instructor's broken programs (which show
//! solution code) and hidden tests (which students must not see), neither
//! of which may reach a skeleton, and tool state.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One hole of a generated skeleton: a `todo!` the student replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hole {
    /// The file, relative to the crate (e.g. `src/main.rs`).
    pub file: PathBuf,
    /// The 1-based line of the `todo!` in the generated file.
    pub line: usize,
    /// The hole's name: the text of its `todo!`.
    pub name: String,
}

/// A malformed marker in a solution, or a file that could not be read.
#[derive(Debug)]
pub struct SkeletonError {
    /// The file: as given to [`generate_text`], or the solution directory
    /// joined with the file's relative path for [`generate`].
    pub file: PathBuf,
    /// The 1-based line of the problem; 0 when it concerns the whole file.
    pub line: usize,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
}

impl fmt::Display for SkeletonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.message),
            line => write!(f, "{}:{line}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for SkeletonError {}

/// A generated skeleton, not yet written anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skeleton {
    /// Every file's contents, by path relative to the crate.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    /// Every hole, in file order and then line order.
    pub holes: Vec<Hole>,
}

/// How one kind of file writes its markers.
struct Style {
    /// `//` or `#`.
    comment: &'static str,
    /// Whether `// hole:` regions are cut (Rust only: `todo!` is Rust).
    holes: bool,
}

fn style_for(file: &Path) -> Option<Style> {
    match file.extension().and_then(OsStr::to_str)? {
        "rs" => Some(Style {
            comment: "//",
            holes: true,
        }),
        "toml" | "yaml" | "yml" | "sh" | "py" => Some(Style {
            comment: "#",
            holes: false,
        }),
        _ => None,
    }
}

/// A hole and the line of its `// hole:` marker in the solution.
struct Found {
    hole: Hole,
    marker: usize,
}

/// Generates the skeleton of one file from its solution text.
///
/// The comment style is chosen by `file`'s extension (see the module docs);
/// a file of any other kind comes back unchanged. `file` is used for the
/// errors and the holes' `file`.
///
/// # Errors
///
/// With the 1-based line: a hole opened inside another, a hole never closed,
/// `// end hole` without a hole, a hole without a name, a name that cannot
/// be the text of `todo!` (`"`, `\`, `{`, `}`), the same name twice, and a
/// hole whose marker is not followed by a `// TODO:` line.
pub fn generate_text(file: &Path, text: &str) -> Result<(String, Vec<Hole>), SkeletonError> {
    let (text, found) = generate_file(file, text)?;
    Ok((text, found.into_iter().map(|f| f.hole).collect()))
}

/// The hole being cut while lines are read.
struct Open<'t> {
    name: String,
    /// 1-based line of the marker.
    marker: usize,
    indent: &'t str,
    /// Still in the comment lines right after the marker, which stay.
    in_comments: bool,
}

fn generate_file(file: &Path, text: &str) -> Result<(String, Vec<Found>), SkeletonError> {
    let Some(style) = style_for(file) else {
        return Ok((text.to_owned(), Vec::new()));
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut cut = Cutter {
        file,
        out: String::with_capacity(text.len()),
        written: 0,
        found: Vec::new(),
        open: None,
    };
    for (index, &raw) in lines.iter().enumerate() {
        let number = index + 1;
        let (content, ending) = split_ending(raw);
        let trimmed = content.trim();
        let indent = &content[..content.len() - content.trim_start().len()];
        if style.holes {
            if let Some(rest) = trimmed.strip_prefix("// hole:") {
                let next = lines.get(index + 1).map_or("", |l| l.trim());
                cut.open_hole(number, rest.trim(), indent, next)?;
                continue;
            }
            if trimmed == "// end hole" {
                cut.close_hole(number, ending)?;
                continue;
            }
        }
        let skeleton_line = skeleton_line(trimmed, style.comment);
        if let Some(hole) = &mut cut.open {
            if hole.in_comments && trimmed.starts_with("//") && skeleton_line.is_none() {
                cut.emit(raw);
                continue;
            }
            hole.in_comments = false;
            if let Some(code) = skeleton_line {
                cut.emit(&format!("{}{code}{ending}", hole_indent(indent, code)));
            }
            continue;
        }
        if is_solution_only(content, style.comment) {
            continue;
        }
        match skeleton_line {
            Some(code) => cut.emit(&format!("{}{code}{ending}", hole_indent(indent, code))),
            None => cut.emit(raw),
        };
    }
    if let Some(hole) = &cut.open {
        return Err(cut.error(
            hole.marker,
            format!(
                "hole `{}` is never closed: add `// end hole` after its code",
                hole.name
            ),
        ));
    }
    Ok((cut.out, cut.found))
}

/// One file's skeleton while its lines are read: what is written, the
/// holes found, the hole being cut.
struct Cutter<'t> {
    file: &'t Path,
    out: String,
    /// Lines written so far.
    written: usize,
    found: Vec<Found>,
    open: Option<Open<'t>>,
}

impl<'t> Cutter<'t> {
    /// Writes a line; returns its 1-based number in the skeleton.
    fn emit(&mut self, line: &str) -> usize {
        self.out.push_str(line);
        self.written += 1;
        self.written
    }

    fn error(&self, line: usize, message: String) -> SkeletonError {
        SkeletonError {
            file: self.file.to_path_buf(),
            line,
            message,
        }
    }

    /// `// hole: NAME` on line `number`, with the line after it `next`.
    fn open_hole(
        &mut self,
        number: usize,
        name: &str,
        indent: &'t str,
        next: &str,
    ) -> Result<(), SkeletonError> {
        if let Some(outer) = &self.open {
            return Err(self.error(
                number,
                format!(
                    "a hole opens inside hole `{}` (opened on line {}): holes do not nest",
                    outer.name, outer.marker
                ),
            ));
        }
        let name = check_name(name).map_err(|m| self.error(number, m))?;
        if let Some(same) = self.found.iter().find(|f| f.hole.name == name) {
            return Err(self.error(
                number,
                format!(
                    "hole `{name}` is already used on line {}: hole names are unique in a lab",
                    same.marker
                ),
            ));
        }
        if !next.starts_with("// TODO:") {
            return Err(self.error(
                number,
                format!(
                    "hole `{name}` needs a `// TODO:` line right after its marker, telling the student what to write"
                ),
            ));
        }
        self.open = Some(Open {
            name: name.to_owned(),
            marker: number,
            indent,
            in_comments: true,
        });
        Ok(())
    }

    /// `// end hole` on line `number`: the hole's code becomes `todo!()`.
    fn close_hole(&mut self, number: usize, ending: &str) -> Result<(), SkeletonError> {
        let Some(hole) = self.open.take() else {
            return Err(self.error(number, "`// end hole` without an open hole".to_owned()));
        };
        let ending = if ending.is_empty() { "\n" } else { ending };
        let line = self.emit(&format!("{}todo!(\"{}\"){ending}", hole.indent, hole.name));
        self.found.push(Found {
            hole: Hole {
                file: self.file.to_path_buf(),
                line,
                name: hole.name,
            },
            marker: hole.marker,
        });
        Ok(())
    }
}

/// The indentation to write before a `skeleton:` line: none for an empty one.
fn hole_indent<'a>(indent: &'a str, code: &str) -> &'a str {
    if code.is_empty() { "" } else { indent }
}

/// Splits a line from `split_inclusive('\n')` into its text and its ending
/// (`"\n"`, `"\r\n"`, or `""` for a last line without one).
fn split_ending(raw: &str) -> (&str, &str) {
    if let Some(content) = raw.strip_suffix("\r\n") {
        (content, "\r\n")
    } else if let Some(content) = raw.strip_suffix('\n') {
        (content, "\n")
    } else {
        (raw, "")
    }
}

fn check_name(name: &str) -> Result<&str, String> {
    if name.is_empty() {
        return Err("a hole needs a name: `// hole: what the student writes`".to_owned());
    }
    if name.contains(['"', '\\', '{', '}']) {
        return Err(format!(
            "hole name `{name}` may not contain `\"`, `\\`, `{{` or `}}`: it becomes the text of `todo!()`"
        ));
    }
    Ok(name)
}

fn is_solution_only(content: &str, comment: &str) -> bool {
    content
        .trim_end()
        .strip_suffix("solution-only")
        .and_then(|before| before.trim_end().strip_suffix(comment))
        .is_some()
}

/// The code of a `// skeleton: CODE` line (`# skeleton:` outside Rust).
fn skeleton_line<'t>(trimmed: &'t str, comment: &str) -> Option<&'t str> {
    let rest = trimmed.strip_prefix(comment)?.strip_prefix(" skeleton:")?;
    match rest.strip_prefix(' ') {
        Some(code) => Some(code),
        None if rest.is_empty() => Some(""),
        None => None,
    }
}

/// Generates the skeleton of a whole crate.
///
/// Walks `solution_dir` in sorted order, skipping what belongs to the lab
/// only (see the module docs). Text files go through [`generate_text`];
/// files that are not UTF-8 are copied as bytes.
///
/// # Errors
///
/// The first marker error, a hole name used in two files, or a file or
/// directory that could not be read (with line 0).
pub fn generate(solution_dir: &Path) -> Result<Skeleton, SkeletonError> {
    let unreadable = |file: PathBuf, e: io::Error| SkeletonError {
        file,
        line: 0,
        message: format!("cannot read: {e}"),
    };
    let files = crate_files(solution_dir).map_err(|e| unreadable(solution_dir.to_path_buf(), e))?;
    let mut skeleton = Skeleton::default();
    let mut names: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    for relative in files {
        let path = solution_dir.join(&relative);
        let bytes = fs::read(&path).map_err(|e| unreadable(path.clone(), e))?;
        let contents = match String::from_utf8(bytes) {
            Ok(text) => {
                let (text, found) = generate_file(&relative, &text).map_err(|e| SkeletonError {
                    file: solution_dir.join(&e.file),
                    ..e
                })?;
                for Found { hole, marker } in found {
                    if let Some((other, line)) = names.get(&hole.name) {
                        return Err(SkeletonError {
                            file: path,
                            line: marker,
                            message: format!(
                                "hole `{}` is already used in {}:{line}: hole names are unique in a lab",
                                hole.name,
                                other.display()
                            ),
                        });
                    }
                    names.insert(hole.name.clone(), (relative.clone(), marker));
                    skeleton.holes.push(hole);
                }
                text.into_bytes()
            }
            Err(not_text) => not_text.into_bytes(),
        };
        skeleton.files.insert(relative, contents);
    }
    Ok(skeleton)
}

/// Whether a path (relative to a crate) belongs to the lab only, so it is
/// never generated, compared or removed.
fn lab_only(relative: &Path) -> bool {
    let mut names = relative.iter().map(|name| name.to_str().unwrap_or(""));
    let first = names.next().unwrap_or("");
    first == "target"
        || (matches!(
            first,
            "spec.yaml" | "requirements.yaml" | "mutants.yaml" | "hidden.yaml"
        ) && relative.components().count() == 1)
        || first.starts_with('.')
        || names.any(|name| name.starts_with('.'))
}

/// Every file under `root` that is not [`lab_only`], relative to `root`,
/// sorted.
fn crate_files(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    collect_files(root, Path::new(""), &mut files)?;
    Ok(files)
}

fn collect_files(root: &Path, relative: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries = fs::read_dir(root.join(relative))?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = relative.join(entry.file_name());
        if lab_only(&path) {
            continue;
        }
        if fs::metadata(entry.path())?.is_dir() {
            collect_files(root, &path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// One way a committed skeleton differs from what generation produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Generation produces this file; the lab does not have it.
    Missing(PathBuf),
    /// The lab has this file; generation does not produce it.
    Extra(PathBuf),
    /// Both have the file, and they part at `line`.
    Differs {
        /// The file, relative to the crate.
        file: PathBuf,
        /// The 1-based first line that differs.
        line: usize,
        /// That line as generated, or `(end of file)`.
        expected: String,
        /// That line as committed, or `(end of file)`.
        actual: String,
    },
}

impl Drift {
    /// The file concerned, relative to the crate.
    pub fn file(&self) -> &Path {
        match self {
            Drift::Missing(file) | Drift::Extra(file) | Drift::Differs { file, .. } => file,
        }
    }
}

/// Paths are relative to the crate; a caller may prefix the lab directory.
impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Missing(file) => {
                write!(f, "{} is missing: generation produces it", file.display())
            }
            Drift::Extra(file) => write!(
                f,
                "{} is not produced by generation: delete it, or add it to the solution",
                file.display()
            ),
            Drift::Differs {
                file,
                line,
                expected,
                actual,
            } => write!(
                f,
                "{}:{line} differs from what generation produces\n  generated: {expected}\n  committed: {actual}",
                file.display()
            ),
        }
    }
}

const END_OF_FILE: &str = "(end of file)";

/// Compares a generated skeleton with the one committed in `lab_dir`.
///
/// Files that generation does not produce are [`Drift::Extra`], except what
/// belongs to the lab only (`spec.yaml`, `requirements.yaml`, `target/`, dot-files). A missing
/// `lab_dir` makes every file [`Drift::Missing`]. The list is sorted by path
/// and empty when the two agree.
///
/// # Errors
///
/// A file or directory of `lab_dir` that could not be read.
pub fn drift(skeleton: &Skeleton, lab_dir: &Path) -> io::Result<Vec<Drift>> {
    let committed: BTreeSet<PathBuf> = match crate_files(lab_dir) {
        Ok(files) => files.into_iter().collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => return Err(e),
    };
    let mut drifts = Vec::new();
    for (file, generated) in &skeleton.files {
        if !committed.contains(file) {
            drifts.push(Drift::Missing(file.clone()));
            continue;
        }
        let actual = fs::read(lab_dir.join(file))?;
        drifts.extend(first_difference(file, generated, &actual));
    }
    for file in committed {
        if !skeleton.files.contains_key(&file) {
            drifts.push(Drift::Extra(file));
        }
    }
    drifts.sort_by(|a, b| a.file().cmp(b.file()));
    Ok(drifts)
}

/// The first line where two versions of a file part, if they do.
fn first_difference(file: &Path, generated: &[u8], committed: &[u8]) -> Option<Drift> {
    if generated == committed {
        return None;
    }
    let differs = |line, expected, actual| Drift::Differs {
        file: file.to_path_buf(),
        line,
        expected,
        actual,
    };
    let (Ok(generated), Ok(committed)) = (
        std::str::from_utf8(generated),
        std::str::from_utf8(committed),
    ) else {
        let size = |bytes: &[u8]| format!("({} bytes, not text)", bytes.len());
        return Some(differs(1, size(generated), size(committed)));
    };
    let mut ours = generated.split_inclusive('\n');
    let mut theirs = committed.split_inclusive('\n');
    let mut line = 1;
    loop {
        match (ours.next(), theirs.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (a, b) => {
                let (expected, actual) = show_pair(a, b);
                return Some(differs(line, expected, actual));
            }
        }
    }
}

/// Shows two differing lines; when only their endings differ, says how.
fn show_pair(generated: Option<&str>, committed: Option<&str>) -> (String, String) {
    match (generated.map(split_ending), committed.map(split_ending)) {
        (Some((a, ea)), Some((b, eb))) if a == b => {
            let ending = |e: &str| match e {
                "" => " (no newline at end of file)",
                "\r\n" => " (ends with \\r\\n)",
                _ => " (ends with \\n)",
            };
            (format!("{a}{}", ending(ea)), format!("{b}{}", ending(eb)))
        }
        (a, b) => {
            let text = |side: Option<(&str, &str)>| side.map_or(END_OF_FILE, |(t, _)| t).to_owned();
            (text(a), text(b))
        }
    }
}

/// Writes a generated skeleton into `lab_dir`, so that [`drift`] finds none.
///
/// Creates directories as needed, rewrites only files whose contents change
/// (so cargo does not rebuild what did not), and removes files that
/// generation does not produce, with directories left empty by that. What
/// belongs to the lab only (`spec.yaml`, `requirements.yaml`, `target/`, dot-files) is never
/// touched.
///
/// # Errors
///
/// The first file or directory that could not be read, written or removed.
pub fn write(skeleton: &Skeleton, lab_dir: &Path) -> io::Result<()> {
    fs::create_dir_all(lab_dir)?;
    for (file, contents) in &skeleton.files {
        if lab_only(file) {
            continue;
        }
        let path = lab_dir.join(file);
        if fs::read(&path).is_ok_and(|old| old == *contents) {
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, contents)?;
    }
    for file in crate_files(lab_dir)? {
        if skeleton.files.contains_key(&file) {
            continue;
        }
        fs::remove_file(lab_dir.join(&file))?;
        let mut dir = file.parent();
        while let Some(relative) = dir.filter(|d| !d.as_os_str().is_empty()) {
            let path = lab_dir.join(relative);
            if fs::read_dir(&path)?.next().is_some() {
                break;
            }
            fs::remove_dir(&path)?;
            dir = relative.parent();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
