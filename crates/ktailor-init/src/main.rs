//! `ktailor-init`: the `/init` of the test initramfs `ktailor initramfs`
//! writes. It runs as PID 1 in a freshly booted kernel, mounts /proc, /sys
//! and /dev, runs the checks named on the kernel command line, prints one
//! line per check on the console and powers the machine off (or restarts
//! it where it cannot power off: ktailor boots with QEMU's -no-reboot, so
//! either ends QEMU).
//!
//! The console protocol (read by `ktailor boot`, one line each):
//!
//! ```text
//! KTAILOR-INIT started            the first thing init prints
//! KTAILOR-CHECK NAME PASS detail  one per requested check
//! KTAILOR-CHECK NAME FAIL detail
//! KTAILOR-RESULT PASS|FAIL        after the last check; then power off
//! ```
//!
//! Kernel command line parameters (read from /proc/cmdline: the kernel does
//! not hand parameters with a dot in their name to init):
//!
//! - `ktailor.checks=blk,9p,net,config` — the checks, in order;
//! - `ktailor.token=T` — what `/ktailor-token` in the 9p share contains;
//! - `ktailor.share=TAG` — the 9p mount tag (default `hostshare`).
//!
//! This is deliberately not a general init: it starts nothing, and it never
//! panics on purpose — PID 1 exiting is a kernel panic, so every failure is
//! a FAIL line, and each check runs under `catch_unwind` as a last resort.
//! It must be linked statically (see Cargo.toml).

use std::io::{Read, Write};
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sys::reboot::{reboot, RebootMode};

/// Where `ktailor initramfs` puts the configuration the kernel was built
/// with, for the `config` check.
const CONFIG_COPY: &str = "/ktailor/config";
/// The file the `9p` check reads from the share.
const TOKEN_FILE: &str = "ktailor-token";

fn say(line: &str) {
    // The console is fd 1 (the kernel opened /dev/console for us); a
    // failed write cannot be reported anywhere else, so it is ignored.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() {
    say("KTAILOR-INIT started");
    let mut setup_errors = Vec::new();
    for (src, target, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
    ] {
        let _ = std::fs::create_dir_all(target);
        match mount(
            Some(src),
            target,
            Some(fstype),
            MsFlags::empty(),
            None::<&str>,
        ) {
            Ok(()) => {}
            // CONFIG_DEVTMPFS_MOUNT may already have mounted /dev.
            Err(nix::errno::Errno::EBUSY) => {}
            Err(e) => setup_errors.push(format!("mount {fstype} on {target}: {e}")),
        }
    }
    for e in &setup_errors {
        say(&format!("KTAILOR-CHECK setup FAIL {e}"));
    }
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let checks = param(&cmdline, "ktailor.checks")
        .map(|v| parse_list(&v))
        .unwrap_or_default();
    let ctx = Context {
        token: param(&cmdline, "ktailor.token"),
        share: param(&cmdline, "ktailor.share").unwrap_or_else(|| "hostshare".into()),
    };
    let mut all_pass = setup_errors.is_empty();
    for name in &checks {
        let outcome = std::panic::catch_unwind(|| run_check(name, &ctx))
            .unwrap_or_else(|_| Err("the check panicked (a bug in ktailor-init)".into()));
        match outcome {
            Ok(detail) => say(&format!("KTAILOR-CHECK {name} PASS {detail}")),
            Err(detail) => {
                all_pass = false;
                say(&format!("KTAILOR-CHECK {name} FAIL {detail}"));
            }
        }
    }
    say(&format!(
        "KTAILOR-RESULT {}",
        if all_pass { "PASS" } else { "FAIL" }
    ));
    nix::unistd::sync();
    // Without ACPI (a tinyconfig-based guest) x86 cannot power off: the
    // kernel turns the request into a halt and QEMU keeps running. A
    // restart always works (keyboard controller reset), and QEMU's
    // -no-reboot turns it into QEMU exiting.
    let mode = if Path::new("/sys/firmware/acpi").exists() {
        RebootMode::RB_POWER_OFF
    } else {
        RebootMode::RB_AUTOBOOT
    };
    let err = match reboot(mode) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    say(&format!("ktailor-init: power off failed: {err}"));
    // PID 1 must not exit (that is a kernel panic): wait for the host's
    // timeout instead.
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// What the checks need from the command line.
struct Context {
    token: Option<String>,
    share: String,
}

/// The value of `key=value` on a kernel command line (the last one wins,
/// as for the kernel's own parameters). Quoting is not supported: values
/// ktailor passes contain no spaces.
fn param(cmdline: &str, key: &str) -> Option<String> {
    cmdline
        .split_ascii_whitespace()
        .rev()
        .filter_map(|w| w.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

/// `a,b,,c` → `[a, b, c]`.
fn parse_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn run_check(name: &str, ctx: &Context) -> Result<String, String> {
    match name {
        "blk" => check_blk(Path::new("/sys/block/vda")),
        "9p" => check_9p(ctx),
        "net" => check_net(Path::new("/sys/class/net")),
        "config" => check_config(),
        other => Err(format!(
            "unknown check '{other}' (known: blk, 9p, net, config)"
        )),
    }
}

/// `blk`: the virtio disk showed up as vda.
fn check_blk(dev: &Path) -> Result<String, String> {
    if !dev.exists() {
        let present: Vec<String> = std::fs::read_dir("/sys/block")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        return Err(format!(
            "{} does not exist (block devices: {})",
            dev.display(),
            if present.is_empty() {
                "none".to_string()
            } else {
                present.join(" ")
            }
        ));
    }
    let sectors = std::fs::read_to_string(dev.join("size")).unwrap_or_default();
    Ok(format!("vda, {} sectors", sectors.trim()))
}

/// `9p`: the host share mounts read-only over virtio, writing fails with
/// EROFS, and the token file is readable with the expected content.
fn check_9p(ctx: &Context) -> Result<String, String> {
    let mnt = "/mnt";
    let _ = std::fs::create_dir_all(mnt);
    mount(
        Some(ctx.share.as_str()),
        mnt,
        Some("9p"),
        MsFlags::MS_RDONLY,
        Some("trans=virtio,version=9p2000.L"),
    )
    .map_err(|e| format!("mount -t 9p {} {mnt}: {e}", ctx.share))?;
    let probe = Path::new(mnt).join("ktailor-write-probe");
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            return Err("a write on the read-only share succeeded".into());
        }
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EROFS as i32) => {}
        Err(e) => return Err(format!("a write failed with {e}, not EROFS")),
    }
    let token_path = Path::new(mnt).join(TOKEN_FILE);
    let got = std::fs::read_to_string(&token_path)
        .map_err(|e| format!("cannot read {}: {e}", token_path.display()))?;
    match &ctx.token {
        Some(t) if got.trim() == t => Ok(format!("mounted ro, EROFS on write, {TOKEN_FILE} ok")),
        Some(t) => Err(format!(
            "{TOKEN_FILE} holds '{}', expected '{t}'",
            got.trim()
        )),
        None => Err("no ktailor.token= on the command line to compare with".into()),
    }
}

