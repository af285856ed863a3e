//! `ktailor efi`: one bootable EFI file from a spec kernel (the kernel's
//! own EFI stub with the initramfs and command line built in, or a UKI
//! from systemd's stub), optionally in a FAT image of an EFI system
//! partition. Argument parsing and output over `ktailor-build`'s `efi`,
//! `fat` and `pe` modules.
//!
//! Order matters: what can be checked without a tree (the spec, conflicts
//! with it, the stub) is checked first; then the configuration goes
//! through the gate, the initramfs is written (the stub image links it in,
//! so it must exist before make; this checks the init), the kernel is
//! built, and the EFI file is assembled. Outputs are written only under
//! OUT/NAME and at the --esp path, each through a temporary file and a
//! rename.

use std::path::{Path, PathBuf};

use clap::Args;
use ktailor_build::efi::{self, Kind};
use ktailor_build::{fat, initramfs, Diagnostic};

use crate::build_cmd::{
    default_jobs, diag, generate_kernel, make_kernel, mib, spec_and_kernels, write_initramfs,
};
use crate::EXIT_OK;

/// Build one bootable EFI file from a spec kernel.
#[derive(Args, Debug)]
pub struct EfiArgs {
    /// The spec file (TOML).
    pub spec: PathBuf,
    #[arg(long = "kernel", value_name = "NAME")]
    pub kernel: String,
    /// Output directory: the kernel is built in OUT/NAME, the EFI file is
    /// OUT/NAME/linux.efi (or uki.efi).
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// Make a unified kernel image from systemd's stub instead of building
    /// the initramfs and command line into the kernel.
    #[arg(long)]
    pub uki: bool,
    /// systemd's EFI stub (for --uki).
    #[arg(long, value_name = "FILE", default_value = efi::DEFAULT_STUB)]
    pub stub: PathBuf,
    /// The kernel command line: built into the kernel (CONFIG_CMDLINE), or
    /// the UKI's .cmdline. Empty for none.
    #[arg(long, value_name = "TEXT", default_value = efi::DEFAULT_CMDLINE)]
    pub cmdline: String,
    /// The UKI's .osrel (default: one naming ktailor, the kernel and its
    /// version).
    #[arg(long, value_name = "FILE")]
    pub os_release: Option<PathBuf>,
    /// Also write a FAT image of an EFI system partition with the file at
    /// EFI/BOOT/BOOTX64.EFI.
    #[arg(long, value_name = "IMAGE")]
    pub esp: Option<PathBuf>,
    /// Parallel make jobs (default: the number of CPUs).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// The static ktailor-init binary (see `ktailor initramfs`).
    #[arg(long, value_name = "PATH")]
    pub init: Option<PathBuf>,
    /// Add busybox to the initramfs (see `ktailor initramfs`).
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = initramfs::DEFAULT_BUSYBOX)]
    pub busybox: Option<PathBuf>,
    /// Do not use the $(shell) and parse caches while generating.
    #[arg(long)]
    pub no_cache: bool,
}

fn error(msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error("", 0, msg)
}

