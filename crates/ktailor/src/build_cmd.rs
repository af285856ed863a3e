//! `ktailor build`, `ktailor initramfs`, `ktailor boot`, `ktailor inspect`:
//! argument parsing and output over `ktailor-build`.
//!
//! stdout carries the reports; progress and diagnostics go to stderr.
//! Exit codes: 0 success, 1 a check failed (the gate, or a boot check),
//! 2 an error (bad input, build failure, QEMU missing, timeout).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use ktailor_build::kernel::{config_value, open_spec, prepare, unknown_kernel, Prepared};
use ktailor_build::{bzimage, cpio, efi, initramfs, make, ovmf, qemu, Diagnostic};
use ktailor_spec::generate::KernelResult;
use ktailor_spec::Spec;

use crate::kconfig_cmd::print_diags;
use crate::{EXIT_ERROR, EXIT_FAILED, EXIT_OK};

pub(crate) fn diag(d: Diagnostic) -> u8 {
    print_diags(&[d], Path::new("."));
    EXIT_ERROR
}

pub(crate) fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

/// Loads the spec and checks the kernel names (all kernels when none is
/// given).
pub(crate) fn spec_and_kernels(
    path: &Path,
    kernels: &[String],
) -> Result<(Spec, ktailor_spec::Library, Vec<String>), u8> {
    let (spec, lib) = open_spec(path).map_err(|d| {
        print_diags(&d, Path::new("."));
        EXIT_ERROR
    })?;
    let names: Vec<String> = if kernels.is_empty() {
        spec.kernels.iter().map(|k| k.name.clone()).collect()
    } else {
        kernels.to_vec()
    };
    for n in &names {
        if spec.kernel(n).is_none() {
            return Err(diag(unknown_kernel(&spec, n)));
        }
    }
    Ok((spec, lib, names))
}

/// Prints why the gate refused a kernel (the short form; `ktailor
/// generate` prints the full report).
fn report_gate_failure(r: &KernelResult, full_report_hint: bool) -> u8 {
    print_diags(&r.errors, Path::new("."));
    eprintln!(
        "error: kernel {} does not pass the gate; nothing was built",
        r.name
    );
    for v in r.verdicts.iter().filter(|v| !v.holds && !v.ask.optional) {
        eprintln!(
            "  FAIL CONFIG_{}: requested {}, got {}; asked by {}",
            v.ask.name,
            v.ask.value.describe(),
            v.actual.as_deref().unwrap_or("(absent)"),
            v.ask.origin.describe()
        );
        if let Some(why) = v.ask.origin.why() {
            eprintln!("        wanted because: {why}");
        }
        for reason in &v.reasons {
            eprintln!("        {reason}");
        }
    }
    if full_report_hint {
        eprintln!(
            "\nhint: `ktailor generate SPEC --kernel {}` prints the full report",
            r.name
        );
    }
    if !r.errors.is_empty() && r.verdicts.is_empty() {
        EXIT_ERROR
    } else {
        EXIT_FAILED
    }
}

/// Build the kernels a spec declares: generate through the gate, then
/// `make -C SRCTREE O=OUT/NAME ARCH=...`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The spec file (TOML).
    pub spec: PathBuf,
    /// Build only this kernel (repeatable; default: every kernel).
    #[arg(long = "kernel", value_name = "NAME")]
    pub kernels: Vec<String>,
    /// Output directory: OUT/NAME is make's object tree.
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// Parallel make jobs (default: the number of CPUs).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Do not use the $(shell) and parse caches while generating.
    #[arg(long)]
    pub no_cache: bool,
}

/// Progress on stderr: one rewritten line on a terminal, a line per tenth
/// otherwise (logs stay short).
struct ProgressPrinter {
    tty: bool,
    last_tenth: usize,
    printed: bool,
}

impl ProgressPrinter {
    fn show(&mut self, name: &str, p: &make::Progress) {
        let pct = p.done * 100 / p.estimate.max(1);
        if self.tty {
            let mut line = format!("[{pct:3}%] {name}: {}/{} {}", p.done, p.estimate, p.line);
            line.truncate(120);
            eprint!("\r\x1b[K{line}");
            self.printed = true;
        } else if pct / 10 > self.last_tenth {
            self.last_tenth = pct / 10;
            eprintln!("[{pct:3}%] {name}: {}/{} {}", p.done, p.estimate, p.line);
        }
    }
    fn finish(&mut self) {
        if self.tty && self.printed {
            eprintln!();
        }
    }
}

