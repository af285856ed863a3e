//! Symbol values: visibility, defaults, `select`, `imply`, choices, ranges,
//! and the recursive-dependency check.
//!
//! Mirrors scripts/kconfig/symbol.c. The rules, for a bool or tristate
//! symbol (`sym_calc_value`):
//!
//! * Its *visibility* is the OR of its prompts' conditions (each already
//!   AND-ed with the entry's dependencies by `menu_finalize`); it is an
//!   upper bound on the user's value. `m` visibility becomes `y` for bool
//!   symbols and when modules are off.
//! * If visible and the user gave a value, the value is `user && visible`.
//!   Otherwise it is the first `default` whose condition holds
//!   (`default && condition`), raised by `imply` (`max(default, implied)`,
//!   then capped by the direct dependencies).
//! * Finally `select` is a lower bound: `value || rev_dep`, even past unmet
//!   direct dependencies (conf warns about those).
//! * `m` becomes `y` for bool symbols.
//!
//! Values are computed lazily and memoised (`SYMBOL_VALID`); a symbol met
//! again while it is being computed reads as its type's empty value, as in
//! C. Choices differ between the dialects: 6.12 picks the first visible
//! member the user set to `y` in priority order, else the default, else the
//! first visible member without a user value (`sym_calc_choice`); 6.1 keeps
//! the chosen member in the choice symbol's value and supports tristate
//! choices.

use std::sync::Arc;

use crate::expr::Expr;
use crate::{
    flags, CmpOp, Dialect, ExprId, Kconfig, MenuId, PropId, PropType, SymId, SymType, Tri,
    S_DEF_USER,
};

impl Kconfig {
    /// `sym_get_type`: tristate reads as bool while modules are off.
    pub fn sym_get_type(&self, s: SymId) -> SymType {
        let t = self.syms[s.idx()].ty;
        if t == SymType::Tristate && self.modules_val == Tri::N {
            SymType::Bool
        } else {
            t
        }
    }

    /// `sym_is_choice_value`.
    pub fn is_choice_value(&self, s: SymId) -> bool {
        match self.dialect {
            Dialect::V6_12 => self.syms[s.idx()].choice_link.is_some(),
            Dialect::V6_1 => self.syms[s.idx()].flags & flags::CHOICEVAL != 0,
        }
    }

    /// The choice symbol a 6.1 choice value belongs to.
    pub fn choice_of(&self, s: SymId) -> Option<SymId> {
        let m = self.syms[s.idx()].choice_link?;
        self.menus[m.idx()].sym
    }

    /// 6.1: the members of choice `c` in order (its P_CHOICE list).
    pub fn choice_list(&self, c: SymId) -> Vec<SymId> {
        for &p in self.syms[c.idx()].props.iter() {
            if self.props[p.idx()].ty == PropType::Choice {
                return self.props[p.idx()].choice_list.clone();
            }
        }
        Vec::new()
    }

    /// Evaluates an expression (`expr_calc_value`); `None` is `y`.
    pub fn expr_calc_value(&mut self, e: Option<ExprId>) -> Tri {
        let Some(e) = e else { return Tri::Y };
        let i = e.0 as usize;
        if i < self.expr_epoch.len() && self.expr_epoch[i] == self.epoch {
            return self.expr_val[i];
        }
        let v = self.expr_calc_uncached(e);
        if i >= self.expr_epoch.len() {
            let n = self.exprs.len().max(i + 1);
            self.expr_epoch.resize(n, 0);
            self.expr_val.resize(n, Tri::N);
        }
        self.expr_epoch[i] = self.epoch;
        self.expr_val[i] = v;
        v
    }

    fn expr_calc_uncached(&mut self, e: ExprId) -> Tri {
        match self.exprs.get(e) {
            Expr::Sym(s) => {
                self.sym_calc_value(s);
                self.syms[s.idx()].curr_tri
            }
            Expr::And(a, b) => {
                let x = self.expr_calc_value(Some(a));
                let y = self.expr_calc_value(Some(b));
                x.and(y)
            }
            Expr::Or(a, b) => {
                let x = self.expr_calc_value(Some(a));
                let y = self.expr_calc_value(Some(b));
                x.or(y)
            }
            Expr::Not(a) => self.expr_calc_value(Some(a)).not(),
            Expr::Cmp(op, a, b) => {
                self.sym_calc_value(a);
                self.sym_calc_value(b);
                let s1 = self.sym_get_string_value(a);
                let s2 = self.sym_get_string_value(b);
                let (t1, t2) = (self.syms[a.idx()].ty, self.syms[b.idx()].ty);
                let res = compare_values(&s1, t1, &s2, t2);
                let r = match op {
                    CmpOp::Eq => res == 0,
                    CmpOp::Ne => res != 0,
                    CmpOp::Lt => res < 0,
                    CmpOp::Le => res <= 0,
                    CmpOp::Gt => res > 0,
                    CmpOp::Ge => res >= 0,
                };
                if r {
                    Tri::Y
                } else {
                    Tri::N
                }
            }
            Expr::Range(..) => Tri::N,
        }
    }

