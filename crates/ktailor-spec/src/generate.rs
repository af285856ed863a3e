//! Generating a kernel's configuration from a spec, and the gate.
//!
//! For one declared kernel: open its tree, build the base configuration
//! (tinyconfig, allnoconfig, defconfig, alldefconfig, the installed distro
//! config, or a file), collect every request (features, `set`, `unset`;
//! a later request for the same option wins), append them to the base as
//! configuration lines, and let the engine settle everything exactly as
//! `make olddefconfig` would. Then the gate compares every request with
//! the final value. A request that does not hold is an error (a warning
//! when optional) naming the option, who asked for it, requested and final
//! values, and why: the unmet dependency with the live value of each term,
//! the `select` that forces it, no prompt and nothing selecting it, or the
//! option not existing on this version or arch.

use std::path::{Path, PathBuf};

use ktailor_kconfig::conf::Mode;
use ktailor_kconfig::expr::Expr;
use ktailor_kconfig::{Diagnostic, Kconfig, PropType, SymId, SymType, Tri};
use ktailor_tree::{open, Target as TreeTarget, TreeOptions};

use crate::features::{arch_matches, Library, Target};
use crate::spec::{Kernel, Loc, Spec};
use crate::value::Value;

/// Who asked for a request.
#[derive(Clone, Debug)]
pub enum Origin {
    /// A feature, through the spec line that named it.
    Feature {
        feature: String,
        why: String,
        named_at: Loc,
    },
    /// A `set` or `unset` entry.
    Spec { loc: Loc, why: Option<String> },
    /// A `hardware` entry: the devices whose drivers need the option.
    Hardware {
        /// `hardware:NAME`.
        feature: String,
        named_at: Loc,
        by: Vec<HwReason>,
    },
}

/// One device (or listed module) that needs an option: device → module →
/// object → CONFIG symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HwReason {
    /// `pci 0000:00:03.0 [8086:10d3]`, or `module NAME`.
    pub device: String,
    /// The device's class (`network`), when it has one.
    pub class: Option<String>,
    /// Where the report names it (`file:line`).
    pub at: String,
    pub module: String,
    /// The object that builds the module (`drivers/.../e1000e.o`).
    pub object: String,
    /// The Makefile line (`file:line`).
    pub line: String,
    /// The option gates the object's directory rather than naming the
    /// object itself.
    pub gate: bool,
}

impl HwReason {
    /// `pci 0000:00:03.0 [8086:10d3] (network) -> e1000e -> drivers/.../e1000e.o (Makefile:11)`.
    pub fn describe(&self) -> String {
        let class = self
            .class
            .as_ref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        let role = if self.gate {
            "its directory needs it"
        } else {
            "its Makefile line"
        };
        format!(
            "{}{class} -> {} -> {} ({role}, {})",
            self.device, self.module, self.object, self.line
        )
    }
}

impl Origin {
    pub fn describe(&self) -> String {
        match self {
            Origin::Feature {
                feature, named_at, ..
            } => format!("feature '{feature}' (named at {named_at})"),
            Origin::Spec { loc, .. } => format!("{loc}"),
            Origin::Hardware {
                feature, named_at, ..
            } => format!("feature '{feature}' (named at {named_at})"),
        }
    }
    pub fn why(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Origin::Feature { why, .. } => Some(why.as_str().into()),
            Origin::Spec { why, .. } => why.as_deref().map(Into::into),
            Origin::Hardware { by, .. } => Some(
                by.iter()
                    .map(HwReason::describe)
                    .collect::<Vec<_>>()
                    .join("; ")
                    .into(),
            ),
        }
    }
}

/// One request after collection.
#[derive(Clone, Debug)]
pub struct Ask {
    pub name: String,
    pub value: Value,
    pub optional: bool,
    pub origin: Origin,
    /// Symbols that satisfy the request as well (from a feature).
    pub alternatives: Vec<String>,
}

/// The outcome for one request.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub ask: Ask,
    /// The final value (None: the option does not exist here).
    pub actual: Option<String>,
    pub holds: bool,
    /// Why it does not hold.
    pub reasons: Vec<String>,
}