pub(crate) fn default_jobs(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// Generates a kernel through the gate into OUT/NAME/.config and says
/// which tree it builds from; `Err` is the exit code (after the report,
/// which ends with a pointer to `ktailor generate` when
/// `full_report_hint`: that command generates the same configuration).
pub(crate) fn generate_kernel(
    spec: &Spec,
    lib: &ktailor_spec::Library,
    name: &str,
    out: &Path,
    no_cache: bool,
    full_report_hint: bool,
) -> Result<Prepared, u8> {
    let p = prepare(spec, lib, name, out, no_cache)
        .map_err(|r| report_gate_failure(&r, full_report_hint))?;
    print_diags(&p.result.warnings, Path::new("."));
    let (maj, min) = p.result.version;
    println!(
        "kernel {name}: Linux {maj}.{min} ARCH={}, source {}",
        p.arch,
        p.srctree.display()
    );
    Ok(p)
}

/// Runs make for a generated kernel with progress on stderr and prints the
/// report; `Err` is the exit code (after the error).
pub(crate) fn make_kernel(p: &Prepared, name: &str, jobs: usize) -> Result<make::BuildReport, u8> {
    let job = make::MakeJob {
        srctree: p.srctree.clone(),
        objtree: p.objtree.clone(),
        arch: p.arch.clone(),
        make_vars: p.make_vars.clone(),
        jobs,
        expected_config: Some(p.config.clone()),
        make: "make".into(),
    };
    let mut printer = ProgressPrinter {
        tty: std::io::stderr().is_terminal(),
        last_tenth: 0,
        printed: false,
    };
    let r = make::build(&job, &mut |pr| printer.show(name, pr));
    printer.finish();
    let r = r.map_err(diag)?;
    if r.config_rewritten {
        eprintln!(
            "warning: the kernel's syncconfig changed {}/.config: ktailor's engine and the kernel's conf disagree (a bug; please report it with both files)",
            p.objtree.display()
        );
    }
    println!(
        "  image    {} ({}, {} bytes)",
        r.image.display(),
        mib(r.image_size),
        r.image_size
    );
    println!("  modules  {} ({})", r.modules, mib(r.modules_size));
    let work = if r.compiled == 0 {
        "nothing recompiled".to_string()
    } else {
        format!("{} objects compiled", r.compiled)
    };
    println!(
        "  time     {:.1} s ({work}, {} make steps)",
        r.elapsed.as_secs_f64(),
        r.commands
    );
    println!("  log      {}", r.log.display());
    Ok(r)
}

pub fn build(a: BuildArgs) -> u8 {
    let (spec, lib, names) = match spec_and_kernels(&a.spec, &a.kernels) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let jobs = default_jobs(a.jobs);
    for name in &names {
        let p = match generate_kernel(&spec, &lib, name, &a.out, a.no_cache, true) {
            Ok(p) => p,
            Err(c) => return c,
        };
        if let Err(c) = make_kernel(&p, name, jobs) {
            return c;
        }
    }
    EXIT_OK
}

/// Write the test initramfs of a kernel: OUT/NAME/initramfs.cpio.gz.
#[derive(Args, Debug)]
pub struct InitramfsArgs {
    /// The spec file (TOML).
    pub spec: PathBuf,
    #[arg(long = "kernel", value_name = "NAME")]
    pub kernel: String,
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// The static ktailor-init binary (default: $KTAILOR_INIT, else
    /// ktailor-init next to this executable).
    #[arg(long, value_name = "PATH")]
    pub init: Option<PathBuf>,
    /// Add a static busybox as /bin/busybox and /bin/sh (default path:
    /// /bin/busybox, Debian's busybox-static).
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = initramfs::DEFAULT_BUSYBOX)]
    pub busybox: Option<PathBuf>,
    /// List the archive's members.
    #[arg(long)]
    pub list: bool,
}

