//! `ktailor explain`, `ktailor enable`, `ktailor disable` and
//! `ktailor diff`.
//!
//! `enable`/`disable` start from the current configuration, hand the
//! requests to the resolver, and let the exact engine (olddefconfig on the
//! configuration plus the plan) judge every round: a plan is reported, and
//! written, only when the evaluated configuration shows every request.

use std::path::{Path, PathBuf};

use clap::Args;
use ktailor_kconfig::{Diagnostic, Kconfig, SymId, SymType, Tri};
use ktailor_resolve::diff::{diff, parse_config, Changes, Values};
use ktailor_resolve::{request_holds, Plan, Want};
use ktailor_tree::{open, OpenTree};
use serde_json::json;

use crate::generate_cmd::Format;
use crate::kconfig_cmd::{print_diags, tree_options};
use crate::{TreeOpts, EXIT_ERROR, EXIT_FAILED, EXIT_OK};

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The option (with or without the CONFIG_ prefix).
    pub symbol: String,
    #[command(flatten)]
    pub tree: TreeOpts,
}

#[derive(Args, Debug)]
pub struct EnableArgs {
    /// SYMBOL[=VALUE]... (VALUE defaults to y; int/hex/string options need
    /// one).
    #[arg(required = true, value_name = "SYMBOL[=VALUE]")]
    pub requests: Vec<String>,
    /// Print the plan; do not write the configuration.
    #[arg(long)]
    pub dry_run: bool,
    /// List every choice the plan made between alternatives.
    #[arg(long)]
    pub alternatives: bool,
    #[command(flatten)]
    pub tree: TreeOpts,
}

#[derive(Args, Debug)]
pub struct DisableArgs {
    /// The options to switch off.
    #[arg(required = true, value_name = "SYMBOL")]
    pub symbols: Vec<String>,
    /// Print the plan; do not write the configuration.
    #[arg(long)]
    pub dry_run: bool,
    /// List every choice the plan made between alternatives.
    #[arg(long)]
    pub alternatives: bool,
    #[command(flatten)]
    pub tree: TreeOpts,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The old configuration.
    pub old: PathBuf,
    /// The new configuration.
    pub new: PathBuf,
    /// Group the changes by menu, with prompts (needs the tree: -C ...).
    #[arg(long)]
    pub by_menu: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub tree: TreeOpts,
}

fn strip_prefix(name: &str) -> &str {
    name.strip_prefix("CONFIG_").unwrap_or(name)
}

/// The tree, the current configuration's bytes and the tree evaluated on
/// it (olddefconfig, without writing).
pub(crate) struct Current {
    pub(crate) tree: OpenTree,
    pub(crate) config_path: PathBuf,
    pub(crate) bytes: Vec<u8>,
    pub(crate) k: Kconfig,
}

pub(crate) fn current(o: &TreeOpts) -> Result<Current, u8> {
    read_current(o, None)
}

/// `current` with the values computed as they are asked for
/// (`OpenTree::read_deferred`): what the resolver needs, since it looks at
/// the options around the requests and every plan is then evaluated in
/// full. `plans` is how many plans the caller expects to evaluate.
fn current_deferred(o: &TreeOpts, plans: usize) -> Result<Current, u8> {
    read_current(o, Some(plans))
}

fn read_current(o: &TreeOpts, deferred: Option<usize>) -> Result<Current, u8> {
    let tree = open(&tree_options(o)).map_err(|e| {
        print_diags(&e.diags, &o.srctree);
        EXIT_ERROR
    })?;
    let config_path = tree.tree.config.clone();
    let bytes = match std::fs::read(&config_path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "error: cannot read the configuration {}: {e}\n\nhint: create one first (`ktailor kconfig defconfig`, or `make defconfig`), or pass --config FILE",
                config_path.display()
            );
            return Err(EXIT_ERROR);
        }
    };
    let k = if let Some(plans) = deferred {
        // Every plan is then evaluated on a tree of its own: a copy, and
        // for the last plan expected the tree as parsed.
        tree.expect_loads(1 + plans);
        tree.read_deferred(bytes.clone())
    } else {
        tree.settle(bytes.clone()).map(|o| o.kconfig)
    };
    let k = k.map_err(|e| {
        print_diags(&e.diags, &tree.tree.srctree);
        EXIT_ERROR
    })?;
    Ok(Current {
        k,
        tree,
        config_path,
        bytes,
    })
}

