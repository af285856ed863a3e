//! A kernel tree opened the way make would: the environment conf sees
//! (from `ktailor-kbuild`), the parsed Kconfig tree (from `ktailor-kconfig`,
//! through the `$(shell)` and parse caches), and the `make *config`
//! targets — conf's modes plus the make-level ones (`tinyconfig`,
//! `NAME_defconfig`, `NAME.config` fragments) — run either in memory
//! ([`OpenTree::run`]) or on the tree's configuration file
//! ([`OpenTree::run_and_write`]).
//!
//! This is the layer every command that reads a tree goes through; it
//! writes only the configuration file, its `.old` copy, and the auto.conf
//! files conf also writes.

use std::path::{Path, PathBuf};

use ktailor_kbuild::{resolve, TreeArgs};
use ktailor_kconfig::conf::{Mode, RunInput};
use ktailor_kconfig::confdata::{write_atomic, AutoconfNames, DataOptions};
use ktailor_kconfig::parse_cache::parse_cached;
use ktailor_kconfig::parser::{parse, FsLoader, ParseInput};
use ktailor_kconfig::shell::{CachedShell, SystemShell};
use ktailor_kconfig::{Diagnostic, Dialect, Kconfig};

/// How to open a tree (the `-C`, `--arch`, `-O`, `--config`, `--kconfig`
/// options every tree-reading command shares).
#[derive(Clone, Debug, Default)]
pub struct TreeOptions {
    pub srctree: PathBuf,
    pub arch: Option<String>,
    pub objtree: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub kconfig: Option<PathBuf>,
    /// `6.1` or `6.12`, for trees without a kernel Makefile.
    pub dialect: Option<String>,
    pub no_cache: bool,
    /// Extra make command-line variables (`LLVM=1`, `CROSS_COMPILE=...`).
    pub make_vars: Vec<(String, String)>,
}

/// What a tree-level operation failed with.
#[derive(Debug)]
pub struct TreeError {
    pub diags: Vec<Diagnostic>,
}

impl TreeError {
    fn msg(m: impl Into<String>) -> TreeError {
        TreeError {
            diags: vec![Diagnostic::error("", 0, m)],
        }
    }
}

/// A make-level target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A conf mode; for `Defconfig` the defconfig file (relative to the
    /// object tree, then `$srctree`).
    Mode(Mode, Option<String>),
    /// `tinyconfig`.
    Tiny,
    /// `NAME.config`.
    Fragment(String),
}

impl Target {
    /// Parses a target name as make would take it; `file` is the optional
    /// FILE of `defconfig FILE`.
    pub fn parse(name: &str, file: Option<&str>, tree: &OpenTree) -> Result<Target, String> {
        let mode = match name {
            "olddefconfig" => Mode::OldDefconfig,
            "alldefconfig" => Mode::AllDefconfig,
            "allnoconfig" => Mode::AllNoconfig,
            "allyesconfig" => Mode::AllYesconfig,
            "allmodconfig" => Mode::AllModconfig,
            "randconfig" => Mode::Randconfig,
            "savedefconfig" => Mode::SaveDefconfig,
            "listnewconfig" => Mode::ListNewconfig,
            "helpnewconfig" => Mode::HelpNewconfig,
            "yes2modconfig" => Mode::Yes2Modconfig,
            "mod2yesconfig" => Mode::Mod2Yesconfig,
            "mod2noconfig" => Mode::Mod2Noconfig,
            "oldconfig" => Mode::OldConfig,
            "config" | "oldaskconfig" => Mode::OldAskConfig,
            "tinyconfig" => return Ok(Target::Tiny),
            "defconfig" => {
                let f = match file {
                    Some(f) => f.to_string(),
                    None => {
                        let arch = tree.tree.srcarch.clone().ok_or("this tree has no arch: give a defconfig FILE")?;
                        let name = tree.getenv("KBUILD_DEFCONFIG").unwrap_or_else(|| "defconfig".into());
                        let f = format!("arch/{arch}/configs/{name}");
                        // Without that file, make runs the target of that
                        // name instead: an arch Makefile rule.
                        if !tree.tree.srctree.join(&f).is_file() {
                            if let Some(e) = arch_rule(tree, &arch, &name) {
                                return Err(e);
                            }
                        }
                        f
                    }
                };
                return Ok(Target::Mode(Mode::Defconfig, Some(f)));
            }
            t if t.ends_with("_defconfig") => {
                let arch = tree.tree.srcarch.clone().unwrap_or_default();
                if let Some(e) = arch_rule(tree, &arch, t) {
                    return Err(e);
                }
                return Ok(Target::Mode(Mode::Defconfig, Some(format!("arch/{arch}/configs/{t}"))));
            }
            t if t.ends_with(".config") => return Ok(Target::Fragment(t.to_string())),
            other => {
                return Err(format!(
                    "unknown target '{other}'\n\nhint: targets are olddefconfig, alldefconfig, allnoconfig, allyesconfig, allmodconfig, defconfig [FILE], savedefconfig, listnewconfig, helpnewconfig, tinyconfig, randconfig, yes2modconfig, mod2yesconfig, mod2noconfig, NAME_defconfig and NAME.config"
                ))
            }
        };
        Ok(Target::Mode(mode, None))
    }
}

