//! One syntax for everything a spec fills in or matches.
//!
//! Program arguments, script fields and transcript patterns are all text
//! with the same kinds of holes:
//!
//! - `{name}` is a named value. In `args` and scripts it is replaced by the
//!   value the grader knows (`{port}`, `{peer:server}`, `{seed}`,
//!   `{r0.key}`). In a transcript pattern it captures a non-empty run of
//!   non-whitespace characters and binds `name` to it; if `name` is already
//!   bound (by an earlier line, or by the grader, as `{seed}` is), the line
//!   must hold that value there instead.
//! - `*` matches any run of characters, possibly empty (patterns only; in
//!   arguments and scripts it is just a star).
//! - `{#}` is the number of the current repetition of a `repeat` block
//!   (patterns only).
//!
//! `\*`, `\{`, `\}` and `\\` stand for the character itself. Every other use
//! of `\`, a lone `}`, or a name that is not letters, digits, `_`, `-`, `.`
//! and `:` is a syntax error: a stray brace is far more often a typo than a
//! wish to match a brace.
//!
//! Matching one line backtracks (`a*b*c` matches `a-b-b-c`); matching whole
//! transcripts is [`crate::judge::transcript`]'s business.

use std::collections::BTreeMap;

/// One piece of parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Text that must be there as is (escapes already resolved).
    Literal(String),
    /// `*`: any run of characters.
    Star,
    /// `{name}`: a named value.
    Var(String),
    /// `{#}`: the repetition index.
    Index,
}

/// Where the values of `{name}` come from.
pub trait Lookup {
    /// The value bound to `name`, if any.
    fn value(&self, name: &str) -> Option<&str>;
}

impl Lookup for BTreeMap<String, String> {
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// Parses `text` into tokens.
///
/// # Errors
/// A message naming the column and the fix: an unclosed `{`, an empty or
/// odd name, an unmatched `}`, an unknown escape.
pub fn parse(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut chars = text.char_indices().peekable();
    let column = |at: usize| text[..at].chars().count() + 1;
    while let Some((at, c)) = chars.next() {
        let token = match c {
            '\\' => match chars.next() {
                Some((_, escaped @ ('*' | '{' | '}' | '\\'))) => {
                    literal.push(escaped);
                    continue;
                }
                Some((_, other)) => {
                    return Err(format!(
                        "unknown escape `\\{other}` at column {}: the escapes are `\\*`, `\\{{`, `\\}}` and `\\\\`",
                        column(at)
                    ));
                }
                None => {
                    return Err("it ends with a lone `\\`: write `\\\\` for a backslash".into());
                }
            },
            '*' => {
                // `**` means the same as `*` and would only slow backtracking.
                if tokens.last() == Some(&Token::Star) && literal.is_empty() {
                    continue;
                }
                Token::Star
            }
            '{' => {
                let rest = &text[at + 1..];
                let Some(close) = rest.find('}') else {
                    return Err(format!(
                        "unclosed `{{` at column {}: close it with `}}`, or write `\\{{` for a literal brace",
                        column(at)
                    ));
                };
                let name = &rest[..close];
                while chars.next_if(|&(i, _)| i <= at + 1 + close).is_some() {}
                match name {
                    "" => {
                        return Err(format!(
                            "empty name `{{}}` at column {}: name the value, as in `{{key}}`",
                            column(at)
                        ));
                    }
                    "#" => Token::Index,
                    _ if name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')) =>
                    {
                        Token::Var(name.to_owned())
                    }
                    _ => {
                        return Err(format!(
                            "`{{{name}}}` at column {} is not a name: names are letters, digits, `_`, `-`, `.` and `:` (write `\\{{` for a literal brace)",
                            column(at)
                        ));
                    }
                }
            }
            '}' => {
                return Err(format!(
                    "unmatched `}}` at column {}: write `\\}}` for a literal brace",
                    column(at)
                ));
            }
            _ => {
                literal.push(c);
                continue;
            }
        };
        if !literal.is_empty() {
            tokens.push(Token::Literal(std::mem::take(&mut literal)));
        }
        tokens.push(token);
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal));
    }
    Ok(tokens)
}

