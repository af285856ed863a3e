//! `ktailor kconfig TARGET`: the `make *config` targets.

use std::path::{Path, PathBuf};

use clap::Args;
use ktailor_kconfig::conf::{Mode, RunInput};
use ktailor_kconfig::confdata::{write_atomic, AutoconfNames, DataOptions};
use ktailor_kconfig::parse_cache::parse_cached;
use ktailor_kconfig::parser::{parse, FsLoader, ParseInput};
use ktailor_kconfig::shell::{CachedShell, SystemShell};
use ktailor_kconfig::{Diagnostic, Dialect, Kconfig};

use crate::{TreeOpts, EXIT_ERROR, EXIT_OK};

#[derive(Args, Debug)]
pub struct KconfigArgs {
    /// The target (olddefconfig, defconfig, savedefconfig, ...).
    pub target: String,
    /// For `defconfig`: the defconfig file to start from.
    pub file: Option<PathBuf>,
    /// For `savedefconfig`: where to write (default OBJTREE/defconfig).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub tree: TreeOpts,
}

/// A resolved tree: what conf would see.
pub struct Tree {
    pub srctree: PathBuf,
    pub objtree: PathBuf,
    pub config: PathBuf,
    pub kconfig: String,
    pub env: Vec<(String, String)>,
    pub dialect: Dialect,
    pub srcarch: Option<String>,
}

impl Tree {
    pub fn getenv(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn error(msg: impl std::fmt::Display) -> u8 {
    eprintln!("error: {msg}");
    EXIT_ERROR
}

fn print_diags(k_diags: &[Diagnostic], srctree: &Path) {
    let source = |file: &str, line: u32| -> Option<String> {
        let p = if Path::new(file).is_absolute() {
            PathBuf::from(file)
        } else {
            srctree.join(file)
        };
        let text = std::fs::read_to_string(p).ok()?;
        text.lines()
            .nth(line.checked_sub(1)? as usize)
            .map(|s| s.to_string())
    };
    for d in k_diags {
        if d.notes.first().map(|n| n == "(info)").unwrap_or(false) {
            println!("{}", d.message);
            continue;
        }
        eprint!("{}", d.render(&source));
    }
}

/// Parses the tree with the (cached) shell.
pub fn load(tree: &Tree, no_cache: bool) -> Result<Kconfig, Vec<Diagnostic>> {
    let sys = SystemShell::new(tree.objtree.clone(), tree.env.clone());
    let env_lookup = |n: &str| tree.getenv(n);
    let mut loader = FsLoader {
        cwd: tree.objtree.clone(),
        srctree: tree.getenv("srctree"),
    };
    let result;
    if no_cache {
        let mut sh = sys;
        result = parse(ParseInput {
            dialect: tree.dialect,
            kconfig: &tree.kconfig,
            loader: &mut loader,
            env: &env_lookup,
            shell: &mut sh,
        });
    } else {
        let cache = cache_dir();
        let mut sh = CachedShell::open(sys, cache.clone());
        let mut context = format!(
            "ktailor {} {}\0{:?}\0{}\0{}\0",
            env!("CARGO_PKG_VERSION"),
            exe_identity(),
            tree.dialect,
            tree.kconfig,
            tree.objtree.display()
        );
        for (k, v) in &tree.env {
            if k != "_" && k != "OLDPWD" {
                context.push_str(&format!("{k}={v}\0"));
            }
        }
        result = parse_cached(
            ParseInput {
                dialect: tree.dialect,
                kconfig: &tree.kconfig,
                loader: &mut loader,
                env: &env_lookup,
                shell: &mut sh,
            },
            &cache,
            &context,
        )
        .map(|(k, _hit)| k);
        if let Err(e) = sh.save() {
            eprintln!(
                "warning: cannot save the $(shell) cache {}: {e}",
                sh.path().display()
            );
        }
    }
    result.map_err(|e| e.diags)
}

/// Which ktailor build this is: a snapshot from another build is not used
/// (its format or the engine's semantics may differ).
fn exe_identity() -> String {
    let Ok(p) = std::env::current_exe() else {
        return "unknown".into();
    };
    let Ok(md) = std::fs::metadata(&p) else {
        return "unknown".into();
    };
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}:{}:{}", p.display(), md.len(), mtime)
}

fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("KTAILOR_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("ktailor");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache/ktailor"),
        None => std::env::temp_dir().join("ktailor-cache"),
    }
}

