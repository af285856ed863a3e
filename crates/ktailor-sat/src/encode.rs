//! The encoding: Kconfig's value rules for bool and tristate options as
//! clauses, built lazily, one option at a time.
//!
//! A tristate is two literals (`TV`): `a` says "at least m", `b` says "y";
//! every pair keeps `b → a`, so n is `(0,0)`, m `(1,0)`, y `(1,1)`. The
//! value rules then become gates: `&&` is the minimum, so `a` and `b` are
//! each the conjunction of the operands' `a` and `b`; `||` is the maximum
//! (disjunctions); `!x` is `2 - x`, which swaps the roles: `a = ¬x.b`,
//! `b = ¬x.a`. Comparisons of two tristates (`A = B`, `A != y`) compare
//! both literals.
//!
//! Every option in a tree has value literals the first time an encoded
//! expression mentions it (the *frontier*). An option is *opened* when its
//! own rule is added, as `sym_calc_value` computes it:
//!
//! ```text
//! vis  = max over its prompts of the prompt's condition (m lifts to y
//!        for a bool, or for any option while MODULES is off)
//! dp   = first default whose condition is not n: value && condition;
//!        if imply gives more than n: (dp || implied) && depends on
//! up   = user value && vis                  (the user value is free)
//! val  = (vis != n and a user value is used ? up : dp) || selected-by
//!        (m lifts to y for a bool, or while MODULES is off)
//! ```
//!
//! The user value and whether it is used are free variables: a plan may
//! write any value for any option, so the encoding allows every value the
//! engine could compute for some .config. That makes it an
//! over-approximation of what a .config can reach; whatever it claims
//! impossible is impossible, and a plan it finds is still checked by the
//! exact engine. The rule of each opened option hangs on one activation
//! literal, so an unsatisfiable core names the options whose Kconfig rules
//! take part in a conflict.
//!
//! Choices: a member can be y only while visible; while any member is
//! visible exactly one is y (6.12 `sym_calc_choice`). Values the encoding
//! does not model — int, hex and string options, comparisons that involve
//! them, 6.1 choices in m mode — stay at their current value under a
//! *frozen* literal: an assumption, so a conflict that needs one is
//! reported as unproven rather than impossible.
//!
//! Not here: which options to open, minimising, and the engine's check
//! (`search`).

use batsat::{lbool, BasicSolver, Lit, SolverInterface};
use ktailor_kconfig::expr::Expr;
use ktailor_kconfig::{flags, CmpOp, Dialect, ExprId, Kconfig, PropType, SymId, SymType, Tri};
use rustc_hash::FxHashMap;

/// A tristate as two literals: `a` is "at least m", `b` is "y" (`b → a`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TV {
    pub a: Lit,
    pub b: Lit,
}

/// A value held at its current value by an assumption, and what it is.
#[derive(Clone, Debug)]
pub struct Frozen {
    pub lit: Lit,
    pub what: String,
}

/// What opening an option encoded about it (for reading models).
#[derive(Clone, Copy, Debug)]
pub struct Opened {
    pub act: Lit,
    /// Its visibility (lifted as `sym_calc_visibility` does).
    pub vis: TV,
    /// Its selected-by (reverse dependency) value.
    pub rev: TV,
    /// Its user value and whether one is used (plain options only).
    pub input: Option<(TV, Lit)>,
}

/// The clause database for one tree's current configuration.
pub struct Encoder<'k> {
    pub k: &'k mut Kconfig,
    pub(crate) s: BasicSolver,
    t: Lit,
    vals: FxHashMap<SymId, TV>,
    keeps: FxHashMap<SymId, Lit>,
    opened: FxHashMap<SymId, Opened>,
    memo: FxHashMap<ExprId, TV>,
    pub frozen: Vec<Frozen>,
    /// Options in the order their value literals were made.
    pub order: Vec<SymId>,
}

/// Whether `s` is an option the encoding gives free values: a bool or
/// tristate that is neither a constant nor a choice itself.
pub fn is_variable(k: &Kconfig, s: SymId) -> bool {
    let sym = k.sym(s);
    s.idx() >= 3
        && sym.flags & flags::CONST == 0
        && matches!(sym.ty, SymType::Bool | SymType::Tristate)
}

