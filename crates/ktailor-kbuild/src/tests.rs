//! `resolve` on small synthetic trees, with a scripted runner: no kernel
//! tree, make or compiler needed. The real trees are compared with the real
//! make in tests/ground_truth.rs.

use super::*;

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("ktailor-kbuild-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    Scratch(dir.canonicalize().expect("canonical scratch dir"))
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create dirs");
    }
    std::fs::write(path, text).expect("write file");
}

const TOP_MAKEFILE: &str = "# SPDX-License-Identifier: GPL-2.0
VERSION = 6
PATCHLEVEL = 12
SUBLEVEL = 3
EXTRAVERSION = -rc1
NAME = Test Name

ifeq ($(ARCH),x86_64)
        SRCARCH := x86
endif
ifeq ($(ARCH),i386)
        SRCARCH := x86
endif

export RUSTC_BOOTSTRAP := 1
export ARCH SRCARCH CONFIG_SHELL BASH HOSTCC KBUILD_HOSTCFLAGS CROSS_COMPILE LD CC HOSTPKG_CONFIG
export RUSTC RUSTDOC RUSTFMT RUSTC_OR_CLIPPY_QUIET RUSTC_OR_CLIPPY BINDGEN
export CPP AR NM STRIP OBJCOPY OBJDUMP READELF PAHOLE RESOLVE_BTFIDS LEX YACC AWK INSTALLKERNEL
export PERL PYTHON3 CHECK CHECKFLAGS MAKE UTS_MACHINE HOSTCXX
RUSTC_VERSION_TEXT = $(subst $(pound),,$(shell $(RUSTC) --version 2>/dev/null))
";

const SUBARCH_INCLUDE: &str = "SUBARCH := $(shell uname -m | sed -e s/i.86/x86/ -e s/x86_64/x86/ \\
\t\t\t\t  -e s/aarch64.*/arm64/)
";

const MAKEFILE_CLANG: &str = "CLANG_TARGET_FLAGS_x86\t\t:= x86_64-linux-gnu
CLANG_TARGET_FLAGS\t\t:= $(CLANG_TARGET_FLAGS_$(SRCARCH))
ifeq ($(LLVM_IAS),0)
CLANG_FLAGS\t+= -fno-integrated-as
else
CLANG_FLAGS\t+= -fintegrated-as
endif
CLANG_FLAGS\t+= -Werror=unknown-warning-option
export CLANG_FLAGS
";

/// A minimal kernel-shaped tree: x86 (with 6.1's defconfig rule) and arm64.
fn kernel_tree(root: &Path) {
    write(root, "Makefile", TOP_MAKEFILE);
    write(
        root,
        "Kconfig",
        "mainmenu \"Linux/$(ARCH) $(KERNELVERSION)\"\n",
    );
    write(root, "scripts/Kconfig.include", "");
    write(root, "scripts/subarch.include", SUBARCH_INCLUDE);
    write(root, "scripts/Makefile.clang", MAKEFILE_CLANG);
    write(
        root,
        "scripts/kconfig/Makefile",
        "export KCONFIG_DEFCONFIG_LIST :=\nifndef cross_compiling\nendif\n",
    );
    write(root, "arch/x86/Kconfig", "");
    write(
        root,
        "arch/x86/Makefile",
        "ifeq ($(ARCH),x86)\n  ifeq ($(shell uname -m),x86_64)\n        KBUILD_DEFCONFIG := x86_64_defconfig\n  else\n        KBUILD_DEFCONFIG := i386_defconfig\n  endif\nelse\n        KBUILD_DEFCONFIG := $(ARCH)_defconfig\nendif\n",
    );
    write(root, "arch/arm64/Kconfig", "");
}

/// Answers each snippet of a batch like a host with gcc 12 (or clang when
/// CC is clang), and counts the calls.
struct FakeHost {
    calls: usize,
    scripts: Vec<String>,
}

impl FakeHost {
    fn new() -> Self {
        FakeHost {
            calls: 0,
            scripts: Vec::new(),
        }
    }

