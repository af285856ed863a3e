//! The toolchain variables of the top Makefile: `LLVM=` handling, the
//! compiler and binutils names (CC, LD, AR, NM, ...), the host tools, the
//! fixed tool names it exports (RUSTC, BINDGEN, PAHOLE, ...), and the
//! CLANG_FLAGS that scripts/Makefile.clang computes when CC is clang.
//!
//! Not here: running the tools (see `probe`), or the arch Makefile's
//! changes to them (see `arch`).

use crate::makefile::{marker, MakefileText};
use crate::makevars::MakeVars;
use crate::paths::{make_dir, make_notdir};
use crate::KbuildError;

/// `ifneq ($(LLVM),)`: `LLVM=/path/` gives a prefix, `LLVM=-15` a suffix,
/// any other non-empty value neither. The variables stay undefined
/// otherwise, so an environment value of LLVM_PREFIX/LLVM_SUFFIX would
/// still apply, as with make.
pub(crate) fn assign_llvm_affixes(vars: &mut MakeVars) {
    let llvm = vars.get("LLVM").to_string();
    if llvm.is_empty() {
        return;
    }
    // $(filter %/,$(LLVM)) and $(filter -%,$(LLVM)) work on words.
    if llvm.split_whitespace().any(|w| w.ends_with('/')) {
        vars.set("LLVM_PREFIX", llvm);
    } else if llvm.split_whitespace().any(|w| w.starts_with('-')) {
        vars.set("LLVM_SUFFIX", llvm);
    }
}

/// The binutils of the `ifneq ($(LLVM),)` block: (variable, LLVM name,
/// GNU name).
const BINUTILS: [(&str, &str, &str); 8] = [
    ("CC", "clang", "gcc"),
    ("LD", "ld.lld", "ld"),
    ("AR", "llvm-ar", "ar"),
    ("NM", "llvm-nm", "nm"),
    ("OBJCOPY", "llvm-objcopy", "objcopy"),
    ("OBJDUMP", "llvm-objdump", "objdump"),
    ("READELF", "llvm-readelf", "readelf"),
    ("STRIP", "llvm-strip", "strip"),
];

/// The names CC, LD, ... take for the given CROSS_COMPILE (all of them are
/// recursively expanded, so this is called again whenever CROSS_COMPILE
/// changes). Command-line definitions win, as always.
pub(crate) fn assign_compilers(vars: &mut MakeVars) {
    let llvm = vars.is_set("LLVM");
    let prefix = vars.get("LLVM_PREFIX").to_string();
    let suffix = vars.get("LLVM_SUFFIX").to_string();
    let cross = vars.get("CROSS_COMPILE").to_string();
    if llvm {
        vars.set("HOSTCC", format!("{prefix}clang{suffix}"));
        vars.set("HOSTCXX", format!("{prefix}clang++{suffix}"));
    } else {
        vars.set("HOSTCC", "gcc");
        vars.set("HOSTCXX", "g++");
    }
    for (name, llvm_name, gnu_name) in BINUTILS {
        let value = if llvm {
            format!("{prefix}{llvm_name}{suffix}")
        } else {
            format!("{cross}{gnu_name}")
        };
        vars.set(name, value);
    }
    let cpp = format!("{} -E", vars.get("CC"));
    vars.set("CPP", cpp);
}

/// Tool variables with fixed values in the top Makefile; each is exported
/// only if the tree's Makefile exports it (CARGO went away after 6.1).
/// RESOLVE_BTFIDS, RUSTC_OR_CLIPPY* and CLIPPY_CONF_DIR depend on other
/// variables and are handled by the caller.
pub(crate) const FIXED_TOOLS: [(&str, &str); 24] = [
    ("CONFIG_SHELL", "sh"),
    ("HOSTRUSTC", "rustc"),
    ("HOSTPKG_CONFIG", "pkg-config"),
    ("RUSTC", "rustc"),
    ("RUSTDOC", "rustdoc"),
    ("RUSTFMT", "rustfmt"),
    ("BINDGEN", "bindgen"),
    ("CARGO", "cargo"),
    ("PAHOLE", "pahole"),
    ("LEX", "flex"),
    ("YACC", "bison"),
    ("AWK", "awk"),
    ("INSTALLKERNEL", "installkernel"),
    ("PERL", "perl"),
    ("PYTHON3", "python3"),
    ("CHECK", "sparse"),
    ("BASH", "bash"),
    ("KGZIP", "gzip"),
    ("KBZIP2", "bzip2"),
    ("KLZOP", "lzop"),
    ("LZMA", "lzma"),
    ("LZ4", "lz4"),
    ("XZ", "xz"),
    ("ZSTD", "zstd"),
];

