//! Pulling dependencies in: given requested option values that do not hold
//! in a configuration, find the user values that make them hold — or show
//! that nothing can.
//!
//! The search is the SAT planner of `ktailor-sat`: it proposes the plan
//! that changes the fewest options, or proves the requests cannot hold
//! together and names the requests and Kconfig rules involved. The exact
//! engine is the judge: every plan is evaluated (olddefconfig on the
//! current configuration plus the plan's values plus the requests), and
//! when the result differs from what the planner expected, the difference
//! goes back to the planner and it searches again. Nothing is reported as
//! resolved unless the evaluated configuration shows it. Requests the user
//! made are never changed.

pub mod diff;
pub mod explain;
pub mod keep;

use ktailor_kconfig::expr::Expr;
use ktailor_kconfig::{ExprId, Kconfig, PropType, SymId, SymType, Tri};
use ktailor_sat::{Goal, Outcome, Planner, Solution};

/// A requested value: a tristate, or the exact string value of an
/// int/hex/string option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    Tri(Tri),
    Text(String),
}

/// An option value the resolver added, and why.
#[derive(Clone, Debug)]
pub struct Addition {
    pub name: String,
    pub value: Tri,
    /// The option that needed it.
    pub needed_by: String,
    /// The Kconfig fact, with live values (`depends on PCI [=n] && NET [=y]`).
    pub because: String,
}

/// The resolver's result.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub additions: Vec<Addition>,
    /// Other plans of the same size, each confirmed by the engine
    /// (computed when asked for), or a note that they exist.
    pub alternatives: Vec<String>,
    /// Why the requests cannot hold: the requests and Kconfig rules that
    /// conflict, each with file:line.
    pub conflicts: Vec<String>,
    /// The conflict is proven: no configuration satisfies the requests.
    pub proven: bool,
    /// Plans evaluated by the engine.
    pub rounds: usize,
}

/// Whether a request holds. A request for `m` (the driver available) is
/// also met by `y` (built in): built in is never less available.
pub fn request_holds(actual: &str, w: &Want) -> bool {
    match w {
        Want::Tri(Tri::M) => actual == "m" || actual == "y",
        Want::Tri(t) => actual == t.as_str(),
        Want::Text(t) => actual == t,
    }
}

/// The `.config` line that gives option `name` the value `w`.
pub fn config_line(name: &str, w: &Want) -> String {
    match w {
        Want::Tri(Tri::N) => format!("# CONFIG_{name} is not set"),
        Want::Tri(t) => format!("CONFIG_{name}={}", t.as_str()),
        Want::Text(t) => format!("CONFIG_{name}={t}"),
    }
}

/// `base` with a line for each assignment appended; conf reads the lines
/// in order, so a later one wins over an earlier one and over `base`.
pub fn config_with(base: &[u8], all: &[(String, Want)]) -> Vec<u8> {
    let mut input = base.to_vec();
    if !input.is_empty() && !input.ends_with(b"\n") {
        input.push(b'\n');
    }
    for (n, w) in all {
        input.extend_from_slice(config_line(n, w).as_bytes());
        input.push(b'\n');
    }
    input
}

/// Builds and settles a configuration from assignments (the judge).
pub type Evaluate<'a> = dyn FnMut(&[(String, Want)]) -> Option<Kconfig> + 'a;

/// How `resolve` searches.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Plans the engine may evaluate before the resolver gives up.
    pub max_rounds: usize,
    /// Other plans of the same size to find and confirm (0: only say
    /// whether one exists).
    pub alternatives: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_rounds: 40,
            alternatives: 0,
        }
    }
}

fn holds_in(k: &mut Kconfig, name: &str, w: &Want) -> bool {
    let Some(s) = k.find(name) else { return false };
    k.sym_calc_value(s);
    let v = k.sym_string_value_now(s);
    // String values compare unquoted.
    match w {
        Want::Text(t) => v == t.trim_matches('"') || v == *t,
        _ => request_holds(&v, w),
    }
}

