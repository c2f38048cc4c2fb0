//! The autograder set-ups of `autograder/`. The CI files for student
//! repositories (`github/grade.yml`, `gitlab/grade.gitlab-ci.yml`) run only
//! commands that exist: every grader command line parses with the grader's
//! own options and names a lab of the kit, every cargo option exists, every
//! path of the kit they name is there (and none is in `solutions/`, which
//! students do not have), and the report they keep is the one the grader
//! writes. Gradescope's `run_autograder` grades what it is given and always
//! writes a `results.json` (`.ci/gradescope` runs the whole set-up, zip
//! and release build included).

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{grader, root, run};
use serde_yaml::Value;

/// A command of a script: its words, after quotes and variables.
#[derive(Debug, Clone)]
struct Cmd {
    words: Vec<String>,
}

/// Splits shell script text into commands: `;`, `&&`, `||`, `|`, newlines
/// and braces end a command; quotes and backslashes work as in sh;
/// `$NAME`, `${NAME}` and `${{ env.NAME }}` take their value from `env`
/// (unknown ones stay as written); redirections are dropped with their
/// target. Enough for the scripts of a CI file, which keep to this.
fn commands(script: &str, env: &BTreeMap<String, String>) -> Vec<Cmd> {
    let script = expand_expressions(script, env);
    let mut cmds = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut redirect = false;
    let mut chars = script.chars().peekable();
    let end_word = |word: &mut Option<String>, words: &mut Vec<String>, redirect: &mut bool| {
        if let Some(w) = word.take() {
            if *redirect {
                *redirect = false;
            } else {
                words.push(w);
            }
        }
    };
    let end_cmd = |words: &mut Vec<String>, cmds: &mut Vec<Cmd>| {
        if !words.is_empty() {
            cmds.push(Cmd {
                words: std::mem::take(words),
            });
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '#' if word.is_none() => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                end_cmd(&mut words, &mut cmds);
            }
            '\\' if chars.peek() == Some(&'\n') => {
                chars.next();
            }
            '\\' => word.get_or_insert_default().extend(chars.next()),
            '\'' => {
                let w = word.get_or_insert_default();
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    w.push(d);
                }
            }
            '"' => {
                let mut quoted = String::new();
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' => quoted.extend(chars.next()),
                        _ => quoted.push(d),
                    }
                }
                word.get_or_insert_default()
                    .push_str(&expand_variables(&quoted, env));
            }
            '$' => {
                let mut name = String::new();
                if chars.peek() == Some(&'{') {
                    chars.next();
                    for d in chars.by_ref() {
                        if d == '}' {
                            break;
                        }
                        name.push(d);
                    }
                } else {
                    while let Some(&d) = chars.peek() {
                        if !(d.is_ascii_alphanumeric() || d == '_') {
                            break;
                        }
                        name.push(d);
                        chars.next();
                    }
                }
                let value = env.get(&name).cloned().unwrap_or(format!("${name}"));
                word.get_or_insert_default().push_str(&value);
            }
            '>' | '<' => {
                end_word(&mut word, &mut words, &mut redirect);
                if chars.peek() == Some(&'>') {
                    chars.next();
                }
                redirect = true;
            }
            ';' | '\n' | '|' | '&' | '{' | '}' if word.is_none() || c != '{' && c != '}' => {
                end_word(&mut word, &mut words, &mut redirect);
                end_cmd(&mut words, &mut cmds);
            }
            c if c.is_whitespace() => end_word(&mut word, &mut words, &mut redirect),
            c => word.get_or_insert_default().push(c),
        }
    }
    end_word(&mut word, &mut words, &mut redirect);
    end_cmd(&mut words, &mut cmds);
    // `if`, `then`, `!` and the like come before the program.
    for c in &mut cmds {
        while c.words.first().is_some_and(|w| {
            ["if", "then", "else", "elif", "do", "!", "time"].contains(&w.as_str())
        }) {
            c.words.remove(0);
        }
    }
    cmds.retain(|c| !c.words.is_empty() && !["fi", "done"].contains(&c.words[0].as_str()));
    cmds
}

/// `${{ env.NAME }}` replaced by its value; other expressions stay.
fn expand_expressions(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("}}") else {
            break;
        };
        let expr = rest[i + 3..i + j].trim();
        match expr.strip_prefix("env.").and_then(|n| env.get(n)) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[i..i + j + 2]),
        }
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    out
}

