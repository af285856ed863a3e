//! modalias → module: `modules.alias` patterns matched as modprobe does.
//!
//! depmod writes `alias PATTERN MODULE` lines; PATTERN is an fnmatch(3)
//! pattern (`*`, `?`, `[...]` with ranges and `!`/`^` negation, no
//! escapes). Before matching, kmod normalises both the looked-up alias and
//! the patterns by turning `-` into `_` outside brackets (its
//! `alias_normalize`/`underscores`), and module names always compare with
//! `-` and `_` equal; [`underscores`] and [`normalize_module`] mirror that.
//! Every matching module is reported; which one the kernel actually bound
//! is the report's business (a bound driver wins, see `map`).

use crate::validate;
use crate::Error;

/// One `alias` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    /// The pattern, normalised with [`underscores`].
    pub pattern: String,
    /// The module, normalised with [`normalize_module`].
    pub module: String,
}

/// A parsed `modules.alias`.
#[derive(Clone, Debug, Default)]
pub struct Aliases {
    /// The lines, in file order.
    pub aliases: Vec<Alias>,
}

/// `-` → `_` in a module name (the kernel treats them as the same).
pub fn normalize_module(name: &str) -> String {
    name.replace('-', "_")
}

/// `-` → `_` outside `[...]` brackets, as kmod normalises aliases.
pub fn underscores(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_bracket = false;
    for c in s.chars() {
        match c {
            '[' if !in_bracket => {
                in_bracket = true;
                out.push(c);
            }
            ']' if in_bracket => {
                in_bracket = false;
                out.push(c);
            }
            '-' if !in_bracket => out.push('_'),
            _ => out.push(c),
        }
    }
    out
}

/// fnmatch(3) without flags: `*` any run, `?` one character, `[...]` a
/// set with ranges and `!`/`^` negation; `]` first in a set is literal.
/// An unterminated `[` matches itself literally, as glibc does.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point for the last `*`:
    // linear in practice and never exponential, which matters for
    // untrusted modaliases against patterns full of stars.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match set(&p, pi, t[ti]) {
                Some((true, next)) => Some(next),
                Some((false, _)) => None,
                None if t[ti] == '[' => Some(pi + 1),
                None => None,
            },
            Some(c) if *c == t[ti] => Some(pi + 1),
            _ => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ti += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the set starting at `p[at] == '['`: whether it
