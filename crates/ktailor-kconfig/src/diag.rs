//! Diagnostics: warnings and errors with a file:line location, rendered
//! with a source excerpt and an optional hint.
//!
//! The engine collects diagnostics instead of printing; front ends decide
//! how to show them (see [`Diagnostic::render`]).

use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
}

/// Who produced a diagnostic: the engine, or the Kconfig files themselves
/// through `$(info,...)` / `$(warning-if,...)`, whose text conf prints
/// verbatim (front ends must too: it is the tree author's output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Engine,
    /// `$(info,text)`: `text` on standard output.
    Info,
    /// `$(warning-if,y,text)`: `file:line: text` on standard error.
    Warning,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub origin: Origin,
    /// File as the C tool names it (relative to the tree), empty if none.
    pub file: String,
    pub line: u32,
    /// Column (1-based), or 0 when unknown.
    pub col: u32,
    pub message: String,
    /// Extra lines printed below the message (e.g. a dependency chain).
    pub notes: Vec<String>,
    pub hint: Option<Box<str>>,
    /// The source line, when it was captured at the time (otherwise
    /// [`Diagnostic::render`] asks for it).
    pub excerpt: Option<Box<str>>,
}

impl Diagnostic {
    pub fn warning(file: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            origin: Origin::Engine,
            file: file.into(),
            line,
            col: 0,
            message: message.into(),
            notes: Vec::new(),
            hint: None,
            excerpt: None,
        }
    }
    pub fn error(file: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            ..Diagnostic::warning(file, line, message)
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into().into());
        self
    }
    pub fn at_col(mut self, col: u32) -> Self {
        self.col = col;
        self
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
    pub fn from_kconfig(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders `file:line: severity: message`, the source line when
    /// `source` can provide it, notes, and a `hint:` line.
    /// `$(info)` and `$(warning-if)` text comes out exactly as conf prints it.
    pub fn render(&self, source: &dyn Fn(&str, u32) -> Option<String>) -> String {
        let mut s = String::new();
        match self.origin {
            Origin::Engine => {}
            Origin::Info => return format!("{}\n", self.message),
            Origin::Warning => return format!("{}:{}: {}\n", self.file, self.line, self.message),
        }
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        if self.file.is_empty() {
            let _ = writeln!(s, "{sev}: {}", self.message);
        } else {
            if self.col > 0 {
                let _ = writeln!(
                    s,
                    "{}:{}:{}: {sev}: {}",
                    self.file, self.line, self.col, self.message
                );
            } else {
                let _ = writeln!(s, "{}:{}: {sev}: {}", self.file, self.line, self.message);
            }
            if self.line > 0 {
                if let Some(text) = self
                    .excerpt
                    .as_deref()
                    .map(str::to_string)
                    .or_else(|| source(&self.file, self.line))
                {
                    let w = self.line.to_string().len();
                    let _ = writeln!(s, "{:w$} |", "");
                    let _ = writeln!(s, "{} | {}", self.line, text.trim_end());
                    if self.col > 0 {
                        let _ = writeln!(s, "{:w$} | {:>c$}", "", "^", c = self.col as usize);
                    } else {
                        let _ = writeln!(s, "{:w$} |", "");
                    }
                }
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "  {n}");
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(s, "\nhint: {h}");
        }
        s
    }
}
