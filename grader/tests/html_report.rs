//! The HTML report renders in a real browser: headless Chromium opens the
//! page from a file, with no server, and its rendered DOM holds every test
//! and one drawn sequence diagram per failing run, with an arrow per
//! datagram; its screenshot is a real picture, not an empty page.
//!
//! Chromium comes from the distribution's packages: if it is not on PATH,
//! the test installs it where it can (as root, with apt-get, as CI runs),
//! and otherwise says it is skipped, and why, on the terminal. Every run
//! of the browser is killed, with all it started, after
//! [`BROWSER_TIMEOUT`].
//!
//! Set `HTML_REPORT_SCREENSHOT=FILE.png` to keep the screenshot, and the
//! page as `FILE.html`, and look at them.

mod common;

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use common::{TempDir, root};
use grader::judge::{Check, Failure, Kind, Place, Status, Verdict};
use grader::kit::Source;
use grader::report::{LabResult, Results, TestResult, TestRun, html};
use grader::run::clock::Clock;
use grader::run::record::{Datagram, Ended, Event, Fate, Line, NodeRecord, Record, Traffic, What};
use grader::spec::{LabSpec, Stream};
use handout::{Message, MsgType};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How long one run of the browser may take before it is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

/// The names Chromium goes by on PATH.
const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// Headless, as root in a container, and quiet: nothing fetched from the
/// network, no first-run dialogs, no updates.
const FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
];

/// The width and height of the screenshot.
const WINDOW: (u32, u32) = (1280, 2000);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Says on the terminal, past the test harness's capture of `println!`.
fn say(what: &str) {
    let _ = writeln!(std::io::stderr(), "html_report: {what}");
}

// ----- the page -----

/// The server's port, and the faces of the proxy: `faces[from][to]`.
const SERVER: u16 = 41000;
const FACES: [[u16; 2]; 2] = [[0, 41001], [41002, 0]];

/// A hw1 run between the server (node 0) and the client (node 1): the
/// datagrams, and what each printed.
fn hw1_record(
    test: &str,
    datagrams: Vec<Datagram>,
    client_out: &[(u64, &str)],
    client_exit: i32,
    end: u64,
) -> Record {
    let mut server = NodeRecord::new("server");
    server.port = Some(SERVER);
    server.faces = FACES[0].to_vec();
    server.stdout = vec![
        line(end - 4, ""),
        line(
            end - 4,
            "Ctrl+C pressed. Exit the program after closing the socket",
        ),
    ];
    let mut client = NodeRecord::new("client");
    client.faces = FACES[1].to_vec();
    client.stdout = client_out.iter().map(|&(at, t)| line(at, t)).collect();
    let event = |at, node, what| Event {
        at: ms(at),
        node: Some(node),
        what,
    };
    let events = vec![
        event(
            0,
            0,
            What::Started {
                command: vec!["./server".into(), SERVER.to_string()],
                pid: 4100,
            },
        ),
        event(1, 0, What::Bound { port: SERVER }),
        event(
            2,
            1,
            What::Started {
                command: vec!["./client".into(), FACES[1][0].to_string()],
                pid: 4101,
            },
        ),
        event(
            end - 6,
            1,
            What::Exited {
                status: Ended::Code(client_exit),
            },
        ),
        event(
            end - 5,
            0,
            What::Signalled {
                signal: nix::sys::signal::Signal::SIGINT,
            },
        ),
        event(
            end - 3,
            0,
            What::Exited {
                status: Ended::Code(0),
            },
        ),
    ];
    Record {
        test: test.into(),
        seed: 1,
        traffic: Traffic::of(2, &datagrams),
        nodes: vec![server, client],
        events,
        datagrams,
        forged: Vec::new(),
        duration: ms(end),
        clock: Clock::new(Duration::from_secs(10), Duration::from_secs(10)),
        vars: Default::default(),
        queries: Vec::new(),
    }
}

fn line(at: u64, text: &str) -> Line {
    Line {
        at: ms(at),
        text: text.into(),
    }
}

/// A datagram of the client (node 1) or of the server (node 0); a delivered
/// one passed on after `delay` ms.
fn datagram(at: u64, from: usize, m: (MsgType, &str, &str), fate: Fate, delay: u64) -> Datagram {
    let copies = fate.copies() as u64;
    Datagram {
        sent: ms(at),
        from,
        to: 1 - from,
        bytes: Message::new(m.0, m.1, m.2).unwrap().encode_full().to_vec(),
        fate,
        delays: vec![ms(delay); copies as usize],
        delivered: (0..copies).map(|k| ms(at + delay + k)).collect(),
        rule: (fate == Fate::Dropped).then_some(0),
    }
}

