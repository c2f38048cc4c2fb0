//! Expected transcripts as a spec writes them: a line pattern, a block
//! repeated N times, or lines that may come in any order.
//!
//! The pattern syntax is [`super::pattern`]'s; matching output against
//! these items is [`crate::judge::transcript`]'s.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::pattern;

/// One entry of an expected transcript, as written in a spec.
///
/// # Format
///
/// ```yaml
/// - "Request ID: {#}"          # Line
/// - repeat: 5                  # Repeat
///   lines:
///     - "Type: READ_REQ Key: {key} Value: *"
/// - unordered:                 # Unordered
///     - "Write is Done"
///     - "Type: * Key: {k2} Value: *"
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// One line pattern, matched against one line of output.
    Line(String),
    /// A block of items expected `times` times in a row; inside it `{#}` is
    /// the 0-based number of the repetition.
    Repeat {
        /// How many times the block comes, at least 1.
        times: usize,
        /// The block.
        lines: Vec<Item>,
    },
    /// Line patterns expected as consecutive lines in any order.
    Unordered(Vec<String>),
}

impl<'de> Deserialize<'de> for Item {
    /// Reads an item from a string or a map.
    ///
    /// Written by hand rather than with `#[serde(untagged)]`: an untagged
    /// enum only says "data did not match any variant", while this names the
    /// key that is wrong and the keys that are accepted. Errors go through
    /// [`de::Error`], so `serde_yaml` adds their line and column.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

const EXPECTED_KEYS: &str = "expected `repeat` with `lines`, or `unordered`";

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a line pattern in quotes, a map with `repeat` and `lines`, or a map with `unordered`",
        )
    }

    fn visit_str<E: de::Error>(self, line: &str) -> Result<Item, E> {
        Ok(Item::Line(line.to_owned()))
    }

    fn visit_string<E: de::Error>(self, line: String) -> Result<Item, E> {
        Ok(Item::Line(line))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut times: Option<usize> = None;
        let mut lines: Option<Vec<Item>> = None;
        let mut unordered: Option<Vec<String>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "repeat" if times.is_some() => return Err(de::Error::duplicate_field("repeat")),
                "repeat" => times = Some(map.next_value()?),
                "lines" if lines.is_some() => return Err(de::Error::duplicate_field("lines")),
                "lines" => lines = Some(map.next_value()?),
                "unordered" if unordered.is_some() => {
                    return Err(de::Error::duplicate_field("unordered"));
                }
                "unordered" => unordered = Some(map.next_value()?),
                other => {
                    return Err(de::Error::custom(format_args!(
                        "unknown key `{other}` in a transcript item: {EXPECTED_KEYS}"
                    )));
                }
            }
        }
        match (times, lines, unordered) {
            (Some(times), Some(lines), None) => Ok(Item::Repeat { times, lines }),
            (None, None, Some(lines)) => Ok(Item::Unordered(lines)),
            (Some(times), None, None) => Err(de::Error::custom(format_args!(
                "missing `lines`: `repeat: {times}` needs the lines to repeat beside it"
            ))),
            (None, Some(_), None) => Err(de::Error::custom(
                "missing `repeat`: `lines` needs `repeat: N` beside it, saying how often they come",
            )),
            (None, None, None) => Err(de::Error::custom(format_args!(
                "empty transcript item: {EXPECTED_KEYS}"
            ))),
            _ => Err(de::Error::custom(
                "`unordered` cannot share an item with `repeat` or `lines`: make them two items",
            )),
        }
    }
}

/// Checks a list of items for errors that YAML cannot catch: pattern syntax
/// (unclosed `{`, empty or odd names, unknown escapes), `repeat: 0`, and
/// empty blocks.
///
/// # Errors
///
/// A message naming the item (`item 2 (repeat), line 1`) when the list has
/// more than one, the pattern, and the problem.
pub fn validate(items: &[Item]) -> Result<(), String> {
    validate_in(items, None)
}

fn validate_in(items: &[Item], within: Option<&str>) -> Result<(), String> {
    for (n, item) in items.iter().enumerate() {
        let here = match within {
            Some(outer) => format!("{outer}, line {}: ", n + 1),
            None if items.len() > 1 => format!("item {}: ", n + 1),
            None => String::new(),
        };
        match item {
            Item::Line(pattern) => check_pattern(pattern, &here)?,
            Item::Repeat { times, lines } => {
                if *times == 0 {
                    return Err(format!(
                        "{here}`repeat: 0` repeats nothing: remove the block, or repeat it at least once"
                    ));
                }
                if lines.is_empty() {
                    return Err(format!("{here}`repeat: {times}` has no `lines` to repeat"));
                }
                validate_in(lines, Some(&format!("{}(repeat)", context(&here, n))))?;
            }
            Item::Unordered(patterns) => {
                if patterns.is_empty() {
                    return Err(format!("{here}`unordered` lists no lines"));
                }
                let inner = format!("{}(unordered)", context(&here, n));
                for (m, pattern) in patterns.iter().enumerate() {
                    check_pattern(pattern, &format!("{inner}, line {}: ", m + 1))?;
                }
            }
        }
    }
    Ok(())
}

