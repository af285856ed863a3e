//! What the kernel's Makefile hands to `scripts/kconfig/conf`, computed
//! without running make.
//!
//! `make -C SRCTREE O=OBJTREE ARCH=ARCH KCONFIG_CONFIG=FILE olddefconfig`
//! ends in `scripts/kconfig/conf --olddefconfig Kconfig`, run in the object
//! tree with an environment that the top Makefile, the arch Makefile,
//! scripts/Makefile.clang and scripts/kconfig/Makefile have shaped. Kconfig
//! sees that environment through `$(VAR)` references and through every
//! `$(shell,...)` command it runs (`$(CC) --version`, scripts that read
//! `$ARCH` or `$SRCARCH`, ...). [`resolve`] reproduces the working directory,
//! the Kconfig argument and that environment, so that ktailor's Kconfig
//! engine gets byte-identical results.
//!
//! Not here: running conf, reading Kconfig files, caching command output
//! (the caller's runner does that), or building anything.
//!
//! # How the environment is built
//!
//! [`resolve`] replays, in the Makefiles' order, the assignments that matter,
//! on a model of make's variable table (module `makevars`): the process
//! environment first, then the command-line variables ([`TreeArgs`] fields
//! and [`TreeArgs::make_vars`]), which win over every Makefile assignment
//! and are themselves exported. An environment variable that a Makefile
//! reassigns reaches conf with the Makefile's value (a `CC=clang` in the
//! environment is ignored, `make CC=clang` is not); `unexport` removes
//! LC_ALL, GREP_OPTIONS and CONFIG_.
//!
//! Where 6.1 and 6.12 differ, the choice is made by looking for a literal
//! line of the tree's own Makefile (the `marker` constants of module
//! `makefile`), not by comparing version numbers, so Debian's patched trees
//! and upstream trees both come out right.
//!
//! # Variables reproduced, and how each was verified
//!
//! Verified means: equal to what the real make handed to a stand-in conf, in
//! the `ground_truth` integration test (run with `KTAILOR_TREES` set; about
//! five minutes on two busy cores), for both trees: ARCH = x86, x86_64,
//! i386, arm64, arm, riscv, um, s390, powerpc, mips, sparc, sparc64, parisc,
//! parisc64, loongarch, arc, sh, m68k, xtensa and alpha; ARCH from the
//! environment and from the host; in-tree, `O=` outside the tree, `O=` a
//! subdirectory (absolute and relative) and KBUILD_OUTPUT; `LLVM=1` (x86,
//! arm64, um, and alpha, which make and [`resolve`] both refuse),
//! `LLVM=-N`, `LLVM=DIR/`, `LLVM_IAS=0`; `CROSS_COMPILE=` on the command
//! line and in the environment; arc finding a cross compiler on PATH;
//! `V=1 C=1 W=ce CLIPPY=1`; `KCONFIG_CONFIG` and `KBUILD_ABS_SRCTREE` from the
//! environment; um with `SUBARCH=i386`; an existing kernel.release; and an
//! environment full of names the Makefiles unexport or reassign.
//!
//! * cwd: the object tree. Kconfig argument: KBUILD_KCONFIG or `Kconfig`.
//! * `srctree` (`.`, `..` or the absolute source path; `KBUILD_ABS_SRCTREE`
//!   forces the latter), `objtree` (`.`), `building_out_of_srctree`, `VPATH`,
//!   `abs_srctree`/`abs_objtree` (6.1 only), `sub_make_done`, `obj`
//!   (`scripts/kconfig`, a command-line variable of the kconfig sub-make),
//!   `O` and `KBUILD_OUTPUT` (as given).
//! * `ARCH` (argument, else environment, else SUBARCH), `SRCARCH` (the
//!   Makefile's alias blocks: i386/x86_64 → x86, sparc64 → sparc, parisc64 →
//!   parisc, sh64 → sh), `SUBARCH` and `HEADER_ARCH` (exported by um only;
//!   SUBARCH from `uname -m` through scripts/subarch.include's sed list).
//! * `VERSION`, `PATCHLEVEL`, `SUBLEVEL`, `KERNELVERSION`, `KERNELRELEASE`
//!   (include/config/kernel.release in the object tree, if any).
//! * `CC`, `CPP`, `LD`, `AR`, `NM`, `OBJCOPY`, `OBJDUMP`, `READELF`, `STRIP`,
//!   `HOSTCC`, `HOSTCXX` (from `LLVM=`: `1` gives clang/ld.lld/llvm-*, `-N` a
//!   suffix, `DIR/` a prefix; else `$(CROSS_COMPILE)gcc` and binutils),
//!   `CROSS_COMPILE` (as given, or found by the arch Makefile's
//!   `cc-cross-prefix` search), NM's `-B` (alpha) and `--synthetic`
//!   (powerpc, when nm supports it).
//! * `CC_VERSION_TEXT` (`LC_ALL=C $(CC) --version | head -n 1`, `#`
//!   removed), `RUSTC_VERSION_TEXT` (6.12: `$(RUSTC) --version`),
//!   `CLANG_FLAGS` (when CC is clang: `--target` from scripts/Makefile.clang,
//!   `-fintegrated-as` or `-fno-integrated-as --prefix=...` for `LLVM_IAS=0`,
//!   the `-Werror=` flags; 6.1 derives `--target` from CROSS_COMPILE when set).
//! * The fixed tool names: `CONFIG_SHELL`, `BASH`, `HOSTRUSTC`,
//!   `HOSTPKG_CONFIG`, `RUSTC`, `RUSTDOC`, `RUSTFMT`, `BINDGEN`, `CARGO`
//!   (6.1), `PAHOLE`, `RESOLVE_BTFIDS`, `LEX`, `YACC`, `AWK`,
//!   `INSTALLKERNEL`, `PERL`, `PYTHON3`, `CHECK`, `KGZIP`, `KBZIP2`, `KLZOP`,
//!   `LZMA`, `LZ4`, `XZ`, `ZSTD`, `RUSTC_OR_CLIPPY`, `RUSTC_OR_CLIPPY_QUIET`,
//!   `RUSTC_BOOTSTRAP` (1: rustc accepts `-Z` flags in `rustc-option`),
//!   `CLIPPY_CONF_DIR` (6.12).
//! * `KCONFIG_CONFIG`, `KBUILD_KCONFIG`, `KBUILD_DEFCONFIG` (per arch),
//!   `KCONFIG_DEFCONFIG_LIST` (`/lib/modules/$(uname -r)/.config
//!   /etc/kernel-config /boot/config-$(uname -r)` unless cross compiling, then
//!   `arch/$(SRCARCH)/configs/$(KBUILD_DEFCONFIG)`), `KBUILD_EXTRA_WARN`,
//!   `KCONFIG_WARN_UNKNOWN_SYMBOLS` and `KCONFIG_WERROR` (6.12, from `W=c`/`W=e`).
//! * `LC_COLLATE=C`, `LC_NUMERIC=C`, `quiet`, `Q`, `KBUILD_VERBOSE`,
//!   `KBUILD_CHECKSRC`, `KBUILD_CLIPPY`, `KBUILD_EXTMOD`, `cross_compiling`
//!   (upstream trees only; Debian's drop it).
//! * um only: arch/um/Makefile sets `SHELL := bash`, so the recipe that
//!   starts the kconfig sub-make runs through bash, which sets `BASH` to its
//!   path, `PWD` to the object tree (unless the inherited PWD names it),
//!   keeps `SHLVL` (0 when unset) and drops an `OLDPWD` that is not a
//!   directory (module `shell`).
//! * Everything else of the process environment, unchanged.
//!
//! Only these external commands run, all through the caller's runner, in at
//! most three calls (usually two): `uname -m` and `uname -r` together; the
//! arch Makefile's cross-compiler search, when it has one; then
//! `$(CC) --version`, `$(RUSTC) --version`, `which $(CROSS_COMPILE)elfedit`
//! (`LLVM_IAS=0`) and powerpc's `nm --help` together.
//!
//! # 6.1 against 6.12
//!
//! 6.1 exports `abs_srctree`, `abs_objtree`, `CARGO`; defaults
//! `KBUILD_VERBOSE` to 0; sets `VPATH` in-tree too (`.`); maps an `arm64`
//! host to SUBARCH `arm`; picks x86's defconfig by `uname -m` = x86_64;
//! powerpc's fallback defconfig is `ppc64_defconfig`; Makefile.clang takes
//! `--target` from CROSS_COMPILE and adds two `-Werror=` flags. 6.12 instead
//! exports `RUSTC_VERSION_TEXT`, `CLIPPY_CONF_DIR`, `KBUILD_EXTRA_WARN`
//! (and turns `W=c`/`W=e` into KCONFIG_WARN_UNKNOWN_SYMBOLS/KCONFIG_WERROR),
//! leaves `KBUILD_VERBOSE` empty and `VPATH` empty in-tree, keeps an `arm64`
//! host as `arm64`, picks x86's defconfig by `uname -m` ~ i.86, falls back
//! to `ppc64le_defconfig`, searches a powerpc cross compiler under
//! `cross_compiling`, and adds four `-Werror=` flags to CLANG_FLAGS.
//!
//! # Not reproduced
//!
//! See [`NOT_REPRODUCED`], [`NOT_REPRODUCED_FOR_ARCH`] and
//! [`MAKE_INTERNAL`]: build flags and arch Makefile exports that no Kconfig
//! file references and no script run by Kconfig reads, and make's own
//! bookkeeping. Also not modelled: `make -s`
//! (conf would get `-s`, `quiet=silent_`), Debian's `-include
//! .kernelvariables` (noted in [`Tree::notes`] when the file exists), M= /
//! KBUILD_EXTMOD builds, and environment variables that happen to share a
//! name with a Makefile-internal variable this crate does not model (make
//! would pass the Makefile's value).
//!
//! # Trees without a kernel Makefile
//!
//! A tree that lacks any of `Makefile`, `scripts/Kconfig.include` and
//! `arch/` is a plain Kconfig tree: conf runs in the object tree with the process
//! environment plus `srctree` (same `.`/`..`/absolute rule), `ARCH`,
//! `KCONFIG_CONFIG` and the [`TreeArgs::make_vars`], and no command runs.

