//! Pulling dependencies in: given requested option values that do not hold
//! in a configuration, find extra option values that make them hold.
//!
//! This is the dependency-following resolver: it reads why a request does
//! not hold from the Kconfig model — the unmet `depends on`, the prompt's
//! condition, a choice's own dependencies, the `select` a promptless option
//! needs, the `select` that forces an unwanted option on — and adds the
//! values that satisfy it (for `A || B` the side with fewer unmet terms,
//! the left one on a tie, noting that an alternative exists), then asks the
//! caller to evaluate the configuration again with the exact engine, until
//! everything holds or nothing more can be added. The engine is the judge:
//! nothing is reported as resolved unless the evaluated configuration shows
//! it. Requests the user made are never changed; an addition that would
//! contradict one is reported as a conflict instead.
//!
//! Not here: a complete search (a SAT encoding that proves impossibility
//! and minimises changes is the planned next step).

pub mod diff;
pub mod explain;
pub mod keep;

use ktailor_kconfig::expr::Expr;
use ktailor_kconfig::{ExprId, Kconfig, PropType, SymId, SymType, Tri};

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
    /// Where a real choice was made (`A || B`).
    pub alternatives: Vec<String>,
    /// Things that could not be satisfied by adding values.
    pub conflicts: Vec<String>,
    pub rounds: usize,
}

fn value_of(k: &mut Kconfig, s: SymId) -> String {
    k.sym_calc_value(s);
    k.sym_string_value_now(s)
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

fn holds(k: &mut Kconfig, s: SymId, w: &Want) -> bool {
    let v = value_of(k, s);
    request_holds(&v, w)
}

struct Ctx<'a> {
    k: &'a mut Kconfig,
    out: Vec<(SymId, Tri, String, String)>,
    alternatives: Vec<String>,
    conflicts: Vec<String>,
    /// Symbols whose values are fixed by the user.
    fixed: &'a [(SymId, Want)],
    /// Promptless symbols being switched off through their selectors (a
    /// guard against select cycles).
    switching_off: Vec<SymId>,
}

