//! SUBARCH: the host's architecture in kernel terms, computed like
//! scripts/subarch.include does it: `uname -m` piped through a list of `sed`
//! substitutions (`x86_64` becomes `x86`, `aarch64` becomes `arm64`, ...).
//!
//! The substitutions are read from the tree's own scripts/subarch.include,
//! because they differ between versions (6.12 keeps `arm64` as it is, 6.1
//! turns it into `arm`). This module carries the small part of sed that the
//! file uses: `-e` expressions of the form `[/RE/[!]]s/RE/REPLACEMENT/`, with
//! basic regular expressions made of literals, `.`, bracket expressions, `*`,
//! `^` and `$`. Anything else is reported, not guessed.

use std::path::Path;

use crate::KbuildError;

/// One atom of a basic regular expression.
#[derive(Clone, Debug, PartialEq)]
enum Atom {
    Literal(char),
    Any,
    Class { negated: bool, items: Vec<char> },
}

#[derive(Clone, Debug, PartialEq)]
struct Piece {
    atom: Atom,
    star: bool,
}

/// A parsed basic regular expression.
#[derive(Clone, Debug, PartialEq)]
struct Regex {
    anchored_start: bool,
    anchored_end: bool,
    pieces: Vec<Piece>,
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Literal(l) => *l == c,
            Atom::Any => true,
            Atom::Class { negated, items } => items.contains(&c) != *negated,
        }
    }
}

impl Regex {
    fn parse(text: &str) -> Result<Regex, String> {
        let mut chars: Vec<char> = text.chars().collect();
        let anchored_start = chars.first() == Some(&'^');
        if anchored_start {
            chars.remove(0);
        }
        let anchored_end = chars.last() == Some(&'$');
        if anchored_end {
            chars.pop();
        }
        let mut pieces: Vec<Piece> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let atom = match c {
                '.' => Atom::Any,
                '*' => {
                    match pieces.last_mut() {
                        Some(last) if !last.star => last.star = true,
                        // A leading `*` is a literal star in a BRE.
                        _ => pieces.push(Piece {
                            atom: Atom::Literal('*'),
                            star: false,
                        }),
                    }
                    i += 1;
                    continue;
                }
                '[' => {
                    let mut j = i + 1;
                    let negated = chars.get(j) == Some(&'^');
                    if negated {
                        j += 1;
                    }
                    let mut items = Vec::new();
                    let start = j;
                    while j < chars.len() && (chars[j] != ']' || j == start) {
                        if chars.get(j + 1) == Some(&'-')
                            && chars.get(j + 2).is_some_and(|&e| e != ']')
                        {
                            let (lo, hi) = (chars[j], chars[j + 2]);
                            items.extend(lo..=hi);
                            j += 3;
                        } else {
                            items.push(chars[j]);
                            j += 1;
                        }
                    }
                    if j >= chars.len() {
                        return Err(format!("unterminated bracket expression in /{text}/"));
                    }
                    i = j;
                    Atom::Class { negated, items }
                }
                '\\' => {
                    let Some(&next) = chars.get(i + 1) else {
                        return Err(format!("trailing backslash in /{text}/"));
                    };
                    if next.is_ascii_alphanumeric() || next == '(' || next == '{' {
                        return Err(format!("unsupported escape \\{next} in /{text}/"));
                    }
                    i += 1;
                    Atom::Literal(next)
                }
                other => Atom::Literal(other),
            };
            pieces.push(Piece { atom, star: false });
            i += 1;
        }
        Ok(Regex {
            anchored_start,
            anchored_end,
            pieces,
        })
    }

    /// Every end position at which `pieces` matches `s` from `pos`.
    fn ends(&self, s: &[char], piece: usize, pos: usize, out: &mut Vec<usize>) {
        let Some(p) = self.pieces.get(piece) else {
            if !self.anchored_end || pos == s.len() {
                out.push(pos);
            }
            return;
        };
        if p.star {
            let mut k = pos;
            loop {
                self.ends(s, piece + 1, k, out);
                if k < s.len() && p.atom.matches(s[k]) {
                    k += 1;
                } else {
                    break;
                }
            }
        } else if pos < s.len() && p.atom.matches(s[pos]) {
            self.ends(s, piece + 1, pos + 1, out);
        }
    }

    /// The leftmost-longest match, as POSIX requires: `(start, end)` in chars.
    fn find(&self, s: &[char]) -> Option<(usize, usize)> {
        let last_start = if self.anchored_start { 0 } else { s.len() };
        for start in 0..=last_start {
            let mut ends = Vec::new();
            self.ends(s, 0, start, &mut ends);
            if let Some(end) = ends.into_iter().max() {
                return Some((start, end));
            }
        }
        None
    }
}

