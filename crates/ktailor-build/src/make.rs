//! Running the kernel build: `make -C SRCTREE O=OBJTREE ARCH=ARCH -jN`,
//! the whole output in `OBJTREE/build.log`, progress counted from kbuild's
//! quiet command lines (`  CC      kernel/fork.o`), and a report of what
//! came out (image, modules, time).
//!
//! Incremental builds are make's own: nothing here touches the object tree
//! except `build.log`, `build.estimate` (the progress estimate) and the
//! copy of the image at `OBJTREE/IMAGE-NAME` (written only when it
//! changes). ccache is deliberately not used: `CC`
//! is part of every object's recorded command line (`.*.cmd`), so switching
//! it on or off rebuilds everything, and Kconfig's `$(shell)` probes would
//! run through it; a user who wants it sets it up for gcc itself.
//!
//! Not here: generating the configuration (see `kernel`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ktailor_kconfig::Diagnostic;

use crate::err;

/// What to build.
#[derive(Clone, Debug)]
pub struct MakeJob {
    pub srctree: PathBuf,
    pub objtree: PathBuf,
    pub arch: String,
    /// Extra make variables (`CROSS_COMPILE=...`).
    pub make_vars: Vec<(String, String)>,
    /// make's `-j`.
    pub jobs: usize,
    /// The configuration that was generated, to notice when the build's
    /// own `syncconfig` rewrote it (that would mean ktailor's engine and
    /// the kernel's conf disagree).
    pub expected_config: Option<Vec<u8>>,
    /// The make program (default `make`).
    pub make: String,
}

/// A progress step: `done` quiet command lines of an estimated total.
#[derive(Clone, Debug)]
pub struct Progress {
    pub done: usize,
    pub estimate: usize,
    /// The command line make just printed (`CC      kernel/fork.o`).
    pub line: String,
}

/// What a successful build produced.
#[derive(Clone, Debug)]
pub struct BuildReport {
    /// The image make built (`OBJTREE/arch/x86/boot/bzImage`).
    pub image_built: PathBuf,
    /// Its copy at `OBJTREE/bzImage`, what boot and inspect read.
    pub image: PathBuf,
    pub image_size: u64,
    pub modules: usize,
    pub modules_size: u64,
    pub elapsed: Duration,
    /// Quiet command lines make printed (0: nothing was rebuilt, apart
    /// from the few steps kbuild always runs).
    pub commands: usize,
    /// Objects compiled (`CC` lines).
    pub compiled: usize,
    pub log: PathBuf,
    /// Set when the kernel's own syncconfig changed `.config`.
    pub config_rewritten: bool,
}

/// The estimate when there is no previous log: about what a small
/// virtio guest kernel prints (the sandbox example: see docs/boot.md).
const DEFAULT_ESTIMATE: usize = 2200;

/// Whether a make output line is one of kbuild's quiet command lines:
/// two spaces, an upper-case tag (`CC`, `LD [M]`, `HOSTCC`, `AR`), spaces,
/// an argument.
pub fn is_command_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("  ") else {
        return false;
    };
    let tag_end = rest
        .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(rest.len());
    if tag_end == 0 {
        return false;
    }
    let after = rest[tag_end..].trim_start_matches(" [M]");
    after.starts_with(' ') && !after.trim().is_empty()
}

/// The number of command lines in a previous build log: the next build's
/// progress estimate.
pub fn estimate_from_log(log: &str) -> usize {
    log.lines().filter(|l| is_command_line(l)).count()
}

/// The first `error:` line of a build log with a few lines of context
/// around it, or make's own `***` failure line.
pub fn first_error(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("error:") || l.contains("Error:"))
        .or_else(|| lines.iter().position(|l| l.contains("***")))?;
    let from = at.saturating_sub(3);
    let to = (at + 4).min(lines.len());
    Some(lines[from..to].join("\n"))
}