mod arch;
mod error;
mod makefile;
mod makevars;
mod paths;
mod probe;
mod shell;
mod subarch;
mod toolchain;
mod version;

use std::path::{Path, PathBuf};

pub use error::KbuildError;
pub use probe::{fold_shell_output, run_sh, Runner};
pub use version::{dialect_version, KernelVersion};

use arch::{ArchContext, NmChange};
use makefile::{marker, MakefileText};
use makevars::{MakeVars, Origin};
use paths::utf8;

/// Variables make itself puts into a recipe's environment, which this crate
/// leaves out (and removes from the process environment): they describe the
/// make invocation ktailor replaces (its flags, recursion depth, terminal,
/// its own program name; `_` is the path of the program the user's shell
/// started, make there and ktailor here), and no Kconfig file or script run
/// by Kconfig reads them.
pub const MAKE_INTERNAL: &[&str] = &[
    "_",
    "MAKE",
    "MAKEFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
    "MAKE_TERMERR",
    "MAKE_TERMOUT",
    "MFLAGS",
];

/// Variables the kernel's Makefiles export for build targets' sake, which
/// [`resolve`] does not compute: compiler, assembler, linker and rustc flags
/// (most of them probe the compiler with `cc-option`, per arch), and values
/// the arch Makefiles export for their own recipes. None is referenced by a
/// Kconfig file of 6.1 or 6.12, and none is read by a script that Kconfig
/// runs (as-version.sh, cc-version.sh, ld-version.sh, min-tool-version.sh,
/// rust_is_available.sh, rustc-version.sh, tools-support-relr.sh, ... read
/// only ARCH, SRCARCH, CC, LD, NM, OBJCOPY, RUSTC, BINDGEN, KRUSTFLAGS and
/// RUST_LIB_SRC). They pass through unchanged if the process environment
/// has them.
pub const NOT_REPRODUCED: &[&str] = &[
    // Top Makefile: flags.
    "AFLAGS_KERNEL",
    "AFLAGS_MODULE",
    "CFLAGS_KERNEL",
    "CFLAGS_MODULE",
    "CHECKFLAGS",
    "KBUILD_AFLAGS",
    "KBUILD_AFLAGS_KERNEL",
    "KBUILD_AFLAGS_MODULE",
    "KBUILD_CFLAGS",
    "KBUILD_CFLAGS_KERNEL",
    "KBUILD_CFLAGS_MODULE",
    "KBUILD_CPPFLAGS",
    "KBUILD_HOSTCFLAGS",
    "KBUILD_HOSTCXXFLAGS",
    "KBUILD_HOSTLDFLAGS",
    "KBUILD_HOSTLDLIBS",
    "KBUILD_HOSTRUSTFLAGS",
    "KBUILD_LDFLAGS",
    "KBUILD_LDFLAGS_MODULE",
    "KBUILD_RUSTFLAGS",
    "KBUILD_RUSTFLAGS_KERNEL",
    "KBUILD_RUSTFLAGS_MODULE",
    "KBUILD_RUSTFLAGS_OPTION_CHKS",
    "KBUILD_USERCFLAGS",
    "KBUILD_USERLDFLAGS",
    "LDFLAGS_MODULE",
    "LINUXINCLUDE",
    "NOSTDINC_FLAGS",
    "OBJCOPYFLAGS",
    "PAHOLE_FLAGS",
    "RCS_FIND_IGNORE",
    "RCS_TAR_IGNORE",
    "RUSTFLAGS_KERNEL",
    "RUSTFLAGS_MODULE",
    "rust_common_flags",
    // Top Makefile, rewritten by every arch Makefile.
    "UTS_MACHINE",
    // Arch Makefiles' exports.
    "BITS",
    "CC_FLAGS_CHECK_STACK",
    "CC_FLAGS_EXPOLINE",
    "CC_FLAGS_MARCH",
    "CC_USING_PATCHABLE_FUNCTION_ENTRY",
    "CC_USING_RECORD_MCOUNT",
    "CFLAGS_NO_HARDENING",
    "CFLAGS_vmlinux",
    "CPU_MAJOR",
    "CPU_MINOR",
    "CPU_REV",
    "CPU_VER",
    "CROSS32CC",
    "DEV_NULL_PATH",
    "DTB",
    "GZFLAGS",
    "KBUILD_AFLAGS_DECOMPRESSOR",
    "KBUILD_CFLAGS_DECOMPRESSOR",
    "LDFLAGS_vmlinux",
    "LDS_ELF_ARCH",
    "LDS_ELF_FORMAT",
    "LDS_EXTRA",
    "LDS_START",
    "LD_BFD",
    "LIBGCC",
    "LIBS_Y",
    "MMU",
    "MMUEXT",
    "OS",
    "PADDING_CFLAGS",
    "PADDING_RUSTFLAGS",
    "REALMODE_CFLAGS",
    "RETHUNK_CFLAGS",
    "RETHUNK_RUSTFLAGS",
    "RETPOLINE_CFLAGS",
    "RETPOLINE_RUSTFLAGS",
    "RETPOLINE_VDSO_CFLAGS",
    "TEXT_OFFSET",
    "USER_CFLAGS",
    "ld_bfd",
];