impl Ctx<'_> {
    fn fixed_value(&self, s: SymId) -> Option<&Want> {
        self.fixed.iter().find(|(x, _)| *x == s).map(|(_, w)| w)
    }

    fn push(&mut self, s: SymId, v: Tri, needed_by: &str, because: &str) {
        if s.idx() < 3 || self.k.is_choice(s) {
            return;
        }
        let has_prompt = self
            .k
            .sym(s)
            .props
            .iter()
            .any(|p| matches!(self.k.prop(*p).ty, PropType::Prompt | PropType::Menu));
        if v == Tri::N && !has_prompt {
            // A promptless option cannot be switched off by a user value,
            // but when selects hold it on, switching those off may do.
            // Should a default keep it on too, the next round shows it and
            // this reports the conflict.
            if self.k.sym(s).rev_dep.tri > Tri::N && !self.switching_off.contains(&s) {
                self.switching_off.push(s);
                self.off(s, Tri::N);
                self.switching_off.pop();
                return;
            }
            let n = self.k.sym_name(s);
            self.conflicts.push(format!("CONFIG_{needed_by} would need CONFIG_{n}=n ({because}), but CONFIG_{n} has no prompt"));
            return;
        }
        if let Some(w) = self.fixed_value(s) {
            if *w != Want::Tri(v) {
                let n = self.k.sym_name(s);
                self.conflicts.push(format!(
                    "CONFIG_{needed_by} needs CONFIG_{n}={} ({because}), but CONFIG_{n} is requested as {}",
                    v.as_str(),
                    match w {
                        Want::Tri(t) => t.as_str().to_string(),
                        Want::Text(t) => t.clone(),
                    }
                ));
            }
            return;
        }
        match self.out.iter_mut().find(|(x, _, _, _)| *x == s) {
            Some(e) => {
                if e.1 != Tri::N && v > e.1 {
                    *e = (s, v, needed_by.to_string(), because.to_string());
                }
            }
            None => self
                .out
                .push((s, v, needed_by.to_string(), because.to_string())),
        }
    }

    /// Unmet symbol leaves of `e` towards value `v` (a cost estimate).
    fn cost(&mut self, e: ExprId, v: Tri) -> usize {
        if self.k.expr_calc_value(Some(e)) >= v {
            return 0;
        }
        match self.k.exprs.get(e) {
            Expr::And(a, b) => self.cost(a, v) + self.cost(b, v),
            Expr::Or(a, b) => self.cost(a, v).min(self.cost(b, v)),
            Expr::Sym(s) if s.idx() < 3 => 1000,
            // A promptless option cannot be set; it needs its own selector.
            Expr::Sym(s) if !self.has_prompt(s) => 50,
            _ => 1,
        }
    }

    /// What turning `e` down to at most `max` takes (a cost estimate):
    /// an option with a prompt is cheap, one held on by selects costs its
    /// selectors, one held on by a default alone cannot be turned off.
    fn cost_off(&mut self, e: ExprId, max: Tri) -> usize {
        if self.k.expr_calc_value(Some(e)) <= max {
            return 0;
        }
        match self.k.exprs.get(e) {
            Expr::And(a, b) => self.cost_off(a, max).min(self.cost_off(b, max)),
            Expr::Or(a, b) => self.cost_off(a, max) + self.cost_off(b, max),
            Expr::Not(a) => self.cost(a, max.not()),
            Expr::Sym(s) if s.idx() < 3 => 1000,
            Expr::Sym(s) if self.has_prompt(s) => 1,
            Expr::Sym(s) if self.k.sym(s).rev_dep.tri > max => 10,
            _ => 1000,
        }
    }

    fn has_prompt(&self, s: SymId) -> bool {
        self.k
            .sym(s)
            .props
            .iter()
            .any(|p| matches!(self.k.prop(*p).ty, PropType::Prompt | PropType::Menu))
    }

    /// Make `e` evaluate to at least `v`.
    fn need(&mut self, e: Option<ExprId>, v: Tri, by: &str, because: &str) {
        let Some(e) = e else { return };
        if self.k.expr_calc_value(Some(e)) >= v {
            return;
        }
        match self.k.exprs.get(e) {
            Expr::Sym(s) => {
                if s.idx() < 3 {
                    self.conflicts
                        .push(format!("CONFIG_{by} needs {because}, which can never hold"));
                    return;
                }
                let tv = if self.k.sym(s).ty == SymType::Tristate {
                    v
                } else {
                    Tri::Y
                };
                self.push(s, tv, by, because);
            }
            Expr::And(a, b) => {
                self.need(Some(a), v, by, because);
                self.need(Some(b), v, by, because);
            }
            Expr::Or(a, b) => {
                let (ca, cb) = (self.cost(a, v), self.cost(b, v));
                let pick = if cb < ca { b } else { a };
                if ca == cb || ca.min(cb) > 0 {
                    let (sa, sb) = (
                        self.k.expr_to_string(Some(a)),
                        self.k.expr_to_string(Some(b)),
                    );
                    let chosen = if pick == a { &sa } else { &sb };
                    self.alternatives.push(format!(
                        "for CONFIG_{by}: chose {chosen} (alternatives: {sa} | {sb})"
                    ));
                }
                self.need(Some(pick), v, by, because);
            }
            Expr::Not(a) => self.need_off(Some(a), v.not(), by, because),
            Expr::Cmp(op, a, b) => {
                let (sym, c) = if b.idx() < 3 {
                    (a, b)
                } else if a.idx() < 3 {
                    (b, a)
                } else {
                    (a, b)
                };
                if c.idx() >= 3 || sym.idx() < 3 {
                    self.conflicts.push(format!(
                        "CONFIG_{by} needs {because}: a comparison the resolver cannot satisfy"
                    ));
                    return;
                }
                let cv = match c {
                    x if x == SymId::YES => Tri::Y,
                    x if x == SymId::MOD => Tri::M,
                    _ => Tri::N,
                };
                use ktailor_kconfig::CmpOp::*;
                match op {
                    Eq if cv == Tri::N => self.push(sym, Tri::N, by, because),
                    Eq => self.push(sym, cv, by, because),
                    Ne if cv == Tri::N => {
                        let tv = if self.k.sym(sym).ty == SymType::Tristate {
                            Tri::M
                        } else {
                            Tri::Y
                        };
                        self.push(sym, tv, by, because)
                    }
                    Ne if cv == Tri::Y => {
                        let tv = if self.k.sym(sym).ty == SymType::Tristate {
                            Tri::M
                        } else {
                            Tri::N
                        };
                        self.push(sym, tv, by, because)
                    }
                    _ => self.conflicts.push(format!(
                        "CONFIG_{by} needs {because}: a comparison the resolver cannot satisfy"
                    )),
                }
            }
            Expr::Range(..) => {}
        }
    }

    /// Make `e` evaluate to at most `max`.
    fn need_off(&mut self, e: Option<ExprId>, max: Tri, by: &str, because: &str) {
        let Some(e) = e else { return };
        if self.k.expr_calc_value(Some(e)) <= max {
            return;
        }
        match self.k.exprs.get(e) {
            Expr::Sym(s) => {
                if s.idx() < 3 {
                    self.conflicts
                        .push(format!("CONFIG_{by} needs {because}, which can never hold"));
                    return;
                }
                let tv = if max == Tri::M && self.k.sym(s).ty == SymType::Tristate {
                    Tri::M
                } else {
                    Tri::N
                };
                self.push(s, tv, by, because);
            }
            Expr::Or(a, b) => {
                self.need_off(Some(a), max, by, because);
                self.need_off(Some(b), max, by, because);
            }
            Expr::And(a, b) => {
                // Either side off will do: the cheaper one, left on a tie.
                let (ca, cb) = (self.cost_off(a, max), self.cost_off(b, max));
                let pick = if ca <= cb { a } else { b };
                self.need_off(Some(pick), max, by, because);
            }
            Expr::Not(a) => self.need(Some(a), max.not(), by, because),
            _ => self.conflicts.push(format!(
                "CONFIG_{by} needs {because}: a condition the resolver cannot turn off"
            )),
        }
    }

    /// What symbol `s` needs to reach `v`.
    fn on(&mut self, s: SymId, v: Tri) {
        let name = self.k.sym_name(s);
        if v == Tri::M && self.k.modules_val == Tri::N {
            let ms = self.k.modules_sym;
            let e = self.k.exprs.sym(ms);
            self.need(
                Some(e),
                Tri::Y,
                &name,
                "modules enabled (MODULES) for a module",
            );
        }
        let sym = self.k.sym(s).clone();
        let prompts: Vec<_> = sym
            .props
            .iter()
            .copied()
            .filter(|p| matches!(self.k.prop(*p).ty, PropType::Prompt | PropType::Menu))
            .collect();
        if let Some(choice) = self.k.sym_get_choice_menu(s) {
            let dep = self.k.menus[choice.idx()].dep;
            let txt = format!(
                "its choice's dependencies {}",
                self.k.expr_to_string_with_values(dep)
            );
            self.need(dep, Tri::Y, &name, &txt);
        }
        if prompts.is_empty() {
            // A default can turn it on: its direct dependencies, the
            // default's condition and the default's value must hold.
            let first_default = sym
                .props
                .iter()
                .copied()
                .find(|p| self.k.prop(*p).ty == PropType::Default);
            if let Some(p) = first_default {
                let e = self.k.prop(p).expr;
                let c = self.k.prop(p).visible.expr;
                let e_str = self.k.expr_to_string_with_values(e);
                let c_str = self.k.expr_to_string_with_values(c);
                let d_str = self.k.expr_to_string_with_values(sym.dir_dep.expr);
                let before = self.conflicts.len();
                self.need(sym.dir_dep.expr, v, &name, &format!("depends on {d_str}"));
                self.need(c, v, &name, &format!("its default applies if {c_str}"));
                self.need(e, v, &name, &format!("its default is {e_str}"));
                if self.conflicts.len() == before {
                    return;
                }
            }
            // Only a select can turn it on: pick the cheapest selector.
            let mut terms = Vec::new();
            collect_or(self.k, sym.rev_dep.expr, &mut terms);
            let mut best: Option<(usize, ExprId)> = None;
            for t in terms {
                let c = self.cost(t, v);
                if best.is_none_or(|(bc, _)| c < bc) {
                    best = Some((c, t));
                }
            }
            let candidates = {
                let mut all = Vec::new();
                collect_or(self.k, sym.rev_dep.expr, &mut all);
                all.len()
            };
            if candidates > 1 {
                if let Some((_, t)) = best {
                    let chosen = self.k.expr_to_string(Some(t));
                    self.alternatives.push(format!(
                        "CONFIG_{name} can only be selected; chose {chosen} among {candidates} selectors (`ktailor explain {name}` lists them)"
                    ));
                }
            }
            match best {
                Some((_, t)) => {
                    let txt = format!("selected by {}", self.k.expr_to_string_with_values(Some(t)));
                    self.need(Some(t), v, &name, &txt);
                }
                None => self.conflicts.push(format!(
                    "CONFIG_{name} has no prompt and nothing selects it"
                )),
            }
            return;
        }
        let txt = format!(
            "depends on {}",
            self.k.expr_to_string_with_values(sym.dir_dep.expr)
        );
        self.need(sym.dir_dep.expr, v, &name, &txt);
        // The prompt's own condition (`prompt "x" if COND`, `visible if`).
        if let Some(p) = prompts.first() {
            let vis = self.k.prop(*p).visible.expr;
            let txt = format!(
                "its prompt is visible if {}",
                self.k.expr_to_string_with_values(vis)
            );
            self.need(vis, v, &name, &txt);
        }
    }

    /// What symbol `s` needs to be `n` (or at most m).
    fn off(&mut self, s: SymId, max: Tri) {
        let name = self.k.sym_name(s);
        let sym = self.k.sym(s).clone();
        if sym.rev_dep.tri > max {
            let mut terms = Vec::new();
            collect_or(self.k, sym.rev_dep.expr, &mut terms);
            for t in terms {
                if self.k.expr_calc_value(Some(t)) > max {
                    let txt = format!(
                        "its selector off: selected by {}",
                        self.k.expr_to_string_with_values(Some(t))
                    );
                    self.need_off(Some(t), max, &name, &txt);
                }
            }
        } else if sym.visible == Tri::N {
            self.conflicts.push(format!(
                "CONFIG_{name} has no visible prompt, so its default applies (depends on {})",
                self.k.expr_to_string_with_values(sym.dir_dep.expr)
            ));
        }
    }

    fn visible(&mut self, s: SymId) {
        let name = self.k.sym_name(s);
        let sym = self.k.sym(s).clone();
        if sym.visible == Tri::N {
            let txt = format!(
                "depends on {}",
                self.k.expr_to_string_with_values(sym.dir_dep.expr)
            );
            self.need(sym.dir_dep.expr, Tri::Y, &name, &txt);
            let prompts: Vec<_> = sym
                .props
                .iter()
                .copied()
                .filter(|p| self.k.prop(*p).ty == PropType::Prompt)
                .collect();
            if let Some(p) = prompts.first() {
                let vis = self.k.prop(*p).visible.expr;
                let txt = format!(
                    "its prompt is visible if {}",
                    self.k.expr_to_string_with_values(vis)
                );
                self.need(vis, Tri::Y, &name, &txt);
            } else {
                self.conflicts.push(format!(
                    "CONFIG_{name} has no prompt: its value is its default"
                ));
            }
        }
    }
}

