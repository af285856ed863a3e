//! Reading the kernel's top-level Makefile, cheaply: its version header, the
//! ARCH aliases it maps to SRCARCH, which variables it exports, and marker
//! lines that tell one version's handling of a variable from another's.
//!
//! This is deliberately not a make parser. Each question is answered by
//! looking at a few literal lines, and every marker used by the crate is
//! named in one place (the `Marker` constants below) with the Makefile text
//! it looks for, so a reader can check it against the tree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::KbuildError;

/// Literal Makefile text whose presence selects one version's behaviour.
/// Each constant says which tree has it; tests check them against both.
pub(crate) mod marker {
    /// Top Makefile, 6.1: `abs_srctree` and `abs_objtree` reach conf.
    pub(crate) const EXPORT_ABS_TREES: &str = "export abs_srctree abs_objtree";
    /// Top Makefile, 6.1: KBUILD_VERBOSE defaults to 0 (6.12 leaves it
    /// empty).
    pub(crate) const VERBOSE_DEFAULTS_TO_0: &str = "ifndef KBUILD_VERBOSE";
    /// Top Makefile, 6.12: output is verbose when KBUILD_VERBOSE contains a
    /// 1 (6.1: when it equals 1).
    pub(crate) const VERBOSE_FINDSTRING: &str = "findstring 1, $(KBUILD_VERBOSE)";
    /// Top Makefile, 6.12: VPATH is set only for out-of-tree builds of the
    /// kernel itself (6.1: always `$(srctree)`).
    pub(crate) const VPATH_OUT_OF_TREE_ONLY: &str =
        "ifeq ($(KBUILD_EXTMOD),)\nifdef building_out_of_srctree\nVPATH";
    /// Top Makefile, 6.12: KERNELRELEASE is read with `$(file <...)`
    /// (6.1: `$(shell cat ...)`).
    pub(crate) const KERNELRELEASE_READ_FILE: &str = "read-file, include/config/kernel.release";
    /// Top Makefile, upstream kernels (Debian's trees drop it): exports
    /// `cross_compiling`, set when SRCARCH differs from SUBARCH.
    pub(crate) const CROSS_COMPILING: &str = "export cross_compiling :=";
    /// Top Makefile, 6.12: `W=` is stored in an exported KBUILD_EXTRA_WARN.
    pub(crate) const EXTRA_WARN: &str = "KBUILD_EXTRA_WARN ?= $(KBUILD_ENABLE_EXTRA_GCC_CHECKS)";
    /// Top Makefile, 6.12: RUSTC_VERSION_TEXT is computed and exported.
    pub(crate) const RUSTC_VERSION_TEXT: &str =
        "RUSTC_VERSION_TEXT = $(subst $(pound),,$(shell $(RUSTC) --version 2>/dev/null))";
    /// scripts/kconfig/Makefile: the default configurations conf tries are
    /// passed in KCONFIG_DEFCONFIG_LIST (both versions).
    pub(crate) const DEFCONFIG_LIST: &str = "export KCONFIG_DEFCONFIG_LIST";
    /// scripts/kconfig/Makefile, 6.12: `W=c` and `W=e` become
    /// KCONFIG_WARN_UNKNOWN_SYMBOLS and KCONFIG_WERROR.
    pub(crate) const KCONFIG_EXTRA_WARN: &str = "findstring c, $(KBUILD_EXTRA_WARN)";
    /// scripts/Makefile.clang, 6.1: `--target` comes from CROSS_COMPILE
    /// when it is set (6.12: always from the table).
    pub(crate) const CLANG_TARGET_FROM_CROSS_COMPILE: &str =
        "--target=$(notdir $(CROSS_COMPILE:%-=%))";
    /// arch/x86/Makefile, 6.12: `uname -m` is compared with i386 after
    /// mapping i.86 (6.1: compared with x86_64).
    pub(crate) const X86_DEFCONFIG_BY_I386: &str = "sed -e 's/i.86/i386/'";
    /// arch/alpha/Makefile: `NM := $(NM) -B`.
    pub(crate) const ALPHA_NM_B: &str = "NM := $(NM) -B";
    /// arch/powerpc/Makefile: NM gets `--synthetic` when it supports it.
    pub(crate) const POWERPC_NM_SYNTHETIC: &str = "grep -- '--synthetic'";
    /// arch/powerpc/Makefile, 6.12: cross-compiler prefix search under
    /// `ifdef cross_compiling`.
    pub(crate) const IFDEF_CROSS_COMPILING: &str = "ifdef cross_compiling";
    /// Any arch Makefile: it may search for a cross-compiler prefix.
    pub(crate) const CC_CROSS_PREFIX: &str = "cc-cross-prefix";
}