/// Writes OUT/NAME/initramfs.cpio.gz; returns its path and members.
pub(crate) fn write_initramfs(
    spec: &Spec,
    kernel: &str,
    out: &Path,
    init: Option<&Path>,
    busybox: Option<&Path>,
) -> Result<(PathBuf, Vec<cpio::Entry>, bool, String), Diagnostic> {
    let k = spec
        .flattened(kernel)
        .ok_or_else(|| unknown_kernel(spec, kernel))?;
    let arch = k
        .arch
        .as_ref()
        .map(|a| a.value.clone())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let dir = out.join(kernel);
    let cfg_path = dir.join(".config");
    let config = std::fs::read(&cfg_path).map_err(|e| {
        Diagnostic::error("", 0, format!("cannot read {}: {e}", cfg_path.display())).with_hint(
            format!(
                "build the kernel first: ktailor build {} --kernel {kernel} --out {}",
                spec.path.display(),
                out.display()
            ),
        )
    })?;
    initramfs::check_kernel_config(&String::from_utf8_lossy(&config))?;
    let init_path = initramfs::find_init(init)?;
    let init = initramfs::read_static(&init_path, &arch, "init")?;
    let busybox = match busybox {
        Some(p) => Some(initramfs::read_static(p, &arch, "busybox")?),
        None => None,
    };
    let contents = initramfs::Contents {
        init,
        config: Some(config),
        busybox,
    };
    let gz = initramfs::build(&contents)?;
    let dest = dir.join("initramfs.cpio.gz");
    let written = ktailor_build::write_if_changed(&dest, &gz)?;
    Ok((
        dest,
        initramfs::entries(&contents),
        written,
        init_path.display().to_string(),
    ))
}

pub fn initramfs(a: InitramfsArgs) -> u8 {
    let (spec, _lib, _) = match spec_and_kernels(&a.spec, std::slice::from_ref(&a.kernel)) {
        Ok(x) => x,
        Err(c) => return c,
    };
    match write_initramfs(
        &spec,
        &a.kernel,
        &a.out,
        a.init.as_deref(),
        a.busybox.as_deref(),
    ) {
        Ok((dest, entries, written, init)) => {
            let size = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
            println!(
                "{} ({} bytes, {} members, init {init}){}",
                dest.display(),
                size,
                entries.len(),
                if written { "" } else { ", unchanged" }
            );
            if a.list {
                for e in &entries {
                    println!("  {}", cpio::describe(e));
                }
            }
            EXIT_OK
        }
        Err(d) => diag(d),
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AccelArg {
    Auto,
    Kvm,
    Tcg,
}

/// Boot a built kernel under QEMU with the test initramfs and report the
/// checks init ran.
#[derive(Args, Debug)]
pub struct BootArgs {
    /// The spec file (TOML).
    pub spec: PathBuf,
    #[arg(long = "kernel", value_name = "NAME")]
    pub kernel: String,
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// Seconds before the guest is killed (TCG boots take seconds to
    /// minutes).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// The checks init runs: blk, 9p, net, config.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "blk,9p,net,config",
        value_delimiter = ','
    )]
    pub checks: Vec<String>,
    /// The accelerator: auto tries KVM with a short probe boot, then TCG.
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: AccelArg,
    /// Guest memory in MiB.
    #[arg(
        short = 'm',
        long = "memory",
        value_name = "MIB",
        default_value_t = 512
    )]
    pub memory: u32,
    /// The static ktailor-init binary (see `ktailor initramfs`; an EFI
    /// file carries its initramfs: give it to `ktailor efi`).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["efi", "uki"])]
    pub init: Option<PathBuf>,
    /// Add busybox to the initramfs (see `ktailor initramfs`).
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = initramfs::DEFAULT_BUSYBOX, conflicts_with_all = ["efi", "uki"])]
    pub busybox: Option<PathBuf>,
    /// Boot OUT/NAME/linux.efi (written by `ktailor efi`) under UEFI
    /// firmware (OVMF) from a FAT disk, instead of direct kernel boot.
    #[arg(long, conflicts_with = "uki")]
    pub efi: bool,
    /// Boot OUT/NAME/uki.efi (written by `ktailor efi --uki`) under OVMF.
    #[arg(long)]
    pub uki: bool,
    /// OVMF's code image (default: Debian's OVMF_CODE_4M.fd, else
    /// OVMF_CODE.fd); with --ovmf-vars.
    #[arg(long, value_name = "FILE", requires = "ovmf_vars")]
    pub ovmf_code: Option<PathBuf>,
    /// OVMF's variable store template matching --ovmf-code (copied for
    /// every boot).
    #[arg(long, value_name = "FILE", requires = "ovmf_code")]
    pub ovmf_vars: Option<PathBuf>,
}

