//! One bootable EFI file from a spec kernel, made one of two ways:
//!
//! - **the kernel's own EFI stub** (`Kind::Stub`), as seed 004 ships: the
//!   kernel is built with `CONFIG_EFI_STUB`, the test initramfs linked in
//!   (`CONFIG_INITRAMFS_SOURCE` names the `initramfs.cpio.gz` ktailor
//!   writes in the object tree; kbuild takes a `.cpio.gz` as it is) and the
//!   command line built in (`CONFIG_CMDLINE_BOOL`, `CONFIG_CMDLINE`). The
//!   bzImage itself is the EFI application.
//! - **a unified kernel image** (`Kind::Uki`): systemd's stub
//!   (`linuxx64.efi.stub`, Debian's systemd-boot-efi) with sections added
//!   as systemd's ukify adds them — `.osrel` (an os-release text),
//!   `.cmdline`, `.initrd` (the gzip initramfs) and `.linux` (the EFI-stub
//!   bzImage), in that order — by `pe::append_sections`.
//!
//! What the packaging needs from the kernel's configuration is added to
//! the spec kernel as requests (`with_requests`), so it goes through the
//! gate like everything else: a request that cannot hold fails the kernel
//! with the reason, never a silently different kernel. A spec that sets
//! one of the options the stub packaging sets itself is an error naming
//! the spec line.
//!
//! Not here: building (see `make`), the initramfs (see `initramfs`),
//! booting (see `qemu`).

use ktailor_kconfig::Diagnostic;
use ktailor_spec::{spec::FeatureRef, Loc, Request, Spec, Value};

use crate::bzimage;
use crate::pe;

/// Which EFI file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The kernel's own EFI stub, initramfs and command line built in.
    Stub,
    /// systemd's stub with `.linux`, `.initrd`, `.cmdline`, `.osrel`.
    Uki,
}

impl Kind {
    /// The file `ktailor efi` writes in `OUT/NAME/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Stub => "linux.efi",
            Kind::Uki => "uki.efi",
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Stub => "the kernel's EFI stub with the initramfs and command line built in",
            Kind::Uki => "a unified kernel image (systemd's stub)",
        }
    }
}

/// Where Debian's systemd-boot-efi installs the x86-64 stub.
pub const DEFAULT_STUB: &str = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
/// The default command line of an EFI file.
pub const DEFAULT_CMDLINE: &str = "console=ttyS0";
/// `CONFIG_INITRAMFS_SOURCE` of a stub image: relative to the object tree
/// (make's working directory), so the configuration names no host path.
pub const BUILTIN_INITRAMFS: &str = "initramfs.cpio.gz";

/// The path firmware boots from removable media, per architecture (UEFI
/// spec 3.5.1.1).
pub fn removable_path(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" | "x86" => Some("EFI/BOOT/BOOTX64.EFI"),
        "arm64" => Some("EFI/BOOT/BOOTAA64.EFI"),
        "riscv" => Some("EFI/BOOT/BOOTRISCV64.EFI"),
        _ => None,
    }
}

/// The options the stub packaging sets itself (a spec must leave them to
/// it).
const STUB_OWNED: [&str; 3] = ["INITRAMFS_SOURCE", "CMDLINE", "CMDLINE_BOOL"];

/// The requests a kind of EFI file adds to a kernel: (option, value, why).
pub fn requests(kind: Kind, arch: &str, cmdline: &str) -> Vec<(&'static str, Value, String)> {
    let y = || Value::Tri(ktailor_kconfig::Tri::Y);
    let mut r = vec![
        (
            "BLK_DEV_INITRD",
            y(),
            "the EFI file carries the test initramfs".to_string(),
        ),
        (
            "RD_GZIP",
            y(),
            "the initramfs ktailor writes is gzip-compressed".to_string(),
        ),
    ];
    match kind {
        Kind::Stub => {
            r.push((
                "INITRAMFS_SOURCE",
                Value::Text(BUILTIN_INITRAMFS.into()),
                "ktailor efi links the initramfs it writes in the object tree into the image"
                    .into(),
            ));
            if !cmdline.is_empty() {
                r.push((
                    "CMDLINE_BOOL",
                    y(),
                    "ktailor efi builds the command line into the image".into(),
                ));
                r.push((
                    "CMDLINE",
                    Value::Text(cmdline.into()),
                    "the command line given to ktailor efi (--cmdline)".into(),
                ));
            }
        }
        Kind::Uki => {
            if matches!(arch, "x86_64" | "x86") {
                r.push((
                    "EFI_HANDOVER_PROTOCOL",
                    y(),
                    "systemd's stub before version 254 starts an x86 kernel through the EFI handover protocol"
                        .into(),
                ));
            }
        }
    }
    r
}

