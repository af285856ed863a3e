//! Kconfig expressions: a hash-consed arena, tristate logic and the
//! structural rewrites `menu_finalize` applies to dependencies.
//!
//! Kconfig logic is three-valued: `n` = 0, `m` = 1, `y` = 2. `A && B` is the
//! minimum, `A || B` the maximum and `!A` is `2 - A` (so `!m` is `m`).
//! Comparisons (`=`, `!=`, `<`, ...) are always `n` or `y`: they compare the
//! string values of two symbols, numerically when both parse as numbers of
//! their symbol's type, else as strings (mirrors `expr_calc_value`).
//!
//! Expressions are interned: building the same node twice yields the same
//! [`ExprId`], as scripts/kconfig/expr.c does since 6.10 (`expr_lookup`). That
//! makes structural equality an id comparison and lets evaluation be
//! memoised per node. This module is not the evaluator of symbol values
//! (see `symbol.rs`); it only knows how to combine tristates.

use rustc_hash::FxHashMap as HashMap;

use crate::SymId;

/// A tristate value. The numeric order is the Kconfig order `n < m < y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Tri {
    #[default]
    N = 0,
    M = 1,
    Y = 2,
}

impl Tri {
    /// `&&`: the minimum of both sides.
    pub fn and(self, o: Tri) -> Tri {
        self.min(o)
    }
    /// `||`: the maximum of both sides.
    pub fn or(self, o: Tri) -> Tri {
        self.max(o)
    }
    /// `!`: `2 - x`, so `!m` stays `m`.
    #[allow(clippy::should_implement_trait)] // reason: mirrors EXPR_NOT, reads better than `!t` on an enum
    pub fn not(self) -> Tri {
        match self {
            Tri::N => Tri::Y,
            Tri::M => Tri::M,
            Tri::Y => Tri::N,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Tri::N => "n",
            Tri::M => "m",
            Tri::Y => "y",
        }
    }
    pub fn as_char(self) -> char {
        match self {
            Tri::N => 'n',
            Tri::M => 'm',
            Tri::Y => 'y',
        }
    }
}

/// Comparison operators between two symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// An expression id in the [`Exprs`] arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

/// One expression node. Leaves reference symbols by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    Sym(SymId),
    Not(ExprId),
    And(ExprId, ExprId),
    Or(ExprId, ExprId),
    Cmp(CmpOp, SymId, SymId),
    /// `range A B`: only appears as the expression of a range property.
    Range(SymId, SymId),
}

/// Precedence classes used when printing, as `expr_compare_type` orders them.
fn prec(e: &Expr) -> u8 {
    match e {
        Expr::Or(..) => 1,
        Expr::And(..) => 2,
        Expr::Not(..) => 3,
        Expr::Cmp(CmpOp::Eq | CmpOp::Ne, ..) => 4,
        Expr::Cmp(..) => 5,
        Expr::Sym(_) | Expr::Range(..) => 6,
    }
}

/// The interning arena of expressions.
#[derive(Default, Clone)]
pub struct Exprs {
    nodes: Vec<Expr>,
    map: HashMap<Expr, ExprId>,
    /// Memoised results of the pure rewrites below, valid while symbol
    /// types do not change (cleared by [`Exprs::clear_memo`]).
    memo_transform: HashMap<ExprId, ExprId>,
    memo_dups: HashMap<ExprId, ExprId>,
    /// `expr_eliminate_dups` as Linux 6.1 has it (y/n are only eliminated
    /// after a pass that joined something) instead of 6.12's.
    pub dups_61: bool,
}

impl Exprs {
    /// Builds an arena from nodes (a snapshot); the index is rebuilt lazily.
    pub fn from_nodes(nodes: Vec<Expr>) -> Exprs {
        Exprs {
            nodes,
            ..Exprs::default()
        }
    }

    /// All nodes, in id order.
    pub fn nodes(&self) -> &[Expr] {
        &self.nodes
    }