/// Finds the values that make `requests` hold. `evaluate` builds the
/// configuration for a list of assignments (the plan first, then the
/// requests, so a request wins) and returns the settled tree; called with
/// no assignments it gives the current configuration. Returns the plan and
/// the last evaluated tree. `required[i]` says whether request `i` must
/// hold. Optional requests are applied but nothing else changes to make
/// them hold; a plan does keep those that hold with the requests alone
/// (it may not break them to save a line), unless no plan can.
pub fn resolve(
    requests: &[(String, Want)],
    required: &[bool],
    evaluate: &mut Evaluate<'_>,
    max_rounds: usize,
) -> Option<(Plan, Kconfig)> {
    let opts = Options {
        max_rounds,
        ..Options::default()
    };
    let mut base = evaluate(&[])?;
    resolve_with(&mut base, requests, required, evaluate, &opts)
}

/// `resolve` from an already evaluated current configuration `base`.
pub fn resolve_with(
    base: &mut Kconfig,
    requests: &[(String, Want)],
    required: &[bool],
    evaluate: &mut Evaluate<'_>,
    opts: &Options,
) -> Option<(Plan, Kconfig)> {
    let must: Vec<usize> = (0..requests.len())
        .filter(|&i| required.get(i).copied().unwrap_or(true))
        .collect();
    if must.len() < requests.len() {
        if let Some(mut alone) = evaluate(requests) {
            let mut kept = must.clone();
            kept.extend(
                (0..requests.len())
                    .filter(|i| !must.contains(i))
                    .filter(|&i| holds_in(&mut alone, &requests[i].0, &requests[i].1)),
            );
            if kept.len() > must.len() {
                kept.sort_unstable();
                let (found, mut plan, k) =
                    resolve_goals(base, requests, &kept, evaluate, opts, Some(alone))?;
                plan.rounds += 1;
                if found {
                    return Some((plan, k));
                }
            }
        }
    }
    let (_, plan, k) = resolve_goals(base, requests, &must, evaluate, opts, None)?;
    Some((plan, k))
}

/// `resolve_with` for the requests `must` (indices into `requests`):
/// whether a confirmed plan was found, the plan (or the conflict), the
/// last evaluated tree. `requests_alone` is the requests alone, evaluated,
/// when the caller has it.
fn resolve_goals(
    base: &mut Kconfig,
    requests: &[(String, Want)],
    must: &[usize],
    evaluate: &mut Evaluate<'_>,
    opts: &Options,
    mut requests_alone: Option<Kconfig>,
) -> Option<(bool, Plan, Kconfig)> {
    let mut plan = Plan::default();
    let mut goals = Vec::new();
    for &i in must {
        let (name, w) = &requests[i];
        let Some(s) = base.find(name) else { continue };
        let g = match w {
            Want::Tri(Tri::Y) => Goal::Y,
            Want::Tri(Tri::M) => Goal::M,
            Want::Tri(Tri::N) => Goal::N,
            Want::Text(_) => Goal::Shown,
        };
        goals.push((s, g));
    }
    let syms = base.syms.len();
    // A request for m asks for m first; y also meets it when m cannot hold.
    let mut strict = goals.iter().any(|g| g.1 == Goal::M);
    // The requests alone, evaluated for a conflict of the strict search:
    // the same input for the next search's conflict, so not evaluated twice.
    loop {
        let now: Vec<(SymId, Goal)> = goals
            .iter()
            .map(|&(s, g)| match g {
                Goal::M if !strict => (s, Goal::AtLeastM),
                _ => (s, g),
            })
            .collect();
        let mut planner = Planner::new(base, &now);
        let (found, k) = search(
            &mut planner,
            requests,
            must,
            evaluate,
            opts,
            &mut plan,
            syms,
            &mut requests_alone,
        )?;
        if found || !strict {
            return Some((found, plan, k.kconfig));
        }
        if k.of_requests {
            requests_alone = Some(k.kconfig);
        }
        strict = false;
        plan.conflicts.clear();
        plan.proven = false;
    }
}

/// An evaluated tree a search hands back.
struct Settled {
    kconfig: Kconfig,
    /// It is the requests alone, evaluated (for a conflict).
    of_requests: bool,
}

