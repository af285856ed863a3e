//! Specs on real trees: every feature of the library generates (passes the
//! gate) wherever it claims to apply, and every shipped example generates
//! on 6.12 into a configuration that the kernel's own `make olddefconfig`
//! leaves byte-identical.
//!
//! Both need the kernel trees and Debian's packages that
//! scripts/setup-trees.sh installs, so they are `#[ignore]`d in a plain
//! `cargo test`; scripts/test.sh runs them with `--include-ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn trees() -> PathBuf {
    match std::env::var_os("KTAILOR_TREES") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/ktailor/trees"),
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ktailor-specs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn ktailor(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_ktailor"))
        .args(args)
        .output()
        .expect("run ktailor");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `ktailor generate SPEC --out OUT [extra...]`.
fn generate(spec: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "generate",
        spec.to_str().expect("path"),
        "--out",
        out.to_str().expect("path"),
    ];
    args.extend_from_slice(extra);
    ktailor(&args)
}

/// Values a feature expects the spec to provide (documented in the
/// feature's description).
const PARAMETERS: &[(&str, &str)] = &[(
    "initramfs-builtin",
    "set = { INITRAMFS_SOURCE = \"initramfs.list\" }",
)];

#[test]
#[ignore = "needs the kernel trees of scripts/setup-trees.sh; scripts/test.sh runs it"]
fn every_feature_generates_wherever_it_claims_to_apply() {
    let (code, out, err) = ktailor(&["features", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    let names: Vec<String> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect();
    assert!(
        names.len() >= 70,
        "the library has {} features",
        names.len()
    );
    // (tree, ARCH, CROSS_COMPILE): x86_64 on both versions, arm64 on 6.12
    // with an arm64 toolchain (Kconfig probes the assembler).
    let targets = [
        ("6.12", "x86_64", ""),
        ("6.12", "arm64", "aarch64-linux-gnu-"),
        ("6.1", "x86_64", ""),
    ];
    let dir = tmpdir("features");
    let mut failures = Vec::new();
    let mut generated = 0;
    for (ver, arch, cross) in targets {
        // One spec per target, one kernel per (feature, base) that applies.
        let mut spec = String::new();
        for name in &names {
            let (_, show, _) = ktailor(&["features", "show", name, "--format", "json"]);
            let f: serde_json::Value = serde_json::from_str(&show).expect("json");
            let arch_ok = match f["arches"].as_array() {
                None => true,
                Some(a) => a.iter().any(|x| x.as_str() == Some(arch)),
            };
            let kernels = f["kernels"].as_str().unwrap_or("");
            let ver_ok = kernels.is_empty() || version_matches(kernels, ver);
            if !arch_ok || !ver_ok {
                continue;
            }
            for base in ["tinyconfig", "defconfig"] {
                spec.push_str(&format!(
                    "[kernel.{name}-{base}]\nsource = \"{}\"\narch = \"{arch}\"\nbase = \"{base}\"\nfeatures = [\"{name}\"]\n",
                    trees().join(format!("linux-source-{ver}")).display()
                ));
                if !cross.is_empty() {
                    spec.push_str(&format!("cross-compile = \"{cross}\"\n"));
                }
                if let Some((_, p)) = PARAMETERS.iter().find(|(n, _)| n == name) {
                    spec.push_str(p);
                    spec.push('\n');
                }
                spec.push('\n');
                generated += 1;
            }
        }
        let path = dir.join(format!("features-{ver}-{arch}.toml"));
        std::fs::write(&path, &spec).expect("write spec");
        let out_dir = dir.join(format!("out-{ver}-{arch}"));
        let (code, out, err) = generate(&path, &out_dir, &["--format", "json"]);
        let results: serde_json::Value =
            serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
        for r in results.as_array().map(|a| a.as_slice()).unwrap_or(&[]) {
            if r["passed"] != serde_json::Value::Bool(true) {
                failures.push(format!("{ver} {arch} {}: {}", r["kernel"], r));
            }
        }
        if code != 0 && failures.is_empty() {
            failures.push(format!("{ver} {arch}: exit {code}\n{err}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {generated} feature kernels failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn version_matches(constraint: &str, ver: &str) -> bool {
    let parse = |s: &str| -> (u32, u32) {
        let mut it = s.trim().split('.');
        (
            it.next().and_then(|x| x.parse().ok()).unwrap_or(0),
            it.next().and_then(|x| x.parse().ok()).unwrap_or(0),
        )
    };
    let v = parse(ver);
    constraint.split(',').all(|c| {
        let c = c.trim();
        if let Some(x) = c.strip_prefix(">=") {
            v >= parse(x)
        } else if let Some(x) = c.strip_prefix("<=") {
            v <= parse(x)
        } else if let Some(x) = c.strip_prefix('>') {
            v > parse(x)
        } else if let Some(x) = c.strip_prefix('<') {
            v < parse(x)
        } else {
            v == parse(c.trim_start_matches('='))
        }
    })
}

#[test]
#[ignore = "needs the kernel trees of scripts/setup-trees.sh; scripts/test.sh runs it"]
fn examples_generate_and_are_fixed_points_of_make_olddefconfig() {
    let src = trees().join("linux-source-6.12");
    let dir = tmpdir("examples");
    let mut checked = 0;
    for ex in ["qemu-sandbox", "fortros", "stal-ix", "edge-rt"] {
        let spec = repo().join("examples").join(format!("{ex}.toml"));
        let out_dir = dir.join(ex);
        let (code, out, err) = generate(&spec, &out_dir, &[]);
        assert_eq!(code, 0, "example {ex} failed the gate:\n{out}\n{err}");
        for entry in std::fs::read_dir(&out_dir).expect("out dir") {
            let kdir = entry.expect("entry").path();
            let config = kdir.join(".config");
            if !config.is_file() {
                continue;
            }
            let generated = std::fs::read(&config).expect("read");
            let copy = dir.join(format!(
                "{ex}-{}.config",
                kdir.file_name().expect("name").to_string_lossy()
            ));
            std::fs::write(&copy, &generated).expect("write");
            let obj = dir.join("make-obj");
            let st = Command::new("make")
                .arg("-s")
                .arg("-C")
                .arg(&src)
                .arg(format!("O={}", obj.display()))
                .arg("ARCH=x86_64")
                .arg(format!("KCONFIG_CONFIG={}", copy.display()))
                .arg("olddefconfig")
                .status()
                .expect("run make");
            assert!(
                st.success(),
                "make olddefconfig failed on {}",
                copy.display()
            );
            let after = std::fs::read(&copy).expect("read");
            assert!(
                after == generated,
                "{ex}/{}: make olddefconfig changed the generated config",
                kdir.display()
            );
            checked += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(checked >= 7, "only {checked} example kernels were checked");
}

/// The files under `dir` (relative paths, sorted).
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).expect("prefix").display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `ktailor generate` writes, next to .config, what the kernel's own `make
/// syncconfig` writes from it (so a build neither compiles nor runs the C
/// conf): the same files under include/, byte for byte, on both trees,
/// from tinyconfig and from a distribution config.
#[test]
#[ignore = "needs the kernel trees of scripts/setup-trees.sh; scripts/test.sh runs it"]
fn generate_writes_what_make_syncconfig_writes() {
    let dir = tmpdir("syncconfig");
    let mut checked = 0;
    for ver in ["6.12", "6.1"] {
        let src = trees().join(format!("linux-source-{ver}"));
        let distro = trees().join(format!("configs/{ver}/config.amd64_none_cloud-amd64"));
        let spec = dir.join(format!("sync-{ver}.toml"));
        std::fs::write(
            &spec,
            format!(
                "[defaults]\nsource = \"{}\"\narch = \"x86_64\"\n\n\
                 [kernel.tiny]\nbase = \"tinyconfig\"\nfeatures = [\"virtio-blk\", \"ext4\", \"serial-console\"]\n\n\
                 [kernel.distro]\nbase = \"{}\"\nfeatures = [\"9p\"]\n",
                src.display(),
                distro.display()
            ),
        )
        .expect("write spec");
        let out = dir.join(format!("out-{ver}"));
        let (code, o, e) = generate(&spec, &out, &[]);
        assert_eq!(code, 0, "{ver}: generate failed:\n{o}\n{e}");
        for kernel in ["tiny", "distro"] {
            let ours = out.join(kernel);
            let theirs = dir.join(format!("make-{ver}-{kernel}"));
            std::fs::create_dir_all(&theirs).expect("mkdir");
            std::fs::copy(ours.join(".config"), theirs.join(".config")).expect("copy");
            let st = Command::new("make")
                .arg("-s")
                .arg("-C")
                .arg(&src)
                .arg(format!("O={}", theirs.display()))
                .arg("ARCH=x86_64")
                .arg("syncconfig")
                .status()
                .expect("run make");
            assert!(st.success(), "{ver}/{kernel}: make syncconfig failed");
            let what = format!("{ver}/{kernel}");
            assert_eq!(
                std::fs::read(theirs.join(".config")).expect("read"),
                std::fs::read(ours.join(".config")).expect("read"),
                "{what}: syncconfig changed .config"
            );
            let (a, b) = (theirs.join("include"), ours.join("include"));
            let list = files_under(&a);
            let ours_list = files_under(&b);
            let only = |x: &[String], y: &[String]| -> Vec<String> {
                x.iter().filter(|f| !y.contains(f)).cloned().collect()
            };
            assert!(
                list == ours_list,
                "{what}: files under include/ only make wrote: {:?}; only ktailor wrote: {:?}",
                only(&list, &ours_list),
                only(&ours_list, &list)
            );
            assert!(
                list.iter().any(|f| f == "generated/autoconf.h"),
                "{what}: {list:?}"
            );
            assert!(list.len() > 100, "{what}: only {} files", list.len());
            for f in &list {
                assert!(
                    std::fs::read(a.join(f)).expect("read")
                        == std::fs::read(b.join(f)).expect("read"),
                    "{what}: include/{f} differs from what make syncconfig writes"
                );
            }
            // make decides by time: auto.conf must not be older than .config.
            let mtime = |p: PathBuf| {
                std::fs::metadata(p)
                    .and_then(|m| m.modified())
                    .expect("mtime")
            };
            assert!(
                mtime(b.join("config/auto.conf")) >= mtime(ours.join(".config")),
                "{what}"
            );
            checked += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(checked, 4);
}

#[test]
#[ignore = "needs the kernel trees of scripts/setup-trees.sh; scripts/test.sh runs it"]
fn upgrade_with_a_spec_names_requests_that_vanished_or_no_longer_hold() {
    let dir = tmpdir("upgrade-spec");
    // A 6.1 kernel that asks for SLOB (gone in 6.12) and for virtio-net
    // built in (Debian's config has it as a module).
    let spec = dir.join("old.toml");
    std::fs::write(
        &spec,
        format!(
            "[kernel.old]\nsource = \"{}\"\narch = \"x86_64\"\nbase = \"defconfig\"\nfeatures = [\"virtio-net\"]\nset = {{ SLOB = {{ value = \"y\", why = \"the small allocator\" }} }}\n",
            trees().join("linux-source-6.1").display()
        ),
    )
    .expect("write spec");
    let old = dir.join("old.config");
    std::fs::write(
        &old,
        std::fs::read(trees().join("configs/6.1/config.amd64_none_cloud-amd64")).expect("config"),
    )
    .expect("write config");
    let new_tree = trees().join("linux-source-6.12");
    let obj = dir.join("obj");
    let (code, out, err) = ktailor(&[
        "upgrade",
        old.to_str().expect("path"),
        "-C",
        new_tree.to_str().expect("path"),
        "--arch",
        "x86",
        "-O",
        obj.to_str().expect("path"),
        "--dry-run",
        "--spec",
        spec.to_str().expect("path"),
    ]);
    assert_eq!(code, 1, "a required request fails:\n{out}\n{err}");
    assert!(
        out.contains("CONFIG_SLOB=y does not exist in the new tree"),
        "{out}"
    );
    assert!(out.contains(":6:"), "the spec line that asked: {out}");
    assert!(
        out.contains("CONFIG_VIRTIO_NET=y is m  — asked by feature 'virtio-net'"),
        "{out}"
    );
    assert!(
        out.contains("2 request(s), 1 no longer exist, 1 no longer hold"),
        "{out}"
    );
    assert!(!obj.join(".config").exists(), "--dry-run writes nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small tree where hiding EXPERT would be the cheapest way to WANT
/// (one changed input instead of three), but it would also flip SHOWN,
/// which an optional request keeps off.
const OPTIONAL_TREE: &str = r#"mainmenu "Test"
config EXPERT
	bool "expert"
config SHOWN
	bool "shown" if EXPERT
	default y
config WANT
	bool "want"
	depends on INPUT && BLOCK && SHMEM
config INPUT
	bool "input" if EXPERT
	default y
config BLOCK
	bool "block" if EXPERT
	default y
config SHMEM
	bool "shmem" if EXPERT
	default y
"#;

#[test]
fn a_plan_keeps_optional_requests_that_hold_with_the_requests_alone() {
    let dir = tmpdir("optional");
    std::fs::write(dir.join("Makefile"), "VERSION = 6\nPATCHLEVEL = 12\n").expect("write");
    std::fs::write(dir.join("Kconfig"), OPTIONAL_TREE).expect("write");
    std::fs::write(
        dir.join("base.config"),
        "CONFIG_EXPERT=y\n# CONFIG_SHOWN is not set\n# CONFIG_INPUT is not set\n# CONFIG_BLOCK is not set\n# CONFIG_SHMEM is not set\n",
    )
    .expect("write");
    let spec = |set: &str| {
        format!(
            "[kernel.k]\nsource = \"{0}\"\narch = \"x86_64\"\nbase = \"{0}/base.config\"\nset = {{ {set} }}\n",
            dir.display()
        )
    };
    let generate_config = |text: String| {
        let path = dir.join("spec.toml");
        std::fs::write(&path, text).expect("write");
        let out = dir.join("out");
        let (code, stdout, err) = generate(&path, &out, &[]);
        assert_eq!(code, 0, "{stdout}{err}");
        std::fs::read_to_string(out.join("k/.config")).expect("config")
    };
    // Alone, WANT is cheapest with EXPERT off (SHOWN follows its default).
    let config = generate_config(spec("WANT = \"y\""));
    assert!(config.contains("# CONFIG_EXPERT is not set"), "{config}");
    // SHOWN=n holds with the requests alone, so the plan may not break it.
    let config = generate_config(spec(
        "WANT = \"y\", SHOWN = { value = \"n\", optional = true }",
    ));
    for line in [
        "CONFIG_EXPERT=y",
        "# CONFIG_SHOWN is not set",
        "CONFIG_WANT=y",
        "CONFIG_INPUT=y",
        "CONFIG_BLOCK=y",
        "CONFIG_SHMEM=y",
    ] {
        assert!(config.lines().any(|l| l == line), "{line} in\n{config}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