fn collect_or(k: &Kconfig, e: Option<ExprId>, out: &mut Vec<ExprId>) {
    let Some(e) = e else { return };
    if let Expr::Or(a, b) = k.exprs.get(e) {
        collect_or(k, Some(a), out);
        collect_or(k, Some(b), out);
    } else {
        out.push(e);
    }
}

/// Builds and settles a configuration from assignments (the judge).
pub type Evaluate<'a> = dyn FnMut(&[(String, Want)]) -> Option<Kconfig> + 'a;

/// Finds additions that make `requests` hold. `evaluate` builds the
/// configuration for a list of assignments (the additions first, then the
/// requests, so a request wins over an addition) and returns the settled
/// tree; it is the judge of every round. Returns the plan and the last
/// evaluated tree.
/// `required[i]` says whether request `i` must hold; optional requests are
/// applied but the resolver does not change other options for them.
pub fn resolve(
    requests: &[(String, Want)],
    required: &[bool],
    evaluate: &mut Evaluate<'_>,
    max_rounds: usize,
) -> Option<(Plan, Kconfig)> {
    let mut plan = Plan::default();
    let mut adds: Vec<Addition> = Vec::new();
    loop {
        let mut all: Vec<(String, Want)> = adds
            .iter()
            .map(|a| (a.name.clone(), Want::Tri(a.value)))
            .collect();
        all.extend(requests.iter().cloned());
        let mut k = evaluate(&all)?;
        plan.rounds += 1;
        if plan.rounds > max_rounds {
            plan.conflicts
                .push(format!("gave up after {max_rounds} rounds"));
            return Some((plan, k));
        }
        let fixed: Vec<(SymId, Want)> = requests
            .iter()
            .filter_map(|(n, w)| k.find(n).map(|s| (s, w.clone())))
            .collect();
        let targets: Vec<(SymId, Want)> = requests
            .iter()
            .enumerate()
            .filter(|(i, _)| required.get(*i).copied().unwrap_or(true))
            .filter_map(|(_, (n, w))| k.find(n).map(|s| (s, w.clone())))
            .chain(
                adds.iter()
                    .filter_map(|a| k.find(&a.name).map(|s| (s, Want::Tri(a.value)))),
            )
            .collect();
        let mut ctx = Ctx {
            k: &mut k,
            out: Vec::new(),
            alternatives: Vec::new(),
            conflicts: Vec::new(),
            fixed: &fixed,
            switching_off: Vec::new(),
        };
        for (s, w) in &targets {
            if holds(ctx.k, *s, w) {
                continue;
            }
            match w {
                Want::Tri(Tri::N) => ctx.off(*s, Tri::N),
                Want::Tri(v) => ctx.on(*s, *v),
                Want::Text(_) => ctx.visible(*s),
            }
        }
        let Ctx {
            out,
            alternatives,
            conflicts,
            ..
        } = ctx;
        for a in alternatives {
            if !plan.alternatives.contains(&a) {
                plan.alternatives.push(a);
            }
        }
        let mut progress = false;
        for (s, v, by, because) in out {
            let name = k.sym_name(s);
            if let Some(a) = adds.iter_mut().find(|a| a.name == name) {
                // Needed at a higher level now (y where m was added).
                if a.value != Tri::N && v > a.value {
                    a.value = v;
                    a.needed_by = by;
                    a.because = because;
                    progress = true;
                }
                continue;
            }
            progress = true;
            adds.push(Addition {
                name,
                value: v,
                needed_by: by,
                because,
            });
        }
        if !progress {
            for c in conflicts {
                if !plan.conflicts.contains(&c) {
                    plan.conflicts.push(c);
                }
            }
            plan.additions = adds;
            return Some((plan, k));
        }
    }
}