/// Looks a symbol up, or prints an error with a suggestion.
/// Where another architecture defines `name` (`arch/*/**/Kconfig*`).
fn defined_elsewhere(srctree: &Path, name: &str) -> Option<String> {
    fn walk(dir: &Path, depth: usize, name: &str, srctree: &Path) -> Option<String> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() && depth < 3 {
                if let Some(hit) = walk(&p, depth + 1, name, srctree) {
                    return Some(hit);
                }
            } else if p
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with("Kconfig"))
            {
                let text = std::fs::read_to_string(&p).ok()?;
                for (i, line) in text.lines().enumerate() {
                    let mut w = line.split_whitespace();
                    if matches!(w.next(), Some("config" | "menuconfig")) && w.next() == Some(name) {
                        let rel = p.strip_prefix(srctree).unwrap_or(&p);
                        return Some(format!("{}:{}", rel.display(), i + 1));
                    }
                }
            }
        }
        None
    }
    walk(&srctree.join("arch"), 0, name, srctree)
}

fn find_symbol(k: &Kconfig, tree: &OpenTree, name: &str) -> Result<SymId, u8> {
    let n = strip_prefix(name);
    // A name that is only referenced (in a `depends on` of another arch's
    // option, say) has no type: it does not exist here.
    if let Some(s) = k.find(n).filter(|s| k.sym(*s).ty != SymType::Unknown) {
        return Ok(s);
    }
    if let Some(at) = defined_elsewhere(&tree.tree.srctree, n) {
        let arch = tree.tree.srcarch.clone().unwrap_or_default();
        eprintln!(
            "error: CONFIG_{n} cannot hold on ARCH={arch}: it is defined only for another architecture ({at})"
        );
        return Err(EXIT_FAILED);
    }
    let names: Vec<String> = (3..k.syms.len())
        .filter(|&i| k.syms[i].ty != SymType::Unknown)
        .filter_map(|i| k.syms[i].name.as_deref().map(str::to_string))
        .collect();
    let hint = ktailor_spec::suggest::closest(n, names.iter().map(String::as_str));
    eprintln!("error: unknown option '{n}' in this tree");
    if let Some(h) = hint {
        eprintln!("\nhint: did you mean '{h}'?");
    }
    Err(EXIT_ERROR)
}

pub fn explain(a: ExplainArgs) -> u8 {
    let mut c = match current(&a.tree) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let s = match find_symbol(&c.k, &c.tree, &a.symbol) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let prefix = c.tree.getenv("CONFIG_").unwrap_or_else(|| "CONFIG_".into());
    print!(
        "{}",
        ktailor_resolve::explain::describe(&mut c.k, s, &prefix)
    );
    // When the option is off, show what `enable` would do.
    let sym = c.k.sym(s).clone();
    let has_prompt = sym
        .menus
        .iter()
        .any(|m| c.k.menus[m.idx()].prompt.is_some());
    if sym.ty.is_tristate_like() && sym.curr_tri == Tri::N && has_prompt && !c.k.is_choice(s) {
        let name = c.k.sym_name(s);
        let want = vec![(name.clone(), Want::Tri(Tri::Y))];
        match plan(&c.tree, &mut c.k, &c.bytes, &want, 0) {
            Ok(p) => {
                println!("To enable it (`ktailor enable {name}`):");
                print_plan(&p, &c.bytes, false);
            }
            Err(code) => return code,
        }
    }
    EXIT_OK
}

/// A resolved (or failed) plan, as evaluated by the engine.
struct Evaluated {
    plan: Plan,
    k: Kconfig,
    config: Vec<u8>,
    /// Requests that do not hold in the evaluated configuration.
    failed: Vec<(String, Want, String)>,
    requests: Vec<(String, Want)>,
}

/// Resolves `wants` on top of `base` with the engine as the judge.
fn plan(
    tree: &OpenTree,
    current: &mut Kconfig,
    base: &[u8],
    wants: &[(String, Want)],
    alternatives: usize,
) -> Result<Evaluated, u8> {
    let mut err: Option<Vec<Diagnostic>> = None;
    let mut evaluate = |all: &[(String, Want)]| -> Option<Kconfig> {
        match tree.settle(ktailor_resolve::config_with(base, all)) {
            Ok(o) => Some(o.kconfig),
            Err(e) => {
                err = Some(e.diags);
                None
            }
        }
    };
    let required = vec![true; wants.len()];
    let opts = ktailor_resolve::Options {
        alternatives,
        ..Default::default()
    };
    let Some((plan, mut k)) =
        ktailor_resolve::resolve_with(current, wants, &required, &mut evaluate, &opts)
    else {
        print_diags(&err.unwrap_or_default(), &tree.tree.srctree);
        return Err(EXIT_ERROR);
    };
    // The text of the last evaluation: the returned tree's.
    let config = tree.config_text(&mut k);
    let mut failed = Vec::new();
    for (n, w) in wants {
        let actual = match k.find(n) {
            Some(s) => {
                k.sym_calc_value(s);
                k.sym_string_value_now(s)
            }
            None => String::new(),
        };
        if !request_holds(&actual, w) {
            failed.push((n.clone(), w.clone(), actual));
        }
    }
    Ok(Evaluated {
        plan,
        k,
        config,
        failed,
        requests: wants.to_vec(),
    })
}

