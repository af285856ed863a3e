//! The menu tree: finalisation after parsing, traversal and visibility.
//!
//! Mirrors scripts/kconfig/menu.c. `menu_finalize` is where Kconfig's
//! inheritance happens: every entry's `depends on` is AND-ed with its
//! parents' (menus, `if` blocks, choices), `m` in a dependency is rewritten
//! to `m && MODULES`, each property's condition gets the entry's full
//! dependencies, `select` and `imply` become reverse dependencies of their
//! targets (`(selector && condition)` OR-ed over all selectors), and
//! entries that directly follow a symbol and depend on it become its
//! children (the "automatic sub-menu" rule), while `if` blocks and
//! promptless symbols are flattened away. In the 6.1 dialect choices also
//! learn their members and types here.

use crate::expr::Simplifier;
use crate::{flags, Dialect, ExprId, Kconfig, MenuId, PropType, SymId, SymType, Tri};

impl Kconfig {
    /// Depth-first successor of `m` within the subtree `root` (`menu_next`).
    pub fn menu_next(&self, m: MenuId, root: MenuId) -> Option<MenuId> {
        if let Some(l) = self.menus[m.idx()].list {
            return Some(l);
        }
        let mut m = m;
        while m != root && self.menus[m.idx()].next.is_none() {
            m = self.menus[m.idx()].parent?;
        }
        if m == root {
            return None;
        }
        self.menus[m.idx()].next
    }

    /// Every entry below `root`, depth first (`menu_for_each_sub_entry`).
    pub fn sub_entries(&self, root: MenuId) -> Vec<MenuId> {
        let mut v = Vec::new();
        let mut m = self.menu_next(root, root);
        while let Some(x) = m {
            v.push(x);
            m = self.menu_next(x, root);
        }
        v
    }

    /// `rewrite_m`: `m` becomes `m && MODULES`.
    fn rewrite_m(&mut self, e: Option<ExprId>) -> Option<ExprId> {
        let e = e?;
        Some(match self.exprs.get(e) {
            crate::Expr::Not(a) => {
                let a = self.rewrite_m(Some(a))?;
                self.exprs.not(a)
            }
            crate::Expr::And(a, b) => {
                let (a, b) = (self.rewrite_m(Some(a))?, self.rewrite_m(Some(b))?);
                self.exprs.two_and(a, b)
            }
            crate::Expr::Or(a, b) => {
                let (a, b) = (self.rewrite_m(Some(a))?, self.rewrite_m(Some(b))?);
                self.exprs.two_or(a, b)
            }
            crate::Expr::Sym(s) if s == SymId::MOD => {
                let m = self.exprs.sym(self.modules_sym);
                self.exprs.two_and(e, m)
            }
            _ => e,
        })
    }

    /// `rewrite_m`, `expr_transform`, AND with `base`, `expr_eliminate_dups`.
    fn propagate(&mut self, base: Option<ExprId>, e: Option<ExprId>) -> Option<ExprId> {
        let e = self.rewrite_m(e);
        let syms = &self.syms;
        let info = |s: SymId| sym_info(syms, s);
        let mut simp = Simplifier::new(&mut self.exprs, &info);
        let e = simp.transform(e);
        let e = simp.ex.and(base, e);
        simp.eliminate_dups(e)
    }

    /// `menu_finalize` for the whole tree.
    pub fn menu_finalize(&mut self) {
        // Symbol types do not change during finalisation in 6.12, so one
        // type table serves every simplification.
        match self.dialect {
            Dialect::V6_12 => self.finalize_612(MenuId::ROOT, false),
            Dialect::V6_1 => self.finalize_61(MenuId::ROOT),
        }
        // The menu structure changed: forget any choice menus looked up
        // before.
        *self.choice_menus.borrow_mut() = None;
    }

    fn children(&self, m: MenuId) -> Vec<MenuId> {
        let mut v = Vec::new();
        let mut c = self.menus[m.idx()].list;
        while let Some(x) = c {
            v.push(x);
            c = self.menus[x.idx()].next;
        }
        v
    }

