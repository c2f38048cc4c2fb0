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
//! `target/`, `spec.yaml`, `mutants.yaml` and `hidden.yaml` at the top of
//! a crate, and every file or directory whose name starts with `.`, are
//! neither generated, nor compared, nor removed: they are build output,
//! the grader's spec, the instructor's broken programs (which show
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
        || (matches!(first, "spec.yaml" | "mutants.yaml" | "hidden.yaml")
            && relative.components().count() == 1)
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
/// belongs to the lab only (`spec.yaml`, `target/`, dot-files). A missing
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
/// belongs to the lab only (`spec.yaml`, `target/`, dot-files) is never
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
mod tests {
    use super::*;

    const SOLUTION: &str = "\
fn bind_server(port: u16) -> nix::Result<OwnedFd> {
    // hole: bind the server socket
    // TODO: Create a UDP socket with socket(2) and bind it to 127.0.0.1:`port`
    //       with bind(2). Return the socket.
    let fd = socket(...)?;
    bind(...)?;
    Ok(fd)
    // end hole
}
";

    const SKELETON: &str = "\
fn bind_server(port: u16) -> nix::Result<OwnedFd> {
    // TODO: Create a UDP socket with socket(2) and bind it to 127.0.0.1:`port`
    //       with bind(2). Return the socket.
    todo!(\"bind the server socket\")
}
";

    fn rs(text: &str) -> Result<(String, Vec<Hole>), SkeletonError> {
        generate_text(Path::new("src/main.rs"), text)
    }

    /// The error's line and message, for the error-case tests.
    fn rs_error(text: &str) -> (usize, String) {
        let e = rs(text).unwrap_err();
        assert_eq!(e.file, Path::new("src/main.rs"));
        (e.line, e.message)
    }

    #[test]
    fn hole_becomes_todo_with_its_comments() {
        let (text, holes) = rs(SOLUTION).unwrap();
        assert_eq!(text, SKELETON);
        assert_eq!(
            holes,
            vec![Hole {
                file: "src/main.rs".into(),
                line: 4,
                name: "bind the server socket".into(),
            }]
        );
    }

    #[test]
    fn todo_takes_the_marker_indentation_and_code_outside_holes_stays() {
        let solution = "\
mod a {
        // hole: deep
        // TODO: fill in
    x();
    // end hole
}
// hole: top
// TODO: more
y();
// end hole
";
        let (text, holes) = rs(solution).unwrap();
        assert_eq!(
            text,
            "mod a {\n        // TODO: fill in\n        todo!(\"deep\")\n}\n// TODO: more\ntodo!(\"top\")\n"
        );
        assert_eq!(holes.iter().map(|h| h.line).collect::<Vec<_>>(), [3, 6]);
    }

    #[test]
    fn only_the_comments_right_after_the_marker_stay() {
        let solution = "    // hole: h
    // TODO: one
    // two
    let a = 1;
    // a comment in the solution's code
    // end hole
";
        let (text, _) = rs(solution).unwrap();
        assert_eq!(text, "    // TODO: one\n    // two\n    todo!(\"h\")\n");
    }

    #[test]
    fn skeleton_lines_inside_a_hole_come_before_the_todo() {
        let solution = "    // hole: h
    // TODO: use the port
    // skeleton: let _ = port;
    send(port);
    // end hole
";
        let (text, _) = rs(solution).unwrap();
        assert_eq!(
            text,
            "    // TODO: use the port\n    let _ = port;\n    todo!(\"h\")\n"
        );
    }

    #[test]
    fn solution_only_and_skeleton_lines_in_rust() {
        let solution = "\
use std::net::UdpSocket; // solution-only
    // skeleton: #[allow(unused)]
fn main() {}
// skeleton:
// solution-only is not at the end here
";
        let (text, holes) = rs(solution).unwrap();
        assert_eq!(
            text,
            "    #[allow(unused)]\nfn main() {}\n\n// solution-only is not at the end here\n"
        );
        assert!(holes.is_empty());
    }

    #[test]
    fn solution_only_and_skeleton_lines_in_toml() {
        let solution = "\
[dependencies]
nix = { version = \"0.29\", features = [\"socket\"] }
rand = \"0.8\" # solution-only
  # skeleton: handout = { path = \"../handout\" }
// hole: not a hole in toml
";
        let (text, holes) = generate_text(Path::new("Cargo.toml"), solution).unwrap();
        assert_eq!(
            text,
            "[dependencies]\nnix = { version = \"0.29\", features = [\"socket\"] }\n  \
             handout = { path = \"../handout\" }\n// hole: not a hole in toml\n"
        );
        assert!(holes.is_empty());
    }

    #[test]
    fn other_files_are_unchanged() {
        let readme = "# skeleton: a heading\nline # solution-only\n";
        let (text, _) = generate_text(Path::new("README.md"), readme).unwrap();
        assert_eq!(text, readme);
    }

    #[test]
    fn line_endings_are_kept() {
        let solution = "a\r\n// hole: h\r\n// TODO: t\r\nx\r\n// end hole\r\nb";
        let (text, _) = rs(solution).unwrap();
        assert_eq!(text, "a\r\n// TODO: t\r\ntodo!(\"h\")\r\nb");
        let (text, _) = rs("// hole: h\n// TODO: t\n// end hole").unwrap();
        assert_eq!(text, "// TODO: t\ntodo!(\"h\")\n");
    }

    #[test]
    fn nested_hole_is_an_error() {
        let (line, message) = rs_error("// hole: a\n// TODO: t\n  // hole: b\n// end hole\n");
        assert_eq!(line, 3);
        assert!(
            message.contains("inside hole `a` (opened on line 1)"),
            "{message}"
        );
    }

    #[test]
    fn unclosed_hole_is_an_error_at_its_marker() {
        let (line, message) = rs_error("fn f() {\n  // hole: a\n  // TODO: t\n  x\n}\n");
        assert_eq!(
            (line, message.as_str()),
            (
                2,
                "hole `a` is never closed: add `// end hole` after its code"
            )
        );
    }

    #[test]
    fn end_without_hole_is_an_error() {
        let (line, message) = rs_error("a\nb\n  // end hole\n");
        assert_eq!(
            (line, message.as_str()),
            (3, "`// end hole` without an open hole")
        );
    }

    #[test]
    fn bad_names_are_errors() {
        let (line, message) = rs_error("x\n// hole:   \n// TODO: t\n// end hole\n");
        assert_eq!(line, 2);
        assert!(message.starts_with("a hole needs a name"), "{message}");
        for name in ["say \"hi\"", "a\\b", "{x}"] {
            let (line, message) = rs_error(&format!("// hole: {name}\n// TODO: t\n// end hole\n"));
            assert_eq!(line, 1);
            assert!(message.contains("may not contain"), "{message}");
        }
    }

    #[test]
    fn same_name_twice_is_an_error() {
        let twice = "// hole: a\n// TODO: t\n// end hole\n\n// hole: a\n// TODO: t\n// end hole\n";
        let (line, message) = rs_error(twice);
        assert_eq!(line, 5);
        assert!(message.contains("already used on line 1"), "{message}");
    }

    #[test]
    fn hole_without_todo_is_an_error() {
        for text in [
            "f();\n// hole: a\nx();\n// end hole\n",
            "f();\n// hole: a\n// just a comment\n// end hole\n",
            "f();\n// hole: a\n// end hole\n",
        ] {
            let (line, message) = rs_error(text);
            assert_eq!(line, 2);
            assert!(message.contains("needs a `// TODO:` line"), "{message}");
        }
    }

    #[test]
    fn error_display_has_file_and_line() {
        let e = rs("// end hole\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "src/main.rs:1: `// end hole` without an open hole"
        );
    }

    /// A directory under the system's temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("grader-skeleton-{}-{test}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn put(&self, relative: &str, contents: &[u8]) {
            let path = self.0.join(relative);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A small solution crate: code with a hole, a manifest, a binary file,
    /// and things generation must skip.
    fn solution(test: &str) -> TempDir {
        let dir = TempDir::new(test);
        dir.put("solution/src/main.rs", SOLUTION.as_bytes());
        dir.put(
            "solution/src/lib.rs",
            b"// hole: other\n// TODO: t\nx\n// end hole\n",
        );
        dir.put(
            "solution/Cargo.toml",
            b"[package]\nname = \"hw1\"\nrand = \"1\" # solution-only\n",
        );
        dir.put("solution/data.bin", &[0xff, 0xfe, 0x00]);
        dir.put("solution/target/debug/hw1", b"binary");
        dir.put("solution/.gitignore", b"target\n");
        dir.put("solution/spec.yaml", b"lab: hw1\n");
        dir.put("solution/mutants.yaml", b"mutants: []\n");
        dir.put("solution/hidden.yaml", b"lab: hw1\ntests: []\n");
        dir
    }

    #[test]
    fn generate_walks_the_crate_in_order() {
        let dir = solution("generate");
        let skeleton = generate(&dir.0.join("solution")).unwrap();
        let files: Vec<&Path> = skeleton.files.keys().map(PathBuf::as_path).collect();
        assert_eq!(
            files,
            [
                Path::new("Cargo.toml"),
                Path::new("data.bin"),
                Path::new("src/lib.rs"),
                Path::new("src/main.rs")
            ]
        );
        assert_eq!(
            skeleton.files[Path::new("src/main.rs")],
            SKELETON.as_bytes()
        );
        assert_eq!(
            skeleton.files[Path::new("Cargo.toml")],
            b"[package]\nname = \"hw1\"\n"
        );
        assert_eq!(skeleton.files[Path::new("data.bin")], [0xff, 0xfe, 0x00]);
        let holes: Vec<(&Path, &str)> = skeleton
            .holes
            .iter()
            .map(|h| (h.file.as_path(), h.name.as_str()))
            .collect();
        assert_eq!(
            holes,
            [
                (Path::new("src/lib.rs"), "other"),
                (Path::new("src/main.rs"), "bind the server socket")
            ]
        );
    }

    #[test]
    fn generate_rejects_a_name_used_in_two_files() {
        let dir = solution("duplicate");
        dir.put(
            "solution/src/net.rs",
            b"\n// hole: other\n// TODO: t\n// end hole\n",
        );
        let e = generate(&dir.0.join("solution")).unwrap_err();
        assert_eq!(e.file, dir.0.join("solution/src/net.rs"));
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("already used in src/lib.rs:1"),
            "{}",
            e.message
        );
    }

    #[test]
    fn generate_reports_errors_with_the_full_path() {
        let dir = solution("error-path");
        dir.put("solution/src/bad.rs", b"// end hole\n");
        let e = generate(&dir.0.join("solution")).unwrap_err();
        assert_eq!(e.file, dir.0.join("solution/src/bad.rs"));
        assert_eq!(e.line, 1);
    }

    #[test]
    fn written_skeleton_has_no_drift_and_keeps_lab_files() {
        let dir = solution("in-sync");
        let skeleton = generate(&dir.0.join("solution")).unwrap();
        let lab = dir.0.join("lab");
        dir.put("lab/spec.yaml", b"lab: hw1\n");
        dir.put("lab/target/debug/hw1", b"binary");
        dir.put("lab/.gitignore", b"target\n");
        assert_eq!(drift(&skeleton, &lab).unwrap().len(), skeleton.files.len());
        write(&skeleton, &lab).unwrap();
        assert_eq!(drift(&skeleton, &lab).unwrap(), []);
        assert_eq!(fs::read(lab.join("spec.yaml")).unwrap(), b"lab: hw1\n");
        assert!(lab.join("target/debug/hw1").exists());
        assert!(lab.join(".gitignore").exists());
    }

    #[test]
    fn drift_finds_changed_missing_and_extra_files() {
        let dir = solution("drift");
        let skeleton = generate(&dir.0.join("solution")).unwrap();
        let lab = dir.0.join("lab");
        write(&skeleton, &lab).unwrap();
        let edited = SKELETON.replace("todo!(\"bind the server socket\")", "todo!()");
        dir.put("lab/src/main.rs", edited.as_bytes());
        fs::remove_file(lab.join("src/lib.rs")).unwrap();
        dir.put("lab/src/extra/notes.rs", b"// mine\n");
        dir.put("lab/spec.yaml", b"changed: yes\n");
        let drifts = drift(&skeleton, &lab).unwrap();
        assert_eq!(
            drifts,
            [
                Drift::Extra("src/extra/notes.rs".into()),
                Drift::Missing("src/lib.rs".into()),
                Drift::Differs {
                    file: "src/main.rs".into(),
                    line: 4,
                    expected: "    todo!(\"bind the server socket\")".into(),
                    actual: "    todo!()".into(),
                },
            ]
        );
        assert_eq!(
            drifts[2].to_string(),
            "src/main.rs:4 differs from what generation produces\n  \
             generated:     todo!(\"bind the server socket\")\n  \
             committed:     todo!()"
        );
        assert_eq!(
            drifts[1].to_string(),
            "src/lib.rs is missing: generation produces it"
        );

        write(&skeleton, &lab).unwrap();
        assert_eq!(drift(&skeleton, &lab).unwrap(), []);
        assert!(
            !lab.join("src/extra").exists(),
            "the emptied directory is removed"
        );
        assert_eq!(fs::read(lab.join("spec.yaml")).unwrap(), b"changed: yes\n");
    }

    #[test]
    fn drift_of_a_missing_lab_lists_every_file() {
        let dir = solution("no-lab");
        let skeleton = generate(&dir.0.join("solution")).unwrap();
        let drifts = drift(&skeleton, &dir.0.join("nowhere")).unwrap();
        assert!(drifts.iter().all(|d| matches!(d, Drift::Missing(_))));
        assert_eq!(drifts.len(), 4);
    }

    #[test]
    fn difference_in_line_endings_is_spelt_out() {
        let d = first_difference(Path::new("a.rs"), b"x\ny\n", b"x\ny").unwrap();
        assert_eq!(
            d,
            Drift::Differs {
                file: "a.rs".into(),
                line: 2,
                expected: "y (ends with \\n)".into(),
                actual: "y (no newline at end of file)".into(),
            }
        );
        let d = first_difference(Path::new("a.rs"), b"x\n", b"x\nmore\n").unwrap();
        assert!(
            matches!(d, Drift::Differs { line: 2, ref expected, .. } if expected == END_OF_FILE)
        );
    }
}