    /// Forgets memoised rewrites (after a symbol's type changed).
    pub fn clear_memo(&mut self) {
        self.memo_transform.clear();
        self.memo_dups.clear();
    }

    pub fn get(&self, id: ExprId) -> Expr {
        self.nodes[id.0 as usize]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Interns `e` (mirrors `expr_lookup`).
    pub fn intern(&mut self, e: Expr) -> ExprId {
        if self.map.len() != self.nodes.len() {
            // Loaded from a snapshot: rebuild the index on first use.
            self.map = self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (*n, ExprId(i as u32)))
                .collect();
        }
        if let Some(&id) = self.map.get(&e) {
            return id;
        }
        let id = ExprId(self.nodes.len() as u32);
        self.nodes.push(e);
        self.map.insert(e, id);
        id
    }

    pub fn sym(&mut self, s: SymId) -> ExprId {
        self.intern(Expr::Sym(s))
    }
    pub fn not(&mut self, e: ExprId) -> ExprId {
        self.intern(Expr::Not(e))
    }
    pub fn two_and(&mut self, a: ExprId, b: ExprId) -> ExprId {
        self.intern(Expr::And(a, b))
    }
    pub fn two_or(&mut self, a: ExprId, b: ExprId) -> ExprId {
        self.intern(Expr::Or(a, b))
    }
    pub fn cmp(&mut self, op: CmpOp, a: SymId, b: SymId) -> ExprId {
        self.intern(Expr::Cmp(op, a, b))
    }

    /// `expr_alloc_and`: a missing side is `y`.
    pub fn and(&mut self, a: Option<ExprId>, b: Option<ExprId>) -> Option<ExprId> {
        match (a, b) {
            (None, b) => b,
            (a, None) => a,
            (Some(a), Some(b)) => Some(self.two_and(a, b)),
        }
    }

    /// `expr_alloc_or`: a missing side is ignored.
    pub fn or(&mut self, a: Option<ExprId>, b: Option<ExprId>) -> Option<ExprId> {
        match (a, b) {
            (None, b) => b,
            (a, None) => a,
            (Some(a), Some(b)) => Some(self.two_or(a, b)),
        }
    }

    fn is_sym(&self, e: ExprId, s: SymId) -> bool {
        matches!(self.get(e), Expr::Sym(x) if x == s)
    }

    /// `expr_is_yes`: no expression, or the constant `y`.
    pub fn is_yes(&self, e: Option<ExprId>) -> bool {
        match e {
            None => true,
            Some(e) => self.is_sym(e, SymId::YES),
        }
    }

    /// Whether `e` mentions `s` anywhere (`expr_contains_symbol`).
    pub fn contains_symbol(&self, e: Option<ExprId>, s: SymId) -> bool {
        let Some(e) = e else { return false };
        match self.get(e) {
            Expr::And(a, b) | Expr::Or(a, b) => {
                self.contains_symbol(Some(a), s) || self.contains_symbol(Some(b), s)
            }
            Expr::Sym(x) => x == s,
            Expr::Cmp(_, a, b) => a == s || b == s,
            Expr::Not(a) => self.contains_symbol(Some(a), s),
            Expr::Range(..) => false,
        }
    }

    /// Whether `e` can only be true when `s` is (`expr_depends_symbol`).
    pub fn depends_symbol(&self, e: Option<ExprId>, s: SymId) -> bool {
        let Some(e) = e else { return false };
        match self.get(e) {
            Expr::And(a, b) => self.depends_symbol(Some(a), s) || self.depends_symbol(Some(b), s),
            Expr::Sym(x) => x == s,
            Expr::Cmp(CmpOp::Eq, a, b) => a == s && (b == SymId::YES || b == SymId::MOD),
            Expr::Cmp(CmpOp::Ne, a, b) => a == s && b == SymId::NO,
            _ => false,
        }
    }

