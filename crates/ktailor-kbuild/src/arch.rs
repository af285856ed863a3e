//! What `arch/$(SRCARCH)/Makefile` does to the environment of a `*config`
//! target, arch by arch.
//!
//! At that point no `CONFIG_*` variable is defined (the top Makefile reads
//! include/config/auto.conf only for build targets), so each arch Makefile
//! reduces to a few decisions that matter to Kconfig:
//!
//! * KBUILD_DEFCONFIG, which ends up in KCONFIG_DEFCONFIG_LIST (the files
//!   conf falls back to without a .config) and names `make defconfig`'s file;
//! * a cross-compiler prefix search (`$(call cc-cross-prefix, ...)`) that
//!   sets CROSS_COMPILE, hence CC, LD, ... (arc always, loongarch when not
//!   building natively, m68k/mips/parisc/powerpc/sh under `cross_compiling`);
//! * NM changes (alpha appends `-B`; powerpc appends `--synthetic` when `nm`
//!   supports it);
//! * um's exported SUBARCH and HEADER_ARCH.
//!
//! Everything else an arch Makefile exports (compiler flags, BITS,
//! UTS_MACHINE, linker-script values) is never read by Kconfig and is not
//! reproduced; the crate root lists those names.
//!
//! Each rule is keyed on SRCARCH and, where versions differ, on a marker in
//! the arch Makefile (see `makefile::marker`).

use crate::makefile::{marker, MakefileText};

/// The inputs of the arch Makefile's decisions.
pub(crate) struct ArchContext<'a> {
    pub(crate) arch: &'a str,
    pub(crate) srcarch: &'a str,
    pub(crate) subarch: &'a str,
    /// Raw `uname -m`.
    pub(crate) uname_m: &'a str,
    /// The arch Makefile's text ("" when it does not exist).
    pub(crate) makefile: &'a str,
}

impl ArchContext<'_> {
    fn has(&self, marker: &str) -> bool {
        self.makefile.contains(marker)
    }
}

/// The KBUILD_DEFCONFIG the arch Makefile assigns, or `None` when it
/// assigns none (scripts/kconfig/Makefile then uses the environment's value,
/// or `defconfig`).
pub(crate) fn kbuild_defconfig(
    ctx: &ArchContext<'_>,
    arch_makefile: Option<&MakefileText>,
) -> Option<String> {
    match ctx.srcarch {
        // ifeq ($(ARCH),x86): by the host, else $(ARCH)_defconfig.
        "x86" => Some(if ctx.arch == "x86" {
            let i386_host = if ctx.has(marker::X86_DEFCONFIG_BY_I386) {
                // 6.12: `uname -m | sed -e 's/i.86/i386/'` = i386.
                is_i_86(ctx.uname_m)
            } else {
                // 6.1: `uname -m` != x86_64.
                ctx.uname_m != "x86_64"
            };
            if i386_host {
                "i386_defconfig"
            } else {
                "x86_64_defconfig"
            }
            .to_string()
        } else {
            format!("{}_defconfig", ctx.arch)
        }),
        // ifeq ($(SUBARCH),x86): by the host, else $(SUBARCH)_defconfig.
        "um" => Some(if ctx.subarch == "x86" {
            if ctx.uname_m == "x86_64" {
                "x86_64_defconfig"
            } else {
                "i386_defconfig"
            }
            .to_string()
        } else {
            format!("{}_defconfig", ctx.subarch)
        }),
        // $(if $(filter ppc%,$(uname)),$(uname),FALLBACK)_defconfig
        "powerpc" => {
            let fallback = ctx
                .makefile
                .split("$(if $(filter ppc%,$(uname)),$(uname),")
                .nth(1)
                .and_then(|rest| rest.split(")_defconfig").next())
                .filter(|f| !f.contains(char::is_whitespace))
                .unwrap_or("ppc64le");
            let base = if ctx.uname_m.starts_with("ppc") {
                ctx.uname_m
            } else {
                fallback
            };
            Some(format!("{base}_defconfig"))
        }
        "parisc" => Some(
            if ctx.arch == "parisc64" {
                "generic-64bit_defconfig"
            } else {
                "generic-32bit_defconfig"
            }
            .to_string(),
        ),
        "sparc" => Some(
            if ctx.arch == "sparc64" {
                "sparc64_defconfig"
            } else {
                "sparc32_defconfig"
            }
            .to_string(),
        ),
        // Every other arch: a single literal assignment, or none.
        _ => {
            let lines = arch_makefile?.assignments("KBUILD_DEFCONFIG");
            match lines.as_slice() {
                [(_, value)] if !value.contains('$') => Some(value.clone()),
                _ => None,
            }
        }
    }
}

