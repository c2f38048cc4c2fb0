//! Scripted peers: each step's names, placeholders and bindings, and what
//! a `send` writes.

use super::*;

/// The script of node `n`, written at `path`.
pub(super) fn script(
    t: &TestSpec,
    n: &NodeSpec,
    steps: &[ScriptStep],
    path: &NodePath,
) -> Result<(), Invalid> {
    // Names bound by `as` in the other scripts may be used anywhere (the
    // step waits until they are bound); in this one, only after the binding.
    let elsewhere: BTreeSet<String> = t
        .nodes
        .iter()
        .filter(|o| o.name != n.name)
        .flat_map(|o| o.script.iter().flatten())
        .flat_map(bound_by)
        .collect();
    let mut scope = Scope {
        t,
        n,
        elsewhere: &elsewhere,
        here: BTreeSet::new(),
        locals: BTreeSet::new(),
    };
    scope.steps(steps, path)
}

/// What a script step may name where it stands.
struct Scope<'a> {
    t: &'a TestSpec,
    n: &'a NodeSpec,
    /// Bound by `as` in other scripts.
    elsewhere: &'a BTreeSet<String>,
    /// Bound by `as` in this script, before this step.
    here: BTreeSet<String>,
    /// `i` inside a `repeat`, `req.*` and `stored` in a `serve` reply.
    locals: BTreeSet<&'static str>,
}

impl Scope<'_> {
    fn value(&self, name: &str) -> Result<(), String> {
        if self.locals.contains(name) {
            return Ok(());
        }
        if let Some(n) = name.strip_prefix("random:") {
            return match n.parse::<u64>() {
                Ok(n) if n > 0 => Ok(()),
                _ => Err(format!(
                    "`{{{name}}}`: N in {{random:N}} must be a whole number above 0"
                )),
            };
        }
        if let Some((bind, field)) = name.rsplit_once('.') {
            if !matches!(field, "key" | "value" | "type") {
                return Err(format!(
                    "`{{{name}}}`: a bound datagram has `.key`, `.value` and `.type`"
                ));
            }
            if self.here.contains(bind) || self.elsewhere.contains(bind) {
                return Ok(());
            }
            return Err(format!(
                "`{bind}` is not bound by a `recv` with `as: {bind}` before this step"
            ));
        }
        arg_value(self.t, name).map_err(|e| {
            format!("{e} (or a datagram bound with `as`, as in `{{r.key}}`, or `{{random:N}}`)")
        })
    }

    /// The steps of a list written at `list`.
    fn steps(&mut self, steps: &[ScriptStep], list: &NodePath) -> Result<(), Invalid> {
        let (t, n) = (self.t, self.n);
        for (k, s) in steps.iter().enumerate() {
            let item = list.index(k);
            match s {
                ScriptStep::Recv(r) => self.recv(r, &item.key("recv"))?,
                ScriptStep::Send(s) => send(t, n, s, &|x| self.value(x), &item.key("send"))?,
                ScriptStep::Silence { .. } | ScriptStep::Sleep(_) => {}
                ScriptStep::Repeat { times, steps } => {
                    let path = item.key("repeat");
                    if *times == 0 {
                        return Err(at_key(
                            path.key("times"),
                            "`repeat` needs `times` of at least 1".into(),
                        ));
                    }
                    let outer = self.locals.insert("i");
                    self.steps(steps, &path.key("steps"))?;
                    if outer {
                        self.locals.remove("i");
                    }
                }
                ScriptStep::If(c) => {
                    let path = item.key("if");
                    placeholders(&c.value, &|x| self.value(x), path.key("value"))?;
                    let before = self.here.clone();
                    self.steps(&c.then, &path.key("then"))?;
                    // A name bound in one branch only is not bound after it.
                    let then = std::mem::replace(&mut self.here, before.clone());
                    self.steps(&c.otherwise, &path.key("else"))?;
                    let otherwise = std::mem::replace(&mut self.here, before);
                    self.here.extend(then.intersection(&otherwise).cloned());
                }
                ScriptStep::Serve(sv) => self.serve(sv, &item.key("serve"))?,
            }
        }
        Ok(())
    }

    /// A `recv` written at `path`.
    fn recv(&mut self, r: &RecvStep, path: &NodePath) -> Result<(), Invalid> {
        let (t, n) = (self.t, self.n);
        if let Some(f) = &r.from {
            known(t, f, path.key("from"))?;
        }
        for (text, field) in [(&r.key, "key"), (&r.value, "value")] {
            if let Some(text) = text {
                placeholders(text, &|x| self.value(x), path.key(field))?;
                fits(text, path.key(field))?;
            }
        }
        if let Some(m) = &r.meanwhile {
            let meanwhile = path.key("meanwhile");
            if m.every.0.is_zero() {
                return Err(at_key(
                    meanwhile.key("every"),
                    "`meanwhile.every` must be more than 0".into(),
                ));
            }
            send(t, n, &m.send, &|x| self.value(x), &meanwhile.key("send"))?;
        }
        if let Some(b) = &r.bind {
            if !is_name(b) {
                return Err(at(
                    path.key("as"),
                    format!("`as: {b}`: a name is letters, digits, `_` and `-`"),
                ));
            }
            self.here.insert(b.clone());
        }
        Ok(())
    }

    /// A `serve` written at `path`.
    fn serve(&mut self, sv: &ServeStep, path: &NodePath) -> Result<(), Invalid> {
        let t = self.t;
        if sv.rules.is_empty() {
            return Err(at_key(
                path.key("rules"),
                "`serve` needs at least one rule".into(),
            ));
        }
        let added: Vec<&'static str> = ["req.key", "req.value", "req.type", "stored"]
            .into_iter()
            .filter(|l| self.locals.insert(l))
            .collect();
        for (i, r) in sv.rules.iter().enumerate() {
            let rule = path.key("rules").index(i);
            if let Some(f) = &r.from {
                known(t, f, rule.key("from"))?;
            }
            let Some(replies) = &r.reply else { continue };
            for (reply, path) in each(replies, &rule.key("reply")) {
                if let Some(f) = &reply.from {
                    let node = known(t, f, path.key("from"))?;
                    if !node.is_script() {
                        return Err(at(
                            path.key("from"),
                            format!(
                                "a reply can leave only from a scripted node's address, and `{f}` is a program"
                            ),
                        ));
                    }
                }
                for (text, field) in [(&reply.key, "key"), (&reply.value, "value")] {
                    if let Some(text) = text {
                        placeholders(text, &|x| self.value(x), path.key(field))?;
                    }
                }
                if reply.len.is_some_and(|l| l > handout::RECORD_LEN) {
                    return Err(at_key(
                        path.key("len"),
                        format!("`len` is at most {}", handout::RECORD_LEN),
                    ));
                }
            }
        }
        for l in added {
            self.locals.remove(l);
        }
        Ok(())
    }
}

