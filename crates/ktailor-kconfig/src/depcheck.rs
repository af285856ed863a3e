//! The recursive-dependency check run after parsing (`sym_check_deps`).
//!
//! A symbol may not depend on itself through `depends on`, `select`,
//! `imply`, prompt or property conditions, or `default` values; choice
//! members are checked together with their choice. A cycle is an error
//! that names each link of the chain, as scripts/kconfig/symbol.c prints it.

use crate::diag::Diagnostic;
use crate::expr::Expr;
use crate::{flags, Dialect, ExprId, Kconfig, MenuId, PropType, SymId};

#[derive(Clone, Copy, PartialEq)]
enum Via {
    None,
    DirDep,
    RevDep,
    Implied,
    PropVisible(PropType),
    PropExpr(PropType),
}

struct Frame {
    sym: SymId,
    via: Via,
}

impl Kconfig {
    /// Checks every symbol; returns the number of cycles found.
    pub(crate) fn check_all_deps(&mut self) -> u32 {
        let mut stack: Vec<Frame> = Vec::new();
        let mut errors = 0;
        let entries: Vec<MenuId> = self.sub_entries(MenuId::ROOT);
        let order: Vec<SymId> = match self.dialect {
            Dialect::V6_12 => entries
                .iter()
                .filter_map(|m| self.menus[m.idx()].sym)
                .collect(),
            Dialect::V6_1 => self.symbols_hash_order().to_vec(),
        };
        for s in order {
            if self.check_deps(s, &mut stack).is_some() {
                errors += 1;
            }
        }
        errors
    }

    fn check_deps(&mut self, s: SymId, stack: &mut Vec<Frame>) -> Option<SymId> {
        let f = self.syms[s.idx()].flags;
        if f & flags::CHECK != 0 {
            self.report_cycle(s, stack);
            return Some(s);
        }
        if f & flags::CHECKED != 0 {
            return None;
        }
        if self.is_choice_value(s) && !self.is_choice(s) {
            let choice = match self.dialect {
                Dialect::V6_12 => self
                    .sym_get_choice_menu(s)
                    .and_then(|m| self.menus[m.idx()].sym),
                Dialect::V6_1 => self.choice_of(s),
            };
            if let Some(c) = choice {
                stack.push(Frame {
                    sym: s,
                    via: Via::None,
                });
                let r = self.check_deps(c, stack);
                stack.pop();
                return r;
            }
        }
        if self.is_choice(s) {
            return self.check_choice_deps(s, stack);
        }
        self.syms[s.idx()].flags |= flags::CHECK | flags::CHECKED;
        let r = self.check_sym_deps(s, stack);
        self.syms[s.idx()].flags &= !flags::CHECK;
        r
    }

    fn check_expr_deps(&mut self, e: Option<ExprId>, stack: &mut Vec<Frame>) -> Option<SymId> {
        let e = e?;
        match self.exprs.get(e) {
            Expr::And(a, b) | Expr::Or(a, b) => self
                .check_expr_deps(Some(a), stack)
                .or_else(|| self.check_expr_deps(Some(b), stack)),
            Expr::Not(a) => self.check_expr_deps(Some(a), stack),
            Expr::Cmp(_, a, b) => self
                .check_deps(a, stack)
                .or_else(|| self.check_deps(b, stack)),
            Expr::Sym(a) => self.check_deps(a, stack),
            Expr::Range(..) => None,
        }
    }

