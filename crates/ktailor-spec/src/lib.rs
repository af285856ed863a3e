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
//! A kernel's `hardware` entries turn a machine's devices into requests
//! of a feature named after the report (`hardware`), mapped by
//! `ktailor-hw`.
//!
//! Not here: finding the tree's environment (`ktailor-kbuild`), computing
//! values (`ktailor-kconfig`), resolving missing dependencies (the
//! resolver), or reading Makefiles and hardware reports (`ktailor-hw`).

pub mod check;
pub mod features;
pub mod generate;
pub mod hardware;
pub mod spec;
pub mod suggest;
pub mod value;

pub use features::{Feature, Library, Target};
pub use spec::{HardwareRef, Kernel, Loc, Request, Spec};
pub use value::Value;
