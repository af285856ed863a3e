//! Why an option has its value: the rule of the value computation that
//! decided it (user value, which default, select, imply, choice), with the
//! live value of every symbol involved, for `ktailor explain`.
//!
//! The rules mirror the engine's value computation (see the top of
//! `ktailor_kconfig::symbol`): a visible option takes its user value when it
//! has one, else its first default whose condition holds; the result is
//! limited by the visibility and raised by `select` (and, while visible, by
//! `imply`). A choice member follows its choice.

use ktailor_kconfig::expr::Expr;
use ktailor_kconfig::{flags, ExprId, Kconfig, SymId, SymType, Tri};

/// A symbol's value and the reasons for it, most decisive first.
#[derive(Clone, Debug)]
pub struct ValueWhy {
    pub value: String,
    pub reasons: Vec<String>,
}

fn loc(k: &Kconfig, p: ktailor_kconfig::PropId) -> String {
    let prop = k.prop(p);
    format!("{}:{}", k.file_name(Some(prop.file)), prop.line)
}

/// The OR terms of a reverse dependency (`A && B || C` gives two terms).
pub fn or_terms(k: &Kconfig, e: Option<ExprId>, out: &mut Vec<ExprId>) {
    let Some(e) = e else { return };
    if let Expr::Or(a, b) = k.exprs.get(e) {
        or_terms(k, Some(a), out);
        or_terms(k, Some(b), out);
    } else {
        out.push(e);
    }
}

/// The terms of a reverse dependency that are active (not n), with values.
fn active_terms(k: &mut Kconfig, e: Option<ExprId>) -> Vec<String> {
    let mut terms = Vec::new();
    or_terms(k, e, &mut terms);
    let mut out = Vec::new();
    for t in terms {
        if k.expr_calc_value(Some(t)) > Tri::N {
            out.push(k.expr_to_string_with_values(Some(t)));
        }
    }
    out
}

/// Why `s` has its current value.
pub fn value_why(k: &mut Kconfig, s: SymId) -> ValueWhy {
    k.sym_calc_value(s);
    let value = k.sym_string_value_now(s);
    let sym = k.sym(s).clone();
    let mut reasons = Vec::new();
    let user = sym.flags & flags::DEF_USER != 0;
    if let Some(cm) = k.sym_get_choice_menu(s) {
        let chosen: Vec<String> = k
            .sub_entries(cm)
            .into_iter()
            .filter_map(|m| k.menus[m.idx()].sym)
            .filter(|x| k.sym(*x).curr_tri == Tri::Y && !k.is_choice(*x))
            .map(|x| k.sym_name(x))
            .collect();
        let how = if user {
            "the configuration picks it"
        } else {
            "its default"
        };
        reasons.push(match chosen.as_slice() {
            [] => "a member of a choice that is off or picks nothing visible".to_string(),
            [one] if *one == k.sym_name(s) => {
                format!("a member of a choice, which picked it ({how})")
            }
            _ => format!("a member of a choice, which picked {}", chosen.join(", ")),
        });
        return ValueWhy { value, reasons };
    }
    let visible = sym.visible;
    let tristate_like = sym.ty.is_tristate_like();
    if visible > Tri::N && user {
        let u = if tristate_like {
            sym.def[0].tri.as_str().to_string()
        } else {
            sym.def[0].val.as_deref().unwrap_or("").to_string()
        };
        if u == value {
            reasons.push("set in the configuration".into());
        } else {
            reasons.push(format!(
                "the configuration says {u}, but that is out of reach"
            ));
        }
    } else {
        if visible == Tri::N && sym.menus.iter().any(|m| k.menus[m.idx()].prompt.is_some()) {
            let d = k.expr_to_string_with_values(sym.dir_dep.expr);
            reasons.push(format!("its prompt is not visible (depends on {d})"));
        } else if visible == Tri::N {
            reasons.push("it has no prompt: its default and selects decide".into());
        } else {
            reasons.push("not set in the configuration: its default applies".into());
        }
        match k.sym_get_default_prop(s) {
            Some(p) => {
                let e = k.prop(p).expr;
                let c = k.prop(p).visible;
                let mut txt = format!("default {}", k.expr_to_string_with_values(e));
                if !k.exprs.is_yes(c) && c.is_some() {
                    txt.push_str(&format!(" if {}", k.expr_to_string_with_values(c)));
                }
                reasons.push(format!("{txt} ({})", loc(k, p)));
            }
            None if sym.ty != SymType::Unknown => {
                reasons.push("no default applies".into());
            }
            None => {}
        }
        if tristate_like && visible == Tri::N && !k.exprs.is_yes(sym.dir_dep.expr) {
            let dv = sym.dir_dep.tri;
            if dv == Tri::N {
                let d = k.expr_to_string_with_values(sym.dir_dep.expr);
                reasons.push(format!("and its dependencies are unmet: {d}"));
            }
        }
    }
    if tristate_like && sym.rev_dep.tri > Tri::N {
        for t in active_terms(k, sym.rev_dep.expr) {
            reasons.push(format!("selected by {t}"));
        }
    }
    if tristate_like && sym.implied.tri > Tri::N && visible > Tri::N {
        for t in active_terms(k, sym.implied.expr) {
            reasons.push(format!("implied by {t}"));
        }
    }
    if tristate_like && value == "m" && sym.ty == SymType::Bool {
        reasons.push("a bool that reads m".into());
    }
    ValueWhy { value, reasons }
}

/// Everything `ktailor explain` shows for `s`, before the plan: value and
/// why, then conf's own help page for each definition (prompt, definition
/// sites, dependencies with live values, location, selects, selected-by,
/// implies, implied-by, range).
pub fn describe(k: &mut Kconfig, s: SymId, prefix: &str) -> String {
    let name = k.sym_name(s);
    let sym = k.sym(s).clone();
    let why = value_why(k, s);
    let mut r = format!(
        "{prefix}{name}: {} = {}\n",
        sym.ty.name(),
        if why.value.is_empty() && sym.ty == SymType::String {
            "\"\"".to_string()
        } else {
            why.value.clone()
        }
    );
    for w in &why.reasons {
        r.push_str(&format!("  because {w}\n"));
    }
    if k.is_choice(s) {
        r.push_str("  (a choice)\n");
    }
    r.push('\n');
    // Help texts (a symbol defined in several places may have several),
    // then conf's symbol page once: it covers every definition.
    let mut helps: Vec<std::sync::Arc<str>> = Vec::new();
    for m in sym.menus.iter() {
        if let Some(h) = k.menu_help(*m) {
            if !helps.contains(&h) {
                helps.push(h);
            }
        }
    }
    if helps.is_empty() {
        r.push_str("There is no help available for this option.\n");
    }
    for h in helps {
        r.push_str(&h);
        r.push('\n');
    }
    k.get_symbol_str(&mut r, s);
    r
}