    /// Invalidates all computed values (`sym_clear_all_valid`).
    pub fn sym_clear_all_valid(&mut self) {
        for s in self.syms.iter_mut().skip(3) {
            s.flags &= !flags::VALID;
        }
        self.epoch += 1;
        self.changed = true;
        self.sym_calc_value(self.modules_sym);
    }

    /// Invalidates values without recomputing MODULES (as
    /// `conf_read_simple` does before reading user values).
    pub(crate) fn invalidate_values(&mut self) {
        for s in self.syms.iter_mut().skip(3) {
            s.flags &= !flags::VALID;
        }
        self.epoch += 1;
    }

    fn first_visible_prop(&mut self, s: SymId, ty: PropType) -> Option<PropId> {
        let n = self.syms[s.idx()].props.len();
        for i in 0..n {
            let p = self.syms[s.idx()].props[i];
            if self.props[p.idx()].ty != ty {
                continue;
            }
            let v = self.props[p.idx()].visible;
            let t = self.expr_calc_value(v);
            self.prop_vis[p.idx()] = t;
            if t != Tri::N {
                return Some(p);
            }
        }
        None
    }

    /// `sym_get_default_prop`.
    pub fn sym_get_default_prop(&mut self, s: SymId) -> Option<PropId> {
        self.first_visible_prop(s, PropType::Default)
    }

    /// `sym_get_range_prop`.
    pub fn sym_get_range_prop(&mut self, s: SymId) -> Option<PropId> {
        self.first_visible_prop(s, PropType::Range)
    }

    fn prop_symbol(&self, p: PropId) -> Option<SymId> {
        match self.props[p.idx()].expr.map(|e| self.exprs.get(e)) {
            Some(Expr::Sym(s)) => Some(s),
            _ => None,
        }
    }

    /// `sym_calc_visibility`.
    pub fn sym_calc_visibility(&mut self, s: SymId) {
        let mut tri = Tri::N;
        let choice_sym = if self.dialect == Dialect::V6_1 && self.is_choice_value(s) {
            self.choice_of(s)
        } else {
            None
        };
        let n = self.syms[s.idx()].props.len();
        for i in 0..n {
            let p = self.syms[s.idx()].props[i];
            if self.props[p.idx()].text.is_none() {
                continue;
            }
            let v = self.props[p.idx()].visible;
            let mut t = self.expr_calc_value(v);
            // 6.1: tristate choice values with visibility m are hidden when
            // their choice is y.
            if let Some(c) = choice_sym {
                if self.syms[s.idx()].ty == SymType::Tristate
                    && t == Tri::M
                    && self.syms[c.idx()].curr_tri == Tri::Y
                {
                    t = Tri::N;
                }
            }
            self.prop_vis[p.idx()] = t;
            tri = tri.or(t);
        }
        if tri == Tri::M
            && (self.syms[s.idx()].ty != SymType::Tristate || self.modules_val == Tri::N)
        {
            tri = Tri::Y;
        }
        self.syms[s.idx()].visible = tri;
        if self.is_choice_value(s) {
            return;
        }
        let is_bool = self.sym_get_type(s) == SymType::Bool;
        let lift = |t: Tri| if t == Tri::M && is_bool { Tri::Y } else { t };
        let d = self.syms[s.idx()].dir_dep.expr;
        let t = if d.is_some() {
            self.expr_calc_value(d)
        } else {
            Tri::Y
        };
        self.syms[s.idx()].dir_dep.tri = lift(t);
        let r = self.syms[s.idx()].rev_dep.expr;
        let t = if r.is_some() {
            self.expr_calc_value(r)
        } else {
            Tri::N
        };
        self.syms[s.idx()].rev_dep.tri = lift(t);
        let im = self.syms[s.idx()].implied.expr;
        let t = if im.is_some() {
            self.expr_calc_value(im)
        } else {
            Tri::N
        };
        self.syms[s.idx()].implied.tri = lift(t);
    }

    /// 6.12 `sym_get_choice_menu`: the choice a member belongs to, found
    /// through its first prompted menu entry's ancestors. Computed for
    /// every symbol at the first call after `menu_finalize` and memoised.
    pub fn sym_get_choice_menu(&self, s: SymId) -> Option<MenuId> {
        if let Some(v) = self.choice_menus.borrow().as_ref() {
            if v.len() == self.syms.len() {
                return v[s.idx()];
            }
        }
        self.index_choice_menus();
        self.choice_menus.borrow().as_ref().and_then(|v| v[s.idx()])
    }

    /// Computes the memo `sym_get_choice_menu` reads. Done once a tree is
    /// parsed or decoded, so that its copies share it.
    pub(crate) fn index_choice_menus(&self) {
        let v: Arc<[Option<MenuId>]> = (0..self.syms.len())
            .map(|i| self.find_choice_menu(SymId(i as u32)))
            .collect();
        *self.choice_menus.borrow_mut() = Some(v);
    }

    fn find_choice_menu(&self, s: SymId) -> Option<MenuId> {
        let sym = &self.syms[s.idx()];
        let mut menu = *sym
            .menus
            .iter()
            .find(|m| self.menus[m.idx()].prompt.is_some())?;
        loop {
            menu = self.menus[menu.idx()].parent?;
            if self.menus[menu.idx()].sym.is_some() {
                break;
            }
        }
        let cs = self.menus[menu.idx()].sym?;
        if self.is_choice(cs) {
            Some(menu)
        } else {
            None
        }
    }