/// `$NAME` and `${NAME}` in double-quoted text.
fn expand_variables(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut name = String::new();
        if chars.peek() == Some(&'{') {
            chars.next();
            for d in chars.by_ref() {
                if d == '}' {
                    break;
                }
                name.push(d);
            }
        } else {
            while let Some(&d) = chars.peek() {
                if !(d.is_ascii_alphanumeric() || d == '_') {
                    break;
                }
                name.push(d);
                chars.next();
            }
        }
        out.push_str(&env.get(&name).cloned().unwrap_or(format!("${name}")));
    }
    out
}

/// The string entries of a YAML map, as variables.
fn vars(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(m) = v.as_mapping() {
        for (k, v) in m {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            out.insert(k.as_str().unwrap_or_default().to_string(), value);
        }
    }
    out
}

/// Whether `pattern` (a path relative to the kit, `*` matching within one
/// component) names something in the kit.
fn exists_in_kit(pattern: &str) -> bool {
    fn matches(pattern: &str, name: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == name,
            Some((head, tail)) => {
                name.starts_with(head)
                    && (0..=name.len() - head.len()).any(|k| matches(tail, &name[head.len() + k..]))
            }
        }
    }
    let mut dirs = vec![root()];
    for part in pattern.trim_end_matches('/').split('/') {
        let mut next = Vec::new();
        for d in &dirs {
            if !part.contains('*') {
                if d.join(part).exists() {
                    next.push(d.join(part));
                }
                continue;
            }
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                if matches(part, &e.file_name().to_string_lossy()) {
                    next.push(e.path());
                }
            }
        }
        dirs = next;
    }
    !dirs.is_empty()
}

/// The kit's own top-level names: a word that starts with one is a path of
/// the kit and must exist.
const KIT_DIRS: [&str; 5] = ["labs/", "grader/", "specs/", "autograder/", "solutions/"];

/// Problems with one kit path a CI file names.
fn check_kit_path(word: &str, problems: &mut Vec<String>) {
    let path = word.trim_start_matches("./");
    let kit_path = KIT_DIRS
        .iter()
        .any(|d| path.starts_with(d) || path == d.trim_end_matches('/'));
    if !kit_path {
        return;
    }
    if path.starts_with("solutions") {
        problems.push(format!(
            "`{word}` is in solutions/, which students do not have"
        ));
    } else if !exists_in_kit(path) {
        problems.push(format!("`{word}` is not a path of the kit"));
    }
}

