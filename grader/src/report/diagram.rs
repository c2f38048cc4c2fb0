//! One run as a sequence diagram: an SVG picture of who sent what to whom,
//! what the network did with it, and what each program printed meanwhile.
//!
//! Each node of the test (a program, or a peer the grader played, marked
//! as the grader's) gets a lifeline, titled by its name; time flows down.
//! The lifelines stand in the order their nodes first appear in the
//! traffic, so the node that starts the exchange (the client) is on the
//! left, as in most sequence diagrams; nodes that never send or receive
//! follow in the spec's order. Every datagram the
//! record kept is an arrow from its sender's lifeline, at the moment the
//! proxy received it, to its receiver's, at the moment the proxy passed it
//! on, labelled with its type and key. What the network did shows on the
//! arrow:
//!
//! - delivered: a plain arrow; delayed, an orange one saying by how much;
//! - duplicated: two arrows from one send, one per copy delivered;
//! - dropped, partitioned, refused or undeliverable: an arrow that stops
//!   halfway, ending in a cross (a quarter lane sooner when halfway is
//!   another node's lifeline), a faint dotted line going on to its
//!   receiver;
//! - the rule of the spec that decided it is named on the label (`rule 2`,
//!   counted from 1 as in the `-v` timeline); a label too long for its
//!   arrow loses the end of its key before what the network did;
//! - a datagram the grader forged (a `forge` rule) is a dashed arrow of its
//!   own colour, never counted as a program's.
//!
//! Starts, signals, exits and kills are marks on their lifeline; the solid
//! stretch of a lifeline is when the node was running. Each line a program
//! printed stands beside its lifeline at the moment the grader read it
//! (`|` stdout, `!` stderr), cut to the lane's width, and drawn after the
//! arrows so that none hides it. Hovering an arrow, a
//! mark or a line shows everything about it (the whole decoded record and
//! its times, the full line): each carries an SVG `<title>`, which browsers
//! show as a tooltip.
//!
//! The failed checks of the verdict are numbered in the legend at the top,
//! `[1]`, `[2]`, ..., and each is drawn where it happened: a red band across
//! the diagram at a moment (or a step), a yellow glow behind a datagram, a
//! highlighted printed line.
//!
//! # Time
//!
//! Time flows down, but not at one scale: each thing drawn (a send, a mark,
//! a printed line) gets a row, at least as tall as its label, and at most
//! [`MAX_GAP`] pixels below the one before; between those bounds a
//! millisecond is [`PX_PER_MS`] pixels. A burst of datagrams within a
//! millisecond stays readable, and a quiet second does not take a screen;
//! the time axis on the left gives the real times, and a longer pause says
//! how long it was. A delivery is placed on the same scale, between the rows
//! around its moment, so a delayed datagram is a sloped arrow.
//!
//! # Bounds
//!
//! A few hundred datagrams stay readable, and any record gives a picture of
//! bounded height:
//!
//! - a run of [`FOLD`] or more consecutive alike datagrams (the same
//!   sender, receiver, type, fate and rule), a flood or a retransmission
//!   loop, is folded into one arrow marked `×N`, drawn at the first of
//!   them, with a bar on the sender's lifeline as long as the run lasted;
//!   its tooltip lists them. Two in a row stay apart: they are often a
//!   request and its retransmission, which a reader wants to see. A
//!   datagram a failed check points at is never folded;
//! - the rows are laid out in pages of [`PAGE_HEIGHT`] pixels, set side by
//!   side, left to right, each with the node names on top: the picture
//!   grows wider, never taller. Folding alone cannot bound the height (a
//!   run of request, forward, acknowledgement, answer has no two alike
//!   datagrams in a row), and shrinking the rows would make a few hundred
//!   arrows unreadable; a page is a column a reader scrolls to, with no
//!   script needed;
//! - past [`MAX_PAGES`] pages the diagram stops, and says so and what it
//!   left out (the `-v` timeline and the packet capture have the rest);
//! - where the record itself stopped keeping datagrams (`limits.datagrams`),
//!   a line says how many more it only counted.
//!
//! # For machines
//!
//! Each drawn datagram is one `<g class="datagram">` with `data-index` (its
//! index in [`Record::datagrams`]) and `data-fate` (`delivered`,
//! `dropped`, ...); a folded one also has `data-indices`, every index it
//! stands for, space-separated. So "one arrow per datagram" can be checked
//! by collecting the indices. A lost one holds a `class="cross"`; a forged
//! one is a `<g class="forged">` apart; a failed check's datagram or line
//! carries `data-check`, the numbers of its checks.
//!
//! The output is pure SVG with an embedded CSS style sheet: no script,
//! no font or image to fetch, so it opens from a file in a browser or in
//! `rsvg-convert(1)` alike. Its rules apply only under the root's class
//! `seqdiagram`, and it uses no `id`, so that an HTML page can hold
//! several diagrams inline without their styles touching the page. All text is escaped for XML, and characters XML
//! cannot carry are written as `\u{..}`. The same record always gives the
//! same bytes.

use std::fmt::{self, Write};
use std::time::Duration;

use handout::{Message, MsgType};

use super::text;
use crate::judge::{Place, Status, Verdict};
use crate::run::record::{Datagram, Event, Fate, Record, What};
use crate::run::script;
use crate::spec::Stream;

/// Pixels per millisecond between two rows, where the run was quiet.
pub const PX_PER_MS: f64 = 2.0;

/// The most pixels between two rows: a longer pause is labelled instead.
pub const MAX_GAP: f64 = 60.0;

/// How many consecutive alike datagrams fold into one arrow.
pub const FOLD: usize = 3;

/// The samples of the key: (fate, extra attributes, label).
const KEY: [(&str, &str, &str); 5] = [
    ("delivered", "", "delivered"),
    ("delivered", " data-delayed=\"1\"", "delayed"),
    ("duplicated", "", "duplicated"),
    (
        "dropped",
        "",
        "lost (dropped, partitioned, refused, undeliverable)",
    ),
    ("forged", "", "forged by the grader"),
];

/// The height of one page of rows, in pixels.
pub const PAGE_HEIGHT: f64 = 3000.0;

/// How many pages a diagram has at most.
pub const MAX_PAGES: usize = 8;

/// The width of one lifeline's lane.
const LANE: f64 = 220.0;

/// The time axis, left of the lanes.
const AXIS: f64 = 64.0;

/// The space right of a page's last lane.
const GUTTER: f64 = 40.0;

/// The advance of one character of the 10px monospace font the labels
/// use: what the labels are cut by.
const CHAR: f64 = 6.1;

/// The same for the 12px sans-serif text at the top (an upper bound).
const CHAR_TOP: f64 = 7.0;

/// How many failed checks the legend lists; it counts the rest.
const LEGEND_FAILURES: usize = 8;

/// How many datagrams the tooltip of a folded arrow lists.
const FOLD_LISTED: usize = 12;

/// The rows of a datagram, of a mark, of a printed line: at least this
/// far below the row before.
const ROW_DATAGRAM: f64 = 18.0;
const ROW_SMALL: f64 = 15.0;