    /// Propagates `parentdep` into each child and its properties, and turns
    /// `select`/`imply` into reverse dependencies.
    fn propagate_children(&mut self, parent: MenuId, parentdep: Option<ExprId>) {
        for menu in self.children(parent) {
            let d = self.menus[menu.idx()].dep;
            let basedep = self.propagate(parentdep, d);
            self.menus[menu.idx()].dep = basedep;
            let props: Vec<crate::PropId> = match self.menus[menu.idx()].sym {
                Some(s) => self.syms[s.idx()].props.to_vec(),
                None => self.menus[menu.idx()].prompt.into_iter().collect(),
            };
            for p in props {
                if self.props[p.idx()].menu != menu {
                    continue;
                }
                let v = self.props[p.idx()].visible;
                let dep = self.propagate(basedep, v);
                self.props[p.idx()].visible = dep;
                let ty = self.props[p.idx()].ty;
                if ty == PropType::Select || ty == PropType::Imply {
                    let Some(target) =
                        self.props[p.idx()]
                            .expr
                            .and_then(|e| match self.exprs.get(e) {
                                crate::Expr::Sym(s) => Some(s),
                                _ => None,
                            })
                    else {
                        continue;
                    };
                    let me = self.menus[menu.idx()].sym.unwrap_or(SymId::NO);
                    let me_e = self.exprs.sym(me);
                    let term = self.exprs.and(Some(me_e), dep);
                    let t = &mut self.syms[target.idx()];
                    let slot = if ty == PropType::Select {
                        t.rev_dep.expr
                    } else {
                        t.implied.expr
                    };
                    let new = self.exprs.or(slot, term);
                    let t = &mut self.syms[target.idx()];
                    if ty == PropType::Select {
                        t.rev_dep.expr = new;
                    } else {
                        t.implied.expr = new;
                    }
                }
            }
        }
    }

    /// The automatic sub-menu rule for a childless symbol entry `parent`:
    /// following entries that depend on its symbol become its children.
    fn auto_submenu(
        &mut self,
        parent: MenuId,
        sym: SymId,
        recurse: &mut dyn FnMut(&mut Kconfig, MenuId),
    ) {
        let prompt_vis = self.menus[parent.idx()]
            .prompt
            .and_then(|p| self.props[p.idx()].visible);
        // The symbol's own condition, in the form the superset test needs;
        // computed only when an entry mentions the symbol without plainly
        // depending on it (the result does not depend on when it is done).
        let mut basedep: Option<Option<ExprId>> = None;
        let mut last_menu: Option<MenuId> = None;
        let mut cur = self.menus[parent.idx()].next;
        while let Some(menu) = cur {
            let m = &self.menus[menu.idx()];
            let dep = match m.prompt {
                Some(p) => self.props[p.idx()].visible,
                None => m.dep,
            };
            if !self.exprs.contains_symbol(dep, sym) {
                break;
            }
            if !self.exprs.depends_symbol(dep, sym) {
                let syms = &self.syms;
                let info = |s: SymId| sym_info(syms, s);
                let mut simp = Simplifier::new(&mut self.exprs, &info);
                let basedep = *basedep.get_or_insert_with(|| {
                    let b = simp.trans_compare(prompt_vis, true, SymId::NO);
                    let b = simp.transform(b);
                    simp.eliminate_dups(b)
                });
                let d = simp.trans_compare(dep, true, SymId::NO);
                let d = simp.transform(d);
                let mut d = simp.eliminate_dups(d);
                let mut d2 = basedep;
                simp.eliminate_eq(&mut d, &mut d2);
                if !simp.ex.is_yes(d2) {
                    break;
                }
            }
            recurse(self, menu);
            self.menus[menu.idx()].parent = Some(parent);
            last_menu = Some(menu);
            cur = self.menus[menu.idx()].next;
        }
        if let Some(last) = last_menu {
            let first = self.menus[parent.idx()].next;
            self.menus[parent.idx()].list = first;
            self.menus[parent.idx()].next = self.menus[last.idx()].next;
            self.menus[last.idx()].next = None;
        }
        let pd = self.menus[parent.idx()].dep;
        let dd = self.syms[sym.idx()].dir_dep.expr;
        self.syms[sym.idx()].dir_dep.expr = self.exprs.or(dd, pd);
    }