/// The long options of `cargo SUBCOMMAND --help`.
fn cargo_help(sub: &str) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([sub, "--help"])
        .output()
        .expect("cargo runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a CI file's scripts do, checked: every problem found.
#[derive(Debug, Default)]
struct Checked {
    problems: Vec<String>,
    /// The `--output` of each grader command.
    outputs: Vec<String>,
    /// How many grader commands there were.
    graders: usize,
}

/// Checks `cmds`, the commands of one CI file in order.
fn check_commands(cmds: &[Cmd]) -> Checked {
    let mut c = Checked::default();
    let mut made: Vec<String> = Vec::new();
    let mut installed: Vec<PathBuf> = Vec::new();
    for cmd in cmds {
        let w = &cmd.words;
        for word in &w[1..] {
            // `--path=grader` as well as `--path grader`.
            let value = word.split_once('=').map_or(word.as_str(), |(_, v)| v);
            check_kit_path(value, &mut c.problems);
        }
        let program = w[0].as_str();
        let base = Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if program == "mkdir" {
            made.extend(w[1..].iter().filter(|a| !a.starts_with('-')).cloned());
        } else if program == "cargo" {
            let sub = w.get(1).cloned().unwrap_or_default();
            let help = cargo_help(&sub);
            for opt in w[2..].iter().filter(|a| a.starts_with("--")) {
                let opt = opt.split('=').next().unwrap();
                if !help.contains(&format!("{opt} ")) && !help.contains(&format!("{opt}\n")) {
                    c.problems
                        .push(format!("`cargo {sub}` has no option `{opt}`: {w:?}"));
                }
            }
            let value_of = |opt: &str| {
                w.iter()
                    .position(|a| a == opt)
                    .and_then(|i| w.get(i + 1))
                    .cloned()
            };
            if sub == "install" {
                match value_of("--path") {
                    Some(p) if root().join(&p).join("Cargo.toml").is_file() => {
                        let manifest =
                            std::fs::read_to_string(root().join(&p).join("Cargo.toml")).unwrap();
                        if !manifest.contains("\nname = \"grader\"") {
                            c.problems
                                .push(format!("`--path {p}` is not the grader's crate"));
                        }
                    }
                    other => c.problems.push(format!(
                        "`cargo install` without the grader's --path: {other:?}"
                    )),
                }
                let bin = value_of("--root").map_or_else(
                    || PathBuf::from("grader"),
                    |r| Path::new(&r).join("bin/grader"),
                );
                installed.push(bin);
            }
        } else if base == "grader" {
            c.graders += 1;
            if !installed.iter().any(|b| b == Path::new(program)) {
                c.problems.push(format!(
                    "`{program}` runs before any `cargo install` put the grader there"
                ));
            }
            let args = &w[1..];
            let mut with_help = args.to_vec();
            with_help.push("--help".into());
            let (code, _, err) = run(grader().args(&with_help));
            if code != 0 {
                c.problems
                    .push(format!("the grader refuses {args:?}:\n{err}"));
            }
            if let Some(lab) = args.iter().find(|a| !a.starts_with('-'))
                && lab != "all"
                && !exists_in_kit(&format!("labs/{lab}-*/spec.yaml"))
            {
                c.problems
                    .push(format!("there is no lab `{lab}` in the kit"));
            }
            if let Some(i) = args.iter().position(|a| a == "--output") {
                let out = args[i + 1].clone();
                let dir = Path::new(&out)
                    .parent()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if !dir.is_empty() && !made.iter().any(|m| m.trim_end_matches('/') == dir) {
                    c.problems.push(format!(
                        "nothing makes `{dir}` before the grader writes `{out}`"
                    ));
                }
                c.outputs.push(out);
            }
        }
    }
    c
}

/// A directory as a CI file writes it: no `./`, no trailing `/`.
fn dir(s: &str) -> String {
    s.trim_start_matches("./").trim_end_matches('/').to_string()
}

/// Every problem of a GitHub workflow.
fn check_github(text: &str) -> Vec<String> {
    let doc: Value = serde_yaml::from_str(text).expect("the workflow is YAML");
    let mut problems = Vec::new();
    let on = &doc["on"];
    if on.get("push").is_none() {
        problems.push("the workflow does not run on push".to_string());
    }
    let mut env = vars(&doc["env"]);
    let jobs = doc["jobs"].as_mapping().expect("jobs");
    for (_, job) in jobs {
        env.extend(vars(&job["env"]));
        let mut cmds = Vec::new();
        let mut uploads = Vec::new();
        let mut junit_reads = Vec::new();
        for step in job["steps"].as_sequence().expect("steps") {
            let mut env = env.clone();
            env.extend(vars(&step["env"]));
            if let Some(script) = step["run"].as_str() {
                cmds.extend(commands(script, &env));
            }
            let with = &step["with"];
            if let Some(uses) = step["uses"].as_str() {
                if !uses.contains('@') {
                    problems.push(format!("`{uses}` names no version"));
                }
                if uses.starts_with("actions/upload-artifact@") {
                    uploads.extend(with["path"].as_str().map(dir));
                    if step["if"].as_str() != Some("always()") {
                        problems.push("the report is not kept when the grading fails".into());
                    }
                }
                if uses.starts_with("mikepenz/action-junit-report@") {
                    junit_reads.extend(with["report_paths"].as_str().map(str::to_string));
                }
                if uses.starts_with("actions/cache@") {
                    for p in with["path"].as_str().unwrap_or("").lines() {
                        let parent = Path::new(p.trim()).parent().map(Path::to_path_buf);
                        if let Some(parent) = parent.filter(|p| !p.as_os_str().is_empty()) {
                            check_kit_path(&format!("{}/", parent.display()), &mut problems);
                        }
                    }
                }
            }
        }
        let c = check_commands(&cmds);
        problems.extend(c.problems);
        if c.graders == 0 {
            problems.push("no step runs the grader".into());
        }
        for out in &c.outputs {
            let parent = dir(&Path::new(out).parent().unwrap().to_string_lossy());
            if !uploads.contains(&parent) && !uploads.contains(&dir(out)) {
                problems.push(format!("no artifact keeps `{out}` (kept: {uploads:?})"));
            }
            if !junit_reads.contains(out) {
                problems.push(format!("no test report reads `{out}` ({junit_reads:?})"));
            }
        }
    }
    problems
}

/// Every problem of a GitLab CI file.
fn check_gitlab(text: &str) -> Vec<String> {
    let doc: Value = serde_yaml::from_str(text).expect("the CI file is YAML");
    let mut problems = Vec::new();
    let job = &doc["grade"];
    let env = vars(&job["variables"]);
    let script: Vec<&str> = job["script"]
        .as_sequence()
        .expect("a script")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let cmds = commands(&script.join("\n"), &env);
    let c = check_commands(&cmds);
    problems.extend(c.problems);
    if c.graders == 0 {
        problems.push("the script does not run the grader".into());
    }
    let artifacts = &job["artifacts"];
    if artifacts["when"].as_str() != Some("always") {
        problems.push("the report is not kept when the grading fails".into());
    }
    let kept: Vec<String> = artifacts["paths"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(dir)
        .collect();
    for out in &c.outputs {
        let parent = dir(&Path::new(out).parent().unwrap().to_string_lossy());
        if !kept.contains(&parent) {
            problems.push(format!("no artifact keeps `{out}`"));
        }
        if artifacts["reports"]["junit"].as_str() != Some(out.as_str()) {
            problems.push(format!("the junit report is not `{out}`"));
        }
    }
    for p in job["cache"]["paths"].as_sequence().into_iter().flatten() {
        let p = p.as_str().unwrap_or("");
        if let Some(parent) = Path::new(p).parent().filter(|p| !p.as_os_str().is_empty()) {
            check_kit_path(&format!("{}/", parent.display()), &mut problems);
        }
    }
    problems
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The GitHub workflow runs the grader with options it has, on a lab of
/// the kit, and keeps the JUnit report it writes.
#[test]
fn the_github_workflow_runs_what_exists() {
    let text = read("autograder/github/grade.yml");
    let problems = check_github(&text);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The GitLab CI file does the same.
#[test]
fn the_gitlab_ci_file_runs_what_exists() {
    let text = read("autograder/gitlab/grade.gitlab-ci.yml");
    let problems = check_gitlab(&text);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checks catch what they are for: a mistyped option or value, an
/// unknown lab, a path that is not in a student's repository, a report
/// nobody keeps.
#[test]
fn the_checks_catch_broken_ci_files() {
    let good = read("autograder/github/grade.yml");
    for (from, to, want) in [
        ("--format junit", "--format xml", "the grader refuses"),
        ("--format junit", "--formt junit", "the grader refuses"),
        ("LAB: hw1", "LAB: hw9", "there is no lab `hw9`"),
        (
            "--path grader",
            "--path grader-x",
            "without the grader's --path",
        ),
        ("--locked", "--lockd", "has no option `--lockd`"),
        (
            "mkdir -p grader-report",
            "mkdir -p reports",
            "nothing makes `grader-report`",
        ),
        (
            "path: grader-report/",
            "path: reports/",
            "no artifact keeps",
        ),
        (
            "            labs/*/target",
            "            solutions/*/target",
            "students do not have",
        ),
        (
            "cargo install",
            "cargo build",
            "runs before any `cargo install`",
        ),
    ] {
        assert!(good.contains(from), "`{from}` is not in the workflow");
        let problems = check_github(&good.replacen(from, to, 1)).join("\n");
        assert!(
            problems.contains(want),
            "with `{to}` for `{from}`, expected `{want}` among:\n{problems}"
        );
    }
    let good = read("autograder/gitlab/grade.gitlab-ci.yml");
    for (from, to, want) in [
        ("--format junit", "--format junt", "the grader refuses"),
        (
            "junit: grader-report/junit.xml",
            "junit: junit.xml",
            "the junit report is not",
        ),
        (
            "--root .grader",
            "--root .tools",
            "runs before any `cargo install`",
        ),
    ] {
        assert!(good.contains(from), "`{from}` is not in the CI file");
        let problems = check_gitlab(&good.replacen(from, to, 1)).join("\n");
        assert!(
            problems.contains(want),
            "with `{to}` for `{from}`, expected `{want}` among:\n{problems}"
        );
    }
}

/// The shell reading is what the checks rely on.
#[test]
fn scripts_are_read_as_a_shell_reads_them() {
    let env = BTreeMap::from([("LAB".to_string(), "hw1".to_string())]);
    let cmds = commands(
        "mkdir -p out && grader \"$LAB\" --output out/x.xml | tee out/r.txt # done\n\
         if [ -f a ]; then { echo '```'; cat b; } >> \"$GITHUB_STEP_SUMMARY\"; fi\n\
         cargo install \\\n  --path grader ${{ env.LAB }}",
        &env,
    );
    let words: Vec<Vec<&str>> = cmds
        .iter()
        .map(|c| c.words.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        words,
        vec![
            vec!["mkdir", "-p", "out"],
            vec!["grader", "hw1", "--output", "out/x.xml"],
            vec!["tee", "out/r.txt"],
            vec!["[", "-f", "a", "]"],
            vec!["echo", "```"],
            vec!["cat", "b"],
            vec!["cargo", "install", "--path", "grader", "hw1"],
        ]
    );
}

/// Runs `autograder/gradescope/run_autograder` on `submission` (files to
/// copy, and whether each is executable), with a kit of hw1's `echo` and
/// the example hidden tests as the source; returns results.json and the
/// script's output.
fn run_autograder(name: &str, submission: &[(&str, &Path, bool)]) -> (serde_json::Value, String) {
    let kit = common::kit_with_spec(name, &common::hw1_spec_with(&["echo"]));
    let hidden = kit.0.join("solutions/hw1-udp-echo/hidden.yaml");
    std::fs::create_dir_all(hidden.parent().unwrap()).unwrap();
    std::fs::copy(root().join("autograder/hidden-tests.example.yaml"), &hidden).unwrap();
    let ag = common::TempDir::new(&format!("{name}-root"));
    for (to, from, executable) in submission {
        let to = ag.0.join("submission").join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, &to).unwrap();
        let mode = if *executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::create_dir_all(ag.0.join("submission")).unwrap();
    let out = Command::new("bash")
        .arg(root().join("autograder/gradescope/run_autograder"))
        .env("AUTOGRADER_ROOT", &ag.0)
        .env("AUTOGRADER_SOURCE", &kit.0)
        .env("AUTOGRADER_GRADER", assert_cmd::cargo::cargo_bin("grader"))
        .env("LAB", "hw1")
        .env_remove("CARGO")
        .output()
        .expect("bash runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{log}");
    let text = std::fs::read_to_string(ag.0.join("results/results.json"))
        .unwrap_or_else(|e| panic!("no results.json ({e}):\n{log}"));
    let doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    (doc, log)
}

/// Executables in a folder, one of them without its execute bit (as an
/// upload may leave it), are graded with the hidden tests: full score, the
/// hidden test hidden.
#[test]
fn run_autograder_grades_executables_with_the_hidden_tests() {
    let python = common::other_language("hw1-python");
    let (doc, log) = run_autograder(
        "ag-python",
        &[
            ("my-hw1/server", &python.join("server"), false),
            ("my-hw1/client", &python.join("client"), true),
            ("my-hw1/hw1kit.py", &python.join("hw1kit.py"), false),
        ],
    );
    let tests = doc["tests"].as_array().unwrap();
    let names: Vec<&str> = tests.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hw1 echo", "hw1 keys-of-seed-1"], "{log}");
    assert_eq!(tests[1]["visibility"], "hidden", "{doc:#}");
    assert_eq!(doc["score"].as_f64(), Some(3.0), "{doc:#}\n{log}");
    assert!(
        log.contains("grading the executables in my-hw1 of the submission"),
        "{log}"
    );
    assert!(log.contains("\nscore 3/3\n"), "{log}");
}

/// A submission that cannot be graded still gets a results.json: 0 points
/// and what went wrong.
#[test]
fn run_autograder_always_writes_results() {
    let (doc, log) = run_autograder("ag-empty", &[]);
    assert_eq!(doc["score"].as_f64(), Some(0.0), "{doc:#}");
    let output = doc["output"].as_str().unwrap();
    assert!(
        output.starts_with("the submission is empty\nSubmit the lab's crate"),
        "{output}\n{log}"
    );

    let python = common::other_language("hw1-python");
    let (doc, log) = run_autograder("ag-half", &[("server", &python.join("server"), true)]);
    assert_eq!(doc["score"].as_f64(), Some(0.0), "{doc:#}");
    let output = doc["output"].as_str().unwrap();
    assert!(
        output.contains("client is missing: lab hw1 needs the executables server, client"),
        "{output}\n{log}"
    );
}
