//! Boot-testing a kernel under QEMU with the devices the checks look for —
//! a virtio disk (a small sparse raw file), a read-only 9p share, a virtio
//! NIC on user networking — and the serial console on stdout, where
//! `ktailor-init` prints its `KTAILOR-*` lines (protocol in that crate).
//!
//! Two ways in (`Target`):
//! - direct kernel boot: `-kernel`, `-initrd`, `-append`;
//! - an EFI file under UEFI firmware (OVMF): the file goes into a fresh
//!   FAT image at `EFI/BOOT/BOOTX64.EFI` on an IDE disk (invisible to a
//!   kernel without ATA drivers, so the virtio disk stays `vda`), the
//!   firmware's variable store is a fresh copy of OVMF's template with a
//!   boot entry for that file whose load options carry the per-boot
//!   command line (see `ovmf`).
//!
//! Either way the NIC has no option ROM (the firmware would otherwise load
//! iPXE, which only slows the boot down).
//!
//! Acceleration: KVM only when a short probe boot reaches init within a
//! few seconds (on some hosts /dev/kvm exists but guests hang); otherwise
//! TCG. Everything QEMU reads or writes lives in the work directory
//! (`OUT/NAME/boot`): the disk image, the share, the console logs, and
//! for EFI boots the FAT image and the variable store.
//!
//! Not here: building the kernel, the initramfs or the EFI file.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ktailor_kconfig::Diagnostic;

use crate::err;
use crate::{fat, ovmf};

/// Which accelerator to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// KVM if the probe boot works, else TCG.
    Auto,
    Kvm,
    Tcg,
}

/// What QEMU boots.
#[derive(Clone, Debug)]
pub enum Target {
    /// `-kernel KERNEL -initrd INITRD -append ...`.
    Direct { kernel: PathBuf, initrd: PathBuf },
    /// An EFI application started by UEFI firmware from a FAT disk.
    Efi {
        image: PathBuf,
        firmware: ovmf::Firmware,
        /// Where the firmware finds it (`EFI/BOOT/BOOTX64.EFI`).
        esp_path: String,
        /// Words put before the per-boot command line in the load
        /// options. systemd's stub replaces its `.cmdline` with the load
        /// options, so a UKI's own command line is passed on here; the
        /// kernel's stub appends them to its built-in one.
        options_prefix: String,
    },
}

/// A boot test.
#[derive(Clone, Debug)]
pub struct BootJob {
    /// The QEMU program (`qemu-system-x86_64`).
    pub qemu: String,
    pub target: Target,
    /// Where the disk image, the share and the console logs go.
    pub workdir: PathBuf,
    /// `ktailor.checks=`.
    pub checks: Vec<String>,
    pub timeout: Duration,
    pub accel: Accel,
    /// How long the KVM probe may take to reach init.
    pub kvm_probe: Duration,
    pub memory_mb: u32,
    /// Extra kernel command line words.
    pub append: Vec<String>,
}

/// One `KTAILOR-CHECK` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckLine {
    pub name: String,
    pub pass: bool,
    pub detail: String,
}

/// What a boot showed.
#[derive(Clone, Debug)]
pub struct BootReport {
    /// `kvm` or `tcg`.
    pub accel: &'static str,
    /// Why KVM was not used, when it was not asked for explicitly.
    pub accel_note: Option<String>,
    /// From QEMU's start to init's first line.
    pub time_to_init: Option<Duration>,
    pub checks: Vec<CheckLine>,
    /// `KTAILOR-RESULT`: `None` if the guest stopped before printing it
    /// (a kernel panic: QEMU exits through `panic=-1` and `-no-reboot`).
    pub result: Option<bool>,
    pub elapsed: Duration,
    pub console_log: PathBuf,
    /// The last console lines, for a report when the boot failed.
    pub tail: Vec<String>,
    /// The command line the kernel says it got (`Kernel command line:`).
    pub kernel_cmdline: Option<String>,
}

impl BootReport {
    /// Every requested check passed and init said so.
    pub fn passed(&self, requested: &[String]) -> bool {
        self.result == Some(true)
            && requested
                .iter()
                .all(|r| self.checks.iter().any(|c| &c.name == r && c.pass))
    }
}