/// Variables that one arch's Makefile redefines in terms of build flags, so
/// that [`resolve`] leaves them out of [`Tree::env`] for that SRCARCH:
/// `(srcarch, variable)`. powerpc's `CPP = $(CC) -E $(KBUILD_CFLAGS)`.
pub const NOT_REPRODUCED_FOR_ARCH: &[(&str, &str)] = &[("powerpc", "CPP")];

/// How the tree is to be configured: the equivalent of
/// `make -C SRCTREE O=OBJTREE ARCH=... KCONFIG_CONFIG=... KBUILD_KCONFIG=...
/// NAME=VALUE...`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeArgs {
    /// The source tree; a relative path is taken from the current directory.
    pub srctree: PathBuf,
    /// `ARCH=`; without it, the environment's ARCH, else the host's SUBARCH.
    pub arch: Option<String>,
    /// `O=`; a relative path is taken from the source tree, as with
    /// `make -C SRCTREE O=...`. Without it, the environment's KBUILD_OUTPUT,
    /// else the source tree.
    pub objtree: Option<PathBuf>,
    /// `KCONFIG_CONFIG=`; relative to the object tree (conf's directory).
    pub config: Option<PathBuf>,
    /// `KBUILD_KCONFIG=`: the top Kconfig file, relative to the source tree.
    pub kconfig: Option<PathBuf>,
    /// Further variables of make's command line, e.g. `LLVM=1`,
    /// `CROSS_COMPILE=aarch64-linux-gnu-`, `CC=clang`, `V=1`, `W=e`. The
    /// fields above win over an entry of the same name.
    pub make_vars: Vec<(String, String)>,
}