    /// Calls `f` on every symbol `e` references, left to right.
    pub fn for_each_sym(&self, e: Option<ExprId>, f: &mut dyn FnMut(SymId)) {
        let Some(e) = e else { return };
        match self.get(e) {
            Expr::Sym(s) => f(s),
            Expr::Not(a) => self.for_each_sym(Some(a), f),
            Expr::And(a, b) | Expr::Or(a, b) => {
                self.for_each_sym(Some(a), f);
                self.for_each_sym(Some(b), f);
            }
            Expr::Cmp(_, a, b) | Expr::Range(a, b) => {
                f(a);
                f(b);
            }
        }
    }

    /// Prints `e` like `expr_print`: minimal parentheses, `<choice>` for
    /// unnamed symbols. `name` gives a symbol's printed name; `val` may
    /// append ` [=v]` after a symbol (as `expr_gstr_print` does).
    pub fn print(
        &self,
        e: Option<ExprId>,
        out: &mut String,
        name: &dyn Fn(SymId) -> String,
        val: Option<&dyn Fn(SymId) -> Option<String>>,
    ) {
        self.print_prec(e, out, 0, name, val)
    }

    fn print_prec(
        &self,
        e: Option<ExprId>,
        out: &mut String,
        prev: u8,
        name: &dyn Fn(SymId) -> String,
        val: Option<&dyn Fn(SymId) -> Option<String>>,
    ) {
        let Some(id) = e else {
            out.push('y');
            return;
        };
        let node = self.get(id);
        // expr_compare_type: a child binding looser than its parent
        // (ordering > equality > ! > && > ||) is parenthesised.
        let paren = prev != 0 && prec(&node) < prev;
        if paren {
            out.push('(');
        }
        let put_sym = |s: SymId, out: &mut String| {
            let n = name(s);
            out.push_str(&n);
            // `<choice>` is printed without a value (expr_print passes no
            // symbol for it).
            if let (Some(v), false) = (val, n == "<choice>") {
                if let Some(v) = v(s) {
                    out.push_str(" [=");
                    out.push_str(&v);
                    out.push(']');
                }
            }
        };
        match node {
            Expr::Sym(s) => put_sym(s, out),
            Expr::Not(a) => {
                out.push('!');
                self.print_prec(Some(a), out, 3, name, val);
            }
            Expr::Cmp(op, a, b) => {
                put_sym(a, out);
                out.push_str(op.as_str());
                put_sym(b, out);
            }
            Expr::Or(a, b) => {
                self.print_prec(Some(a), out, 1, name, val);
                out.push_str(" || ");
                self.print_prec(Some(b), out, 1, name, val);
            }
            Expr::And(a, b) => {
                self.print_prec(Some(a), out, 2, name, val);
                out.push_str(" && ");
                self.print_prec(Some(b), out, 2, name, val);
            }
            Expr::Range(a, b) => {
                out.push('[');
                put_sym(a, out);
                out.push(' ');
                put_sym(b, out);
                out.push(']');
            }
        }
        if paren {
            out.push(')');
        }
    }
}

/// The structural rewrites of scripts/kconfig/expr.c that `menu_finalize`
/// applies (`expr_transform`, `expr_eliminate_dups`, `expr_trans_compare`,
/// `expr_eliminate_eq`). They preserve values; they matter because the
/// automatic sub-menu rule compares expressions structurally, and because
/// diagnostics print the rewritten form.
pub struct Simplifier<'a> {
    pub ex: &'a mut Exprs,
    /// A symbol's declared type and whether it is a constant.
    pub info: &'a dyn Fn(SymId) -> (crate::SymType, bool),
    trans_count: u32,
}

impl<'a> Simplifier<'a> {
    pub fn new(ex: &'a mut Exprs, info: &'a dyn Fn(SymId) -> (crate::SymType, bool)) -> Self {
        Simplifier {
            ex,
            info,
            trans_count: 0,
        }
    }

