//! Build, package and boot: `ktailor build`, `initramfs`, `boot`,
//! `inspect`.
//!
//! The fast tests feed bad input (a missing tree, a corrupt image, no QEMU
//! in PATH) and expect exit 2 with a clear message. The slow one builds the
//! qemu-sandbox example's `sandbox` kernel on Debian's 6.12 source and
//! boots it under QEMU; it fails, never skips, when the tree or QEMU is
//! missing. Its output directory is kept between runs
//! ($KTAILOR_BOOT_TEST_OUT, default $TMPDIR/ktailor-boot-test), so a second
//! run is an incremental build.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{Out, Tmp};

/// Runs ktailor with the user's cache (the source tarball is unpacked there).
fn ktailor(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    common::run(dir, args, env, None)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn build_with_a_missing_tree_is_an_error() {
    let t = Tmp::new("missing-tree");
    std::fs::write(
        t.0.join("spec.toml"),
        "[kernel.x]\nsource = \"/nonexistent/linux-source-9.9.tar.xz\"\narch = \"x86_64\"\nbase = \"tinyconfig\"\n",
    )
    .expect("write spec");
    let o = ktailor(&t.0, &["build", "spec.toml", "--out", "out"], &[]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("/nonexistent/linux-source-9.9.tar.xz"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("spec.toml:"),
        "file:line expected: {}",
        o.stderr
    );
    assert!(
        !t.0.join("out/x/build.log").exists(),
        "make must not have run"
    );
}

#[test]
fn build_with_an_unknown_kernel_is_an_error() {
    let t = Tmp::new("unknown-kernel");
    std::fs::write(
        t.0.join("spec.toml"),
        "[kernel.x]\nsource = \"/nonexistent\"\n",
    )
    .expect("write spec");
    let o = ktailor(&t.0, &["build", "spec.toml", "--kernel", "y"], &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("has no kernel 'y'"), "{}", o.stderr);
    assert!(
        o.stderr.contains("hint: kernels in the spec: x"),
        "{}",
        o.stderr
    );
}

#[test]
fn inspect_rejects_corrupt_images() {
    let t = Tmp::new("corrupt");
    std::fs::write(t.0.join("short"), b"MZ\x00\x01").expect("write");
    let o = ktailor(&t.0, &["inspect", "short"], &[]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("error: short: 4 bytes is too short for a bzImage"),
        "{}",
        o.stderr
    );
    std::fs::write(t.0.join("zeros"), vec![0u8; 4096]).expect("write");
    let o = ktailor(&t.0, &["inspect", "zeros"], &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("expected 0xaa55"), "{}", o.stderr);
    let o = ktailor(&t.0, &["inspect", "absent"], &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("cannot read absent"), "{}", o.stderr);
}

#[test]
fn boot_without_qemu_in_path_is_an_error() {
    let t = Tmp::new("no-qemu");
    std::fs::write(
        t.0.join("spec.toml"),
        "[kernel.x]\nsource = \"/nonexistent\"\narch = \"x86_64\"\n",
    )
    .expect("write spec");
    let o = ktailor(
        &t.0,
        &["boot", "spec.toml", "--kernel", "x", "--out", "out"],
        &[("PATH", "/nonexistent")],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("cannot find qemu-system-x86_64 in PATH"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("apt-get install qemu-system-x86"),
        "{}",
        o.stderr
    );
    assert!(!t.0.join("out").exists(), "nothing may be written");
}

#[test]
fn boot_without_an_image_is_an_error() {
    if ktailor_build::qemu::find_program("qemu-system-x86_64").is_none() {
        // The missing-QEMU error comes first; covered above.
        return;
    }
    let t = Tmp::new("no-image");
    std::fs::write(
        t.0.join("spec.toml"),
        "[kernel.x]\nsource = \"/nonexistent\"\narch = \"x86_64\"\n",
    )
    .expect("write spec");
    let o = ktailor(
        &t.0,
        &["boot", "spec.toml", "--kernel", "x", "--out", "out"],
        &[],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("no kernel image at out/x/bzImage"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("hint: build it first: ktailor build"),
        "{}",
        o.stderr
    );
}

/// Builds ktailor-init as a static binary (a nested cargo: the workspace
/// build links it dynamically, and an initramfs has no libraries).
fn static_init() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ktailor"));
    let target = bin
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("static-init"))
        .expect("target dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let triple = "x86_64-unknown-linux-gnu";
    let st = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--offline",
            "-p",
            "ktailor-init",
            "--target",
            triple,
        ])
        .env("CARGO_TARGET_DIR", &target)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .current_dir(workspace_root())
        .status()
        .expect("run cargo");
    assert!(st.success(), "building the static ktailor-init failed");
    target.join(triple).join("release/ktailor-init")
}

#[test]
#[ignore = "builds and boots a kernel: run by scripts/test.sh"]
fn sandbox_builds_and_boots() {
    assert!(
        ktailor_build::qemu::find_program("qemu-system-x86_64").is_some(),
        "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
    );
    let init = static_init();
    let out = std::env::var_os("KTAILOR_BOOT_TEST_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("ktailor-boot-test"));
    std::fs::create_dir_all(&out).expect("out dir");
    let out_s = out.display().to_string();
    let spec = workspace_root().join("examples/qemu-sandbox.toml");
    let spec_s = spec.display().to_string();
    let dir = workspace_root();

    // Build (fails with the generate/make error if the tree is missing).
    let b = ktailor(
        &dir,
        &[
            "build", &spec_s, "--kernel", "sandbox", "--out", &out_s, "-j2",
        ],
        &[],
    );
    assert_eq!(b.code, 0, "build failed");
    assert!(
        b.stdout.contains("kernel sandbox: Linux 6.12 ARCH=x86_64"),
        "{}",
        b.stdout
    );
    let image = out.join("sandbox/bzImage");
    assert!(
        b.stdout.contains(&format!("image    {}", image.display())),
        "{}",
        b.stdout
    );

    // Nothing changed: make compiles nothing and .config keeps its mtime.
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let cfg = out.join("sandbox/.config");
    let before = mtime(&cfg);
    let b2 = ktailor(
        &dir,
        &[
            "build", &spec_s, "--kernel", "sandbox", "--out", &out_s, "-j2",
        ],
        &[],
    );
    assert_eq!(b2.code, 0);
    assert!(b2.stdout.contains("nothing recompiled"), "{}", b2.stdout);
    assert_eq!(before, mtime(&cfg), ".config was rewritten");

    // The header of the real image.
    let bytes = std::fs::read(&image).expect("image");
    let img = ktailor_build::bzimage::parse(&bytes).expect("parse bzImage");
    assert!(
        img.setup.kernel_version.starts_with("6.12"),
        "{}",
        img.setup.kernel_version
    );
    assert!(img.setup.protocol >= 0x020f);
    assert_eq!(img.size, bytes.len() as u64);
    let i = ktailor(&dir, &["inspect", &image.display().to_string()], &[]);
    assert_eq!(i.code, 0);
    assert!(i.stdout.contains("version          6.12"), "{}", i.stdout);

    // The initramfs, read back with our reader.
    let init_s = init.display().to_string();
    let r = ktailor(
        &dir,
        &[
            "initramfs",
            &spec_s,
            "--kernel",
            "sandbox",
            "--out",
            &out_s,
            "--init",
            &init_s,
            "--list",
        ],
        &[],
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("c 0600 5,1 /dev/console"), "{}", r.stdout);
    let gz = std::fs::read(out.join("sandbox/initramfs.cpio.gz")).expect("initramfs");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw)
        .expect("gunzip");
    let members = ktailor_build::cpio::read(&raw).expect("cpio");
    let config = std::fs::read(&cfg).expect(".config");
    assert!(members
        .iter()
        .any(|e| e.name == "ktailor/config" && e.data == config));

    // Boot under TCG: the devices the sandbox is for.
    let o = ktailor(
        &dir,
        &[
            "boot",
            &spec_s,
            "--kernel",
            "sandbox",
            "--out",
            &out_s,
            "--init",
            &init_s,
            "--accel",
            "tcg",
            "--checks",
            "blk,9p,net",
            "--timeout",
            "600",
        ],
        &[],
    );
    assert_eq!(o.code, 0, "boot checks failed");
    for c in ["blk", "9p", "net"] {
        assert!(o.stdout.contains(&format!("PASS {c}")), "{c}: {}", o.stdout);
    }
    assert!(o.stdout.contains("init     reached after"), "{}", o.stdout);

    // The config check, with KVM if it works here: the sandbox spec asks for
    // CONFIG_IKCONFIG_PROC, so /proc/config.gz must equal the generated file.
    assert!(
        String::from_utf8_lossy(&config).contains("\nCONFIG_IKCONFIG_PROC=y\n"),
        "the sandbox example must carry its configuration"
    );
    let o = ktailor(
        &dir,
        &[
            "boot",
            &spec_s,
            "--kernel",
            "sandbox",
            "--out",
            &out_s,
            "--init",
            &init_s,
            "--accel",
            "auto",
            "--checks",
            "config",
            "--timeout",
            "600",
        ],
        &[],
    );
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("PASS config"), "{}", o.stdout);
}