/// Whether `uname -m` matches the sed pattern `i.86` as a whole after
/// substitution, i.e. is `i?86` exactly.
fn is_i_86(uname_m: &str) -> bool {
    let b = uname_m.as_bytes();
    b.len() == 4 && b[0] == b'i' && &b[2..] == b"86"
}

/// The prefixes `$(call cc-cross-prefix, ...)` tries, in order, when the
/// arch Makefile searches for one; `None` when it does not search.
/// `cross_compile` is CROSS_COMPILE before the arch Makefile;
/// `cross_compiling` is the value of the `cross_compiling` variable.
pub(crate) fn cross_prefix_candidates(
    ctx: &ArchContext<'_>,
    cross_compile: &str,
    cross_compiling: bool,
) -> Option<Vec<String>> {
    if !cross_compile.is_empty() || !ctx.has(marker::CC_CROSS_PREFIX) {
        return None;
    }
    let list = |items: &[&str]| Some(items.iter().map(|s| s.to_string()).collect());
    // `$(tool-archpref)` is set only under CONFIG_32BIT/CONFIG_64BIT, which
    // are undefined for config targets: the candidates start with `-`.
    let no_archpref = || list(&["-linux-", "-linux-gnu-", "-unknown-linux-gnu-"]);
    let gated = ctx.has(marker::IFDEF_CROSS_COMPILING);
    match ctx.srcarch {
        "arc" => list(&["arc-linux-", "arceb-linux-", "arc-linux-gnu-"]),
        // ifneq ($(SUBARCH),$(ARCH))
        "loongarch" if ctx.subarch != ctx.arch => no_archpref(),
        "m68k" if gated && cross_compiling => {
            list(&["m68k-linux-gnu-", "m68k-linux-", "m68k-unknown-linux-gnu-"])
        }
        "mips" if gated && cross_compiling => no_archpref(),
        "sh" if gated && cross_compiling => {
            list(&["sh-linux-", "sh-linux-gnu-", "sh-unknown-linux-gnu-"])
        }
        "parisc" if gated && cross_compiling => {
            let arches: &[&str] = if ctx.arch == "parisc64" {
                &["hppa64"]
            } else {
                &["hppa", "hppa2.0", "hppa1.1"]
            };
            Some(product(
                arches,
                &["linux", "linux-gnu", "unknown-linux-gnu", "suse-linux"],
            ))
        }
        "powerpc" if gated && cross_compiling => Some(product(
            &["powerpc", "powerpc64", "powerpc64le"],
            &["linux", "linux-gnu", "unknown-linux-gnu"],
        )),
        // xtensa's prefix needs CONFIG_XTENSA_VARIANT_NAME: never for config
        // targets.
        _ => None,
    }
}

/// `$(foreach a,ARCHES,$(foreach s,SUFFIXES,$(a)-$(s)-))`.
fn product(arches: &[&str], suffixes: &[&str]) -> Vec<String> {
    arches
        .iter()
        .flat_map(|a| suffixes.iter().map(move |s| format!("{a}-{s}-")))
        .collect()
}

/// The shell form of `cc-cross-prefix`: prints the first prefix whose
/// `gcc` is on PATH, or nothing.
pub(crate) fn cross_prefix_snippet(candidates: &[String]) -> String {
    let words: Vec<String> = candidates
        .iter()
        .map(|c| crate::probe::shell_quote(c))
        .collect();
    format!(
        "for c in {}; do if [ -n \"$(command -v -- \"${{c}}gcc\" 2>/dev/null)\" ]; then printf '%s' \"$c\"; break; fi; done",
        words.join(" ")
    )
}