    /// 6.12 `sym_choice_default`.
    pub fn sym_choice_default_612(&mut self, choice: MenuId) -> Option<SymId> {
        let cs = self.menus[choice.idx()].sym?;
        let n = self.syms[cs.idx()].props.len();
        for i in 0..n {
            let p = self.syms[cs.idx()].props[i];
            if self.props[p.idx()].ty != PropType::Default {
                continue;
            }
            let v = self.props[p.idx()].visible;
            let t = self.expr_calc_value(v);
            self.prop_vis[p.idx()] = t;
            if t == Tri::N {
                continue;
            }
            if let Some(d) = self.prop_symbol(p) {
                if self.syms[d.idx()].visible != Tri::N {
                    return Some(d);
                }
            }
        }
        for m in self.sub_entries(choice) {
            if let Some(s) = self.menus[m.idx()].sym {
                if self.syms[s.idx()].visible != Tri::N {
                    return Some(s);
                }
            }
        }
        None
    }

    /// 6.12 `sym_calc_choice`: sets every visible member to y or n.
    pub fn sym_calc_choice_612(&mut self, choice: MenuId) -> Option<SymId> {
        let members = self.choice_members(choice).to_vec();
        let mut res = None;
        for &s in &members {
            self.sym_calc_visibility(s);
            let sym = &self.syms[s.idx()];
            if sym.visible == Tri::N {
                continue;
            }
            if sym.has_value() && sym.def[S_DEF_USER].tri == Tri::Y {
                res = Some(s);
                break;
            }
        }
        if res.is_none() {
            res = self.sym_choice_default_612(choice);
            if let Some(r) = res {
                let sym = &self.syms[r.idx()];
                if sym.has_value() && sym.def[S_DEF_USER].tri == Tri::N {
                    res = None;
                }
            }
        }
        let subs = self.sub_entries(choice);
        if res.is_none() {
            for &m in &subs {
                let Some(s) = self.menus[m.idx()].sym else {
                    continue;
                };
                let sym = &self.syms[s.idx()];
                if sym.visible == Tri::N || sym.has_value() {
                    continue;
                }
                res = Some(s);
                break;
            }
        }
        if res.is_none() {
            for &s in members.iter().rev() {
                if self.syms[s.idx()].visible == Tri::N {
                    continue;
                }
                res = Some(s);
                break;
            }
        }
        for &m in &subs {
            let Some(s) = self.menus[m.idx()].sym else {
                continue;
            };
            if self.syms[s.idx()].visible == Tri::N {
                continue;
            }
            let v = if Some(s) == res { Tri::Y } else { Tri::N };
            let sym = &mut self.syms[s.idx()];
            sym.curr_tri = v;
            sym.flags |= flags::VALID | flags::WRITE;
        }
        res
    }

    /// 6.1 `sym_choice_default`.
    pub fn sym_choice_default_61(&mut self, cs: SymId) -> Option<SymId> {
        let n = self.syms[cs.idx()].props.len();
        for i in 0..n {
            let p = self.syms[cs.idx()].props[i];
            if self.props[p.idx()].ty != PropType::Default {
                continue;
            }
            let v = self.props[p.idx()].visible;
            let t = self.expr_calc_value(v);
            self.prop_vis[p.idx()] = t;
            if t == Tri::N {
                continue;
            }
            if let Some(d) = self.prop_symbol(p) {
                if self.syms[d.idx()].visible != Tri::N {
                    return Some(d);
                }
            }
        }
        self.choice_list(cs)
            .into_iter()
            .find(|&s| self.syms[s.idx()].visible != Tri::N)
    }

    /// 6.1 `sym_calc_choice`.
    fn sym_calc_choice_61(&mut self, cs: SymId) -> Option<SymId> {
        let mut fl = self.syms[cs.idx()].flags;
        for s in self.choice_list(cs) {
            self.sym_calc_visibility(s);
            if self.syms[s.idx()].visible != Tri::N {
                fl &= self.syms[s.idx()].flags;
            }
        }
        self.syms[cs.idx()].flags &= fl | !flags::DEF_USER;
        if let Some(d) = self.syms[cs.idx()].def[S_DEF_USER].choice {
            if self.syms[d.idx()].visible != Tri::N {
                return Some(d);
            }
        }
        let d = self.sym_choice_default_61(cs);
        if d.is_none() {
            self.syms[cs.idx()].curr_tri = Tri::N;
        }
        d
    }

    fn sym_warn_unmet_dep(&mut self, s: SymId) {
        self.sym_warnings += 1;
        let sym = &self.syms[s.idx()];
        let mut msg = format!(
            "unmet direct dependencies detected for {}",
            self.sym_name(s)
        );
        msg.push_str(&format!(
            "\n  Depends on [{}]: ",
            if sym.dir_dep.tri == Tri::M { 'm' } else { 'n' }
        ));
        let dd = sym.dir_dep.expr;
        let rd = sym.rev_dep.expr;
        msg.push_str(&self.expr_to_string_with_values(dd));
        for (want, title) in [
            (Tri::Y, "  Selected by [y]:"),
            (Tri::M, "  Selected by [m]:"),
        ] {
            let mut lines = Vec::new();
            self.revdep_lines(rd, want, &mut lines);
            if !lines.is_empty() {
                msg.push('\n');
                msg.push_str(title);
                for l in lines {
                    msg.push_str("\n  - ");
                    msg.push_str(&l);
                }
            }
        }
        self.diags.push(crate::Diagnostic::warning("", 0, msg));
    }