const ASK: &str = "AAAABBBBCCCCDDD";
const ANSWER: &str = "DDDCCCCBBBBAAAA";

/// hw1 as a student might have it: `echo` fails (the server echoes the
/// value back), `loss` fails (the client gives up after a lost reply, and
/// prints a line that must not become markup), `count-and-goodbye` passes.
fn results() -> Results {
    let path = root().join("labs/hw1-udp-echo/spec.yaml");
    let text = std::fs::read_to_string(&path).expect("hw1's spec");
    let spec = LabSpec::parse(&path, &text).expect("hw1's spec is valid");
    let test = |name: &str| {
        (spec.tests.iter())
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("hw1 has a test {name}"))
            .clone()
    };
    use MsgType::{ReadRep, ReadReq};
    let (k0, k1) = ("Kx3pQ0aZ", "Lm9rT2bY");

    let echo = hw1_record(
        "echo",
        vec![
            datagram(10, 1, (ReadReq, k0, ASK), Fate::Delivered, 0),
            datagram(11, 0, (ReadRep, k0, ASK), Fate::Delivered, 0),
            datagram(20, 1, (ReadReq, k1, ASK), Fate::Delivered, 0),
            datagram(21, 0, (ReadRep, k1, ASK), Fate::Delivered, 0),
        ],
        &[
            (10, "Request ID: 0"),
            (10, &format!("type: READ_REQ Key: {k0} Value: {ASK}")),
            (12, &format!("Type: READ_REP Key: {k0} Value: {ASK}")),
            (20, "Request ID: 1"),
            (20, &format!("type: READ_REQ Key: {k1} Value: {ASK}")),
            (22, &format!("Type: READ_REP Key: {k1} Value: {ASK}")),
        ],
        0,
        40,
    );
    let echo_verdict = vec![
        Check {
            kind: Kind::STDOUT,
            node: Some("client".into()),
            failure: Some(Failure {
                expected: Some(format!("Type: READ_REP Key: {k0} Value: {ANSWER}")),
                actual: Some(format!("Type: READ_REP Key: {k0} Value: {ASK}")),
                place: Some(Place::Line {
                    stream: Stream::Stdout,
                    line: 3,
                }),
                ..Failure::new("client stdout differs at line 3")
            }),
        },
        Check {
            kind: Kind::new("answered"),
            node: Some("server".into()),
            failure: Some(Failure {
                expected: Some(format!("READ_REP with value {ANSWER}")),
                actual: Some(format!("READ_REP with value {ASK}")),
                place: Some(Place::Datagram(1)),
                ..Failure::new(format!(
                    "server answered READ_REQ {k0} with the wrong value"
                ))
            }),
        },
    ];

    let loss = hw1_record(
        "loss",
        vec![
            datagram(10, 1, (ReadReq, k0, ASK), Fate::Dropped, 0),
            datagram(110, 1, (ReadReq, k0, ASK), Fate::Delivered, 0),
            datagram(111, 0, (ReadRep, k0, ANSWER), Fate::Dropped, 0),
            datagram(211, 1, (ReadReq, k0, ASK), Fate::Duplicated, 3),
            datagram(215, 0, (ReadRep, k0, ANSWER), Fate::Delivered, 25),
        ],
        &[
            (10, "Request ID: 0"),
            (10, &format!("type: READ_REQ Key: {k0} Value: {ASK}")),
            (240, "<script>alert(1)</script> gave up"),
        ],
        1,
        260,
    );
    let loss_verdict = vec![Check {
        kind: Kind::EXIT,
        node: Some("client".into()),
        failure: Some(Failure {
            expected: Some("exit code 0".into()),
            actual: Some("exit code 1".into()),
            place: Some(Place::Time(ms(254))),
            notes: vec!["the client gave up on request 0 after its reply was lost".into()],
            ..Failure::new("client exited with exit code 1; expected exit code 0")
        }),
    }];

    let goodbye = hw1_record(
        "count-and-goodbye",
        vec![
            datagram(10, 1, (ReadReq, k0, ASK), Fate::Delivered, 30),
            datagram(41, 0, (ReadRep, k0, ANSWER), Fate::Delivered, 30),
            datagram(80, 1, (ReadReq, k1, ASK), Fate::Delivered, 30),
            datagram(111, 0, (ReadRep, k1, ANSWER), Fate::Delivered, 30),
        ],
        &[
            (10, "Request ID: 0"),
            (10, &format!("type: READ_REQ Key: {k0} Value: {ASK}")),
            (72, &format!("Type: READ_REP Key: {k0} Value: {ANSWER}")),
            (80, "Request ID: 1"),
            (80, &format!("type: READ_REQ Key: {k1} Value: {ASK}")),
            (142, &format!("Type: READ_REP Key: {k1} Value: {ANSWER}")),
        ],
        0,
        160,
    );

    let run = |name: &str, record: Record, checks: Vec<Check>| {
        let status = if checks.is_empty() {
            Status::Passed
        } else {
            Status::Failed
        };
        TestResult {
            spec: test(name),
            runs: vec![TestRun {
                run: 1,
                run_seed: 1,
                record,
                verdict: Verdict {
                    status,
                    checks,
                    holes: vec![],
                },
                replay: format!("cargo grader hw1 -t {name} --seed 1"),
                files: Vec::new(),
            }],
            not_run: 0,
        }
    };
    Results {
        seed: 1,
        repeat: 1,
        source: Source::Skeleton,
        labs: vec![LabResult {
            id: "hw1".into(),
            title: "UDP echo".into(),
            graded: "labs/hw1-udp-echo".into(),
            build_error: None,
            tests: vec![
                run("echo", echo, echo_verdict),
                run("count-and-goodbye", goodbye, vec![]),
                run("loss", loss, loss_verdict),
            ],
        }],
        duration: ms(460),
    }
}