impl<'k> Encoder<'k> {
    /// An empty encoding over `k`, whose values (all computed) are the
    /// current configuration.
    pub fn new(k: &'k mut Kconfig) -> Self {
        let mut s = BasicSolver::default();
        let t = Lit::new(s.new_var(lbool::TRUE, true), true);
        s.add_clause_reuse(&mut vec![t]);
        let mut e = Encoder {
            k,
            s,
            t,
            vals: FxHashMap::default(),
            keeps: FxHashMap::default(),
            opened: FxHashMap::default(),
            memo: FxHashMap::default(),
            frozen: Vec::new(),
            order: Vec::new(),
        };
        // MODULES decides how m behaves everywhere; always encode it.
        let ms = e.k.modules_sym;
        e.value(ms);
        e
    }

    pub fn tru(&self) -> Lit {
        self.t
    }

    pub fn konst(&self, v: Tri) -> TV {
        let (t, f) = (self.t, !self.t);
        match v {
            Tri::N => TV { a: f, b: f },
            Tri::M => TV { a: t, b: f },
            Tri::Y => TV { a: t, b: t },
        }
    }

    pub fn fresh(&mut self, pol: lbool) -> Lit {
        Lit::new(self.s.new_var(pol, true), true)
    }

    /// Adds a clause, dropping false literals and skipping true ones.
    pub fn clause(&mut self, lits: &[Lit]) {
        if lits.contains(&self.t) {
            return;
        }
        let mut c: Vec<Lit> = lits.iter().copied().filter(|l| *l != !self.t).collect();
        self.s.add_clause_reuse(&mut c);
    }

    pub fn and(&mut self, x: Lit, y: Lit) -> Lit {
        let (t, f) = (self.t, !self.t);
        if x == f || y == f || x == !y {
            return f;
        }
        if x == t || x == y {
            return y;
        }
        if y == t {
            return x;
        }
        let z = self.fresh(lbool::UNDEF);
        self.clause(&[!z, x]);
        self.clause(&[!z, y]);
        self.clause(&[z, !x, !y]);
        z
    }

    pub fn or(&mut self, x: Lit, y: Lit) -> Lit {
        !self.and(!x, !y)
    }

    /// `c ? x : y`.
    pub fn ite(&mut self, c: Lit, x: Lit, y: Lit) -> Lit {
        if x == y {
            return x;
        }
        let l = self.and(c, x);
        let r = self.and(!c, y);
        self.or(l, r)
    }

    /// `x ↔ y`.
    pub fn iff(&mut self, x: Lit, y: Lit) -> Lit {
        let both = self.and(x, y);
        let neither = self.and(!x, !y);
        self.or(both, neither)
    }

    pub fn tand(&mut self, x: TV, y: TV) -> TV {
        TV {
            a: self.and(x.a, y.a),
            b: self.and(x.b, y.b),
        }
    }

    pub fn tor(&mut self, x: TV, y: TV) -> TV {
        TV {
            a: self.or(x.a, y.a),
            b: self.or(x.b, y.b),
        }
    }

    pub fn tnot(x: TV) -> TV {
        TV { a: !x.b, b: !x.a }
    }

    pub fn tite(&mut self, c: Lit, x: TV, y: TV) -> TV {
        TV {
            a: self.ite(c, x.a, y.a),
            b: self.ite(c, x.b, y.b),
        }
    }

    /// m becomes y where `lift` holds (a bool, or modules off).
    fn lift(&mut self, x: TV, lift: Lit) -> TV {
        let up = self.and(x.a, lift);
        TV {
            a: x.a,
            b: self.or(x.b, up),
        }
    }

    /// A literal that holds exactly when `x` is `v`.
    pub fn is(&mut self, x: TV, v: Tri) -> Lit {
        match v {
            Tri::Y => x.b,
            Tri::M => self.and(x.a, !x.b),
            Tri::N => !x.a,
        }
    }