    fn revdep_lines(&mut self, e: Option<ExprId>, want: Tri, out: &mut Vec<String>) {
        let Some(e) = e else { return };
        if let Expr::Or(a, b) = self.exprs.get(e) {
            self.revdep_lines(Some(a), want, out);
            self.revdep_lines(Some(b), want, out);
        } else if self.expr_calc_value(Some(e)) == want {
            out.push(self.expr_to_string_with_values(Some(e)));
        }
    }

    /// Prints an expression with each symbol's current value, like
    /// `expr_gstr_print` (`A [=y] && B [=n]`).
    pub fn expr_to_string_with_values(&mut self, e: Option<ExprId>) -> String {
        let mut syms = Vec::new();
        self.exprs.for_each_sym(e, &mut |s| syms.push(s));
        for s in syms {
            self.sym_calc_value(s);
        }
        self.expr_to_string_with_current_values(e)
    }

    /// Like [`Kconfig::expr_to_string_with_values`] but shows the values as
    /// last computed, stale or not, as conf's help texts do.
    pub fn expr_to_string_with_current_values(&self, e: Option<ExprId>) -> String {
        let mut out = String::new();
        let name = |s: SymId| self.sym_name(s);
        let val = |s: SymId| -> Option<String> {
            if self.syms[s.idx()].ty == SymType::Unknown {
                None
            } else {
                Some(self.sym_string_value_now(s))
            }
        };
        self.exprs.print(e, &mut out, &name, Some(&val));
        out
    }

    /// An expression as Kconfig text.
    pub fn expr_to_string(&self, e: Option<ExprId>) -> String {
        let mut out = String::new();
        let name = |s: SymId| self.sym_name(s);
        self.exprs.print(e, &mut out, &name, None);
        out
    }

    /// The current string value without recomputing (`sym_get_string_value`
    /// on an already computed symbol).
    pub fn sym_string_value_now(&self, s: SymId) -> String {
        let sym = &self.syms[s.idx()];
        match sym.ty {
            SymType::Bool | SymType::Tristate => sym.curr_tri.as_str().to_string(),
            _ => sym.curr_val.to_string(),
        }
    }

    /// `sym_get_string_value`.
    pub fn sym_get_string_value(&self, s: SymId) -> Arc<str> {
        let sym = &self.syms[s.idx()];
        match sym.ty {
            SymType::Bool | SymType::Tristate => Arc::from(sym.curr_tri.as_str()),
            _ => sym.curr_val.clone(),
        }
    }