    fn check_sym_deps(&mut self, s: SymId, stack: &mut Vec<Frame>) -> Option<SymId> {
        stack.push(Frame {
            sym: s,
            via: Via::DirDep,
        });
        let mut r;
        let sym = &self.syms[s.idx()];
        let (d, rv, im) = (sym.dir_dep.expr, sym.rev_dep.expr, sym.implied.expr);
        'out: {
            r = self.check_expr_deps(d, stack);
            if r.is_some() {
                break 'out;
            }
            if let Some(top) = stack.last_mut() {
                top.via = Via::RevDep;
            }
            r = self.check_expr_deps(rv, stack);
            if r.is_some() {
                break 'out;
            }
            if let Some(top) = stack.last_mut() {
                top.via = Via::Implied;
            }
            r = self.check_expr_deps(im, stack);
            if r.is_some() {
                break 'out;
            }
            for &p in self.syms[s.idx()].props.clone().iter() {
                let ty = self.props[p.idx()].ty;
                if ty == PropType::Select || ty == PropType::Imply {
                    continue;
                }
                if let Some(top) = stack.last_mut() {
                    top.via = Via::PropVisible(ty);
                }
                let v = self.props[p.idx()].visible;
                r = self.check_expr_deps(v, stack);
                if r.is_some() {
                    break 'out;
                }
                if ty != PropType::Default || self.is_choice(s) {
                    continue;
                }
                if let Some(top) = stack.last_mut() {
                    top.via = Via::PropExpr(ty);
                }
                let e = self.props[p.idx()].expr;
                r = self.check_expr_deps(e, stack);
                if r.is_some() {
                    break 'out;
                }
            }
        }
        stack.pop();
        r
    }

    fn check_choice_deps(&mut self, c: SymId, stack: &mut Vec<Frame>) -> Option<SymId> {
        stack.push(Frame {
            sym: c,
            via: Via::None,
        });
        let members: Vec<SymId> = match self.dialect {
            Dialect::V6_12 => {
                let cm = self.syms[c.idx()].menus.first().copied();
                cm.map(|m| {
                    self.sub_entries(m)
                        .iter()
                        .filter_map(|x| self.menus[x.idx()].sym)
                        .collect()
                })
                .unwrap_or_default()
            }
            Dialect::V6_1 => self.choice_list(c),
        };
        for &m in &members {
            self.syms[m.idx()].flags |= flags::CHECK | flags::CHECKED;
        }
        self.syms[c.idx()].flags |= flags::CHECK | flags::CHECKED;
        let mut r = self.check_sym_deps(c, stack);
        self.syms[c.idx()].flags &= !flags::CHECK;
        if r.is_none() {
            for &m in &members {
                r = self.check_sym_deps(m, stack);
                if r.is_some() {
                    break;
                }
            }
        }
        for &m in &members {
            self.syms[m.idx()].flags &= !flags::CHECK;
        }
        if let Some(x) = r {
            if members.contains(&x) {
                r = Some(c);
            }
        }
        stack.pop();
        r
    }

    fn report_cycle(&mut self, last: SymId, stack: &[Frame]) {
        let Some(start) = stack.iter().position(|f| f.sym == last) else {
            self.diags.push(Diagnostic::error(
                "",
                0,
                "unexpected recursive dependency error",
            ));
            return;
        };
        let first_menu = self.syms[last.idx()].menus.first().copied();
        let (file, line) = match first_menu {
            Some(m) => (
                self.file_name(self.menus[m.idx()].file).to_string(),
                self.menus[m.idx()].line,
            ),
            None => (String::new(), 0),
        };
        let mut d = Diagnostic::error(file, line, "recursive dependency detected!");
        for i in start..stack.len() {
            let f = &stack[i];
            let next = stack.get(i + 1).map(|f| f.sym).unwrap_or(last);
            let (a, b) = (self.sym_name(f.sym), self.sym_name(next));
            let note = if self.is_choice(next) {
                let at = self.syms[next.idx()].menus.first().map(|m| {
                    let mm = &self.menus[m.idx()];
                    format!("{}:{}", self.file_name(mm.file), mm.line)
                });
                format!(
                    "symbol {a} is part of choice block at {}",
                    at.unwrap_or_default()
                )
            } else {
                match f.via {
                    Via::DirDep => format!("symbol {a} depends on {b}"),
                    Via::RevDep => format!("symbol {a} is selected by {b}"),
                    Via::Implied => format!("symbol {a} is implied by {b}"),
                    Via::PropExpr(t) => format!("symbol {a} {} value contains {b}", t.name()),
                    Via::PropVisible(t) => {
                        format!("symbol {a} {} is visible depending on {b}", t.name())
                    }
                    Via::None => format!("symbol {a} depends on {b}"),
                }
            };
            d.notes.push(note);
        }
        d.hint = Some(
            "see Documentation/kbuild/kconfig-language.rst, \"Kconfig recursive dependency limitations\"".into(),
        );
        self.diags.push(d);
    }
}