/// One search with the engine as the judge: true when a confirmed plan is
/// in `plan`; false with the conflict, or the note that no plan was
/// confirmed, in `plan.conflicts`. Also returns the last evaluated tree
/// (the requests alone when nothing was evaluated). `requests_alone` is
/// that evaluation when an earlier search made it.
#[allow(clippy::too_many_arguments)] // one call site; the loop's state
fn search(
    planner: &mut Planner<'_>,
    requests: &[(String, Want)],
    must: &[usize],
    evaluate: &mut Evaluate<'_>,
    opts: &Options,
    plan: &mut Plan,
    syms: usize,
    requests_alone: &mut Option<Kconfig>,
) -> Option<(bool, Settled)> {
    let alone = |requests_alone: &mut Option<Kconfig>,
                 evaluate: &mut Evaluate<'_>,
                 plan: &mut Plan|
     -> Option<Settled> {
        let kconfig = match requests_alone.take() {
            Some(k) => k,
            None => {
                let k = evaluate(requests)?;
                plan.rounds += 1;
                k
            }
        };
        Some(Settled {
            kconfig,
            of_requests: true,
        })
    };
    let done = |kconfig: Kconfig| Settled {
        kconfig,
        of_requests: false,
    };
    let goal_req: Vec<usize> = must
        .iter()
        .copied()
        .filter(|&i| planner.enc.k.find(&requests[i].0).is_some())
        .collect();
    let mut last: Option<Kconfig> = None;
    while plan.rounds < opts.max_rounds {
        let sol = match planner.solve_plan() {
            Outcome::Plan(sol) => sol,
            Outcome::Impossible(c) | Outcome::Unproven(c) => {
                plan.proven = c.frozen.is_empty();
                plan.conflicts = render_conflict(planner, &c, requests, &goal_req);
                return Some((false, alone(requests_alone, evaluate, plan)?));
            }
        };
        let all = with_requests(planner.enc.k, &sol, requests);
        let mut k = evaluate(&all)?;
        plan.rounds += 1;
        if must
            .iter()
            .all(|&i| holds_in(&mut k, &requests[i].0, &requests[i].1))
        {
            let goals: Vec<SymId> = goal_req
                .iter()
                .filter_map(|&i| planner.enc.k.find(&requests[i].0))
                .collect();
            plan.additions = additions(planner, &sol, &goals);
            if alternatives(planner, &sol, requests, evaluate, opts, plan) {
                // The last evaluation was an alternative's: the plan's
                // configuration is the one to hand back.
                k = evaluate(&all)?;
                plan.rounds += 1;
            }
            return Some((true, done(k)));
        }
        last = Some(k);
        let Some(k) = last.as_mut().filter(|k| k.syms.len() == syms) else {
            break;
        };
        let mut engine = |s: SymId| {
            k.sym_calc_value(s);
            k.sym(s).curr_tri
        };
        if !planner.refine(&sol, &mut engine) {
            break;
        }
    }
    plan.conflicts.push(format!(
        "no plan the engine confirms was found after {} evaluation(s)",
        plan.rounds
    ));
    let k = match last {
        Some(k) => done(k),
        None => match requests_alone.take() {
            Some(kconfig) => Settled {
                kconfig,
                of_requests: true,
            },
            None => Settled {
                kconfig: evaluate(requests)?,
                of_requests: true,
            },
        },
    };
    Some((false, k))
}

/// The plan's values, then the requests (which win over the plan).
fn with_requests(k: &Kconfig, sol: &Solution, requests: &[(String, Want)]) -> Vec<(String, Want)> {
    let mut all: Vec<(String, Want)> = sol
        .assignments
        .iter()
        .map(|&(s, v)| (k.sym_name(s), Want::Tri(v)))
        .collect();
    all.extend(requests.iter().cloned());
    all
}

