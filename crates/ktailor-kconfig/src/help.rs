//! Help text as conf prints it: `helpnewconfig`, and the symbol
//! information menuconfig shows (menu.c's `menu_get_ext_help` and
//! `get_symbol_str`): definition sites, prompts with their dependencies and
//! location, what the symbol selects and implies and who selects or implies
//! it, each expression printed with the current value of every symbol.

use crate::expr::Expr;
use crate::{Kconfig, MenuId, PropId, PropType, SymId, SymType, Tri};

const NO_HELP: &str = "There is no help available for this option.";

impl Kconfig {
    /// `menu_get_ext_help`.
    pub fn menu_get_ext_help(&mut self, m: MenuId, prefix: &str) -> String {
        let mut r = String::new();
        let sym = self.menus[m.idx()].sym;
        let help = self.menu_help(m);
        let text = match &help {
            Some(h) => {
                if let Some(n) = sym.and_then(|s| self.syms[s.idx()].name.clone()) {
                    r.push_str(&format!("{prefix}{n}:\n\n"));
                }
                &**h
            }
            None => NO_HELP,
        };
        r.push_str(text);
        r.push('\n');
        if let Some(s) = sym {
            self.get_symbol_str(&mut r, s);
        }
        r
    }

    fn get_dep_str(&mut self, r: &mut String, e: Option<crate::ExprId>, prefix: &str) {
        if !self.exprs.is_yes(e) {
            r.push_str(prefix);
            r.push_str(&self.expr_to_string_with_current_values(e));
            r.push('\n');
        }
    }

    fn get_prompt_str(&mut self, r: &mut String, p: PropId) {
        let text = self.props[p.idx()]
            .text
            .clone()
            .unwrap_or_else(|| "".into());
        r.push_str(&format!("  Prompt: {text}\n"));
        let pm = self.props[p.idx()].menu;
        let dep = self.menus[pm.idx()].dep;
        self.get_dep_str(r, dep, "  Depends on: ");
        let vis = self.props[p.idx()].visible;
        let same = {
            let syms = &self.syms;
            let info = |s: SymId| {
                let x = &syms[s.idx()];
                (x.ty, x.flags & crate::flags::CONST != 0)
            };
            let mut simp = crate::expr::Simplifier::new(&mut self.exprs, &info);
            simp.expr_eq(dep, vis)
        };
        if !same {
            self.get_dep_str(r, vis, "  Visible if: ");
        }
        let mut chain = Vec::new();
        let mut menu = pm;
        while menu != MenuId::ROOT && chain.len() < 8 {
            chain.push(menu);
            match self.menus[menu.idx()].parent {
                Some(p) => menu = p,
                None => break,
            }
        }
        r.push_str("  Location:\n");
        for (j, &m) in chain.iter().rev().enumerate() {
            let indent = 2 * j + 4;
            let prompt = self.menu_get_prompt(m).unwrap_or_default();
            r.push_str(&format!("{:>indent$}-> {prompt}", ' '));
            if let Some(s) = self.menus[m.idx()].sym {
                self.sym_calc_value(s);
                let v = self.sym_string_value_now(s);
                r.push_str(&format!(" ({} [={v}])", self.sym_name(s)));
            }
            r.push('\n');
        }
    }

    fn get_symbol_props_str(&mut self, r: &mut String, s: SymId, ty: PropType, prefix: &str) {
        let mut hit = false;
        for &p in self.syms[s.idx()].props.clone().iter() {
            if self.props[p.idx()].ty != ty {
                continue;
            }
            if !hit {
                r.push_str(prefix);
                hit = true;
            } else {
                r.push_str(" && ");
            }
            let e = self.props[p.idx()].expr;
            r.push_str(&self.expr_to_string_with_current_values(e));
        }
        if hit {
            r.push('\n');
        }
    }

    fn revdep_section(&mut self, r: &mut String, e: Option<crate::ExprId>, want: Tri, title: &str) {
        let mut terms = Vec::new();
        self.or_terms(e, &mut terms);
        let mut first = true;
        for t in terms {
            if self.expr_calc_value(Some(t)) != want {
                continue;
            }
            if first {
                r.push_str(title);
                first = false;
            }
            r.push_str("  - ");
            r.push_str(&self.expr_to_string_with_current_values(Some(t)));
            r.push('\n');
        }
    }

    fn or_terms(&self, e: Option<crate::ExprId>, out: &mut Vec<crate::ExprId>) {
        let Some(e) = e else { return };
        if let Expr::Or(a, b) = self.exprs.get(e) {
            self.or_terms(Some(a), out);
            self.or_terms(Some(b), out);
        } else {
            out.push(e);
        }
    }

    /// `get_symbol_str`.
    pub fn get_symbol_str(&mut self, r: &mut String, s: SymId) {
        if let Some(name) = self.syms[s.idx()].name.clone() {
            self.sym_calc_value(s);
            let v = self.sym_string_value_now(s);
            r.push_str(&format!("Symbol: {name} [={v}]\n"));
            let ty = self.syms[s.idx()].ty;
            r.push_str(&format!("Type  : {}\n", ty.name()));
            if ty == SymType::Int || ty == SymType::Hex {
                if let Some(p) = self.sym_get_range_prop(s) {
                    let e = self.props[p.idx()].expr;
                    r.push_str("Range : ");
                    r.push_str(&self.expr_to_string_with_current_values(e));
                    r.push('\n');
                }
            }
        }
        let menus = self.syms[s.idx()].menus.clone();
        for &m in menus.iter() {
            if let Some(p) = self.menus[m.idx()].prompt {
                let mm = &self.menus[m.idx()];
                r.push_str(&format!(
                    "Defined at {}:{}\n",
                    self.file_name(mm.file),
                    mm.line
                ));
                self.get_prompt_str(r, p);
            }
        }
        for &m in menus.iter() {
            if self.menus[m.idx()].prompt.is_none() {
                let mm = &self.menus[m.idx()];
                r.push_str(&format!(
                    "Defined at {}:{}\n",
                    self.file_name(mm.file),
                    mm.line
                ));
                let dep = mm.dep;
                self.get_dep_str(r, dep, "  Depends on: ");
            }
        }
        self.get_symbol_props_str(r, s, PropType::Select, "Selects: ");
        let rev = self.syms[s.idx()].rev_dep.expr;
        if rev.is_some() {
            self.revdep_section(r, rev, Tri::Y, "Selected by [y]:\n");
            self.revdep_section(r, rev, Tri::M, "Selected by [m]:\n");
            self.revdep_section(r, rev, Tri::N, "Selected by [n]:\n");
        }
        self.get_symbol_props_str(r, s, PropType::Imply, "Implies: ");
        let imp = self.syms[s.idx()].implied.expr;
        if imp.is_some() {
            self.revdep_section(r, imp, Tri::Y, "Implied by [y]:\n");
            self.revdep_section(r, imp, Tri::M, "Implied by [m]:\n");
            self.revdep_section(r, imp, Tri::N, "Implied by [n]:\n");
        }
        r.push_str("\n\n");
    }
}