fn want_str(w: &Want) -> String {
    match w {
        Want::Tri(t) => t.as_str().to_string(),
        Want::Text(t) => t.clone(),
    }
}

fn print_plan(e: &Evaluated, base: &[u8], all_alternatives: bool) {
    if !e.failed.is_empty() {
        return;
    }
    if e.plan.additions.is_empty() {
        println!("  nothing else is needed");
    }
    for a in &e.plan.additions {
        println!(
            "  + CONFIG_{}={}  (CONFIG_{} needs {})",
            a.name,
            a.value.as_str(),
            a.needed_by,
            a.because
        );
    }
    if !e.plan.alternatives.is_empty() {
        if all_alternatives {
            println!(
                "  alternatives: (other plans of the same size, each confirmed by the engine)"
            );
            for x in &e.plan.alternatives {
                println!("    {x}");
            }
        } else {
            println!("  (other plans of the same size exist; --alternatives lists them)");
        }
    }
    use ktailor_kconfig::text_of;
    let changes = ktailor_resolve::diff::diff_texts(&text_of(base), &text_of(&e.config), "CONFIG_");
    println!(
        "  the configuration changes in {} option(s) after olddefconfig:",
        changes.len()
    );
    let lines = changes.lines();
    for l in lines.iter().take(SHOWN_CHANGES) {
        println!("    {l}");
    }
    if lines.len() > SHOWN_CHANGES {
        println!(
            "    ... and {} more (`--dry-run` leaves the file alone; `ktailor diff` compares files)",
            lines.len() - SHOWN_CHANGES
        );
    }
}

/// How many changed options a plan lists.
const SHOWN_CHANGES: usize = 40;

fn parse_request(
    k: &Kconfig,
    tree: &OpenTree,
    r: &str,
    default: Tri,
) -> Result<(String, Want), u8> {
    let (name, value) = match r.split_once('=') {
        Some((n, v)) => (strip_prefix(n), Some(v)),
        None => (strip_prefix(r), None),
    };
    let s = find_symbol(k, tree, name)?;
    let ty = k.sym(s).ty;
    let want = match (ty, value) {
        (SymType::Bool | SymType::Tristate, None) => Want::Tri(default),
        (SymType::Bool | SymType::Tristate, Some(v)) => match v {
            "y" => Want::Tri(Tri::Y),
            "m" if ty == SymType::Tristate => Want::Tri(Tri::M),
            "n" => Want::Tri(Tri::N),
            _ => {
                eprintln!(
                    "error: '{r}': a {} option takes {}",
                    ty.name(),
                    if ty == SymType::Tristate {
                        "y, m or n"
                    } else {
                        "y or n"
                    }
                );
                return Err(EXIT_ERROR);
            }
        },
        (_, None) => {
            eprintln!(
                "error: '{r}': a {} option needs a value (NAME=VALUE)",
                ty.name()
            );
            return Err(EXIT_ERROR);
        }
        (_, Some(v)) => {
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            if !k.sym_string_valid(s, v) {
                eprintln!("error: '{r}': not a valid {} value", ty.name());
                return Err(EXIT_ERROR);
            }
            if ty == SymType::String {
                Want::Text(format!(
                    "\"{}\"",
                    ktailor_kconfig::confdata::escape_string(v)
                ))
            } else {
                Want::Text(v.to_string())
            }
        }
    };
    Ok((name.to_string(), want))
}