    fn is_bool(&self, s: SymId) -> bool {
        (self.info)(s).0 == crate::SymType::Bool
    }

    fn ty(&self, s: SymId) -> crate::SymType {
        (self.info)(s).0
    }

    /// `expr_transform`.
    pub fn transform(&mut self, e: Option<ExprId>) -> Option<ExprId> {
        let e = e?;
        if let Some(&r) = self.ex.memo_transform.get(&e) {
            return Some(r);
        }
        let r = self.transform_uncached(e)?;
        self.ex.memo_transform.insert(e, r);
        Some(r)
    }

    fn transform_uncached(&mut self, e: ExprId) -> Option<ExprId> {
        let mut id = e;
        match self.ex.get(e) {
            Expr::And(a, b) => {
                let (a, b) = (self.transform(Some(a)), self.transform(Some(b)));
                id = self.ex.intern(Expr::And(a?, b?));
            }
            Expr::Or(a, b) => {
                let (a, b) = (self.transform(Some(a)), self.transform(Some(b)));
                id = self.ex.intern(Expr::Or(a?, b?));
            }
            Expr::Not(a) => {
                let a = self.transform(Some(a))?;
                id = self.ex.intern(Expr::Not(a));
            }
            _ => {}
        }
        Some(match self.ex.get(id) {
            Expr::Cmp(CmpOp::Eq, a, b) if self.is_bool(a) => {
                if b == SymId::NO {
                    let s = self.ex.sym(a);
                    self.ex.not(s)
                } else if b == SymId::MOD {
                    self.ex.sym(SymId::NO)
                } else if b == SymId::YES {
                    self.ex.sym(a)
                } else {
                    id
                }
            }
            Expr::Cmp(CmpOp::Ne, a, b) if self.is_bool(a) => {
                if b == SymId::NO {
                    self.ex.sym(a)
                } else if b == SymId::MOD {
                    self.ex.sym(SymId::YES)
                } else if b == SymId::YES {
                    let s = self.ex.sym(a);
                    self.ex.not(s)
                } else {
                    id
                }
            }
            Expr::Not(inner) => match self.ex.get(inner) {
                Expr::Not(x) => x,
                Expr::Cmp(op, a, b) => {
                    let nop = match op {
                        CmpOp::Eq => CmpOp::Ne,
                        CmpOp::Ne => CmpOp::Eq,
                        CmpOp::Le => CmpOp::Gt,
                        CmpOp::Ge => CmpOp::Lt,
                        CmpOp::Lt => CmpOp::Ge,
                        CmpOp::Gt => CmpOp::Le,
                    };
                    self.ex.cmp(nop, a, b)
                }
                Expr::Or(a, b) => {
                    let (na, nb) = (self.ex.not(a), self.ex.not(b));
                    let e = self.ex.two_and(na, nb);
                    self.transform(Some(e))?
                }
                Expr::And(a, b) => {
                    let (na, nb) = (self.ex.not(a), self.ex.not(b));
                    let e = self.ex.two_or(na, nb);
                    self.transform(Some(e))?
                }
                Expr::Sym(s) if s == SymId::YES => self.ex.sym(SymId::NO),
                Expr::Sym(s) if s == SymId::MOD => self.ex.sym(SymId::MOD),
                Expr::Sym(s) if s == SymId::NO => self.ex.sym(SymId::YES),
                _ => id,
            },
            _ => id,
        })
    }