/// The QEMU program for a kernel ARCH.
pub fn qemu_for_arch(arch: &str) -> Result<&'static str, Diagnostic> {
    match arch {
        "x86_64" | "x86" => Ok("qemu-system-x86_64"),
        other => Err(err(format!(
            "booting ARCH={other} is not supported yet (x86_64 only)"
        ))),
    }
}

/// Finds a program in PATH, as the spawn would.
pub fn find_program(name: &str) -> Option<PathBuf> {
    crate::find_program_in(name, &std::env::var_os("PATH").unwrap_or_default())
}

/// Parses one console line: the `KTAILOR-` part of it (kernel messages may
/// share the line), if any.
pub fn parse_line(line: &str) -> Option<Marker> {
    let at = line.find("KTAILOR-")?;
    let rest = line[at..].trim_end();
    if rest.starts_with("KTAILOR-INIT") {
        return Some(Marker::Init);
    }
    if let Some(r) = rest.strip_prefix("KTAILOR-RESULT ") {
        return Some(Marker::Result(r.trim() == "PASS"));
    }
    let r = rest.strip_prefix("KTAILOR-CHECK ")?;
    let mut it = r.splitn(3, ' ');
    let name = it.next()?.to_string();
    let pass = match it.next()? {
        "PASS" => true,
        "FAIL" => false,
        _ => return None,
    };
    Some(Marker::Check(CheckLine {
        name,
        pass,
        detail: it.next().unwrap_or("").to_string(),
    }))
}

/// A line of the init's protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    Init,
    Check(CheckLine),
    Result(bool),
}

/// A token the `9p` check finds in the share: new per boot, so a stale
/// share cannot pass.
fn fresh_token() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", t, std::process::id())
}

/// A path in a QEMU option value: commas are doubled.
fn qemu_path(p: &Path) -> String {
    p.display().to_string().replace(',', ",,")
}

/// The words of the kernel command line of one boot.
fn cmdline_words(job: &BootJob, checks: &[String], token: &str) -> Vec<String> {
    let mut append = vec![
        "console=ttyS0".to_string(),
        // A kernel panic reboots at once, and -no-reboot turns that into
        // QEMU exiting: a panic ends the test instead of a timeout.
        "panic=-1".to_string(),
        format!("ktailor.checks={}", checks.join(",")),
        format!("ktailor.token={token}"),
    ];
    append.extend(job.append.iter().cloned());
    append
}

/// For an EFI boot: writes the FAT image with the EFI file and a copy of
/// the firmware's variable store whose boot entry passes `cmdline`.
fn prepare_efi(job: &BootJob, cmdline: &str) -> Result<(), Diagnostic> {
    let Target::Efi {
        image,
        firmware,
        esp_path,
        options_prefix,
    } = &job.target
    else {
        return Ok(());
    };
    let d = &job.workdir;
    let bytes =
        std::fs::read(image).map_err(|e| err(format!("cannot read {}: {e}", image.display())))?;
    let esp = fat::build(&[(esp_path.as_str(), &bytes)], "ESP")
        .map_err(|e| err(format!("the ESP image: {e}")))?;
    let esp_file = d.join("esp.img");
    esp.write(&esp_file)
        .map_err(|e| err(format!("cannot write {}: {e}", esp_file.display())))?;
    let mut vars = std::fs::read(&firmware.vars)
        .map_err(|e| err(format!("cannot read {}: {e}", firmware.vars.display())))?;
    let options = if options_prefix.trim().is_empty() {
        cmdline.to_string()
    } else {
        format!("{} {cmdline}", options_prefix.trim())
    };
    let entry = ovmf::load_option(
        "ktailor boot test",
        &format!("\\{}", esp_path.replace('/', "\\")),
        &options,
    );
    ovmf::set_boot_entry(&mut vars, 1, &entry).map_err(|e| {
        err(format!("{}: {e}", firmware.vars.display())).with_hint(
            "give an OVMF variable store template (OVMF_VARS*.fd) that matches --ovmf-code",
        )
    })?;
    crate::write_if_changed(&d.join("ovmf-vars.fd"), &vars)?;
    Ok(())
}