/// The result of generating one kernel.
pub struct KernelResult {
    pub name: String,
    pub version: (u32, u32),
    pub arch: String,
    pub base: String,
    pub verdicts: Vec<Verdict>,
    /// Problems that are not about one request (unknown feature, ...).
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// The configuration, if the gate passed.
    pub config: Option<Vec<u8>>,
    pub written: Option<PathBuf>,
    /// What the resolver added to make requests hold, and its notes.
    pub plan: ktailor_resolve::Plan,
    /// What each `hardware` entry counted and skipped.
    pub hardware: Vec<crate::hardware::HardwareUse>,
}

impl KernelResult {
    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || self.verdicts.iter().any(|v| !v.holds && !v.ask.optional)
    }
}

/// Where a kernel's source comes from: a directory, or a tarball unpacked
/// into the cache (unpacked here on first use).
pub fn source_dir(spec: &Spec, k: &Kernel) -> Result<PathBuf, Diagnostic> {
    let Some(src) = &k.source else {
        return Err(k.loc.error(format!("kernel '{}' has no source", k.name)).with_hint(
            "add source = \"/path/to/linux\" or a linux-source tarball such as /usr/src/linux-source-6.12.tar.xz",
        ));
    };
    let p = spec.resolve_path(&src.value);
    if p.is_dir() {
        return Ok(p);
    }
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !(name.ends_with(".tar.xz")
        || name.ends_with(".tar.gz")
        || name.ends_with(".tar.bz2")
        || name.ends_with(".tar"))
    {
        return Err(src.loc.error(format!(
            "source '{}' is neither a directory nor a .tar.xz/.tar.gz tarball",
            src.value
        )));
    }
    let md = std::fs::metadata(&p).map_err(|e| {
        let mut d = src.loc.error(format!("source '{}': {e}", p.display()));
        if name.starts_with("linux-source-") {
            let pkg = name
                .trim_end_matches(".tar.xz")
                .trim_end_matches(".tar.gz")
                .trim_end_matches(".tar.bz2");
            d.hint = Some(format!("install Debian's package: apt-get install {pkg}").into());
        }
        d
    })?;
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let stem = name.split(".tar").next().unwrap_or("linux").to_string();
    let dest = ktailor_tree::cache_dir()
        .join("sources")
        .join(format!("{stem}-{}-{mtime}", md.len()));
    let done = dest.join(".ktailor-unpacked");
    if !done.is_file() {
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::create_dir_all(&dest).map_err(|e| {
            src.loc
                .error(format!("cannot create {}: {e}", dest.display()))
        })?;
        let st = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&p)
            .arg("-C")
            .arg(&dest)
            .status()
            .map_err(|e| src.loc.error(format!("cannot run tar: {e}")))?;
        if !st.success() {
            return Err(src
                .loc
                .error(format!("tar could not unpack {}", p.display())));
        }
        std::fs::write(&done, b"").map_err(|e| {
            src.loc
                .error(format!("cannot write {}: {e}", done.display()))
        })?;
    }
    // The tarball holds one top directory (linux-source-6.12/).
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dest)
        .map_err(|e| src.loc.error(format!("{}: {e}", dest.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    match dirs.len() {
        1 => Ok(dirs.remove(0)),
        _ => Ok(dest),
    }
}

/// The `set` and `unset` requests of a kernel, in order.
pub fn spec_asks(k: &Kernel) -> Vec<Ask> {
    k.set
        .iter()
        .chain(k.unset.iter())
        .map(|r| Ask {
            name: r.name.clone(),
            value: r.value.clone(),
            optional: r.optional,
            origin: Origin::Spec {
                loc: r.loc.clone(),
                why: r.why.clone(),
            },
            alternatives: Vec::new(),
        })
        .collect()
}

/// Collects the requests of a kernel's features (with includes), in
/// order. `hardware` entries come next and `set` and `unset` last (see
/// [`generate`]), so an explicit setting wins.
fn collect(
    k: &Kernel,
    lib: &Library,
    t: &Target,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<Ask> {
    let mut asks = Vec::new();
    let mut seen = Vec::new();
    for f in &k.features {
        add_feature(
            &f.name, f.optional, &f.loc, lib, t, &mut asks, &mut seen, errors, warnings,
        );
    }
    asks
}

/// Whether the kernel will have modules: the last request for `MODULES`
/// among `asks`, else the base configuration's value.
fn has_modules(asks: &[Ask], base: &[u8]) -> bool {
    if let Some(a) = asks.iter().rev().find(|a| a.name == "MODULES") {
        return !a.value.is_off();
    }
    String::from_utf8_lossy(base)
        .lines()
        .any(|l| l.trim_end() == "CONFIG_MODULES=y")
}

/// Adds a feature's requests (with its includes) as they apply to `t`.
#[allow(clippy::too_many_arguments)] // reason: a recursive walk carrying its accumulators
pub fn add_feature(
    name: &str,
    optional: bool,
    at: &Loc,
    lib: &Library,
    t: &Target,
    asks: &mut Vec<Ask>,
    seen: &mut Vec<String>,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) {
    if seen.iter().any(|s| s == name) {
        return;
    }
    seen.push(name.to_string());
    let Some(f) = lib.features.get(name) else {
        let mut d = at.error(format!("unknown feature '{name}'"));
        d.hint = Some(
            match lib.suggest(name) {
                Some(s) => format!("did you mean '{s}'? (`ktailor features` lists them)"),
                None => "`ktailor features` lists the features".into(),
            }
            .into(),
        );
        errors.push(d);
        return;
    };
    if !f.applies(t) {
        let msg = format!(
            "feature '{name}' is not available on Linux {}.{} ARCH={} (it applies to {}{})",
            t.version.0,
            t.version.1,
            t.arch,
            f.arches
                .as_ref()
                .map(|a| a.join(", "))
                .unwrap_or_else(|| "all arches".into()),
            if f.kernels.describe().is_empty() {
                String::new()
            } else {
                format!(", kernels {}", f.kernels.describe())
            }
        );
        if optional {
            warnings.push(at.warning(msg));
        } else {
            errors.push(at.error(msg));
        }
        return;
    }
    for inc in &f.includes {
        add_feature(inc, optional, at, lib, t, asks, seen, errors, warnings);
    }
    for o in &f.options {
        if !arch_matches(&o.arches, t) {
            continue;
        }
        let origin = Origin::Feature {
            feature: name.to_string(),
            why: o.why.clone(),
            named_at: at.clone(),
        };
        // An option's own `arches`/`kernels` say where it is part of the
        // feature (e.g. a symbol renamed between versions); elsewhere it does
        // not apply. A whole feature that does not apply is reported above.
        if !o.kernels.matches(t.version) {
            continue;
        }
        asks.push(Ask {
            name: o.name.clone(),
            value: o.value.clone(),
            optional: optional || o.optional,
            origin,
            alternatives: o.alternatives.clone(),
        });
    }
}

/// Builds the base configuration.
fn base_config(
    spec: &Spec,
    k: &Kernel,
    tree: &ktailor_tree::OpenTree,
    t: &Target,
) -> Result<(String, Vec<u8>), Diagnostic> {
    let (base, loc) = match &k.base {
        Some(b) => (b.value.clone(), b.loc.clone()),
        None => ("defconfig".to_string(), k.loc.clone()),
    };
    let run = |target: TreeTarget| -> Result<Vec<u8>, Diagnostic> {
        let o = tree.run(&target, Some(Vec::new())).map_err(|e| {
            let m = e
                .diags
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            loc.error(format!("base '{base}' failed: {m}"))
        })?;
        Ok(o.config.unwrap_or_default())
    };
    let bytes = match base.as_str() {
        "tinyconfig" => run(TreeTarget::Tiny)?,
        "allnoconfig" => run(TreeTarget::Mode(Mode::AllNoconfig, None))?,
        "alldefconfig" => run(TreeTarget::Mode(Mode::AllDefconfig, None))?,
        "defconfig" => {
            let target = TreeTarget::parse("defconfig", None, tree).map_err(|e| loc.error(e))?;
            run(target)?
        }
        "distro" => {
            let (maj, min) = t.version;
            let deb_arch = match t.srcarch.as_str() {
                "x86" => "amd64",
                "arm64" => "arm64",
                other => other,
            };
            let pkg = format!("linux-config-{maj}.{min}");
            let file = PathBuf::from(format!(
                "/usr/src/{pkg}/config.{deb_arch}_none_{deb_arch}.xz"
            ));
            let out = std::process::Command::new("xz")
                .arg("-dc")
                .arg(&file)
                .output();
            match out {
                Ok(o) if o.status.success() => o.stdout,
                _ => {
                    return Err(loc
                        .error(format!(
                            "base 'distro': no Debian config at {}",
                            file.display()
                        ))
                        .with_hint(format!("install it: apt-get install {pkg}")))
                }
            }
        }
        path => {
            let p = spec.resolve_path(path);
            std::fs::read(&p).map_err(|e| {
                loc.error(format!("base '{path}': {e}")).with_hint(
                    "base is tinyconfig, allnoconfig, alldefconfig, defconfig, distro, or the path of a config file",
                )
            })?
        }
    };
    Ok((base, bytes))
}

/// Generates one kernel: returns the result; writes `out_dir/NAME/.config`
/// only when the gate passes and `out_dir` is given.
pub fn generate(
    spec: &Spec,
    name: &str,
    lib: &Library,
    out_dir: Option<&Path>,
    no_cache: bool,
) -> KernelResult {
    let mut res = KernelResult {
        name: name.to_string(),
        version: (0, 0),
        arch: String::new(),
        base: String::new(),
        verdicts: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        config: None,
        written: None,
        plan: ktailor_resolve::Plan::default(),
        hardware: Vec::new(),
    };
    let Some(k) = spec.flattened(name) else {
        res.errors.push(Diagnostic::error(
            spec.path.display().to_string(),
            0,
            format!("no kernel named '{name}'"),
        ));
        return res;
    };
    let src = match source_dir(spec, &k) {
        Ok(s) => s,
        Err(d) => {
            res.errors.push(d);
            return res;
        }
    };
    let objtree = match out_dir {
        Some(o) => o.join(&k.name),
        None => std::env::temp_dir().join(format!(
            "ktailor-generate-{}-{}",
            std::process::id(),
            k.name
        )),
    };
    let opts = TreeOptions {
        srctree: src,
        arch: k.arch.as_ref().map(|a| a.value.clone()),
        objtree: Some(objtree.clone()),
        no_cache,
        make_vars: k
            .cross_compile
            .iter()
            .map(|c| ("CROSS_COMPILE".to_string(), c.value.clone()))
            .collect(),
        ..TreeOptions::default()
    };
    let tree = match open(&opts) {
        Ok(t) => t,
        Err(e) => {
            let loc = k
                .arch
                .as_ref()
                .map(|a| a.loc.clone())
                .unwrap_or(k.loc.clone());
            for d in e.diags {
                res.errors.push(loc.error(d.message));
            }
            return res;
        }
    };
    let version = tree.version().unwrap_or((0, 0));
    let target = Target {
        version,
        arch: tree.tree.arch.clone().unwrap_or_default(),
        srcarch: tree.tree.srcarch.clone().unwrap_or_default(),
    };
    res.version = version;
    res.arch = target.arch.clone();
    let mut asks = collect(&k, lib, &target, &mut res.errors, &mut res.warnings);
    let explicit = spec_asks(&k);
    let (base, base_bytes) = match base_config(spec, &k, &tree, &target) {
        Ok(b) => b,
        Err(d) => {
            res.errors.push(d);
            return res;
        }
    };
    res.base = base;
    // Check each request against the tree before applying anything.
    let probe = match tree.load() {
        Ok(kc) => kc,
        Err(e) => {
            res.errors.extend(e.diags);
            return res;
        }
    };
    let modules = has_modules(
        &asks
            .iter()
            .chain(explicit.iter())
            .cloned()
            .collect::<Vec<_>>(),
        &base_bytes,
    );
    let (hw_asks, hw_uses) = crate::hardware::asks(
        spec,
        &k,
        &crate::hardware::Tree {
            srctree: &tree.tree.srctree,
            arch: &target.arch,
            kconfig: &probe,
            modules,
            no_cache,
        },
        &mut res.errors,
        &mut res.warnings,
    );
    res.hardware = hw_uses;
    asks.extend(hw_asks);
    asks.extend(explicit);
    // The last request for a symbol is the effective one.
    let mut effective: Vec<Ask> = Vec::new();
    for a in asks {
        effective.retain(|e| e.name != a.name);
        effective.push(a);
    }
    let mut lines = String::new();
    let mut checked = Vec::new();
    for a in effective {
        let Some(s) = probe
            .find(&a.name)
            .filter(|s| s.idx() >= 3 && probe.sym(*s).ty != SymType::Unknown)
        else {
            let alt = a
                .alternatives
                .iter()
                .find(|n| probe.find(n).is_some())
                .cloned();
            if let Some(alt) = alt {
                let mut b = a.clone();
                b.name = alt;
                checked.push(b);
                continue;
            }
            let mut reasons = vec![format!(
                "CONFIG_{} does not exist in this tree (Linux {}.{}, ARCH={})",
                a.name, version.0, version.1, target.arch
            )];
            let names = probe.syms.iter().filter_map(|s| s.name.as_deref());
            if let Some(sugg) = crate::suggest::closest(&a.name, names) {
                reasons.push(format!("did you mean CONFIG_{sugg}?"));
            }
            res.verdicts.push(Verdict {
                ask: a,
                actual: None,
                holds: false,
                reasons,
            });
            continue;
        };
        let ty = probe.sym(s).ty;
        match a.value.config_line(&a.name, ty) {
            Ok(l) => {
                lines.push_str(&l);
                lines.push('\n');
                checked.push(a);
            }
            Err(e) => {
                res.verdicts.push(Verdict {
                    ask: a,
                    actual: None,
                    holds: false,
                    reasons: vec![e],
                });
            }
        }
    }
    // Lines for the requests, by name (the resolver hands names back).
    let mut req_lines: Vec<(String, String)> = Vec::new();
    let mut wants: Vec<(String, ktailor_resolve::Want)> = Vec::new();
    let mut required: Vec<bool> = Vec::new();
    for a in &checked {
        let Some(s) = probe.find(&a.name) else {
            continue;
        };
        let ty = probe.sym(s).ty;
        let Ok(line) = a.value.config_line(&a.name, ty) else {
            continue;
        };
        let Ok(canon) = a.value.canonical(ty) else {
            continue;
        };
        let w = match ty {
            SymType::Bool | SymType::Tristate => ktailor_resolve::Want::Tri(match canon.as_str() {
                "y" => Tri::Y,
                "m" => Tri::M,
                _ => Tri::N,
            }),
            _ => ktailor_resolve::Want::Text(canon),
        };
        req_lines.push((a.name.clone(), line));
        wants.push((a.name.clone(), w));
        required.push(!a.optional);
    }
    drop(lines);
    drop(probe);
    let mut run_err: Option<Vec<Diagnostic>> = None;
    let mut evaluate = |all: &[(String, ktailor_resolve::Want)]| -> Option<Kconfig> {
        let mut input = base_bytes.clone();
        if !input.ends_with(b"\n") && !input.is_empty() {
            input.push(b'\n');
        }
        for (n, w) in all {
            let line = match req_lines.iter().find(|(r, _)| r == n) {
                Some((_, l)) if wants.iter().any(|(x, ww)| x == n && ww == w) => l.clone(),
                _ => ktailor_resolve::config_line(n, w),
            };
            input.extend_from_slice(line.as_bytes());
            input.push(b'\n');
        }
        match tree.settle(input) {
            Ok(o) => Some(o.kconfig),
            Err(e) => {
                run_err = Some(e.diags);
                None
            }
        }
    };
    let Some((plan, kc)) = ktailor_resolve::resolve(&wants, &required, &mut evaluate, 40) else {
        res.errors.extend(run_err.unwrap_or_default());
        return res;
    };
    res.plan = plan;
    let mut kc = kc;
    // The text of the last evaluation (the returned tree's).
    let config = tree.config_text(&mut kc);
    for a in checked {
        res.verdicts.push(judge(&mut kc, a));
    }
    if !res.failed() {
        if let Some(dir) = out_dir {
            // The configuration, then what the kernel's `make syncconfig`
            // would write from it (auto.conf, autoconf.h, ...), so make
            // finds them up to date and neither builds nor runs the C
            // conf. Only when .config changed or they are missing: an
            // unchanged kernel leaves make nothing to do.
            let dest = dir.join(&k.name).join(".config");
            let written = ktailor_kconfig::confdata::write_atomic(&dest, &config, true)
                .map_err(|e| {
                    vec![Diagnostic::error(
                        "",
                        0,
                        format!("cannot write {}: {e}", dest.display()),
                    )]
                })
                .and_then(|changed| tree.write_autoconf(&mut kc, changed).map_err(|e| e.diags));
            match written {
                Ok(()) => res.written = Some(dest),
                Err(d) => res.errors.extend(d),
            }
        }
        res.config = Some(config);
    }
    drop(kc);
    res
}

/// Compares one request with the final configuration and explains a
/// difference.
pub fn judge(k: &mut Kconfig, a: Ask) -> Verdict {
    let Some(s) = k.find(&a.name) else {
        return Verdict {
            ask: a,
            actual: None,
            holds: false,
            reasons: vec!["the option does not exist".into()],
        };
    };
    k.sym_calc_value(s);
    let ty = k.sym(s).ty;
    let actual = k.sym_string_value_now(s);
    let want = a.value.canonical(ty).unwrap_or_default();
    // m (available as a module) is also met by y (built in).
    let holds = actual == want || (want == "m" && actual == "y");
    let reasons = if holds {
        Vec::new()
    } else {
        explain(k, s, &a.value)
    };
    Verdict {
        ask: a,
        actual: Some(actual),
        holds,
        reasons,
    }
}

/// Why symbol `s` is not at `want`, in terms of the Kconfig facts with the
/// live value of every symbol involved.
pub fn explain(k: &mut Kconfig, s: SymId, want: &Value) -> Vec<String> {
    let mut r = Vec::new();
    let sym = k.sym(s).clone();
    let prompts: Vec<_> = sym
        .props
        .iter()
        .copied()
        .filter(|p| k.prop(*p).ty == PropType::Prompt || k.prop(*p).ty == PropType::Menu)
        .collect();
    let wants_on = !want.is_off();
    if wants_on && sym.ty.is_tristate_like() {
        if *want == Value::Tri(Tri::M) && k.modules_val == Tri::N {
            r.push(format!(
                "modules are disabled: {} [={}]",
                k.sym_name(k.modules_sym),
                k.sym_string_value_now(k.modules_sym)
            ));
        }
        if prompts.is_empty() {
            let mut had_default = false;
            if let Some(p) = sym
                .props
                .iter()
                .copied()
                .find(|p| k.prop(*p).ty == PropType::Default)
            {
                had_default = true;
                let c = k.prop(p).visible;
                let cv = k.expr_to_string_with_values(c);
                r.push(format!(
                    "it has no prompt; its default applies only if {cv}"
                ));
                if !k.exprs.is_yes(sym.dir_dep.expr) {
                    let d = k.expr_to_string_with_values(sym.dir_dep.expr);
                    r.push(format!("unmet dependency: depends on {d}"));
                }
            }
            if !had_default {
                r.push("it has no prompt: only a `select` can turn it on, and nothing that selects it is enabled".into());
            }
            r.extend(selectors(k, sym.rev_dep.expr, "selected by"));
        } else if sym.visible < Tri::M || (*want == Value::Tri(Tri::Y) && sym.visible < Tri::Y) {
            if !k.exprs.is_yes(sym.dir_dep.expr) {
                let d = k.expr_to_string_with_values(sym.dir_dep.expr);
                r.push(format!("unmet dependency: depends on {d}"));
            }
            for p in &prompts {
                let v = k.prop(*p).visible;
                let pv = k.expr_calc_value(v);
                if pv < Tri::Y {
                    let txt = k.expr_to_string_with_values(v);
                    if !r.iter().any(|x| x.ends_with(&txt)) {
                        r.push(format!("its prompt is visible only if {txt}"));
                    }
                }
            }
            if let Some(c) = k.sym_get_choice_menu(s) {
                let chosen: Vec<String> = k
                    .sub_entries(c)
                    .into_iter()
                    .filter_map(|m| k.menus[m.idx()].sym)
                    .filter(|x| k.sym(*x).curr_tri == Tri::Y)
                    .map(|x| k.sym_name(x))
                    .collect();
                if !chosen.is_empty() {
                    r.push(format!(
                        "it is a choice member; the choice picked {}",
                        chosen.join(", ")
                    ));
                }
            }
        } else if sym.rev_dep.tri > Tri::N && *want == Value::Tri(Tri::M) {
            r.push("a `select` forces it to y".into());
            r.extend(selectors(k, sym.rev_dep.expr, "selected by"));
        }
    } else if !wants_on && sym.ty.is_tristate_like() {
        if sym.rev_dep.tri > Tri::N {
            r.push("it is selected, and a select cannot be overridden".into());
            r.extend(selectors(k, sym.rev_dep.expr, "selected by"));
        } else if prompts.is_empty() || sym.visible == Tri::N {
            r.push("it has no visible prompt, so its default applies".into());
            if let Some(p) = k.sym_get_default_prop(s) {
                let e = k.prop(p).expr;
                let c = k.prop(p).visible;
                let ev = k.expr_to_string_with_values(e);
                let cv = k.expr_to_string_with_values(c);
                r.push(format!("the active default is {ev} (its condition: {cv})"));
            }
        }
    } else {
        if sym.visible == Tri::N {
            if prompts.is_empty() {
                r.push("it has no prompt: its value is its default".into());
            } else {
                let d = k.expr_to_string_with_values(sym.dir_dep.expr);
                r.push(format!("unmet dependency: depends on {d}"));
            }
        }
        if let Some(p) = k.sym_get_range_prop(s) {
            if let Some(Expr::Range(a, b)) = k.prop(p).expr.map(|e| k.exprs.get(e)) {
                r.push(format!(
                    "its range is {} to {} here",
                    k.sym_string_value_now(a).trim(),
                    k.sym_string_value_now(b).trim()
                ));
            }
        }
    }
    if r.is_empty() {
        r.push("the configuration settled on another value".into());
    }
    r
}

fn selectors(k: &mut Kconfig, e: Option<ktailor_kconfig::ExprId>, what: &str) -> Vec<String> {
    let mut terms = Vec::new();
    fn walk(
        k: &Kconfig,
        e: Option<ktailor_kconfig::ExprId>,
        out: &mut Vec<ktailor_kconfig::ExprId>,
    ) {
        let Some(e) = e else { return };
        if let Expr::Or(a, b) = k.exprs.get(e) {
            walk(k, Some(a), out);
            walk(k, Some(b), out);
        } else {
            out.push(e);
        }
    }
    walk(k, e, &mut terms);
    let mut out = Vec::new();
    for t in terms {
        if k.expr_calc_value(Some(t)) > Tri::N {
            let s = k.expr_to_string_with_values(Some(t));
            out.push(format!("{what} {s}"));
        }
    }
    if out.is_empty() && terms_is_empty(k, e) {
        out.push("nothing selects it".into());
    }
    out
}

fn terms_is_empty(_k: &Kconfig, e: Option<ktailor_kconfig::ExprId>) -> bool {
    e.is_none()
}