/// Looks for other plans of the same size; confirms and lists up to
/// `opts.alternatives` of them, or notes that one exists. Returns whether
/// the engine evaluated any.
fn alternatives(
    planner: &mut Planner<'_>,
    sol: &Solution,
    requests: &[(String, Want)],
    evaluate: &mut Evaluate<'_>,
    opts: &Options,
    plan: &mut Plan,
) -> bool {
    if sol.changes.is_empty() {
        return false;
    }
    let mut found: Vec<Solution> = Vec::new();
    let want = opts.alternatives.max(1);
    while found.len() < want {
        let Some(alt) = planner.alternative(sol, &found) else {
            break;
        };
        found.push(alt);
    }
    if found.is_empty() {
        return false;
    }
    if opts.alternatives == 0 {
        plan.alternatives
            .push("another plan of the same size exists (`--alternatives` lists them)".to_string());
        return false;
    }
    let requested: Vec<&str> = requests.iter().map(|r| r.0.as_str()).collect();
    for alt in &found {
        let all = with_requests(planner.enc.k, alt, requests);
        let Some(mut k) = evaluate(&all) else {
            continue;
        };
        plan.rounds += 1;
        if !requests.iter().all(|(n, w)| holds_in(&mut k, n, w)) {
            continue;
        }
        let text: Vec<String> = alt
            .assignments
            .iter()
            .map(|&(s, v)| (planner.enc.k.sym_name(s), v))
            .filter(|(n, _)| !requested.contains(&n.as_str()))
            .map(|(n, v)| format!("CONFIG_{n}={}", v.as_str()))
            .collect();
        plan.alternatives.push(if text.is_empty() {
            "nothing else set (the requests alone, with other values following)".to_string()
        } else {
            text.join(" ")
        });
    }
    true
}

/// Whether expression `e` mentions `s`.
fn mentions(k: &Kconfig, e: Option<ExprId>, s: SymId) -> bool {
    let Some(e) = e else { return false };
    match k.exprs.get(e) {
        Expr::Sym(x) => x == s,
        Expr::Not(a) => mentions(k, Some(a), s),
        Expr::And(a, b) | Expr::Or(a, b) => mentions(k, Some(a), s) || mentions(k, Some(b), s),
        Expr::Cmp(_, a, b) | Expr::Range(a, b) => a == s || b == s,
    }
}

/// Why the plan sets `s`: the first requested or changed option whose
/// dependencies or prompt condition name it, else the first whose selectors
/// or choice name it (a selector naming `s` is a weaker reason: `s` may
/// only be part of a term that is not the one in play).
fn reason(k: &mut Kconfig, s: SymId, around: &[SymId]) -> Option<(String, String)> {
    if s == k.modules_sym {
        let m = around
            .iter()
            .find(|&&t| k.sym(t).ty == SymType::Tristate)
            .or(around.first())?;
        return Some((k.sym_name(*m), "MODULES=y to be a module".to_string()));
    }
    if let Some(choice) = k.sym_get_choice_menu(s) {
        let other = around
            .iter()
            .find(|&&t| t != s && k.sym_get_choice_menu(t) == Some(choice));
        if let Some(&t) = other {
            let prompt = k.menus[choice.idx()]
                .prompt
                .and_then(|p| k.prop(p).text.as_deref().map(str::to_string))
                .unwrap_or_default();
            return Some((
                k.sym_name(t),
                format!("is a member of the same choice \"{prompt}\""),
            ));
        }
    }
    for &t in around.iter().filter(|&&t| t != s) {
        let sym = k.sym(t).clone();
        let name = k.sym_name(t);
        if mentions(k, sym.dir_dep.expr, s) {
            let e = k.expr_to_string_with_values(sym.dir_dep.expr);
            return Some((name, format!("depends on {e}")));
        }
        for &p in sym.props.iter() {
            let prop = k.prop(p);
            if matches!(prop.ty, PropType::Prompt | PropType::Menu) && mentions(k, prop.visible, s)
            {
                let e = k.expr_to_string_with_values(prop.visible);
                return Some((name, format!("its prompt is visible if {e}")));
            }
        }
    }
    for &t in around.iter().filter(|&&t| t != s) {
        let sym = k.sym(t).clone();
        let name = k.sym_name(t);
        if mentions(k, sym.rev_dep.expr, s) {
            let e = k.expr_to_string_with_values(sym.rev_dep.expr);
            return Some((name, format!("is selected by {e}")));
        }
        if let Some(cm) = k.sym_get_choice_menu(t) {
            let dep = k.menus[cm.idx()].dep;
            if mentions(k, dep, s) {
                let e = k.expr_to_string_with_values(dep);
                return Some((name, format!("its choice depends on {e}")));
            }
        }
    }
    None
}

