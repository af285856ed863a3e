//! Ground truth: what the real `make ... olddefconfig` hands to conf, against
//! what `resolve` computes, on the kernel trees of `$KTAILOR_TREES`
//! (linux-source-6.1 and linux-source-6.12).
//!
//! How: conf is built once per object tree by a normal make run, then
//! replaced by a small C program that writes its working directory, argv
//! and environ next to itself and exits. make does not rebuild it, because it
//! is newer than its inputs and its .cmd file still matches. Each case then
//! runs make with an explicit environment, and compares the recording with
//! `resolve` given the same arguments and environment: every variable must
//! be equal, except those in `MAKE_INTERNAL` and `NOT_REPRODUCED`.
//!
//! The test needs the unpacked trees (scripts/setup-trees.sh), so it is
//! `#[ignore]`d in a plain `cargo test`; scripts/test.sh runs it with
//! `--include-ignored`. A missing tree, make or C compiler is a failure.
//! Cases that need clang run only where `clang`, `ld.lld` and `llvm-ar` are
//! on PATH.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ktailor_kbuild::{
    resolve, run_sh, TreeArgs, MAKE_INTERNAL, NOT_REPRODUCED, NOT_REPRODUCED_FOR_ARCH,
};

const DUMPER_C: &str = r#"
/* Stand-in for scripts/kconfig/conf: records cwd, argv and environ in
   <argv[0]>.dump, NUL-separated, then exits. */
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
    char path[PATH_MAX], cwd[PATH_MAX];
    snprintf(path, sizeof path, "%s.dump", argv[0]);
    FILE *f = fopen(path, "w");
    if (!f) return 99;
    fputs(getcwd(cwd, sizeof cwd) ? cwd : "?", f); fputc(0, f);
    fprintf(f, "%d", argc - 1); fputc(0, f);
    for (int i = 1; i < argc; i++) { fputs(argv[i], f); fputc(0, f); }
    for (char **e = environ; *e; e++) { fputs(*e, f); fputc(0, f); }
    return fclose(f) ? 98 : 0;
}
"#;

/// One make invocation.
struct Case {
    name: String,
    srctree: PathBuf,
    /// Where conf lives (the object tree make will use).
    objtree: PathBuf,
    args: TreeArgs,
    env: Vec<(String, String)>,
    /// A kernel.release to put into the object tree first.
    kernelrelease: Option<&'static str>,
}

/// What make handed to conf.
struct Dump {
    cwd: PathBuf,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
}

/// The work directory, removed when the test ends.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn which(program: &str, path: &str) -> Option<PathBuf> {
    path.split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

fn base_env(path: &str) -> Vec<(String, String)> {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".to_string());
    vec![
        ("PATH".to_string(), path.to_string()),
        ("HOME".to_string(), home),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("PWD".to_string(), "/".to_string()),
    ]
}