    /// `expr_eliminate_yn`.
    fn eliminate_yn(&mut self, e: ExprId) -> ExprId {
        match self.ex.get(e) {
            Expr::And(a, b) => {
                let l = self.eliminate_yn(a);
                let r = self.eliminate_yn(b);
                if let Expr::Sym(s) = self.ex.get(l) {
                    if s == SymId::NO {
                        return l;
                    } else if s == SymId::YES {
                        return r;
                    }
                }
                if let Expr::Sym(s) = self.ex.get(r) {
                    if s == SymId::NO {
                        return r;
                    } else if s == SymId::YES {
                        return l;
                    }
                }
                self.build(true, l, r)
            }
            Expr::Or(a, b) => {
                let l = self.eliminate_yn(a);
                let r = self.eliminate_yn(b);
                if let Expr::Sym(s) = self.ex.get(l) {
                    if s == SymId::NO {
                        return r;
                    } else if s == SymId::YES {
                        return l;
                    }
                }
                if let Expr::Sym(s) = self.ex.get(r) {
                    if s == SymId::NO {
                        return l;
                    } else if s == SymId::YES {
                        return r;
                    }
                }
                self.build(false, l, r)
            }
            _ => e,
        }
    }

    fn is_andor(&self, e: ExprId, and: bool) -> Option<(ExprId, ExprId)> {
        match (self.ex.get(e), and) {
            (Expr::And(a, b), true) | (Expr::Or(a, b), false) => Some((a, b)),
            _ => None,
        }
    }

    fn build(&mut self, and: bool, a: ExprId, b: ExprId) -> ExprId {
        if and {
            self.ex.two_and(a, b)
        } else {
            self.ex.two_or(a, b)
        }
    }

    /// `__expr_eliminate_eq`.
    fn eliminate_eq_inner(&mut self, and: bool, e1: &mut ExprId, e2: &mut ExprId) {
        if let Some((l, r)) = self.is_andor(*e1, and) {
            let (mut l, mut r) = (l, r);
            self.eliminate_eq_inner(and, &mut l, e2);
            self.eliminate_eq_inner(and, &mut r, e2);
            *e1 = self.build(and, l, r);
            return;
        }
        if let Some((l, r)) = self.is_andor(*e2, and) {
            let (mut l, mut r) = (l, r);
            self.eliminate_eq_inner(and, e1, &mut l);
            self.eliminate_eq_inner(and, e1, &mut r);
            *e2 = self.build(and, l, r);
            return;
        }
        if let (Expr::Sym(a), Expr::Sym(b)) = (self.ex.get(*e1), self.ex.get(*e2)) {
            if a == b && (a == SymId::YES || a == SymId::NO) {
                return;
            }
        }
        if !self.expr_eq(Some(*e1), Some(*e2)) {
            return;
        }
        self.trans_count += 1;
        let s = if and { SymId::YES } else { SymId::NO };
        *e1 = self.ex.sym(s);
        *e2 = self.ex.sym(s);
    }

    /// `expr_eliminate_eq`.
    pub fn eliminate_eq(&mut self, e1: &mut Option<ExprId>, e2: &mut Option<ExprId>) {
        let (Some(mut a), Some(mut b)) = (*e1, *e2) else {
            return;
        };
        match self.ex.get(a) {
            Expr::Or(..) => self.eliminate_eq_inner(false, &mut a, &mut b),
            Expr::And(..) => self.eliminate_eq_inner(true, &mut a, &mut b),
            _ => {}
        }
        let ta = std::mem::discriminant(&self.ex.get(a));
        let tb = std::mem::discriminant(&self.ex.get(b));
        if ta != tb {
            match self.ex.get(b) {
                Expr::Or(..) => self.eliminate_eq_inner(false, &mut a, &mut b),
                Expr::And(..) => self.eliminate_eq_inner(true, &mut a, &mut b),
                _ => {}
            }
        }
        *e1 = Some(self.eliminate_yn(a));
        *e2 = Some(self.eliminate_yn(b));
    }