pub fn run(a: EfiArgs) -> u8 {
    let kind = if a.uki { Kind::Uki } else { Kind::Stub };
    let (spec, lib, _) = match spec_and_kernels(&a.spec, std::slice::from_ref(&a.kernel)) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let arch = spec
        .flattened(&a.kernel)
        .and_then(|k| k.arch.map(|a| a.value))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let Some(esp_path) = efi::removable_path(&arch) else {
        return diag(error(format!(
            "EFI files for ARCH={arch} are not supported (x86_64, arm64, riscv)"
        )));
    };
    if kind == Kind::Uki && arch != "x86_64" && a.stub.as_os_str() == efi::DEFAULT_STUB {
        return diag(
            error(format!("the default stub is for x86_64, not {arch}"))
                .with_hint("give systemd's stub for this architecture with --stub"),
        );
    }
    if a.cmdline.contains('\n') {
        return diag(error("--cmdline must be one line"));
    }
    // What can be checked before anything is built or written.
    let spec2 = match efi::with_requests(&spec, &a.kernel, kind, &arch, &a.cmdline) {
        Ok(s) => s,
        Err(d) => return diag(d),
    };
    let stub = match kind {
        Kind::Stub => None,
        Kind::Uki => match std::fs::read(&a.stub) {
            Ok(b) => Some(b),
            Err(e) => {
                return diag(
                    error(format!("cannot read the EFI stub {}: {e}", a.stub.display()))
                        .with_hint("install systemd's stub: apt-get install systemd-boot-efi (or give --stub FILE)"),
                )
            }
        },
    };
    if let Some(s) = &stub {
        match ktailor_build::pe::parse(s) {
            Ok(Some(pe)) if pe.subsystem == ktailor_build::pe::SUBSYSTEM_EFI_APPLICATION => {}
            Ok(_) => {
                return diag(error(format!(
                    "{} is not an EFI application (no PE/COFF header with subsystem 10)",
                    a.stub.display()
                )))
            }
            Err(e) => return diag(error(format!("{}: {e}", a.stub.display()))),
        }
    }
    let osrel_file = match &a.os_release {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => Some(t),
            Err(e) => return diag(error(format!("cannot read {}: {e}", p.display()))),
        },
        None => None,
    };

    // Through the gate, then the initramfs (which checks the init), then
    // make.
    let p = match generate_kernel(&spec2, &lib, &a.kernel, &a.out, a.no_cache, false) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let initrd = match write_initramfs(
        &spec2,
        &a.kernel,
        &a.out,
        a.init.as_deref(),
        a.busybox.as_deref(),
    ) {
        Ok((path, ..)) => path,
        Err(d) => return diag(d),
    };
    let report = match make_kernel(&p, &a.kernel, default_jobs(a.jobs)) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let kernel = match std::fs::read(&report.image) {
        Ok(b) => b,
        Err(e) => {
            return diag(error(format!(
                "cannot read {}: {e}",
                report.image.display()
            )))
        }
    };
    let kimg = match efi::check_efi_kernel(&kernel) {
        Ok(i) => i,
        Err(e) => return diag(error(format!("{}: {e}", report.image.display()))),
    };
    let initrd_bytes = match std::fs::read(&initrd) {
        Ok(b) => b,
        Err(e) => return diag(error(format!("cannot read {}: {e}", initrd.display()))),
    };
    let bytes = match &stub {
        None => kernel,
        Some(stub) => {
            let osrel = osrel_file
                .unwrap_or_else(|| efi::os_release(&a.kernel, &kimg.setup.kernel_version));
            let parts = efi::UkiParts {
                osrel: &osrel,
                cmdline: &a.cmdline,
                initrd: &initrd_bytes,
                linux: &kernel,
            };
            match efi::assemble_uki(stub, &parts) {
                Ok(b) => b,
                Err(e) => {
                    return diag(error(format!(
                        "cannot make a UKI from {}: {e}",
                        a.stub.display()
                    )))
                }
            }
        }
    };
    let dest = p.objtree.join(kind.file_name());
    let written = match ktailor_build::write_if_changed(&dest, &bytes) {
        Ok(w) => w,
        Err(d) => return diag(d),
    };
    println!(
        "efi {}: {} ({}, {} bytes{}): {}",
        a.kernel,
        dest.display(),
        mib(bytes.len() as u64),
        bytes.len(),
        if written { "" } else { ", unchanged" },
        kind.describe()
    );
    println!(
        "  cmdline  {}",
        if a.cmdline.is_empty() {
            "(none)".to_string()
        } else {
            format!(
                "{} ({})",
                a.cmdline,
                match kind {
                    Kind::Stub => "built in: CONFIG_CMDLINE",
                    Kind::Uki => ".cmdline",
                }
            )
        }
    );
    println!(
        "  initrd   {} ({} bytes, {})",
        initrd.display(),
        initrd_bytes.len(),
        match kind {
            Kind::Stub => "built in: CONFIG_INITRAMFS_SOURCE",
            Kind::Uki => ".initrd",
        }
    );
    if let Some(v) = stub.as_deref().and_then(efi::stub_version) {
        println!("  stub     {} (systemd-stub {})", a.stub.display(), v.1);
    }
    if let Some(esp) = &a.esp {
        if let Err(c) = write_esp(esp, esp_path, &bytes) {
            return c;
        }
    }
    EXIT_OK
}

/// Writes the FAT image of an EFI system partition holding `bytes` at
/// `path` (EFI/BOOT/BOOTX64.EFI).
fn write_esp(image: &Path, path: &str, bytes: &[u8]) -> Result<(), u8> {
    let img = fat::build(&[(path, bytes)], "ESP")
        .map_err(|e| diag(error(format!("the ESP image: {e}"))))?;
    img.write(image)
        .map_err(|e| diag(error(format!("cannot write {}: {e}", image.display()))))?;
    println!(
        "  esp      {} ({}, FAT32, {path})",
        image.display(),
        mib(img.size)
    );
    Ok(())
}