fn additions(planner: &mut Planner<'_>, sol: &Solution, requested: &[SymId]) -> Vec<Addition> {
    let requested = requested.to_vec();
    let mut around = requested.clone();
    around.extend(sol.assignments.iter().map(|a| a.0));
    let k = &mut *planner.enc.k;
    let mut out = Vec::new();
    for &(s, v) in &sol.assignments {
        if requested.contains(&s) {
            continue;
        }
        let (needed_by, because) = reason(k, s, &around).unwrap_or_else(|| {
            (
                requested
                    .first()
                    .map(|&r| k.sym_name(r))
                    .unwrap_or_default(),
                "part of the smallest change found".to_string(),
            )
        });
        out.push(Addition {
            name: k.sym_name(s),
            value: v,
            needed_by,
            because,
        });
    }
    out
}

/// Where an option is defined (its first prompted entry, else its first).
fn location(k: &Kconfig, s: SymId) -> String {
    let sym = k.sym(s);
    let m = sym
        .menus
        .iter()
        .find(|m| k.menus[m.idx()].prompt.is_some())
        .or(sym.menus.first());
    match m {
        Some(m) => {
            let menu = &k.menus[m.idx()];
            format!("{}:{}", k.file_name(menu.file), menu.line)
        }
        None => "(no definition)".to_string(),
    }
}

/// One option's rules as the conflict uses them, with current values.
fn describe_rules(k: &mut Kconfig, s: SymId) -> String {
    let sym = k.sym(s).clone();
    let mut parts = Vec::new();
    let prompts: Vec<_> = sym
        .props
        .iter()
        .filter(|p| k.prop(**p).text.is_some())
        .copied()
        .collect();
    if sym.dir_dep.expr.is_some() {
        parts.push(format!(
            "depends on {}",
            k.expr_to_string_with_values(sym.dir_dep.expr)
        ));
    }
    match prompts.first() {
        None => parts.push("has no prompt".to_string()),
        Some(&p) => {
            let vis = k.prop(p).visible;
            if vis != sym.dir_dep.expr && vis.is_some() {
                parts.push(format!(
                    "prompt visible if {}",
                    k.expr_to_string_with_values(vis)
                ));
            }
        }
    }
    if sym.rev_dep.expr.is_some() {
        parts.push(format!(
            "selected by {}",
            k.expr_to_string_with_values(sym.rev_dep.expr)
        ));
    } else if prompts.is_empty() {
        parts.push("nothing selects it".to_string());
    }
    if let Some(cm) = k.sym_get_choice_menu(s) {
        let n = k.choice_members(cm).len();
        parts.push(format!("a member of a choice of {n} (exactly one is y)"));
    }
    format!(
        "CONFIG_{} ({}, {}): {}",
        k.sym_name(s),
        location(k, s),
        if sym.ty == SymType::Tristate {
            "tristate"
        } else {
            sym.ty.name()
        },
        parts.join("; ")
    )
}

fn render_conflict(
    planner: &mut Planner<'_>,
    c: &ktailor_sat::Conflict,
    requests: &[(String, Want)],
    goal_req: &[usize],
) -> Vec<String> {
    let mut out = Vec::new();
    let reqs: Vec<String> = c
        .goals
        .iter()
        .filter_map(|&g| goal_req.get(g))
        .map(|&i| {
            let (n, w) = &requests[i];
            let v = match w {
                Want::Tri(t) => t.as_str().to_string(),
                Want::Text(t) => t.clone(),
            };
            format!("CONFIG_{n}={v}")
        })
        .collect();
    out.push(if c.frozen.is_empty() {
        format!(
            "proven impossible: {} cannot hold, by these Kconfig rules:",
            reqs.join(" together with ")
        )
    } else {
        format!(
            "{} cannot hold while these values stay as they are; by these Kconfig rules:",
            reqs.join(" together with ")
        )
    });
    let k = &mut *planner.enc.k;
    for &s in &c.facts {
        out.push(format!("  {}", describe_rules(k, s)));
    }
    for f in &c.frozen {
        out.push(format!("  held: {f}"));
    }
    out
}
