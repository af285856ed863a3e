//! The test initramfs: a gzip-compressed newc archive holding
//!
//! ```text
//! /init               the ktailor-init binary (static)
//! /proc /sys /dev /mnt  mount points
//! /dev/console        char 5:1, so the kernel can give init a console
//!                     before devtmpfs is mounted
//! /ktailor/config     the generated .config (for the `config` check)
//! /bin/busybox, /bin/sh -> busybox   only with --busybox
//! ```
//!
//! The kernel must be able to unpack it: CONFIG_BLK_DEV_INITRD=y and
//! CONFIG_RD_GZIP=y are checked against the kernel's configuration first.
//! The init and busybox must be static executables for the kernel's
//! architecture (the archive carries no libraries); that is checked in
//! their ELF headers.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use ktailor_kconfig::Diagnostic;

use crate::cpio::{self, Entry};
use crate::err;
use crate::kernel::config_value;

/// The init's file name, next to the `ktailor` executable by default.
pub const INIT_NAME: &str = "ktailor-init";
/// Environment variable naming the init binary.
pub const INIT_ENV: &str = "KTAILOR_INIT";
/// Where Debian's busybox-static installs busybox.
pub const DEFAULT_BUSYBOX: &str = "/bin/busybox";

/// What goes into the archive besides the fixed directories.
pub struct Contents {
    /// `/init`.
    pub init: Vec<u8>,
    /// `/ktailor/config`.
    pub config: Option<Vec<u8>>,
    /// `/bin/busybox`.
    pub busybox: Option<Vec<u8>>,
}

/// Finds the init binary: `explicit`, else `$KTAILOR_INIT`, else
/// `ktailor-init` next to the running executable.
pub fn find_init(explicit: Option<&Path>) -> Result<PathBuf, Diagnostic> {
    let hint = "build it statically: RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release -p ktailor-init --target x86_64-unknown-linux-gnu, then pass --init target/x86_64-unknown-linux-gnu/release/ktailor-init (or set KTAILOR_INIT)";
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(err(format!("the init binary {} does not exist", p.display())).with_hint(hint))
        };
    }
    if let Some(p) = std::env::var_os(INIT_ENV) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(err(format!("{INIT_ENV}={} does not name a file", p.display())).with_hint(hint))
        };
    }
    let next_to_exe = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(INIT_NAME)));
    match next_to_exe {
        Some(p) if p.is_file() => Ok(p),
        _ => Err(err(format!(
            "cannot find the test init ({INIT_NAME}): not given with --init, {INIT_ENV} unset, none next to the ktailor executable"
        ))
        .with_hint(hint)),
    }
}

/// The ELF machine number of a kernel ARCH, for the architectures whose
/// QEMU boot is supported.
fn elf_machine(arch: &str) -> Option<u16> {
    match arch {
        "x86_64" | "x86" => Some(62),
        "arm64" => Some(183),
        "riscv" => Some(243),
        _ => None,
    }
}

/// Checks that `bytes` is a 64-bit static ELF executable for `arch` (no
/// PT_INTERP: a dynamic one would find no loader in the initramfs).
pub fn check_static_elf(bytes: &[u8], arch: &str) -> Result<(), String> {
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        bytes.get(o..o + 8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    };
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let machine = u16_at(0x12).ok_or("truncated ELF header")?;
    if let Some(want) = elf_machine(arch) {
        if machine != want {
            return Err(format!(
                "built for ELF machine {machine}, not {arch} ({want})"
            ));
        }
    }
    let phoff = u64_at(0x20).ok_or("truncated ELF header")? as usize;
    let phentsize = u16_at(0x36).ok_or("truncated ELF header")? as usize;
    let phnum = u16_at(0x38).ok_or("truncated ELF header")? as usize;
    for i in 0..phnum {
        let ty = u32_at(phoff + i * phentsize).ok_or("truncated program headers")?;
        const PT_INTERP: u32 = 3;
        if ty == PT_INTERP {
            return Err("dynamically linked (it names a program interpreter)".into());
        }
    }
    Ok(())
}