/// `modular[i]`: request `i` named a tristate without a value, so y was
/// asked; when y is proven impossible, m is tried (a module-only option).
fn apply(
    cur: Current,
    wants: Vec<(String, Want)>,
    modular: &[bool],
    dry_run: bool,
    alternatives: bool,
) -> u8 {
    // The process ends with this command: freeing the trees (a sixth of
    // the instructions of a run) is left to the exit.
    let mut cur = std::mem::ManuallyDrop::new(cur);
    let alts = if alternatives { ALTERNATIVES_LISTED } else { 0 };
    let cur = &mut *cur;
    let mut e = match plan(&cur.tree, &mut cur.k, &cur.bytes, &wants, alts) {
        Ok(e) => e,
        Err(code) => return code,
    };
    if !e.failed.is_empty() && e.plan.proven && modular.iter().any(|m| *m) {
        let as_module: Vec<(String, Want)> = wants
            .iter()
            .zip(modular)
            .map(|((n, w), m)| match m {
                true => (n.clone(), Want::Tri(Tri::M)),
                false => (n.clone(), w.clone()),
            })
            .collect();
        match plan(&cur.tree, &mut cur.k, &cur.bytes, &as_module, alts) {
            Ok(m) if m.failed.is_empty() => {
                for (n, _) in wants.iter().zip(modular).filter(|x| *x.1).map(|x| x.0) {
                    println!("CONFIG_{n}=y cannot hold (proven); asking for m");
                }
                e = m;
            }
            Ok(_) => {}
            Err(code) => return code,
        }
    }
    let mut e = std::mem::ManuallyDrop::new(e);
    let e = &mut *e;
    // String wants compare with the unquoted value the engine reports.
    e.failed.retain(|(_, w, actual)| match w {
        Want::Text(t) => t.trim_matches('"') != actual,
        _ => true,
    });
    if !e.failed.is_empty() {
        for (n, w, actual) in &e.failed {
            let shown = if actual.is_empty() { "n" } else { actual };
            eprintln!(
                "error: CONFIG_{n}={} cannot hold: it ends up {shown}",
                want_str(w)
            );
            if let Some(s) = e.k.find(n) {
                let v = match w {
                    Want::Tri(t) => ktailor_spec::Value::Tri(*t),
                    Want::Text(t) => ktailor_spec::Value::Text(t.trim_matches('"').to_string()),
                };
                for r in ktailor_spec::generate::explain(&mut e.k, s, &v) {
                    eprintln!("  because {r}");
                }
            }
        }
        if !e.plan.conflicts.is_empty() {
            eprintln!();
        }
        for c in &e.plan.conflicts {
            eprintln!("{c}");
        }
        eprintln!("\nnothing written");
        return EXIT_FAILED;
    }
    let names: Vec<String> = e
        .requests
        .iter()
        .map(|(n, w)| format!("CONFIG_{n}={}", want_str(w)))
        .collect();
    println!("{} holds with:", names.join(", "));
    print_plan(e, &cur.bytes, alternatives);
    if dry_run {
        println!("(dry run: nothing written)");
        return EXIT_OK;
    }
    if e.config == cur.bytes {
        println!("{} is unchanged", cur.config_path.display());
        return EXIT_OK;
    }
    match ktailor_kconfig::confdata::write_atomic(&cur.config_path, &e.config, true) {
        Ok(_) => {
            println!("wrote {}", cur.config_path.display());
            EXIT_OK
        }
        Err(err) => {
            eprintln!("error: cannot write {}: {err}", cur.config_path.display());
            EXIT_ERROR
        }
    }
}

/// How many other plans `--alternatives` confirms and lists.
const ALTERNATIVES_LISTED: usize = 3;

/// The plans a request evaluates when it goes as expected: the plan, or
/// with `--alternatives` the plan, each alternative and the plan again.
fn plans_evaluated(alternatives: bool) -> usize {
    if alternatives {
        ALTERNATIVES_LISTED + 2
    } else {
        1
    }
}

pub fn enable(a: EnableArgs) -> u8 {
    let cur = match current_deferred(&a.tree, plans_evaluated(a.alternatives)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut wants = Vec::new();
    let mut modular = Vec::new();
    for r in &a.requests {
        match parse_request(&cur.k, &cur.tree, r, Tri::Y) {
            Ok(w) => {
                let tristate = cur.k.find(&w.0).map(|s| cur.k.sym(s).ty) == Some(SymType::Tristate);
                modular.push(tristate && !r.contains('='));
                wants.push(w);
            }
            Err(code) => return code,
        }
    }
    apply(cur, wants, &modular, a.dry_run, a.alternatives)
}

pub fn disable(a: DisableArgs) -> u8 {
    let cur = match current_deferred(&a.tree, plans_evaluated(a.alternatives)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut wants = Vec::new();
    for r in &a.symbols {
        if r.contains('=') {
            eprintln!("error: '{r}': disable takes option names (use enable NAME=VALUE)");
            return EXIT_ERROR;
        }
        let s = match find_symbol(&cur.k, &cur.tree, r) {
            Ok(s) => s,
            Err(code) => return code,
        };
        if !cur.k.sym(s).ty.is_tristate_like() {
            eprintln!(
                "error: '{r}' is a {} option: it cannot be switched off",
                cur.k.sym(s).ty.name()
            );
            return EXIT_ERROR;
        }
        wants.push((strip_prefix(r).to_string(), Want::Tri(Tri::N)));
    }
    let modular = vec![false; wants.len()];
    apply(cur, wants, &modular, a.dry_run, a.alternatives)
}

fn read_values(p: &Path) -> Result<Values, u8> {
    let text = match std::fs::read(p) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", p.display());
            return Err(EXIT_ERROR);
        }
    };
    let file = p.display().to_string();
    match parse_config(&text, &file, "CONFIG_") {
        Ok((v, warnings)) => {
            print_diags(&warnings, Path::new("."));
            Ok(v)
        }
        Err(errors) => {
            print_diags(&errors, Path::new("."));
            Err(EXIT_ERROR)
        }
    }
}