/// The names a step binds with `as`, inner steps included.
fn bound_by(s: &ScriptStep) -> Vec<String> {
    match s {
        ScriptStep::Recv(r) => r.bind.iter().cloned().collect(),
        ScriptStep::Repeat { steps, .. } => steps.iter().flat_map(bound_by).collect(),
        ScriptStep::If(c) => c
            .then
            .iter()
            .chain(&c.otherwise)
            .flat_map(bound_by)
            .collect(),
        _ => Vec::new(),
    }
}

/// A `send` (of a script, or of a `meanwhile`) written at `path`.
fn send(
    t: &TestSpec,
    n: &NodeSpec,
    s: &SendStep,
    value: &dyn Fn(&str) -> Result<(), String>,
    path: &NodePath,
) -> Result<(), Invalid> {
    known(t, &s.to, path.key("to"))?;
    if let Some(from) = &s.from
        && !known(t, from, path.key("from"))?.is_script()
    {
        return Err(at(
            path.key("from"),
            format!(
                "`{}` sends `from: {from}`, but only a scripted node lends its address",
                n.name
            ),
        ));
    }
    let raw = usize::from(s.hex.is_some()) + usize::from(s.text.is_some());
    let msg = s.kind.is_some() || s.key.is_some() || s.value.is_some();
    if raw > 1 || (raw == 1 && msg) || (raw == 0 && s.kind.is_none()) {
        return Err(at(
            path.clone(),
            "a `send` needs either `type` (with `key`, `value`) or one of `hex`, `text`".into(),
        ));
    }
    if let Some(h) = &s.hex {
        parse_hex(h).map_err(|m| at(path.key("hex"), m))?;
    }
    if let Some(len) = s.len {
        if raw > 0 {
            return Err(at_key(
                path.key("len"),
                "`len` cuts a record built from `type`; `hex` and `text` are sent whole".into(),
            ));
        }
        if len > handout::RECORD_LEN {
            return Err(at_key(
                path.key("len"),
                format!("`len` is at most {} (a whole record)", handout::RECORD_LEN),
            ));
        }
    }
    for (text, field) in [(&s.key, "key"), (&s.value, "value")] {
        if let Some(text) = text {
            placeholders(text, value, path.key(field))?;
            fits(text, path.key(field))?;
        }
    }
    Ok(())
}

/// A key or value without placeholders, written at `path`, must fit in a
/// record's field.
fn fits(text: &str, path: NodePath) -> Result<(), Invalid> {
    let literal = pattern::parse(text).is_ok_and(|t| pattern::names(&t).next().is_none());
    if literal && (text.len() > handout::MAX_TEXT_LEN || text.contains('\0')) {
        return Err(at(
            path,
            format!(
                "`{text}` is {} bytes long: a key or value holds at most {} bytes",
                text.len(),
                handout::MAX_TEXT_LEN
            ),
        ));
    }
    Ok(())
}
