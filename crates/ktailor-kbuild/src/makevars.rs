//! A model of GNU make's variable table, limited to what decides the
//! environment of a recipe's command.
//!
//! make knows where each variable came from (the environment, the command
//! line, a makefile), lets a command-line definition win over every makefile
//! assignment, and hands a child process: every variable that came from the
//! environment or the command line (with its *current* value, even if a
//! makefile reassigned it), plus every variable named by `export` (an
//! undefined one as the empty string), minus every variable named by
//! `unexport`.
//!
//! This is not a make interpreter: the caller performs the Makefile's
//! assignments itself, in the Makefile's order, through [`MakeVars::set`] and
//! friends. Only simply expanded values are stored; a recursively expanded
//! variable (`CPP = $(CC) -E`) is set once its final value is known.

use std::collections::BTreeMap;

/// Where a variable's current value came from (make's `$(origin ...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Inherited from make's own environment.
    Environment,
    /// `NAME=value` on make's command line (or in MAKEFLAGS of a sub-make).
    CommandLine,
    /// Assigned by a makefile.
    File,
}

#[derive(Clone, Debug)]
struct Var {
    value: String,
    origin: Origin,
    /// Came from the environment or the command line: such a variable is
    /// passed on even after a makefile reassigns it.
    inherited: bool,
}

/// The variable table plus the `export`/`unexport` decisions made so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct MakeVars {
    vars: BTreeMap<String, Var>,
    /// `Some(true)` after `export NAME`, `Some(false)` after `unexport NAME`;
    /// the last directive wins, as in make.
    export: BTreeMap<String, bool>,
}

impl MakeVars {
    /// The table make starts with: its environment, then the command-line
    /// definitions on top (a later definition of the same name wins).
    pub(crate) fn new(env: &[(String, String)], command_line: &[(String, String)]) -> Self {
        let mut vars = BTreeMap::new();
        for (name, value) in env {
            vars.insert(
                name.clone(),
                Var {
                    value: value.clone(),
                    origin: Origin::Environment,
                    inherited: true,
                },
            );
        }
        for (name, value) in command_line {
            vars.insert(
                name.clone(),
                Var {
                    value: value.clone(),
                    origin: Origin::CommandLine,
                    inherited: true,
                },
            );
        }
        MakeVars {
            vars,
            export: BTreeMap::new(),
        }
    }