    /// Flattens `if` blocks and sub-menus of promptless entries.
    fn flatten(&mut self, menu: MenuId, parent: MenuId) {
        let m = &self.menus[menu.idx()];
        let has_text = m
            .prompt
            .map(|p| self.props[p.idx()].text.is_some())
            .unwrap_or(false);
        if m.list.is_some() && !has_text {
            let first = m.list;
            let mut last = first.unwrap_or(menu);
            loop {
                self.menus[last.idx()].parent = Some(parent);
                match self.menus[last.idx()].next {
                    Some(n) => last = n,
                    None => break,
                }
            }
            self.menus[last.idx()].next = self.menus[menu.idx()].next;
            self.menus[menu.idx()].next = first;
            self.menus[menu.idx()].list = None;
        }
    }

    /// 6.12's `_menu_finalize`.
    fn finalize_612(&mut self, parent: MenuId, inside_choice: bool) {
        let sym = self.menus[parent.idx()].sym;
        if self.menus[parent.idx()].list.is_some() {
            let pd = self.menus[parent.idx()].dep;
            self.propagate_children(parent, pd);
            let is_choice = sym.map(|s| self.is_choice(s)).unwrap_or(false);
            let mut c = self.menus[parent.idx()].list;
            while let Some(m) = c {
                self.finalize_612(m, is_choice);
                c = self.menus[m.idx()].next;
            }
        } else if let (false, Some(s)) = (inside_choice, sym) {
            self.auto_submenu(parent, s, &mut |k, m| k.finalize_612(m, false));
        }
        let mut c = self.menus[parent.idx()].list;
        while let Some(m) = c {
            self.flatten(m, parent);
            c = self.menus[m.idx()].next;
        }
        if let Some(s) = sym {
            self.syms[s.idx()].flags |= flags::WARNED;
        }
    }

    /// 6.1's `menu_finalize`.
    fn finalize_61(&mut self, parent: MenuId) {
        let sym = self.menus[parent.idx()].sym;
        let is_choice = sym.map(|s| self.is_choice(s)).unwrap_or(false);
        if self.menus[parent.idx()].list.is_some() {
            let parentdep = if let (true, Some(s)) = (is_choice, sym) {
                if self.syms[s.idx()].ty == SymType::Unknown {
                    self.exprs.clear_memo();
                    for m in self.children(parent) {
                        if let Some(ms) = self.menus[m.idx()].sym {
                            let t = self.syms[ms.idx()].ty;
                            if t != SymType::Unknown {
                                self.syms[s.idx()].ty = t;
                                break;
                            }
                        }
                    }
                }
                let ct = self.syms[s.idx()].ty;
                for m in self.children(parent) {
                    if let Some(ms) = self.menus[m.idx()].sym {
                        if self.syms[ms.idx()].ty == SymType::Unknown {
                            self.syms[ms.idx()].ty = ct;
                            self.exprs.clear_memo();
                        }
                    }
                }
                Some(self.exprs.sym(s))
            } else {
                self.menus[parent.idx()].dep
            };
            self.propagate_children(parent, parentdep);
            let mut c = self.menus[parent.idx()].list;
            while let Some(m) = c {
                self.finalize_61(m);
                c = self.menus[m.idx()].next;
            }
        } else if let Some(s) = sym {
            self.auto_submenu(parent, s, &mut |k, m| k.finalize_61(m));
        }
        let mut c = self.menus[parent.idx()].list;
        while let Some(m) = c {
            if let (true, Some(ch)) = (is_choice, sym) {
                if let Some(ms) = self.menus[m.idx()].sym {
                    if self.syms[ms.idx()].flags & flags::CHOICEVAL == 0 {
                        self.syms[ms.idx()].flags |= flags::CHOICEVAL;
                        if self.syms[ch.idx()].ty == SymType::Tristate
                            && self.syms[ms.idx()].ty != SymType::Tristate
                        {
                            let base = self.exprs.cmp(crate::CmpOp::Eq, ch, SymId::YES);
                            let d = self.menus[m.idx()].dep;
                            self.menus[m.idx()].dep = self.exprs.and(Some(base), d);
                            for &p in self.syms[ms.idx()].props.clone().iter() {
                                if self.props[p.idx()].menu != m {
                                    continue;
                                }
                                let v = self.props[p.idx()].visible;
                                self.props[p.idx()].visible = self.exprs.and(Some(base), v);
                            }
                        }
                        // The member's link to its choice and the choice's
                        // member list (P_CHOICE).
                        let choice_menu = self.syms[ch.idx()].menus.first().copied();
                        self.syms[ms.idx()].choice_link = choice_menu;
                        if let Some(cp) = self.syms[ch.idx()]
                            .props
                            .iter()
                            .copied()
                            .find(|p| self.props[p.idx()].ty == PropType::Choice)
                        {
                            self.props[cp.idx()].choice_list.push(ms);
                        }
                    }
                }
            }
            self.flatten(m, parent);
            c = self.menus[m.idx()].next;
        }
        if let Some(s) = sym {
            self.syms[s.idx()].flags |= flags::WARNED;
            if self.syms[s.idx()].flags & flags::OPTIONAL == 0 {
                if let Some(p) = self.menus[parent.idx()].prompt {
                    let v = self.props[p.idx()].visible;
                    let m = self.exprs.sym(SymId::MOD);
                    let term = self.exprs.and(v, Some(m));
                    let r = self.syms[s.idx()].rev_dep.expr;
                    self.syms[s.idx()].rev_dep.expr = self.exprs.or(r, term);
                }
            }
        }
    }

