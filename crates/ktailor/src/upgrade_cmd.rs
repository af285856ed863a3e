//! `ktailor upgrade OLD_CONFIG -C NEW_TREE`: olddefconfig onto a new tree,
//! and a report of what that did — new options with the value they got and
//! why, options that vanished (with likely renames), values that changed
//! and why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use ktailor_kconfig::conf::Mode;
use ktailor_kconfig::{Kconfig, SymType};
use ktailor_resolve::diff::{diff, parse_config, Values};
use ktailor_resolve::explain::value_why;
use ktailor_tree::{open, Target};

use crate::kconfig_cmd::{print_diags, tree_options};
use crate::{TreeOpts, EXIT_ERROR, EXIT_FAILED, EXIT_OK};

#[derive(Args, Debug)]
pub struct UpgradeArgs {
    /// The configuration of the old kernel.
    pub old_config: PathBuf,
    /// The old kernel's source tree: vanished options are matched by prompt
    /// and help with new ones to flag likely renames.
    #[arg(long, value_name = "SRCTREE")]
    pub from: Option<PathBuf>,
    /// Where to write the new configuration (default: the tree's
    /// configuration, OBJTREE/.config or --config).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the report only; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// A spec whose kernel's requests are checked on the new configuration.
    #[arg(long, value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// The spec's kernel (needed when it declares several).
    #[arg(long, value_name = "NAME", requires = "spec")]
    pub kernel: Option<String>,
    #[command(flatten)]
    pub tree: TreeOpts,
}

fn values(bytes: &[u8], file: &str) -> Result<Values, u8> {
    match parse_config(&String::from_utf8_lossy(bytes), file, "CONFIG_") {
        Ok((v, _)) => Ok(v),
        Err(errors) => {
            print_diags(&errors, Path::new("."));
            Err(EXIT_ERROR)
        }
    }
}

/// Prompt and help of every typed symbol of a tree, by name.
fn prompts_and_help(k: &Kconfig) -> BTreeMap<String, (Option<String>, Option<String>)> {
    let mut out = BTreeMap::new();
    for i in 3..k.syms.len() {
        let s = &k.syms[i];
        let Some(name) = s.name.as_deref() else {
            continue;
        };
        if s.ty == SymType::Unknown {
            continue;
        }
        let prompt = s.menus.iter().find_map(|m| k.menu_get_prompt(*m));
        let help = s
            .menus
            .iter()
            .find_map(|m| k.menu_help(*m).map(|h| h.to_string()))
            .filter(|h| !h.trim().is_empty());
        out.insert(name.to_string(), (prompt, help));
    }
    out
}

pub fn run(a: UpgradeArgs) -> u8 {
    let old_bytes = match std::fs::read(&a.old_config) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", a.old_config.display());
            return EXIT_ERROR;
        }
    };
    let old = match values(&old_bytes, &a.old_config.display().to_string()) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let t = match open(&tree_options(&a.tree)) {
        Ok(t) => t,
        Err(e) => {
            print_diags(&e.diags, &a.tree.srctree);
            return EXIT_ERROR;
        }
    };
    let out = match t.run(&Target::Mode(Mode::OldDefconfig, None), Some(old_bytes)) {
        Ok(o) => o,
        Err(e) => {
            print_diags(&e.diags, &t.tree.srctree);
            return EXIT_ERROR;
        }
    };
    print_diags(&out.diags, &t.tree.srctree);
    let new_bytes = out.config.unwrap_or_default();
    let new = match values(&new_bytes, "(new configuration)") {
        Ok(v) => v,
        Err(code) => return code,
    };
    let mut k = out.kconfig;
    let changes = diff(&old, &new);

    // Options of the old configuration the new tree does not define.
    let defined = |k: &Kconfig, n: &str| k.find(n).is_some_and(|s| k.sym(s).ty != SymType::Unknown);
    let vanished: Vec<&(String, String)> = changes
        .removed
        .iter()
        .filter(|(n, _)| !defined(&k, n))
        .collect();
    let hidden: Vec<&(String, String)> = changes
        .removed
        .iter()
        .filter(|(n, _)| defined(&k, n))
        .collect();

    let renames = match &a.from {
        None => BTreeMap::new(),
        Some(from) => {
            let mut o = a.tree.clone();
            o.srctree = from.clone();
            o.objtree = None;
            o.config = None;
            let old_tree = match open(&tree_options(&o)).and_then(|t| t.load()) {
                Ok(k) => k,
                Err(e) => {
                    print_diags(&e.diags, from);
                    return EXIT_ERROR;
                }
            };
            let before = prompts_and_help(&old_tree);
            let after = prompts_and_help(&k);
            let mut r: BTreeMap<String, String> = BTreeMap::new();
            for (n, _) in &vanished {
                let Some((p, h)) = before.get(n.as_str()) else {
                    continue;
                };
                let hit = after.iter().find(|(m, (p2, h2))| {
                    !before.contains_key(m.as_str())
                        && ((p.is_some() && p == p2) || (h.is_some() && h == h2))
                });
                if let Some((m, _)) = hit {
                    r.insert(n.clone(), m.clone());
                }
            }
            r
        }
    };

    println!(
        "upgrade onto {}: {} new, {} vanished, {} no longer set, {} changed",
        t.tree.srctree.display(),
        changes.added.len(),
        vanished.len(),
        hidden.len(),
        changes.changed.len()
    );
    if !changes.added.is_empty() {
        println!("\nnew options:");
        for (n, v) in &changes.added {
            let why = k
                .find(n)
                .map(|s| value_why(&mut k, s).reasons)
                .unwrap_or_default();
            println!("  +{n} {v}  ({})", why.join("; "));
        }
    }
    if !vanished.is_empty() {
        println!("\nvanished (not defined by the new tree):");
        for (n, v) in &vanished {
            match renames.get(n.as_str()) {
                Some(m) => println!(
                    "  -{n} {v}  (likely renamed: {m} has the same prompt or help, now {})",
                    new.get(m).map(String::as_str).unwrap_or("n")
                ),
                None => println!("  -{n} {v}"),
            }
        }
    }
    if !hidden.is_empty() {
        println!("\nno longer set (defined, but not visible or not written):");
        for (n, v) in &hidden {
            let why = k
                .find(n)
                .map(|s| value_why(&mut k, s).reasons)
                .unwrap_or_default();
            println!("  -{n} {v}  ({})", why.join("; "));
        }
    }
    if !changes.changed.is_empty() {
        println!("\nchanged:");
        for (n, o, v) in &changes.changed {
            let why = k
                .find(n)
                .map(|s| value_why(&mut k, s).reasons)
                .unwrap_or_default();
            println!("   {n} {o} -> {v}  ({})", why.join("; "));
        }
    }
    let spec_failed = match &a.spec {
        None => false,
        Some(p) => match spec_report(p, a.kernel.as_deref(), &new_bytes, &k) {
            Ok(failed) => failed,
            Err(code) => return code,
        },
    };
    let done = if spec_failed { EXIT_FAILED } else { EXIT_OK };
    if a.dry_run {
        return done;
    }
    let dest = a.output.clone().unwrap_or_else(|| t.tree.config.clone());
    match ktailor_kconfig::confdata::write_atomic(&dest, &new_bytes, true) {
        Ok(_) => {
            println!("\nwrote {}", dest.display());
            done
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", dest.display());
            EXIT_ERROR
        }
    }
}