    /// The current value of `s`, computed if the tree has not computed it
    /// yet (the current configuration may be read with its values
    /// computed as asked for).
    pub fn cur(&mut self, s: SymId) -> Tri {
        self.k.sym_calc_value(s);
        self.k.sym(s).curr_tri
    }

    /// Whether a prompt of `s` is visible now (computed as `cur`).
    pub fn shown_now(&mut self, s: SymId) -> bool {
        self.k.sym_calc_value(s);
        self.k.sym(s).visible != Tri::N
    }

    /// The value literals of `s`: made on first use (the frontier), a
    /// constant for options the encoding does not vary.
    pub fn value(&mut self, s: SymId) -> TV {
        match s {
            SymId::YES => return self.konst(Tri::Y),
            SymId::MOD => return self.konst(Tri::M),
            SymId::NO => return self.konst(Tri::N),
            _ => {}
        }
        if let Some(v) = self.vals.get(&s) {
            return *v;
        }
        if !is_variable(self.k, s) {
            let c = self.cur(s);
            return self.konst(c);
        }
        let cur = self.cur(s);
        let pol = |on: bool| if on { lbool::TRUE } else { lbool::FALSE };
        let a = self.fresh(pol(cur != Tri::N));
        let b = self.fresh(pol(cur == Tri::Y));
        self.clause(&[!b, a]);
        if self.k.sym(s).ty == SymType::Bool || self.k.is_choice(s) {
            // A bool is never m (`sym_calc_value` lifts m to y).
            self.clause(&[!a, b]);
        }
        let v = TV { a, b };
        self.vals.insert(s, v);
        self.order.push(s);
        v
    }

    /// Whether `s` has value literals.
    pub fn has_value(&self, s: SymId) -> bool {
        self.vals.contains_key(&s)
    }

    /// A literal for "`s` keeps its current value".
    pub fn keep(&mut self, s: SymId) -> Lit {
        if let Some(l) = self.keeps.get(&s) {
            return *l;
        }
        let v = self.value(s);
        let c = self.cur(s);
        let l = self.is(v, c);
        self.keeps.insert(s, l);
        l
    }

    pub fn opened(&self, s: SymId) -> Option<Opened> {
        self.opened.get(&s).copied()
    }