    /// `menu_is_visible`.
    pub fn menu_is_visible(&mut self, m: MenuId) -> bool {
        let Some(p) = self.menus[m.idx()].prompt else {
            return false;
        };
        if let Some(v) = self.menus[m.idx()].visibility {
            if self.expr_calc_value(Some(v)) == Tri::N {
                return false;
            }
        }
        let sym = self.menus[m.idx()].sym;
        let visible = if let Some(s) = sym {
            self.sym_calc_value(s);
            self.prop_vis[p.idx()]
        } else {
            let e = self.props[p.idx()].visible;
            let t = self.expr_calc_value(e);
            self.prop_vis[p.idx()] = t;
            t
        };
        if visible != Tri::N {
            return true;
        }
        let Some(s) = sym else { return false };
        if self.syms[s.idx()].curr_tri == Tri::N {
            return false;
        }
        let mut c = self.menus[m.idx()].list;
        while let Some(x) = c {
            if self.menu_is_visible(x) {
                // 6.1 marks the symbol as having a user value here, so an
                // invisible menu symbol shown for its children is not NEW
                // (and keeps its user slot should it become visible).
                if self.dialect == Dialect::V6_1 {
                    self.syms[s.idx()].flags |= flags::DEF_USER;
                }
                return true;
            }
            c = self.menus[x.idx()].next;
        }
        false
    }

    /// `menu_get_parent_menu`: the nearest enclosing `menu` (or the root).
    pub fn menu_get_parent_menu(&self, m: MenuId) -> MenuId {
        let mut m = m;
        while m != MenuId::ROOT {
            if let Some(p) = self.menus[m.idx()].prompt {
                if self.props[p.idx()].ty == PropType::Menu {
                    break;
                }
            }
            match self.menus[m.idx()].parent {
                Some(p) => m = p,
                None => break,
            }
        }
        m
    }

    /// A menu entry's prompt text, or its symbol's name (`menu_get_prompt`).
    pub fn menu_get_prompt(&self, m: MenuId) -> Option<String> {
        let menu = &self.menus[m.idx()];
        if let Some(p) = menu.prompt {
            return self.props[p.idx()].text.as_ref().map(|t| t.to_string());
        }
        menu.sym.map(|s| self.sym_name(s))
    }
}

fn sym_info(syms: &[crate::Symbol], s: SymId) -> (SymType, bool) {
    let x = &syms[s.idx()];
    (x.ty, x.flags & flags::CONST != 0)
}