    /// `$(NAME)`: the value, or "" when undefined.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.vars.get(name).map_or("", |v| v.value.as_str())
    }

    /// Whether the variable exists at all, even with an empty value (what
    /// `?=` tests).
    pub(crate) fn is_defined(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// `ifdef NAME`: defined with a non-empty value.
    pub(crate) fn is_set(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// `$(origin NAME)`, `None` for "undefined".
    pub(crate) fn origin(&self, name: &str) -> Option<Origin> {
        self.vars.get(name).map(|v| v.origin)
    }

    /// `NAME=value` on the command line of a sub-make (e.g. kbuild's
    /// `$(MAKE) -f scripts/Makefile.build obj=scripts/kconfig`).
    pub(crate) fn define_command_line(&mut self, name: &str, value: impl Into<String>) {
        self.vars.insert(
            name.to_string(),
            Var {
                value: value.into(),
                origin: Origin::CommandLine,
                inherited: true,
            },
        );
    }

    /// `NAME := value` or `NAME = value`: ignored when the command line
    /// defined NAME.
    pub(crate) fn set(&mut self, name: &str, value: impl Into<String>) {
        if self.origin(name) == Some(Origin::CommandLine) {
            return;
        }
        let value = value.into();
        match self.vars.get_mut(name) {
            // A variable from the environment keeps being passed on, now with
            // the makefile's value.
            Some(var) => {
                var.value = value;
                var.origin = Origin::File;
            }
            None => {
                self.vars.insert(
                    name.to_string(),
                    Var {
                        value,
                        origin: Origin::File,
                        inherited: false,
                    },
                );
            }
        }
    }

    /// `NAME ?= value`: only when NAME is undefined.
    pub(crate) fn set_default(&mut self, name: &str, value: impl Into<String>) {
        if !self.is_defined(name) {
            self.set(name, value);
        }
    }

    /// `NAME += value`: a space joins the old and new text unless the old
    /// value is empty; ignored when the command line defined NAME.
    pub(crate) fn append(&mut self, name: &str, value: &str) {
        let old = self.get(name);
        let new = if old.is_empty() {
            value.to_string()
        } else {
            format!("{old} {value}")
        };
        self.set(name, new);
    }

    /// `export NAME ...`.
    pub(crate) fn export(&mut self, name: &str) {
        self.export.insert(name.to_string(), true);
    }

    /// `export NAME := value`.
    pub(crate) fn export_set(&mut self, name: &str, value: impl Into<String>) {
        self.set(name, value);
        self.export(name);
    }

    /// `unexport NAME ...`.
    pub(crate) fn unexport(&mut self, name: &str) {
        self.export.insert(name.to_string(), false);
    }

    /// The environment a recipe's command receives, sorted by name.
    pub(crate) fn environment(&self) -> Vec<(String, String)> {
        let mut env: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, var) in &self.vars {
            let passed = match self.export.get(name) {
                Some(explicit) => *explicit,
                None => var.inherited,
            };
            if passed {
                env.insert(name, &var.value);
            }
        }
        for (name, exported) in &self.export {
            if *exported && !self.vars.contains_key(name) {
                env.insert(name, "");
            }
        }
        env.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn makefile_assignment_overrides_environment_but_stays_exported() {
        let mut vars = MakeVars::new(&pairs(&[("CC", "clang")]), &[]);
        vars.set("CC", "gcc");
        assert_eq!(vars.environment(), pairs(&[("CC", "gcc")]));
    }

    #[test]
    fn command_line_definition_beats_makefile_assignment() {
        let mut vars = MakeVars::new(&pairs(&[("CC", "env-cc")]), &pairs(&[("CC", "clang")]));
        vars.set("CC", "gcc");
        vars.set_default("CC", "other");
        vars.append("CC", "-m64");
        assert_eq!(vars.get("CC"), "clang");
        assert_eq!(vars.origin("CC"), Some(Origin::CommandLine));
    }

    #[test]
    fn makefile_variables_reach_the_child_only_when_exported() {
        let mut vars = MakeVars::new(&[], &[]);
        vars.set("internal", "x");
        vars.export_set("srctree", "..");
        vars.export("CROSS_COMPILE");
        assert_eq!(
            vars.environment(),
            pairs(&[("CROSS_COMPILE", ""), ("srctree", "..")])
        );
    }

    #[test]
    fn unexport_removes_an_environment_variable() {
        let mut vars = MakeVars::new(&pairs(&[("LC_ALL", "C.UTF-8"), ("PATH", "/bin")]), &[]);
        vars.unexport("LC_ALL");
        assert_eq!(vars.environment(), pairs(&[("PATH", "/bin")]));
    }

    #[test]
    fn conditional_assignment_respects_an_empty_environment_value() {
        let mut vars = MakeVars::new(&pairs(&[("ARCH", "")]), &[]);
        vars.set_default("ARCH", "x86");
        assert_eq!(vars.get("ARCH"), "");
        assert!(vars.is_defined("ARCH"));
        assert!(!vars.is_set("ARCH"));
    }

    #[test]
    fn append_to_empty_adds_no_leading_space() {
        let mut vars = MakeVars::new(&[], &[]);
        vars.set("CLANG_FLAGS", "");
        vars.append("CLANG_FLAGS", "--target=x86_64-linux-gnu");
        vars.append("CLANG_FLAGS", "-fintegrated-as");
        assert_eq!(
            vars.get("CLANG_FLAGS"),
            "--target=x86_64-linux-gnu -fintegrated-as"
        );
    }
}
