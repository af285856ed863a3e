//! The search: which options to open, a plan that changes as little as
//! possible, and the smallest conflict when there is none.
//!
//! 1. Feasibility. The requested options are opened; everything their
//!    rules mention is frontier with free values. While the solver's model
//!    moves a frontier option away from its current value, that option is
//!    opened too. Frontier values being free makes this an
//!    over-approximation: unsatisfiable here is a proof, and the core
//!    (deletion-minimised) names the requests and option rules involved.
//! 2. Minimising. Frontier options are held at their current values and
//!    "keeps its input" literals are tried one option at a time (a minimal
//!    correction set), then a cardinality bound asks for a cheaper plan
//!    until there is none (or the rounds run out). A plan's cost counts,
//!    among the opened options other than the requested ones (whose lines
//!    are written anyway), each user input it changes twice and each value
//!    it changes once when the option's prompt is visible now.
//! 3. The engine's verdict comes from the caller (`refine`): options the
//!    model got wrong are opened, or, when they are open already, that
//!    exact plan is excluded, and the search runs again.
//!
//! Not here: running the engine, or printing.

use batsat::Lit;
use ktailor_kconfig::{Kconfig, SymId, Tri};
use rustc_hash::FxHashMap;

use crate::encode::{is_variable, Encoder};

/// What a request needs of an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    Y,
    /// Exactly m.
    M,
    /// m or y: the driver available.
    AtLeastM,
    N,
    /// The prompt shown, so a user value (of an int/hex/string) applies.
    Shown,
}

/// A plan: the values to write, and what the model says changes.
#[derive(Clone, Debug, Default)]
pub struct Solution {
    /// User values to write, in the order options entered the encoding.
    pub assignments: Vec<(SymId, Tri)>,
    /// Options whose value the plan changes: (option, from, to).
    pub changes: Vec<(SymId, Tri, Tri)>,
    /// Options whose user input the plan changes (what it costs).
    pub edits: Vec<SymId>,
    model: FxHashMap<SymId, Tri>,
}

impl Solution {
    /// The model's value of `s` (`None` when the encoding never saw it).
    pub fn value(&self, s: SymId) -> Option<Tri> {
        self.model.get(&s).copied()
    }
}

/// The smallest set of requests and option rules found to conflict.
#[derive(Clone, Debug, Default)]
pub struct Conflict {
    /// Indices into the goals.
    pub goals: Vec<usize>,
    /// Options whose Kconfig rules take part.
    pub facts: Vec<SymId>,
    /// Values held fixed by the encoding that take part (non-empty: the
    /// conflict is not a proof).
    pub frozen: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum Outcome {
    Plan(Solution),
    /// No configuration satisfies the goals.
    Impossible(Conflict),
    /// No plan within what the encoding varies.
    Unproven(Conflict),
}

/// Counters for benchmarks and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub solves: usize,
    pub opened: usize,
    pub refinements: usize,
}

pub struct Planner<'k> {
    pub enc: Encoder<'k>,
    goals: Vec<(SymId, Goal, Lit)>,
    inputs: FxHashMap<SymId, Lit>,
    pub stats: Stats,
}

/// How many solver calls minimising a conflict may take.
const CORE_BUDGET: usize = 300;
/// How many times the cardinality bound may tighten.
const CARD_ROUNDS: usize = 8;

impl<'k> Planner<'k> {
    /// `k` holds the current configuration, every value computed.
    pub fn new(k: &'k mut Kconfig, goals: &[(SymId, Goal)]) -> Self {
        let mut enc = Encoder::new(k);
        let mut gs = Vec::new();
        for &(s, g) in goals {
            enc.open(s);
            let lit = enc.fresh(batsat::lbool::UNDEF);
            let need = match g {
                Goal::Y => enc.value(s).b,
                Goal::M => {
                    let v = enc.value(s);
                    enc.is(v, Tri::M)
                }
                Goal::AtLeastM => enc.value(s).a,
                Goal::N => !enc.value(s).a,
                Goal::Shown => enc.visible(s).a,
            };
            enc.clause(&[!lit, need]);
            gs.push((s, g, lit));
        }
        Planner {
            enc,
            goals: gs,
            inputs: FxHashMap::default(),
            stats: Stats::default(),
        }
    }