/// Creates the disk image and the share in the work directory; returns
/// the token written to the share.
fn prepare_workdir(dir: &Path) -> Result<String, Diagnostic> {
    let share = dir.join("share");
    std::fs::create_dir_all(&share)
        .map_err(|e| err(format!("cannot create {}: {e}", share.display())))?;
    let disk = dir.join("disk.img");
    if !disk.is_file() {
        // Sparse: 16 MiB that take no space; the check only needs vda.
        std::fs::File::create(&disk)
            .and_then(|f| f.set_len(16 << 20))
            .map_err(|e| err(format!("cannot create {}: {e}", disk.display())))?;
    }
    let token = fresh_token();
    std::fs::write(share.join("ktailor-token"), format!("{token}\n"))
        .map_err(|e| err(format!("cannot write the share's token: {e}")))?;
    Ok(token)
}

fn qemu_args(job: &BootJob, accel: &str, cmdline: &str) -> Vec<String> {
    let d = &job.workdir;
    let mut a: Vec<String> = vec![
        "-accel".into(),
        accel.into(),
        "-m".into(),
        job.memory_mb.to_string(),
        "-nographic".into(),
        "-no-reboot".into(),
    ];
    match &job.target {
        Target::Direct { kernel, initrd } => a.extend([
            "-kernel".into(),
            kernel.display().to_string(),
            "-initrd".into(),
            initrd.display().to_string(),
            "-append".into(),
            cmdline.to_string(),
        ]),
        Target::Efi { firmware, .. } => a.extend([
            "-drive".into(),
            format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={}",
                qemu_path(&firmware.code)
            ),
            "-drive".into(),
            format!(
                "if=pflash,format=raw,unit=1,file={}",
                qemu_path(&d.join("ovmf-vars.fd"))
            ),
            "-drive".into(),
            format!(
                "file={},format=raw,if=ide,media=disk",
                qemu_path(&d.join("esp.img"))
            ),
        ]),
    }
    a.extend([
        "-drive".into(),
        format!(
            "file={},format=raw,if=virtio",
            qemu_path(&d.join("disk.img"))
        ),
        "-virtfs".into(),
        format!(
            "local,path={},mount_tag=hostshare,security_model=none,readonly=on",
            qemu_path(&d.join("share"))
        ),
    ]);
    // No option ROM on the NIC: the firmware would load iPXE, which only
    // slows the boot down (direct boot never network-boots either).
    a.extend([
        "-netdev".into(),
        "user,id=net0".into(),
        "-device".into(),
        "virtio-net-pci,netdev=net0,romfile=".into(),
    ]);
    a
}

/// One QEMU run's console, up to `KTAILOR-RESULT` and QEMU's exit, or the
/// deadline.
struct Run {
    lines: Vec<(Duration, String)>,
    timed_out: bool,
    exit: Option<std::process::ExitStatus>,
    stderr: String,
    elapsed: Duration,
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn run_qemu(
    qemu: &Path,
    args: &[String],
    timeout: Duration,
    log: &Path,
) -> Result<Run, Diagnostic> {
    let start = Instant::now();
    let mut child = Command::new(qemu)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run {}: {e}", qemu.display())))?;
    let (tx, rx) = mpsc::channel::<(Duration, String)>();
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        if let Some(o) = stdout {
            for l in BufReader::new(o).split(b'\n').map_while(Result::ok) {
                let s = String::from_utf8_lossy(&l)
                    .trim_end_matches('\r')
                    .to_string();
                if tx.send((start.elapsed(), s)).is_err() {
                    break;
                }
            }
        }
    });
    let stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let mut logf = std::fs::File::create(log)
        .map_err(|e| err(format!("cannot write {}: {e}", log.display())))?;
    let mut lines = Vec::new();
    let mut timed_out = false;
    let mut deadline = start + timeout;
    loop {
        let now = Instant::now();
        if now >= deadline {
            timed_out = !lines.iter().any(|(_, l): &(Duration, String)| {
                matches!(parse_line(l), Some(Marker::Result(_)))
            });
            kill(&mut child);
            break;
        }
        match rx.recv_timeout(deadline - now) {
            Ok((t, l)) => {
                let _ = writeln!(logf, "{l}");
                if matches!(parse_line(&l), Some(Marker::Result(_))) {
                    // Init powers off next; give QEMU a moment to exit.
                    deadline = deadline.min(Instant::now() + Duration::from_secs(10));
                }
                lines.push((t, l));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // stdout closed: QEMU is exiting.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let exit = child.wait().ok();
    let _ = reader.join();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Run {
        lines,
        timed_out,
        exit,
        stderr,
        elapsed: start.elapsed(),
    })
}

/// Whether KVM can be tried at all: /dev/kvm opens read-write.
fn kvm_usable() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map(|_| ())
        .map_err(|e| format!("/dev/kvm: {e}"))
}