/// The names of the `{name}` holes of `tokens`, in order.
pub fn names(tokens: &[Token]) -> impl Iterator<Item = &str> {
    tokens.iter().filter_map(|t| match t {
        Token::Var(name) => Some(name.as_str()),
        _ => None,
    })
}

/// Fills in every `{name}` of `text` from `values`: for arguments and
/// script fields, where `*` is just a star.
///
/// # Errors
/// A syntax error, `{#}` (which only means something in a transcript), or a
/// name without a value.
pub fn substitute(text: &str, values: &dyn Lookup) -> Result<String, String> {
    fill(&parse(text)?, values).map_err(|missing| match missing {
        None => format!("`{{#}}` in `{text}` only means something in a transcript"),
        Some(name) => format!("`{{{name}}}` in `{text}` has no value here"),
    })
}

/// [`substitute`] for a pattern already parsed.
///
/// # Errors
/// What has no value: `None` for `{#}`, or the name.
pub fn fill(tokens: &[Token], values: &dyn Lookup) -> Result<String, Option<String>> {
    let mut out = String::new();
    for token in tokens {
        match token {
            Token::Literal(l) => out.push_str(l),
            Token::Star => out.push('*'),
            Token::Index => return Err(None),
            Token::Var(name) => match values.value(name) {
                Some(v) => out.push_str(v),
                None => return Err(Some(name.clone())),
            },
        }
    }
    Ok(out)
}

/// Writes tokens back as a pattern, with bound names and `{#}` replaced by
/// their values: what a student compares with the actual line.
pub fn render(tokens: &[Token], bound: &dyn Lookup, index: usize) -> String {
    let mut text = String::new();
    for token in tokens {
        match token {
            Token::Literal(literal) => {
                for c in literal.chars() {
                    if matches!(c, '*' | '{' | '}' | '\\') {
                        text.push('\\');
                    }
                    text.push(c);
                }
            }
            Token::Star => text.push('*'),
            Token::Index => text.push_str(&index.to_string()),
            Token::Var(name) => match bound.value(name) {
                Some(value) => text.push_str(value),
                None => text.push_str(&format!("{{{name}}}")),
            },
        }
    }
    text
}

/// Matches one line against a pattern; on success returns the new bindings
/// it made, in order. `bound` holds the names already bound, `index` is
/// the value of `{#}`.
///
/// Captures are slices of the line while the search runs, copied once at
/// the end: a `{name}` tries every length of the run of non-whitespace
/// characters it starts, and copying each would make one long line cost
/// the square of its length.
pub fn match_line(
    tokens: &[Token],
    text: &str,
    bound: &dyn Lookup,
    index: usize,
) -> Option<Vec<(String, String)>> {
    let mut captured = Vec::new();
    step(tokens, text, bound, index, &mut captured).then(|| {
        captured
            .into_iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    })
}

/// Whether `line` matches the pattern `pattern`, with `bound` and `{#}` = 0;
/// an invalid pattern matches nothing.
pub fn matches(pattern: &str, line: &str, bound: &dyn Lookup) -> bool {
    parse(pattern).is_ok_and(|tokens| match_line(&tokens, line, bound, 0).is_some())
}