/// An explicit rule for `name` in the arch Makefile: make runs it (merging
/// fragments, or running other targets) in place of conf's
/// `NAME_defconfig`, even when a file of that name exists. ktailor runs
/// conf's targets, not arch Makefile rules, so such a target is refused
/// with where the rule is, rather than answered differently from make.
fn arch_rule(tree: &OpenTree, arch: &str, name: &str) -> Option<String> {
    let rel = format!("arch/{arch}/Makefile");
    let text = std::fs::read_to_string(tree.tree.srctree.join(&rel)).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| {
        l.strip_prefix(name)
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix(':'))
            .is_some_and(|r| !r.starts_with('='))
    })?;
    let prereqs = lines[at].split_once(':').map_or("", |x| x.1).trim();
    let recipe: Vec<&str> = lines[at + 1..]
        .iter()
        .take_while(|l| l.starts_with('\t'))
        .map(|l| l.trim())
        .collect();
    let what = match (prereqs.is_empty(), recipe.first()) {
        (false, _) => format!("it makes {prereqs}"),
        (true, Some(r)) => format!("`{r}`"),
        (true, None) => "an empty rule".to_string(),
    };
    Some(format!(
        "{rel}:{}: `{name}` is a rule of the arch Makefile ({what}), not conf's defconfig of a file; ktailor runs conf's targets, not arch Makefile rules\n\nhint: run `make ARCH={arch} {name}`, or give the pieces to ktailor (`defconfig FILE`, then `NAME.config` fragments)",
        at + 1
    ))
}

/// What running a target produced.
pub struct Outcome {
    /// The tree with the final values.
    pub kconfig: Kconfig,
    /// The new configuration, for targets that write one.
    pub config: Option<Vec<u8>>,
    /// savedefconfig's minimal configuration.
    pub defconfig: Option<Vec<u8>>,
    /// What conf prints on standard output.
    pub stdout: Vec<u8>,
    /// Warnings produced along the way (parse and run).
    pub diags: Vec<Diagnostic>,
}

/// An opened tree.
pub struct OpenTree {
    pub tree: ktailor_kbuild::Tree,
    pub dialect: Dialect,
    pub cache_dir: PathBuf,
    pub no_cache: bool,
    /// The tree as first loaded, before any run changed its values: later
    /// runs in this process start from a copy (cheaper than a reload).
    pristine: std::cell::RefCell<Option<Kconfig>>,
    /// The loads still to come, when the caller said (`expect_loads`).
    loads_left: std::cell::Cell<Option<usize>>,
}