/// Checks that a kernel with this configuration can unpack the archive.
pub fn check_kernel_config(config: &str) -> Result<(), Diagnostic> {
    for (opt, why) in [
        ("BLK_DEV_INITRD", "the kernel does not support an initramfs"),
        ("RD_GZIP", "the kernel cannot decompress a gzip initramfs"),
    ] {
        if config_value(config, opt) != Some("y") {
            return Err(
                err(format!("CONFIG_{opt} is not y: {why}")).with_hint(format!(
                    "add CONFIG_{opt}=y to the kernel (the `initramfs` feature has it)"
                )),
            );
        }
    }
    Ok(())
}

/// The archive's members, in order (parents first).
pub fn entries(c: &Contents) -> Vec<Entry> {
    let mut e = vec![
        Entry::dir("dev", 0o755),
        Entry::char_dev("dev/console", 0o600, 5, 1),
        Entry::dir("proc", 0o555),
        Entry::dir("sys", 0o555),
        Entry::dir("mnt", 0o755),
        Entry::file("init", 0o755, c.init.clone()),
    ];
    if let Some(cfg) = &c.config {
        e.push(Entry::dir("ktailor", 0o755));
        e.push(Entry::file("ktailor/config", 0o644, cfg.clone()));
    }
    if let Some(bb) = &c.busybox {
        e.push(Entry::dir("bin", 0o755));
        e.push(Entry::file("bin/busybox", 0o755, bb.clone()));
        e.push(Entry::symlink("bin/sh", "busybox"));
    }
    e
}

/// The gzip-compressed archive. Deterministic: the gzip header carries no
/// name and mtime 0.
pub fn build(c: &Contents) -> Result<Vec<u8>, Diagnostic> {
    let raw = cpio::write(&entries(c)).map_err(err)?;
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::default());
    gz.write_all(&raw)
        .and_then(|_| gz.finish())
        .map_err(|e| err(format!("gzip: {e}")))
}

/// Reads an executable for the archive and checks it is static for `arch`.
pub fn read_static(path: &Path, arch: &str, what: &str) -> Result<Vec<u8>, Diagnostic> {
    let bytes = std::fs::read(path)
        .map_err(|e| err(format!("cannot read {what} {}: {e}", path.display())))?;
    check_static_elf(&bytes, arch).map_err(|e| {
        let d = err(format!("{what} {} cannot run as /init's payload: {e}", path.display()));
        if what == "init" {
            d.with_hint("build it statically: RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release -p ktailor-init --target x86_64-unknown-linux-gnu")
        } else {
            d.with_hint("use Debian's busybox-static (apt-get install busybox-static)")
        }
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_has_console_and_mount_points() {
        let c = Contents {
            init: b"\x7fELF".to_vec(),
            config: Some(b"CONFIG_A=y\n".to_vec()),
            busybox: None,
        };
        let gz = build(&c).expect("build");
        let mut raw = Vec::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .expect("gunzip");
        let list: Vec<String> = cpio::read(&raw)
            .expect("read")
            .iter()
            .map(cpio::describe)
            .collect();
        assert_eq!(
            list,
            [
                "d 0755        0 /dev",
                "c 0600 5,1 /dev/console",
                "d 0555        0 /proc",
                "d 0555        0 /sys",
                "d 0755        0 /mnt",
                "- 0755        4 /init",
                "d 0755        0 /ktailor",
                "- 0644       11 /ktailor/config",
            ]
        );
        assert_eq!(build(&c).expect("build"), gz, "deterministic");
    }

    #[test]
    fn kernel_config_needs_gzip_initrd() {
        assert!(check_kernel_config("CONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\n").is_ok());
        let e = check_kernel_config("CONFIG_BLK_DEV_INITRD=y\n# CONFIG_RD_GZIP is not set\n")
            .expect_err("must fail");
        assert!(e.message.contains("CONFIG_RD_GZIP"), "{}", e.message);
    }

    #[test]
    fn elf_checks() {
        assert!(check_static_elf(b"#!/bin/sh", "x86_64")
            .expect_err("must fail")
            .contains("not an ELF"));
        // The test binary itself is a dynamic x86-64 executable (tests are
        // not built with crt-static).
        if let Ok(me) = std::env::current_exe().and_then(std::fs::read) {
            if cfg!(all(
                target_arch = "x86_64",
                not(target_feature = "crt-static")
            )) {
                let e = check_static_elf(&me, "x86_64").expect_err("must fail");
                assert!(e.contains("dynamically linked"), "{e}");
                let e = check_static_elf(&me, "arm64").expect_err("must fail");
                assert!(e.contains("not arm64"), "{e}");
            }
        }
    }
}
