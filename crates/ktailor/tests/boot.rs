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

/// A minimal spec: one x86_64 kernel whose tree does not exist (the bad
/// input tests fail before any tree is read).
fn tiny_spec(t: &Tmp, extra: &str) {
    t.write(
        "spec.toml",
        &format!("[kernel.x]\nsource = \"/nonexistent/linux-source-9.9.tar.xz\"\narch = \"x86_64\"\nbase = \"tinyconfig\"\n{extra}"),
    );
}

#[test]
fn efi_without_the_stub_is_an_error() {
    let t = Tmp::new("efi-no-stub");
    tiny_spec(&t, "");
    let o = ktailor(
        &t.0,
        &[
            "efi",
            "spec.toml",
            "--kernel",
            "x",
            "--uki",
            "--stub",
            "/nonexistent/linuxx64.efi.stub",
        ],
        &[],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("cannot read the EFI stub /nonexistent/linuxx64.efi.stub"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("apt-get install systemd-boot-efi"),
        "{}",
        o.stderr
    );
    assert!(!t.0.join("out").exists(), "nothing may be written");
}

#[test]
fn efi_stub_that_is_not_an_efi_application_is_an_error() {
    let t = Tmp::new("efi-bad-stub");
    tiny_spec(&t, "");
    t.write("stub.efi", "#!/bin/sh\n");
    let o = ktailor(
        &t.0,
        &[
            "efi",
            "spec.toml",
            "--kernel",
            "x",
            "--uki",
            "--stub",
            "stub.efi",
        ],
        &[],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("stub.efi is not an EFI application"),
        "{}",
        o.stderr
    );
    assert!(!t.0.join("out").exists(), "nothing may be written");
}

#[test]
fn efi_refuses_a_spec_that_sets_what_it_builds_in() {
    let t = Tmp::new("efi-conflict");
    tiny_spec(&t, "set = { INITRAMFS_SOURCE = \"rootfs.list\" }\n");
    let o = ktailor(&t.0, &["efi", "spec.toml", "--kernel", "x"], &[]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("spec.toml:5:"),
        "file:line expected: {}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("sets CONFIG_INITRAMFS_SOURCE, which ktailor efi sets itself"),
        "{}",
        o.stderr
    );
    assert!(!t.0.join("out").exists(), "nothing may be written");
}

#[test]
fn efi_with_a_missing_tree_is_an_error() {
    let t = Tmp::new("efi-missing-tree");
    tiny_spec(&t, "");
    let o = ktailor(
        &t.0,
        &["efi", "spec.toml", "--kernel", "x", "--esp", "esp.img"],
        &[],
    );
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
    assert!(!t.0.join("esp.img").exists());
}

/// A directory with a stand-in `qemu-system-x86_64` running `script`, and
/// the PATH that finds it first.
fn fake_qemu(t: &Tmp, script: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let q = t.write(
        "fakebin/qemu-system-x86_64",
        &format!("#!/bin/sh\n{script}\n"),
    );
    std::fs::set_permissions(&q, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    format!(
        "{}:{}",
        t.0.join("fakebin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The smallest file that passes for an EFI-stub bzImage: the x86 boot
/// header (0xaa55 at 510, "HdrS", protocol 2.15) and a PE32+ header of an
/// EFI application, no sections.
fn fake_efi_kernel() -> Vec<u8> {
    let mut b = vec![0u8; 5 * 512 + 512];
    b[0..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    b[0x40..0x44].copy_from_slice(b"PE\0\0");
    b[0x44..0x46].copy_from_slice(&0x8664u16.to_le_bytes());
    b[0x54..0x56].copy_from_slice(&240u16.to_le_bytes());
    b[0x58..0x5a].copy_from_slice(&0x20bu16.to_le_bytes());
    b[0x58 + 68..0x58 + 70].copy_from_slice(&10u16.to_le_bytes());
    b[0x1f1] = 4;
    b[0x1fe] = 0x55;
    b[0x1ff] = 0xaa;
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    b
}

/// OVMF stand-ins: a code image (never run: QEMU is a stand-in too) and an
/// empty edk2 variable store, as in Debian's OVMF_VARS.fd.
fn fake_ovmf(t: &Tmp) -> (String, String) {
    t.write("ovmf/CODE.fd", "code");
    let mut v = vec![0u8; 0x4000];
    v[40..44].copy_from_slice(b"_FVH");
    v[48..50].copy_from_slice(&72u16.to_le_bytes());
    v[72..88].copy_from_slice(&[
        0x78, 0x2c, 0xf3, 0xaa, 0x7b, 0x94, 0x9a, 0x43, 0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77,
        0x92,
    ]);
    v[88..92].copy_from_slice(&0x2000u32.to_le_bytes());
    v[92] = 0x5a;
    v[93] = 0xfe;
    v[100..].fill(0xff);
    std::fs::write(t.0.join("ovmf/VARS.fd"), &v).expect("vars");
    (
        t.0.join("ovmf/CODE.fd").display().to_string(),
        t.0.join("ovmf/VARS.fd").display().to_string(),
    )
}

fn boot_efi_args<'a>(code: &'a str, vars: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "boot",
        "spec.toml",
        "--kernel",
        "x",
        "--out",
        "out",
        "--ovmf-code",
        code,
        "--ovmf-vars",
        vars,
        "--accel",
        "tcg",
    ];
    a.extend_from_slice(more);
    a
}

#[test]
fn boot_efi_without_ovmf_is_an_error() {
    let t = Tmp::new("efi-no-ovmf");
    tiny_spec(&t, "");
    let path = fake_qemu(&t, "exit 1");
    let o = ktailor(
        &t.0,
        &boot_efi_args(
            "/nonexistent/OVMF_CODE.fd",
            "/nonexistent/OVMF_VARS.fd",
            &["--efi"],
        ),
        &[("PATH", &path)],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("the OVMF code image /nonexistent/OVMF_CODE.fd does not exist"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("apt-get install ovmf"), "{}", o.stderr);
    assert!(!t.0.join("out").exists(), "nothing may be written");
}

#[test]
fn boot_efi_without_the_efi_file_is_an_error() {
    let t = Tmp::new("efi-no-file");
    tiny_spec(&t, "");
    let path = fake_qemu(&t, "exit 1");
    let (code, vars) = fake_ovmf(&t);
    let o = ktailor(
        &t.0,
        &boot_efi_args(&code, &vars, &["--uki"]),
        &[("PATH", &path)],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("cannot read out/x/uki.efi"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("hint: write it first: ktailor efi spec.toml --kernel x --out out --uki"),
        "{}",
        o.stderr
    );
}

#[test]
fn boot_efi_rejects_corrupt_images() {
    let t = Tmp::new("efi-corrupt");
    tiny_spec(&t, "");
    let path = fake_qemu(&t, "exit 1");
    let (code, vars) = fake_ovmf(&t);
    t.write("out/x/linux.efi", "garbage");
    let o = ktailor(
        &t.0,
        &boot_efi_args(&code, &vars, &["--efi"]),
        &[("PATH", &path)],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("out/x/linux.efi: 7 bytes is too short"),
        "{}",
        o.stderr
    );
    // A bzImage without the PE header: built without the EFI stub.
    let mut k = fake_efi_kernel();
    k[0..2].copy_from_slice(b"\0\0");
    std::fs::write(t.0.join("out/x/linux.efi"), &k).expect("write");
    let o = ktailor(
        &t.0,
        &boot_efi_args(&code, &vars, &["--efi"]),
        &[("PATH", &path)],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("built without CONFIG_EFI_STUB"),
        "{}",
        o.stderr
    );
    // An EFI application that is not a UKI.
    std::fs::write(t.0.join("out/x/uki.efi"), fake_efi_kernel()).expect("write");
    let o = ktailor(
        &t.0,
        &boot_efi_args(&code, &vars, &["--uki"]),
        &[("PATH", &path)],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("out/x/uki.efi is not a UKI (no .linux section)"),
        "{}",
        o.stderr
    );
    assert!(!t.0.join("out/x/boot").exists(), "nothing booted");
}

#[test]
fn boot_efi_timeout_is_an_error() {
    let t = Tmp::new("efi-timeout");
    tiny_spec(&t, "");
    // A guest that never prints anything.
    let path = fake_qemu(&t, "exec sleep 60");
    let (code, vars) = fake_ovmf(&t);
    let template = std::fs::read(&vars).expect("vars");
    std::fs::create_dir_all(t.0.join("out/x")).expect("dir");
    std::fs::write(t.0.join("out/x/linux.efi"), fake_efi_kernel()).expect("write");
    let o = ktailor(
        &t.0,
        &boot_efi_args(&code, &vars, &["--efi", "--timeout", "2"]),
        &[("PATH", &path)],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("the guest did not finish within 2 s"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("hint: raise --timeout"), "{}", o.stderr);
    // What the boot prepared: the ESP image and a boot entry in a copy of
    // the variable store; the template itself is untouched.
    assert!(t.0.join("out/x/boot/esp.img").is_file());
    let copy = std::fs::read(t.0.join("out/x/boot/ovmf-vars.fd")).expect("vars copy");
    let vars_now = ktailor_build::ovmf::variables(&copy).expect("store");
    let entry = vars_now
        .iter()
        .find(|v| v.name == "Boot0001")
        .expect("Boot0001");
    let text = String::from_utf16_lossy(
        &entry
            .data
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect::<Vec<_>>(),
    );
    assert!(text.contains("\\EFI\\BOOT\\BOOTX64.EFI"), "{text}");
    assert!(text.contains("ktailor.checks=blk,9p,net,config"), "{text}");
    assert_eq!(std::fs::read(&vars).expect("vars"), template);
}

#[test]
fn boot_efi_qemu_failure_is_an_error() {
    let t = Tmp::new("efi-qemu-fails");
    tiny_spec(&t, "");
    let path = fake_qemu(&t, "echo 'qemu: cannot open pflash' >&2; exit 1");
    let (code, vars) = fake_ovmf(&t);
    std::fs::create_dir_all(t.0.join("out/x")).expect("dir");
    std::fs::write(t.0.join("out/x/linux.efi"), fake_efi_kernel()).expect("write");
    let o = ktailor(
        &t.0,
        &boot_efi_args(&code, &vars, &["--efi"]),
        &[("PATH", &path)],
    );
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("before the guest printed anything"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("qemu: cannot open pflash"),
        "{}",
        o.stderr
    );
}

#[test]
fn inspect_shows_an_efi_applications_sections() {
    let t = Tmp::new("inspect-pe");
    let mut k = fake_efi_kernel();
    // Not a bzImage any more: only the PE/COFF header is left.
    k[0x1fe] = 0;
    std::fs::write(t.0.join("app.efi"), &k).expect("write");
    let o = ktailor(&t.0, &["inspect", "app.efi"], &[]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout
            .contains("PE32+ machine 0x8664 (x86-64), subsystem 10 (EFI application)"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("UKI              no (no .linux section)"),
        "{}",
        o.stdout
    );
}

/// The kernel builds and boots run one at a time: two builds at once on a
/// small machine only make both slow, and boot times meaningless.
fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the slow tests build; kept between runs so the next one builds
/// incrementally.
fn boot_test_out() -> PathBuf {
    let out = std::env::var_os("KTAILOR_BOOT_TEST_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("ktailor-boot-test"));
    std::fs::create_dir_all(&out).expect("out dir");
    out
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
    let _one_at_a_time = heavy();
    assert!(
        ktailor_build::qemu::find_program("qemu-system-x86_64").is_some(),
        "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
    );
    let init = static_init();
    let out = boot_test_out();
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

#[test]
#[ignore = "needs Debian's linux-source-6.12 (scripts/setup-trees.sh): run by scripts/test.sh"]
fn efi_request_that_cannot_hold_fails_the_gate() {
    let t = Tmp::new("efi-gate");
    t.write(
        "spec.toml",
        "[kernel.noacpi]\nsource = \"/usr/src/linux-source-6.12.tar.xz\"\narch = \"x86_64\"\nbase = \"tinyconfig\"\nunset = [\"ACPI\"]\n",
    );
    let o = ktailor(
        &t.0,
        &["efi", "spec.toml", "--kernel", "noacpi", "--out", "out"],
        &[],
    );
    assert_eq!(o.code, 1, "a request that cannot hold fails the gate");
    assert!(
        o.stderr.contains("FAIL CONFIG_EFI: requested y, got n; asked by feature 'efi-stub' (named at ktailor efi for spec.toml:1:"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("depends on ACPI [=n]"), "{}", o.stderr);
    assert!(!t.0.join("out/noacpi/.config").exists(), "nothing written");
}

/// Reads a file out of a FAT image with mtools (not with ktailor's code).
fn mtools_read(image: &Path, path: &str) -> Vec<u8> {
    let o = Command::new("mtype")
        .arg("-i")
        .arg(image)
        .arg(format!("::{path}"))
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .expect("mtype (apt-get install mtools)");
    assert!(
        o.status.success(),
        "mtype {path}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

#[test]
#[ignore = "builds a kernel and boots it under OVMF: run by scripts/test.sh"]
fn sandbox_efi_boots_under_ovmf() {
    let _one_at_a_time = heavy();
    assert!(
        ktailor_build::qemu::find_program("qemu-system-x86_64").is_some(),
        "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
    );
    if let Err(e) = ktailor_build::ovmf::find(None, None) {
        panic!("{}: apt-get install ovmf", e.message);
    }
    assert!(
        Path::new(ktailor_build::efi::DEFAULT_STUB).is_file(),
        "systemd's stub is not installed (apt-get install systemd-boot-efi)"
    );
    let init = static_init();
    let init_s = init.display().to_string();
    let out = boot_test_out();
    let out_s = out.display().to_string();
    let spec_s = workspace_root()
        .join("examples/qemu-sandbox.toml")
        .display()
        .to_string();
    let dir = workspace_root();
    let k = "sandbox-efi";
    let kdir = out.join(k);
    let cmdline = "console=ttyS0 ktailor.share=hostshare";
    let boot = |how: &str| {
        ktailor(
            &dir,
            &[
                "boot",
                &spec_s,
                "--kernel",
                k,
                "--out",
                &out_s,
                how,
                "--accel",
                "tcg",
                "--checks",
                "blk,9p,net,config",
                "--timeout",
                "600",
            ],
            &[],
        )
    };

    // (a) The kernel's own EFI stub, initramfs and command line built in.
    let esp = out.join("sandbox-efi.esp.img");
    let esp_s = esp.display().to_string();
    let e = ktailor(
        &dir,
        &[
            "efi",
            &spec_s,
            "--kernel",
            k,
            "--out",
            &out_s,
            "--init",
            &init_s,
            "--cmdline",
            cmdline,
            "--esp",
            &esp_s,
            "-j2",
        ],
        &[],
    );
    assert_eq!(e.code, 0, "ktailor efi failed");
    let efi = kdir.join("linux.efi");
    assert!(
        e.stdout.contains(&format!("efi {k}: {}", efi.display())),
        "{}",
        e.stdout
    );
    let config = std::fs::read_to_string(kdir.join(".config")).expect(".config");
    for line in [
        "CONFIG_EFI_STUB=y",
        "CONFIG_CMDLINE_BOOL=y",
        &format!("CONFIG_CMDLINE=\"{cmdline}\""),
        "CONFIG_INITRAMFS_SOURCE=\"initramfs.cpio.gz\"",
        "CONFIG_IKCONFIG_PROC=y",
    ] {
        assert!(
            config.lines().any(|l| l == line),
            "{line} missing from .config"
        );
    }
    let bytes = std::fs::read(&efi).expect("linux.efi");
    let img = ktailor_build::efi::check_efi_kernel(&bytes).expect("an EFI-stub kernel");
    assert!(
        img.setup.kernel_version.starts_with("6.12"),
        "{}",
        img.setup.kernel_version
    );
    // The ESP as other tools see it.
    let fsck = Command::new("fsck.fat")
        .arg("-n")
        .arg(&esp)
        .output()
        .expect("fsck.fat (apt-get install dosfstools)");
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    assert!(
        mtools_read(&esp, "EFI/BOOT/BOOTX64.EFI") == bytes,
        "the ESP holds another file"
    );

    let o = boot("--efi");
    assert_eq!(o.code, 0, "EFI boot checks failed");
    for c in ["blk", "9p", "net", "config"] {
        assert!(o.stdout.contains(&format!("PASS {c}")), "{c}: {}", o.stdout);
    }
    assert!(o.stdout.contains("with UEFI firmware"), "{}", o.stdout);
    assert!(o.stdout.contains("init     reached after"), "{}", o.stdout);
    // The built-in command line comes first; the boot entry's follows.
    assert!(
        o.stdout.contains(&format!(
            "cmdline  {cmdline} console=ttyS0 panic=-1 ktailor.checks="
        )),
        "{}",
        o.stdout
    );

    // (b) A UKI: systemd's stub with the kernel, initramfs, command line
    // and os-release as sections; the kernel has none of them built in.
    let e = ktailor(
        &dir,
        &[
            "efi",
            &spec_s,
            "--kernel",
            k,
            "--out",
            &out_s,
            "--init",
            &init_s,
            "--cmdline",
            cmdline,
            "--uki",
            "-j2",
        ],
        &[],
    );
    assert_eq!(e.code, 0, "ktailor efi --uki failed");
    let config = std::fs::read_to_string(kdir.join(".config")).expect(".config");
    assert!(
        config.lines().any(|l| l == "CONFIG_INITRAMFS_SOURCE=\"\""),
        "built-in initramfs left"
    );
    assert!(config
        .lines()
        .any(|l| l == "# CONFIG_CMDLINE_BOOL is not set"));
    let uki = kdir.join("uki.efi");
    let uki_s = uki.display().to_string();
    // binutils reads the sections ktailor added.
    let objdump = Command::new("objdump")
        .arg("-h")
        .arg(&uki)
        .output()
        .expect("objdump (apt-get install binutils)");
    let sections = String::from_utf8_lossy(&objdump.stdout);
    assert!(objdump.status.success(), "{sections}");
    for s in [".osrel", ".cmdline", ".initrd", ".linux", ".sdmagic"] {
        assert!(
            sections.contains(&format!(" {s} ")),
            "{s} missing: {sections}"
        );
    }
    let i = ktailor(&dir, &["inspect", &uki_s], &[]);
    assert_eq!(i.code, 0);
    assert!(i.stdout.contains("UKI              yes"), "{}", i.stdout);
    assert!(
        i.stdout.contains(&format!(".cmdline       {cmdline}")),
        "{}",
        i.stdout
    );
    assert!(
        i.stdout.contains(".linux         Linux 6.12"),
        "{}",
        i.stdout
    );
    let o = boot("--uki");
    assert_eq!(o.code, 0, "UKI boot checks failed");
    for c in ["blk", "9p", "net", "config"] {
        assert!(o.stdout.contains(&format!("PASS {c}")), "{c}: {}", o.stdout);
    }
    // systemd's stub hands the kernel the boot entry's options, which start
    // with the UKI's .cmdline.
    assert!(
        o.stdout.contains(&format!(
            "cmdline  {cmdline} console=ttyS0 panic=-1 ktailor.checks="
        )),
        "{}",
        o.stdout
    );
}