/// The cache directory: `$KTAILOR_CACHE_DIR`, `$XDG_CACHE_HOME/ktailor`,
/// `~/.cache/ktailor`.
pub fn cache_dir() -> PathBuf {
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

/// Which ktailor build this is: caches from another build are not used.
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

/// Opens a tree: computes what make would hand to conf.
pub fn open(o: &TreeOptions) -> Result<OpenTree, TreeError> {
    let process_env: Vec<(String, String)> = std::env::vars().collect();
    let cache = cache_dir();
    let no_cache = o.no_cache;
    let mut runner = |cmd: &str, env: &[(String, String)]| -> std::io::Result<String> {
        if no_cache {
            return ktailor_kbuild::run_sh(cmd, env);
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let mut sh = CachedShell::open(SystemShell::new(cwd, env.to_vec()), cache.clone());
        let out = ktailor_kconfig::preprocess::Shell::run(&mut sh, cmd)?;
        let _ = sh.save();
        Ok(ktailor_kbuild::fold_shell_output(&out))
    };
    let args = TreeArgs {
        srctree: o.srctree.clone(),
        arch: o.arch.clone(),
        objtree: o.objtree.clone(),
        config: o.config.as_ref().map(|c| {
            if c.is_absolute() {
                c.clone()
            } else {
                std::env::current_dir()
                    .map(|d| d.join(c))
                    .unwrap_or_else(|_| c.clone())
            }
        }),
        kconfig: o.kconfig.clone(),
        make_vars: o.make_vars.clone(),
    };
    let tree =
        resolve(&args, &process_env, &mut runner).map_err(|e| TreeError::msg(e.to_string()))?;
    let dialect = match (&o.dialect, ktailor_kbuild::dialect_version(&tree)) {
        (Some(d), _) if d == "6.1" => Dialect::V6_1,
        (Some(d), _) if d == "6.12" => Dialect::V6_12,
        (Some(d), _) => {
            return Err(TreeError::msg(format!(
                "unknown --kconfig-dialect '{d}'\n\nhint: use 6.1 or 6.12"
            )));
        }
        (None, Some((a, b))) => Dialect::for_version(a, b),
        (None, None) => Dialect::V6_12,
    };
    Ok(OpenTree {
        tree,
        dialect,
        cache_dir: cache,
        no_cache,
        pristine: Default::default(),
        loads_left: Default::default(),
    })
}

impl OpenTree {
    pub fn getenv(&self, name: &str) -> Option<String> {
        self.tree.var(name).map(str::to_string)
    }

    /// The kernel version (major, minor), if the tree has a Makefile.
    pub fn version(&self) -> Option<(u32, u32)> {
        ktailor_kbuild::dialect_version(&self.tree)
    }

    /// Parses the Kconfig tree (through the caches unless disabled); within
    /// one process, each later call returns a copy of the first result,
    /// and the last call `expect_loads` announced returns that result
    /// itself.
    pub fn load(&self) -> Result<Kconfig, TreeError> {
        let left = self.loads_left.get();
        self.loads_left.set(left.map(|n| n.saturating_sub(1)));
        let last = left.is_some_and(|n| n <= 1);
        let mut pristine = self.pristine.borrow_mut();
        if let Some(k) = pristine.as_ref() {
            return Ok(if last {
                pristine.take().expect("checked")
            } else {
                k.clone()
            });
        }
        // More loads announced: the decoding makes the first copy.
        let mut k = self.load_uncached(left.is_some_and(|n| n > 1))?;
        if last {
            return Ok(k);
        }
        let first = k.take_spare_copy().unwrap_or_else(|| k.clone());
        *pristine = Some(k);
        Ok(first)
    }

    /// Says how many times this process will load the tree (the resolver:
    /// the current configuration, then a plan). The last of those loads
    /// then takes the tree as parsed instead of a copy of it, and a load
    /// beyond them parses again (through the cache).
    pub fn expect_loads(&self, n: usize) {
        self.loads_left.set(Some(n));
    }

    /// Parses the tree; `spare_copy` as in [`parse_cached`].
    fn load_uncached(&self, spare_copy: bool) -> Result<Kconfig, TreeError> {
        let t = &self.tree;
        std::fs::create_dir_all(&t.cwd)
            .map_err(|e| TreeError::msg(format!("object tree {}: {e}", t.cwd.display())))?;
        let env_lookup = |n: &str| self.getenv(n);
        let mut loader = FsLoader::new(t.cwd.clone(), self.getenv("srctree"));
        let kconfig = t.kconfig.to_string_lossy().into_owned();
        let sys = SystemShell::new(t.cwd.clone(), t.env.clone());
        let result = if self.no_cache {
            let mut sh = sys;
            parse(ParseInput {
                dialect: self.dialect,
                kconfig: &kconfig,
                loader: &mut loader,
                env: &env_lookup,
                shell: &mut sh,
            })
        } else {
            let mut sh = CachedShell::open(sys, self.cache_dir.clone());
            let mut context = format!(
                "ktailor {}\0{:?}\0{}\0{}\0",
                exe_identity(),
                self.dialect,
                kconfig,
                t.cwd.display()
            );
            for (k, v) in &t.env {
                if k != "_" && k != "OLDPWD" {
                    context.push_str(&format!("{k}={v}\0"));
                }
            }
            let r = parse_cached(
                ParseInput {
                    dialect: self.dialect,
                    kconfig: &kconfig,
                    loader: &mut loader,
                    env: &env_lookup,
                    shell: &mut sh,
                },
                &self.cache_dir,
                &context,
                spare_copy,
            )
            .map(|(k, _)| k);
            let _ = sh.save();
            r
        };
        result.map_err(|e| TreeError { diags: e.diags })
    }

    fn data_options(&self, extra_env: &[(&str, &str)]) -> DataOptions {
        let get = |n: &str| {
            extra_env
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
                .or_else(|| self.getenv(n))
        };
        DataOptions {
            prefix: get("CONFIG_").unwrap_or_else(|| "CONFIG_".into()),
            warn_unknown: get("KCONFIG_WARN_UNKNOWN_SYMBOLS").is_some(),
        }
    }

    /// Opens a file as conf would (`zconf_fopen`): relative to the object
    /// tree, then `$srctree`; the configuration file can be given in memory.
    fn opener<'a>(
        &'a self,
        config: &'a Option<Vec<u8>>,
    ) -> impl FnMut(&str) -> Option<(String, Vec<u8>)> + 'a {
        let cwd = self.tree.cwd.clone();
        let src = self.getenv("srctree");
        let config_name = self.tree.config.to_string_lossy().into_owned();
        move |name: &str| {
            if name == config_name {
                if let Some(c) = config {
                    return Some((name.to_string(), c.clone()));
                }
            }
            if let Ok(d) = std::fs::read(cwd.join(name)) {
                return Some((name.to_string(), d));
            }
            if !name.starts_with('/') {
                if let Some(s) = &src {
                    if let Ok(d) = std::fs::read(cwd.join(format!("{s}/{name}"))) {
                        return Some((name.to_string(), d));
                    }
                }
            }
            None
        }
    }

    /// Runs one conf mode in memory. `config` replaces the configuration
    /// file's contents (None: read it from disk as conf would).
    pub fn run_mode(
        &self,
        mode: Mode,
        defconfig_file: Option<String>,
        config: Option<Vec<u8>>,
        extra_env: &[(&str, &str)],
    ) -> Result<Outcome, TreeError> {
        self.run_mode_as(mode, defconfig_file, config, extra_env, true)
    }

    /// `make olddefconfig` on `config` in memory, values only: the tree
    /// comes back with every value as conf settles it, and no text
    /// (`Outcome::config` is None); [`OpenTree::config_text`] renders it
    /// when wanted. This is how the resolver, the spec gate and
    /// localmodconfig evaluate candidates: most are only looked at.
    pub fn settle(&self, config: Vec<u8>) -> Result<Outcome, TreeError> {
        self.run_mode_as(Mode::OldDefconfig, None, Some(config), &[], false)
    }

    /// The configuration conf writes for a tree [`OpenTree::settle`]
    /// returned (the bytes `make olddefconfig` leaves in the file).
    pub fn config_text(&self, k: &mut Kconfig) -> Vec<u8> {
        k.conf_write_bytes(&self.data_options(&[]))
    }

    /// The tree with `config`'s user values read and the rest of its values
    /// computed when asked for (`Kconfig::conf_read_deferred`), for callers
    /// that look at a few options. With KCONFIG_WERROR set the
    /// configuration is settled in full, so that its warnings fail as
    /// `settle` fails.
    pub fn read_deferred(&self, config: Vec<u8>) -> Result<Kconfig, TreeError> {
        if self.getenv("KCONFIG_WERROR").is_some() {
            return self.settle(config).map(|o| o.kconfig);
        }
        let mut k = self.load()?;
        let name = self.tree.config.to_string_lossy().into_owned();
        k.conf_read_deferred(&name, &config, &self.data_options(&[]));
        Ok(k)
    }

    fn run_mode_as(
        &self,
        mode: Mode,
        defconfig_file: Option<String>,
        config: Option<Vec<u8>>,
        extra_env: &[(&str, &str)],
        render: bool,
    ) -> Result<Outcome, TreeError> {
        let mut k = self.load()?;
        let mut diags = std::mem::take(&mut k.diags);
        let env = |n: &str| -> Option<String> {
            if let Some((_, v)) = extra_env.iter().find(|(k, _)| *k == n) {
                return Some(v.to_string());
            }
            self.getenv(n)
        };
        let data = self.data_options(extra_env);
        let config_in = config;
        let mut open = self.opener(&config_in);
        use std::io::IsTerminal as _;
        let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        let mut lock = std::io::stdin().lock();
        let asks = matches!(mode, Mode::OldConfig | Mode::OldAskConfig);
        let stdin: Option<(&mut dyn std::io::BufRead, bool)> =
            if asks { Some((&mut lock, tty)) } else { None };
        let input = RunInput {
            mode,
            open: &mut open,
            config_name: self.tree.config.to_string_lossy().into_owned(),
            defconfig_file,
            env: &env,
            data,
            stdin,
        };
        let res = if render {
            k.run(input)
        } else {
            k.settle(input)
        };
        diags.append(&mut k.diags);
        match res {
            Ok(o) => Ok(Outcome {
                kconfig: k,
                config: o.config,
                defconfig: o.defconfig,
                stdout: o.stdout,
                diags,
            }),
            Err(e) => {
                diags.push(Diagnostic::error("", 0, e.message));
                Err(TreeError { diags })
            }
        }
    }

    /// Runs a make-level target in memory, starting from `config` (or the
    /// configuration file on disk).
    pub fn run(&self, target: &Target, config: Option<Vec<u8>>) -> Result<Outcome, TreeError> {
        match target {
            Target::Mode(m, f) => self.run_mode(m.clone(), f.clone(), config, &[]),
            Target::Tiny => {
                let mut a = self.run_mode(
                    Mode::AllNoconfig,
                    None,
                    config,
                    &[("KCONFIG_ALLCONFIG", "kernel/configs/tiny-base.config")],
                )?;
                let base = a.config.take().unwrap_or_default();
                let base = self.fragment_base().unwrap_or(base);
                let mut b = self.run_fragment("tiny.config", base)?;
                a.diags.append(&mut b.diags);
                b.diags = a.diags;
                Ok(b)
            }
            Target::Fragment(name) => {
                let base = match (self.fragment_base(), config) {
                    (Some(b), _) => b,
                    (None, Some(c)) => c,
                    (None, None) => std::fs::read(&self.tree.config).unwrap_or_default(),
                };
                self.run_fragment(name, base)
            }
        }
    }

    /// Where `make NAME.config` takes its base from when that is not the
    /// configuration file: up to 6.1, scripts/kconfig/Makefile runs
    /// `merge_config.sh -m .config`, so the base is OBJTREE/.config (an
    /// empty file is created when missing) whatever KCONFIG_CONFIG says,
    /// and the merged result goes to KCONFIG_CONFIG. `None` when the base
    /// is the configuration file itself (later kernels, or KCONFIG_CONFIG
    /// being OBJTREE/.config).
    fn fragment_base(&self) -> Option<Vec<u8>> {
        let dot = self.tree.objtree.join(".config");
        if self.tree.config == dot {
            return None;
        }
        let mk = self.tree.srctree.join("scripts/kconfig/Makefile");
        let text = std::fs::read_to_string(mk).ok()?;
        if !text.contains("merge_config.sh -m .config") {
            return None;
        }
        Some(std::fs::read(&dot).unwrap_or_default())
    }

    /// The fragment files `make NAME.config` merges.
    pub fn fragment_files(&self, name: &str) -> Vec<PathBuf> {
        let arch = self.tree.srcarch.clone().unwrap_or_default();
        ["kernel/configs".to_string(), format!("arch/{arch}/configs")]
            .iter()
            .map(|d| self.tree.srctree.join(d).join(name))
            .filter(|p| p.is_file())
            .collect()
    }

    /// `base` with the fragments of `make NAME.config` merged in.
    fn merge_fragments(&self, name: &str, base: &[u8]) -> Result<String, TreeError> {
        let frags = self.fragment_files(name);
        if frags.is_empty() {
            return Err(TreeError::msg(format!(
                "{name} fragment does not exists on this architecture"
            )));
        }
        let prefix = self.getenv("CONFIG_").unwrap_or_else(|| "CONFIG_".into());
        let mut merged = String::from_utf8_lossy(base).into_owned();
        for f in &frags {
            let text = std::fs::read_to_string(f)
                .map_err(|e| TreeError::msg(format!("cannot read {}: {e}", f.display())))?;
            merged = merge_fragment(&merged, &text, &prefix);
        }
        Ok(merged)
    }

    fn run_fragment(&self, name: &str, base: Vec<u8>) -> Result<Outcome, TreeError> {
        let merged = self.merge_fragments(name, &base)?;
        self.run_mode(Mode::OldDefconfig, None, Some(merged.into_bytes()), &[])
    }

    /// Writes a configuration as conf does: atomically, keeping `.old`
    /// when it changed, and the auto.conf files when missing.
    pub fn write_config(
        &self,
        k: &mut Kconfig,
        bytes: &[u8],
        dest: &Path,
    ) -> Result<(), TreeError> {
        if dest.is_dir() {
            return Err(TreeError::msg(format!(
                "{}: Is a directory",
                dest.display()
            )));
        }
        write_atomic(dest, bytes, true)
            .map_err(|e| TreeError::msg(format!("cannot write {}: {e}", dest.display())))?;
        self.write_autoconf(k, false)
    }

    /// Writes what `make syncconfig` writes from the configuration `k`
    /// holds into the object tree: include/config/auto.conf and its .cmd
    /// file, the per-symbol dependency files, include/generated/autoconf.h
    /// and rustc_cfg. With `overwrite` false, nothing is written
    /// when auto.conf exists (what the `*config` targets do).
    pub fn write_autoconf(&self, k: &mut Kconfig, overwrite: bool) -> Result<(), TreeError> {
        let get = |n: &str| self.getenv(n);
        let names = AutoconfNames {
            autoconfig: get("KCONFIG_AUTOCONFIG")
                .unwrap_or_else(|| "include/config/auto.conf".into()),
            autoheader: get("KCONFIG_AUTOHEADER")
                .unwrap_or_else(|| "include/generated/autoconf.h".into()),
            // 6.1 and 6.12 both write it (Rust support came in 6.1).
            rustccfg: Some(
                get("KCONFIG_RUSTCCFG").unwrap_or_else(|| "include/generated/rustc_cfg".into()),
            ),
        };
        let data = self.data_options(&[]);
        k.conf_write_autoconf(&self.tree.cwd, &names, overwrite, &data)
            .map_err(|e| TreeError::msg(format!("cannot write the auto.conf files: {e}")))
    }

    /// Runs a target on the tree's configuration file, as make would:
    /// the results are written to disk, step by step like the make recipe
    /// (tinyconfig writes its allnoconfig stage first; a fragment target
    /// writes the merged file, then olddefconfig's result, so `.config.old`
    /// ends up as make leaves it). Returns conf's standard output.
    pub fn run_and_write(
        &self,
        target: &Target,
        savedefconfig_out: Option<&Path>,
    ) -> Result<(Vec<u8>, Vec<Diagnostic>), TreeError> {
        match target {
            Target::Mode(m, f) => {
                let out = self.run_mode(m.clone(), f.clone(), None, &[])?;
                self.write_outcome(out, savedefconfig_out)
            }
            Target::Tiny => {
                let a = self.run_mode(
                    Mode::AllNoconfig,
                    None,
                    None,
                    &[("KCONFIG_ALLCONFIG", "kernel/configs/tiny-base.config")],
                )?;
                let (mut stdout, mut diags) = self.write_outcome(a, None)?;
                let (o2, d2) = self.run_and_write(&Target::Fragment("tiny.config".into()), None)?;
                stdout.extend(o2);
                diags.extend(d2);
                Ok((stdout, diags))
            }
            Target::Fragment(name) => {
                let base = self
                    .fragment_base()
                    .unwrap_or_else(|| std::fs::read(&self.tree.config).unwrap_or_default());
                let merged = self.merge_fragments(name, &base)?;
                let dest = &self.tree.config;
                write_atomic(dest, merged.as_bytes(), false)
                    .map_err(|e| TreeError::msg(format!("cannot write {}: {e}", dest.display())))?;
                let out = self.run_mode(Mode::OldDefconfig, None, None, &[])?;
                self.write_outcome(out, None)
            }
        }
    }

    fn write_outcome(
        &self,
        mut out: Outcome,
        savedefconfig_out: Option<&Path>,
    ) -> Result<(Vec<u8>, Vec<Diagnostic>), TreeError> {
        if let Some(d) = &out.defconfig {
            let dest = savedefconfig_out
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.tree.cwd.join("defconfig"));
            std::fs::write(&dest, d)
                .map_err(|e| TreeError::msg(format!("cannot write {}: {e}", dest.display())))?;
        }
        if let Some(c) = out.config.take() {
            let dest = self.tree.config.clone();
            self.write_config(&mut out.kconfig, &c, &dest)?;
        }
        // Freeing the whole tree would only cost time.
        std::mem::forget(out.kconfig);
        Ok((out.stdout, out.diags))
    }
}