/// `CC_VERSION_TEXT = $(subst $(pound),,$(shell LC_ALL=C $(CC) --version 2>/dev/null | head -n 1))`.
pub(crate) fn cc_version_snippet(cc: &str) -> String {
    format!("LC_ALL=C {cc} --version 2>/dev/null | head -n 1")
}

/// `RUSTC_VERSION_TEXT = $(subst $(pound),,$(shell $(RUSTC) --version 2>/dev/null))`.
pub(crate) fn rustc_version_snippet(rustc: &str) -> String {
    format!("{rustc} --version 2>/dev/null")
}

/// `$(subst $(pound),,TEXT)`.
pub(crate) fn strip_pound(text: &str) -> String {
    text.replace('#', "")
}

/// `GCC_TOOLCHAIN_DIR := $(dir $(shell which $(CROSS_COMPILE)elfedit))`'s
/// shell part.
pub(crate) fn elfedit_snippet(cross_compile: &str) -> String {
    format!("which {cross_compile}elfedit")
}

/// scripts/Makefile.clang, as included when CC_VERSION_TEXT mentions clang:
/// returns CLANG_FLAGS. `which_elfedit` is the output of
/// [`elfedit_snippet`] (only used with `LLVM_IAS=0`).
pub(crate) fn clang_flags(
    makefile_clang: &MakefileText,
    vars: &MakeVars,
    which_elfedit: &str,
) -> Result<String, KbuildError> {
    let text = &makefile_clang.text;
    let mut flags: Vec<String> = Vec::new();
    let cross = vars.get("CROSS_COMPILE");

    if makefile_clang.has(marker::CLANG_TARGET_FROM_CROSS_COMPILE) && !cross.is_empty() {
        // --target=$(notdir $(CROSS_COMPILE:%-=%))
        let target: Vec<&str> = cross
            .split_whitespace()
            .map(|w| make_notdir(w.strip_suffix('-').unwrap_or(w)))
            .collect();
        flags.push(format!("--target={}", target.join(" ")));
    } else {
        let target = clang_target(text, vars.get("SRCARCH"), vars.get("SUBARCH"));
        match target {
            Some(t) => flags.push(format!("--target={t}")),
            None => {
                let line = text
                    .lines()
                    .position(|l| l.contains("$(error"))
                    .map_or(1, |i| i + 1);
                return Err(KbuildError::Makefile {
                    path: makefile_clang.path.clone(),
                    line,
                    message: format!(
                        "no clang --target for SRCARCH={} (make stops here too)",
                        vars.get("SRCARCH")
                    ),
                });
            }
        }
    }

    if vars.get("LLVM_IAS") == "0" {
        flags.push("-fno-integrated-as".to_string());
        // $(dir ...) of each word of `which`'s output.
        let dir: Vec<&str> = which_elfedit.split_whitespace().map(make_dir).collect();
        flags.push(format!("--prefix={}{}", dir.join(" "), make_notdir(cross)));
    } else {
        flags.push("-fintegrated-as".to_string());
    }

    // The unconditional `CLANG_FLAGS += -Werror=...` lines after the
    // LLVM_IAS block.
    let after_ias = text
        .find("ifeq ($(LLVM_IAS),0)")
        .and_then(|at| text[at..].find("\nendif").map(|e| at + e + "\nendif".len()))
        .unwrap_or(text.len());
    for line in text[after_ias..].lines() {
        let line = line.trim();
        if let Some(value) = line.strip_prefix("CLANG_FLAGS") {
            if let Some(value) = value.trim_start().strip_prefix("+=") {
                let value = value.trim();
                if !value.contains('$') && !value.is_empty() {
                    flags.push(value.to_string());
                }
            }
        }
    }
    Ok(flags.join(" "))
}