    /// The opened options whose input a plan pays for: all but the
    /// requested ones, whose lines are written whatever the plan.
    fn costed(&self) -> Vec<SymId> {
        self.enc
            .opened_syms()
            .filter(|&s| !self.goals.iter().any(|g| g.0 == s))
            .collect()
    }

    /// What a plan costs, as literals to count: each changed input twice
    /// (a line written), and once each changed value of an option whose
    /// prompt is visible now (a setting the user could see and set).
    /// Counting those values keeps a plan from flipping one switch that
    /// hides many prompts (EXPERT off, so their defaults apply) where
    /// writing the few lines asked for would do; options that a plan makes
    /// visible are free to take their defaults, as olddefconfig gives them,
    /// so no line is written to pin them.
    fn cost_lits(&mut self, opened: &[SymId]) -> Vec<Lit> {
        let mut v = Vec::with_capacity(opened.len() * 3);
        for &s in opened {
            let input = !self.keep_input(s);
            v.push(input);
            v.push(input);
            if self.enc.shown_now(s) {
                v.push(!self.enc.keep(s));
            }
        }
        v
    }

    /// "The user input of `s` stays": for an opened plain option, its user
    /// value stays what the configuration has (or it stays without one, so
    /// its default applies as olddefconfig would); for other options, its
    /// value stays. What a plan costs is the inputs it changes: values that
    /// follow from them are free.
    fn keep_input(&mut self, s: SymId) -> Lit {
        if let Some(l) = self.inputs.get(&s) {
            return *l;
        }
        let l = match self.enc.opened(s).and_then(|o| o.input) {
            Some((user, used)) => {
                let sym = self.enc.k.sym(s);
                if sym.has_value() {
                    let was = sym.def[ktailor_kconfig::S_DEF_USER].tri;
                    let same = self.enc.is(user, was);
                    self.enc.and(used, same)
                } else {
                    !used
                }
            }
            None => self.enc.keep(s),
        };
        self.inputs.insert(s, l);
        l
    }

    /// For options with a user value in the configuration, "it keeps one"
    /// (a plan can add lines, not remove them).
    fn lines_stay(&self) -> Vec<Lit> {
        self.enc
            .opened_syms()
            .filter(|&s| self.enc.k.sym(s).has_value())
            .filter_map(|s| self.enc.opened(s).and_then(|o| o.input).map(|i| i.1))
            .collect()
    }

    fn solve(&mut self, assumptions: &[Lit]) -> bool {
        self.stats.solves += 1;
        // Without a budget the solver always decides.
        self.enc.solve(assumptions).unwrap_or(false)
    }

    /// Goals, rules of opened options, frozen values.
    fn hard(&self) -> Vec<Lit> {
        let mut v: Vec<Lit> = self.goals.iter().map(|g| g.2).collect();
        v.extend(
            self.enc
                .opened_syms()
                .filter_map(|s| self.enc.opened(s).map(|o| o.act)),
        );
        v.extend(self.enc.frozen.iter().map(|f| f.lit));
        v.sort_by_key(|l| l.idx());
        v.dedup();
        v
    }

    /// `hard`, with every frontier option held at its current value.
    fn held(&mut self) -> Vec<Lit> {
        let mut v = self.hard();
        let frontier: Vec<SymId> = self
            .enc
            .order
            .iter()
            .copied()
            .filter(|&s| self.enc.opened(s).is_none())
            .collect();
        for s in frontier {
            v.push(self.enc.keep(s));
        }
        v
    }

    fn snapshot(&mut self) -> FxHashMap<SymId, Tri> {
        let order = self.enc.order.clone();
        order
            .into_iter()
            .map(|s| (s, self.enc.model_of(s)))
            .collect()
    }