/// What the arch Makefile does to NM, given NM's value before it.
pub(crate) enum NmChange {
    /// Nothing.
    None,
    /// Append this literal text (alpha: ` -B`).
    Append(&'static str),
    /// Append ` --synthetic` if `$(NM) --help` mentions it (powerpc).
    SyntheticIfSupported,
}

pub(crate) fn nm_change(ctx: &ArchContext<'_>) -> NmChange {
    match ctx.srcarch {
        "alpha" if ctx.has(marker::ALPHA_NM_B) => NmChange::Append("-B"),
        "powerpc" if ctx.has(marker::POWERPC_NM_SYNTHETIC) => NmChange::SyntheticIfSupported,
        _ => NmChange::None,
    }
}

/// The powerpc probe, verbatim from arch/powerpc/Makefile.
pub(crate) fn nm_synthetic_snippet(nm: &str) -> String {
    format!("if {nm} --help 2>&1 | grep -- '--synthetic' > /dev/null; then echo y; else echo n; fi")
}

/// arch/um/Makefile: `HEADER_ARCH := $(SUBARCH)`, x86 for any x86 flavour.
pub(crate) fn um_header_arch(subarch: &str) -> String {
    if matches!(subarch, "x86" | "x86_64" | "i386") {
        "x86".to_string()
    } else {
        subarch.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(
        arch: &'a str,
        srcarch: &'a str,
        subarch: &'a str,
        uname_m: &'a str,
        makefile: &'a str,
    ) -> ArchContext<'a> {
        ArchContext {
            arch,
            srcarch,
            subarch,
            uname_m,
            makefile,
        }
    }

    const X86_6_12: &str = "ifeq ($(shell uname -m | sed -e 's/i.86/i386/'),i386)";
    const X86_6_1: &str = "ifeq ($(shell uname -m),x86_64)";

    #[test]
    fn x86_defconfig_follows_the_host_and_version() {
        let d = |arch, uname, mk| kbuild_defconfig(&ctx(arch, "x86", "x86", uname, mk), None);
        assert_eq!(
            d("x86", "x86_64", X86_6_1).as_deref(),
            Some("x86_64_defconfig")
        );
        assert_eq!(
            d("x86", "x86_64", X86_6_12).as_deref(),
            Some("x86_64_defconfig")
        );
        assert_eq!(d("x86", "i686", X86_6_1).as_deref(), Some("i386_defconfig"));
        assert_eq!(
            d("x86", "i686", X86_6_12).as_deref(),
            Some("i386_defconfig")
        );
        // A non-x86 host: 6.1 picks i386, 6.12 x86_64.
        assert_eq!(
            d("x86", "aarch64", X86_6_1).as_deref(),
            Some("i386_defconfig")
        );
        assert_eq!(
            d("x86", "aarch64", X86_6_12).as_deref(),
            Some("x86_64_defconfig")
        );
        assert_eq!(
            d("i386", "x86_64", X86_6_12).as_deref(),
            Some("i386_defconfig")
        );
        assert_eq!(
            d("x86_64", "i686", X86_6_12).as_deref(),
            Some("x86_64_defconfig")
        );
    }

    #[test]
    fn um_powerpc_parisc_sparc_defconfigs() {
        assert_eq!(
            kbuild_defconfig(&ctx("um", "um", "x86", "x86_64", ""), None).as_deref(),
            Some("x86_64_defconfig")
        );
        assert_eq!(
            kbuild_defconfig(&ctx("um", "um", "x86", "i686", ""), None).as_deref(),
            Some("i386_defconfig")
        );
        assert_eq!(
            kbuild_defconfig(&ctx("um", "um", "arm64", "aarch64", ""), None).as_deref(),
            Some("arm64_defconfig")
        );
        let ppc61 = "KBUILD_DEFCONFIG := $(if $(filter ppc%,$(uname)),$(uname),ppc64)_defconfig";
        let ppc612 = "KBUILD_DEFCONFIG := $(if $(filter ppc%,$(uname)),$(uname),ppc64le)_defconfig";
        assert_eq!(
            kbuild_defconfig(&ctx("powerpc", "powerpc", "x86", "x86_64", ppc61), None).as_deref(),
            Some("ppc64_defconfig")
        );
        assert_eq!(
            kbuild_defconfig(&ctx("powerpc", "powerpc", "x86", "x86_64", ppc612), None).as_deref(),
            Some("ppc64le_defconfig")
        );
        assert_eq!(
            kbuild_defconfig(
                &ctx("powerpc", "powerpc", "powerpc", "ppc64le", ppc612),
                None
            )
            .as_deref(),
            Some("ppc64le_defconfig")
        );
        assert_eq!(
            kbuild_defconfig(&ctx("parisc64", "parisc", "x86", "x86_64", ""), None).as_deref(),
            Some("generic-64bit_defconfig")
        );
        assert_eq!(
            kbuild_defconfig(&ctx("parisc", "parisc", "x86", "x86_64", ""), None).as_deref(),
            Some("generic-32bit_defconfig")
        );
        assert_eq!(
            kbuild_defconfig(&ctx("sparc", "sparc", "x86", "x86_64", ""), None).as_deref(),
            Some("sparc32_defconfig")
        );
        assert_eq!(
            kbuild_defconfig(&ctx("sparc64", "sparc", "x86", "x86_64", ""), None).as_deref(),
            Some("sparc64_defconfig")
        );
    }

    #[test]
    fn other_arches_use_their_single_literal_assignment() {
        let mk = MakefileText {
            path: "arch/arc/Makefile".into(),
            text: "KBUILD_DEFCONFIG := haps_hs_smp_defconfig\n".into(),
        };
        let c = ctx("arc", "arc", "x86", "x86_64", &mk.text);
        assert_eq!(
            kbuild_defconfig(&c, Some(&mk)).as_deref(),
            Some("haps_hs_smp_defconfig")
        );
        let none = MakefileText {
            path: "arch/arm64/Makefile".into(),
            text: "KBUILD_CFLAGS += -mgeneral-regs-only\n".into(),
        };
        assert_eq!(
            kbuild_defconfig(
                &ctx("arm64", "arm64", "x86", "x86_64", &none.text),
                Some(&none)
            ),
            None
        );
    }

    #[test]
    fn cross_prefix_search_happens_only_where_the_arch_makefile_does_it() {
        let arc =
            "CROSS_COMPILE := $(call cc-cross-prefix, arc-linux- arceb-linux- arc-linux-gnu-)";
        let c = ctx("arc", "arc", "x86", "x86_64", arc);
        assert_eq!(
            cross_prefix_candidates(&c, "", false),
            Some(vec![
                "arc-linux-".into(),
                "arceb-linux-".into(),
                "arc-linux-gnu-".into()
            ])
        );
        // A CROSS_COMPILE from the environment or command line wins.
        assert_eq!(cross_prefix_candidates(&c, "my-", false), None);

        let sh = "ifdef cross_compiling\n  ifeq ($(CROSS_COMPILE),)\n    CROSS_COMPILE := $(call cc-cross-prefix, sh-linux- ...)";
        let c = ctx("sh", "sh", "x86", "x86_64", sh);
        assert_eq!(cross_prefix_candidates(&c, "", false), None);
        assert_eq!(
            cross_prefix_candidates(&c, "", true).map(|v| v.len()),
            Some(3)
        );

        let la = "ifneq ($(SUBARCH),$(ARCH))\n CROSS_COMPILE := $(call cc-cross-prefix, $(tool-archpref)-linux-)";
        assert_eq!(
            cross_prefix_candidates(
                &ctx("loongarch", "loongarch", "loongarch", "loongarch64", la),
                "",
                false
            ),
            None
        );
        assert_eq!(
            cross_prefix_candidates(
                &ctx("loongarch", "loongarch", "x86", "x86_64", la),
                "",
                false
            ),
            Some(vec![
                "-linux-".into(),
                "-linux-gnu-".into(),
                "-unknown-linux-gnu-".into()
            ])
        );

        let parisc = "ifdef cross_compiling\n CROSS_COMPILE := $(call cc-cross-prefix, ...)";
        let list = cross_prefix_candidates(
            &ctx("parisc64", "parisc", "x86", "x86_64", parisc),
            "",
            true,
        )
        .expect("searches");
        assert_eq!(
            list,
            vec![
                "hppa64-linux-",
                "hppa64-linux-gnu-",
                "hppa64-unknown-linux-gnu-",
                "hppa64-suse-linux-"
            ]
        );
    }

    #[test]
    fn cross_prefix_snippet_finds_the_first_gcc_on_path() {
        let dir = std::env::temp_dir().join(format!("ktailor-kbuild-cross-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let fake = dir.join("b-linux-gcc");
        std::fs::write(&fake, "#!/bin/sh\n").expect("write");
        let mut perms = std::fs::metadata(&fake).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&fake, perms).expect("chmod");
        let env = vec![("PATH".to_string(), dir.display().to_string())];
        let snippet =
            cross_prefix_snippet(&["a-linux-".into(), "b-linux-".into(), "c-linux-".into()]);
        assert_eq!(
            crate::probe::run_sh(&snippet, &env).expect("runs"),
            "b-linux-"
        );
        let none = cross_prefix_snippet(&["x-".into()]);
        assert_eq!(crate::probe::run_sh(&none, &env).expect("runs"), "");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn um_header_arch_folds_x86_flavours() {
        assert_eq!(um_header_arch("x86"), "x86");
        assert_eq!(um_header_arch("i386"), "x86");
        assert_eq!(um_header_arch("arm64"), "arm64");
    }
}
