//! Comparing two configurations as scripts/diffconfig does: options only
//! in the first (removed), only in the second (added), and in both with
//! different values (changed). `# CONFIG_X is not set` reads as `n`, a
//! missing option is absent (conf writes every visible option).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use ktailor_kconfig::Diagnostic;

/// A configuration's option values by name (without the prefix); strings
/// keep their quotes, as diffconfig shows them.
pub type Values = BTreeMap<String, String>;

/// Reads a configuration. Lines that are neither blank, comments, nor
/// `PREFIXNAME=value` are errors with file:line. An option assigned twice
/// keeps the last value, as in conf, with a warning.
pub fn parse_config(
    text: &str,
    file: &str,
    prefix: &str,
) -> Result<(Values, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut values = Values::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let line = i as u32 + 1;
        let l = l.trim_end_matches('\r');
        if let Some(rest) = l.strip_prefix("# ").and_then(|r| r.strip_prefix(prefix)) {
            if let Some(name) = rest.strip_suffix(" is not set") {
                if valid_name(name) {
                    values.insert(name.to_string(), "n".into());
                }
            }
            continue;
        }
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let Some((name, value)) = l.strip_prefix(prefix).and_then(|r| r.split_once('=')) else {
            errors.push(Diagnostic::error(
                file,
                line,
                format!("not a configuration line (expected {prefix}NAME=value)"),
            ));
            continue;
        };
        if !valid_name(name) {
            errors.push(Diagnostic::error(
                file,
                line,
                format!("invalid option name '{name}'"),
            ));
            continue;
        }
        if let Some(old) = values.insert(name.to_string(), value.to_string()) {
            if old != value {
                warnings.push(Diagnostic::warning(
                    file,
                    line,
                    format!("{prefix}{name} set again ({old} before); the last value counts"),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok((values, warnings))
    } else {
        Err(errors)
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The differences between two configurations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub removed: Vec<(String, String)>,
    pub added: Vec<(String, String)>,
    /// Name, old value, new value.
    pub changed: Vec<(String, String, String)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty() && self.changed.is_empty()
    }
    pub fn len(&self) -> usize {
        self.removed.len() + self.added.len() + self.changed.len()
    }
    /// diffconfig's lines: `-NAME v`, `+NAME v`, ` NAME old -> new`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (n, v) in &self.removed {
            out.push(format!("-{n} {v}"));
        }
        for (n, v) in &self.added {
            out.push(format!("+{n} {v}"));
        }
        for (n, a, b) in &self.changed {
            out.push(format!(" {n} {a} -> {b}"));
        }
        out
    }
}

/// The values of a configuration's well-formed lines, borrowed from the
/// text; the last assignment of an option counts. Other lines are
/// skipped (`parse_config` is the reader that reports them).
fn borrowed_values<'a>(text: &'a str, prefix: &str) -> HashMap<&'a str, &'a str> {
    let mut values = HashMap::with_capacity_and_hasher(text.len() / 24, Default::default());
    for l in text.lines() {
        let l = l.trim_end_matches('\r');
        let (name, value) = if let Some(rest) = l.strip_prefix("# ") {
            match rest
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(" is not set"))
            {
                Some(name) => (name, "n"),
                None => continue,
            }
        } else {
            match l.strip_prefix(prefix).and_then(|r| r.split_once('=')) {
                Some(nv) => nv,
                None => continue,
            }
        };
        if valid_name(name) {
            values.insert(name, value);
        }
    }
    values
}

/// [`diff`] of two configuration texts, without building [`Values`]
/// (what a command that prints one plan's effect needs).
pub fn diff_texts(a: &str, b: &str, prefix: &str) -> Changes {
    let (va, vb) = (borrowed_values(a, prefix), borrowed_values(b, prefix));
    let mut c = Changes::default();
    for (n, x) in &va {
        match vb.get(n) {
            None => c.removed.push((n.to_string(), x.to_string())),
            Some(y) if y != x => c
                .changed
                .push((n.to_string(), x.to_string(), y.to_string())),
            Some(_) => {}
        }
    }
    for (n, y) in &vb {
        if !va.contains_key(n) {
            c.added.push((n.to_string(), y.to_string()));
        }
    }
    c.removed.sort_unstable();
    c.added.sort_unstable();
    c.changed.sort_unstable();
    c
}

/// Compares `a` (old) with `b` (new), each list sorted by name.
pub fn diff(a: &Values, b: &Values) -> Changes {
    let mut c = Changes::default();
    for (n, va) in a {
        match b.get(n) {
            None => c.removed.push((n.clone(), va.clone())),
            Some(vb) if vb != va => c.changed.push((n.clone(), va.clone(), vb.clone())),
            Some(_) => {}
        }
    }
    for (n, vb) in b {
        if !a.contains_key(n) {
            c.added.push((n.clone(), vb.clone()));
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> Values {
        parse_config(t, "x", "CONFIG_").expect("parses").0
    }

    #[test]
    fn removed_added_changed() {
        let a = p("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\nCONFIG_D=1\n");
        let b = p("CONFIG_A=m\nCONFIG_B=y\nCONFIG_C=\"x\"\nCONFIG_E=y\n");
        let c = diff(&a, &b);
        assert_eq!(c.lines(), vec!["-D 1", "+E y", " A y -> m", " B n -> y"]);
        assert_eq!(c.len(), 4);
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn text_diff_agrees_with_parsed_diff() {
        let a = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\nCONFIG_D=1\nCONFIG_Z=m\nCONFIG_Z=y\n";
        let b = "CONFIG_A=m\r\nCONFIG_B=y\n# a comment\nCONFIG_C=\"x\"\nCONFIG_E=y\nCONFIG_Z=y\n";
        assert_eq!(diff_texts(a, b, "CONFIG_"), diff(&p(a), &p(b)));
        assert_eq!(
            diff_texts(a, b, "CONFIG_").lines(),
            vec!["-D 1", "+E y", " A y -> m", " B n -> y"]
        );
    }

    #[test]
    fn bad_lines_are_errors_with_their_line() {
        let e = parse_config("CONFIG_A=y\nrubbish\nCONFIG_B-C=y\n", "f", "CONFIG_")
            .expect_err("rejects");
        let at: Vec<_> = e.iter().map(|d| (d.line, d.message.clone())).collect();
        assert_eq!(at[0].0, 2);
        assert_eq!(at[1].0, 3);
        assert!(at[1].1.contains("B-C"));
    }

    #[test]
    fn repeated_option_warns_and_last_wins() {
        let (v, w) = parse_config("CONFIG_A=y\nCONFIG_A=n\n", "f", "CONFIG_").expect("parses");
        assert_eq!(v["A"], "n");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 2);
    }
}