    fn answer(snippet: &str) -> &'static str {
        if snippet == "uname -m" {
            "x86_64"
        } else if snippet == "uname -r" {
            "6.1.0-host"
        } else if snippet.starts_with("LC_ALL=C clang") {
            "Debian clang version 14.0.6"
        } else if snippet.starts_with("LC_ALL=C ") {
            "gcc (Fake #1) 12.2.0"
        } else if snippet.contains("--version") {
            "rustc 1.80.0 (#abc 2024-07-21)"
        } else {
            ""
        }
    }

    fn run(&mut self, script: &str) -> std::io::Result<String> {
        self.calls += 1;
        self.scripts.push(script.to_string());
        let body = script
            .strip_prefix("printf '%s\\037' \"$(")
            .and_then(|s| s.strip_suffix(")\""))
            .ok_or_else(|| std::io::Error::other(format!("unexpected script {script}")))?;
        Ok(body
            .split(")\" \"$(")
            .map(|snippet| format!("{}\u{1f}", Self::answer(snippet)))
            .collect())
    }
}

fn env(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn resolve_with(
    args: &TreeArgs,
    process_env: &[(String, String)],
    host: &mut FakeHost,
) -> Result<Tree, KbuildError> {
    resolve(args, process_env, &mut |cmd, _| host.run(cmd))
}

fn args_for(root: &Path) -> TreeArgs {
    TreeArgs {
        srctree: root.to_path_buf(),
        ..TreeArgs::default()
    }
}

#[test]
fn in_tree_build_runs_in_the_source_tree_with_srctree_dot() {
    let s = scratch("in-tree");
    kernel_tree(&s.0);
    let mut host = FakeHost::new();
    let tree =
        resolve_with(&args_for(&s.0), &env(&[("PATH", "/bin")]), &mut host).expect("resolves");
    assert_eq!(tree.cwd, s.0);
    assert_eq!(tree.objtree, s.0);
    assert_eq!(tree.config, s.0.join(".config"));
    assert_eq!(tree.kconfig, PathBuf::from("Kconfig"));
    assert_eq!(tree.var("srctree"), Some("."));
    assert_eq!(tree.var("objtree"), Some("."));
    assert_eq!(tree.var("building_out_of_srctree"), Some(""));
    // No ARCH anywhere: the host's SUBARCH.
    assert_eq!(tree.arch.as_deref(), Some("x86"));
    assert_eq!(tree.var("ARCH"), Some("x86"));
    assert_eq!(tree.var("SRCARCH"), Some("x86"));
    // SUBARCH is exported by um only.
    assert_eq!(tree.var("SUBARCH"), None);
    assert!(host.calls <= 2, "{} runner calls", host.calls);
}

#[test]
fn object_tree_in_a_subdirectory_gets_srctree_dotdot() {
    let s = scratch("subdir");
    kernel_tree(&s.0);
    let mut host = FakeHost::new();
    let args = TreeArgs {
        objtree: Some(PathBuf::from("build")),
        arch: Some("x86_64".into()),
        ..args_for(&s.0)
    };
    let tree = resolve_with(&args, &[], &mut host).expect("resolves");
    assert_eq!(tree.objtree, s.0.join("build"));
    assert_eq!(tree.cwd, s.0.join("build"));
    assert_eq!(tree.var("srctree"), Some(".."));
    assert_eq!(tree.var("O"), Some("build"));
    assert_eq!(tree.var("building_out_of_srctree"), Some("1"));
    assert_eq!(tree.srcarch.as_deref(), Some("x86"));
    assert_eq!(tree.var("KBUILD_DEFCONFIG"), Some("x86_64_defconfig"));
}

#[test]
fn object_tree_elsewhere_gets_the_absolute_srctree() {
    let s = scratch("elsewhere");
    let src = s.0.join("linux");
    kernel_tree(&src);
    let obj = s.0.join("out/x86");
    let mut host = FakeHost::new();
    let args = TreeArgs {
        objtree: Some(obj.clone()),
        config: Some(PathBuf::from("my.config")),
        ..args_for(&src)
    };
    let tree = resolve_with(&args, &[], &mut host).expect("resolves");
    assert_eq!(tree.var("srctree"), src.to_str());
    assert_eq!(tree.objtree, obj);
    assert_eq!(tree.config, obj.join("my.config"));
    assert_eq!(tree.var("KCONFIG_CONFIG"), Some("my.config"));
}

#[test]
fn version_comes_from_the_makefile_header() {
    let s = scratch("version");
    kernel_tree(&s.0);
    let mut host = FakeHost::new();
    let tree = resolve_with(&args_for(&s.0), &[], &mut host).expect("resolves");
    let v = tree.version.clone().expect("a kernel tree has a version");
    assert_eq!((v.version, v.patchlevel, v.sublevel), (6, 12, 3));
    assert_eq!(v.extraversion, "-rc1");
    assert_eq!(v.name.as_deref(), Some("Test Name"));
    assert_eq!(dialect_version(&tree), Some((6, 12)));
    assert_eq!(tree.var("KERNELVERSION"), Some("6.12.3-rc1"));
    assert_eq!(tree.var("VERSION"), Some("6"));
    // EXTRAVERSION and NAME are Makefile variables, not exported.
    assert_eq!(tree.var("EXTRAVERSION"), None);
    assert_eq!(tree.var("NAME"), None);
}

#[test]
fn compiler_version_texts_lose_their_pound_signs() {
    let s = scratch("cc-version");
    kernel_tree(&s.0);
    let mut host = FakeHost::new();
    let tree = resolve_with(&args_for(&s.0), &[], &mut host).expect("resolves");
    assert_eq!(tree.var("CC_VERSION_TEXT"), Some("gcc (Fake 1) 12.2.0"));
    assert_eq!(
        tree.var("RUSTC_VERSION_TEXT"),
        Some("rustc 1.80.0 (abc 2024-07-21)")
    );
    assert_eq!(tree.var("CLANG_FLAGS"), None);
}

#[test]
fn llvm_1_selects_clang_and_computes_clang_flags() {
    let s = scratch("llvm");
    kernel_tree(&s.0);
    let mut host = FakeHost::new();
    let args = TreeArgs {
        make_vars: vec![("LLVM".into(), "1".into())],
        ..args_for(&s.0)
    };
    let tree = resolve_with(&args, &env(&[("CC", "gcc-from-env")]), &mut host).expect("resolves");
    assert_eq!(tree.var("CC"), Some("clang"));
    assert_eq!(tree.var("LD"), Some("ld.lld"));
    assert_eq!(tree.var("HOSTCC"), Some("clang"));
    assert_eq!(tree.var("LLVM"), Some("1"));
    assert_eq!(
        tree.var("CC_VERSION_TEXT"),
        Some("Debian clang version 14.0.6")
    );
    assert_eq!(
        tree.var("CLANG_FLAGS"),
        Some("--target=x86_64-linux-gnu -fintegrated-as -Werror=unknown-warning-option")
    );
}

#[test]
fn makefile_wins_over_the_environment_and_command_line_wins_over_both() {
    let s = scratch("precedence");
    kernel_tree(&s.0);
    let mut host = FakeHost::new();
    let process = env(&[
        ("CC", "env-cc"),
        ("LD", "env-ld"),
        ("srctree", "/bogus"),
        ("ARCH", "arm64"),
    ]);
    let args = TreeArgs {
        make_vars: vec![("LD".into(), "cmdline-ld".into())],
        ..args_for(&s.0)
    };
    let tree = resolve_with(&args, &process, &mut host).expect("resolves");
    assert_eq!(tree.var("CC"), Some("gcc"));
    assert_eq!(tree.var("LD"), Some("cmdline-ld"));
    assert_eq!(tree.var("srctree"), Some("."));
    // ARCH from the environment is kept (`ARCH ?= $(SUBARCH)`).
    assert_eq!(tree.var("ARCH"), Some("arm64"));
    assert_eq!(tree.var("KBUILD_DEFCONFIG"), Some("defconfig"));
}

#[test]
fn make_removes_and_adds_locale_and_bookkeeping_variables() {
    let s = scratch("unexport");
    kernel_tree(&s.0);
    let mut host = FakeHost::new();
    let process = env(&[
        ("LC_ALL", "C.UTF-8"),
        ("GREP_OPTIONS", "-i"),
        ("CONFIG_", "MY_"),
        ("MAKEFLAGS", "-j8"),
        ("_", "/usr/bin/ktailor"),
        ("HOME", "/home/u"),
    ]);
    let tree = resolve_with(&args_for(&s.0), &process, &mut host).expect("resolves");
    for gone in ["LC_ALL", "GREP_OPTIONS", "CONFIG_", "MAKEFLAGS", "_"] {
        assert_eq!(tree.var(gone), None, "{gone}");
    }
    assert_eq!(tree.var("HOME"), Some("/home/u"));
    assert_eq!(tree.var("LC_COLLATE"), Some("C"));
    assert_eq!(tree.var("LC_NUMERIC"), Some("C"));
    assert_eq!(tree.var("RUSTC_BOOTSTRAP"), Some("1"));
    assert_eq!(tree.var("CROSS_COMPILE"), Some(""));
    assert!(
        tree.env.windows(2).all(|w| w[0].0 < w[1].0),
        "env sorted by name"
    );
}

#[test]
fn defconfig_list_names_the_host_kernel_then_the_arch_default() {
    let s = scratch("defconfig-list");
    kernel_tree(&s.0);
    let mut host = FakeHost::new();
    let tree = resolve_with(&args_for(&s.0), &[], &mut host).expect("resolves");
    assert_eq!(
        tree.var("KCONFIG_DEFCONFIG_LIST"),
        Some("/lib/modules/6.1.0-host/.config /etc/kernel-config /boot/config-6.1.0-host arch/x86/configs/x86_64_defconfig")
    );
    let cross = resolve_with(
        &args_for(&s.0),
        &env(&[("cross_compiling", "1")]),
        &mut host,
    )
    .expect("resolves");
    assert_eq!(
        cross.var("KCONFIG_DEFCONFIG_LIST"),
        Some("arch/x86/configs/x86_64_defconfig")
    );
}

#[test]
fn unknown_arch_is_rejected_with_the_valid_list() {
    let s = scratch("unknown-arch");
    kernel_tree(&s.0);
    let mut host = FakeHost::new();
    let args = TreeArgs {
        arch: Some("vax".into()),
        ..args_for(&s.0)
    };
    match resolve_with(&args, &[], &mut host) {
        Err(KbuildError::UnknownArch { arch, valid, .. }) => {
            assert_eq!(arch, "vax");
            assert_eq!(valid, ["arm64", "i386", "x86", "x86_64"]);
        }
        other => panic!("expected UnknownArch, got {other:?}"),
    }
    let empty = TreeArgs {
        arch: Some(String::new()),
        ..args_for(&s.0)
    };
    assert!(matches!(
        resolve_with(&empty, &[], &mut host),
        Err(KbuildError::UnknownArch { .. })
    ));
}

#[test]
fn missing_source_tree_is_an_error() {
    let s = scratch("missing");
    let mut host = FakeHost::new();
    let err = resolve_with(&args_for(&s.0.join("nope")), &[], &mut host).expect_err("no tree");
    assert!(
        matches!(err, KbuildError::MissingSourceTree { .. }),
        "{err}"
    );
    assert_eq!(host.calls, 0);
}

#[test]
fn a_tree_without_a_kernel_makefile_gets_the_environment_plus_srctree() {
    let s = scratch("plain");
    write(&s.0, "Kconfig", "config FOO\n\tbool \"foo\"\n");
    let mut host = FakeHost::new();
    let process = env(&[("PATH", "/bin"), ("KCONFIG_CONFIG", "foo.config")]);
    let tree = resolve_with(&args_for(&s.0), &process, &mut host).expect("resolves");
    assert_eq!(host.calls, 0);
    assert_eq!(tree.version, None);
    assert_eq!(dialect_version(&tree), None);
    assert_eq!(tree.cwd, s.0);
    assert_eq!(tree.config, s.0.join("foo.config"));
    assert_eq!(
        tree.env,
        env(&[
            ("KCONFIG_CONFIG", "foo.config"),
            ("PATH", "/bin"),
            ("srctree", ".")
        ])
    );

    let args = TreeArgs {
        objtree: Some(PathBuf::from("out")),
        arch: Some("sim".into()),
        ..args_for(&s.0)
    };
    let tree = resolve_with(&args, &[], &mut host).expect("resolves");
    assert_eq!(tree.var("srctree"), Some(".."));
    assert_eq!(tree.var("ARCH"), Some("sim"));
    assert_eq!(tree.var("O"), None);
    assert_eq!(tree.config, s.0.join("out/.config"));
}

#[test]
fn kernelrelease_is_read_from_the_object_tree() {
    let s = scratch("release");
    kernel_tree(&s.0);
    write(&s.0, "include/config/kernel.release", "6.12.3-rc1-custom\n");
    let mut host = FakeHost::new();
    let tree = resolve_with(&args_for(&s.0), &[], &mut host).expect("resolves");
    assert_eq!(tree.var("KERNELRELEASE"), Some("6.12.3-rc1-custom"));
}