/// Everything conf would receive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    /// The source tree, absolute, symlinks resolved (make's `abs_srctree`).
    pub srctree: PathBuf,
    /// The object tree (O=, KBUILD_OUTPUT, or the source tree), absolute,
    /// symlinks resolved. It may not exist yet: make would create it.
    pub objtree: PathBuf,
    /// The configuration file conf reads and writes: KCONFIG_CONFIG (from
    /// [`TreeArgs::config`], else the environment, else `.config`) joined to
    /// the object tree.
    pub config: PathBuf,
    /// The top Kconfig file as conf receives it on its command line
    /// (KBUILD_KCONFIG, else `Kconfig`); conf opens it relative to `cwd`,
    /// then relative to `$srctree`.
    pub kconfig: PathBuf,
    /// The directory conf runs in (the object tree).
    pub cwd: PathBuf,
    pub arch: Option<String>,
    pub srcarch: Option<String>,
    /// From the Makefile; `None` for a tree without a kernel Makefile.
    pub version: Option<KernelVersion>,
    /// The complete environment conf would see, sorted by name.
    pub env: Vec<(String, String)>,
    /// Things make would do that were not reproduced for this tree (e.g. a
    /// Debian `.kernelvariables` file in the object tree); empty normally.
    pub notes: Vec<String>,
}

impl Tree {
    /// The value of `name` in [`Tree::env`].
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.env[i].1.as_str())
    }
}

/// Computes what `make ... <something>config` would hand to conf for `args`,
/// given make's environment `process_env`. Every external command runs
/// through `runner` (see [`Runner`]); [`run_sh`] is a plain one.
pub fn resolve(
    args: &TreeArgs,
    process_env: &[(String, String)],
    runner: &mut Runner<'_>,
) -> Result<Tree, KbuildError> {
    let cwd = std::env::current_dir().map_err(|source| KbuildError::Read {
        path: PathBuf::from("."),
        source,
    })?;
    let given = paths::absolute(&args.srctree, &cwd);
    let abs_srctree = match given.canonicalize() {
        Ok(p) if p.is_dir() => p,
        Ok(p) => {
            return Err(KbuildError::MissingSourceTree {
                path: p,
                source: std::io::Error::other("not a directory"),
            })
        }
        Err(source) => {
            return Err(KbuildError::MissingSourceTree {
                path: given,
                source,
            })
        }
    };
    let env: Vec<(String, String)> = process_env
        .iter()
        .filter(|(k, _)| !MAKE_INTERNAL.contains(&k.as_str()))
        .cloned()
        .collect();
    let command_line = command_line_vars(args)?;

    let top = MakefileText::read_optional(&abs_srctree.join("Makefile"))?;
    let kernel =
        abs_srctree.join("scripts/Kconfig.include").is_file() && abs_srctree.join("arch").is_dir();
    match top {
        Some(top) if kernel => resolve_kernel(&abs_srctree, &top, &env, &command_line, runner),
        _ => {
            // conf runs without make: no O= or KBUILD_KCONFIG= in its
            // environment, but ARCH, KCONFIG_CONFIG and the other variables
            // the caller asked for.
            let plain: Vec<(String, String)> = command_line
                .into_iter()
                .filter(|(k, _)| {
                    !(k == "O" && args.objtree.is_some()
                        || k == "KBUILD_KCONFIG" && args.kconfig.is_some())
                })
                .collect();
            resolve_plain(args, &abs_srctree, &env, &plain)
        }
    }
}

