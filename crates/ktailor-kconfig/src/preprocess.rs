//! The Kconfig preprocessor: `$(...)` references, variables and built-in
//! functions (Documentation/kbuild/kconfig-macro-language.rst).
//!
//! Mirrors scripts/kconfig/preprocess.c. A reference `$(name,arg,...)` is
//! resolved, in order, as a Kconfig variable (recursive `=` variables are
//! re-expanded with `$(1)`, `$(2)` ... bound to the arguments, simple `:=`
//! ones were expanded when assigned), a built-in function (`error-if`,
//! `filename`, `info`, `lineno`, `shell`, `warning-if`), or, without
//! arguments, an environment variable; anything else expands to nothing.
//! Environment variables that were looked up are remembered in order, for
//! the `auto.conf.cmd` dependency file.
//!
//! This module runs no process itself: `$(shell,...)` goes through the
//! [`Shell`] trait, which the caller implements (and may cache).

use rustc_hash::FxHashMap as HashMap;

/// Runs `$(shell,cmd)` commands for the preprocessor.
pub trait Shell {
    /// Runs `cmd` with `/bin/sh -c` in the tree's environment and returns
    /// its raw standard output.
    fn run(&mut self, cmd: &str) -> std::io::Result<Vec<u8>>;
}

/// How a variable was assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `=`: expanded on every use.
    Recursive,
    /// `:=`: expanded once, when assigned.
    Simple,
    /// `+=`: appends with a space, keeping the existing flavour.
    Append,
}

struct Variable {
    value: String,
    flavor: Flavor,
    exp_count: u32,
}

/// A fatal preprocessor error (`pperror`): the message, reported at the
/// current file and line by the caller.
#[derive(Debug, Clone)]
pub struct PpError(pub String);

/// Where the lexer currently is, for `$(filename)`, `$(lineno)` and messages.
#[derive(Clone, Debug, Default)]
pub struct Position {
    pub file: String,
    pub line: u32,
}

/// Output the preprocessor produces besides expansions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PpMessage {
    /// `$(info,text)`: printed on standard output by conf.
    Info(String),
    /// `$(warning-if,y,text)`: `file:line: text` on standard error.
    Warning {
        file: String,
        line: u32,
        text: String,
    },
}

/// Preprocessor state: variables, the environment and the shell.
pub struct Preprocessor<'a> {
    vars: HashMap<String, Variable>,
    env: &'a dyn Fn(&str) -> Option<String>,
    shell: &'a mut dyn Shell,
    /// Environment variables referenced so far, in first-use order.
    pub env_used: Vec<(String, String)>,
    pub messages: Vec<PpMessage>,
    pub pos: Position,
}

const FUNCTION_MAX_ARGS: usize = 16;

impl<'a> Preprocessor<'a> {
    pub fn new(env: &'a dyn Fn(&str) -> Option<String>, shell: &'a mut dyn Shell) -> Self {
        Preprocessor {
            vars: HashMap::default(),
            env,
            shell,
            env_used: Vec::new(),
            messages: Vec::new(),
            pos: Position::default(),
        }
    }

    /// Looks `name` up in the environment, remembering it (`env_expand`).
    fn env_expand(&mut self, name: &str) -> Option<String> {
        if name.is_empty() {
            return None;
        }
        if let Some((_, v)) = self.env_used.iter().find(|(n, _)| n == name) {
            return Some(v.clone());
        }
        let v = (self.env)(name)?;
        self.env_used.push((name.to_string(), v.clone()));
        Some(v)
    }

    /// `variable_add`: defines or extends a variable.
    pub fn add_variable(&mut self, name: &str, value: &str, flavor: Flavor) -> Result<(), PpError> {
        let existing = self.vars.get(name).map(|v| v.flavor);
        let (flavor, append) = match (existing, flavor) {
            (Some(f), Flavor::Append) => (f, true),
            (None, Flavor::Append) => (Flavor::Recursive, false),
            (_, f) => (f, false),
        };
        let new_value = if flavor == Flavor::Simple {
            self.expand_string(value, &[])?
        } else {
            value.to_string()
        };
        let v = self.vars.entry(name.to_string()).or_insert(Variable {
            value: String::new(),
            flavor,
            exp_count: 0,
        });
        v.flavor = flavor;
        if append {
            v.value.push(' ');
            v.value.push_str(&new_value);
        } else {
            v.value = new_value;
        }
        Ok(())
    }

    /// Expands every reference in `s` (`expand_string`).
    pub fn expand_string(&mut self, s: &str, args: &[String]) -> Result<String, PpError> {
        let (out, _) = self.expand_until(s.as_bytes(), 0, |_| false, args)?;
        Ok(out)
    }

