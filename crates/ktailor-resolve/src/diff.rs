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

/// A well-formed line's option name and value (`n` for `# PREFIXNAME is
/// not set`); `None` for any other line (`parse_config` is the reader that
/// reports bad ones).
fn line_value<'a>(l: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let l = l.trim_end_matches('\r');
    let (name, value) = match l.strip_prefix("# ") {
        Some(rest) => (rest.strip_prefix(prefix)?.strip_suffix(" is not set")?, "n"),
        None => l.strip_prefix(prefix)?.split_once('=')?,
    };
    valid_name(name).then_some((name, value))
}

/// The values of a configuration's well-formed lines, borrowed from the
/// text; the last assignment of an option counts.
fn borrowed_values<'a>(text: &'a str, prefix: &str) -> HashMap<&'a str, &'a str> {
    let mut values = HashMap::default();
    for l in text.lines() {
        if let Some((name, value)) = line_value(l, prefix) {
            values.insert(name, value);
        }
    }
    values
}

/// Where two texts stop being equal: the length of their longest common
/// prefix that ends at a line end, and of their longest common suffix that
/// starts at a line start, not overlapping the prefix in either text.
fn common_lines(a: &[u8], b: &[u8]) -> (usize, usize) {
    const CHUNK: usize = 64;
    let n = a.len().min(b.len());
    let mut p = 0;
    while p + CHUNK <= n && a[p..p + CHUNK] == b[p..p + CHUNK] {
        p += CHUNK;
    }
    while p < n && a[p] == b[p] {
        p += 1;
    }
    let head = if p == a.len() && p == b.len() {
        p
    } else {
        a[..p]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1)
    };
    let room = n - head;
    let mut s = 0;
    while s + CHUNK <= room
        && a[a.len() - s - CHUNK..a.len() - s] == b[b.len() - s - CHUNK..b.len() - s]
    {
        s += CHUNK;
    }
    while s < room && a[a.len() - s - 1] == b[b.len() - s - 1] {
        s += 1;
    }
    // The common suffix starts at a line start in both texts, or right
    // after its first line end.
    let at_line_start = |t: &[u8]| {
        let i = t.len() - s;
        i == head || t[i - 1] == b'\n'
    };
    let tail = if at_line_start(a) && at_line_start(b) {
        s
    } else {
        let region = &a[a.len() - s..];
        region
            .iter()
            .position(|&c| c == b'\n')
            .map_or(0, |i| s - i - 1)
    };
    (head, tail)
}

/// [`diff`] of two configuration texts, without building [`Values`]
/// (what a command that prints one plan's effect needs). Only options
/// assigned where the texts differ can differ: the common first and last
/// lines are read only for those options' values.
pub fn diff_texts(a: &str, b: &str, prefix: &str) -> Changes {
    let (head, tail) = common_lines(a.as_bytes(), b.as_bytes());
    let (mid_a, mid_b) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let (va, vb) = (
        borrowed_values(mid_a, prefix),
        borrowed_values(mid_b, prefix),
    );
    let mut c = Changes::default();
    if va.is_empty() && vb.is_empty() {
        return c;
    }
    // The last value of each of those options in the common head, and in
    // the common tail (which, coming last, decides it in both texts).
    let (mut before, mut after) = (HashMap::default(), HashMap::default());
    for (part, into) in [
        (&a[..head], &mut before),
        (&a[a.len() - tail..], &mut after),
    ] {
        for l in part.lines() {
            if let Some((name, value)) = line_value(l, prefix) {
                if va.contains_key(name) || vb.contains_key(name) {
                    into.insert(name, value);
                }
            }
        }
    }
    let value = |mid: &HashMap<&str, &str>, n: &str| -> Option<String> {
        let v = after
            .get(n)
            .or_else(|| mid.get(n))
            .or_else(|| before.get(n));
        v.map(|v| v.to_string())
    };
    let mut names: Vec<&str> = va.keys().chain(vb.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    for n in names {
        match (value(&va, n), value(&vb, n)) {
            (Some(x), None) => c.removed.push((n.to_string(), x)),
            (None, Some(y)) => c.added.push((n.to_string(), y)),
            (Some(x), Some(y)) if x != y => c.changed.push((n.to_string(), x, y)),
            _ => {}
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

    /// Texts that share most lines, with repeated options, comments, CRs
    /// and a last line without its newline, compared both ways.
    #[test]
    fn text_diff_agrees_with_parsed_diff_on_near_copies() {
        let mut seed = 0x2545_f491_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let line = |next: &mut dyn FnMut(u64) -> u64| -> String {
            let name = ["A", "B", "C", "DD", "E_1"][next(5) as usize];
            match next(6) {
                0 => format!("# CONFIG_{name} is not set"),
                1 => "# a comment".into(),
                2 => format!("CONFIG_{name}=\"s{}\"\r", next(2)),
                3 => String::new(),
                _ => format!("CONFIG_{name}={}", ["y", "m", "n", "1"][next(4) as usize]),
            }
        };
        for _ in 0..3000 {
            let lines: Vec<String> = (0..next(12)).map(|_| line(&mut next)).collect();
            let mut other = lines.clone();
            for _ in 0..next(4) {
                let at = next(other.len() as u64 + 1) as usize;
                match next(3) {
                    0 if at < other.len() => {
                        other.remove(at);
                    }
                    1 if at < other.len() => other[at] = line(&mut next),
                    _ => other.insert(at, line(&mut next)),
                }
            }
            let join = |v: &[String], end: bool| {
                let mut t = v.join("\n");
                if end && !t.is_empty() {
                    t.push('\n');
                }
                t
            };
            let (a, b) = (join(&lines, next(4) > 0), join(&other, next(4) > 0));
            assert_eq!(
                diff_texts(&a, &b, "CONFIG_"),
                diff(&p(&a), &p(&b)),
                "{a:?} -> {b:?}"
            );
            assert_eq!(
                diff_texts(&b, &a, "CONFIG_"),
                diff(&p(&b), &p(&a)),
                "{b:?} -> {a:?}"
            );
        }
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
