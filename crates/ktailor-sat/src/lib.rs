//! Kconfig as a satisfiability problem.
//!
//! `encode` turns a tree's value rules for bool and tristate options into
//! clauses for a SAT solver (batsat, a MiniSat descendant in Rust with
//! assumptions and unsatisfiable cores); `search` finds a plan — the user
//! values to write — that makes requested values hold while changing as
//! few options as it can, or the smallest set of requests and option rules
//! that cannot hold together.
//!
//! The encoding over-approximates what a .config can reach, so an
//! impossibility it finds is a proof, but a plan it finds is a proposal:
//! the caller evaluates it with the exact engine and feeds any difference
//! back (`Planner::refine`). The engine knows nothing of this crate.

pub mod encode;
pub mod search;

pub use search::{Conflict, Goal, Outcome, Planner, Solution, Stats};