    /// `sym_calc_value`.
    pub fn sym_calc_value(&mut self, s: SymId) {
        if self.syms[s.idx()].flags & flags::VALID != 0 {
            return;
        }
        if self.dialect == Dialect::V6_1
            && self.is_choice_value(s)
            && self.syms[s.idx()].flags & flags::NEED_SET_CHOICE_VALUES != 0
        {
            self.syms[s.idx()].flags &= !flags::NEED_SET_CHOICE_VALUES;
            if let Some(c) = self.choice_of(s) {
                self.sym_calc_value(c);
            }
        }
        self.syms[s.idx()].flags |= flags::VALID;
        let ty = self.syms[s.idx()].ty;
        // The value before any rule applies (one shared string each: this
        // runs for every symbol of every evaluation).
        static EMPTY: std::sync::LazyLock<[Arc<str>; 4]> =
            std::sync::LazyLock::new(|| ["0".into(), "0x0".into(), "n".into(), "".into()]);
        let empty: Arc<str> = match (self.dialect, ty) {
            (Dialect::V6_12, SymType::Int) => EMPTY[0].clone(),
            (Dialect::V6_12, SymType::Hex) => EMPTY[1].clone(),
            (_, SymType::Bool | SymType::Tristate) => EMPTY[2].clone(),
            (_, SymType::Int | SymType::Hex | SymType::String) => EMPTY[3].clone(),
            (_, SymType::Unknown) => {
                let sym = &mut self.syms[s.idx()];
                sym.curr_val = sym.name.clone().unwrap_or_else(|| "".into());
                sym.curr_tri = Tri::N;
                return;
            }
        };
        let mut new_tri = Tri::N;
        let mut new_val = empty.clone();
        let mut new_choice: Option<SymId> = None;
        self.syms[s.idx()].flags &= !flags::WRITE;
        self.sym_calc_visibility(s);
        if self.syms[s.idx()].visible != Tri::N {
            self.syms[s.idx()].flags |= flags::WRITE;
        }
        // Set the default in case of a recursive call.
        {
            let sym = &mut self.syms[s.idx()];
            sym.curr_tri = Tri::N;
            sym.curr_val = empty;
            if self.dialect == Dialect::V6_1 {
                sym.curr_choice = None;
            }
        }
        let is_choice = self.is_choice(s);
        match self.sym_get_type(s) {
            SymType::Bool | SymType::Tristate => {
                let choice_menu = match self.dialect {
                    Dialect::V6_12 => self.sym_get_choice_menu(s),
                    Dialect::V6_1 => None,
                };
                if let Some(cm) = choice_menu {
                    self.sym_calc_choice_612(cm);
                    new_tri = self.syms[s.idx()].curr_tri;
                } else if self.dialect == Dialect::V6_1
                    && self.is_choice_value(s)
                    && self.syms[s.idx()].visible == Tri::Y
                {
                    let c = self.choice_of(s);
                    let sel = c.and_then(|c| self.syms[c.idx()].curr_choice);
                    new_tri = if sel == Some(s) { Tri::Y } else { Tri::N };
                } else {
                    let mut use_default = true;
                    let sym = &self.syms[s.idx()];
                    if sym.visible != Tri::N && sym.has_value() {
                        new_tri = sym.def[S_DEF_USER].tri.and(sym.visible);
                        use_default = false;
                    }
                    if use_default {
                        if self.syms[s.idx()].rev_dep.tri != Tri::N {
                            self.syms[s.idx()].flags |= flags::WRITE;
                        }
                        if !is_choice {
                            if let Some(p) = self.sym_get_default_prop(s) {
                                let e = self.props[p.idx()].expr;
                                let v = self.expr_calc_value(e);
                                new_tri = v.and(self.prop_vis[p.idx()]);
                                if new_tri != Tri::N {
                                    self.syms[s.idx()].flags |= flags::WRITE;
                                }
                            }
                            let sym = &self.syms[s.idx()];
                            if sym.implied.tri != Tri::N {
                                let (imp, dd) = (sym.implied.tri, sym.dir_dep.tri);
                                self.syms[s.idx()].flags |= flags::WRITE;
                                new_tri = new_tri.or(imp).and(dd);
                            }
                        }
                    }
                    let sym = &self.syms[s.idx()];
                    if sym.dir_dep.tri < sym.rev_dep.tri {
                        self.sym_warn_unmet_dep(s);
                    }
                    new_tri = new_tri.or(self.syms[s.idx()].rev_dep.tri);
                }
                if new_tri == Tri::M && self.sym_get_type(s) == SymType::Bool {
                    new_tri = Tri::Y;
                }
            }
            SymType::String | SymType::Hex | SymType::Int => {
                let sym = &self.syms[s.idx()];
                if sym.visible != Tri::N && sym.has_value() {
                    new_val = sym.def[S_DEF_USER].val.clone().unwrap_or_else(|| "".into());
                } else if let Some(p) = self.sym_get_default_prop(s) {
                    if let Some(ds) = self.prop_symbol(p) {
                        self.syms[s.idx()].flags |= flags::WRITE;
                        self.sym_calc_value(ds);
                        new_val = self.syms[ds.idx()].curr_val.clone();
                    }
                }
            }
            SymType::Unknown => {}
        }
        {
            let sym = &mut self.syms[s.idx()];
            sym.curr_tri = new_tri;
            sym.curr_val = new_val;
        }
        if self.dialect == Dialect::V6_1 && is_choice && new_tri == Tri::Y {
            new_choice = self.sym_calc_choice_61(s);
            self.syms[s.idx()].curr_choice = new_choice;
        }
        let _ = new_choice;
        self.sym_validate_range(s);
        if s == self.modules_sym {
            self.modules_val = self.syms[s.idx()].curr_tri;
        }
        match self.dialect {
            Dialect::V6_12 => {
                if is_choice {
                    self.syms[s.idx()].flags &= !flags::WRITE;
                }
            }
            Dialect::V6_1 => {
                if is_choice {
                    let write = self.syms[s.idx()].flags & flags::WRITE != 0;
                    for m in self.choice_list(s) {
                        if write && self.syms[m.idx()].visible != Tri::N {
                            self.syms[m.idx()].flags |= flags::WRITE;
                        }
                    }
                }
                if self.syms[s.idx()].flags & flags::NO_WRITE != 0 {
                    self.syms[s.idx()].flags &= !flags::WRITE;
                }
                if self.syms[s.idx()].flags & flags::NEED_SET_CHOICE_VALUES != 0 {
                    self.set_all_choice_values(s);
                }
            }
        }
    }

    /// 6.1 `set_all_choice_values`.
    pub fn set_all_choice_values(&mut self, cs: SymId) {
        for m in self.choice_list(cs) {
            if !self.syms[m.idx()].has_value() {
                self.syms[m.idx()].def[S_DEF_USER].tri = Tri::N;
            }
        }
        let c = &mut self.syms[cs.idx()];
        c.flags |= flags::DEF_USER;
        c.flags &= !(flags::VALID | flags::NEED_SET_CHOICE_VALUES);
    }

    fn range_val(&mut self, s: SymId, base: u32) -> i64 {
        self.sym_calc_value(s);
        let base = match self.syms[s.idx()].ty {
            SymType::Int => 10,
            SymType::Hex => 16,
            _ => base,
        };
        strtoll(&self.syms[s.idx()].curr_val, base).0
    }