/// `CLANG_TARGET_FLAGS_$(SRCARCH)` from Makefile.clang's table, following
/// um's `$(CLANG_TARGET_FLAGS_$(SUBARCH))`.
fn clang_target(text: &str, srcarch: &str, subarch: &str) -> Option<String> {
    let lookup = |arch: &str| -> Option<String> {
        let key = format!("CLANG_TARGET_FLAGS_{arch}");
        text.lines().find_map(|line| {
            let rest = line.trim_start().strip_prefix(&key)?;
            let rest = rest.trim_start();
            let value = rest.strip_prefix(":=").or_else(|| rest.strip_prefix('='))?;
            Some(value.trim().to_string())
        })
    };
    let value = lookup(srcarch)?;
    let value = if value == "$(CLANG_TARGET_FLAGS_$(SUBARCH))" {
        lookup(subarch)?
    } else {
        value
    };
    (!value.is_empty() && !value.contains('$')).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars_with(cmdline: &[(&str, &str)]) -> MakeVars {
        let cl: Vec<(String, String)> = cmdline
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MakeVars::new(&[], &cl)
    }

    fn toolchain(cmdline: &[(&str, &str)]) -> MakeVars {
        let mut v = vars_with(cmdline);
        assign_llvm_affixes(&mut v);
        assign_compilers(&mut v);
        v
    }

    #[test]
    fn gnu_toolchain_uses_cross_compile() {
        let v = toolchain(&[("CROSS_COMPILE", "aarch64-linux-gnu-")]);
        assert_eq!(v.get("CC"), "aarch64-linux-gnu-gcc");
        assert_eq!(v.get("LD"), "aarch64-linux-gnu-ld");
        assert_eq!(v.get("CPP"), "aarch64-linux-gnu-gcc -E");
        assert_eq!(v.get("HOSTCC"), "gcc");
        assert_eq!(v.get("HOSTCXX"), "g++");
    }

    #[test]
    fn llvm_1_uses_plain_llvm_names_and_ignores_cross_compile() {
        let v = toolchain(&[("LLVM", "1"), ("CROSS_COMPILE", "aarch64-linux-gnu-")]);
        assert_eq!(v.get("CC"), "clang");
        assert_eq!(v.get("LD"), "ld.lld");
        assert_eq!(v.get("AR"), "llvm-ar");
        assert_eq!(v.get("NM"), "llvm-nm");
        assert_eq!(v.get("OBJCOPY"), "llvm-objcopy");
        assert_eq!(v.get("STRIP"), "llvm-strip");
        assert_eq!(v.get("HOSTCC"), "clang");
        assert_eq!(v.get("HOSTCXX"), "clang++");
    }

    #[test]
    fn llvm_suffix_and_prefix() {
        let v = toolchain(&[("LLVM", "-15")]);
        assert_eq!(v.get("CC"), "clang-15");
        assert_eq!(v.get("LD"), "ld.lld-15");
        assert_eq!(v.get("READELF"), "llvm-readelf-15");
        assert_eq!(v.get("HOSTCXX"), "clang++-15");
        let v = toolchain(&[("LLVM", "/opt/llvm/bin/")]);
        assert_eq!(v.get("CC"), "/opt/llvm/bin/clang");
        assert_eq!(v.get("OBJDUMP"), "/opt/llvm/bin/llvm-objdump");
        assert_eq!(v.get("CPP"), "/opt/llvm/bin/clang -E");
    }

    #[test]
    fn command_line_cc_wins_and_feeds_cpp() {
        let v = toolchain(&[("CC", "clang")]);
        assert_eq!(v.get("CC"), "clang");
        assert_eq!(v.get("CPP"), "clang -E");
        assert_eq!(v.get("LD"), "ld");
    }

    const CLANG_6_12: &str = "CLANG_TARGET_FLAGS_arm64\t:= aarch64-linux-gnu\nCLANG_TARGET_FLAGS_x86\t\t:= x86_64-linux-gnu\nCLANG_TARGET_FLAGS_um\t\t:= $(CLANG_TARGET_FLAGS_$(SUBARCH))\nCLANG_TARGET_FLAGS\t\t:= $(CLANG_TARGET_FLAGS_$(SRCARCH))\n\nifeq ($(CLANG_TARGET_FLAGS),)\n$(error add '--target=' option to scripts/Makefile.clang)\nelse\nCLANG_FLAGS\t+= --target=$(CLANG_TARGET_FLAGS)\nendif\n\nifeq ($(LLVM_IAS),0)\nCLANG_FLAGS\t+= -fno-integrated-as\nGCC_TOOLCHAIN_DIR := $(dir $(shell which $(CROSS_COMPILE)elfedit))\nCLANG_FLAGS\t+= --prefix=$(GCC_TOOLCHAIN_DIR)$(notdir $(CROSS_COMPILE))\nelse\nCLANG_FLAGS\t+= -fintegrated-as\nendif\nCLANG_FLAGS\t+= -Werror=unknown-warning-option\nCLANG_FLAGS\t+= -Werror=ignored-optimization-argument\nKBUILD_CPPFLAGS\t+= $(CLANG_FLAGS)\nexport CLANG_FLAGS\n";

    fn clang_mk(text: &str) -> MakefileText {
        MakefileText {
            path: "scripts/Makefile.clang".into(),
            text: text.to_string(),
        }
    }

    fn arch_vars(srcarch: &str, subarch: &str, cmdline: &[(&str, &str)]) -> MakeVars {
        let mut v = vars_with(cmdline);
        v.set("SRCARCH", srcarch);
        v.set("SUBARCH", subarch);
        v
    }

    #[test]
    fn clang_flags_from_the_target_table() {
        let mk = clang_mk(CLANG_6_12);
        let v = arch_vars("arm64", "x86", &[]);
        assert_eq!(
            clang_flags(&mk, &v, "").expect("flags"),
            "--target=aarch64-linux-gnu -fintegrated-as -Werror=unknown-warning-option -Werror=ignored-optimization-argument"
        );
        let um = arch_vars("um", "x86", &[]);
        assert!(clang_flags(&mk, &um, "")
            .expect("flags")
            .starts_with("--target=x86_64-linux-gnu "));
    }

    #[test]
    fn clang_flags_without_integrated_as_name_the_gnu_toolchain() {
        let mk = clang_mk(CLANG_6_12);
        let v = arch_vars(
            "x86",
            "x86",
            &[("LLVM_IAS", "0"), ("CROSS_COMPILE", "x86_64-linux-gnu-")],
        );
        assert_eq!(
            clang_flags(&mk, &v, "/usr/bin/x86_64-linux-gnu-elfedit").expect("flags"),
            "--target=x86_64-linux-gnu -fno-integrated-as --prefix=/usr/bin/x86_64-linux-gnu- -Werror=unknown-warning-option -Werror=ignored-optimization-argument"
        );
    }

    #[test]
    fn clang_target_from_cross_compile_in_6_1() {
        let text = CLANG_6_12.replace(
            "ifeq ($(CLANG_TARGET_FLAGS),)",
            "ifeq ($(CROSS_COMPILE),)\nelse\nCLANG_FLAGS\t+= --target=$(notdir $(CROSS_COMPILE:%-=%))\nendif\nifeq ($(CLANG_TARGET_FLAGS),)",
        );
        let mk = clang_mk(&text);
        let v = arch_vars(
            "arm64",
            "x86",
            &[("CROSS_COMPILE", "/opt/bin/aarch64-none-linux-gnu-")],
        );
        assert!(clang_flags(&mk, &v, "")
            .expect("flags")
            .starts_with("--target=aarch64-none-linux-gnu -fintegrated-as"));
    }

    #[test]
    fn clang_without_a_target_for_the_arch_stops_like_make() {
        let mk = clang_mk(CLANG_6_12);
        let v = arch_vars("alpha", "x86", &[]);
        let err = clang_flags(&mk, &v, "").expect_err("must fail");
        assert!(
            err.to_string()
                .starts_with("scripts/Makefile.clang:7: no clang --target for SRCARCH=alpha"),
            "{err}"
        );
    }
}