    /// `expr_eq`: structural equality, with &&/|| operands in any order.
    pub fn expr_eq(&mut self, e1: Option<ExprId>, e2: Option<ExprId>) -> bool {
        let (Some(a), Some(b)) = (e1, e2) else {
            return self.ex.is_yes(e1) && self.ex.is_yes(e2);
        };
        let (na, nb) = (self.ex.get(a), self.ex.get(b));
        if std::mem::discriminant(&na) != std::mem::discriminant(&nb) {
            return false;
        }
        match (na, nb) {
            (Expr::Cmp(o1, l1, r1), Expr::Cmp(o2, l2, r2)) => o1 == o2 && l1 == l2 && r1 == r2,
            (Expr::Sym(x), Expr::Sym(y)) => x == y,
            (Expr::Not(x), Expr::Not(y)) => self.expr_eq(Some(x), Some(y)),
            (Expr::And(..), _) | (Expr::Or(..), _) => {
                let old = self.trans_count;
                let (mut x, mut y) = (Some(a), Some(b));
                self.eliminate_eq(&mut x, &mut y);
                let res = match (x.map(|x| self.ex.get(x)), y.map(|y| self.ex.get(y))) {
                    (Some(Expr::Sym(p)), Some(Expr::Sym(q))) => p == q,
                    _ => false,
                };
                self.trans_count = old;
                res
            }
            _ => false,
        }
    }

    /// The left symbol of a leaf, looking through one `!` for e1.
    fn join_syms(&self, e1: ExprId, e2: ExprId) -> Option<SymId> {
        let leaf = |e: &Expr| {
            matches!(
                e,
                Expr::Cmp(CmpOp::Eq | CmpOp::Ne, ..) | Expr::Sym(_) | Expr::Not(_)
            )
        };
        let (n1, n2) = (self.ex.get(e1), self.ex.get(e2));
        if !leaf(&n1) || !leaf(&n2) {
            return None;
        }
        let left = |e: Expr| match e {
            Expr::Sym(s) | Expr::Cmp(_, s, _) => Some(s),
            _ => None,
        };
        let s1 = match n1 {
            Expr::Not(x) => {
                let t = self.ex.get(x);
                if !matches!(t, Expr::Cmp(CmpOp::Eq | CmpOp::Ne, ..) | Expr::Sym(_)) {
                    return None;
                }
                left(t)?
            }
            other => left(other)?,
        };
        let s2 = match n2 {
            Expr::Not(x) => match self.ex.get(x) {
                Expr::Sym(s) => s,
                _ => return None,
            },
            other => left(other)?,
        };
        if s1 != s2 {
            return None;
        }
        let t = self.ty(s1);
        if t != crate::SymType::Bool && t != crate::SymType::Tristate {
            return None;
        }
        Some(s1)
    }

    /// `expr_join_or`.
    fn join_or(&mut self, e1: ExprId, e2: ExprId) -> Option<ExprId> {
        if self.expr_eq(Some(e1), Some(e2)) {
            return Some(e1);
        }
        let s = self.join_syms(e1, e2)?;
        let (n1, n2) = (self.ex.get(e1), self.ex.get(e2));
        if self.ty(s) == crate::SymType::Tristate {
            if let (Expr::Cmp(CmpOp::Eq, _, r1), Expr::Cmp(CmpOp::Eq, _, r2)) = (n1, n2) {
                let pair = |a: SymId, b: SymId| (r1 == a && r2 == b) || (r1 == b && r2 == a);
                if pair(SymId::YES, SymId::MOD) {
                    return Some(self.ex.cmp(CmpOp::Ne, s, SymId::NO));
                }
                if pair(SymId::YES, SymId::NO) {
                    return Some(self.ex.cmp(CmpOp::Ne, s, SymId::MOD));
                }
                if pair(SymId::MOD, SymId::NO) {
                    return Some(self.ex.cmp(CmpOp::Ne, s, SymId::YES));
                }
            }
        }
        if self.ty(s) == crate::SymType::Bool {
            let not_sym = |n: Expr, ex: &Exprs| matches!(n, Expr::Not(x) if matches!(ex.get(x), Expr::Sym(_)));
            if (not_sym(n1, self.ex) && matches!(n2, Expr::Sym(_)))
                || (not_sym(n2, self.ex) && matches!(n1, Expr::Sym(_)))
            {
                return Some(self.ex.sym(SymId::YES));
            }
        }
        None
    }