/// Boots the kernel and reads the checks' results. `Err` for what is not a
/// verdict on the kernel: QEMU missing, files missing, a timeout.
pub fn boot(job: &BootJob) -> Result<BootReport, Diagnostic> {
    let qemu = find_program(&job.qemu).ok_or_else(|| {
        err(format!("cannot find {} in PATH", job.qemu))
            .with_hint("install QEMU: apt-get install qemu-system-x86")
    })?;
    let needed = match &job.target {
        Target::Direct { kernel, initrd } => vec![
            (
                kernel,
                "kernel image",
                "build it first: ktailor build SPEC --kernel NAME",
            ),
            (
                initrd,
                "initramfs",
                "write it first: ktailor initramfs SPEC --kernel NAME",
            ),
        ],
        Target::Efi {
            image, firmware, ..
        } => vec![
            (
                image,
                "EFI file",
                "write it first: ktailor efi SPEC --kernel NAME",
            ),
            (
                &firmware.code,
                "OVMF code image",
                "install OVMF: apt-get install ovmf",
            ),
            (
                &firmware.vars,
                "OVMF variable store",
                "install OVMF: apt-get install ovmf",
            ),
        ],
    };
    for (p, what, hint) in needed {
        if !p.is_file() {
            return Err(err(format!("no {what} at {}", p.display())).with_hint(hint));
        }
    }
    std::fs::create_dir_all(&job.workdir)
        .map_err(|e| err(format!("cannot create {}: {e}", job.workdir.display())))?;
    let (accel, accel_note) = match job.accel {
        Accel::Tcg => ("tcg", None),
        Accel::Kvm => ("kvm", None),
        Accel::Auto => match kvm_usable() {
            Err(e) => ("tcg", Some(format!("KVM not usable ({e})"))),
            Ok(()) => {
                let token = prepare_workdir(&job.workdir)?;
                let cmdline = cmdline_words(job, &[], &token).join(" ");
                prepare_efi(job, &cmdline)?;
                let args = qemu_args(job, "kvm", &cmdline);
                let probe = run_qemu(
                    &qemu,
                    &args,
                    job.kvm_probe,
                    &job.workdir.join("kvm-probe.log"),
                )?;
                if probe
                    .lines
                    .iter()
                    .any(|(_, l)| matches!(parse_line(l), Some(Marker::Result(_))))
                {
                    ("kvm", None)
                } else {
                    (
                        "tcg",
                        Some(format!(
                            "a KVM probe boot did not reach init within {} s (see kvm-probe.log)",
                            job.kvm_probe.as_secs()
                        )),
                    )
                }
            }
        },
    };
    let token = prepare_workdir(&job.workdir)?;
    let cmdline = cmdline_words(job, &job.checks, &token).join(" ");
    prepare_efi(job, &cmdline)?;
    let args = qemu_args(job, accel, &cmdline);
    let log = job.workdir.join("console.log");
    let run = run_qemu(&qemu, &args, job.timeout, &log)?;
    let tail: Vec<String> = run
        .lines
        .iter()
        .rev()
        .take(15)
        .rev()
        .map(|(_, l)| l.clone())
        .collect();
    if run.timed_out {
        let mut d = err(format!(
            "the guest did not finish within {} s ({accel}); console log: {}",
            job.timeout.as_secs(),
            log.display()
        ));
        for l in &tail {
            d = d.with_note(format!("| {l}"));
        }
        return Err(d.with_hint("raise --timeout (TCG is slow), or look at the console log"));
    }
    let no_output = run.lines.is_empty();
    if no_output && run.exit.is_some_and(|s| !s.success()) {
        let mut d = err(format!(
            "{} failed ({}) before the guest printed anything",
            qemu.display(),
            run.exit.map(|s| s.to_string()).unwrap_or_default()
        ));
        for l in run.stderr.lines().take(10) {
            d = d.with_note(format!("| {l}"));
        }
        return Err(d);
    }
    let mut report = BootReport {
        accel,
        accel_note,
        time_to_init: None,
        checks: Vec::new(),
        result: None,
        elapsed: run.elapsed,
        console_log: log,
        tail,
        kernel_cmdline: None,
    };
    for (t, l) in &run.lines {
        if report.kernel_cmdline.is_none() {
            if let Some((_, c)) = l.split_once("Kernel command line: ") {
                report.kernel_cmdline = Some(c.trim().to_string());
            }
        }
        match parse_line(l) {
            Some(Marker::Init) if report.time_to_init.is_none() => report.time_to_init = Some(*t),
            Some(Marker::Check(c)) => report.checks.push(c),
            Some(Marker::Result(r)) => report.result = Some(r),
            _ => {}
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lines() {
        assert_eq!(parse_line("KTAILOR-INIT started"), Some(Marker::Init));
        assert_eq!(
            parse_line("[    1.2] foo KTAILOR-CHECK blk PASS vda, 32768 sectors\r"),
            Some(Marker::Check(CheckLine {
                name: "blk".into(),
                pass: true,
                detail: "vda, 32768 sectors".into()
            }))
        );
        assert_eq!(
            parse_line("KTAILOR-CHECK net FAIL"),
            Some(Marker::Check(CheckLine {
                name: "net".into(),
                pass: false,
                detail: String::new()
            }))
        );
        assert_eq!(
            parse_line("KTAILOR-RESULT FAIL"),
            Some(Marker::Result(false))
        );
        assert_eq!(
            parse_line("KTAILOR-RESULT PASS"),
            Some(Marker::Result(true))
        );
        assert_eq!(parse_line("KTAILOR-CHECK net MAYBE x"), None);
        assert_eq!(parse_line("Linux version 6.12"), None);
    }

    #[test]
    fn passed_needs_every_requested_check() {
        let r = BootReport {
            accel: "tcg",
            accel_note: None,
            time_to_init: None,
            checks: vec![CheckLine {
                name: "blk".into(),
                pass: true,
                detail: String::new(),
            }],
            result: Some(true),
            elapsed: Duration::ZERO,
            console_log: PathBuf::new(),
            tail: Vec::new(),
            kernel_cmdline: None,
        };
        assert!(r.passed(&["blk".into()]));
        assert!(!r.passed(&["blk".into(), "net".into()]));
    }

    #[test]
    fn missing_qemu_is_a_clear_error() {
        let job = BootJob {
            qemu: "ktailor-no-such-qemu".into(),
            target: Target::Direct {
                kernel: PathBuf::from("/nonexistent"),
                initrd: PathBuf::from("/nonexistent"),
            },
            workdir: std::env::temp_dir().join("ktailor-qemu-missing"),
            checks: Vec::new(),
            timeout: Duration::from_secs(1),
            accel: Accel::Tcg,
            kvm_probe: Duration::from_secs(1),
            memory_mb: 64,
            append: Vec::new(),
        };
        let e = boot(&job).expect_err("must fail");
        assert!(
            e.message
                .contains("cannot find ktailor-no-such-qemu in PATH"),
            "{}",
            e.message
        );
        assert!(e.hint.is_some_and(|h| h.contains("qemu-system-x86")));
    }
}
