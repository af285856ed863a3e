//! `ktailor probe` and `ktailor hw REPORT`: glue over `ktailor-hw`.

use std::path::{Path, PathBuf};

use clap::Args;
use ktailor_hw::alias::Aliases;
use ktailor_hw::config::Config;
use ktailor_hw::ids::Ids;
use ktailor_hw::kbuild::Index;
use ktailor_hw::map::{map, render_text, Context, Row};
use ktailor_hw::Error;

use crate::{EXIT_ERROR, EXIT_OK};

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Write the report here (atomically) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct HwArgs {
    /// The hardware: `ktailor probe` JSON, `lspci -k` text, `lsmod`
    /// output, or one module name per line.
    pub report: PathBuf,
    /// The kernel source tree whose Makefiles map modules to symbols.
    #[arg(
        short = 'C',
        long = "srctree",
        value_name = "SRCTREE",
        default_value = "."
    )]
    pub srctree: PathBuf,
    /// The architecture (default: the report's machine, else ARCH, else
    /// the host's).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// The configuration to compare with (default: SRCTREE/.config if it
    /// exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A modules.alias to match the devices' modaliases with.
    #[arg(long, value_name = "FILE")]
    pub modules_alias: Option<PathBuf>,
    /// Where firmware files are looked up for built-in drivers.
    #[arg(long, value_name = "DIR", default_value = "/lib/firmware")]
    pub firmware_dir: PathBuf,
    /// Output format: text or json.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub format: String,
    /// Do not use (or write) the Makefile index cache.
    #[arg(long)]
    pub no_cache: bool,
}

pub fn probe(a: ProbeArgs) -> u8 {
    match &a.output {
        Some(p) => match ktailor_hw::probe::probe_to_file(p) {
            Ok(r) => {
                eprintln!(
                    "wrote {}: {} devices, {} modules",
                    p.display(),
                    r.devices.len(),
                    r.modules.len()
                );
                EXIT_OK
            }
            Err(e) => {
                eprintln!("{e}");
                EXIT_ERROR
            }
        },
        None => {
            let r = ktailor_hw::probe::ProbeRoot::default().probe();
            match serde_json::to_string_pretty(&r) {
                Ok(s) => {
                    println!("{s}");
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    EXIT_ERROR
                }
            }
        }
    }
}

/// The firmware section of the output: what built-in drivers declare.
struct Firmware {
    extra_firmware: Vec<String>,
    extra_firmware_dir: String,
    missing: Vec<String>,
}

fn firmware(
    rows: &[Row],
    srctree: &Path,
    input: &ktailor_hw::input::Input,
    dir: &Path,
) -> Option<Firmware> {
    let mut names: Vec<String> = Vec::new();
    for r in rows.iter().filter(|r| r.config == Some('y')) {
        for h in &r.hits {
            let d = Path::new(&h.object).parent().unwrap_or(Path::new(""));
            for n in ktailor_hw::firmware::declared_in(&srctree.join(d)).0 {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        // The report's modinfo data for the module, when it has it.
        if let (Some(rep), Some(m)) = (&input.report, &r.module) {
            let m = ktailor_hw::alias::normalize_module(m);
            for x in rep
                .modules
                .iter()
                .filter(|x| ktailor_hw::alias::normalize_module(&x.name) == m)
            {
                for n in &x.firmware {
                    if !names.contains(n) {
                        names.push(n.clone());
                    }
                }
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    let (found, missing) = ktailor_hw::firmware::locate(&names, dir);
    // Kbuild reads a relative EXTRA_FIRMWARE_DIR from the tree, not from
    // where ktailor ran.
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    Some(Firmware {
        extra_firmware: found,
        extra_firmware_dir: abs.display().to_string(),
        missing,
    })
}

fn run_hw(a: &HwArgs) -> Result<(), Error> {
    if a.format != "text" && a.format != "json" {
        return Err(
            Error::new("", 0, format!("unknown --format '{}'", a.format)).hint("use text or json"),
        );
    }
    let input = ktailor_hw::input::read(&a.report)?;
    let arch = a
        .arch
        .clone()
        .or_else(|| input.report.as_ref().and_then(|r| r.machine.clone()))
        .or_else(|| std::env::var("ARCH").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(ktailor_hw::kbuild::host_arch);
    let cache = (!a.no_cache).then(ktailor_hw::cache_dir);
    let t = std::time::Instant::now();
    let (index, used) = Index::load(&a.srctree, &arch, cache.as_deref())?;
    let (dirs, objs) = index.size();
    eprintln!(
        "index of {}: {dirs} directories, {objs} objects ({:?}, {:.3}s)",
        a.srctree.display(),
        used,
        t.elapsed().as_secs_f64()
    );
    let aliases = match &a.modules_alias {
        Some(p) => Some(Aliases::read(p)?),
        None => None,
    };
    let config_path = a.config.clone().or_else(|| {
        let p = a.srctree.join(".config");
        p.is_file().then_some(p)
    });
    let config = match &config_path {
        Some(p) => Some(Config::read(p)?),
        None => None,
    };
    let pci = Ids::load("pci.ids");
    let usb = Ids::load("usb.ids");
    let cx = Context {
        index: &index,
        aliases: aliases.as_ref(),
        config: config.as_ref(),
        pci_ids: pci.as_ref(),
        usb_ids: usb.as_ref(),
        cache_dir: cache.as_deref(),
    };
    let rows = map(&input, &cx);
    let fw = config
        .as_ref()
        .and_then(|_| firmware(&rows, &a.srctree, &input, &a.firmware_dir));
    let unmapped = rows.iter().filter(|r| r.unmapped.is_some()).count();
    if a.format == "json" {
        let v = serde_json::json!({
            "format": input.format.name(),
            "arch": arch,
            "config": config_path.as_ref().map(|p| p.display().to_string()),
            "rows": rows,
            "firmware": fw.as_ref().map(|f| serde_json::json!({
                "extra_firmware": f.extra_firmware,
                "extra_firmware_dir": f.extra_firmware_dir,
                "missing": f.missing,
            })),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", render_text(&rows));
        if let Some(f) = &fw {
            println!("firmware for built-in drivers:");
            println!(
                "    CONFIG_EXTRA_FIRMWARE=\"{}\"",
                f.extra_firmware.join(" ")
            );
            println!("    CONFIG_EXTRA_FIRMWARE_DIR=\"{}\"", f.extra_firmware_dir);
            for m in &f.missing {
                println!("    missing: {m}");
            }
        }
    }
    eprintln!(
        "{} {} read as {}: {} rows, {} not mapped",
        a.report.display(),
        if input.report.is_some() {
            "report"
        } else {
            "input"
        },
        input.format.name(),
        rows.len(),
        unmapped
    );
    Ok(())
}

pub fn hw(a: HwArgs) -> u8 {
    match run_hw(&a) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("{e}");
            EXIT_ERROR
        }
    }
}