/// `net`: a network interface backed by a device exists. Interfaces
/// without a `device` link (lo, and sit0 that IPv6 creates) are virtual:
/// they would pass even with no NIC.
fn check_net(dir: &Path) -> Result<String, String> {
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("device").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        Err("no network interface backed by a device (only virtual ones such as lo)".into())
    } else {
        Ok(names.join(" "))
    }
}

/// `config`: the kernel's own copy of its configuration (/proc/config.gz,
/// CONFIG_IKCONFIG_PROC) equals the generated .config in the initramfs.
fn check_config() -> Result<String, String> {
    let gz = std::fs::File::open("/proc/config.gz").map_err(|e| {
        format!("cannot open /proc/config.gz ({e}): the kernel needs CONFIG_IKCONFIG_PROC=y")
    })?;
    let mut running = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut running)
        .map_err(|e| format!("cannot decompress /proc/config.gz: {e}"))?;
    let expected =
        std::fs::read(CONFIG_COPY).map_err(|e| format!("cannot read {CONFIG_COPY}: {e}"))?;
    compare_configs(&running, &expected)
}

fn compare_configs(running: &[u8], expected: &[u8]) -> Result<String, String> {
    if running == expected {
        return Ok(format!(
            "/proc/config.gz equals {CONFIG_COPY} ({} bytes)",
            expected.len()
        ));
    }
    let r = String::from_utf8_lossy(running);
    let e = String::from_utf8_lossy(expected);
    let first = r
        .lines()
        .zip(e.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| format!("line {}: running '{a}', generated '{b}'", i + 1))
        .unwrap_or_else(|| {
            format!(
                "one is a prefix of the other ({} vs {} lines)",
                r.lines().count(),
                e.lines().count()
            )
        });
    Err(format!(
        "/proc/config.gz differs from {CONFIG_COPY}: {first}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_read_from_the_command_line() {
        let c = "console=ttyS0 ktailor.checks=blk,9p,,net ktailor.token=abc quiet\n";
        assert_eq!(param(c, "ktailor.token").as_deref(), Some("abc"));
        assert_eq!(param(c, "ktailor.share"), None);
        let checks = parse_list(&param(c, "ktailor.checks").unwrap_or_default());
        assert_eq!(checks, ["blk", "9p", "net"]);
        assert_eq!(param("a=1 a=2", "a").as_deref(), Some("2"));
    }

    #[test]
    fn unknown_check_fails_with_the_known_list() {
        let ctx = Context {
            token: None,
            share: "hostshare".into(),
        };
        let e = run_check("gpu", &ctx).expect_err("must fail");
        assert!(e.contains("unknown check 'gpu'"), "{e}");
    }

    #[test]
    fn config_comparison_names_the_first_difference() {
        assert!(compare_configs(b"A=y\n", b"A=y\n").is_ok());
        let e = compare_configs(b"A=y\nB=y\n", b"A=y\nB=n\n").expect_err("must fail");
        assert!(e.contains("line 2: running 'B=y', generated 'B=n'"), "{e}");
        let e = compare_configs(b"A=y\n", b"A=y\nB=n\n").expect_err("must fail");
        assert!(e.contains("prefix"), "{e}");
    }

    #[test]
    fn net_ignores_virtual_interfaces() {
        let d = std::env::temp_dir().join(format!("ktailor-init-net-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("lo")).expect("mkdir");
        std::fs::create_dir_all(d.join("sit0")).expect("mkdir");
        assert!(check_net(&d).is_err());
        std::fs::create_dir_all(d.join("eth0/device")).expect("mkdir");
        assert_eq!(check_net(&d).as_deref(), Ok("eth0"));
        let _ = std::fs::remove_dir_all(&d);
    }
}