/// A copy of the spec whose kernel `name` also asks for the `efi-stub`
/// feature and what `kind` needs (see `requests`), each request saying it
/// comes from `ktailor efi` for the kernel's `[kernel.NAME]` line. Errors
/// when the spec sets an option the stub packaging owns.
pub fn with_requests(
    spec: &Spec,
    name: &str,
    kind: Kind,
    arch: &str,
    cmdline: &str,
) -> Result<Spec, Diagnostic> {
    let flat = spec
        .flattened(name)
        .ok_or_else(|| crate::kernel::unknown_kernel(spec, name))?;
    if kind == Kind::Stub {
        if let Some(r) = flat
            .set
            .iter()
            .chain(flat.unset.iter())
            .find(|r| STUB_OWNED.contains(&r.name.as_str()))
        {
            return Err(r
                .loc
                .error(format!(
                    "kernel '{name}' sets CONFIG_{}, which ktailor efi sets itself for an image with the EFI stub",
                    r.name
                ))
                .with_hint(
                    "remove it from the spec: the initramfs is the one ktailor writes, and the command line is --cmdline",
                ));
        }
    }
    let mut out = spec.clone();
    let k = out
        .kernels
        .iter_mut()
        .find(|k| k.name == name)
        .ok_or_else(|| crate::kernel::unknown_kernel(spec, name))?;
    // Named after the packaging, pointing at the kernel it is for: a gate
    // failure then reads "asked by ktailor efi for s.toml:4:9".
    let loc = Loc {
        file: format!("ktailor efi for {}", k.loc),
        line: 0,
        col: 0,
    };
    k.features.push(FeatureRef {
        name: "efi-stub".into(),
        optional: false,
        loc: loc.clone(),
    });
    for (opt, value, why) in requests(kind, arch, cmdline) {
        k.set.push(Request {
            name: opt.into(),
            value,
            why: Some(why),
            optional: false,
            loc: loc.clone(),
        });
    }
    Ok(out)
}

/// Checks that a built kernel image can be started by firmware: a bzImage
/// with a PE/COFF header for this machine, subsystem EFI application.
pub fn check_efi_kernel(bytes: &[u8]) -> Result<bzimage::Image, String> {
    let img = bzimage::parse(bytes)?;
    let Some(pe) = &img.pe else {
        return Err(
            "the kernel image has no PE/COFF header: it was built without CONFIG_EFI_STUB".into(),
        );
    };
    if pe.subsystem != pe::SUBSYSTEM_EFI_APPLICATION {
        return Err(format!(
            "the kernel's PE header says subsystem {}, not an EFI application (10)",
            pe.subsystem
        ));
    }
    Ok(img)
}