/// The compressors a configuration makes the build run: the kernel
/// image's (`KERNEL_*`) and the built-in initramfs's
/// (`INITRAMFS_COMPRESSION_*`), as (option, make variable) pairs.
const COMPRESSORS: &[(&str, &str)] = &[
    ("KERNEL_BZIP2", "KBZIP2"),
    ("KERNEL_LZMA", "LZMA"),
    ("KERNEL_XZ", "XZ"),
    ("KERNEL_LZO", "LZOP"),
    ("KERNEL_LZ4", "LZ4"),
    ("KERNEL_ZSTD", "ZSTD"),
    ("INITRAMFS_COMPRESSION_BZIP2", "KBZIP2"),
    ("INITRAMFS_COMPRESSION_LZMA", "LZMA"),
    ("INITRAMFS_COMPRESSION_XZ", "XZ"),
    ("INITRAMFS_COMPRESSION_LZO", "LZOP"),
    ("INITRAMFS_COMPRESSION_LZ4", "LZ4"),
    ("INITRAMFS_COMPRESSION_ZSTD", "ZSTD"),
];

/// The compressor programs `config` needs that are not on `path` (a
/// `PATH` value), as (option, program) pairs. The program is what the
/// tree's top Makefile assigns to the make variable (`ZSTD = zstd`,
/// `LZ4 = lz4c` on older trees), unless the job sets the variable itself.
/// Found before make starts, so a long build does not fail at its last
/// step for want of a program.
pub fn missing_compressors(
    config: &str,
    top_makefile: &str,
    make_vars: &[(String, String)],
    path: &std::ffi::OsStr,
) -> Vec<(String, String)> {
    let program = |var: &str| -> Option<String> {
        if let Some((_, v)) = make_vars.iter().find(|(k, _)| k == var) {
            return v.split_whitespace().next().map(str::to_string);
        }
        top_makefile.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            let k = k.trim_end_matches([' ', '\t', ':', '?']);
            (k == var).then(|| v.split_whitespace().next().map(str::to_string))?
        })
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for (opt, var) in COMPRESSORS {
        let set = config.lines().any(|l| {
            l.strip_prefix("CONFIG_")
                .and_then(|l| l.strip_prefix(opt))
                .is_some_and(|rest| rest == "=y")
        });
        if !set {
            continue;
        }
        if let Some(prog) = program(var) {
            if crate::find_program_in(&prog, path).is_none() && !out.iter().any(|(_, p)| *p == prog)
            {
                out.push((opt.to_string(), prog));
            }
        }
    }
    out
}

fn make_command(job: &MakeJob) -> Command {
    // make -C changes directory before it reads O=, so a relative object
    // tree would land inside the source tree.
    let objtree = std::path::absolute(&job.objtree).unwrap_or_else(|_| job.objtree.clone());
    let mut c = Command::new(&job.make);
    c.arg("-C")
        .arg(&job.srctree)
        .arg(format!("O={}", objtree.display()))
        .arg(format!("ARCH={}", job.arch));
    for (k, v) in &job.make_vars {
        c.arg(format!("{k}={v}"));
    }
    // These would point make at another configuration or object tree than
    // the one ktailor generated.
    for v in [
        "KCONFIG_CONFIG",
        "KBUILD_OUTPUT",
        "O",
        "ARCH",
        "CROSS_COMPILE",
    ] {
        c.env_remove(v);
    }
    c
}

/// The Debian package that ships a compressor program.
fn debian_package(prog: &str) -> &str {
    match prog.rsplit('/').next().unwrap_or(prog) {
        "xz" | "lzma" => "xz-utils",
        "lz4" | "lz4c" => "lz4",
        p => p,
    }
}