/// The location prefix for the lines inside a block: `item 2 ` or the outer
/// prefix `item 2 (repeat), line 1 `.
fn context(here: &str, n: usize) -> String {
    match here.strip_suffix(": ") {
        Some(place) => format!("{place} "),
        None => format!("item {} ", n + 1),
    }
}

fn check_pattern(text: &str, here: &str) -> Result<(), String> {
    pattern::parse(text)
        .map(drop)
        .map_err(|e| format!("{here}in `{text}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pattern: &str) -> Item {
        Item::Line(pattern.to_owned())
    }

    fn lines(patterns: &[&str]) -> Vec<Item> {
        patterns.iter().map(|p| line(p)).collect()
    }

    #[test]
    fn validate_reports_pattern_errors() {
        assert_eq!(validate(&lines(&["a {key} * \\* {#}"])), Ok(()));
        assert_eq!(
            validate(&[line("Key: {key")]),
            Err("in `Key: {key`: unclosed `{` at column 6: close it with `}`, or write `\\{` for a literal brace".into())
        );
        assert_eq!(
            validate(&lines(&["ok", "x {}"])),
            Err(
                "item 2: in `x {}`: empty name `{}` at column 3: name the value, as in `{key}`"
                    .into()
            )
        );
        let nested = [
            line("a"),
            Item::Repeat {
                times: 2,
                lines: lines(&["b", "{a b}"]),
            },
        ];
        let message = validate(&nested).unwrap_err();
        assert!(
            message.starts_with("item 2 (repeat), line 2: in `{a b}`: "),
            "{message}"
        );
        assert!(
            validate(&[line("}")])
                .unwrap_err()
                .contains("unmatched `}`")
        );
        assert!(
            validate(&[line(r"\n")])
                .unwrap_err()
                .contains("unknown escape")
        );
        assert!(validate(&[line("a\\")]).unwrap_err().contains("lone `\\`"));
        let unordered = [Item::Unordered(vec!["ok".into(), "{".into()])];
        assert!(
            validate(&unordered)
                .unwrap_err()
                .starts_with("item 1 (unordered), line 2: ")
        );
    }

    #[test]
    fn validate_rejects_empty_blocks() {
        let zero = [Item::Repeat {
            times: 0,
            lines: lines(&["a"]),
        }];
        assert!(
            validate(&zero)
                .unwrap_err()
                .contains("`repeat: 0` repeats nothing")
        );
        let empty = [Item::Repeat {
            times: 2,
            lines: vec![],
        }];
        assert!(validate(&empty).unwrap_err().contains("has no `lines`"));
        assert!(validate(&[Item::Unordered(vec![])]).is_err());
    }

    #[derive(Debug, serde::Deserialize)]
    struct Expect {
        stdout: Vec<Item>,
    }

    #[test]
    fn deserializes_all_three_forms() {
        let yaml = r#"
stdout:
  - "Request ID: {#}"
  - repeat: 2
    lines:
      - "Key: {key}"
      - repeat: 1
        lines: ["inner"]
  - unordered:
      - "Write is Done"
      - "Type: * Key: {k2} Value: *"
  - ""
"#;
        let expect: Expect = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(
            expect.stdout,
            vec![
                line("Request ID: {#}"),
                Item::Repeat {
                    times: 2,
                    lines: vec![
                        line("Key: {key}"),
                        Item::Repeat {
                            times: 1,
                            lines: lines(&["inner"])
                        },
                    ],
                },
                Item::Unordered(vec![
                    "Write is Done".into(),
                    "Type: * Key: {k2} Value: *".into()
                ]),
                line(""),
            ]
        );
    }

    #[test]
    fn deserialize_errors_name_the_key_and_place() {
        let yaml = "stdout:\n  - \"a\"\n  - repaet: 2\n    lines: [\"b\"]\n";
        let e = serde_yaml::from_str::<Expect>(yaml)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "unknown key `repaet` in a transcript item: expected `repeat` with `lines`, or `unordered`"
            ),
            "{e}"
        );
        assert!(e.contains("line 3 column 5"), "{e}");
        let missing = "stdout:\n  - repeat: 2\n";
        let e = serde_yaml::from_str::<Expect>(missing)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing `lines`") && e.contains("line 2"), "{e}");
        let number = "stdout:\n  - 42\n";
        let e = serde_yaml::from_str::<Expect>(number)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a line pattern in quotes"), "{e}");
        let both = "stdout:\n  - unordered: [\"a\"]\n    repeat: 1\n";
        let e = serde_yaml::from_str::<Expect>(both)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot share an item"), "{e}");
    }
}