    /// Expands one unquoted token starting at `start` of `line`: stops at
    /// the first byte that is not alphanumeric, `_` or `-` outside a
    /// reference (`expand_one_token`). Returns the expansion and the byte
    /// offset where it stopped.
    pub fn expand_token(&mut self, line: &[u8], start: usize) -> Result<(String, usize), PpError> {
        self.expand_until(
            line,
            start,
            |c| !(c.is_ascii_alphanumeric() || c == b'_' || c == b'-'),
            &[],
        )
    }

    /// Expands one reference; `at` points just after a `$`
    /// (`expand_dollar`). Returns the expansion and the offset after it.
    pub fn expand_dollar(&mut self, line: &[u8], at: usize) -> Result<(String, usize), PpError> {
        self.expand_dollar_args(line, at, &[])
    }

    fn expand_until(
        &mut self,
        s: &[u8],
        start: usize,
        is_end: impl Fn(u8) -> bool,
        args: &[String],
    ) -> Result<(String, usize), PpError> {
        let mut out: Vec<u8> = Vec::new();
        let mut p = start;
        let mut lit = start;
        loop {
            if p < s.len() && s[p] == b'$' {
                out.extend_from_slice(&s[lit..p]);
                let (e, np) = self.expand_dollar_args(s, p + 1, args)?;
                out.extend_from_slice(e.as_bytes());
                p = np;
                lit = p;
                continue;
            }
            if p >= s.len() || is_end(s[p]) {
                break;
            }
            p += 1;
        }
        out.extend_from_slice(&s[lit..p]);
        Ok((String::from_utf8_lossy(&out).into_owned(), p))
    }

    fn expand_dollar_args(
        &mut self,
        s: &[u8],
        at: usize,
        args: &[String],
    ) -> Result<(String, usize), PpError> {
        if at >= s.len() || s[at] != b'(' {
            // A lone '$' stands for itself.
            return Ok(("$".to_string(), at));
        }
        let p = at + 1;
        let mut q = p;
        let mut nest = 0i32;
        while q < s.len() {
            match s[q] {
                b'(' => nest += 1,
                b')' => {
                    if nest == 0 {
                        break;
                    }
                    nest -= 1;
                }
                _ => {}
            }
            q += 1;
        }
        if q >= s.len() {
            return Err(PpError(format!(
                "unterminated reference to '{}': missing ')'",
                String::from_utf8_lossy(&s[p..])
            )));
        }
        let clause = String::from_utf8_lossy(&s[p..q]).into_owned();
        let r = self.eval_clause(&clause, args)?;
        Ok((r, q + 1))
    }

    /// `eval_clause`: `$(1)`-style argument references, then the name and
    /// comma-separated arguments (split at nesting level zero).
    fn eval_clause(&mut self, clause: &str, args: &[String]) -> Result<String, PpError> {
        if let Ok(n) = clause.parse::<usize>() {
            if n > 0 && n <= args.len() && !clause.starts_with('+') {
                return Ok(args[n - 1].clone());
            }
        }
        let b = clause.as_bytes();
        let mut parts: Vec<&str> = Vec::new();
        let mut nest = 0i32;
        let mut prev = 0;
        for (i, &c) in b.iter().enumerate() {
            match c {
                b',' if nest == 0 => {
                    if parts.len() >= FUNCTION_MAX_ARGS {
                        return Err(PpError("too many function arguments".into()));
                    }
                    parts.push(&clause[prev..i]);
                    prev = i + 1;
                }
                b'(' => nest += 1,
                b')' => nest -= 1,
                _ => {}
            }
        }
        if parts.len() >= FUNCTION_MAX_ARGS {
            return Err(PpError("too many function arguments".into()));
        }
        parts.push(&clause[prev..]);
        let name = self.expand_string(parts[0], args)?;
        let mut new_args = Vec::with_capacity(parts.len() - 1);
        for a in &parts[1..] {
            new_args.push(self.expand_string(a, args)?);
        }
        if let Some(r) = self.variable_expand(&name, &new_args)? {
            return Ok(r);
        }
        if let Some(r) = self.function_expand(&name, &new_args)? {
            return Ok(r);
        }
        if new_args.is_empty() {
            if let Some(r) = self.env_expand(&name) {
                return Ok(r);
            }
        }
        Ok(String::new())
    }