    /// `expr_join_and`.
    fn join_and(&mut self, e1: ExprId, e2: ExprId) -> Option<ExprId> {
        if self.expr_eq(Some(e1), Some(e2)) {
            return Some(e1);
        }
        let s = self.join_syms(e1, e2)?;
        let (n1, n2) = (self.ex.get(e1), self.ex.get(e2));
        let sym_and = |a: Expr, b: Expr, op: CmpOp, r: SymId| {
            matches!(a, Expr::Sym(_)) && matches!(b, Expr::Cmp(o, _, rr) if o == op && rr == r)
        };
        let either = |op: CmpOp, r: SymId| sym_and(n1, n2, op, r) || sym_and(n2, n1, op, r);
        if either(CmpOp::Eq, SymId::YES) {
            return Some(self.ex.cmp(CmpOp::Eq, s, SymId::YES));
        }
        if either(CmpOp::Ne, SymId::NO) {
            return Some(self.ex.sym(s));
        }
        if either(CmpOp::Ne, SymId::MOD) {
            return Some(self.ex.cmp(CmpOp::Eq, s, SymId::YES));
        }
        if self.ty(s) == crate::SymType::Tristate {
            let is_const = |x: SymId| (self.info)(x).1;
            match (n1, n2) {
                (Expr::Cmp(CmpOp::Eq, _, b), Expr::Cmp(CmpOp::Ne, _, c))
                | (Expr::Cmp(CmpOp::Ne, _, c), Expr::Cmp(CmpOp::Eq, _, b))
                    if is_const(c) && is_const(b) =>
                {
                    return Some(if b != c {
                        self.ex.cmp(CmpOp::Eq, s, b)
                    } else {
                        self.ex.sym(SymId::NO)
                    });
                }
                _ => {}
            }
            if let (Expr::Cmp(CmpOp::Ne, _, a), Expr::Cmp(CmpOp::Ne, _, b)) = (n1, n2) {
                let pair = |x: SymId, y: SymId| (a == x && b == y) || (a == y && b == x);
                if pair(SymId::YES, SymId::NO) {
                    return Some(self.ex.cmp(CmpOp::Eq, s, SymId::MOD));
                }
                if pair(SymId::YES, SymId::MOD) {
                    return Some(self.ex.cmp(CmpOp::Eq, s, SymId::NO));
                }
                if pair(SymId::MOD, SymId::NO) {
                    return Some(self.ex.cmp(CmpOp::Eq, s, SymId::YES));
                }
            }
        }
        None
    }

    /// `expr_eliminate_dups1`.
    fn eliminate_dups1(&mut self, and: bool, e1: &mut ExprId, e2: &mut ExprId) {
        if let Some((l, r)) = self.is_andor(*e1, and) {
            let (mut l, mut r) = (l, r);
            self.eliminate_dups1(and, &mut l, e2);
            self.eliminate_dups1(and, &mut r, e2);
            *e1 = self.build(and, l, r);
            return;
        }
        if let Some((l, r)) = self.is_andor(*e2, and) {
            let (mut l, mut r) = (l, r);
            self.eliminate_dups1(and, e1, &mut l);
            self.eliminate_dups1(and, e1, &mut r);
            *e2 = self.build(and, l, r);
            return;
        }
        let joined = if and {
            self.join_and(*e1, *e2)
        } else {
            self.join_or(*e1, *e2)
        };
        if let Some(t) = joined {
            *e1 = self.ex.sym(if and { SymId::YES } else { SymId::NO });
            *e2 = t;
            self.trans_count += 1;
        }
    }