pub fn run(a: KconfigArgs) -> u8 {
    let tree = match crate::kconfig_cmd::resolve_tree(&a.tree) {
        Ok(t) => t,
        Err(e) => return error(e),
    };
    let target = a.target.as_str();
    let mode = match target {
        "olddefconfig" => Mode::OldDefconfig,
        "alldefconfig" => Mode::AllDefconfig,
        "allnoconfig" => Mode::AllNoconfig,
        "allyesconfig" => Mode::AllYesconfig,
        "allmodconfig" => Mode::AllModconfig,
        "randconfig" => Mode::Randconfig,
        "defconfig" => Mode::Defconfig,
        "savedefconfig" => Mode::SaveDefconfig,
        "listnewconfig" => Mode::ListNewconfig,
        "helpnewconfig" => Mode::HelpNewconfig,
        "yes2modconfig" => Mode::Yes2Modconfig,
        "mod2yesconfig" => Mode::Mod2Yesconfig,
        "mod2noconfig" => Mode::Mod2Noconfig,
        "tinyconfig" => return tinyconfig(&a, &tree),
        t if t.ends_with("_defconfig") => Mode::Defconfig,
        t if t.ends_with(".config") => return fragment_target(&a, &tree, t),
        other => {
            return error(format!(
                "unknown target '{other}'\n\nhint: targets are olddefconfig, alldefconfig, allnoconfig, allyesconfig, allmodconfig, defconfig [FILE], savedefconfig, listnewconfig, helpnewconfig, tinyconfig, randconfig, yes2modconfig, mod2yesconfig, mod2noconfig, NAME_defconfig and NAME.config"
            ))
        }
    };
    let defconfig_file = match (&mode, target) {
        (Mode::Defconfig, "defconfig") => match &a.file {
            Some(f) => Some(f.to_string_lossy().into_owned()),
            None => match default_defconfig(&tree) {
                Some(f) => Some(f),
                None => return error(
                    "this tree has no default defconfig; give one: ktailor kconfig defconfig FILE",
                ),
            },
        },
        (Mode::Defconfig, t) => {
            let arch = tree.srcarch.clone().unwrap_or_default();
            Some(format!("arch/{arch}/configs/{t}"))
        }
        _ => None,
    };
    run_mode(&a, &tree, mode, defconfig_file, &[])
}

/// Runs one conf mode and writes its results. `extra_env` overrides
/// variables of the tree's environment (e.g. KCONFIG_ALLCONFIG).
fn run_mode(
    a: &KconfigArgs,
    tree: &Tree,
    mode: Mode,
    defconfig_file: Option<String>,
    extra_env: &[(&str, &str)],
) -> u8 {
    let mut k = match load(tree, a.tree.no_cache) {
        Ok(k) => k,
        Err(diags) => {
            print_diags(&diags, &tree.srctree);
            return EXIT_ERROR;
        }
    };
    print_diags(&std::mem::take(&mut k.diags), &tree.srctree);
    let env = |n: &str| -> Option<String> {
        if let Some((_, v)) = extra_env.iter().find(|(k, _)| *k == n) {
            return Some(v.to_string());
        }
        tree.getenv(n)
    };
    let data = DataOptions {
        prefix: env("CONFIG_").unwrap_or_else(|| "CONFIG_".into()),
        warn_unknown: env("KCONFIG_WARN_UNKNOWN_SYMBOLS").is_some(),
    };
    let cwd = tree.objtree.clone();
    let src = tree.getenv("srctree");
    let config_name = tree.config.to_string_lossy().into_owned();
    let mut open = |name: &str| -> Option<(String, Vec<u8>)> {
        let p = cwd.join(name);
        if let Ok(d) = std::fs::read(&p) {
            return Some((name.to_string(), d));
        }
        if !name.starts_with('/') {
            if let Some(s) = &src {
                let p = cwd.join(format!("{s}/{name}"));
                if let Ok(d) = std::fs::read(p) {
                    return Some((name.to_string(), d));
                }
            }
        }
        None
    };
    let is_save = mode == Mode::SaveDefconfig;
    let writes_config = !matches!(
        mode,
        Mode::SaveDefconfig | Mode::ListNewconfig | Mode::HelpNewconfig
    );
    let res = k.run(RunInput {
        mode,
        open: &mut open,
        config_name,
        defconfig_file,
        env: &env,
        data: data.clone(),
    });
    print_diags(&std::mem::take(&mut k.diags), &tree.srctree);
    let out = match res {
        Ok(o) => o,
        Err(e) => return error(e.message),
    };
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(&out.stdout);
    if is_save {
        let dest = a
            .output
            .clone()
            .unwrap_or_else(|| tree.objtree.join("defconfig"));
        if let Some(d) = out.defconfig {
            if let Err(e) = std::fs::write(&dest, d) {
                return error(format!("cannot write {}: {e}", dest.display()));
            }
        }
        return EXIT_OK;
    }
    if writes_config {
        if let Some(cfg) = out.config {
            if tree.config.is_dir() {
                return error(format!("{}: Is a directory", tree.config.display()));
            }
            if let Err(e) = write_atomic(&tree.config, &cfg, true) {
                return error(format!("cannot write {}: {e}", tree.config.display()));
            }
            let names = AutoconfNames {
                autoconfig: env("KCONFIG_AUTOCONFIG")
                    .unwrap_or_else(|| "include/config/auto.conf".into()),
                autoheader: env("KCONFIG_AUTOHEADER")
                    .unwrap_or_else(|| "include/generated/autoconf.h".into()),
                rustccfg: match tree.dialect {
                    Dialect::V6_12 => Some(
                        env("KCONFIG_RUSTCCFG")
                            .unwrap_or_else(|| "include/generated/rustc_cfg".into()),
                    ),
                    Dialect::V6_1 => None,
                },
            };
            if let Err(e) = k.conf_write_autoconf(&tree.objtree, &names, false, &data) {
                return error(format!("cannot write the auto.conf files: {e}"));
            }
        }
    }
    // The process ends here: freeing the whole tree would only cost time.
    std::mem::forget(k);
    EXIT_OK
}