/// One `-e` expression: an optional address, then a substitution.
#[derive(Clone, Debug, PartialEq)]
struct SedCommand {
    address: Option<(Regex, bool)>,
    pattern: Regex,
    replacement: String,
}

impl SedCommand {
    fn parse(expr: &str) -> Result<SedCommand, String> {
        let mut rest = expr;
        let mut address = None;
        if let Some(after) = rest.strip_prefix('/') {
            let end = after
                .find('/')
                .ok_or_else(|| format!("unterminated address in {expr}"))?;
            let regex = Regex::parse(&after[..end])?;
            rest = &after[end + 1..];
            let negated = rest.starts_with('!');
            if negated {
                rest = &rest[1..];
            }
            address = Some((regex, negated));
        }
        let body = rest
            .strip_prefix("s/")
            .ok_or_else(|| format!("unsupported sed command {expr}"))?;
        let parts: Vec<&str> = body.split('/').collect();
        if parts.len() != 3 || !parts[2].is_empty() {
            return Err(format!("unsupported substitution {expr}"));
        }
        if parts[1].contains(['&', '\\']) {
            return Err(format!("unsupported replacement in {expr}"));
        }
        Ok(SedCommand {
            address,
            pattern: Regex::parse(parts[0])?,
            replacement: parts[1].to_string(),
        })
    }

    fn apply(&self, line: &str) -> String {
        let chars: Vec<char> = line.chars().collect();
        if let Some((regex, negated)) = &self.address {
            if regex.find(&chars).is_some() == *negated {
                return line.to_string();
            }
        }
        match self.pattern.find(&chars) {
            Some((start, end)) => {
                let mut out: String = chars[..start].iter().collect();
                out.push_str(&self.replacement);
                out.extend(&chars[end..]);
                out
            }
            None => line.to_string(),
        }
    }
}

/// The substitutions of scripts/subarch.include, in order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SubarchMap {
    commands: Vec<SedCommand>,
}

impl SubarchMap {
    /// Reads `scripts/subarch.include` of `srctree`.
    pub(crate) fn load(srctree: &Path) -> Result<SubarchMap, KbuildError> {
        let path = srctree.join("scripts/subarch.include");
        let text = std::fs::read_to_string(&path).map_err(|source| KbuildError::Read {
            path: path.clone(),
            source,
        })?;
        SubarchMap::parse(&text).map_err(|(line, message)| KbuildError::Makefile {
            path,
            line,
            message,
        })
    }

    /// Parses the `SUBARCH := $(shell uname -m | sed ...)` assignment.
    /// Errors carry the 1-based line of the assignment.
    fn parse(text: &str) -> Result<SubarchMap, (usize, String)> {
        let Some(start) = text
            .lines()
            .position(|l| l.trim_start().starts_with("SUBARCH"))
        else {
            return Err((1, "no SUBARCH assignment".to_string()));
        };
        let line_no = start + 1;
        // Join the backslash-continued lines of the assignment.
        let mut joined = String::new();
        for line in text.lines().skip(start) {
            match line.strip_suffix('\\') {
                Some(head) => {
                    joined.push_str(head);
                    joined.push(' ');
                }
                None => {
                    joined.push_str(line);
                    break;
                }
            }
        }
        let err = |m: &str| {
            (
                line_no,
                format!("{m} in SUBARCH assignment: {}", joined.trim()),
            )
        };
        let sed_at = joined.find("| sed").ok_or_else(|| err("no `| sed`"))?;
        if !joined[..sed_at].contains("uname -m") {
            return Err(err("no `uname -m`"));
        }
        let args = joined[sed_at + "| sed".len()..].trim_end();
        let args = args
            .strip_suffix(')')
            .ok_or_else(|| err("no closing parenthesis"))?;
        let words: Vec<&str> = args.split_whitespace().collect();
        if words.len() % 2 != 0 {
            return Err(err("odd number of sed arguments"));
        }
        let mut commands = Vec::new();
        for pair in words.chunks(2) {
            if pair[0] != "-e" {
                return Err(err("sed argument without -e"));
            }
            // make turns `$$` into `$` before the shell sees it.
            let expr = pair[1].replace("$$", "$");
            commands.push(SedCommand::parse(&expr).map_err(|m| (line_no, m))?);
        }
        Ok(SubarchMap { commands })
    }