/// matched and where the pattern continues; None if the set is
/// unterminated.
fn set(p: &[char], at: usize, c: char) -> Option<(bool, usize)> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|h| *h != ']') {
            let hi = p[i + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
}

impl Aliases {
    /// Parses `modules.alias` text. Comments and blank lines are skipped;
    /// any other line must be `alias PATTERN MODULE` with a valid module
    /// name, or the error names the line.
    pub fn parse(text: &str, file: &str) -> Result<Aliases, Error> {
        let mut aliases = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let lineno = n as u32 + 1;
            let mut w = line.split_whitespace();
            let (Some("alias"), Some(pattern), Some(module), None) =
                (w.next(), w.next(), w.next(), w.next())
            else {
                return Err(Error::new(file, lineno, "expected `alias PATTERN MODULE`"));
            };
            validate::module_name(module).map_err(|e| Error::new(file, lineno, e))?;
            validate::modalias(pattern).map_err(|e| Error::new(file, lineno, e))?;
            aliases.push(Alias {
                pattern: underscores(pattern),
                module: normalize_module(module),
            });
        }
        Ok(Aliases { aliases })
    }

    /// Reads and parses a `modules.alias` file (size-capped).
    pub fn read(path: &std::path::Path) -> Result<Aliases, Error> {
        let shown = path.display().to_string();
        let text = crate::input::read_capped(path)?;
        Aliases::parse(&text, &shown)
    }

    /// Every module whose pattern matches `modalias`, in file order,
    /// without repeats.
    pub fn lookup(&self, modalias: &str) -> Vec<String> {
        let m = underscores(modalias);
        let mut out: Vec<String> = Vec::new();
        for a in &self.aliases {
            if fnmatch(&a.pattern, &m) && !out.contains(&a.module) {
                out.push(a.module.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real lines from Debian's modules.alias (linux-image-6.1.0-56-amd64).
    const FIXTURE: &str = include_str!("../tests/fixtures/modules.alias");

    fn check(modalias: &str, expect: &[&str]) {
        let a = Aliases::parse(FIXTURE, "modules.alias").expect("fixture parses");
        assert_eq!(a.lookup(modalias), expect, "{modalias}");
    }

    #[test]
    fn pci_devices_of_seed_001() {
        // Intel AX200 (8086:2723), as the kernel writes its modalias.
        check(
            "pci:v00008086d00002723sv00008086sd00000084bc02sc80i00",
            &["iwlwifi"],
        );
        check(
            "pci:v0000144Dd0000A809sv0000144Dsd0000A801bc01sc08i02",
            &["nvme"],
        );
        check(
            "pci:v00001022d0000790Bsv000017AAsd00005082bc0Csc05i00",
            &["i2c_piix4"],
        );
        // Renoir GPU: a device-ID line and a class line both match.
        check(
            "pci:v00001002d00001638sv000017AAsd00005082bc03sc00i00",
            &["amdgpu"],
        );
        // xhci by class only (any vendor).
        check(
            "pci:v00001022d00001639sv000017AAsd00005082bc0Csc03i30",
            &["xhci_pci"],
        );
        check(
            "pci:v00001022d000015E3sv000017AAsd00005082bc04sc03i00",
            &["snd_hda_intel"],
        );
        // The ACP: matching needs the subclass 80 and prog-if 00.
        check(
            "pci:v00001022d000015E2sv000017AAsd00005082bc04sc80i00",
            &["snd_rn_pci_acp3x"],
        );
        check("pci:v00001022d000015E2sv000017AAsd00005082bc04sc80i01", &[]);
    }

    #[test]
    fn every_match_is_reported() {
        // A SATA controller of a vendor with its own line matches twice
        // (once by vendor, once by class): one module, reported once.
        check(
            "pci:v0000197Bd00002363sv0000197Bsd00002363bc01sc06i01",
            &["ahci"],
        );
        // A USB bridge both uas and usb-storage claim.
        check(
            "usb:v13FDp3940d0100dc00dsc00dp00ic08isc06ip50in00",
            &["uas", "usb_storage"],
        );
    }

    #[test]
    fn brackets_question_marks_and_dashes() {
        // d0[0-2]* and d030*: 0300 matches, 0400 and 0310 do not.
        check(
            "usb:v13FDp3940d0300dc00dsc00dp00ic08isc06ip62in00",
            &["uas", "usb_storage"],
        );
        check("usb:v13FDp3940d0400dc00dsc00dp00ic08isc06ip50in00", &[]);
        check("usb:v13FDp3940d0310dc00dsc00dp00ic08isc06ip50in00", &[]);
        check("mdio:00110001110000110001110000011011", &["aquantia"]);
        check("mdio:0011000111000011000111000001101", &[]);
        // '-' and '_' are the same outside brackets.
        check("crypto-twofish-asm", &["twofish_x86_64"]);
        check("crypto_twofish_asm", &["twofish_x86_64"]);
        check("acpi:INTC1085:", &["pinctrl_alderlake"]);
        check("virtio:d00000001v00001AF4", &["virtio_net"]);
    }

    #[test]
    fn fnmatch_rules() {
        assert!(fnmatch("a[!b]c", "axc"));
        assert!(!fnmatch("a[!b]c", "abc"));
        assert!(fnmatch("a[]]c", "a]c"));
        assert!(fnmatch("a[a-c-]", "a-"));
        assert!(fnmatch("a[", "a["));
        assert!(fnmatch("*", ""));
        assert!(!fnmatch("?", ""));
        // Many stars against a long text stay fast (no exponential
        // backtracking).
        let text = "a".repeat(1000);
        assert!(!fnmatch(&"*a".repeat(50).replace("a*a", "a*b"), &text));
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let e = Aliases::parse("alias a b\nalias only-two\n", "m.alias").expect_err("bad");
        assert_eq!((e.file.as_str(), e.line), ("m.alias", 2));
        let e = Aliases::parse("alias pci:* ../evil\n", "m.alias").expect_err("bad");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("module name"), "{e}");
    }
}
