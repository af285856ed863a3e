//! Keeping options while switching others off (`localmodconfig`): which
//! of the switched-off options to put back so that every kept option still
//! holds, choosing only among what was on before.
//!
//! The dependency-following resolver answers "what makes this hold" and
//! may pick a new option (`depends on ARCH_FOO || COMPILE_TEST` is met by
//! switching COMPILE_TEST on). Switching modules off must not do that: a
//! kept option lost its value because something it rests on was switched
//! off, so that is what comes back. Each round evaluates the configuration
//! with the engine; for every kept (or put back) option that does not
//! hold, the switched-off options its `depends on` (with `if` and menu
//! dependencies) and its prompts' conditions name are put back, and for an
//! option without a prompt the symbols of the first `select` that was
//! active before (as scripts/kconfig/streamline_config.pl picks a
//! selector that was enabled). Putting back
//! a negated or unneeded alternative is harmless: it was on before. The
//! rounds stop when every kept option holds or nothing more can be put
//! back; the caller's gate judges the result.

use std::collections::BTreeSet;

use ktailor_kconfig::expr::Expr;
use ktailor_kconfig::{ExprId, Kconfig, PropType, SymId, Tri};

use crate::explain::or_terms;

/// An option put back, and for whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutBack {
    pub name: String,
    /// The kept option that needed it.
    pub needed_by: String,
    /// `depends on ...` or `selects it`, with live values.
    pub because: String,
}

/// The outcome: the options left switched off, what was put back, and
/// the last evaluated tree.
pub struct Kept {
    pub off: Vec<String>,
    pub put_back: Vec<PutBack>,
    pub kconfig: Kconfig,
    pub rounds: usize,
}

fn symbols(k: &Kconfig, e: Option<ExprId>, out: &mut Vec<SymId>) {
    let Some(e) = e else { return };
    match k.exprs.get(e) {
        Expr::Sym(s) => {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        Expr::Not(a) => symbols(k, Some(a), out),
        Expr::And(a, b) | Expr::Or(a, b) => {
            symbols(k, Some(a), out);
            symbols(k, Some(b), out);
        }
        Expr::Cmp(_, a, b) | Expr::Range(a, b) => {
            for s in [a, b] {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
}

fn value(k: &mut Kconfig, s: SymId) -> String {
    k.sym_calc_value(s);
    k.sym_string_value_now(s)
}

/// An option's value in `before` when it was on.
fn was(before: &mut Kconfig, n: &str) -> Option<String> {
    let s = before.find(n)?;
    let v = value(before, s);
    matches!(v.as_str(), "y" | "m").then_some(v)
}

/// Puts back switched-off options until every option of `keep` (name,
/// `y` or `m`; `m` is also met by `y`) holds. `evaluate` settles the
/// configuration with the given options switched off; it is called once
/// with none switched off first, for the values before (an option that was
/// on and is off now only because of what it rests on is followed the
/// same way, and a promptless option's selector is one whose `select` was
/// active before).
pub fn keep(
    keep: &[(String, String)],
    off: &[String],
    evaluate: &mut dyn FnMut(&[String]) -> Option<Kconfig>,
    max_rounds: usize,
) -> Option<Kept> {
    let mut before = evaluate(&[])?;
    let mut off: BTreeSet<String> = off.iter().cloned().collect();
    let mut needed: Vec<(String, String)> = keep.to_vec();
    let mut put_back: Vec<PutBack> = Vec::new();
    let mut rounds = 0;
    loop {
        let list: Vec<String> = off.iter().cloned().collect();
        let mut k = evaluate(&list)?;
        rounds += 1;
        let mut back: Vec<PutBack> = Vec::new();
        let mut follow: Vec<(String, String)> = Vec::new();
        for (name, want) in &needed {
            let Some(s) = k.find(name) else { continue };
            let v = value(&mut k, s);
            if v == *want || (want == "m" && v == "y") {
                continue;
            }
            let sym = k.sym(s).clone();
            let mut deps = Vec::new();
            symbols(&k, sym.dir_dep.expr, &mut deps);
            let mut has_prompt = false;
            for p in sym.props.iter() {
                if k.prop(*p).ty == PropType::Prompt {
                    has_prompt = true;
                    symbols(&k, k.prop(*p).visible, &mut deps);
                }
            }
            let mut chosen: Vec<(SymId, String)> = Vec::new();
            if !deps.is_empty() {
                let because = format!(
                    "depends on {}",
                    k.expr_to_string_with_values(sym.dir_dep.expr)
                );
                chosen.extend(deps.into_iter().map(|d| (d, because.clone())));
            }
            if !has_prompt {
                // The first select that was active before (evaluated in
                // the configuration before), by the names of its symbols.
                let mut names: Vec<String> = Vec::new();
                if let Some(s0) = before.find(name) {
                    let mut terms = Vec::new();
                    or_terms(&before, before.sym(s0).rev_dep.expr, &mut terms);
                    for t in terms {
                        if before.expr_calc_value(Some(t)) > Tri::N {
                            let mut syms = Vec::new();
                            symbols(&before, Some(t), &mut syms);
                            names = syms.iter().map(|x| before.sym_name(*x)).collect();
                            break;
                        }
                    }
                }
                let syms: Vec<SymId> = names.iter().filter_map(|n| k.find(n)).collect();
                if !syms.is_empty() {
                    let because =
                        format!("it has no prompt; selected before by {}", names.join(", "));
                    chosen.extend(syms.into_iter().map(|x| (x, because.clone())));
                }
            }
            for (x, because) in chosen {
                let n = k.sym_name(x);
                if off.contains(&n) {
                    if !back.iter().any(|b| b.name == n) {
                        back.push(PutBack {
                            name: n,
                            needed_by: name.clone(),
                            because,
                        });
                    }
                } else if let Some(w) = was(&mut before, &n) {
                    let now = value(&mut k, x);
                    let lower = now == "n" || (w == "y" && now == "m");
                    let known = needed.iter().chain(&follow).any(|(m, _)| *m == n);
                    if lower && !known {
                        follow.push((n, w));
                    }
                }
            }
        }
        if (back.is_empty() && follow.is_empty()) || rounds >= max_rounds {
            return Some(Kept {
                off: off.into_iter().collect(),
                put_back,
                kconfig: k,
                rounds,
            });
        }
        needed.extend(follow);
        for b in back {
            off.remove(&b.name);
            // Only `m` options are switched off: it comes back as m.
            needed.push((b.name.clone(), "m".into()));
            put_back.push(b);
        }
    }
}