    /// `sym_validate_range`: clamps an int/hex value into its active range.
    fn sym_validate_range(&mut self, s: SymId) {
        let base = match self.syms[s.idx()].ty {
            SymType::Int => 10,
            SymType::Hex => 16,
            _ => return,
        };
        let Some(p) = self.sym_get_range_prop(s) else {
            return;
        };
        let Some(Expr::Range(lo, hi)) = self.props[p.idx()].expr.map(|e| self.exprs.get(e)) else {
            return;
        };
        let val = strtoll(&self.syms[s.idx()].curr_val, base).0;
        let v2 = self.range_val(lo, base);
        let mut rs = lo;
        if val >= v2 {
            rs = hi;
            let v3 = self.range_val(hi, base);
            if val <= v3 {
                return;
            }
        }
        let nv = self.syms[rs.idx()].curr_val.clone();
        self.syms[s.idx()].curr_val = nv;
    }

    /// `sym_tristate_within_range`.
    pub fn sym_tristate_within_range(&self, s: SymId, val: Tri) -> bool {
        let ty = self.sym_get_type(s);
        let sym = &self.syms[s.idx()];
        if sym.visible == Tri::N {
            return false;
        }
        if ty != SymType::Bool && ty != SymType::Tristate {
            return false;
        }
        if ty == SymType::Bool && val == Tri::M {
            return false;
        }
        if sym.visible <= sym.rev_dep.tri {
            return false;
        }
        if self.dialect == Dialect::V6_1 && self.is_choice_value(s) && sym.visible == Tri::Y {
            return val == Tri::Y;
        }
        val >= sym.rev_dep.tri && val <= sym.visible
    }

    /// `sym_set_tristate_value`.
    pub fn sym_set_tristate_value(&mut self, s: SymId, val: Tri) -> bool {
        let old = self.syms[s.idx()].curr_tri;
        match self.dialect {
            Dialect::V6_12 => {
                if !self.sym_tristate_within_range(s, val) {
                    return false;
                }
                let sym = &mut self.syms[s.idx()];
                if !sym.has_value() || sym.def[S_DEF_USER].tri != val {
                    sym.def[S_DEF_USER].tri = val;
                    sym.flags |= flags::DEF_USER;
                }
            }
            Dialect::V6_1 => {
                if old != val && !self.sym_tristate_within_range(s, val) {
                    return false;
                }
                self.syms[s.idx()].flags |= flags::DEF_USER;
                if self.is_choice_value(s) && val == Tri::Y {
                    if let Some(cs) = self.choice_of(s) {
                        self.syms[cs.idx()].def[S_DEF_USER].choice = Some(s);
                        self.syms[cs.idx()].flags |= flags::DEF_USER;
                        for m in self.choice_list(cs) {
                            if self.syms[m.idx()].visible != Tri::N {
                                self.syms[m.idx()].flags |= flags::DEF_USER;
                            }
                        }
                    }
                }
                self.syms[s.idx()].def[S_DEF_USER].tri = val;
            }
        }
        if old != val {
            self.sym_clear_all_valid();
        }
        true
    }

    /// 6.12 `choice_set_value`: the user picks `sym` in `choice`.
    pub fn choice_set_value(&mut self, choice: MenuId, sym: SymId) {
        let mut changed = false;
        for m in self.sub_entries(choice) {
            let Some(s) = self.menus[m.idx()].sym else {
                continue;
            };
            if self.syms[s.idx()].visible == Tri::N {
                continue;
            }
            let v = if s == sym { Tri::Y } else { Tri::N };
            if self.syms[s.idx()].curr_tri != v {
                changed = true;
            }
            self.syms[s.idx()].def[S_DEF_USER].tri = v;
            self.syms[s.idx()].flags |= flags::DEF_USER;
            let members = self.choice_members_mut(choice);
            if let Some(i) = members.iter().position(|&x| x == s) {
                members.remove(i);
                members.insert(0, s);
            }
        }
        if changed {
            self.sym_clear_all_valid();
        }
    }

    /// `sym_string_valid`.
    pub fn sym_string_valid(&self, s: SymId, v: &str) -> bool {
        string_valid(self.syms[s.idx()].ty, v)
    }

    /// `sym_string_within_range`.
    pub fn sym_string_within_range(&mut self, s: SymId, v: &str) -> bool {
        let ty = self.syms[s.idx()].ty;
        match ty {
            SymType::String => string_valid(ty, v),
            SymType::Int | SymType::Hex => {
                if !string_valid(ty, v) {
                    return false;
                }
                let Some(p) = self.sym_get_range_prop(s) else {
                    return true;
                };
                let Some(Expr::Range(lo, hi)) = self.props[p.idx()].expr.map(|e| self.exprs.get(e))
                else {
                    return true;
                };
                let base = if ty == SymType::Int { 10 } else { 16 };
                let val = strtoll(v, base).0;
                val >= self.range_val(lo, base) && val <= self.range_val(hi, base)
            }
            SymType::Bool | SymType::Tristate => match v.as_bytes().first() {
                Some(b'y' | b'Y') => self.sym_tristate_within_range(s, Tri::Y),
                Some(b'm' | b'M') => self.sym_tristate_within_range(s, Tri::M),
                Some(b'n' | b'N') => self.sym_tristate_within_range(s, Tri::N),
                _ => false,
            },
            SymType::Unknown => false,
        }
    }