/// The menu path of a symbol (`Device Drivers > Network device support`)
/// and its prompt.
fn menu_of(k: &Kconfig, name: &str) -> (String, Option<String>) {
    let Some(s) = k.find(name) else {
        return ("(not in this tree)".into(), None);
    };
    let Some(&m) = k.sym(s).menus.first() else {
        return ("(not in this tree)".into(), None);
    };
    let prompt = k.menu_get_prompt(m);
    let mut path = Vec::new();
    let mut p = k.menus[m.idx()].parent;
    while let Some(x) = p {
        if x == ktailor_kconfig::MenuId::ROOT {
            break;
        }
        if let Some(t) = k.menu_get_prompt(x) {
            path.push(t);
        }
        p = k.menus[x.idx()].parent;
    }
    path.reverse();
    let path = if path.is_empty() {
        "(top level)".to_string()
    } else {
        path.join(" > ")
    };
    (path, prompt)
}

pub fn diff_configs(a: DiffArgs) -> u8 {
    let (old, new) = match (read_values(&a.old), read_values(&a.new)) {
        (Ok(o), Ok(n)) => (o, n),
        _ => return EXIT_ERROR,
    };
    let changes = diff(&old, &new);
    let tree_k = if a.by_menu {
        let t = match open(&tree_options(&a.tree)) {
            Ok(t) => t,
            Err(e) => {
                print_diags(&e.diags, &a.tree.srctree);
                return EXIT_ERROR;
            }
        };
        match t.load() {
            Ok(k) => Some(k),
            Err(e) => {
                print_diags(&e.diags, &a.tree.srctree);
                return EXIT_ERROR;
            }
        }
    } else {
        None
    };
    match a.format {
        Format::Json => print_json(&changes, tree_k.as_ref()),
        Format::Text => match &tree_k {
            None => {
                for l in changes.lines() {
                    println!("{l}");
                }
            }
            Some(k) => print_by_menu(&changes, k),
        },
    }
    EXIT_OK
}

fn print_json(c: &Changes, k: Option<&Kconfig>) {
    // One object per option: its name, old and/or new value, and with a
    // tree its menu path and prompt.
    let item = |n: &str, old: Option<&str>, new: Option<&str>| {
        let mut v = json!({ "name": n });
        if let Some(o) = old {
            v["old"] = json!(o);
        }
        if let Some(x) = new {
            v["new"] = json!(x);
        }
        if let Some(k) = k {
            let (menu, prompt) = menu_of(k, n);
            v["menu"] = json!(menu);
            v["prompt"] = json!(prompt);
        }
        v
    };
    let removed: Vec<_> = c
        .removed
        .iter()
        .map(|(n, v)| item(n, Some(v), None))
        .collect();
    let added: Vec<_> = c
        .added
        .iter()
        .map(|(n, v)| item(n, None, Some(v)))
        .collect();
    let changed: Vec<_> = c
        .changed
        .iter()
        .map(|(n, o, v)| item(n, Some(o), Some(v)))
        .collect();
    let out = json!({ "removed": removed, "added": added, "changed": changed });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
}

fn print_by_menu(c: &Changes, k: &Kconfig) {
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut add = |n: &str, line: String| {
        let (menu, prompt) = menu_of(k, n);
        let line = match prompt {
            Some(p) => format!("{line}  \"{p}\""),
            None => line,
        };
        groups.entry(menu).or_default().push(line);
    };
    for (n, v) in &c.removed {
        add(n, format!("-{n} {v}"));
    }
    for (n, v) in &c.added {
        add(n, format!("+{n} {v}"));
    }
    for (n, o, v) in &c.changed {
        add(n, format!(" {n} {o} -> {v}"));
    }
    for (menu, lines) in groups {
        println!("{menu}:");
        for l in lines {
            println!("  {l}");
        }
    }
}