/// Backtracking matcher: does `text` match `tokens`, given the bindings of
/// `bound` and those `captured` so far on this line?
fn step<'p, 's>(
    tokens: &'p [Token],
    text: &'s str,
    bound: &dyn Lookup,
    index: usize,
    captured: &mut Vec<(&'p str, &'s str)>,
) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return text.is_empty();
    };
    let then = |prefix: &str, captured: &mut Vec<(&'p str, &'s str)>| {
        text.strip_prefix(prefix)
            .is_some_and(|after| step(rest, after, bound, index, captured))
    };
    match first {
        Token::Literal(literal) => then(literal, captured),
        Token::Index => then(&index.to_string(), captured),
        Token::Star if rest.is_empty() => true,
        Token::Star => text
            .char_indices()
            .map(|(at, _)| at)
            .chain([text.len()])
            .any(|at| step(rest, &text[at..], bound, index, captured)),
        Token::Var(name) => {
            let earlier = captured.iter().find(|(n, _)| *n == name).map(|&(_, v)| v);
            if let Some(value) = earlier.or_else(|| bound.value(name)) {
                return then(value, captured);
            }
            let run = text.find(char::is_whitespace).unwrap_or(text.len());
            for (at, c) in text[..run].char_indices() {
                let end = at + c.len_utf8();
                captured.push((name, &text[..end]));
                if step(rest, &text[end..], bound, index, captured) {
                    return true;
                }
                captured.pop();
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn is_match(pattern: &str, text: &str) -> bool {
        matches(pattern, text, &values(&[]))
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(is_match("Write is Done", "Write is Done"));
        assert!(!is_match("Write is Done", "Write is done"));
        assert!(is_match("*Done", "Write is Done"));
        assert!(is_match("a*b*c", "a-b-b-c"));
        assert!(!is_match("a*b*c", "a-c-b"));
        assert!(is_match("*", ""));
    }

    #[test]
    fn names_capture_or_compare() {
        assert!(is_match("Key: {key}", "Key: AAAA"));
        assert!(!is_match("Key: {key}", "Key: "));
        assert!(is_match("{k} and {k}", "abc and abc"));
        assert!(!is_match("{k} and {k}", "abc and abd"));
        let seed = values(&[("seed", "42")]);
        assert!(matches("seed {seed}", "seed 42", &seed));
        assert!(!matches("seed {seed}", "seed 43", &seed));
    }

    #[test]
    fn names_may_hold_dots_and_colons() {
        let v = values(&[("peer:server", "4000"), ("r0.key", "AAAA")]);
        assert_eq!(substitute("{peer:server}", &v).unwrap(), "4000");
        assert_eq!(substitute("k={r0.key}*", &v).unwrap(), "k=AAAA*");
        assert!(
            substitute("{r1.key}", &v)
                .unwrap_err()
                .contains("has no value")
        );
        assert!(substitute("{#}", &v).unwrap_err().contains("transcript"));
    }

    #[test]
    fn escapes_and_errors() {
        assert!(is_match(r"a\*b", "a*b"));
        assert!(!is_match(r"a\*b", "axb"));
        assert!(is_match(r"\{key\}", "{key}"));
        assert!(
            parse("Key: {key")
                .unwrap_err()
                .contains("unclosed `{` at column 6")
        );
        assert!(parse("x {}").unwrap_err().contains("empty name"));
        assert!(parse("}").unwrap_err().contains("unmatched `}`"));
        assert!(parse(r"\n").unwrap_err().contains("unknown escape"));
        assert!(parse("a\\").unwrap_err().contains("lone `\\`"));
        assert!(parse("{a b}").unwrap_err().contains("is not a name"));
    }

    #[test]
    fn render_fills_in_what_is_bound() {
        let tokens = parse(r"\{x\} {y} {z} {#} *").unwrap();
        assert_eq!(
            render(&tokens, &values(&[("y", "Y")]), 3),
            r"\{x\} Y {z} 3 *"
        );
    }

    #[test]
    fn a_long_line_costs_its_length_not_its_square() {
        // A capture tries every length of a 1 MiB run (the output limit);
        // copying each would copy half a terabyte. The match fails only at
        // the end, so every length is tried.
        let line = format!("Key: {} Value", "A".repeat(1 << 20));
        assert!(!is_match("Key: {key} Value: V", &line));
        assert!(is_match("Key: {key} Value", &line));
    }
}