    /// `sym_set_string_value`.
    pub fn sym_set_string_value(&mut self, s: SymId, v: &str) -> bool {
        let ty = self.syms[s.idx()].ty;
        if ty.is_tristate_like() {
            return match v.as_bytes().first() {
                Some(b'y' | b'Y') => self.sym_set_tristate_value(s, Tri::Y),
                Some(b'm' | b'M') => self.sym_set_tristate_value(s, Tri::M),
                Some(b'n' | b'N') => self.sym_set_tristate_value(s, Tri::N),
                _ => false,
            };
        }
        if !self.sym_string_within_range(s, v) {
            return false;
        }
        let sym = &mut self.syms[s.idx()];
        sym.flags |= flags::DEF_USER;
        let nv: String = if ty == SymType::Hex && !(v.starts_with("0x") || v.starts_with("0X")) {
            format!("0x{v}")
        } else {
            v.to_string()
        };
        if sym.def[S_DEF_USER].val.as_deref() == Some(nv.as_str()) {
            return true;
        }
        sym.def[S_DEF_USER].val = Some(nv.into());
        self.sym_clear_all_valid();
        true
    }

    /// `sym_get_string_default`.
    pub fn sym_get_string_default(&mut self, s: SymId) -> String {
        self.sym_calc_visibility(s);
        let ms = self.modules_sym;
        self.sym_calc_value(ms);
        let mut val = Tri::N;
        let ty = self.syms[s.idx()].ty;
        let mut str_val: Arc<str> = "".into();
        if let Some(p) = self.sym_get_default_prop(s) {
            if ty.is_tristate_like() {
                let e = self.props[p.idx()].expr;
                val = self.expr_calc_value(e).and(self.prop_vis[p.idx()]);
            } else if let Some(ds) = self.prop_symbol(p) {
                self.sym_calc_value(ds);
                str_val = self.syms[ds.idx()].curr_val.clone();
            }
        }
        val = val.or(self.syms[s.idx()].rev_dep.tri);
        if val == Tri::M && !self.is_choice_value(s) && self.syms[ms.idx()].curr_tri == Tri::N {
            val = Tri::Y;
        }
        if ty == SymType::Bool && val == Tri::M {
            val = Tri::Y;
        }
        if val < self.syms[s.idx()].implied.tri {
            val = self.syms[s.idx()].implied.tri;
        }
        match ty {
            SymType::Bool | SymType::Tristate => val.as_str().to_string(),
            SymType::Int if self.dialect == Dialect::V6_12 && str_val.is_empty() => "0".into(),
            SymType::Hex if self.dialect == Dialect::V6_12 && str_val.is_empty() => "0x0".into(),
            SymType::Unknown => String::new(),
            _ => str_val.to_string(),
        }
    }

    /// `sym_is_changeable`.
    pub fn sym_is_changeable(&self, s: SymId) -> bool {
        let sym = &self.syms[s.idx()];
        if self.dialect == Dialect::V6_12 && self.is_choice(s) {
            return false;
        }
        sym.visible > sym.rev_dep.tri
    }
}

/// `strtoll`/`strtoull` as the C code uses them: optional leading blanks
/// and sign, an optional `0x` prefix in base 16 (or 0, which also takes
/// a leading `0` as octal), digits up to the first invalid character.
/// Returns the value and the number of bytes consumed (0 if none).
pub fn strtoll(s: &str, base: u32) -> (i64, usize) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i] == b' ' || (b'\t'..=b'\r').contains(&b[i])) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut base = base;
    if (base == 16 || base == 0)
        && i + 1 < b.len()
        && b[i] == b'0'
        && (b[i + 1] | 0x20) == b'x'
        && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if i < b.len() && b[i] == b'0' { 8 } else { 10 };
    }
    let start = i;
    let mut v: i128 = 0;
    let mut overflow = false;
    while i < b.len() {
        let d = match (b[i] as char).to_digit(base) {
            Some(d) => d,
            None => break,
        };
        v = v * base as i128 + d as i128;
        if v > u64::MAX as i128 {
            overflow = true;
            v = u64::MAX as i128;
        }
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    let r = if neg { -v } else { v };
    let r = if overflow || r > i64::MAX as i128 {
        i64::MAX
    } else if r < i64::MIN as i128 {
        i64::MIN
    } else {
        r as i64
    };
    (r, i)
}

/// `sym_string_valid` for a type.
pub fn string_valid(ty: SymType, v: &str) -> bool {
    let b = v.as_bytes();
    match ty {
        SymType::String => true,
        SymType::Int => {
            let mut i = 0;
            if b.first() == Some(&b'-') {
                i = 1;
            }
            let Some(&c) = b.get(i) else { return false };
            if !c.is_ascii_digit() {
                return false;
            }
            if c == b'0' && b.len() > i + 1 {
                return false;
            }
            b[i..].iter().all(|c| c.is_ascii_digit())
        }
        SymType::Hex => {
            let mut i = 0;
            if b.len() >= 2 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X') {
                i = 2;
            }
            // The C loop checks the first character even when it is the
            // terminating NUL: an empty digit string is invalid.
            let Some(&c) = b.get(i) else { return false };
            c.is_ascii_hexdigit() && b[i..].iter().all(|c| c.is_ascii_hexdigit())
        }
        SymType::Bool | SymType::Tristate => {
            matches!(b.first(), Some(b'y' | b'Y' | b'm' | b'M' | b'n' | b'N'))
        }
        SymType::Unknown => false,
    }
}