    pub fn opened_syms(&self) -> impl Iterator<Item = SymId> + '_ {
        self.order
            .iter()
            .copied()
            .filter(|s| self.opened.contains_key(s))
    }

    fn freeze(&mut self, what: String) -> Lit {
        let lit = self.fresh(lbool::UNDEF);
        self.frozen.push(Frozen { lit, what });
        lit
    }

    /// MODULES' value as a literal (y or n: it is a bool).
    fn modules_on(&mut self) -> Lit {
        let ms = self.k.modules_sym;
        self.value(ms).b
    }

    /// "m lifts to y" for `s`: it is a bool, or modules are off
    /// (`sym_get_type` reads a tristate as a bool then).
    fn lifts(&mut self, s: SymId) -> Lit {
        if self.k.sym(s).ty == SymType::Tristate {
            !self.modules_on()
        } else {
            self.t
        }
    }

    /// The value of an expression; `None` is `absent`.
    pub fn expr(&mut self, e: Option<ExprId>, absent: Tri) -> TV {
        let Some(e) = e else {
            return self.konst(absent);
        };
        if let Some(v) = self.memo.get(&e) {
            return *v;
        }
        let v = match self.k.exprs.get(e) {
            Expr::Sym(s) => self.value(s),
            Expr::Not(x) => Self::tnot(self.expr(Some(x), Tri::Y)),
            Expr::And(x, y) => {
                let (x, y) = (self.expr(Some(x), Tri::Y), self.expr(Some(y), Tri::Y));
                self.tand(x, y)
            }
            Expr::Or(x, y) => {
                let (x, y) = (self.expr(Some(x), Tri::Y), self.expr(Some(y), Tri::Y));
                self.tor(x, y)
            }
            Expr::Cmp(op, x, y) => self.compare(e, op, x, y),
            Expr::Range(..) => self.konst(Tri::N),
        };
        self.memo.insert(e, v);
        v
    }

    fn tri_operand(&mut self, s: SymId) -> Option<TV> {
        if s.idx() < 3 || is_variable(self.k, s) {
            Some(self.value(s))
        } else {
            None
        }
    }

    /// `A = B`, `A != B`: exact for tristates and the constants y, m, n;
    /// anything else (int/hex/string values, ordering) keeps its current
    /// truth under a frozen literal.
    fn compare(&mut self, e: ExprId, op: CmpOp, x: SymId, y: SymId) -> TV {
        if matches!(op, CmpOp::Eq | CmpOp::Ne) {
            if let (Some(l), Some(r)) = (self.tri_operand(x), self.tri_operand(y)) {
                let ea = self.iff(l.a, r.a);
                let eb = self.iff(l.b, r.b);
                let eq = self.and(ea, eb);
                let res = if op == CmpOp::Eq { eq } else { !eq };
                return TV { a: res, b: res };
            }
        }
        let now = self.k.expr_calc_value(Some(e));
        let fixed = [x, y]
            .iter()
            .all(|s| s.idx() < 3 || self.k.sym(*s).flags & flags::CONST != 0);
        if fixed {
            return self.konst(now);
        }
        let text = self.k.expr_to_string(Some(e));
        let f = self.freeze(format!(
            "`{text}` stays {} (int, hex and string values are not changed by the resolver)",
            now.as_str()
        ));
        let r = self.fresh(lbool::UNDEF);
        self.clause(&[!f, if now != Tri::N { r } else { !r }]);
        TV { a: r, b: r }
    }

    /// Visibility of `s` as `sym_calc_visibility` computes it: the largest
    /// prompt condition, m lifted to y for a bool or while modules are off.
    fn visibility(&mut self, s: SymId) -> TV {
        let mut vis = self.konst(Tri::N);
        let props = self.k.sym(s).props.clone();
        for &p in props.iter() {
            let prop = self.k.prop(p);
            if prop.text.is_none() {
                continue;
            }
            let c = prop.visible;
            let v = self.expr(c, Tri::Y);
            vis = self.tor(vis, v);
        }
        let l = self.lifts(s);
        self.lift(vis, l)
    }

    /// Requires `x ↔ y` under `guard`.
    fn equal_under(&mut self, guard: &[Lit], x: Lit, y: Lit) {
        let mut c1: Vec<Lit> = guard.iter().map(|g| !*g).collect();
        let mut c2 = c1.clone();
        c1.extend([!x, y]);
        c2.extend([x, !y]);
        self.clause(&c1);
        self.clause(&c2);
    }

    /// Adds the rule of `s` (and, for a choice member, of its whole
    /// choice). Returns the activation literal; `None` for options the
    /// encoding does not vary.
    pub fn open(&mut self, s: SymId) -> Option<Lit> {
        if let Some(o) = self.opened.get(&s) {
            return Some(o.act);
        }
        if !is_variable(self.k, s) {
            return None;
        }
        if self.k.is_choice(s) {
            return Some(self.open_frozen_choice(s));
        }
        match self.k.dialect {
            Dialect::V6_12 => {
                if let Some(cm) = self.k.sym_get_choice_menu(s) {
                    let members = self.k.choice_members(cm).to_vec();
                    return Some(self.open_choice(s, &members, None));
                }
            }
            Dialect::V6_1 => {
                if self.k.is_choice_value(s) {
                    if let Some(c) = self.k.choice_of(s) {
                        let members = self.k.choice_list(c);
                        if self.cur(c) == Tri::Y {
                            let f = self.freeze(format!(
                                "the choice holding CONFIG_{} stays y (6.1 choices in m mode are not modelled)",
                                self.k.sym_name(s)
                            ));
                            return Some(self.open_choice(s, &members, Some(f)));
                        }
                        return Some(self.open_frozen_members(s, &members));
                    }
                }
            }
        }
        Some(self.open_plain(s))
    }

    fn open_plain(&mut self, s: SymId) -> Lit {
        let act = self.fresh(lbool::UNDEF);
        let v = self.value(s);
        let vis = self.visibility(s);
        let lift = self.lifts(s);
        let sym = self.k.sym(s).clone();
        let dd = self.expr(sym.dir_dep.expr, Tri::Y);
        let dd = self.lift(dd, lift);
        let rev = self.expr(sym.rev_dep.expr, Tri::N);
        let rev = self.lift(rev, lift);
        let imp = self.expr(sym.implied.expr, Tri::N);
        let imp = self.lift(imp, lift);
        // The first default whose condition is not n (`sym_get_default_prop`).
        let mut def = self.konst(Tri::N);
        for &p in sym.props.iter().rev() {
            let prop = self.k.prop(p);
            if prop.ty != PropType::Default {
                continue;
            }
            let (ce, ve) = (prop.visible, prop.expr);
            let c = self.expr(ce, Tri::Y);
            let val = self.expr(ve, Tri::Y);
            let here = self.tand(val, c);
            def = self.tite(c.a, here, def);
        }
        let with_imp = self.tor(def, imp);
        let with_imp = self.tand(with_imp, dd);
        let dp = self.tite(imp.a, with_imp, def);
        // The current user value, if the configuration has one, is tried
        // first.
        let sym_ty = self.k.sym(s).ty;
        let (had, was) = {
            let sym = self.k.sym(s);
            (sym.has_value(), sym.def[ktailor_kconfig::S_DEF_USER].tri)
        };
        let pol = |on: bool| if on { lbool::TRUE } else { lbool::FALSE };
        let user = TV {
            a: self.fresh(pol(had && was != Tri::N)),
            b: self.fresh(pol(had && was == Tri::Y)),
        };
        self.clause(&[!user.b, user.a]);
        if sym_ty == SymType::Bool {
            // A bool takes no m (conf rejects it in a .config).
            self.clause(&[!user.a, user.b]);
        }
        let used = self.fresh(pol(had));
        let up = self.tand(user, vis);
        let take_user = self.and(vis.a, used);
        let pre = self.tite(take_user, up, dp);
        let val = self.tor(pre, rev);
        let val = self.lift(val, lift);
        self.equal_under(&[act], v.a, val.a);
        self.equal_under(&[act], v.b, val.b);
        self.opened.insert(
            s,
            Opened {
                act,
                vis,
                rev,
                input: Some((user, used)),
            },
        );
        act
    }

    /// Records `s` as opened under `act` with no user input of its own
    /// (choices and values held by a frozen literal).
    fn mark_opened(&mut self, s: SymId, act: Lit, vis: TV) {
        let rev = self.konst(Tri::N);
        let input = None;
        self.opened.insert(
            s,
            Opened {
                act,
                vis,
                rev,
                input,
            },
        );
    }

    /// `s` keeps its value under `act` and the frozen literal `f`.
    fn hold(&mut self, s: SymId, act: Lit, f: Lit) {
        let k = self.keep(s);
        self.clause(&[!act, !f, k]);
        let vis = self.visibility(s);
        self.mark_opened(s, act, vis);
    }

    /// A choice: a member is y only while visible; while any member is
    /// visible, exactly one is y. `frozen` guards the rule too (6.1).
    fn open_choice(&mut self, s: SymId, members: &[SymId], frozen: Option<Lit>) -> Lit {
        let act = self.fresh(lbool::UNDEF);
        let mut guard = vec![act];
        guard.extend(frozen);
        let neg: Vec<Lit> = guard.iter().map(|g| !*g).collect();
        let mut vals = Vec::new();
        let mut viss = Vec::new();
        for &m in members {
            if !is_variable(self.k, m) {
                continue;
            }
            let v = self.value(m);
            let vis = self.visibility(m);
            let mut c = neg.clone();
            c.extend([!v.a, vis.a]);
            self.clause(&c);
            let mut c = neg.clone();
            c.extend([!v.a, v.b]);
            self.clause(&c);
            vals.push(v);
            viss.push(vis);
            self.mark_opened(m, act, vis);
        }
        for i in 0..vals.len() {
            for j in i + 1..vals.len() {
                let mut c = neg.clone();
                c.extend([!vals[i].a, !vals[j].a]);
                self.clause(&c);
            }
        }
        for vis in &viss {
            let mut c = neg.clone();
            c.push(!vis.a);
            c.extend(vals.iter().map(|v| v.a));
            self.clause(&c);
        }
        if !self.opened.contains_key(&s) {
            let vis = self.visibility(s);
            self.mark_opened(s, act, vis);
        }
        act
    }

    /// 6.1 members of a choice that is not y: their values stay.
    fn open_frozen_members(&mut self, s: SymId, members: &[SymId]) -> Lit {
        let act = self.fresh(lbool::UNDEF);
        let f = self.freeze(format!(
            "the members of the choice holding CONFIG_{} keep their values (6.1 choices in m mode are not modelled)",
            self.k.sym_name(s)
        ));
        for &m in members {
            if is_variable(self.k, m) {
                self.hold(m, act, f);
            }
        }
        act
    }

    /// A (6.1, named) choice symbol used in an expression keeps its value.
    fn open_frozen_choice(&mut self, s: SymId) -> Lit {
        let act = self.fresh(lbool::UNDEF);
        let f = self.freeze(format!("the choice {} keeps its value", self.k.sym_name(s)));
        self.hold(s, act, f);
        act
    }

    /// The visibility of any option (for requests of int/hex/string
    /// values, which need the prompt shown).
    pub fn visible(&mut self, s: SymId) -> TV {
        match self.opened.get(&s) {
            Some(o) => o.vis,
            None => self.visibility(s),
        }
    }

    /// Solves under assumptions: `Some(true)` satisfiable, `Some(false)`
    /// not, `None` undecided.
    pub fn solve(&mut self, assumptions: &[Lit]) -> Option<bool> {
        let r = self.s.solve_limited(assumptions);
        if r == lbool::TRUE {
            Some(true)
        } else if r == lbool::FALSE {
            Some(false)
        } else {
            None
        }
    }

    /// The assumptions of the last unsatisfiable call that took part.
    pub fn core(&self) -> Vec<Lit> {
        // The solver states the core as a clause: the assumptions negated.
        self.s.unsat_core().iter().map(|l| !*l).collect()
    }

    pub fn lit_true(&self, l: Lit) -> bool {
        self.s.value_lit(l) == lbool::TRUE
    }

    /// A tristate's value in the last model.
    pub fn model(&self, v: TV) -> Tri {
        if self.lit_true(v.b) {
            Tri::Y
        } else if self.lit_true(v.a) {
            Tri::M
        } else {
            Tri::N
        }
    }

    /// The value of `s` in the last model (its current value when the
    /// encoding never mentioned it).
    pub fn model_of(&mut self, s: SymId) -> Tri {
        match self.vals.get(&s) {
            Some(v) => self.model(*v),
            None => self.cur(s),
        }
    }

    /// Requires at most `bound` of `lits` to hold, under `guard`
    /// (a sequential counter).
    pub fn at_most(&mut self, lits: &[Lit], bound: usize, guard: Lit) {
        if bound >= lits.len() {
            return;
        }
        if bound == 0 {
            for &l in lits {
                self.clause(&[!guard, !l]);
            }
            return;
        }
        // r[i][j]: among the first i+1 literals, at least j+1 hold.
        let mut prev: Vec<Lit> = Vec::new();
        for (i, &x) in lits.iter().enumerate() {
            let mut row = Vec::with_capacity(bound);
            for j in 0..bound {
                let r = self.fresh(lbool::UNDEF);
                // x → r[i][0]; r[i-1][j] → r[i][j]; x ∧ r[i-1][j-1] → r[i][j]
                if j == 0 {
                    self.clause(&[!x, r]);
                }
                if let Some(&p) = prev.get(j) {
                    self.clause(&[!p, r]);
                }
                if j > 0 {
                    if let Some(&p) = prev.get(j - 1) {
                        self.clause(&[!x, !p, r]);
                    }
                }
                row.push(r);
            }
            // x ∧ r[i-1][bound-1] is one too many.
            if let Some(&p) = prev.get(bound - 1) {
                self.clause(&[!guard, !x, !p]);
            }
            let _ = i;
            prev = row;
        }
    }
}
