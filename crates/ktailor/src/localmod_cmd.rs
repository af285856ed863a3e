//! `ktailor localmodconfig REPORT`: keep the modules a machine uses,
//! switch the configuration's other modules off.
//!
//! Glue: `ktailor-hw` maps the report and plans what to keep
//! (`localmod::plan`); the configuration with the other `m` symbols off is
//! settled by the engine, round after round, putting back the switched-off
//! options the kept ones rest on (`ktailor_resolve::keep`: only what was
//! on, never a new option); it is written, keeping `.config.old`, only
//! when every kept option holds in the engine's result.

use std::path::PathBuf;

use clap::Args;
use ktailor_hw::config::Config;
use ktailor_hw::kbuild::Index;
use ktailor_hw::map::{map, Context};
use ktailor_hw::wants::{wants, Select};
use ktailor_kconfig::{SymType, Tri};

use crate::resolve_cmd::current;
use crate::{TreeOpts, EXIT_ERROR, EXIT_FAILED, EXIT_OK};

#[derive(Args, Debug)]
pub struct LocalmodArgs {
    /// What the machine uses: `ktailor probe` JSON, `lsmod` output (as
    /// make's LSMOD=), `lspci -k` text, or one module name per line.
    pub report: PathBuf,
    /// Print the plan; do not write the configuration.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub tree: TreeOpts,
}

/// The configuration text with each `CONFIG_X=m` of `off` turned into
/// `# CONFIG_X is not set`, everything else as it was.
fn switch_off(bytes: &[u8], off: &[String]) -> Vec<u8> {
    let off: std::collections::HashSet<&str> = off.iter().map(String::as_str).collect();
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for l in text.split_inclusive('\n') {
        let name = l
            .strip_prefix("CONFIG_")
            .and_then(|r| r.trim_end().strip_suffix("=m"));
        match name {
            Some(n) if off.contains(n) => {
                out.push_str(&format!("# CONFIG_{n} is not set\n"));
            }
            _ => out.push_str(l),
        }
    }
    out.into_bytes()
}

pub fn run(a: LocalmodArgs) -> u8 {
    let cur = match current(&a.tree) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let input = match ktailor_hw::input::read(&a.report) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_ERROR;
        }
    };
    let arch = cur
        .tree
        .tree
        .arch
        .clone()
        .unwrap_or_else(ktailor_hw::kbuild::host_arch);
    let cache = (!a.tree.no_cache).then(ktailor_hw::cache_dir);
    let index = match Index::load(&cur.tree.tree.srctree, &arch, cache.as_deref()) {
        Ok((i, _)) => i,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_ERROR;
        }
    };
    let cx = Context::with_index(&index, cache.as_deref());
    let rows = map(&input, &cx);
    let w = wants(
        &rows,
        &Select {
            classes: None,
            modules: true,
        },
    );
    let config = Config::parse(
        &String::from_utf8_lossy(&cur.bytes),
        &cur.config_path.display().to_string(),
    );
    let p = ktailor_hw::localmod::plan(&w, &config);
    for u in &w.unmapped {
        eprintln!(
            "warning: {}: {}: module {} is not kept: {}",
            u.at, u.what, u.module, u.reason
        );
    }
    for (s, who) in &p.missing {
        eprintln!(
            "note: CONFIG_{s} is off in {}, but {who} needs it; localmodconfig does not switch options on (`ktailor enable {s}` does)",
            cur.config_path.display()
        );
    }
    // The kept options that are on stay on: at least m (a y stays y).
    let mut keep: Vec<(String, String)> = Vec::new();
    for s in p.keep.keys() {
        let Some(id) = cur.k.find(s) else { continue };
        if !matches!(cur.k.sym(id).ty, SymType::Bool | SymType::Tristate) {
            continue;
        }
        match config.tristate(s) {
            'y' => keep.push((s.clone(), "y".into())),
            'm' => keep.push((s.clone(), "m".into())),
            _ => {}
        }
    }
    // Put back what the kept options rest on, among what was switched off
    // (never a new option); the engine evaluates every round.
    let mut run_err = None;
    let mut evaluate = |off: &[String]| match cur.tree.settle(switch_off(&cur.bytes, off)) {
        Ok(o) => Some(o.kconfig),
        Err(e) => {
            run_err = Some(e.diags);
            None
        }
    };
    let Some(kept) = ktailor_resolve::keep::keep(&keep, &p.off, &mut evaluate, 40) else {
        crate::kconfig_cmd::print_diags(&run_err.unwrap_or_default(), &cur.tree.tree.srctree);
        return EXIT_ERROR;
    };
    // The gate: every kept option holds in the evaluated configuration.
    let mut k = kept.kconfig;
    // The text of the last evaluation (the returned tree's).
    let new_config = cur.tree.config_text(&mut k);
    let mut failed = 0;
    for (n, want) in &keep {
        let Some(s) = k.find(n) else { continue };
        k.sym_calc_value(s);
        let actual = k.sym_string_value_now(s);
        if actual == *want || (want == "m" && actual == "y") {
            continue;
        }
        failed += 1;
        eprintln!("error: CONFIG_{n}={want} cannot be kept: it ends up {actual}");
        let v = match want.as_str() {
            "y" => ktailor_spec::Value::Tri(Tri::Y),
            _ => ktailor_spec::Value::Tri(Tri::M),
        };
        for r in ktailor_spec::generate::explain(&mut k, s, &v) {
            eprintln!("  because {r}");
        }
    }
    if failed > 0 {
        eprintln!("\nnothing written (localmodconfig keeps what was on; it does not switch new options on)");
        return EXIT_FAILED;
    }
    let mut distinct: Vec<&str> = w.needs.iter().map(|n| n.module.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    println!(
        "{} module(s) in use ({} unmapped); {} option(s) kept for them; {} module option(s) switched off",
        distinct.len(),
        w.unmapped.len(),
        p.keep.len(),
        kept.off.len()
    );
    for b in &kept.put_back {
        println!(
            "  put back CONFIG_{}=m: needed by CONFIG_{} ({})",
            b.name, b.needed_by, b.because
        );
    }
    let changes = ktailor_resolve::diff::diff_texts(
        &String::from_utf8_lossy(&cur.bytes),
        &String::from_utf8_lossy(&new_config),
        "CONFIG_",
    );
    println!("  the configuration changes in {} option(s)", changes.len());
    if a.dry_run {
        println!("(dry run: nothing written)");
        return EXIT_OK;
    }
    match ktailor_kconfig::confdata::write_atomic(&cur.config_path, &new_config, true) {
        Ok(true) => {
            println!("wrote {}", cur.config_path.display());
            EXIT_OK
        }
        Ok(false) => {
            println!("{} is unchanged", cur.config_path.display());
            EXIT_OK
        }
        Err(err) => {
            eprintln!("error: cannot write {}: {err}", cur.config_path.display());
            EXIT_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_modules_are_switched_off() {
        let c = b"CONFIG_A=m\nCONFIG_AB=m\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=m";
        let out = switch_off(c, &["A".into(), "D".into(), "B".into()]);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "# CONFIG_A is not set\nCONFIG_AB=m\nCONFIG_B=y\n# CONFIG_C is not set\n# CONFIG_D is not set\n"
        );
    }
}