pub fn boot(a: BootArgs) -> u8 {
    let (spec, _lib, _) = match spec_and_kernels(&a.spec, std::slice::from_ref(&a.kernel)) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let arch = spec
        .flattened(&a.kernel)
        .and_then(|k| k.arch.map(|a| a.value))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let qemu_prog = match qemu::qemu_for_arch(&arch) {
        Ok(q) => q,
        Err(d) => return diag(d),
    };
    // Before anything is written: a missing QEMU is the commonest setup
    // problem.
    if qemu::find_program(qemu_prog).is_none() {
        return diag(
            Diagnostic::error("", 0, format!("cannot find {qemu_prog} in PATH"))
                .with_hint("install QEMU: apt-get install qemu-system-x86"),
        );
    }
    let dir = a.out.join(&a.kernel);
    let efi_kind = if a.uki {
        Some(efi::Kind::Uki)
    } else if a.efi {
        Some(efi::Kind::Stub)
    } else {
        None
    };
    let (target, booted) = match efi_kind {
        None => {
            let kernel = dir.join("bzImage");
            if !kernel.is_file() {
                return diag(
                    Diagnostic::error("", 0, format!("no kernel image at {}", kernel.display()))
                        .with_hint(format!(
                            "build it first: ktailor build {} --kernel {} --out {}",
                            a.spec.display(),
                            a.kernel,
                            a.out.display()
                        )),
                );
            }
            let initrd = match write_initramfs(
                &spec,
                &a.kernel,
                &a.out,
                a.init.as_deref(),
                a.busybox.as_deref(),
            ) {
                Ok((p, ..)) => p,
                Err(d) => return diag(d),
            };
            (
                qemu::Target::Direct {
                    kernel: kernel.clone(),
                    initrd,
                },
                kernel,
            )
        }
        Some(kind) => {
            let firmware = match ovmf::find(a.ovmf_code.as_deref(), a.ovmf_vars.as_deref()) {
                Ok(f) => f,
                Err(d) => return diag(d),
            };
            let Some(esp_path) = efi::removable_path(&arch) else {
                return diag(Diagnostic::error(
                    "",
                    0,
                    format!("EFI boots for ARCH={arch} are not supported"),
                ));
            };
            let image = dir.join(kind.file_name());
            let bytes = match std::fs::read(&image) {
                Ok(b) => b,
                Err(e) => {
                    return diag(
                        Diagnostic::error("", 0, format!("cannot read {}: {e}", image.display()))
                            .with_hint(format!(
                                "write it first: ktailor efi {} --kernel {} --out {}{}",
                                a.spec.display(),
                                a.kernel,
                                a.out.display(),
                                if a.uki { " --uki" } else { "" }
                            )),
                    )
                }
            };
            // The image must be what it claims to be before it is booted.
            let options_prefix = match kind {
                efi::Kind::Stub => match efi::check_efi_kernel(&bytes) {
                    Ok(_) => String::new(),
                    Err(e) => {
                        return diag(Diagnostic::error(
                            "",
                            0,
                            format!("{}: {e}", image.display()),
                        ))
                    }
                },
                efi::Kind::Uki => match efi::uki_info(&bytes) {
                    Ok(Some(info)) => info.cmdline.unwrap_or_default(),
                    Ok(None) => {
                        return diag(Diagnostic::error(
                            "",
                            0,
                            format!("{} is not a UKI (no .linux section)", image.display()),
                        ))
                    }
                    Err(e) => {
                        return diag(Diagnostic::error(
                            "",
                            0,
                            format!("{}: {e}", image.display()),
                        ))
                    }
                },
            };
            (
                qemu::Target::Efi {
                    image: image.clone(),
                    firmware,
                    esp_path: esp_path.to_string(),
                    options_prefix,
                },
                image,
            )
        }
    };
    let config = std::fs::read_to_string(dir.join(".config")).unwrap_or_default();
    if a.checks.iter().any(|c| c == "config") && config_value(&config, "IKCONFIG_PROC") != Some("y")
    {
        eprintln!("warning: the `config` check needs CONFIG_IKCONFIG_PROC=y, which kernel {} does not have: it will FAIL", a.kernel);
    }
    let firmware_note = match &target {
        qemu::Target::Efi { firmware, .. } => Some(format!(
            "{}, ESP {}",
            firmware.code.display(),
            dir.join("boot/esp.img").display()
        )),
        qemu::Target::Direct { .. } => None,
    };
    let job = qemu::BootJob {
        qemu: qemu_prog.into(),
        target,
        workdir: dir.join("boot"),
        checks: a.checks.clone(),
        timeout: Duration::from_secs(a.timeout),
        accel: match a.accel {
            AccelArg::Auto => qemu::Accel::Auto,
            AccelArg::Kvm => qemu::Accel::Kvm,
            AccelArg::Tcg => qemu::Accel::Tcg,
        },
        // Firmware adds a few seconds before the kernel starts.
        kvm_probe: Duration::from_secs(if efi_kind.is_some() { 20 } else { 8 }),
        memory_mb: a.memory,
        append: Vec::new(),
    };
    let r = match qemu::boot(&job) {
        Ok(r) => r,
        Err(d) => return diag(d),
    };
    println!(
        "boot {}: {} under {}{}",
        a.kernel,
        booted.display(),
        r.accel.to_uppercase(),
        if firmware_note.is_some() {
            " with UEFI firmware"
        } else {
            ""
        }
    );
    if let Some(n) = &r.accel_note {
        println!("  accel    TCG: {n}");
    }
    if let Some(f) = &firmware_note {
        println!("  firmware {f}");
    }
    if let Some(c) = &r.kernel_cmdline {
        println!("  cmdline  {c}");
    }
    match r.time_to_init {
        Some(t) => println!(
            "  init     reached after {:.2} s{}",
            t.as_secs_f64(),
            if firmware_note.is_some() {
                " (from power-on, firmware included)"
            } else {
                ""
            }
        ),
        None => println!("  init     never reached"),
    }
    let w = r.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &r.checks {
        println!(
            "  {} {:w$}  {}",
            if c.pass { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    for want in &a.checks {
        if !r.checks.iter().any(|c| &c.name == want) {
            println!("  FAIL {want:w$}  no result (init did not run it)");
        }
    }
    let passed = r.passed(&a.checks);
    println!(
        "  result   {} after {:.1} s; console log {}",
        match r.result {
            Some(true) if passed => "PASS",
            Some(_) => "FAIL",
            None => "FAIL (the guest stopped before init reported a result)",
        },
        r.elapsed.as_secs_f64(),
        r.console_log.display()
    );
    if r.result.is_none() {
        for l in &r.tail {
            println!("  | {l}");
        }
    }
    if passed {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Show what a kernel image is (version, boot header, EFI stub), or an EFI
/// application's PE/COFF header and sections (a UKI's among them).
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The image: a bzImage, an EFI-stub kernel, a UKI or another EFI
    /// application.
    pub image: PathBuf,
}

pub fn inspect(a: InspectArgs) -> u8 {
    let bytes = match std::fs::read(&a.image) {
        Ok(b) => b,
        Err(e) => {
            return diag(Diagnostic::error(
                "",
                0,
                format!("cannot read {}: {e}", a.image.display()),
            ))
        }
    };
    let fail = |e: String| {
        diag(Diagnostic::error(
            "",
            0,
            format!("{}: {e}", a.image.display()),
        ))
    };
    match bzimage::parse(&bytes) {
        Ok(img) => {
            println!("{}", a.image.display());
            print_bzimage(&img, "  ");
            if let Some(pe) = &img.pe {
                print_pe(pe, "  ");
            } else {
                println!("  EFI stub         no (no PE/COFF header)");
            }
            EXIT_OK
        }
        // Not a bzImage: an EFI application (systemd's stub, a UKI)?
        Err(bz_err) => match ktailor_build::pe::parse(&bytes) {
            Ok(Some(pe)) => {
                println!("{}", a.image.display());
                println!(
                    "  size             {} bytes ({})",
                    bytes.len(),
                    mib(bytes.len() as u64)
                );
                print_pe(&pe, "  ");
                match efi::uki_info(&bytes) {
                    Ok(Some(u)) => {
                        println!("  UKI              yes");
                        if let Some(v) = &u.stub {
                            println!("    stub           systemd-stub {v}");
                        }
                        if let Some(o) = &u.osrel_pretty {
                            println!("    .osrel         {o}");
                        }
                        match &u.cmdline {
                            Some(c) => println!("    .cmdline       {c}"),
                            None => println!("    .cmdline       (none)"),
                        }
                        match u.initrd_size {
                            Some(n) => println!("    .initrd        {n} bytes ({})", mib(n)),
                            None => println!("    .initrd        (none)"),
                        }
                        match &u.linux_version {
                            Some(v) => println!("    .linux         Linux {v}"),
                            None => println!("    .linux         not a bzImage"),
                        }
                        if let Some(k) = pe.section(".linux").and_then(|s| pe.data(&bytes, s).ok())
                        {
                            if let Ok(img) = bzimage::parse(k) {
                                print_bzimage(&img, "      ");
                            }
                        }
                    }
                    Ok(None) => println!("  UKI              no (no .linux section)"),
                    Err(e) => return fail(e),
                }
                EXIT_OK
            }
            Ok(None) => fail(bz_err),
            Err(e) => fail(format!("{bz_err}; as an EFI application: {e}")),
        },
    }
}

fn print_bzimage(img: &bzimage::Image, ind: &str) {
    let s = &img.setup;
    println!("{ind}version          {}", s.kernel_version);
    println!("{ind}boot signature   0xaa55 at 510");
    println!(
        "{ind}boot protocol    {}.{}",
        s.protocol >> 8,
        s.protocol & 0xff
    );
    println!(
        "{ind}size             {} bytes ({})",
        img.size,
        mib(img.size)
    );
    println!(
        "{ind}setup            {} bytes ({} sectors + boot sector)",
        img.setup_size,
        if s.setup_sects == 0 { 4 } else { s.setup_sects }
    );
    println!(
        "{ind}protected mode   {} bytes (syssize {} × 16)",
        img.kernel_size, s.syssize
    );
    println!(
        "{ind}payload          {} bytes at +{}, {}",
        s.payload_length,
        s.payload_offset,
        img.compression.unwrap_or("unknown compression")
    );
    println!("{ind}loadflags        {:#04x}", s.loadflags);
    println!("{ind}xloadflags       {:#06x}", s.xloadflags);
    println!(
        "{ind}relocatable      {}",
        if s.relocatable { "yes" } else { "no" }
    );
    println!("{ind}kernel_alignment {:#x}", s.kernel_alignment);
    println!("{ind}pref_address     {:#x}", s.pref_address);
    println!(
        "{ind}init_size        {} bytes ({})",
        s.init_size,
        mib(u64::from(s.init_size))
    );
    println!("{ind}cmdline_size     {}", s.cmdline_size);
    println!("{ind}initrd_addr_max  {:#x}", s.initrd_addr_max);
    println!("{ind}handover_offset  {:#x}", s.handover_offset);
}

fn print_pe(pe: &ktailor_build::pe::Pe, ind: &str) {
    println!(
        "{ind}EFI stub         yes: PE{} machine {:#06x} ({}), subsystem {}{}, entry {:#x}",
        if pe.magic == ktailor_build::pe::MAGIC_PE32_PLUS {
            "32+"
        } else {
            "32"
        },
        pe.machine,
        pe.machine_name(),
        pe.subsystem,
        if pe.subsystem == ktailor_build::pe::SUBSYSTEM_EFI_APPLICATION {
            " (EFI application)"
        } else {
            ""
        },
        pe.entry_point
    );
    for sec in &pe.sections {
        println!(
            "{ind}  section {:8} virtual {:>9} at {:#9x}  file {:>9}",
            sec.name, sec.virtual_size, sec.virtual_address, sec.raw_size
        );
    }
}