/// The command-line variables of the equivalent make invocation.
fn command_line_vars(args: &TreeArgs) -> Result<Vec<(String, String)>, KbuildError> {
    let mut vars = args.make_vars.clone();
    let mut put = |name: &str, value: String| {
        vars.retain(|(n, _)| n != name);
        vars.push((name.to_string(), value));
    };
    if let Some(arch) = &args.arch {
        put("ARCH", arch.clone());
    }
    if let Some(o) = &args.objtree {
        put("O", utf8(o)?.to_string());
    }
    if let Some(config) = &args.config {
        put("KCONFIG_CONFIG", utf8(config)?.to_string());
    }
    if let Some(kconfig) = &args.kconfig {
        put("KBUILD_KCONFIG", utf8(kconfig)?.to_string());
    }
    Ok(vars)
}

/// A tree without the kernel's Makefile: the environment plus `srctree`.
fn resolve_plain(
    args: &TreeArgs,
    abs_srctree: &Path,
    env: &[(String, String)],
    command_line: &[(String, String)],
) -> Result<Tree, KbuildError> {
    let objtree = match &args.objtree {
        Some(o) => paths::realpath_lenient(&paths::absolute(o, abs_srctree)),
        None => abs_srctree.to_path_buf(),
    };
    let mut vars = MakeVars::new(env, command_line);
    vars.export_set(
        "srctree",
        paths::srctree_value(utf8(abs_srctree)?, utf8(&objtree)?),
    );
    let config = match vars.get("KCONFIG_CONFIG") {
        "" if !vars.is_defined("KCONFIG_CONFIG") => ".config".to_string(),
        c => c.to_string(),
    };
    let kconfig = args
        .kconfig
        .clone()
        .unwrap_or_else(|| PathBuf::from("Kconfig"));
    let arch = vars
        .is_defined("ARCH")
        .then(|| vars.get("ARCH").to_string());
    Ok(Tree {
        srctree: abs_srctree.to_path_buf(),
        config: objtree.join(config),
        kconfig,
        cwd: objtree.clone(),
        objtree,
        arch,
        srcarch: None,
        version: None,
        env: vars.environment(),
        notes: Vec::new(),
    })
}

/// Every directory of `arch/` with a Kconfig, plus the Makefile's aliases
/// that lead to one, sorted.
fn valid_arches(abs_srctree: &Path, aliases: &[(String, String)]) -> Vec<String> {
    let mut valid: Vec<String> = std::fs::read_dir(abs_srctree.join("arch"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().join("Kconfig").is_file())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for (alias, dir) in aliases {
        if valid.contains(dir) && !valid.contains(alias) {
            valid.push(alias.clone());
        }
    }
    valid.sort();
    valid
}

/// Reads `path` like make's KERNELRELEASE does: 6.12's `read-file`
/// (`$(file <)`, one trailing newline dropped, newlines to spaces) or 6.1's
/// `$(shell cat ...)`; a missing file gives "".
fn read_kernelrelease(path: &Path, read_file: bool) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    if read_file {
        let text = String::from_utf8_lossy(&bytes);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        text.replace('\n', " ")
    } else {
        fold_shell_output(&bytes)
    }
}

