//! Arithmetic in a spec: `"0.5 * {capacity} / {keys}"`.
//!
//! A floor that depends on a test's settings is written once, next to
//! them, instead of worked out by hand and left to go stale when a setting
//! changes. The grammar is the school one:
//!
//! ```text
//! sum     = product (("+" | "-") product)*
//! product = factor (("*" | "/") factor)*
//! factor  = number | "{" name "}" | "(" sum ")" | "-" factor
//! ```
//!
//! Names are the test's `vars`. Everything is `f64`.

/// Evaluates `text`, looking names up with `var`.
///
/// # Errors
/// A syntax error with its column, a name `var` does not know, a value that
/// is not a number, or a division by zero.
pub fn eval(text: &str, var: &dyn Fn(&str) -> Option<String>) -> Result<f64, String> {
    let mut p = Parser {
        text,
        at: 0,
        var,
        names: Vec::new(),
    };
    let v = p.sum()?;
    p.blank();
    if p.at < text.len() {
        return Err(p.error("expected an operator or the end"));
    }
    Ok(v)
}

/// The names `text` uses, once it parses.
///
/// # Errors
/// As [`eval`], for syntax only.
pub fn names(text: &str) -> Result<Vec<String>, String> {
    let any = |_: &str| Some("1".to_string());
    let mut p = Parser {
        text,
        at: 0,
        var: &any,
        names: Vec::new(),
    };
    p.sum()?;
    p.blank();
    if p.at < text.len() {
        return Err(p.error("expected an operator or the end"));
    }
    Ok(p.names)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    var: &'a dyn Fn(&str) -> Option<String>,
    names: Vec<String>,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!("in `{}` at column {}: {what}", self.text, self.at + 1)
    }

    fn blank(&mut self) {
        while self.text[self.at..].starts_with(' ') {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.blank();
        self.text[self.at..].chars().next()
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut v = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.at += 1;
            let r = self.product()?;
            v = if op == '+' { v + r } else { v - r };
        }
        Ok(v)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut v = self.factor()?;
        while let Some(op @ ('*' | '/')) = self.peek() {
            self.at += 1;
            let r = self.factor()?;
            if op == '/' && r == 0.0 {
                return Err(self.error("division by zero"));
            }
            v = if op == '*' { v * r } else { v / r };
        }
        Ok(v)
    }

    fn factor(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some('-') => {
                self.at += 1;
                Ok(-self.factor()?)
            }
            Some('(') => {
                self.at += 1;
                let v = self.sum()?;
                if self.peek() != Some(')') {
                    return Err(self.error("expected `)`"));
                }
                self.at += 1;
                Ok(v)
            }
            Some('{') => {
                let rest = &self.text[self.at + 1..];
                let Some(end) = rest.find('}') else {
                    return Err(self.error("`{` is not closed"));
                };
                let name = &rest[..end];
                let value = (self.var)(name)
                    .ok_or_else(|| self.error(&format!("no test variable `{name}`")))?;
                let v = value
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| self.error(&format!("`{name}` is `{value}`, not a number")))?;
                self.names.push(name.to_string());
                self.at += end + 2;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let rest = &self.text[self.at..];
                let len = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(rest.len());
                let v = rest[..len]
                    .parse::<f64>()
                    .map_err(|_| self.error("not a number"))?;
                self.at += len;
                Ok(v)
            }
            _ => Err(self.error("expected a number, `{name}` or `(`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "capacity" => Some("10".into()),
            "keys" => Some("100".into()),
            "word" => Some("ten".into()),
            _ => None,
        }
    }

    #[test]
    fn arithmetic_with_variables() {
        assert_eq!(eval("3", &vars).unwrap(), 3.0);
        assert_eq!(eval("0.25", &vars).unwrap(), 0.25);
        assert_eq!(eval("2 * {capacity} / {keys}", &vars).unwrap(), 0.2);
        assert_eq!(eval("1 + 2 * 3", &vars).unwrap(), 7.0);
        assert_eq!(eval("(1 + 2) * 3", &vars).unwrap(), 9.0);
        assert_eq!(eval("-{capacity} + 1", &vars).unwrap(), -9.0);
        assert_eq!(names("{capacity} / {keys}").unwrap(), ["capacity", "keys"]);
    }

    #[test]
    fn mistakes_are_named() {
        let e = eval("{cap} / 2", &vars).unwrap_err();
        assert!(e.contains("no test variable `cap`"), "{e}");
        let e = eval("{word} * 2", &vars).unwrap_err();
        assert!(e.contains("`word` is `ten`, not a number"), "{e}");
        let e = eval("1 / 0", &vars).unwrap_err();
        assert!(e.contains("division by zero"), "{e}");
        let e = eval("1 +", &vars).unwrap_err();
        assert!(e.contains("column 4"), "{e}");
        let e = eval("(1 + 2", &vars).unwrap_err();
        assert!(e.contains("expected `)`"), "{e}");
        let e = eval("2 3", &vars).unwrap_err();
        assert!(e.contains("expected an operator"), "{e}");
    }
}
