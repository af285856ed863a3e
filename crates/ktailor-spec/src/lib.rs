//! Declarative kernels: spec files, the feature library, and the gate that
//! refuses silent drops.
//!
//! A spec declares kernels (source tree, arch, base configuration,
//! features, explicit settings); generating one applies every request to
//! the base, lets the Kconfig engine settle the configuration exactly as
//! `make olddefconfig` would, and then compares every request with the
//! final value. A request that does not hold is an error that names the
//! option, who asked for it, the requested and final values, and why
//! (see `gate`).
//!
//! Not here: finding the tree's environment (`ktailor-kbuild`), computing
//! values (`ktailor-kconfig`), or resolving missing dependencies (the
//! resolver).

pub mod check;
pub mod features;
pub mod generate;
pub mod spec;
pub mod suggest;
pub mod value;

pub use features::{Feature, Library, Target};
pub use spec::{Kernel, Loc, Request, Spec};
pub use value::Value;