/// The page of [`results`], written to `dir`.
fn page(dir: &Path) -> (PathBuf, Results) {
    let results = results();
    let path = dir.join("report.html");
    std::fs::write(&path, html::render(&results)).expect("write the page");
    (path, results)
}

// ----- the browser -----

/// Chromium's executable, found or installed once for all the tests of
/// this file; or why there is none.
fn chromium() -> Result<PathBuf, String> {
    static CHROMIUM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CHROMIUM.get_or_init(install_chromium).clone()
}

/// The first of [`BROWSERS`] on PATH that runs.
fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| BROWSERS.iter().map(move |b| dir.join(b)))
        .find(|exe| {
            exe.is_file()
                && Command::new(exe)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
        })
}

/// Finds Chromium, or installs it from the distribution's packages as
/// root where apt-get exists (refreshing the package lists only if a
/// first try fails).
fn install_chromium() -> Result<PathBuf, String> {
    if let Some(exe) = find_chromium() {
        return Ok(exe);
    }
    let none = format!("no Chromium on PATH ({})", BROWSERS.join(", "));
    let started = Instant::now();
    common::install_package("chromium", &none)?;
    say(&format!("installed chromium in {:.1?}", started.elapsed()));
    find_chromium().ok_or_else(|| "chromium was installed but does not run".into())
}