/// systemd's stub version from its `.sdmagic` section
/// (`#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####`): the major
/// number and the whole version string.
pub fn stub_version(stub: &[u8]) -> Option<(u32, String)> {
    let pe = pe::parse(stub).ok()??;
    let s = pe.section(".sdmagic")?;
    let text = String::from_utf8_lossy(pe.data(stub, s).ok()?).into_owned();
    let v = text
        .split("systemd-stub ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .to_string();
    let major = v
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((major, v))
}

/// The `.osrel` text of a UKI: an os-release (os-release(5)) naming the
/// kernel and what it carries.
pub fn os_release(kernel: &str, version: &str) -> String {
    let version = version.split_whitespace().next().unwrap_or("");
    format!(
        "NAME=\"ktailor\"\nID=ktailor\nVERSION_ID=\"{version}\"\nIMAGE_ID=\"{kernel}\"\nPRETTY_NAME=\"ktailor {kernel} (Linux {version})\"\n"
    )
}

/// The parts of a UKI.
pub struct UkiParts<'a> {
    pub osrel: &'a str,
    pub cmdline: &'a str,
    pub initrd: &'a [u8],
    pub linux: &'a [u8],
}

/// Assembles a UKI from systemd's stub: checks the stub (a PE32+ EFI
/// application that is not already a UKI) and the kernel (an EFI-stub
/// bzImage; with the handover protocol when the stub predates 254), then
/// appends the sections.
pub fn assemble_uki(stub: &[u8], parts: &UkiParts) -> Result<Vec<u8>, String> {
    let spe = pe::parse(stub)?.ok_or("the stub is not a PE/COFF image")?;
    if spe.magic != pe::MAGIC_PE32_PLUS || spe.subsystem != pe::SUBSYSTEM_EFI_APPLICATION {
        return Err("the stub is not a 64-bit EFI application".into());
    }
    if spe.section(".linux").is_some() {
        return Err("the stub already has a .linux section (it is a UKI, not a stub)".into());
    }
    let kimg = check_efi_kernel(parts.linux).map_err(|e| format!("the kernel: {e}"))?;
    if let (Some(kpe), Some(_)) = (&kimg.pe, &spe.section(".sdmagic")) {
        if kpe.machine != spe.machine {
            return Err(format!(
                "the stub is for {} but the kernel for {}",
                spe.machine_name(),
                kpe.machine_name()
            ));
        }
    }
    if let Some((major, v)) = stub_version(stub) {
        const XLF_EFI_HANDOVER_64: u16 = 1 << 3;
        if major < 254
            && (kimg.setup.handover_offset == 0 || kimg.setup.xloadflags & XLF_EFI_HANDOVER_64 == 0)
        {
            return Err(format!(
                "systemd-stub {v} starts the kernel through the EFI handover protocol, which this kernel lacks (CONFIG_EFI_HANDOVER_PROTOCOL)"
            ));
        }
    }
    pe::append_sections(
        stub,
        &[
            (".osrel", parts.osrel.as_bytes()),
            (".cmdline", parts.cmdline.as_bytes()),
            (".initrd", parts.initrd),
            (".linux", parts.linux),
        ],
    )
}

/// What a UKI holds, read back from its sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UkiInfo {
    pub cmdline: Option<String>,
    pub osrel_pretty: Option<String>,
    pub initrd_size: Option<u64>,
    /// The `.linux` kernel's version string.
    pub linux_version: Option<String>,
    pub stub: Option<String>,
}