/// The `VERSION`/`PATCHLEVEL`/`SUBLEVEL`/`EXTRAVERSION`/`NAME` lines at the
/// top of the Makefile, as make sees them (leading blanks after `=` dropped,
/// trailing blanks kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) version: (usize, String),
    pub(crate) patchlevel: (usize, String),
    pub(crate) sublevel: (usize, String),
    pub(crate) extraversion: String,
    pub(crate) name: Option<String>,
}

/// A Makefile read into memory (the top-level one, or any other the crate
/// inspects).
#[derive(Clone, Debug)]
pub(crate) struct MakefileText {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

/// Parses `NAME <op> value` (op one of `=`, `:=`, `::=`, `?=`) at the start
/// of a line; returns the value as make stores it.
fn simple_assignment<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let rest = rest
        .strip_prefix("::=")
        .or_else(|| rest.strip_prefix(":="))
        .or_else(|| rest.strip_prefix("?="))
        .or_else(|| rest.strip_prefix('='))?;
    let value = rest.trim_start_matches([' ', '\t']);
    // An unescaped `#` starts a comment; the blanks before it stay.
    Some(match value.find('#') {
        Some(i) if !value[..i].ends_with('\\') => &value[..i],
        _ => value,
    })
}

impl MakefileText {
    /// Reads `path`; `Ok(None)` when it does not exist.
    pub(crate) fn read_optional(path: &Path) -> Result<Option<MakefileText>, KbuildError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(MakefileText {
                path: path.to_path_buf(),
                text: String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KbuildError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Whether the text contains `marker` verbatim.
    pub(crate) fn has(&self, marker: &str) -> bool {
        self.text.contains(marker)
    }

    fn error(&self, line: usize, message: String) -> KbuildError {
        KbuildError::Makefile {
            path: self.path.clone(),
            line,
            message,
        }
    }

    /// The version header. VERSION and PATCHLEVEL are required, as the
    /// kernel's own scripts require them.
    pub(crate) fn header(&self) -> Result<Header, KbuildError> {
        let mut found: [Option<(usize, String)>; 5] = Default::default();
        let names = ["VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION", "NAME"];
        // The header is the first lines of the file; later lines never
        // reassign these names.
        for (i, line) in self.text.lines().take(64).enumerate() {
            for (slot, name) in found.iter_mut().zip(names) {
                if slot.is_none() {
                    if let Some(value) = simple_assignment(line, name) {
                        *slot = Some((i + 1, value.to_string()));
                    }
                }
            }
        }
        let [version, patchlevel, sublevel, extraversion, name] = found;
        let missing =
            |what: &str| self.error(1, format!("no `{what} = ...` line in the first 64 lines"));
        Ok(Header {
            version: version.ok_or_else(|| missing("VERSION"))?,
            patchlevel: patchlevel.ok_or_else(|| missing("PATCHLEVEL"))?,
            sublevel: sublevel.unwrap_or((0, String::new())),
            extraversion: extraversion.map(|(_, v)| v).unwrap_or_default(),
            name: name.map(|(_, v)| v),
        })
    }

    /// Parses a header number, reporting `path:line` when it is not one.
    pub(crate) fn number(&self, what: &str, field: &(usize, String)) -> Result<u32, KbuildError> {
        field
            .1
            .trim()
            .parse()
            .map_err(|_| self.error(field.0, format!("{what} is not a number: '{}'", field.1)))
    }

    /// Every name an `export` line names (`export A B C` or
    /// `export A := value`), wherever the line is.
    pub(crate) fn exported_names(&self) -> BTreeSet<&str> {
        let mut names = BTreeSet::new();
        for line in self.text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("export") else {
                continue;
            };
            if !rest.starts_with([' ', '\t']) {
                continue;
            }
            let mut words = rest.split_whitespace();
            if rest.contains('=') {
                names.extend(words.next().filter(|w| !w.contains('=')));
            } else {
                names.extend(words);
            }
        }
        names
    }

    /// Whether an `export` line names `name`.
    pub(crate) fn exports(&self, name: &str) -> bool {
        self.exported_names().contains(name)
    }

    /// The `ifeq ($(ARCH),alias)` / `SRCARCH := dir` / `endif` blocks, in
    /// file order.
    pub(crate) fn srcarch_aliases(&self) -> Vec<(String, String)> {
        let mut aliases = Vec::new();
        let mut lines = self.text.lines();
        while let Some(line) = lines.next() {
            if !line.trim_start().starts_with("ifeq") || !line.contains("ARCH") {
                continue;
            }
            let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            let Some(alias) = compact
                .strip_prefix("ifeq($(ARCH),")
                .and_then(|r| r.strip_suffix(')'))
            else {
                continue;
            };
            for inner in lines.by_ref() {
                let inner = inner.trim();
                if inner == "endif" || inner.starts_with("else") {
                    break;
                }
                if let Some(dir) = simple_assignment(inner, "SRCARCH") {
                    aliases.push((alias.to_string(), dir.trim().to_string()));
                }
            }
        }
        aliases
    }

    /// Every `NAME <op> value` line assigning `name`, with its line number
    /// and trimmed value (used for arch Makefiles' KBUILD_DEFCONFIG and
    /// SHELL).
    pub(crate) fn assignments(&self, name: &str) -> Vec<(usize, String)> {
        self.text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| {
                let value = simple_assignment(line.trim_start(), name)?;
                Some((i + 1, value.trim().to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> MakefileText {
        MakefileText {
            path: PathBuf::from("Makefile"),
            text: s.to_string(),
        }
    }

    const HEAD: &str = "# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\nNAME = Baby Opossum Posse\n";

    #[test]
    fn header_reads_version_lines_like_make() {
        let h = text(HEAD).header().expect("header");
        assert_eq!(h.version, (2, "6".to_string()));
        assert_eq!(h.patchlevel, (3, "12".to_string()));
        assert_eq!(h.sublevel, (4, "117".to_string()));
        assert_eq!(h.extraversion, "");
        assert_eq!(h.name.as_deref(), Some("Baby Opossum Posse"));
    }

    #[test]
    fn header_keeps_trailing_blanks_and_drops_comments() {
        let h = text("VERSION = 5\nPATCHLEVEL = 4\nSUBLEVEL = 0\nEXTRAVERSION = -rc1 # test\n")
            .header()
            .expect("header");
        assert_eq!(h.extraversion, "-rc1 ");
    }

    #[test]
    fn missing_patchlevel_is_an_error() {
        let err = text("VERSION = 6\n").header().expect_err("must fail");
        assert!(
            err.to_string().contains("no `PATCHLEVEL = ...` line"),
            "{err}"
        );
    }

    #[test]
    fn non_numeric_version_names_its_line() {
        let mf = text("VERSION = 6\nPATCHLEVEL = x\n");
        let h = mf.header().expect("header");
        let err = mf
            .number("PATCHLEVEL", &h.patchlevel)
            .expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "Makefile:2: PATCHLEVEL is not a number: 'x'"
        );
    }

    #[test]
    fn exports_sees_lists_and_assignments_but_not_values() {
        let mf = text(
            "export ARCH SRCARCH CONFIG_SHELL\nexport RUSTC_BOOTSTRAP := 1\n\texport RUST_LIB_SRC\nexport rust_common_flags := --edition=2021 CARGO\nexported_thing := 1\n",
        );
        assert!(mf.exports("SRCARCH"));
        assert!(mf.exports("RUSTC_BOOTSTRAP"));
        assert!(mf.exports("RUST_LIB_SRC"));
        assert!(!mf.exports("CARGO"));
        assert!(!mf.exports("1"));
        assert!(!mf.exports("exported_thing"));
    }

    #[test]
    fn srcarch_aliases_come_from_the_ifeq_blocks() {
        let mf = text(
            "ifeq ($(ARCH),i386)\n        SRCARCH := x86\nendif\nifeq ($(ARCH),x86_64)\n        SRCARCH := x86\nendif\n\n# Additional ARCH settings for sparc\nifeq ($(ARCH),sparc64)\n       SRCARCH := sparc\nendif\nifeq ($(ARCH), um)\nCHECKSTACK_ARCH := $(SUBARCH)\nendif\n",
        );
        assert_eq!(
            mf.srcarch_aliases(),
            vec![
                ("i386".to_string(), "x86".to_string()),
                ("x86_64".to_string(), "x86".to_string()),
                ("sparc64".to_string(), "sparc".to_string()),
            ]
        );
    }
}