/// Runs the browser headless on `url` with `args`, in a fresh profile and
/// a process group of its own, killed with everything it started after
/// [`BROWSER_TIMEOUT`]. Returns what it printed on stdout.
fn browse(browser: &Path, profile: &Path, args: &[String], url: &str) -> Result<Vec<u8>, String> {
    let started = Instant::now();
    let child = Command::new(browser)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{} does not start: {e}", browser.display()))?;
    let group = Pid::from_raw(child.id() as i32);
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let what = args.join(" ");
    let result = match rx.recv_timeout(BROWSER_TIMEOUT) {
        Ok(Ok(out)) if out.status.success() => Ok(out.stdout),
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
            Err(format!(
                "chromium {what} failed ({}):\n{}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        }
        Ok(Err(e)) => Err(format!("waiting for chromium {what}: {e}")),
        Err(_) => {
            // Its leader not yet reaped (the waiter reads the pipes
            // first), so the group is still the browser's own.
            let _ = killpg(group, Signal::SIGKILL);
            Err(format!(
                "chromium {what} took more than {BROWSER_TIMEOUT:?}: killed"
            ))
        }
    };
    let _ = waiter.join();
    say(&format!("chromium {what}: {:.1?}", started.elapsed()));
    result
}

/// The browser, or `None` after saying why the test is skipped.
fn browser_or_skip(test: &str) -> Option<PathBuf> {
    match chromium() {
        Ok(exe) => Some(exe),
        Err(why) => {
            say(&format!("{test}: skipped: {why}"));
            None
        }
    }
}

// ----- the tests -----

/// Chromium loads the page from the file system, and its DOM holds every
/// test, failing ones first, and a diagram per failing run, drawn with
/// one group per datagram.
#[test]
fn the_page_renders_with_its_diagrams() {
    let Some(browser) = browser_or_skip("the_page_renders_with_its_diagrams") else {
        return;
    };
    let dir = TempDir::new("html-report-dom");
    let (page, results) = page(&dir.0);
    let url = format!("file://{}", page.display());
    let dom = browse(
        &browser,
        &dir.0.join("profile"),
        &["--dump-dom".into()],
        &url,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let dom = String::from_utf8(dom).expect("the DOM is UTF-8");
    assert!(dom.contains("<svg"), "no diagram in the DOM:\n{dom}");

    let tests = &results.labs[0].tests;
    let position = |name: &str| {
        dom.find(&format!(r#"data-test="{name}""#))
            .unwrap_or_else(|| panic!("test {name} is not in the rendered page"))
    };
    assert!(position("echo") < position("loss"), "spec order");
    assert!(
        position("loss") < position("count-and-goodbye"),
        "failing tests first"
    );

    // Each run's part of the DOM: from its element to the next run's.
    let starts: Vec<usize> = dom
        .match_indices(r#"class="run""#)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(starts.len(), tests.len(), "one run shown per test");
    for (k, &start) in starts.iter().enumerate() {
        let part = &dom[start..starts.get(k + 1).copied().unwrap_or(dom.len())];
        assert_eq!(
            part.matches("<svg").count(),
            1,
            "one diagram per run:\n{part}"
        );
    }
    let failing = tests
        .iter()
        .filter(|t| t.runs[0].verdict.status == Status::Failed)
        .count();
    let failing_diagrams = starts
        .iter()
        .filter(|&&s| dom[s..].starts_with(r#"class="run" data-run="1" data-status="failed""#))
        .count();
    assert_eq!(failing_diagrams, failing, "one diagram per failing run");

    // One arrow per datagram of every run shown (none of these folds).
    let datagrams: usize = tests.iter().map(|t| t.runs[0].record.datagrams.len()).sum();
    assert_eq!(
        dom.matches(r#"<g class="datagram""#).count(),
        datagrams,
        "one arrow per datagram"
    );
    assert!(dom.contains(r#"data-fate="dropped""#), "the lost datagrams");

    // The hostile line stayed text.
    assert!(!dom.contains("<script"), "a script in the rendered page");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt; gave up"));
}

/// Chromium's screenshot of the page is a real picture: a PNG of the
/// window's size whose image data is far more than one colour needs.
#[test]
fn the_page_has_a_real_screenshot() {
    let Some(browser) = browser_or_skip("the_page_has_a_real_screenshot") else {
        return;
    };
    let dir = TempDir::new("html-report-screenshot");
    let (page, _) = page(&dir.0);
    let png = dir.0.join("report.png");
    let url = format!("file://{}", page.display());
    browse(
        &browser,
        &dir.0.join("profile"),
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        ],
        &url,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    if let Some(keep) = std::env::var_os("HTML_REPORT_SCREENSHOT") {
        let keep = PathBuf::from(keep);
        std::fs::write(&keep, &bytes).expect("keep the screenshot");
        std::fs::copy(&page, keep.with_extension("html")).expect("keep the page");
        say(&format!(
            "screenshot kept at {}, the page beside it",
            keep.display()
        ));
    }
    let png = Png::read(&bytes).unwrap_or_else(|e| panic!("not a PNG: {e}"));
    assert_eq!((png.width, png.height), WINDOW, "the window's size");
    // A page of one colour compresses to a few kilobytes at this size
    // (deflate stops near 1:1000); text, boxes and diagrams do not.
    assert!(
        png.image_data > 30_000,
        "{} bytes of image data: an empty page?",
        png.image_data
    );
}

/// What a PNG's chunks say, without decoding the image (`png(5)`): its
/// size from the IHDR chunk, and the length of its compressed image data.
struct Png {
    width: u32,
    height: u32,
    image_data: usize,
}

impl Png {
    fn read(bytes: &[u8]) -> Result<Png, String> {
        const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
        let mut rest = bytes.strip_prefix(SIGNATURE).ok_or("no PNG signature")?;
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let mut png = Png {
            width: 0,
            height: 0,
            image_data: 0,
        };
        let mut first = true;
        while rest.len() >= 12 {
            let len = be(&rest[..4]) as usize;
            let kind = &rest[4..8];
            let data = rest.get(8..8 + len).ok_or("a chunk runs past the end")?;
            match kind {
                b"IHDR" if first && len == 13 => {
                    (png.width, png.height) = (be(&data[..4]), be(&data[4..8]));
                }
                _ if first => return Err("the first chunk is not IHDR".into()),
                b"IDAT" => png.image_data += len,
                b"IEND" => return Ok(png),
                _ => {}
            }
            first = false;
            // The chunk's data and its CRC.
            rest = rest.get(8 + len + 4..).ok_or("a chunk's CRC is missing")?;
        }
        Err("no IEND chunk".into())
    }
}