/// Reads the UKI sections of a PE image; `None` when it has no `.linux`.
pub fn uki_info(file: &[u8]) -> Result<Option<UkiInfo>, String> {
    let Some(p) = pe::parse(file)? else {
        return Ok(None);
    };
    let Some(linux) = p.section(".linux") else {
        return Ok(None);
    };
    let text = |name: &str| -> Result<Option<String>, String> {
        match p.section(name) {
            Some(s) => Ok(Some(
                String::from_utf8_lossy(p.data(file, s)?)
                    .trim_end_matches('\0')
                    .to_string(),
            )),
            None => Ok(None),
        }
    };
    let osrel_pretty = text(".osrel")?.and_then(|o| {
        o.lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
    });
    let kernel = p.data(file, linux)?;
    let linux_version = bzimage::parse(kernel).ok().map(|k| k.setup.kernel_version);
    Ok(Some(UkiInfo {
        cmdline: text(".cmdline")?,
        osrel_pretty,
        initrd_size: p.section(".initrd").map(|s| u64::from(s.virtual_size)),
        linux_version,
        stub: stub_version(file).map(|(_, v)| v),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_requests_build_in_initramfs_and_cmdline() {
        let r = requests(Kind::Stub, "x86_64", "console=ttyS0");
        let names: Vec<&str> = r.iter().map(|(n, ..)| *n).collect();
        assert_eq!(
            names,
            [
                "BLK_DEV_INITRD",
                "RD_GZIP",
                "INITRAMFS_SOURCE",
                "CMDLINE_BOOL",
                "CMDLINE"
            ]
        );
        assert_eq!(r[4].1, Value::Text("console=ttyS0".into()));
        let r = requests(Kind::Stub, "x86_64", "");
        assert!(!r.iter().any(|(n, ..)| n.starts_with("CMDLINE")));
        let r = requests(Kind::Uki, "x86_64", "x");
        let names: Vec<&str> = r.iter().map(|(n, ..)| *n).collect();
        assert_eq!(
            names,
            ["BLK_DEV_INITRD", "RD_GZIP", "EFI_HANDOVER_PROTOCOL"]
        );
    }

    fn spec(text: &str) -> Spec {
        Spec::parse(std::path::Path::new("s.toml"), text).expect("spec")
    }

    #[test]
    fn requests_go_into_the_kernel_at_its_line() {
        let s = spec("[kernel.a]\nsource = \"/x\"\n\n[kernel.b]\nextends = \"a\"\n");
        let s2 = with_requests(&s, "b", Kind::Stub, "x86_64", "quiet").expect("ok");
        let b = s2.flattened("b").expect("b");
        assert_eq!(b.features.last().map(|f| f.name.as_str()), Some("efi-stub"));
        let cmd = b.set.iter().find(|r| r.name == "CMDLINE").expect("CMDLINE");
        assert_eq!(cmd.value, Value::Text("quiet".into()));
        assert!(
            cmd.loc.file.starts_with("ktailor efi for s.toml:4:"),
            "{}",
            cmd.loc
        );
        // The spec itself is unchanged.
        assert!(s.flattened("b").expect("b").set.is_empty());
    }

    #[test]
    fn a_spec_setting_what_the_stub_owns_is_an_error() {
        let s = spec("[kernel.a]\nsource = \"/x\"\nset = { INITRAMFS_SOURCE = \"my.list\" }\n");
        let e = with_requests(&s, "a", Kind::Stub, "x86_64", "").expect_err("conflict");
        assert!(
            e.message.contains("CONFIG_INITRAMFS_SOURCE"),
            "{}",
            e.message
        );
        assert_eq!(e.line, 3, "file:line of the spec's own request");
        // A UKI leaves the kernel's own initramfs and command line alone.
        assert!(with_requests(&s, "a", Kind::Uki, "x86_64", "").is_ok());
        let e = with_requests(&s, "zz", Kind::Uki, "x86_64", "").expect_err("unknown");
        assert!(e.message.contains("no kernel 'zz'"), "{}", e.message);
    }

    #[test]
    fn stub_version_from_sdmagic() {
        let img = pe::append_sections(
            &pe::tests::tiny_pe(),
            &[(
                ".sdmagic",
                b"#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####",
            )],
        )
        .expect("append");
        assert_eq!(stub_version(&img), Some((252, "252.39-1~deb12u2".into())));
        assert_eq!(stub_version(&pe::tests::tiny_pe()), None);
    }

    #[test]
    fn uki_needs_an_efi_kernel() {
        let parts = UkiParts {
            osrel: "ID=x\n",
            cmdline: "quiet",
            initrd: b"",
            linux: b"not a kernel",
        };
        let e = assemble_uki(&pe::tests::tiny_pe(), &parts).expect_err("no kernel");
        assert!(e.starts_with("the kernel:"), "{e}");
        let mut not_pe = vec![0u8; 0x100];
        not_pe[..2].copy_from_slice(b"MZ");
        let e = assemble_uki(&not_pe, &parts).expect_err("no stub");
        assert!(e.contains("not a PE/COFF"), "{e}");
    }
}