fn with(env: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    for (k, v) in extra {
        env.retain(|(n, _)| n != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

fn make_command_line(case: &Case) -> Vec<String> {
    let mut line = vec!["-C".to_string(), case.srctree.display().to_string()];
    if let Some(o) = &case.args.objtree {
        line.push(format!("O={}", o.display()));
    }
    if let Some(a) = &case.args.arch {
        line.push(format!("ARCH={a}"));
    }
    if let Some(c) = &case.args.config {
        line.push(format!("KCONFIG_CONFIG={}", c.display()));
    }
    if let Some(k) = &case.args.kconfig {
        line.push(format!("KBUILD_KCONFIG={}", k.display()));
    }
    for (k, v) in &case.args.make_vars {
        line.push(format!("{k}={v}"));
    }
    line.push("olddefconfig".to_string());
    line
}

fn read_dump(path: &Path) -> Option<Dump> {
    let bytes = std::fs::read(path).ok()?;
    let _ = std::fs::remove_file(path);
    let mut fields = bytes
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let cwd = PathBuf::from(fields.next()?);
    let argc: usize = fields.next()?.parse().ok()?;
    let argv: Vec<String> = fields.by_ref().take(argc).collect();
    let env = fields
        .filter(|f| !f.is_empty())
        .filter_map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    Some(Dump { cwd, argv, env })
}

/// Runs make for `case`, with the dumper installed as conf; `Err` carries
/// make's output when conf was never reached.
fn run_make(case: &Case, dumper: &Path) -> Result<Dump, String> {
    let conf = case.objtree.join("scripts/kconfig/conf");
    let dump_path = case.objtree.join("scripts/kconfig/conf.dump");
    let mut log = String::new();
    for _attempt in 0..2 {
        let _ = std::fs::remove_file(&dump_path);
        let out = Command::new("make")
            .args(make_command_line(case))
            .env_clear()
            .envs(case.env.iter().map(|(k, v)| (k, v)))
            .output()
            .map_err(|e| format!("cannot run make: {e}"))?;
        log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(dump) = read_dump(&dump_path) {
            if case.kernelrelease.is_some() {
                let _ = std::fs::remove_file(case.objtree.join("include/config/kernel.release"));
            }
            return Ok(dump);
        }
        // make built (or rebuilt, for another HOSTCC) the real conf: put
        // the stand-in in its place and try again.
        if !conf.is_file() {
            break;
        }
        std::fs::copy(dumper, &conf).map_err(|e| format!("install dumper: {e}"))?;
    }
    Err(log)
}

/// Compares one case; returns the differences as readable lines.
fn compare(case: &Case, dumper: &Path) -> Vec<String> {
    if let Some(release) = case.kernelrelease {
        let dir = case.objtree.join("include/config");
        if let Err(e) = std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(dir.join("kernel.release"), release))
        {
            return vec![format!("cannot write kernel.release: {e}")];
        }
    }
    let mut calls = 0;
    let mut runner = |cmd: &str, env: &[(String, String)]| {
        calls += 1;
        run_sh(cmd, env)
    };
    let resolved = resolve(&case.args, &case.env, &mut runner);
    let made = run_make(case, dumper);
    let (tree, dump) = match (resolved, made) {
        (Ok(tree), Ok(dump)) => (tree, dump),
        // Both refuse (make stops before conf): agreement, if expected.
        (Err(_), Err(_)) if case.name.ends_with("-refused") => return Vec::new(),
        (Err(e), Err(log)) => return vec![format!("both failed; resolve: {e}\nmake:\n{log}")],
        (Ok(_), Err(log)) => {
            return vec![format!("make never ran conf, resolve succeeded:\n{log}")]
        }
        (Err(e), Ok(_)) => return vec![format!("make ran conf, resolve failed: {e}")],
    };
    let mut diffs = Vec::new();
    if calls > 3 {
        diffs.push(format!("{calls} runner calls"));
    }
    if dump.cwd != tree.cwd {
        diffs.push(format!(
            "cwd: make {} / resolve {}",
            dump.cwd.display(),
            tree.cwd.display()
        ));
    }
    let expected_argv = vec![
        "--olddefconfig".to_string(),
        tree.kconfig.display().to_string(),
    ];
    if dump.argv != expected_argv {
        diffs.push(format!(
            "argv: make {:?} / resolve {:?}",
            dump.argv, expected_argv
        ));
    }
    let ours: BTreeMap<String, String> = tree.env.iter().cloned().collect();
    let names: std::collections::BTreeSet<&String> = dump.env.keys().chain(ours.keys()).collect();
    for name in names {
        if MAKE_INTERNAL.contains(&name.as_str()) {
            if ours.contains_key(name) {
                diffs.push(format!("{name}: make-internal variable in resolve's env"));
            }
            continue;
        }
        let srcarch = tree.srcarch.as_deref().unwrap_or_default();
        if NOT_REPRODUCED.contains(&name.as_str())
            || NOT_REPRODUCED_FOR_ARCH.contains(&(srcarch, name.as_str()))
        {
            continue;
        }
        match (dump.env.get(name), ours.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => diffs.push(format!("{name}: make {a:?} / resolve {b:?}")),
        }
    }
    diffs
}

fn copy_tree(src: &Path, dst: &Path) -> Result<(), String> {
    let status = Command::new("cp")
        .arg("-al")
        .arg(src)
        .arg(dst)
        .status()
        .map_err(|e| format!("cp: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cp -al {} {} failed", src.display(), dst.display()))
    }
}

fn cases_for(version: &str, src: &Path, work: &Path, path: &str) -> Result<Vec<Case>, String> {
    let out = work.join(format!("obj-{version}"));
    let env = base_env(path);
    let mut cases = Vec::new();
    let mut case =
        |name: &str, srctree: &Path, objtree: &Path, args: TreeArgs, env: Vec<(String, String)>| {
            cases.push(Case {
                name: format!("{version}/{name}"),
                srctree: srctree.to_path_buf(),
                objtree: objtree.to_path_buf(),
                args: TreeArgs {
                    srctree: srctree.to_path_buf(),
                    ..args
                },
                env,
                kernelrelease: None,
            });
        };
    let o = |arch: &str| TreeArgs {
        arch: Some(arch.to_string()),
        objtree: Some(out.clone()),
        ..TreeArgs::default()
    };
    let vars = |arch: &str, vars: &[(&str, &str)]| TreeArgs {
        make_vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..o(arch)
    };

    // A hostile environment: make-unexported names, Makefile-assigned names,
    // odd names.
    case(
        "x86-hostile-env",
        src,
        &out,
        o("x86"),
        with(
            &env,
            &[
                ("LC_ALL", "C.UTF-8"),
                ("GREP_OPTIONS", "--color"),
                ("CONFIG_", "FOO_"),
                ("SUBARCH", "bogus"),
                ("CC", "bogus-cc"),
                ("HOSTCC", "bogus-hostcc"),
                ("srctree", "/bogus"),
                ("VERSION", "9"),
                ("NAME", "bogus"),
                ("KBUILD_DEFCONFIG", "bogus_defconfig"),
                ("abs_srctree", "/bogus"),
                ("KBUILD_OUTPUT", "/bogus-output"),
                ("A.B", "dotted"),
                ("USERCFLAGS", "-DFOO"),
                ("MAKEFLAGS", ""),
            ],
        ),
    );
    for arch in [
        "x86_64",
        "i386",
        "arm",
        "riscv",
        "um",
        "s390",
        "powerpc",
        "mips",
        "sparc",
        "sparc64",
        "parisc",
        "parisc64",
        "loongarch",
        "arc",
        "sh",
        "m68k",
        "xtensa",
        "alpha",
    ] {
        case(arch, src, &out, o(arch), env.clone());
    }
    // um runs its recipes through bash, which rewrites PWD, SHLVL, BASH
    // and OLDPWD.
    case(
        "um-bash-startup",
        src,
        &out,
        o("um"),
        with(
            &env,
            &[
                ("SHLVL", "5"),
                ("OLDPWD", "/no/such/dir"),
                ("PWD", "/tmp"),
                ("BASH", "/bogus/bash"),
            ],
        ),
    );
    case(
        "um-subarch-i386",
        src,
        &out,
        vars("um", &[("SUBARCH", "i386")]),
        env.clone(),
    );
    case(
        "arm64-env-defconfig",
        src,
        &out,
        o("arm64"),
        with(&env, &[("KBUILD_DEFCONFIG", "from_env_defconfig")]),
    );
    case(
        "arch-from-env",
        src,
        &out,
        TreeArgs {
            objtree: Some(out.clone()),
            ..TreeArgs::default()
        },
        with(&env, &[("ARCH", "riscv")]),
    );
    case(
        "arch-from-host",
        src,
        &out,
        TreeArgs {
            objtree: Some(out.clone()),
            ..TreeArgs::default()
        },
        env.clone(),
    );
    case(
        "objtree-from-env",
        src,
        &out,
        TreeArgs {
            arch: Some("x86".to_string()),
            ..TreeArgs::default()
        },
        with(&env, &[("KBUILD_OUTPUT", out.to_str().unwrap_or_default())]),
    );
    case(
        "verbose-checks-warnings",
        src,
        &out,
        TreeArgs {
            config: Some(PathBuf::from("my.config")),
            kconfig: Some(PathBuf::from("Kconfig")),
            ..vars(
                "x86",
                &[("V", "1"), ("C", "1"), ("W", "ce"), ("CLIPPY", "1")],
            )
        },
        env.clone(),
    );
    case(
        "config-from-env-abs-srctree",
        src,
        &out,
        o("arm64"),
        with(
            &env,
            &[
                ("KCONFIG_CONFIG", "other.config"),
                ("KBUILD_ABS_SRCTREE", "1"),
                ("KBUILD_VERBOSE", "1"),
            ],
        ),
    );
    case(
        "cross-compile",
        src,
        &out,
        vars("arm64", &[("CROSS_COMPILE", "foo-")]),
        env.clone(),
    );
    case(
        "cross-compile-env",
        src,
        &out,
        o("arm64"),
        with(&env, &[("CROSS_COMPILE", "bar-")]),
    );

    // A cross compiler the arc Makefile finds by itself.
    let fake_bin = work.join(format!("fake-bin-{version}"));
    std::fs::create_dir_all(&fake_bin).map_err(|e| e.to_string())?;
    let fake_gcc = fake_bin.join("arc-linux-gnu-gcc");
    std::fs::write(
        &fake_gcc,
        "#!/bin/sh\necho 'arc-linux-gnu-gcc (fake #1) 13.2.0'\necho 'second line'\n",
    )
    .map_err(|e| e.to_string())?;
    let mut perms = std::fs::metadata(&fake_gcc)
        .map_err(|e| e.to_string())?
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake_gcc, perms).map_err(|e| e.to_string())?;
    let fake_path = format!("{}:{path}", fake_bin.display());
    case(
        "arc-found-cross-compiler",
        src,
        &out,
        o("arc"),
        base_env(&fake_path),
    );

    if ["clang", "ld.lld", "llvm-ar", "llvm-nm"]
        .iter()
        .all(|p| which(p, path).is_some())
    {
        let clang_dir = which("clang", path)
            .and_then(|p| p.parent().map(|d| format!("{}/", d.display())))
            .unwrap_or_default();
        case(
            "llvm-1",
            src,
            &out,
            vars("x86", &[("LLVM", "1")]),
            env.clone(),
        );
        case(
            "llvm-1-arm64",
            src,
            &out,
            vars("arm64", &[("LLVM", "1")]),
            env.clone(),
        );
        case(
            "llvm-1-um",
            src,
            &out,
            vars("um", &[("LLVM", "1")]),
            env.clone(),
        );
        case(
            "llvm-1-alpha-refused",
            src,
            &out,
            vars("alpha", &[("LLVM", "1")]),
            env.clone(),
        );
        case(
            "llvm-ias-0",
            src,
            &out,
            vars(
                "x86",
                &[
                    ("LLVM", "1"),
                    ("LLVM_IAS", "0"),
                    ("CROSS_COMPILE", "x86_64-linux-gnu-"),
                ],
            ),
            env.clone(),
        );
        case(
            "llvm-prefix",
            src,
            &out,
            vars("riscv", &[("LLVM", clang_dir.as_str())]),
            env.clone(),
        );
        if let Some(suffix) = (10..30)
            .map(|n| format!("-{n}"))
            .find(|s| which(&format!("clang{s}"), path).is_some())
        {
            case(
                "llvm-suffix",
                src,
                &out,
                vars("arm64", &[("LLVM", suffix.as_str())]),
                env.clone(),
            );
        }
        case(
            "llvm-env-prefix-var",
            src,
            &out,
            vars("x86", &[("LLVM", "1")]),
            with(&env, &[("LLVM_PREFIX", "")]),
        );
    }
    // Back to gcc, then the kernel.release case.
    case("x86-gcc", src, &out, o("x86"), env.clone());
    if let Some(last) = cases.last_mut() {
        last.kernelrelease = Some("6.99.0-test\n");
    }

    // Object tree inside a (hard-linked) copy of the source tree: srctree is
    // `..`; then an in-tree build of the same copy.
    let copy = work.join(format!("src-{version}"));
    copy_tree(src, &copy)?;
    let sub = copy.join("build");
    let mut more = Vec::new();
    for (name, objtree) in [
        ("subdir-absolute", sub.clone()),
        ("subdir-relative", PathBuf::from("build")),
    ] {
        more.push(Case {
            name: format!("{version}/{name}"),
            srctree: copy.clone(),
            objtree: sub.clone(),
            args: TreeArgs {
                srctree: copy.clone(),
                arch: Some("x86".to_string()),
                objtree: Some(objtree),
                ..TreeArgs::default()
            },
            env: env.clone(),
            kernelrelease: None,
        });
    }
    more.push(Case {
        name: format!("{version}/in-tree"),
        srctree: copy.clone(),
        objtree: copy.clone(),
        args: TreeArgs {
            srctree: copy.clone(),
            arch: Some("x86".to_string()),
            ..TreeArgs::default()
        },
        env: env.clone(),
        kernelrelease: None,
    });
    cases.extend(more);
    Ok(cases)
}