/// `make tinyconfig`: allnoconfig seeded with kernel/configs/tiny-base.config,
/// then the tiny.config fragment.
fn tinyconfig(a: &KconfigArgs, tree: &Tree) -> u8 {
    let code = run_mode(
        a,
        tree,
        Mode::AllNoconfig,
        None,
        &[("KCONFIG_ALLCONFIG", "kernel/configs/tiny-base.config")],
    );
    if code != EXIT_OK {
        return code;
    }
    fragment_target(a, tree, "tiny.config")
}

/// `make NAME.config`: merge the fragment(s) from kernel/configs and
/// arch/$SRCARCH/configs into the configuration, then olddefconfig.
fn fragment_target(a: &KconfigArgs, tree: &Tree, name: &str) -> u8 {
    let arch = tree.srcarch.clone().unwrap_or_default();
    let mut frags = Vec::new();
    for dir in ["kernel/configs".to_string(), format!("arch/{arch}/configs")] {
        let p = tree.srctree.join(&dir).join(name);
        if p.is_file() {
            frags.push(p);
        }
    }
    if frags.is_empty() {
        return error(format!(
            "{name} fragment does not exists on this architecture"
        ));
    }
    let prefix = tree.getenv("CONFIG_").unwrap_or_else(|| "CONFIG_".into());
    let base = std::fs::read(&tree.config).unwrap_or_default();
    let mut merged = String::from_utf8_lossy(&base).into_owned();
    for f in &frags {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => return error(format!("cannot read {}: {e}", f.display())),
        };
        merged = merge_fragment(&merged, &text, &prefix);
    }
    if let Err(e) = write_atomic(&tree.config, merged.as_bytes(), false) {
        return error(format!("cannot write {}: {e}", tree.config.display()));
    }
    run_mode(a, tree, Mode::OldDefconfig, None, &[])
}

/// merge_config.sh -m: every symbol a fragment sets replaces its line in
/// the base (the old line removed, the fragment's appended).
fn merge_fragment(base: &str, frag: &str, prefix: &str) -> String {
    let sym_of = |l: &str| -> Option<String> {
        let l2 = l.strip_prefix("# ").unwrap_or(l);
        let rest = l2.strip_prefix(prefix)?;
        let end = rest.find(['=', ' ']).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    };
    let mut out: Vec<String> = base.lines().map(|s| s.to_string()).collect();
    for l in frag.lines() {
        let Some(s) = sym_of(l) else { continue };
        if !(l.starts_with(prefix) || l.starts_with("# ") && l.ends_with(" is not set")) {
            continue;
        }
        out.retain(|x| {
            sym_of(x).as_deref() != Some(&s) || !(x.starts_with(prefix) || x.starts_with("# "))
        });
        out.push(l.to_string());
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

fn default_defconfig(tree: &Tree) -> Option<String> {
    let arch = tree.srcarch.clone()?;
    let name = tree
        .getenv("KBUILD_DEFCONFIG")
        .unwrap_or_else(|| "defconfig".into());
    Some(format!("arch/{arch}/configs/{name}"))
}

/// Resolves the tree options into what conf would see.
pub fn resolve_tree(o: &TreeOpts) -> Result<Tree, String> {
    let srctree = std::fs::canonicalize(&o.srctree)
        .map_err(|e| format!("source tree {}: {e}", o.srctree.display()))?;
    let objtree = match &o.objtree {
        Some(p) => {
            std::fs::create_dir_all(p).map_err(|e| format!("object tree {}: {e}", p.display()))?;
            std::fs::canonicalize(p).map_err(|e| format!("object tree {}: {e}", p.display()))?
        }
        None => srctree.clone(),
    };
    let process_env: Vec<(String, String)> = std::env::vars().collect();
    crate::kconfig_cmd::tree_env::derive(o, srctree, objtree, process_env)
}

mod tree_env {
    //! Temporary bridge to the kbuild environment derivation.
    pub use crate::kbuild_bridge::derive;
}