    fn variable_expand(&mut self, name: &str, args: &[String]) -> Result<Option<String>, PpError> {
        let Some(v) = self.vars.get_mut(name) else {
            return Ok(None);
        };
        if args.is_empty() && v.exp_count > 0 {
            return Err(PpError(format!(
                "Recursive variable '{name}' references itself (eventually)"
            )));
        }
        if v.exp_count > 1000 {
            return Err(PpError("Too deep recursive expansion".into()));
        }
        v.exp_count += 1;
        let (flavor, value) = (v.flavor, v.value.clone());
        let res = if flavor == Flavor::Recursive {
            self.expand_string(&value, args)
        } else {
            Ok(value)
        };
        if let Some(v) = self.vars.get_mut(name) {
            v.exp_count -= 1;
        }
        res.map(Some)
    }

    fn function_expand(&mut self, name: &str, args: &[String]) -> Result<Option<String>, PpError> {
        let (min, max) = match name {
            "error-if" | "warning-if" => (2, 2),
            "filename" | "lineno" => (0, 0),
            "info" | "shell" => (1, 1),
            _ => return Ok(None),
        };
        if args.len() < min {
            return Err(PpError(format!(
                "too few function arguments passed to '{name}'"
            )));
        }
        if args.len() > max {
            return Err(PpError(format!(
                "too many function arguments passed to '{name}'"
            )));
        }
        let r = match name {
            "error-if" => {
                if args[0] == "y" {
                    return Err(PpError(args[1].clone()));
                }
                String::new()
            }
            "filename" => self.pos.file.clone(),
            "lineno" => self.pos.line.to_string(),
            "info" => {
                self.messages.push(PpMessage::Info(args[0].clone()));
                String::new()
            }
            "warning-if" => {
                if args[0] == "y" {
                    self.messages.push(PpMessage::Warning {
                        file: self.pos.file.clone(),
                        line: self.pos.line,
                        text: args[1].clone(),
                    });
                }
                String::new()
            }
            _ => self.do_shell(&args[0])?,
        };
        Ok(Some(r))
    }

    /// `do_shell`: at most 4095 bytes of output, trailing newlines removed,
    /// inner newlines turned into spaces.
    fn do_shell(&mut self, cmd: &str) -> Result<String, PpError> {
        let mut out = self
            .shell
            .run(cmd)
            .map_err(|e| PpError(format!("{cmd}: {e}")))?;
        out.truncate(4095);
        // conf reads into a C string: a NUL byte ends it.
        if let Some(z) = out.iter().position(|&c| c == 0) {
            out.truncate(z);
        }
        while out.last() == Some(&b'\n') {
            out.pop();
        }
        for c in out.iter_mut() {
            if *c == b'\n' {
                *c = b' ';
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl Shell for Echo {
        fn run(&mut self, cmd: &str) -> std::io::Result<Vec<u8>> {
            Ok(format!("ran[{cmd}]\n\n").into_bytes())
        }
    }

    fn check(defs: &[(&str, &str, Flavor)], input: &str, expect: &str) {
        let env = |n: &str| (n == "HOME_TEST").then(|| "/h".to_string());
        let mut sh = Echo;
        let mut pp = Preprocessor::new(&env, &mut sh);
        for (n, v, f) in defs {
            pp.add_variable(n, v, *f).expect("define");
        }
        assert_eq!(pp.expand_string(input, &[]).expect("expand"), expect);
    }

    #[test]
    fn user_function_binds_arguments() {
        check(
            &[("greet", "hello $(1) and $(2)", Flavor::Recursive)],
            "$(greet,a,b)",
            "hello a and b",
        );
    }

    #[test]
    fn simple_variable_is_expanded_once() {
        check(
            &[
                ("a", "1", Flavor::Simple),
                ("b", "$(a)", Flavor::Simple),
                ("a", "2", Flavor::Simple),
            ],
            "$(b)$(a)",
            "12",
        );
    }

    #[test]
    fn append_keeps_flavor_and_adds_space() {
        check(
            &[("x", "a", Flavor::Recursive), ("x", "b", Flavor::Append)],
            "$(x)",
            "a b",
        );
    }

    #[test]
    fn shell_output_is_trimmed_and_joined() {
        check(&[], "$(shell,true)", "ran[true]");
    }

    #[test]
    fn environment_and_unknown_references() {
        check(&[], "$(HOME_TEST):$(NOPE):$", "/h::$");
    }

    #[test]
    fn nested_arguments_split_at_top_level_commas() {
        check(
            &[
                ("f", "<$(1)|$(2)>", Flavor::Recursive),
                ("g", "$(1)", Flavor::Recursive),
            ],
            "$(f,$(g,x,y),z)",
            "<x|z>",
        );
    }

    #[test]
    fn recursive_self_reference_is_an_error() {
        let env = |_: &str| None;
        let mut sh = Echo;
        let mut pp = Preprocessor::new(&env, &mut sh);
        pp.add_variable("x", "$(x)", Flavor::Recursive)
            .expect("define");
        assert!(pp.expand_string("$(x)", &[]).is_err());
    }
}