    /// SUBARCH for the given `uname -m` output.
    pub(crate) fn map(&self, uname_m: &str) -> String {
        // sed works line by line; `uname -m` prints one line.
        self.commands
            .iter()
            .fold(uname_m.to_string(), |line, cmd| cmd.apply(&line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V6_1: &str = "SUBARCH := $(shell uname -m | sed -e s/i.86/x86/ -e s/x86_64/x86/ \\
\t\t\t\t  -e s/sun4u/sparc64/ \\
\t\t\t\t  -e s/arm.*/arm/ -e s/sa110/arm/ \\
\t\t\t\t  -e s/s390x/s390/ \\
\t\t\t\t  -e s/ppc.*/powerpc/ -e s/mips.*/mips/ \\
\t\t\t\t  -e s/sh[234].*/sh/ -e s/aarch64.*/arm64/ \\
\t\t\t\t  -e s/riscv.*/riscv/ -e s/loongarch.*/loongarch/)
";

    fn v6_12() -> String {
        V6_1.replace("-e s/arm.*/arm/", "-e /^arm64$$/!s/arm.*/arm/")
    }

    #[test]
    fn maps_common_hosts_like_subarch_include() {
        let map = SubarchMap::parse(V6_1).expect("parses");
        for (uname, subarch) in [
            ("x86_64", "x86"),
            ("i686", "x86"),
            ("i386", "x86"),
            ("aarch64", "arm64"),
            ("aarch64_be", "arm64"),
            ("armv7l", "arm"),
            ("sa110", "arm"),
            ("s390x", "s390"),
            ("ppc64le", "powerpc"),
            ("mips64", "mips"),
            ("sh4a", "sh"),
            ("riscv64", "riscv"),
            ("loongarch64", "loongarch"),
            ("sun4u", "sparc64"),
            ("sparc64", "sparc64"),
            ("parisc64", "parisc64"),
            ("alpha", "alpha"),
            ("m68k", "m68k"),
        ] {
            assert_eq!(map.map(uname), subarch, "uname -m = {uname}");
        }
    }

    #[test]
    fn arm64_host_differs_between_6_1_and_6_12() {
        let old = SubarchMap::parse(V6_1).expect("parses");
        let new = SubarchMap::parse(&v6_12()).expect("parses");
        assert_eq!(old.map("arm64"), "arm");
        assert_eq!(new.map("arm64"), "arm64");
        assert_eq!(new.map("armv7l"), "arm");
    }

    #[test]
    fn substitution_is_unanchored_and_replaces_the_first_match_only() {
        let cmd = SedCommand::parse("s/i.86/x86/").expect("parses");
        assert_eq!(cmd.apply("xi686i786"), "xx86i786");
        let star = SedCommand::parse("s/ppc.*/powerpc/").expect("parses");
        assert_eq!(star.apply("myppc64le"), "mypowerpc");
    }

    #[test]
    fn bracket_expressions_and_anchors() {
        let class = Regex::parse("sh[2-4].*").expect("parses");
        assert!(class.find(&"sh3".chars().collect::<Vec<_>>()).is_some());
        assert!(class.find(&"sh5".chars().collect::<Vec<_>>()).is_none());
        let anchored = Regex::parse("^arm64$").expect("parses");
        assert!(anchored
            .find(&"arm64".chars().collect::<Vec<_>>())
            .is_some());
        assert!(anchored
            .find(&"xarm64".chars().collect::<Vec<_>>())
            .is_none());
        assert!(anchored
            .find(&"arm64x".chars().collect::<Vec<_>>())
            .is_none());
    }

    #[test]
    fn unsupported_sed_is_reported_with_its_line() {
        let text = "# comment\nSUBARCH := $(shell uname -m | sed -e y/abc/def/)\n";
        let (line, message) = SubarchMap::parse(text).expect_err("must fail");
        assert_eq!(line, 2);
        assert!(message.contains("y/abc/def/"), "{message}");
    }
}