/// Runs the build, calling `progress` for every command line make prints.
/// On failure the error carries the first `error:` line with context and
/// the path of the full log.
pub fn build(
    job: &MakeJob,
    progress: &mut dyn FnMut(&Progress),
) -> Result<BuildReport, Diagnostic> {
    if !job.srctree.join("Makefile").is_file() {
        return Err(err(format!(
            "{} is not a kernel source tree (no Makefile)",
            job.srctree.display()
        )));
    }
    if let Some(config) = &job.expected_config {
        let top = std::fs::read_to_string(job.srctree.join("Makefile")).unwrap_or_default();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let config = String::from_utf8_lossy(config);
        if let Some((opt, prog)) = missing_compressors(&config, &top, &job.make_vars, &path)
            .into_iter()
            .next()
        {
            return Err(err(format!(
                "CONFIG_{opt}=y: the build compresses with `{prog}`, which is not installed (not on PATH)"
            ))
            .with_hint(format!(
                "install {prog} (Debian: apt-get install {}), or choose another compression in the spec",
                debian_package(&prog)
            )));
        }
    }
    std::fs::create_dir_all(&job.objtree)
        .map_err(|e| err(format!("cannot create {}: {e}", job.objtree.display())))?;
    let log_path = job.objtree.join("build.log");
    // The most command lines any build of this tree printed (kept in
    // build.estimate, as a no-op rebuild's log says little), else the
    // previous log's count, else a guess.
    let estimate_path = job.objtree.join("build.estimate");
    let previous = std::fs::read_to_string(&estimate_path)
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .or_else(|| {
            std::fs::read_to_string(&log_path)
                .ok()
                .map(|l| estimate_from_log(&l))
        })
        .filter(|&n| n > 0);
    let estimate = previous.unwrap_or(DEFAULT_ESTIMATE);
    let log = std::fs::File::create(&log_path)
        .map_err(|e| err(format!("cannot write {}: {e}", log_path.display())))?;
    let log = Arc::new(Mutex::new(std::io::BufWriter::new(log)));
    let start = Instant::now();
    let mut cmd = make_command(job);
    cmd.arg(format!("-j{}", job.jobs.max(1)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        err(format!("cannot run {}: {e}", job.make))
            .with_hint("install make and the kernel's build dependencies (gcc, flex, bison, bc, libelf-dev, libssl-dev)")
    })?;
    // stderr goes to the log from its own thread; stdout (the command
    // lines) is read here for progress. The two streams interleave in the
    // log at line granularity, as on a terminal.
    let stderr = child.stderr.take();
    let log2 = Arc::clone(&log);
    let err_thread = std::thread::spawn(move || {
        if let Some(s) = stderr {
            for line in BufReader::new(s).split(b'\n').map_while(Result::ok) {
                if let Ok(mut l) = log2.lock() {
                    let _ = l.write_all(&line);
                    let _ = l.write_all(b"\n");
                }
            }
        }
    });
    let mut commands = 0;
    let mut compiled = 0;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).split(b'\n').map_while(Result::ok) {
            if let Ok(mut l) = log.lock() {
                let _ = l.write_all(&line);
                let _ = l.write_all(b"\n");
            }
            let text = String::from_utf8_lossy(&line);
            if is_command_line(&text) {
                commands += 1;
                if text.trim_start().starts_with("CC ") {
                    compiled += 1;
                }
                progress(&Progress {
                    done: commands,
                    estimate: estimate.max(commands),
                    line: text.trim().to_string(),
                });
            }
        }
    }
    let _ = err_thread.join();
    let status = child
        .wait()
        .map_err(|e| err(format!("waiting for make: {e}")))?;
    if let Ok(mut l) = log.lock() {
        let _ = l.flush();
    }
    let elapsed = start.elapsed();
    let keep = commands.max(previous.unwrap_or(0));
    if keep > 0 && (commands > previous.unwrap_or(0) || !estimate_path.is_file()) {
        let _ = std::fs::write(&estimate_path, format!("{keep}\n"));
    }
    if !status.success() {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let excerpt = first_error(&text).unwrap_or_else(|| "(no error line found)".into());
        let mut d = err(format!(
            "the kernel build failed ({status}) after {:.0} s",
            elapsed.as_secs_f64()
        ));
        for l in excerpt.lines() {
            d = d.with_note(format!("| {l}"));
        }
        return Err(d.with_hint(format!("the full log is {}", log_path.display())));
    }
    let image_rel = image_name(job)?;
    let image_built = job.objtree.join(&image_rel);
    let bytes = std::fs::read(&image_built).map_err(|e| {
        err(format!(
            "make succeeded but the image {} cannot be read: {e}",
            image_built.display()
        ))
    })?;
    let image = job.objtree.join(
        Path::new(&image_rel)
            .file_name()
            .unwrap_or(std::ffi::OsStr::new("image")),
    );
    crate::write_if_changed(&image, &bytes)?;
    let (modules, modules_size) = count_modules(&job.objtree);
    let config_rewritten = match &job.expected_config {
        Some(want) => std::fs::read(job.objtree.join(".config")).ok().as_ref() != Some(want),
        None => false,
    };
    Ok(BuildReport {
        image_built,
        image,
        image_size: bytes.len() as u64,
        modules,
        modules_size,
        elapsed,
        commands,
        compiled,
        log: log_path,
        config_rewritten,
    })
}