    /// 6.1's `expr_eliminate_dups`: joins pairs of operands of every
    /// AND/OR chain (nested chains of the other operator too) and removes
    /// y/n operands only when a pass joined something, so `A && y` stays.
    fn eliminate_dups_61(&mut self, e0: ExprId) -> ExprId {
        let mut e = e0;
        let old = self.trans_count;
        loop {
            self.trans_count = 0;
            e = self.dups_pass_61(e);
            if self.trans_count == 0 {
                break;
            }
            e = self.eliminate_yn(e);
        }
        self.trans_count = old;
        e
    }

    fn dups_pass_61(&mut self, e: ExprId) -> ExprId {
        let (and, l, r) = match self.ex.get(e) {
            Expr::And(l, r) => (true, l, r),
            Expr::Or(l, r) => (false, l, r),
            _ => return e,
        };
        let mut l = self.dups_pass_61(l);
        let mut r = self.dups_pass_61(r);
        self.eliminate_dups1(and, &mut l, &mut r);
        self.build(and, l, r)
    }

    /// `expr_eliminate_dups`.
    pub fn eliminate_dups(&mut self, e: Option<ExprId>) -> Option<ExprId> {
        let e0 = e?;
        if let Some(&r) = self.ex.memo_dups.get(&e0) {
            return Some(r);
        }
        let r = self.eliminate_dups_uncached(e0);
        self.ex.memo_dups.insert(e0, r);
        Some(r)
    }

    fn eliminate_dups_uncached(&mut self, e0: ExprId) -> ExprId {
        if self.ex.dups_61 {
            return self.eliminate_dups_61(e0);
        }
        let mut e = e0;
        let old = self.trans_count;
        loop {
            self.trans_count = 0;
            if let Some((and, l, r)) = match self.ex.get(e) {
                Expr::And(l, r) => Some((true, l, r)),
                Expr::Or(l, r) => Some((false, l, r)),
                _ => None,
            } {
                let mut l = self.eliminate_dups(Some(l)).unwrap_or(l);
                let mut r = self.eliminate_dups(Some(r)).unwrap_or(r);
                self.eliminate_dups1(and, &mut l, &mut r);
                e = self.build(and, l, r);
            }
            e = self.eliminate_yn(e);
            if self.trans_count == 0 {
                break;
            }
        }
        self.trans_count = old;
        e
    }

    /// `expr_trans_compare`.
    pub fn trans_compare(&mut self, e: Option<ExprId>, ne: bool, sym: SymId) -> Option<ExprId> {
        let Some(e) = e else {
            let s = self.ex.sym(sym);
            return Some(if ne { self.ex.not(s) } else { s });
        };
        match self.ex.get(e) {
            Expr::And(a, b) | Expr::Or(a, b) => {
                let is_and = matches!(self.ex.get(e), Expr::And(..));
                let e1 = self.trans_compare(Some(a), false, sym)?;
                let e2 = self.trans_compare(Some(b), false, sym)?;
                let mut r = e;
                if sym == SymId::YES {
                    r = self.build(is_and, e1, e2);
                }
                if sym == SymId::NO {
                    r = self.build(!is_and, e1, e2);
                }
                if ne {
                    r = self.ex.not(r);
                }
                Some(r)
            }
            Expr::Not(a) => self.trans_compare(Some(a), !ne, sym),
            Expr::Cmp(..) => {
                if !ne {
                    if sym == SymId::YES {
                        return Some(e);
                    }
                    if sym == SymId::MOD {
                        return Some(self.ex.sym(SymId::NO));
                    }
                    if sym == SymId::NO {
                        return Some(self.ex.not(e));
                    }
                } else {
                    if sym == SymId::YES {
                        return Some(self.ex.not(e));
                    }
                    if sym == SymId::MOD {
                        return Some(self.ex.sym(SymId::YES));
                    }
                    if sym == SymId::NO {
                        return Some(e);
                    }
                }
                None
            }
            Expr::Sym(s) => Some(self.ex.cmp(if ne { CmpOp::Ne } else { CmpOp::Eq }, s, sym)),
            Expr::Range(..) => None,
        }
    }
}