    /// Searches a plan (see the module doc).
    pub fn solve_plan(&mut self) -> Outcome {
        // 1. Feasibility, opening what the model moves.
        loop {
            let hard = self.hard();
            if !self.solve(&hard) {
                return self.conflict(hard);
            }
            let mut grow: Vec<SymId> = self
                .enc
                .order
                .iter()
                .copied()
                .filter(|&s| self.enc.opened(s).is_none() && is_variable(self.enc.k, s))
                .collect();
            grow.retain(|&s| self.enc.model_of(s) != self.enc.cur(s));
            if grow.is_empty() {
                break;
            }
            self.stats.opened += grow.len();
            for s in grow {
                self.enc.open(s);
            }
        }
        // 2. Minimising, frontier held.
        let mut base = self.held();
        let lines = self.lines_stay();
        let mut with_lines = base.clone();
        with_lines.extend(lines);
        if self.solve(&with_lines) {
            base = with_lines;
        } else {
            // Only removing a line could do; solve again without.
            self.solve(&base);
        }
        let mut snap = self.snapshot();
        let opened = self.costed();
        let mut kept = self.minimal(&base, &opened, &mut snap);
        let cost = self.cost_lits(&opened);
        for _ in 0..CARD_ROUNDS {
            let now = cost.iter().filter(|&&l| self.enc.lit_true(l)).count();
            if now == 0 {
                break;
            }
            let g = self.enc.fresh(batsat::lbool::UNDEF);
            self.enc.at_most(&cost, now - 1, g);
            let mut trial = base.clone();
            trial.push(g);
            if !self.solve(&trial) {
                break;
            }
            base = trial;
            snap = self.snapshot();
            kept = self.minimal(&base, &opened, &mut snap);
        }
        // Back on the model of the last minimal plan.
        self.solve(&kept);
        Outcome::Plan(self.solution(snap))
    }

    /// Grows the set of options that keep their values, one option at a
    /// time, later options first: the ones an expression names first (the
    /// left side of `A || B`) are then the ones a plan changes. Returns
    /// the assumptions that hold the kept ones.
    fn minimal(
        &mut self,
        base: &[Lit],
        opened: &[SymId],
        snap: &mut FxHashMap<SymId, Tri>,
    ) -> Vec<Lit> {
        let mut assume = base.to_vec();
        let mut kept_now: Vec<bool> = opened
            .iter()
            .map(|&s| {
                let k = self.keep_input(s);
                self.enc.lit_true(k)
            })
            .collect();
        for (i, &s) in opened.iter().enumerate().rev() {
            let k = self.keep_input(s);
            assume.push(k);
            if kept_now[i] {
                continue;
            }
            if self.solve(&assume) {
                *snap = self.snapshot();
                for (j, &t) in opened.iter().enumerate() {
                    let k = self.keep_input(t);
                    kept_now[j] = self.enc.lit_true(k);
                }
            } else {
                assume.pop();
            }
        }
        // Leave the solver on a model of the kept set.
        self.solve(&assume);
        assume
    }

    /// The opened options whose input the current model changes.
    fn edited(&mut self, opened: &[SymId]) -> Vec<SymId> {
        let mut out = Vec::new();
        for &s in opened {
            let k = self.keep_input(s);
            if !self.enc.lit_true(k) {
                out.push(s);
            }
        }
        out
    }

    /// The plan of the solver's current model (which `snap` records).
    fn solution(&mut self, snap: FxHashMap<SymId, Tri>) -> Solution {
        let mut sol = Solution::default();
        let costed = self.costed();
        sol.edits = self.edited(&costed);
        let opened: Vec<SymId> = self.enc.opened_syms().collect();
        for &s in &opened {
            let (from, to) = (self.enc.cur(s), snap[&s]);
            if from != to {
                sol.changes.push((s, from, to));
            }
        }
        // Each edited option is written with the value the model gives it:
        // as a user value it yields that value (select and visibility bound
        // it the same way), and it is always one the option's type accepts.
        for &s in &sol.edits {
            if !self.enc.k.is_choice(s) {
                sol.assignments.push((s, snap[&s]));
            }
        }
        sol.model = snap;
        sol
    }