/// The CSS of every diagram.
const STYLE: &str = "
.seqdiagram text { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 10px; fill: #222; }
.seqdiagram .top text, .seqdiagram .node text { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; font-size: 12px; }
.seqdiagram .top .title { font-size: 15px; font-weight: bold; }
.seqdiagram .top .passed { fill: #1b7f3b; } .seqdiagram .top .failed { fill: #c0392b; } .seqdiagram .top .void { fill: #b26b00; }
.seqdiagram .top .failure { fill: #b71c1c; }
.seqdiagram .halo { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.seqdiagram .node rect { fill: #eaf0f7; stroke: #4a6785; }
.seqdiagram .node.grader rect { fill: #f3f3f3; stroke: #888; stroke-dasharray: 4 2; }
.seqdiagram .node .role { font-size: 9px; fill: #666; }
.seqdiagram .caption { fill: #555; }
.seqdiagram .life { stroke: #c8c8c8; stroke-dasharray: 2 4; }
.seqdiagram .alive { stroke: #7a8794; stroke-width: 2.5; }
.seqdiagram .axis line { stroke: #ccc; } .seqdiagram .axis text { fill: #888; } .seqdiagram .axis .pause { fill: #b26b00; }
.seqdiagram .arrow { stroke: #2b4c7e; stroke-width: 1.3; fill: none; }
.seqdiagram .tip { fill: #2b4c7e; }
.seqdiagram .hit { stroke: #fff; stroke-opacity: 0; stroke-width: 9; fill: none; }
.seqdiagram .glow { stroke: #ffd54f; stroke-width: 9; stroke-linecap: round; fill: none; }
.seqdiagram .span { stroke: #2b4c7e; stroke-opacity: .35; stroke-width: 6; }
.seqdiagram [data-delayed] .arrow, .seqdiagram [data-delayed] .span { stroke: #c46f00; } .seqdiagram [data-delayed] .tip { fill: #c46f00; }
.seqdiagram [data-fate=duplicated] .arrow, .seqdiagram [data-fate=duplicated] .span { stroke: #7b3fa0; } .seqdiagram [data-fate=duplicated] .tip { fill: #7b3fa0; }
.seqdiagram [data-fate=dropped] .arrow, .seqdiagram [data-fate=partitioned] .arrow, .seqdiagram [data-fate=refused] .arrow, .seqdiagram [data-fate=undeliverable] .arrow,
.seqdiagram [data-fate=dropped] .span, .seqdiagram [data-fate=partitioned] .span, .seqdiagram [data-fate=refused] .span, .seqdiagram [data-fate=undeliverable] .span { stroke: #c0392b; }
.seqdiagram .cross { stroke: #c0392b; stroke-width: 2.2; fill: none; }
.seqdiagram .ghost { stroke: #c0392b; stroke-opacity: .4; stroke-width: 1; stroke-dasharray: 1 3; fill: none; }
.seqdiagram .forged .arrow, .seqdiagram .sample[data-fate=forged] .arrow { stroke: #0f7b6c; stroke-dasharray: 5 3; }
.seqdiagram .forged .tip, .seqdiagram .sample[data-fate=forged] .tip { fill: #0f7b6c; } .seqdiagram .forged text { fill: #0f7b6c; }
.seqdiagram .datagram:hover .arrow, .seqdiagram .forged:hover .arrow { stroke-width: 2.6; }
.seqdiagram .stdout text { fill: #1d5e2c; } .seqdiagram .stderr text { fill: #a3261b; }
.seqdiagram .stdout .tick { stroke: #1d5e2c; } .seqdiagram .stderr .tick { stroke: #a3261b; }
.seqdiagram .line .mark { fill: #ffd54f; }
.seqdiagram .event .dot { fill: #7a8794; } .seqdiagram .event.start .dot { fill: #2e8b57; } .seqdiagram .event.signal .dot { fill: #e08a00; }
.seqdiagram .event.exit .dot { fill: #37474f; } .seqdiagram .event.kill .dot, .seqdiagram .event.fail .dot { fill: #c0392b; }
.seqdiagram .event text { fill: #37474f; } .seqdiagram .event.kill text, .seqdiagram .event.fail text { fill: #c0392b; }
.seqdiagram .global line { stroke: #8d6e63; stroke-dasharray: 6 3; } .seqdiagram .global text { fill: #6d4c41; }
.seqdiagram .band rect { fill: #e53935; fill-opacity: .13; stroke: #e53935; stroke-opacity: .6; }
.seqdiagram .band text { fill: #b71c1c; font-weight: bold; }
.seqdiagram .note text { fill: #6d4c41; }
";

/// The sequence diagram of one run as a standalone SVG document; with a
/// verdict, its failed checks numbered in the legend and drawn where they
/// happened.
pub fn svg(record: &Record, verdict: Option<&Verdict>) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = Diagram::new(record, verdict).write(&mut out);
    out
}

/// A failed check of the verdict, and where it is drawn.
struct Flag<'a> {
    /// The check's kind and node, for the legend.
    what: String,
    /// One sentence: what went wrong.
    summary: &'a str,
    /// Failures like it that the verdict only counted.
    more: usize,
    /// Where it happened.
    target: Target,
}

/// Where a failed check is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// Nowhere but in the legend.
    Nowhere,
    /// A band across the diagram at a moment: a `Place::Time`, a step's
    /// start, or where output ended before the line a check wanted.
    Moment(Duration),
    /// A datagram, by index.
    Datagram(usize),
    /// A printed line: node, stream, index from 0.
    Line(usize, Stream, usize),
}

/// One thing drawn on a row of its own.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Item {
    /// Datagrams `first..=last`, alike: folded into one arrow when more than one.
    Datagrams(usize, usize),
    /// A forged datagram, by index in [`Record::forged`].
    Forged(usize),
    /// An event, by index in [`Record::events`].
    Event(usize),
    /// A printed line: node, stream, index.
    Line(usize, Stream, usize),
    /// The moment of failed check number `.0` (from 0).
    Moment(usize),
    /// Where the record stopped keeping datagrams.
    Unkept,
    /// The end of the run.
    End,
}

impl Item {
    /// How tall its row is at least.
    fn height(self) -> f64 {
        match self {
            Item::Datagrams(..) | Item::Forged(_) | Item::Moment(_) => ROW_DATAGRAM,
            _ => ROW_SMALL,
        }
    }

    /// Its place among things of the same moment: an event before the
    /// datagrams it caused, as in the `-v` timeline, and a forged datagram
    /// before the one it was made from (the proxy sends it first).
    fn rank(self) -> u8 {
        match self {
            Item::Moment(_) => 0,
            Item::Event(_) => 1,
            Item::Forged(_) => 2,
            Item::Datagrams(..) => 3,
            Item::Unkept => 4,
            Item::Line(..) => 5,
            Item::End => 6,
        }
    }
}

/// An item on its row of a page.
#[derive(Debug, Clone, Copy)]
struct Placed {
    item: Item,
    at: Duration,
    y: f64,
}

/// A column of rows, with its own time scale.
#[derive(Debug, Default)]
struct Page {
    /// The rows, top down.
    rows: Vec<Placed>,
    /// Pauses longer than [`MAX_GAP`] allows: the rows' y between which
    /// one fell, and how long it was.
    pauses: Vec<(f64, f64, Duration)>,
    /// The bottom of the page's lifelines.
    bottom: f64,
}

impl Page {
    /// Where moment `t` is on this page: on the row of that moment, or
    /// between the rows around it; below the last row at the scale of the
    /// pauses, and no lower than the page's bottom.
    fn y(&self, t: Duration) -> f64 {
        let (Some(first), Some(last)) = (self.rows.first(), self.rows.last()) else {
            return 0.0;
        };
        let j = self.rows.partition_point(|p| p.at < t);
        let y = if j == self.rows.len() {
            last.y + (ms(t - last.at) * PX_PER_MS).min(MAX_GAP)
        } else if j == 0 {
            first.y - (ms(first.at - t) * PX_PER_MS).min(first.y)
        } else {
            let (a, b) = (&self.rows[j - 1], &self.rows[j]);
            let span = ms(b.at - a.at);
            a.y + (b.y - a.y) * (ms(t - a.at) / span)
        };
        y.clamp(0.0, self.bottom)
    }

    /// Its first moment.
    fn start(&self) -> Duration {
        self.rows.first().map_or(Duration::ZERO, |p| p.at)
    }
}

/// Everything the drawing needs, worked out once.
struct Diagram<'a> {
    record: &'a Record,
    status: Option<Status>,
    /// `lane[node]`: the lane of each node, left to right.
    lane: Vec<usize>,
    /// The failed checks, numbered from 1 in this order.
    flags: Vec<Flag<'a>>,
    pages: Vec<Page>,
    /// Items left out past [`MAX_PAGES`]: datagrams, other things, and
    /// the moment the diagram stops.
    cut: Option<(usize, usize, Duration)>,
    /// Datagram rows drawn, and how many of them fold several datagrams.
    arrows: usize,
    folds: usize,
}

impl<'a> Diagram<'a> {
    fn new(record: &'a Record, verdict: Option<&'a Verdict>) -> Diagram<'a> {
        let flags = verdict.map_or_else(Vec::new, |v| flags(record, v));
        let items = items(record, &flags);
        let arrows = items
            .iter()
            .filter(|(_, i)| matches!(i, Item::Datagrams(..)))
            .count();
        let folds = items
            .iter()
            .filter(|(_, i)| matches!(i, Item::Datagrams(a, b) if b > a))
            .count();
        let (pages, cut) = paginate(items);
        Diagram {
            record,
            status: verdict.map(|v| v.status),
            lane: lanes(record),
            flags,
            pages,
            cut,
            arrows,
            folds,
        }
    }

    /// The x of a node's lifeline, on its page.
    fn x(&self, node: usize) -> f64 {
        AXIS + LANE * (self.lane[node] as f64 + 0.5)
    }

    fn page_width(&self) -> f64 {
        AXIS + LANE * self.record.nodes.len() as f64 + GUTTER
    }

    /// The numbers (from 1) of the checks drawn at `target`, as
    /// `data-check` has them.
    fn checks_at(&self, target: Target) -> Option<String> {
        let numbers: Vec<String> = (self.flags.iter().enumerate())
            .filter(|(_, f)| f.target == target)
            .map(|(k, _)| (k + 1).to_string())
            .collect();
        (!numbers.is_empty()).then(|| numbers.join(" "))
    }

    fn write(&self, out: &mut String) -> fmt::Result {
        let r = self.record;
        let pages = self.pages.len().max(1);
        let legend =
            self.flags.len().min(LEGEND_FAILURES) + usize::from(self.flags.len() > LEGEND_FAILURES);
        let top = 84.0 + 16.0 * legend as f64;
        let caption = if pages > 1 { 18.0 } else { 0.0 };
        let lifelines = top + caption + 40.0;
        let bottom = self.pages.iter().map(|p| p.bottom).fold(0.0, f64::max);
        let height = lifelines + bottom + if self.cut.is_some() { 30.0 } else { 12.0 };
        let width = (self.page_width() * pages as f64)
            .max(760.0)
            .max(Self::key_width());
        writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="seqdiagram" width="{}" height="{}" viewBox="0 0 {} {}">"#,
            px(width),
            px(height),
            px(width),
            px(height)
        )?;
        writeln!(
            out,
            "<title>{}</title>",
            esc(&format!("sequence diagram of test {}", r.test))
        )?;
        writeln!(out, "<style>{STYLE}</style>")?;
        writeln!(
            out,
            r#"<rect width="{}" height="{}" fill="white"/>"#,
            px(width),
            px(height)
        )?;
        self.top(out, width)?;
        for (k, page) in self.pages.iter().enumerate() {
            let x = self.page_width() * k as f64;
            writeln!(
                out,
                r#"<g class="page" data-page="{}" transform="translate({},{})">"#,
                k + 1,
                px(x),
                px(lifelines)
            )?;
            if pages > 1 {
                let end = self.pages.get(k + 1).map_or_else(
                    || ms_text(page.rows.last().map_or(Duration::ZERO, |p| p.at)),
                    |next| ms_text(next.start()),
                );
                writeln!(
                    out,
                    r#"<text class="caption" x="{}" y="-44">page {} of {pages}: {} to {end}</text>"#,
                    px(AXIS),
                    k + 1,
                    ms_text(page.start())
                )?;
            }
            self.page(out, k, page)?;
            out.push_str("</g>\n");
        }
        if let Some((datagrams, others, at)) = self.cut {
            writeln!(
                out,
                r#"<g class="note"><text x="{}" y="{}">{}</text></g>"#,
                px(AXIS),
                px(height - 10.0),
                esc(&format!(
                    "the diagram stops at {} after {MAX_PAGES} pages: {datagrams} more datagrams and {others} more marks and lines are not drawn (the -v timeline and the packet capture have them)",
                    ms_text(at)
                ))
            )?;
        }
        out.push_str("</svg>\n");
        Ok(())
    }

    /// The title, the counts, the key to the arrows, and the failed checks.
    fn top(&self, out: &mut String, width: f64) -> fmt::Result {
        let r = self.record;
        out.push_str("<g class=\"top\">\n");
        let status = self.status.map_or(String::new(), |s| {
            format!(
                r#" · <tspan class="{}">{}</tspan>"#,
                s.name(),
                text::tag(s).1
            )
        });
        writeln!(
            out,
            r#"<text class="title" x="12" y="22">{}{status}</text>"#,
            esc(&format!(
                "{} · seed {} · {}",
                r.test,
                r.seed,
                ms_text(r.duration)
            ))
        )?;
        let n = r.datagrams.len();
        let mut counts = format!(
            "{n} datagram{} as {} arrow{}",
            plural(n),
            self.arrows,
            plural(self.arrows)
        );
        if self.folds > 0 {
            let _ = write!(
                counts,
                " ({} of them fold{} alike datagrams in a row: ×N)",
                self.folds,
                if self.folds == 1 { "s" } else { "" }
            );
        }
        let unkept = r.unkept();
        if unkept > 0 {
            let _ = write!(
                counts,
                "; {unkept} more were not kept by the record (limits.datagrams)"
            );
        }
        if !r.forged.is_empty() {
            let _ = write!(counts, "; {} forged by the grader", r.forged.len());
        }
        counts.push_str("; hover an arrow, a mark or a line for the whole of it");
        writeln!(
            out,
            r#"<text x="12" y="42">{}</text>"#,
            esc(&clip(&counts, ((width - 24.0) / CHAR_TOP) as usize))
        )?;
        out.push_str("</g>\n");
        self.key(out)?;
        out.push_str("<g class=\"top\">\n");
        let shown = self.flags.iter().take(LEGEND_FAILURES);
        for (k, f) in shown.enumerate() {
            let more = if f.more > 0 {
                format!(" (and {} more like it)", f.more)
            } else {
                String::new()
            };
            let line = format!(
                "[{}] {}: {}{more}{}",
                k + 1,
                f.what,
                f.summary,
                self.place_text(f.target)
            );
            writeln!(
                out,
                r#"<text class="failure" x="12" y="{}"><title>{}</title>{}</text>"#,
                px(86.0 + 16.0 * k as f64),
                esc(&line),
                esc(&clip(&line, ((width - 24.0) / CHAR_TOP) as usize))
            )?;
        }
        if self.flags.len() > LEGEND_FAILURES {
            writeln!(
                out,
                r#"<text class="failure" x="12" y="{}">{}</text>"#,
                px(86.0 + 16.0 * LEGEND_FAILURES as f64),
                esc(&format!(
                    "... and {} more failed checks",
                    self.flags.len() - LEGEND_FAILURES
                ))
            )?;
        }
        out.push_str("</g>\n");
        Ok(())
    }

    /// Where the legend says a failed check is drawn.
    fn place_text(&self, target: Target) -> String {
        match target {
            Target::Nowhere => String::new(),
            Target::Moment(t) => format!("  (at {})", ms_text(t)),
            Target::Datagram(i) => format!("  (datagram #{i})"),
            Target::Line(node, stream, i) => format!(
                "  ({} {stream} line {})",
                self.record.nodes[node].name,
                i + 1
            ),
        }
    }

    /// How wide the key is: the diagram is never narrower.
    fn key_width() -> f64 {
        12.0 + KEY
            .iter()
            .map(|(.., label)| 42.0 + CHAR * label.len() as f64)
            .sum::<f64>()
    }

    /// The key to the arrows and marks: one sample of each.
    fn key(&self, out: &mut String) -> fmt::Result {
        let y = 64.0;
        out.push_str("<g class=\"key\">\n");
        let mut x = 12.0;
        for (fate, extra, label) in KEY {
            write!(out, r#"<g class="sample" data-fate="{fate}"{extra}>"#)?;
            let (x2, y2) = if fate == "dropped" {
                (x + 16.0, y)
            } else {
                (x + 30.0, y)
            };
            write!(
                out,
                r#"<path class="arrow" d="M{} {} L{} {}"/>"#,
                px(x),
                px(y),
                px(x2),
                px(y2)
            )?;
            if fate == "dropped" {
                cross(out, x2, y2)?;
            } else {
                tip(out, (x, y), (x2, y2))?;
            }
            writeln!(
                out,
                r#"<text x="{}" y="{}">{label}</text></g>"#,
                px(x + 36.0),
                px(y + 3.5)
            )?;
            x += 42.0 + CHAR * label.len() as f64;
        }
        writeln!(
            out,
            r#"<g class="stdout"><text x="{}" y="{}">| stdout</text></g><g class="stderr"><text x="{}" y="{}">! stderr</text></g>"#,
            px(x),
            px(y + 3.5),
            px(x + 66.0),
            px(y + 3.5)
        )?;
        out.push_str("</g>\n");
        Ok(())
    }

    /// One page: its node names, time axis, lifelines and rows.
    fn page(&self, out: &mut String, k: usize, page: &Page) -> fmt::Result {
        let r = self.record;
        let right = AXIS + LANE * r.nodes.len() as f64;
        // The node names.
        for (i, node) in r.nodes.iter().enumerate() {
            let x = self.x(i);
            let (class, role) = if node.script {
                ("node grader", "the grader's")
            } else {
                ("node", "")
            };
            let title = match (node.script, node.port) {
                (true, _) => format!("{}: a peer the grader plays", node.name),
                (false, Some(p)) => format!("{}: a program, port {p}", node.name),
                (false, None) => format!("{}: a program", node.name),
            };
            let label = clip(&node.name, ((LANE - 30.0) / CHAR_TOP) as usize);
            let w = (CHAR_TOP * label.chars().count() as f64 + 24.0).max(80.0);
            write!(
                out,
                r#"<g class="{class}" data-node="{}"><title>{}</title><rect x="{}" y="-34" width="{}" height="26" rx="4"/>"#,
                esc(&node.name),
                esc(&title),
                px(x - w / 2.0),
                px(w)
            )?;
            if role.is_empty() {
                write!(
                    out,
                    r#"<text x="{}" y="-17" text-anchor="middle">{}</text>"#,
                    px(x),
                    esc(&label)
                )?;
            } else {
                write!(
                    out,
                    r#"<text class="role" x="{}" y="-24" text-anchor="middle">{role}</text><text x="{}" y="-12" text-anchor="middle">{}</text>"#,
                    px(x),
                    px(x),
                    esc(&label)
                )?;
            }
            out.push_str("</g>\n");
        }
        // The time axis.
        out.push_str("<g class=\"axis\">");
        write!(
            out,
            r#"<text x="{}" y="-4" text-anchor="end">ms</text>"#,
            px(AXIS - 6.0)
        )?;
        let mut labelled = (f64::NEG_INFINITY, String::new());
        for p in &page.rows {
            let text = format!("{:.1}", ms(p.at));
            if p.y - labelled.0 >= 24.0 && text != labelled.1 {
                write!(
                    out,
                    r#"<line x1="{}" y1="{}" x2="{}" y2="{}"/><text x="{}" y="{}" text-anchor="end">{text}</text>"#,
                    px(AXIS - 4.0),
                    px(p.y),
                    px(AXIS),
                    px(p.y),
                    px(AXIS - 6.0),
                    px(p.y + 3.5),
                )?;
                labelled = (p.y, text);
            }
        }
        for &(a, b, pause) in &page.pauses {
            write!(
                out,
                r#"<text class="pause" x="{}" y="{}" text-anchor="end">+{}</text>"#,
                px(AXIS - 6.0),
                px((a + b) / 2.0 + 3.5),
                esc(&ms_text(pause))
            )?;
        }
        out.push_str("</g>\n");
        // The lifelines: dotted all along, solid while the node runs.
        let end = self.pages.get(k + 1).map(Page::start);
        for i in 0..r.nodes.len() {
            let x = self.x(i);
            write!(
                out,
                r#"<g class="lifeline" data-node="{}"><line class="life" x1="{}" y1="0" x2="{}" y2="{}"/>"#,
                esc(&r.nodes[i].name),
                px(x),
                px(x),
                px(page.bottom)
            )?;
            for (from, to) in alive(r, i) {
                if end.is_some_and(|e| from >= e) || to.is_some_and(|t| t < page.start()) {
                    continue;
                }
                let y1 = if from <= page.start() {
                    0.0
                } else {
                    page.y(from)
                };
                let y2 = match to {
                    Some(t) if end.is_none_or(|e| t < e) => page.y(t),
                    _ => page.bottom,
                };
                write!(
                    out,
                    r#"<line class="alive" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
                    px(x),
                    px(y1),
                    px(x),
                    px(y2)
                )?;
            }
            out.push_str("</g>\n");
        }
        // The failed checks' moments, behind everything else.
        for p in &page.rows {
            if let Item::Moment(f) = p.item {
                let flag = &self.flags[f];
                let label = format!("[{}] {}", f + 1, flag.summary);
                writeln!(
                    out,
                    r#"<g class="band" data-check="{}"><title>{}</title><rect x="{}" y="{}" width="{}" height="14"/><text class="halo" x="{}" y="{}">{}</text></g>"#,
                    f + 1,
                    esc(&format!("{label}\nat {}", precise(p.at))),
                    px(AXIS - 4.0),
                    px(p.y - 7.0),
                    px(right - AXIS + 8.0),
                    px(AXIS + 6.0),
                    px(p.y + 3.5),
                    esc(&clip(&label, ((right - AXIS - 12.0) / CHAR) as usize))
                )?;
            }
        }
        // The arrows, then what stands beside the lifelines, so that no
        // arrow hides a printed line.
        for p in &page.rows {
            match p.item {
                Item::Datagrams(a, b) => self.datagrams(out, page, p, a, b)?,
                Item::Forged(f) => self.forged(out, page, p, f)?,
                Item::Event(_) | Item::Line(..) | Item::Moment(_) => {}
                Item::Unkept => self.across(
                    out,
                    "unkept",
                    p.y,
                    &format!(
                        "the record kept no more datagrams: {} more were not kept (limits.datagrams)",
                        r.unkept()
                    ),
                )?,
                Item::End => self.across(
                    out,
                    "end",
                    p.y,
                    &format!("the run ended at {}", ms_text(p.at)),
                )?,
            }
        }
        for p in &page.rows {
            match p.item {
                Item::Event(e) => self.event(out, p, &r.events[e])?,
                Item::Line(node, stream, i) => self.line(out, p, node, stream, i)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// A horizontal line across every lane, labelled: a partition, a heal,
    /// the end.
    fn across(&self, out: &mut String, what: &str, y: f64, label: &str) -> fmt::Result {
        let right = AXIS + LANE * self.record.nodes.len() as f64;
        writeln!(
            out,
            r#"<g class="global" data-what="{what}"><title>{}</title><line x1="{}" y1="{}" x2="{}" y2="{}"/><text class="halo" x="{}" y="{}">{}</text></g>"#,
            esc(label),
            px(AXIS),
            px(y),
            px(right),
            px(y),
            px(AXIS + 6.0),
            px(y - 3.0),
            esc(&clip(label, ((right - AXIS - 12.0) / CHAR) as usize))
        )
    }

    /// A row of datagrams `a..=b`: one arrow (per copy delivered), or one
    /// folded arrow marked `×N`.
    fn datagrams(
        &self,
        out: &mut String,
        page: &Page,
        p: &Placed,
        a: usize,
        b: usize,
    ) -> fmt::Result {
        let r = self.record;
        let d = &r.datagrams[a];
        let check = self.checks_at(Target::Datagram(a));
        let n = b - a + 1;
        write!(
            out,
            r#"<g class="datagram" data-index="{a}" data-fate="{}""#,
            d.fate.name()
        )?;
        if n > 1 {
            let indices: Vec<String> = (a..=b).map(|i| i.to_string()).collect();
            write!(out, r#" data-indices="{}""#, indices.join(" "))?;
        }
        if delayed(d) {
            out.push_str(r#" data-delayed="1""#);
        }
        if let Some(rule) = d.rule {
            write!(out, r#" data-rule="{}""#, rule + 1)?;
        }
        if let Some(c) = &check {
            write!(out, r#" data-check="{c}""#)?;
        }
        out.push('>');
        let title = if n > 1 {
            self.fold_title(a, b)
        } else {
            self.datagram_title(a)
        };
        write!(out, "<title>{}</title>", esc(&title))?;
        // The arrows: the paths, and where the label goes.
        let (xs, ys, xr) = (self.x(d.from), p.y, self.x(d.to));
        let mut paths = Vec::new();
        let mut ends = Vec::new();
        let mut ghost = None;
        if d.fate.copies() == 0 {
            let (x2, y2) = if d.from == d.to {
                (xs + 30.0, ys + 4.0)
            } else {
                (halfway(xs, xr), ys + 4.0)
            };
            paths.push(format!("M{} {} L{} {}", px(xs), px(ys), px(x2), px(y2)));
            ends.push(((xs, ys), (x2, y2)));
            if d.from != d.to {
                // Where it was going, faintly: a lost datagram's cross can
                // be past other lifelines than its receiver's.
                ghost = Some(format!("M{} {} L{} {}", px(x2), px(y2), px(xr), px(y2)));
            }
        } else {
            for k in 0..d.fate.copies() {
                let yr = page.y(arrival(d, k)).max(ys);
                if d.from == d.to {
                    // To itself: a loop out to the right and back.
                    let yr = yr.max(ys + 10.0);
                    paths.push(format!(
                        "M{} {} C{} {} {} {} {} {}",
                        px(xs),
                        px(ys),
                        px(xs + 40.0),
                        px(ys),
                        px(xs + 40.0),
                        px(yr),
                        px(xs),
                        px(yr)
                    ));
                    ends.push(((xs + 40.0, yr), (xs, yr)));
                } else {
                    paths.push(format!("M{} {} L{} {}", px(xs), px(ys), px(xr), px(yr)));
                    ends.push(((xs, ys), (xr, yr)));
                }
            }
        }
        if n > 1 {
            // How long the run lasted, on the sender's lifeline.
            let last = r.datagrams[b].sent;
            let y2 = page.y(last).max(ys + 4.0);
            write!(
                out,
                r#"<line class="span" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
                px(xs),
                px(ys),
                px(xs),
                px(y2)
            )?;
        }
        if check.is_some() {
            for path in &paths {
                write!(out, r#"<path class="glow" d="{path}"/>"#)?;
            }
        }
        if let Some(path) = &ghost {
            write!(out, r#"<path class="ghost" d="{path}"/>"#)?;
        }
        for path in &paths {
            write!(
                out,
                r#"<path class="hit" d="{path}"/><path class="arrow" d="{path}"/>"#
            )?;
        }
        for &(from, to) in &ends {
            if d.fate.copies() == 0 {
                cross(out, to.0, to.1)?;
            } else {
                tip(out, from, to)?;
            }
        }
        // The label, above the middle of the (first) arrow.
        let (mut head, note) = self.label(a, b);
        if let Some(c) = &check {
            head = format!("[{}] {head}", c.replace(' ', "]["));
        }
        let ((x1, y1), (x2, y2)) = ends[0];
        if d.from == d.to {
            write!(
                out,
                r#"<text class="halo" x="{}" y="{}">{}</text>"#,
                px(xs + 44.0),
                px(ys + 3.5),
                esc(&fit(&head, &note, ((LANE - 56.0) / CHAR) as usize))
            )?;
        } else {
            // Above the middle of the arrow, but no lower than its own
            // row: a sloped (delayed) arrow's label stays by its send.
            let (mx, my) = if d.fate.copies() == 0 {
                ((xs + xr) / 2.0, ys)
            } else {
                ((x1 + x2) / 2.0, ((y1 + y2) / 2.0).min(ys + 6.0))
            };
            let room = ((xr - xs).abs() - 12.0) / CHAR;
            write!(
                out,
                r#"<text class="halo" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                px(mx),
                px(my - 3.5),
                esc(&fit(&head, &note, room.max(10.0) as usize))
            )?;
        }
        out.push_str("</g>\n");
        Ok(())
    }

    /// The label of a row of datagrams: type and key, `×N` when folded;
    /// then what the network did and the rule that decided it, which a
    /// short arrow keeps rather than the key (see [`fit`]).
    fn label(&self, a: usize, b: usize) -> (String, String) {
        let r = self.record;
        let d = &r.datagrams[a];
        let head = match d.message() {
            Ok(m) if b > a => {
                let same = (a..=b).all(|i| {
                    r.datagrams[i]
                        .message()
                        .is_ok_and(|o| o.key == m.key && o.kind == m.kind)
                });
                if same {
                    format!("{} ×{}", said(&m.kind, &m.key), b - a + 1)
                } else {
                    format!("{} ×{} (keys differ)", m.kind, b - a + 1)
                }
            }
            Ok(m) => said(&m.kind, &m.key),
            Err(_) if b > a => format!("not a record ×{}", b - a + 1),
            Err(_) => format!("{} bytes, not a record", d.bytes.len()),
        };
        let rule = d.rule.map(|r| format!("rule {}", r + 1));
        let fate = match d.fate {
            Fate::Delivered if delayed(d) && b == a => Some(format!(
                "+{}",
                ms_text(d.delays.iter().copied().max().unwrap_or_default())
            )),
            Fate::Delivered if delayed(d) => Some("delayed".to_string()),
            Fate::Delivered => None,
            f => Some(f.name().to_string()),
        };
        let note: Vec<String> = fate.into_iter().chain(rule).collect();
        if note.is_empty() {
            (head, String::new())
        } else {
            (head, format!(" · {}", note.join(", ")))
        }
    }

    /// Everything about one datagram: the `-v` timeline's line, the whole
    /// record, and its times.
    fn datagram_title(&self, i: usize) -> String {
        let r = self.record;
        let d = &r.datagrams[i];
        let mut t = format!("datagram #{i}: {}", text::datagram(r, d));
        let _ = write!(t, "\n{}", decoded(&d.bytes));
        let _ = write!(t, "\nsent {}", precise(d.sent));
        for k in 0..d.fate.copies() {
            let held = d.delays.get(k).copied().unwrap_or_default();
            match d.delivered.get(k) {
                Some(at) => {
                    let _ = write!(t, "\ndelivered {} (held {})", precise(*at), precise(held));
                }
                None => {
                    let _ = write!(t, "\nstill held by the network when the run ended");
                }
            }
        }
        if d.fate.copies() == 0 {
            let by = d
                .rule
                .map_or(String::new(), |r| format!(" by rule {}", r + 1));
            let _ = write!(t, "\nnever delivered: {}{by}", d.fate.name());
        }
        for (k, f) in self.flags.iter().enumerate() {
            if f.target == Target::Datagram(i) {
                let _ = write!(t, "\n[{}] {}", k + 1, f.summary);
            }
        }
        t
    }

    /// The tooltip of a folded arrow: what its datagrams share, then the
    /// first [`FOLD_LISTED`] of them one by one.
    fn fold_title(&self, a: usize, b: usize) -> String {
        let r = self.record;
        let d = &r.datagrams[a];
        let mut t = format!(
            "{} alike datagrams in a row, #{a} to #{b}, sent from {} to {}\nfirst: {}",
            b - a + 1,
            precise(d.sent),
            precise(r.datagrams[b].sent),
            text::datagram(r, d)
        );
        for i in (a..=b).take(FOLD_LISTED) {
            let d = &r.datagrams[i];
            let what = decoded(&d.bytes);
            let delivered: Vec<String> = d.delivered.iter().map(|&x| precise(x)).collect();
            let fate = if delivered.is_empty() {
                d.fate.name().to_string()
            } else {
                format!("delivered {}", delivered.join(", "))
            };
            let _ = write!(t, "\n#{i}  sent {}  {what}  {fate}", precise(d.sent));
        }
        if b - a + 1 > FOLD_LISTED {
            let _ = write!(t, "\n... and {} more", b - a + 1 - FOLD_LISTED);
        }
        t
    }

    /// A forged datagram: a dashed arrow, delivered at once.
    fn forged(&self, out: &mut String, page: &Page, p: &Placed, index: usize) -> fmt::Result {
        let r = self.record;
        let f = &r.forged[index];
        let (xs, ys, xr) = (self.x(f.from), p.y, self.x(f.to));
        let yr = page.y(p.at).max(ys);
        let title = format!(
            "forged #{index}: {}\n{}\nsent {}",
            text::forged(r, f),
            decoded(&f.bytes),
            precise(f.sent)
        );
        write!(
            out,
            r#"<g class="forged" data-forged="{index}" data-rule="{}"><title>{}</title>"#,
            f.rule + 1,
            esc(&title)
        )?;
        let (x2, y2) = if f.from == f.to {
            (xs + 30.0, ys + 4.0)
        } else {
            (xr, yr)
        };
        let path = format!("M{} {} L{} {}", px(xs), px(ys), px(x2), px(y2));
        write!(
            out,
            r#"<path class="hit" d="{path}"/><path class="arrow" d="{path}"/>"#
        )?;
        tip(out, (xs, ys), (x2, y2))?;
        let what = match Message::decode(&f.bytes) {
            Ok(m) => said(&m.kind, &m.key),
            Err(_) => format!("{} bytes, not a record", f.bytes.len()),
        };
        let note = format!(" · rule {}", f.rule + 1);
        let room = ((xr - xs).abs() - 12.0).max(LANE / 2.0) / CHAR;
        write!(
            out,
            r#"<text class="halo" x="{}" y="{}" text-anchor="middle">{}</text></g>"#,
            px((xs + x2) / 2.0),
            px((ys + y2) / 2.0 - 3.5),
            esc(&fit(&format!("forged {what}"), &note, room as usize))
        )?;
        out.push('\n');
        Ok(())
    }

    /// An event: a mark on its node's lifeline, or a line across every
    /// lane for one of the whole network.
    fn event(&self, out: &mut String, p: &Placed, e: &Event) -> fmt::Result {
        let r = self.record;
        let Some(Mark {
            class,
            label,
            title,
        }) = mark(r, e)
        else {
            return Ok(());
        };
        let title = format!("{}  {title}", precise(e.at));
        let Some(node) = e.node.filter(|_| class != "global") else {
            return self.across(out, "network", p.y, &label);
        };
        let x = self.x(node);
        let shape = match class {
            "signal" => format!(
                r#"<path class="dot" d="M{} {} L{} {} L{} {} L{} {} Z"/>"#,
                px(x),
                px(p.y - 5.0),
                px(x + 5.0),
                px(p.y),
                px(x),
                px(p.y + 5.0),
                px(x - 5.0),
                px(p.y)
            ),
            "exit" | "kill" | "fail" => format!(
                r#"<rect class="dot" x="{}" y="{}" width="9" height="9"/>"#,
                px(x - 4.5),
                px(p.y - 4.5)
            ),
            _ => format!(
                r#"<circle class="dot" cx="{}" cy="{}" r="4.5"/>"#,
                px(x),
                px(p.y)
            ),
        };
        writeln!(
            out,
            r#"<g class="event {class}" data-node="{}"><title>{}</title>{shape}<text class="halo" x="{}" y="{}">{}</text></g>"#,
            esc(&r.nodes[node].name),
            esc(&title),
            px(x + 9.0),
            px(p.y + 3.5),
            esc(&clip(&label, ((LANE - 20.0) / CHAR) as usize))
        )
    }

    /// A printed line, beside its lifeline.
    fn line(
        &self,
        out: &mut String,
        p: &Placed,
        node: usize,
        stream: Stream,
        i: usize,
    ) -> fmt::Result {
        let r = self.record;
        let n = &r.nodes[node];
        let l = &n.lines(stream)[i];
        let check = self.checks_at(Target::Line(node, stream, i));
        let sign = match stream {
            Stream::Stdout => '|',
            Stream::Stderr => '!',
        };
        write!(
            out,
            r#"<g class="line {stream}" data-node="{}" data-line="{}""#,
            esc(&n.name),
            i + 1
        )?;
        if let Some(c) = &check {
            write!(out, r#" data-check="{c}""#)?;
        }
        let mut title = format!(
            "{} {stream} line {}, read at {}\n{}",
            n.name,
            i + 1,
            precise(l.at),
            l.text
        );
        let mut shown = format!("{sign} {}", l.text);
        if let Some(c) = &check {
            for (k, f) in self.flags.iter().enumerate() {
                if f.target == Target::Line(node, stream, i) {
                    let _ = write!(title, "\n[{}] {}", k + 1, f.summary);
                }
            }
            shown = format!("[{}] {shown}", c.replace(' ', "]["));
        }
        write!(out, "><title>{}</title>", esc(&title))?;
        let x = self.x(node);
        let shown = clip(&shown, ((LANE - 16.0) / CHAR) as usize);
        if check.is_some() {
            write!(
                out,
                r#"<rect class="mark" x="{}" y="{}" width="{}" height="13"/>"#,
                px(x + 5.0),
                px(p.y - 6.5),
                px(CHAR * shown.chars().count() as f64 + 6.0)
            )?;
        }
        writeln!(
            out,
            r#"<line class="tick" x1="{}" y1="{}" x2="{}" y2="{}"/><text class="halo" x="{}" y="{}">{}</text></g>"#,
            px(x - 3.0),
            px(p.y),
            px(x + 3.0),
            px(p.y),
            px(x + 8.0),
            px(p.y + 3.5),
            esc(&shown)
        )
    }
}

/// What an event's mark shows.
struct Mark {
    /// `start`, `signal`, `exit`, `kill`, `fail`, `other`, or `global` for
    /// an event of the whole network.
    class: &'static str,
    /// A few words beside the mark.
    label: String,
    /// The whole story, for the tooltip.
    title: String,
}

/// The mark of an event, in the `-v` timeline's words; `None` for the
/// steps, which the diagram does not show.
fn mark(record: &Record, e: &Event) -> Option<Mark> {
    let name = |i: usize| record.nodes.get(i).map_or("?", |n| n.name.as_str());
    let who = e.node.map_or("", name);
    let m = |class, label: String, title: String| {
        Some(Mark {
            class,
            label,
            title,
        })
    };
    match &e.what {
        What::Started { command, pid } => m(
            "start",
            "started".into(),
            format!("{who} started (pid {pid}): {}", command.join(" ")),
        ),
        What::ScriptStarted => m(
            "start",
            "script started".into(),
            format!("the grader's {who} started its script"),
        ),
        What::Bound { port } => m(
            "other",
            format!("bound UDP port {port}"),
            format!("{who} bound UDP port {port}"),
        ),
        What::Signalled { signal } => m(
            "signal",
            format!("got {signal}"),
            format!("the grader sent {signal} to {who}"),
        ),
        What::Exited { status } => m(
            if status.code() == Some(0) {
                "exit"
            } else {
                "kill"
            },
            status.to_string(),
            format!("{who} {}", status.verb()),
        ),
        What::Flooded { stream, limit } => m(
            "kill",
            format!("over the output limit on {stream}"),
            format!("{who} printed more than {limit} bytes on {stream}: killed"),
        ),
        What::SendRateExceeded { limit } => m(
            "fail",
            "flooding: over the send rate".into(),
            format!(
                "{who} went over the send rate ({limit} datagrams a second): flooding; the proxy refuses the rest"
            ),
        ),
        What::KilledAtEnd => m(
            "kill",
            "killed at the end".into(),
            format!("{who} still running at the end: killed"),
        ),
        What::StoppedAtHole { hole } => m(
            "fail",
            format!("todo!(\"{hole}\")"),
            format!("{who} stopped at a hole: todo!(\"{hole}\"); the test ends"),
        ),
        What::LimitExceeded { limit } => m(
            "kill",
            format!("past its {limit}"),
            format!("{who} went past its {limit}: killed"),
        ),
        What::LeftBehind { total, .. } => m(
            "kill",
            format!("left {total} running"),
            format!(
                "{who} left {} of its own running: killed",
                crate::judge::processes(*total)
            ),
        ),
        What::ScriptEnded { error: None } => m(
            "exit",
            "script done".into(),
            format!("the grader's {who} finished its script"),
        ),
        What::ScriptEnded { error: Some(err) } if err.actual == script::ENDED => m(
            "exit",
            format!("script stopped at step {}", err.step),
            format!(
                "the grader's {who} stopped at step {}: the test ended",
                err.step
            ),
        ),
        What::ScriptEnded { error: Some(err) } if err.actual == script::TIME_UP => m(
            "fail",
            format!("script timed out at step {}", err.step),
            format!(
                "the grader's {who} stopped at step {} ({}): the test's time limit passed",
                err.step, err.kind
            ),
        ),
        What::ScriptEnded { error: Some(err) } => m(
            "fail",
            format!("script failed at step {}", err.step),
            format!("the grader's {who} failed: {err}"),
        ),
        What::ScriptHeld { how } => m(
            if *how == "killed" { "kill" } else { "signal" },
            (*how).to_string(),
            format!("the grader's {who} {how}"),
        ),
        What::Queried { keys, nodes } => m(
            "other",
            format!("query: {keys} key(s)"),
            format!("the grader's {who} read {keys} key(s) from {nodes} node(s)"),
        ),
        What::CpuMeasured { percent, .. } => m(
            "other",
            format!("{percent:.0}% CPU while idle"),
            format!("{who} used {percent:.0}% of a CPU while idle"),
        ),
        What::LoadMeasured {
            clients,
            node,
            baseline,
        } => m(
            "other",
            format!("{:.0} requests/s under load", node.per_second),
            node.versus(who, *clients, baseline),
        ),
        What::Partitioned { a, b } => {
            let s = format!("partition: {} and {} cut off", name(*a), name(*b));
            m("global", s.clone(), s)
        }
        What::Healed => {
            let s = "every partition and cut healed".to_string();
            m("global", s.clone(), s)
        }
        What::Cut { from, to } => {
            let s = format!("link cut: {} to {}", name(*from), name(*to));
            m("global", s.clone(), s)
        }
        What::LinkHealed { from, to } => {
            let s = format!("link healed: {} to {}", name(*from), name(*to));
            m("global", s.clone(), s)
        }
        What::FaultsChanged { link, faults } => {
            let on = link.map_or("every link".to_string(), |(f, t)| {
                format!("{} to {}", name(f), name(t))
            });
            let s = format!(
                "faults on {on} now: drop {}, duplicate {}, delay {}, jitter {}",
                faults.drop, faults.duplicate, faults.delay, faults.jitter
            );
            m("global", s.clone(), s)
        }
        What::Step { .. } | What::StepFailed { .. } => None,
    }
}

/// The verdict's failed checks, in report order, each with where it is drawn.
fn flags<'a>(record: &Record, verdict: &'a Verdict) -> Vec<Flag<'a>> {
    verdict
        .failures()
        .filter_map(|c| {
            let f = c.failure.as_ref()?;
            let node = c.node.as_deref().and_then(|n| record.node_index(n));
            let target = match f.place {
                None => Target::Nowhere,
                Some(Place::Time(t)) => Target::Moment(t),
                Some(Place::Datagram(i)) if i < record.datagrams.len() => Target::Datagram(i),
                Some(Place::Datagram(_)) => Target::Nowhere,
                Some(Place::Step(i)) => record
                    .events
                    .iter()
                    .find(|e| matches!(e.what, What::Step { index } if index == i))
                    .map_or(Target::Nowhere, |e| Target::Moment(e.at)),
                Some(Place::Line { stream, line }) => match node {
                    Some(n) if line >= 1 && line <= record.nodes[n].lines(stream).len() => {
                        Target::Line(n, stream, line - 1)
                    }
                    // The output ended before that line: where it ended.
                    Some(n) => Target::Moment(
                        record
                            .exit_of(n)
                            .map(|(at, _)| at)
                            .or_else(|| record.nodes[n].lines(stream).last().map(|l| l.at))
                            .unwrap_or(record.duration),
                    ),
                    None => Target::Nowhere,
                },
            };
            Some(Flag {
                what: match &c.node {
                    Some(n) => format!("{} {n}", c.kind.name()),
                    None => c.kind.name().to_string(),
                },
                summary: &f.summary,
                more: f.more,
                target,
            })
        })
        .collect()
}

/// Everything to draw, in time order, alike datagrams folded.
fn items(record: &Record, flags: &[Flag]) -> Vec<(Duration, Item)> {
    let mut items: Vec<(Duration, Item)> = Vec::new();
    for (i, e) in record.events.iter().enumerate() {
        if !matches!(e.what, What::Step { .. } | What::StepFailed { .. }) {
            items.push((e.at, Item::Event(i)));
        }
    }
    for (k, f) in flags.iter().enumerate() {
        if let Target::Moment(t) = f.target {
            items.push((t, Item::Moment(k)));
        }
    }
    for (i, f) in record.forged.iter().enumerate() {
        items.push((f.sent, Item::Forged(i)));
    }
    let flagged = |i: usize| flags.iter().any(|f| f.target == Target::Datagram(i));
    let alike = |a: &Datagram, b: &Datagram| {
        (a.from, a.to, kind(a), a.fate, a.rule) == (b.from, b.to, kind(b), b.fate, b.rule)
    };
    let ds = &record.datagrams;
    let mut i = 0;
    while i < ds.len() {
        let mut j = i;
        while j + 1 < ds.len() && alike(&ds[i], &ds[j + 1]) && !flagged(j + 1) && !flagged(i) {
            j += 1;
        }
        if j + 1 - i >= FOLD {
            items.push((ds[i].sent, Item::Datagrams(i, j)));
            i = j + 1;
        } else {
            items.push((ds[i].sent, Item::Datagrams(i, i)));
            i += 1;
        }
    }
    if record.unkept() > 0 {
        let last = ds.last().map_or(Duration::ZERO, |d| d.sent);
        items.push((last, Item::Unkept));
    }
    for (n, node) in record.nodes.iter().enumerate() {
        for stream in [Stream::Stdout, Stream::Stderr] {
            for (k, l) in node.lines(stream).iter().enumerate() {
                items.push((l.at, Item::Line(n, stream, k)));
            }
        }
    }
    let last = items.iter().map(|(at, _)| *at).max().unwrap_or_default();
    items.push((record.duration.max(last), Item::End));
    // Stable: datagrams keep the record's order, lines their own.
    items.sort_by_key(|&(at, item)| (at, item.rank()));
    items
}

/// The items laid out in rows and pages; what did not fit in
/// [`MAX_PAGES`]: datagrams, other items, and from when.
fn paginate(items: Vec<(Duration, Item)>) -> (Vec<Page>, Option<(usize, usize, Duration)>) {
    const TOP: f64 = 14.0;
    let mut pages = vec![Page::default()];
    let mut y = TOP;
    let mut before: Option<Duration> = None;
    let mut cut = None;
    for (k, &(at, item)) in items.iter().enumerate() {
        let mut pause = None;
        let gap = before.map_or(0.0, |b| {
            let scaled = ms(at - b) * PX_PER_MS;
            if scaled > MAX_GAP {
                pause = Some(at - b);
            }
            scaled.min(MAX_GAP).max(item.height())
        });
        let page = pages.len() - 1;
        if y + gap > PAGE_HEIGHT && !pages[page].rows.is_empty() {
            if pages.len() == MAX_PAGES {
                let rest = &items[k..];
                let datagrams = rest
                    .iter()
                    .map(|(_, i)| match i {
                        Item::Datagrams(a, b) => b - a + 1,
                        _ => 0,
                    })
                    .sum();
                let others = rest
                    .iter()
                    .filter(|(_, i)| !matches!(i, Item::Datagrams(..) | Item::End))
                    .count();
                cut = Some((datagrams, others, at));
                break;
            }
            pages.push(Page::default());
            y = TOP;
        } else {
            y += gap;
            if let Some(p) = pause {
                pages[page].pauses.push((y - gap, y, p));
            }
        }
        let page = pages.len() - 1;
        pages[page].rows.push(Placed { item, at, y });
        before = Some(at);
    }
    for p in &mut pages {
        p.bottom = p.rows.last().map_or(TOP, |r| r.y) + MAX_GAP / 2.0;
    }
    (pages, cut)
}

/// `lane[node]`: nodes in the order they first appear in the traffic (as
/// sender, then receiver), the way sequence diagrams are usually drawn,
/// with the initiator on the left; those that neither send nor receive
/// follow in the spec's order.
fn lanes(record: &Record) -> Vec<usize> {
    let n = record.nodes.len();
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    let ends = record
        .datagrams
        .iter()
        .flat_map(|d| [d.from, d.to])
        .chain(record.forged.iter().flat_map(|f| [f.from, f.to]))
        .chain(0..n);
    for i in ends {
        if i < n && !seen[i] {
            seen[i] = true;
            order.push(i);
        }
    }
    let mut lane = vec![0; n];
    for (k, &i) in order.iter().enumerate() {
        lane[i] = k;
    }
    lane
}

/// When node `i` was running: from each start to the exit (or the kill, or
/// the script's end) that followed, open-ended when none did. A node the
/// record saw no start of counts as running all along.
fn alive(record: &Record, i: usize) -> Vec<(Duration, Option<Duration>)> {
    let mut spans = Vec::new();
    let mut from = None;
    let mut started = false;
    for e in record.events.iter().filter(|e| e.node == Some(i)) {
        match e.what {
            What::Started { .. } | What::ScriptStarted => {
                started = true;
                from = from.or(Some(e.at));
            }
            What::Exited { .. } | What::KilledAtEnd | What::ScriptEnded { .. } => {
                if let Some(f) = from.take() {
                    spans.push((f, Some(e.at)));
                }
            }
            What::ScriptHeld { how: "killed" } => {
                if let Some(f) = from.take() {
                    spans.push((f, Some(e.at)));
                }
            }
            _ => {}
        }
    }
    if let Some(f) = from {
        spans.push((f, None));
    }
    if !started {
        spans.push((Duration::ZERO, None));
    }
    spans
}

/// The type a datagram's bytes decode to, if they are a record.
fn kind(d: &Datagram) -> Option<MsgType> {
    d.message().ok().map(|m| m.kind)
}

/// Whether the network held a datagram's copy before delivering it.
fn delayed(d: &Datagram) -> bool {
    d.fate.copies() > 0 && d.delays.iter().any(|x| !x.is_zero())
}

/// When copy `k` of a datagram reached its receiver, or would have.
fn arrival(d: &Datagram, k: usize) -> Duration {
    d.delivered
        .get(k)
        .copied()
        .unwrap_or_else(|| d.sent + d.delays.get(k).copied().unwrap_or_default())
}

/// Type and key, as a label says them.
fn said(kind: &MsgType, key: &str) -> String {
    if key.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} {key}")
    }
}

/// The record `bytes` decode to, or why they are not one.
fn decoded(bytes: &[u8]) -> String {
    Message::decode(bytes).map_or_else(
        |e| format!("{} bytes, not a record: {e}", bytes.len()),
        |m| m.to_string(),
    )
}

/// Where a lost datagram's arrow stops, between `from` and `to`: halfway,
/// or a quarter lane nearer its sender where halfway is another node's
/// lifeline.
fn halfway(from: f64, to: f64) -> f64 {
    let mid = (from + to) / 2.0;
    let lanes = (mid - AXIS) / LANE - 0.5;
    if (lanes - lanes.round()).abs() * LANE < 12.0 {
        mid - (to - from).signum() * LANE / 4.0
    } else {
        mid
    }
}

/// An arrowhead at `to`, pointing away from `from`.
fn tip(out: &mut String, from: (f64, f64), to: (f64, f64)) -> fmt::Result {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let len = (dx * dx + dy * dy).sqrt().max(1e-9);
    let (ux, uy) = (dx / len, dy / len);
    let (bx, by) = (to.0 - 7.0 * ux, to.1 - 7.0 * uy);
    let (px_, py_) = (-uy * 3.5, ux * 3.5);
    write!(
        out,
        r#"<path class="tip" d="M{} {} L{} {} L{} {} Z"/>"#,
        px(to.0),
        px(to.1),
        px(bx + px_),
        px(by + py_),
        px(bx - px_),
        px(by - py_)
    )
}

/// The cross that ends a lost datagram's arrow.
fn cross(out: &mut String, x: f64, y: f64) -> fmt::Result {
    write!(
        out,
        r#"<path class="cross" d="M{} {} L{} {} M{} {} L{} {}"/>"#,
        px(x - 4.5),
        px(y - 4.5),
        px(x + 4.5),
        px(y + 4.5),
        px(x - 4.5),
        px(y + 4.5),
        px(x + 4.5),
        px(y - 4.5)
    )
}

/// A length in pixels, as the SVG has it: one decimal, always the same.
fn px(x: f64) -> String {
    format!("{x:.1}")
}

/// A duration in milliseconds, fractional.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `812 ms`, `0.4 ms`: a moment or a delay, short.
fn ms_text(d: Duration) -> String {
    let v = ms(d);
    if d.subsec_micros().is_multiple_of(1000) || v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// `812.417 ms`: a moment, for a tooltip.
fn precise(d: Duration) -> String {
    format!("{:.3} ms", ms(d))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `text` cut to `max` characters, an ellipsis saying it was.
fn clip(text: &str, max: usize) -> String {
    let max = max.max(2);
    match text.char_indices().nth(max - 1) {
        Some((end, _)) if text[end..].chars().nth(1).is_some() => format!("{}…", &text[..end]),
        _ => text.to_string(),
    }
}

/// `head` then `tail` in `max` characters: `head` cut first, so that what
/// the network did stays when a long key does not fit.
fn fit(head: &str, tail: &str, max: usize) -> String {
    let whole = format!("{head}{tail}");
    if whole.chars().count() <= max {
        return whole;
    }
    let keep = max.saturating_sub(tail.chars().count()).max(8);
    clip(&format!("{}{tail}", clip(head, keep)), max)
}

use super::xml_text as esc;

#[cfg(test)]
mod tests;
