//! The `ktailor` command line: argument parsing and output only. Each
//! subcommand is a thin wrapper over a library crate.

mod build_cmd;
mod efi_cmd;
mod generate_cmd;
mod hw_cmd;
mod kconfig_cmd;
mod localmod_cmd;
mod resolve_cmd;
mod upgrade_cmd;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Loading a tree allocates hundreds of thousands of small objects; the
/// system allocator spends a fifth of a warm run on them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes: 0 success, 1 a check failed / a request cannot hold, 2 an
/// error (bad input, I/O, tool failure).
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "ktailor",
    version,
    about = "Declarative, provably right Linux kernel configuration"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where the kernel tree is, as `make -C SRCTREE O=OBJTREE ARCH=ARCH
/// KCONFIG_CONFIG=FILE KBUILD_KCONFIG=FILE` would take it.
#[derive(Args, Clone, Debug)]
pub struct TreeOpts {
    /// The source tree (default: the current directory).
    #[arg(
        short = 'C',
        long = "srctree",
        value_name = "SRCTREE",
        default_value = "."
    )]
    pub srctree: std::path::PathBuf,
    /// The architecture, as make's ARCH= (default: ARCH from the
    /// environment, else the host's).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// The object tree, as make's O= (default: the source tree).
    #[arg(short = 'O', long = "objtree", value_name = "OBJTREE")]
    pub objtree: Option<std::path::PathBuf>,
    /// The configuration file (default: OBJTREE/.config, or KCONFIG_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// The top Kconfig file, relative to SRCTREE (default: Kconfig).
    #[arg(long, value_name = "FILE")]
    pub kconfig: Option<std::path::PathBuf>,
    /// Kconfig semantics for trees without a kernel Makefile: 6.1 or 6.12.
    #[arg(long, value_name = "VERSION")]
    pub kconfig_dialect: Option<String>,
    /// Do not use the $(shell) result cache.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a `make *config` target: olddefconfig, alldefconfig, allnoconfig,
    /// allyesconfig, allmodconfig, defconfig [FILE], savedefconfig,
    /// listnewconfig, helpnewconfig, tinyconfig, randconfig,
    /// yes2modconfig, mod2yesconfig, mod2noconfig, or NAME.config.
    Kconfig(kconfig_cmd::KconfigArgs),
    /// Generate the kernels a spec declares, with the no-silent-drops gate.
    Generate(generate_cmd::GenerateArgs),
    /// List the feature library, or show one feature.
    Features(generate_cmd::FeaturesArgs),
    /// Check a configuration (a file or the running kernel's) against
    /// features or a spec kernel.
    Check(generate_cmd::CheckArgs),
    /// Write a JSON report of this machine's hardware (reads /sys and
    /// /proc only; no root needed).
    Probe(hw_cmd::ProbeArgs),
    /// Map a hardware report (probe JSON, lspci -k, lsmod, module list)
    /// to modules and CONFIG symbols of a kernel tree.
    Hw(hw_cmd::HwArgs),
    /// Keep the modules a machine uses (probe report, lsmod, lspci -k or a
    /// module list) and switch the configuration's other modules off, as
    /// `make localmodconfig` does, through the engine and the resolver.
    Localmodconfig(localmod_cmd::LocalmodArgs),
    /// Explain an option: its value and why, dependencies with live
    /// values, selects, help, and what enabling it would take.
    Explain(resolve_cmd::ExplainArgs),
    /// Enable options with everything they need; the exact engine confirms
    /// the plan before anything is written.
    Enable(resolve_cmd::EnableArgs),
    /// Switch options off, following the selects that force them on.
    Disable(resolve_cmd::DisableArgs),
    /// Compare two configurations (removed, added, changed).
    Diff(resolve_cmd::DiffArgs),
    /// Carry a configuration onto a new tree (olddefconfig) and report new,
    /// vanished and changed options with why.
    Upgrade(upgrade_cmd::UpgradeArgs),
    /// Build the kernels a spec declares: generate through the gate, then
    /// make in OUT/NAME.
    Build(build_cmd::BuildArgs),
    /// Write a kernel's test initramfs (OUT/NAME/initramfs.cpio.gz).
    Initramfs(build_cmd::InitramfsArgs),
    /// Build one bootable EFI file: the kernel's EFI stub with the
    /// initramfs and command line built in, or a UKI (--uki); --esp also
    /// writes a FAT image with it at EFI/BOOT/BOOTX64.EFI.
    Efi(efi_cmd::EfiArgs),
    /// Boot a built kernel under QEMU (directly, or its EFI file under
    /// OVMF) and run the init's checks.
    Boot(build_cmd::BootArgs),
    /// Show a kernel image's version, boot header and EFI stub, or a UKI's
    /// sections.
    Inspect(build_cmd::InspectArgs),
}

/// A reader that went away (`ktailor inspect IMAGE | head`) ends the
/// process quietly with the status a shell reports for SIGPIPE (128 + 13),
/// as C tools do, instead of a panic message. Rust ignores SIGPIPE, so the
/// closed pipe surfaces as a failed `println!`.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    // Kconfig evaluation recurses along dependency chains; give it room.
    let child = std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(move || match cli.cmd {
            Cmd::Kconfig(a) => kconfig_cmd::run(a),
            Cmd::Generate(a) => generate_cmd::run(a),
            Cmd::Features(a) => generate_cmd::features(a),
            Cmd::Check(a) => generate_cmd::check(a),
            Cmd::Probe(a) => hw_cmd::probe(a),
            Cmd::Hw(a) => hw_cmd::hw(a),
            Cmd::Localmodconfig(a) => localmod_cmd::run(a),
            Cmd::Explain(a) => resolve_cmd::explain(a),
            Cmd::Enable(a) => resolve_cmd::enable(a),
            Cmd::Disable(a) => resolve_cmd::disable(a),
            Cmd::Diff(a) => resolve_cmd::diff_configs(a),
            Cmd::Upgrade(a) => upgrade_cmd::run(a),
            Cmd::Build(a) => build_cmd::build(a),
            Cmd::Initramfs(a) => build_cmd::initramfs(a),
            Cmd::Efi(a) => efi_cmd::run(a),
            Cmd::Boot(a) => build_cmd::boot(a),
            Cmd::Inspect(a) => build_cmd::inspect(a),
        });
    let code = match child.map(|h| h.join()) {
        Ok(Ok(c)) => c,
        _ => {
            eprintln!("error: internal error (thread failed)");
            EXIT_ERROR
        }
    };
    ExitCode::from(code)
}