/// `merge_config.sh -m BASE FRAGMENT`, textually: for every option the
/// fragment sets (`CONFIG_X=...` or `# CONFIG_X is not set`) and the base
/// mentions as a word, every base line containing `CONFIG_X ` or
/// `CONFIG_X=` is deleted; then an empty line and the whole fragment are
/// appended.
pub fn merge_fragment(base: &str, frag: &str, prefix: &str) -> String {
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let name_of = |l: &str| -> Option<String> {
        if let Some(rest) = l.strip_prefix(prefix) {
            let n: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if rest[n.len()..].starts_with('=') {
                return Some(format!("{prefix}{n}"));
            }
        }
        let rest = l.strip_prefix("# ")?.strip_prefix(prefix)?;
        let n: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        (&rest[n.len()..] == " is not set").then(|| format!("{prefix}{n}"))
    };
    let contains_word = |hay: &str, w: &str| {
        let hb = hay.as_bytes();
        let mut from = 0;
        while let Some(i) = hay[from..].find(w) {
            let s = from + i;
            let e = s + w.len();
            if (s == 0 || !is_word(hb[s - 1])) && (e >= hb.len() || !is_word(hb[e])) {
                return true;
            }
            from = s + 1;
        }
        false
    };
    let mut tmp = base.to_string();
    for l in frag.lines() {
        let Some(cfg) = name_of(l) else { continue };
        if !contains_word(&tmp, &cfg) {
            continue;
        }
        let (a, b) = (format!("{cfg} "), format!("{cfg}="));
        let mut kept = String::with_capacity(tmp.len());
        for line in tmp.split_inclusive('\n') {
            if !(line.contains(&a) || line.contains(&b)) {
                kept.push_str(line);
            }
        }
        tmp = kept;
    }
    tmp.push('\n');
    tmp.push_str(frag);
    tmp
}

#[cfg(test)]
mod tests {
    use super::merge_fragment;

    #[test]
    fn fragment_lines_replace_base_lines_and_are_appended() {
        let base = "CONFIG_A=y\nCONFIG_AB=y\n# CONFIG_B is not set\nCONFIG_C=m\n";
        let frag = "# frag\nCONFIG_B=y\n# CONFIG_A is not set\n";
        assert_eq!(
            merge_fragment(base, frag, "CONFIG_"),
            "CONFIG_AB=y\nCONFIG_C=m\n\n# frag\nCONFIG_B=y\n# CONFIG_A is not set\n"
        );
    }
}