/// Checks a spec kernel's requests on the upgraded configuration and
/// prints the ones that no longer exist or no longer hold. Returns whether
/// a required one fails.
fn spec_report(path: &Path, kernel: Option<&str>, config: &[u8], k: &Kconfig) -> Result<bool, u8> {
    use ktailor_spec::check::{check, collect_for_check, ConfigFile};
    let here = Path::new(".");
    let spec = ktailor_spec::Spec::load(path).map_err(|d| {
        print_diags(&d, here);
        EXIT_ERROR
    })?;
    let lib = ktailor_spec::Library::for_spec(&spec).map_err(|d| {
        print_diags(&d, here);
        EXIT_ERROR
    })?;
    let name = match kernel {
        Some(n) => n.to_string(),
        None if spec.kernels.len() == 1 => spec.kernels[0].name.clone(),
        None => {
            let all: Vec<&str> = spec.kernels.iter().map(|k| k.name.as_str()).collect();
            eprintln!(
                "error: the spec declares several kernels\n\nhint: choose one with --kernel: {}",
                all.join(", ")
            );
            return Err(EXIT_ERROR);
        }
    };
    if spec.kernel(&name).is_none() {
        eprintln!("error: {}: no kernel named '{name}'", path.display());
        return Err(EXIT_ERROR);
    }
    let cfg = ConfigFile::parse(&String::from_utf8_lossy(config));
    let (asks, warnings) =
        collect_for_check(&lib, &[], Some((&spec, &name)), &cfg).map_err(|d| {
            print_diags(&d, here);
            EXIT_ERROR
        })?;
    print_diags(&warnings, here);
    let results = check(asks, &cfg);
    let defined = |n: &str| k.find(n).is_some_and(|s| k.sym(s).ty != SymType::Unknown);
    let gone: Vec<_> = results.iter().filter(|c| !defined(&c.ask.name)).collect();
    let broken: Vec<_> = results
        .iter()
        .filter(|c| defined(&c.ask.name) && !c.holds)
        .collect();
    println!(
        "\nspec {} kernel {name}: {} request(s), {} no longer exist, {} no longer hold",
        path.display(),
        results.len(),
        gone.len(),
        broken.len()
    );
    for c in &gone {
        println!(
            "  ✗ CONFIG_{}={} does not exist in the new tree{}  — asked by {}",
            c.ask.name,
            c.ask.value.describe().trim_matches('"'),
            if c.ask.optional { " (optional)" } else { "" },
            c.ask.origin.describe()
        );
    }
    for c in &broken {
        println!(
            "  ✗ CONFIG_{}={} is {}{}  — asked by {}",
            c.ask.name,
            c.ask.value.describe().trim_matches('"'),
            c.actual.as_deref().unwrap_or("n"),
            if c.ask.optional { " (optional)" } else { "" },
            c.ask.origin.describe()
        );
    }
    Ok(gone.iter().chain(&broken).any(|c| !c.ask.optional))
}