fn resolve_kernel(
    abs_srctree: &Path,
    top: &MakefileText,
    env: &[(String, String)],
    command_line: &[(String, String)],
    runner: &mut Runner<'_>,
) -> Result<Tree, KbuildError> {
    let mut notes = Vec::new();
    let mut vars = MakeVars::new(env, command_line);
    let header = top.header()?;
    let kconfig_mk = MakefileText::read_optional(&abs_srctree.join("scripts/kconfig/Makefile"))?;
    let kconfig_has = |m: &str| kconfig_mk.as_ref().is_some_and(|k| k.has(m));

    // ---- Top Makefile, first invocation (`ifneq ($(sub_make_done),1)`).
    vars.unexport("LC_ALL");
    vars.export_set("LC_COLLATE", "C");
    vars.export_set("LC_NUMERIC", "C");
    vars.unexport("GREP_OPTIONS");

    if vars.origin("V") == Some(Origin::CommandLine) {
        let v = vars.get("V").to_string();
        vars.set("KBUILD_VERBOSE", v);
    }
    if top.has(marker::VERBOSE_DEFAULTS_TO_0) && !vars.is_set("KBUILD_VERBOSE") {
        vars.set("KBUILD_VERBOSE", "0");
    }
    let verbose = if top.has(marker::VERBOSE_FINDSTRING) {
        vars.get("KBUILD_VERBOSE").contains('1')
    } else {
        vars.get("KBUILD_VERBOSE") == "1"
    };
    vars.set("quiet", if verbose { "" } else { "quiet_" });
    vars.set("Q", if verbose { "" } else { "@" });
    for name in ["quiet", "Q", "KBUILD_VERBOSE"] {
        vars.export(name);
    }

    if vars.origin("C") == Some(Origin::CommandLine) {
        let c = vars.get("C").to_string();
        vars.set("KBUILD_CHECKSRC", c);
    }
    if !vars.is_set("KBUILD_CHECKSRC") {
        vars.set("KBUILD_CHECKSRC", "0");
    }
    vars.export("KBUILD_CHECKSRC");
    for (flag, var) in [("CLIPPY", "KBUILD_CLIPPY"), ("M", "KBUILD_EXTMOD")] {
        if vars.origin(flag) == Some(Origin::CommandLine) {
            let value = vars.get(flag).to_string();
            vars.set(var, value);
        }
        vars.export(var);
    }
    if vars.is_set("KBUILD_EXTMOD") {
        notes.push(format!(
            "KBUILD_EXTMOD={} is set: make would not run the configuration target for the kernel",
            vars.get("KBUILD_EXTMOD")
        ));
    }
    if top.has(marker::EXTRA_WARN) {
        let compat = vars.get("KBUILD_ENABLE_EXTRA_GCC_CHECKS").to_string();
        vars.set_default("KBUILD_EXTRA_WARN", compat);
        if vars.origin("W") == Some(Origin::CommandLine) {
            let w = vars.get("W").to_string();
            vars.set("KBUILD_EXTRA_WARN", w);
        }
        vars.export("KBUILD_EXTRA_WARN");
    }

    if vars.origin("O") == Some(Origin::CommandLine) {
        let o = vars.get("O").to_string();
        vars.set("KBUILD_OUTPUT", o);
    }
    // make runs in the source tree (-C), so a relative O= is relative to it.
    let abs_objtree = match vars.get("KBUILD_OUTPUT") {
        "" => abs_srctree.to_path_buf(),
        out => paths::realpath_lenient(&paths::absolute(Path::new(out), abs_srctree)),
    };
    let src = utf8(abs_srctree)?.to_string();
    let obj = utf8(&abs_objtree)?.to_string();
    if src.contains(|c: char| c == ':' || c.is_whitespace()) {
        return Err(KbuildError::UnusableSourcePath {
            path: abs_srctree.to_path_buf(),
        });
    }
    vars.set("abs_srctree", src.clone());
    vars.set("abs_objtree", obj.clone());
    if top.has(marker::EXPORT_ABS_TREES) {
        vars.export("abs_srctree");
        vars.export("abs_objtree");
    }
    vars.export_set("sub_make_done", "1");

    // ---- Top Makefile, final invocation (in the object tree).
    let out_of_tree = src != obj;
    let mut srctree = paths::srctree_value(&src, &obj);
    if vars.is_set("KBUILD_ABS_SRCTREE") {
        srctree = src.clone();
    }
    vars.set("srctree", srctree.clone());
    vars.set(
        "building_out_of_srctree",
        if out_of_tree { "1" } else { "" },
    );
    vars.set("objtree", ".");
    let vpath = if !top.has(marker::VPATH_OUT_OF_TREE_ONLY)
        || (out_of_tree && !vars.is_set("KBUILD_EXTMOD"))
    {
        srctree.clone()
    } else {
        String::new()
    };
    vars.set("VPATH", vpath);
    for name in ["building_out_of_srctree", "srctree", "objtree", "VPATH"] {
        vars.export(name);
    }

    vars.set("VERSION", header.version.1.clone());
    vars.set("PATCHLEVEL", header.patchlevel.1.clone());
    vars.set("SUBLEVEL", header.sublevel.1.clone());
    vars.set("EXTRAVERSION", header.extraversion.clone());
    if let Some(name) = &header.name {
        vars.set("NAME", name.clone());
    }
    let release = read_kernelrelease(
        &abs_objtree.join("include/config/kernel.release"),
        top.has(marker::KERNELRELEASE_READ_FILE),
    );
    vars.set("KERNELRELEASE", release);
    let kernelversion = {
        let (v, p, s, e) = (
            vars.get("VERSION"),
            vars.get("PATCHLEVEL"),
            vars.get("SUBLEVEL"),
            vars.get("EXTRAVERSION"),
        );
        let mut text = v.to_string();
        if !p.is_empty() {
            text.push('.');
            text.push_str(p);
            if !s.is_empty() {
                text.push('.');
                text.push_str(s);
            }
        }
        text.push_str(e);
        text
    };
    vars.set("KERNELVERSION", kernelversion);
    for name in [
        "VERSION",
        "PATCHLEVEL",
        "SUBLEVEL",
        "KERNELRELEASE",
        "KERNELVERSION",
    ] {
        vars.export(name);
    }

    // scripts/subarch.include, and `uname -r` for KCONFIG_DEFCONFIG_LIST.
    let subarch_map = subarch::SubarchMap::load(abs_srctree)?;
    let want_release = kconfig_has(marker::DEFCONFIG_LIST);
    let mut host_snippets = vec!["uname -m".to_string()];
    if want_release {
        host_snippets.push("uname -r".to_string());
    }
    let host = probe::run_batch(runner, env, &host_snippets)?;
    let uname_m = host[0].clone();
    let uname_r = host.get(1).cloned().unwrap_or_default();
    vars.set("SUBARCH", subarch_map.map(&uname_m));
    let subarch = vars.get("SUBARCH").to_string();

    let default_arch = subarch.clone();
    vars.set_default("ARCH", default_arch);
    vars.set_default("KCONFIG_CONFIG", ".config");
    vars.export("KCONFIG_CONFIG");

    toolchain::assign_llvm_affixes(&mut vars);
    toolchain::assign_compilers(&mut vars);
    for (name, value) in toolchain::FIXED_TOOLS {
        vars.set(name, value);
    }
    vars.set("CLIPPY_DRIVER", "clippy-driver");
    vars.set(
        "RESOLVE_BTFIDS",
        format!(
            "{}/tools/bpf/resolve_btfids/resolve_btfids",
            vars.get("objtree")
        ),
    );

    let arch = vars.get("ARCH").to_string();
    vars.set("SRCARCH", arch.clone());
    let aliases = top.srcarch_aliases();
    if let Some((_, dir)) = aliases.iter().find(|(alias, _)| *alias == arch) {
        vars.set("SRCARCH", dir.clone());
    }
    let srcarch = vars.get("SRCARCH").to_string();
    if srcarch.is_empty()
        || srcarch.contains('/')
        || srcarch == ".."
        || !abs_srctree
            .join("arch")
            .join(&srcarch)
            .join("Kconfig")
            .is_file()
    {
        return Err(KbuildError::UnknownArch {
            arch,
            srcarch,
            srctree: abs_srctree.to_path_buf(),
            valid: valid_arches(abs_srctree, &aliases),
        });
    }
    if top.has(marker::CROSS_COMPILING) {
        vars.export_set("cross_compiling", if srcarch != subarch { "1" } else { "" });
    }

    vars.set("CLANG_FLAGS", "");
    let clippy = vars.get("KBUILD_CLIPPY") == "1";
    vars.set(
        "RUSTC_OR_CLIPPY_QUIET",
        if clippy { "CLIPPY" } else { "RUSTC" },
    );
    let rustc_or_clippy = vars
        .get(if clippy { "CLIPPY_DRIVER" } else { "RUSTC" })
        .to_string();
    vars.set("RUSTC_OR_CLIPPY", rustc_or_clippy);
    let top_exports = top.exported_names();
    if top_exports.contains("RUSTC_BOOTSTRAP") {
        vars.export_set("RUSTC_BOOTSTRAP", "1");
    }
    if top_exports.contains("CLIPPY_CONF_DIR") {
        vars.export_set("CLIPPY_CONF_DIR", srctree.clone());
    }
    let exported_tools = [
        "ARCH",
        "SRCARCH",
        "HOSTCC",
        "HOSTCXX",
        "CROSS_COMPILE",
        "CC",
        "CPP",
        "LD",
        "AR",
        "NM",
        "OBJCOPY",
        "OBJDUMP",
        "READELF",
        "STRIP",
        "RUSTC_OR_CLIPPY",
        "RUSTC_OR_CLIPPY_QUIET",
        "RESOLVE_BTFIDS",
    ];
    for name in exported_tools
        .into_iter()
        .chain(toolchain::FIXED_TOOLS.iter().map(|(n, _)| *n))
    {
        if top_exports.contains(name) {
            vars.export(name);
        }
    }

    // ---- The arch Makefile's cross-compiler search, then the tools probe.
    let arch_mk_path = abs_srctree.join("arch").join(&srcarch).join("Makefile");
    let arch_mk = MakefileText::read_optional(&arch_mk_path)?;
    let arch_text = arch_mk.as_ref().map_or("", |m| m.text.as_str());
    let ctx = ArchContext {
        arch: &arch,
        srcarch: &srcarch,
        subarch: &subarch,
        uname_m: &uname_m,
        makefile: arch_text,
    };
    let cross_before = vars.get("CROSS_COMPILE").to_string();
    let found_prefix =
        match arch::cross_prefix_candidates(&ctx, &cross_before, vars.is_set("cross_compiling")) {
            Some(candidates) => {
                let out =
                    probe::run_batch(runner, env, &[arch::cross_prefix_snippet(&candidates)])?;
                out.into_iter().next()
            }
            None => None,
        };
    // The values after the arch Makefile, to know what to probe.
    let mut after = vars.clone();
    if let Some(prefix) = &found_prefix {
        after.set("CROSS_COMPILE", prefix.clone());
        toolchain::assign_compilers(&mut after);
    }
    let nm_change = arch::nm_change(&ctx);

    let cc_before = vars.get("CC").to_string();
    let cc_after = after.get("CC").to_string();
    let mut snippets = vec![toolchain::cc_version_snippet(&cc_after)];
    let before_at = (cc_before != cc_after).then(|| {
        snippets.push(toolchain::cc_version_snippet(&cc_before));
        snippets.len() - 1
    });
    let rustc_at = top.has(marker::RUSTC_VERSION_TEXT).then(|| {
        snippets.push(toolchain::rustc_version_snippet(after.get("RUSTC")));
        snippets.len() - 1
    });
    let elfedit_at = (vars.get("LLVM_IAS") == "0").then(|| {
        snippets.push(toolchain::elfedit_snippet(&cross_before));
        snippets.len() - 1
    });
    let nm_at = matches!(nm_change, NmChange::SyntheticIfSupported).then(|| {
        snippets.push(arch::nm_synthetic_snippet(after.get("NM")));
        snippets.len() - 1
    });
    let tools = probe::run_batch(runner, env, &snippets)?;
    let pick = |at: Option<usize>| at.and_then(|i| tools.get(i)).cloned().unwrap_or_default();
    let cc_text_after = tools.first().cloned().unwrap_or_default();
    let cc_text_before = before_at.map_or_else(|| cc_text_after.clone(), |i| pick(Some(i)));

    // `ifneq ($(findstring clang,$(CC_VERSION_TEXT)),)`, evaluated before
    // the arch Makefile.
    if cc_text_before.contains("clang") {
        let clang_path = abs_srctree.join("scripts/Makefile.clang");
        let clang_mk =
            MakefileText::read_optional(&clang_path)?.ok_or_else(|| KbuildError::Read {
                path: clang_path.clone(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
        let flags = toolchain::clang_flags(&clang_mk, &vars, &pick(elfedit_at))?;
        vars.set("CLANG_FLAGS", flags);
        vars.export("CLANG_FLAGS");
    }

    // ---- arch/$(SRCARCH)/Makefile.
    if let Some(prefix) = found_prefix {
        vars.set("CROSS_COMPILE", prefix);
        toolchain::assign_compilers(&mut vars);
    }
    match nm_change {
        NmChange::None => {}
        NmChange::Append(text) => vars.append("NM", text),
        NmChange::SyntheticIfSupported => {
            if pick(nm_at) == "y" {
                vars.append("NM", "--synthetic");
            }
        }
    }
    if let Some(defconfig) = arch::kbuild_defconfig(&ctx, arch_mk.as_ref()) {
        vars.set("KBUILD_DEFCONFIG", defconfig);
    }
    if srcarch == "um" && arch_mk.as_ref().is_some_and(|m| m.exports("HEADER_ARCH")) {
        vars.set("HEADER_ARCH", arch::um_header_arch(&subarch));
        vars.export("HEADER_ARCH");
        vars.export("SUBARCH");
    }
    if top.has("-include .kernelvariables") && abs_objtree.join(".kernelvariables").exists() {
        notes.push(format!(
            "{} exists; the variables it sets were not evaluated",
            abs_objtree.join(".kernelvariables").display()
        ));
    }

    vars.set("CC_VERSION_TEXT", toolchain::strip_pound(&cc_text_after));
    for name in ["KBUILD_DEFCONFIG", "KBUILD_KCONFIG", "CC_VERSION_TEXT"] {
        vars.export(name);
    }
    if rustc_at.is_some() {
        vars.set(
            "RUSTC_VERSION_TEXT",
            toolchain::strip_pound(&pick(rustc_at)),
        );
        vars.export("RUSTC_VERSION_TEXT");
    }

    // ---- `$(MAKE) -f scripts/Makefile.build obj=scripts/kconfig <target>`.
    vars.define_command_line("obj", "scripts/kconfig");
    let kconfig = match vars.get("KBUILD_KCONFIG") {
        "" => "Kconfig".to_string(),
        k => k.to_string(),
    };
    if !vars.is_set("KBUILD_DEFCONFIG") {
        vars.set("KBUILD_DEFCONFIG", "defconfig");
    }
    if want_release {
        let mut list = String::new();
        if !vars.is_set("cross_compiling") {
            list = format!(
                "/lib/modules/{uname_r}/.config /etc/kernel-config /boot/config-{uname_r} "
            );
        }
        list.push_str(&format!(
            "arch/{srcarch}/configs/{}",
            vars.get("KBUILD_DEFCONFIG")
        ));
        vars.export_set("KCONFIG_DEFCONFIG_LIST", list);
    }
    if kconfig_has(marker::KCONFIG_EXTRA_WARN) {
        let warn = vars.get("KBUILD_EXTRA_WARN").to_string();
        if warn.contains('c') {
            vars.export_set("KCONFIG_WARN_UNKNOWN_SYMBOLS", "1");
        }
        if warn.contains('e') {
            vars.export_set("KCONFIG_WERROR", "1");
        }
    }
    vars.unexport("CONFIG_");

    let version = KernelVersion {
        version: top.number("VERSION", &header.version)?,
        patchlevel: top.number("PATCHLEVEL", &header.patchlevel)?,
        sublevel: if header.sublevel.1.trim().is_empty() {
            0
        } else {
            top.number("SUBLEVEL", &header.sublevel)?
        },
        extraversion: header.extraversion.clone(),
        name: header.name.clone(),
    };
    let config = abs_objtree.join(vars.get("KCONFIG_CONFIG"));
    let mut env: Vec<(String, String)> = vars
        .environment()
        .into_iter()
        .filter(|(k, _)| !MAKE_INTERNAL.contains(&k.as_str()))
        .filter(|(k, _)| {
            vars.origin(k) == Some(Origin::CommandLine)
                || !NOT_REPRODUCED_FOR_ARCH.contains(&(srcarch.as_str(), k.as_str()))
        })
        .collect();
    // arch/um/Makefile sets `SHELL := bash`: the top make's recipes, among
    // them `$(MAKE) ... obj=scripts/kconfig`, then run through bash, whose
    // start-up rewrites a few variables before it execs make.
    if let Some((_, shell)) = arch_mk
        .as_ref()
        .and_then(|m| m.assignments("SHELL").into_iter().last())
    {
        if shell.ends_with("bash") {
            shell::bash_startup(&mut env, &shell, &abs_objtree);
        }
    }
    Ok(Tree {
        srctree: abs_srctree.to_path_buf(),
        objtree: abs_objtree.clone(),
        config,
        kconfig: PathBuf::from(kconfig),
        cwd: abs_objtree,
        arch: Some(arch),
        srcarch: Some(srcarch),
        version: Some(version),
        env,
        notes,
    })
}

#[cfg(test)]
mod tests;