/// The image make builds by default (`make image_name`, KBUILD_IMAGE),
/// relative to the object tree.
fn image_name(job: &MakeJob) -> Result<String, Diagnostic> {
    let o = make_command(job)
        .arg("-s")
        .arg("image_name")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| err(format!("cannot run {}: {e}", job.make)))?;
    // The last line that is not make's own chatter ("make[1]: Entering
    // directory ...").
    let stdout = String::from_utf8_lossy(&o.stdout);
    let name = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("make"))
        .unwrap_or("")
        .to_string();
    if !o.status.success() || name.is_empty() {
        return Err(err(format!(
            "`make image_name` did not name the image: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(name)
}

/// `*.ko` files under the object tree: count and total size.
fn count_modules(dir: &Path) -> (usize, u64) {
    let mut n = 0;
    let mut size = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.filter_map(|e| e.ok()) {
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() && p.extension().is_some_and(|x| x == "ko") {
                n += 1;
                size += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    (n, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_kbuilds_quiet_lines() {
        assert!(is_command_line("  CC      kernel/fork.o"));
        assert!(is_command_line("  LD [M]  fs/9p/9p.ko"));
        assert!(is_command_line("  HOSTCC  scripts/basic/fixdep"));
        assert!(is_command_line("  AR      lib/lib.a"));
        assert!(!is_command_line("make[1]: Entering directory '/x'"));
        assert!(!is_command_line("  "));
        assert!(!is_command_line("  CC"));
        assert!(!is_command_line("kernel/fork.c:12: error: x"));
        assert!(!is_command_line("  cc      lower"));
    }

    #[test]
    fn compressors_the_config_needs_are_found_before_make_runs() {
        let dir = std::env::temp_dir().join(format!("ktailor-compressors-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("xz"), "").expect("write");
        let path = std::env::join_paths([&dir]).expect("PATH");
        let top = "KGZIP\t\t= gzip\nXZ\t\t= xz\nZSTD\t\t= zstd\nLZ4\t\t= lz4c\n";
        let cfg = "CONFIG_KERNEL_ZSTD=y\nCONFIG_INITRAMFS_COMPRESSION_XZ=y\n# CONFIG_KERNEL_LZ4 is not set\nCONFIG_KERNEL_ZSTDX=y\n";
        assert_eq!(
            missing_compressors(cfg, top, &[], &path),
            vec![("KERNEL_ZSTD".to_string(), "zstd".to_string())]
        );
        // A make variable on the command line names the program instead.
        let vars = [("ZSTD".to_string(), format!("{}/xz --flag", dir.display()))];
        assert!(missing_compressors(cfg, top, &vars, &path).is_empty());
        // gzip is not checked (every build host has it), nor unset options.
        assert!(missing_compressors("CONFIG_KERNEL_GZIP=y\n", top, &[], &path).is_empty());
        let lz4 = "CONFIG_KERNEL_LZ4=y\n";
        assert_eq!(missing_compressors(lz4, top, &[], &path)[0].1, "lz4c");
        std::fs::remove_dir_all(&dir).expect("remove temp dir");
    }

    #[test]
    fn estimate_counts_command_lines() {
        let log = "make: x\n  CC      a.o\n  LD      b\nwarning\n  AR      c.a\n";
        assert_eq!(estimate_from_log(log), 3);
    }

    #[test]
    fn first_error_has_context() {
        let log = "  CC      a.o\n  CC      b.o\nb.c: In function 'f':\nb.c:3:1: error: expected ';'\n    3 | x\nmake[2]: *** [b.o] Error 1\n";
        let e = first_error(log).unwrap_or_default();
        assert!(e.contains("b.c:3:1: error: expected ';'"), "{e}");
        assert!(e.contains("In function"), "{e}");
        assert_eq!(first_error("all fine\n"), None);
    }

    /// Regression: `--out out` made make write into SRCTREE/out, because
    /// make -C changes directory before it reads O=.
    #[test]
    fn relative_object_tree_becomes_absolute() {
        let job = MakeJob {
            srctree: PathBuf::from("/src/linux"),
            objtree: PathBuf::from("out/k"),
            arch: "x86_64".into(),
            make_vars: Vec::new(),
            jobs: 1,
            expected_config: None,
            make: "make".into(),
        };
        let c = make_command(&job);
        let o = c
            .get_args()
            .filter_map(|a| a.to_str())
            .find_map(|a| a.strip_prefix("O="))
            .map(PathBuf::from)
            .expect("an O= argument");
        assert!(o.is_absolute(), "{}", o.display());
        assert!(o.ends_with("out/k"), "{}", o.display());
    }

    /// A build that fails: make's real exit status, the first error line
    /// with context, and the log's path (a stand-in Makefile plays the
    /// kernel's).
    #[test]
    fn failing_build_reports_the_first_error() {
        let d = std::env::temp_dir().join(format!("ktailor-make-fail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("src")).expect("dir");
        std::fs::write(
            d.join("src/Makefile"),
            "all:\n\t@echo '  CC      kernel/fork.o'\n\t@echo 'kernel/fork.c:3:1: error: expected ;' >&2\n\t@exit 2\n",
        )
        .expect("Makefile");
        let job = MakeJob {
            srctree: d.join("src"),
            objtree: d.join("obj"),
            arch: "x86_64".into(),
            make_vars: Vec::new(),
            jobs: 1,
            expected_config: None,
            make: "make".into(),
        };
        let e = build(&job, &mut |_| {}).expect_err("must fail");
        assert!(
            e.message.contains("the kernel build failed"),
            "{}",
            e.message
        );
        assert!(
            e.notes
                .iter()
                .any(|n| n.contains("kernel/fork.c:3:1: error: expected ;")),
            "{:?}",
            e.notes
        );
        assert!(e.hint.is_some_and(|h| h.contains("build.log")));
        let log = std::fs::read_to_string(d.join("obj/build.log")).unwrap_or_default();
        assert!(log.contains("CC      kernel/fork.o"), "{log}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn missing_tree_is_a_clear_error() {
        let job = MakeJob {
            srctree: PathBuf::from("/nonexistent/linux"),
            objtree: std::env::temp_dir().join("ktailor-make-missing-tree"),
            arch: "x86_64".into(),
            make_vars: Vec::new(),
            jobs: 1,
            expected_config: None,
            make: "make".into(),
        };
        let e = build(&job, &mut |_| {})
            .err()
            .map(|d| d.message)
            .unwrap_or_default();
        assert!(e.contains("not a kernel source tree"), "{e}");
    }
}