#[derive(PartialEq)]
enum Kind {
    Str,
    Signed(i64),
    Unsigned(u64),
}

/// `expr_parse_string`.
fn parse_kind(s: &str, ty: SymType) -> Kind {
    match ty {
        SymType::Bool | SymType::Tristate => {
            return Kind::Signed(match s {
                "n" => 0,
                "m" => 1,
                "y" => 2,
                _ => -1,
            })
        }
        _ => {}
    }
    let (base, unsigned) = match ty {
        SymType::Int => (10, false),
        SymType::Hex => (16, true),
        _ => (0, false),
    };
    let (v, used) = if unsigned {
        strtoull(s)
    } else {
        strtoll(s, base)
    };
    let b = s.as_bytes();
    // !errno && !*tail && tail > str && isxdigit(tail[-1])
    if used == 0
        || used != b.len()
        || !b[used - 1].is_ascii_hexdigit()
        || overflowed(s, base, unsigned)
    {
        return Kind::Str;
    }
    if unsigned {
        Kind::Unsigned(v as u64)
    } else {
        Kind::Signed(v)
    }
}

fn strtoull(s: &str) -> (i64, usize) {
    // Only the bit pattern matters for comparisons of unsigned values.
    let (neg, body) = match s.trim_start().strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.trim_start()),
    };
    let lead = s.len() - s.trim_start().len() + usize::from(neg);
    let t = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X"));
    let (digits, pre) = match t {
        Some(d) if d.as_bytes().first().is_some_and(|c| c.is_ascii_hexdigit()) => (d, 2),
        _ => (body, 0),
    };
    let n = digits.bytes().take_while(|c| c.is_ascii_hexdigit()).count();
    if n == 0 {
        return (0, 0);
    }
    let v = u64::from_str_radix(&digits[..n], 16).unwrap_or(u64::MAX);
    let v = if neg { v.wrapping_neg() } else { v };
    (v as i64, lead + pre + n)
}

fn overflowed(s: &str, base: u32, unsigned: bool) -> bool {
    let t = s.trim_start();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (radix, digits) = if base == 16 || unsigned {
        (
            16,
            t.strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .unwrap_or(t),
        )
    } else if base == 0 {
        if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            (16, h)
        } else if t.starts_with('0') && t.len() > 1 {
            (8, &t[1..])
        } else {
            (10, t)
        }
    } else {
        (10, t)
    };
    let n = digits.chars().take_while(|c| c.is_digit(radix)).count();
    if n == 0 {
        return false;
    }
    match u128::from_str_radix(&digits[..n], radix) {
        Ok(v) => {
            if unsigned {
                v > u64::MAX as u128
            } else if neg {
                v > (i64::MAX as u128) + 1
            } else {
                v > i64::MAX as u128
            }
        }
        Err(_) => true,
    }
}

/// Compares two symbol values as `expr_calc_value` does: numerically when
/// both parse as numbers of their types, else as strings.
fn compare_values(s1: &str, t1: SymType, s2: &str, t2: SymType) -> i32 {
    let (k1, k2) = if t1 != SymType::String || t2 != SymType::String {
        (parse_kind(s1, t1), parse_kind(s2, t2))
    } else {
        (Kind::Str, Kind::Str)
    };
    let ord = match (&k1, &k2) {
        (Kind::Str, _) | (_, Kind::Str) => s1.as_bytes().cmp(s2.as_bytes()),
        (Kind::Unsigned(_), _) | (_, Kind::Unsigned(_)) => {
            let u = |k: &Kind| match k {
                Kind::Unsigned(u) => *u,
                Kind::Signed(s) => *s as u64,
                Kind::Str => 0,
            };
            u(&k1).cmp(&u(&k2))
        }
        (Kind::Signed(a), Kind::Signed(b)) => a.cmp(b),
    };
    ord as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_follow_the_symbol_types() {
        assert_eq!(compare_values("10", SymType::Int, "9", SymType::Unknown), 1);
        assert_eq!(
            compare_values("0x10", SymType::Hex, "16", SymType::Unknown),
            0
        );
        assert_eq!(
            compare_values("abc", SymType::String, "abd", SymType::String),
            -1
        );
        assert_eq!(compare_values("y", SymType::Bool, "m", SymType::Unknown), 1);
    }

    #[test]
    fn int_and_hex_validity() {
        assert!(string_valid(SymType::Int, "-12"));
        assert!(!string_valid(SymType::Int, "012"));
        assert!(!string_valid(SymType::Int, ""));
        assert!(string_valid(SymType::Hex, "0xfF"));
        assert!(!string_valid(SymType::Hex, "0x"));
    }

    #[test]
    fn strtoll_stops_at_the_first_bad_digit() {
        assert_eq!(strtoll("12ab", 10), (12, 2));
        assert_eq!(strtoll("0x1f", 16), (31, 4));
        assert_eq!(strtoll("zz", 10), (0, 0));
    }
}