    /// Deletion-minimises the core of an unsatisfiable call.
    fn conflict(&mut self, assumed: Vec<Lit>) -> Outcome {
        let mut core: Vec<Lit> = {
            let c = self.enc.core();
            assumed.iter().copied().filter(|l| c.contains(l)).collect()
        };
        let mut i = 0;
        let mut budget = CORE_BUDGET;
        while i < core.len() && budget > 0 {
            budget -= 1;
            let trial: Vec<Lit> = core
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| *l)
                .collect();
            if self.solve(&trial) {
                i += 1;
            } else {
                let c = self.enc.core();
                core = trial.into_iter().filter(|l| c.contains(l)).collect();
            }
        }
        let mut out = Conflict::default();
        for (i, g) in self.goals.iter().enumerate() {
            if core.contains(&g.2) {
                out.goals.push(i);
            }
        }
        for s in self.enc.opened_syms() {
            if let Some(o) = self.enc.opened(s) {
                if core.contains(&o.act)
                    && !out
                        .facts
                        .iter()
                        .any(|f| self.enc.opened(*f).map(|x| x.act) == Some(o.act))
                {
                    out.facts.push(s);
                }
            }
        }
        for f in &self.enc.frozen {
            if core.contains(&f.lit) {
                out.frozen.push(f.what.clone());
            }
        }
        if out.frozen.is_empty() {
            Outcome::Impossible(out)
        } else {
            Outcome::Unproven(out)
        }
    }

    /// Takes the engine's values for a plan that did not hold: options the
    /// model got wrong are opened, or, if they were open already, the plan
    /// is excluded. Returns false when there is nothing left to learn.
    pub fn refine(&mut self, sol: &Solution, engine: &mut dyn FnMut(SymId) -> Tri) -> bool {
        self.stats.refinements += 1;
        let mut wrong_open = false;
        let mut grew = false;
        for s in self.enc.order.clone() {
            let Some(m) = sol.value(s) else { continue };
            if engine(s) == m {
                continue;
            }
            if self.enc.opened(s).is_some() {
                wrong_open = true;
            } else if is_variable(self.enc.k, s) {
                self.enc.open(s);
                grew = true;
            }
        }
        if grew {
            return true;
        }
        if !wrong_open || sol.assignments.is_empty() {
            return false;
        }
        let mut block = Vec::new();
        for &(s, v) in &sol.assignments {
            let tv = self.enc.value(s);
            let l = self.enc.is(tv, v);
            let l = match self.enc.opened(s).and_then(|o| o.input) {
                Some((_, used)) => self.enc.and(used, l),
                None => l,
            };
            block.push(!l);
        }
        self.enc.clause(&block);
        true
    }

    /// Another plan changing no more options than `sol`, different from it
    /// and from `others`.
    pub fn alternative(&mut self, sol: &Solution, others: &[Solution]) -> Option<Solution> {
        let mut base = self.held();
        base.extend(self.lines_stay());
        for other in std::iter::once(sol).chain(others) {
            let g = self.enc.fresh(batsat::lbool::UNDEF);
            let mut c = vec![!g];
            for &s in &other.edits {
                let k = self.keep_input(s);
                c.push(k);
            }
            self.enc.clause(&c);
            base.push(g);
        }
        let opened = self.costed();
        let bound = 2 * sol.edits.len()
            + opened
                .iter()
                .filter(|&&s| {
                    self.enc.shown_now(s) && sol.value(s).is_some_and(|v| v != self.enc.cur(s))
                })
                .count();
        let cost = self.cost_lits(&opened);
        let g = self.enc.fresh(batsat::lbool::UNDEF);
        self.enc.at_most(&cost, bound, g);
        base.push(g);
        if !self.solve(&base) {
            return None;
        }
        let mut snap = self.snapshot();
        self.minimal(&base, &opened, &mut snap);
        Some(self.solution(snap))
    }
}