#[test]
#[ignore = "needs the kernel trees of scripts/setup-trees.sh; scripts/test.sh runs it"]
fn resolve_matches_what_make_hands_to_conf() {
    let trees = match std::env::var_os("KTAILOR_TREES") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME or KTAILOR_TREES"))
            .join(".cache/ktailor/trees"),
    };
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string());
    for tool in ["make", "cc", "cp"] {
        assert!(
            which(tool, &path).is_some(),
            "ground_truth needs `{tool}` on PATH"
        );
    }
    // Next to the trees, so that `cp -al` can hard-link them.
    let work = WorkDir(trees.join(format!(
        ".ktailor-kbuild-ground-truth-{}",
        std::process::id()
    )));
    std::fs::create_dir_all(&work.0).expect("create the work directory next to the trees");
    let dumper_src = work.0.join("dumper.c");
    std::fs::write(&dumper_src, DUMPER_C).expect("write dumper.c");
    let dumper = work.0.join("dumper");
    let status = Command::new("cc")
        .arg("-O")
        .arg("-o")
        .arg(&dumper)
        .arg(&dumper_src)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed to build the stand-in conf");

    // KTAILOR_GROUND_TRUTH_FILTER=um runs only the cases whose name contains
    // "um" (for debugging).
    let filter = std::env::var("KTAILOR_GROUND_TRUTH_FILTER").unwrap_or_default();
    // One thread per tree: their object trees are separate, and make spends
    // most of its time waiting for the compiler probes of the Makefiles.
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = ["6.1", "6.12"]
            .into_iter()
            .map(|version| {
                let (trees, work, dumper, path, filter) =
                    (&trees, &work.0, &dumper, &path, &filter);
                scope.spawn(move || {
                    let src = trees.join(format!("linux-source-{version}"));
                    assert!(
                        src.join("Makefile").is_file(),
                        "{} is missing (run scripts/setup-trees.sh)",
                        src.display()
                    );
                    let cases = cases_for(version, &src, work, path).expect("set up the cases");
                    let mut failures = Vec::new();
                    let mut compared = 0;
                    for case in cases.iter().filter(|c| c.name.contains(filter.as_str())) {
                        let diffs = compare(case, dumper);
                        compared += 1;
                        if !diffs.is_empty() {
                            failures.push(format!(
                                "case {}: make {}\n  {}",
                                case.name,
                                make_command_line(case).join(" "),
                                diffs.join("\n  ")
                            ));
                        }
                    }
                    (compared, failures)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a tree's cases panicked"))
            .collect()
    });
    let compared: usize = results.iter().map(|(n, _)| n).sum();
    let failures: Vec<String> = results.into_iter().flat_map(|(_, f)| f).collect();
    assert!(
        failures.is_empty(),
        "{} of {compared} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("ground_truth: {compared} cases match");
}
