//! The Kconfig lexer: tokens, quoted strings, help text, `source`d files
//! and on-the-fly preprocessor expansion.
//!
//! Mirrors scripts/kconfig/lexer.l, including its two stages: the first
//! produces raw tokens in one of four states (normal, quoted string, help
//! text, assignment value); the second (`yylex`) drops repeated end-of-line
//! tokens, records the line of each statement's first token, and switches
//! to the assignment state after `WORD =`, `WORD :=` or `WORD +=` at the
//! start of a statement. An unquoted word containing `$` is expanded and,
//! if the expansion is empty, produces no token. Inside quotes every `$`
//! starts an expansion. This module knows nothing of symbols or menus.

use crate::preprocess::{PpError, Preprocessor};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Word(String),
    WordQuote(String),
    HelpText(String),
    AssignVal(String),
    Eol,
    Eof,
    Bool,
    Choice,
    Comment,
    Config,
    DefBool,
    DefTristate,
    Default,
    Depends,
    EndChoice,
    EndIf,
    EndMenu,
    Help,
    Hex,
    If,
    Imply,
    Int,
    MainMenu,
    Menu,
    MenuConfig,
    Modules,
    On,
    Optional,
    Prompt,
    Range,
    Select,
    Source,
    String,
    Tristate,
    Visible,
    Or,
    And,
    Equal,
    Unequal,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Not,
    OpenParen,
    CloseParen,
    ColonEqual,
    PlusEqual,
}

impl Tok {
    /// How a token reads in a diagnostic.
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::WordQuote(w) => format!("\"{w}\""),
            Tok::HelpText(_) => "help text".into(),
            Tok::AssignVal(v) => format!("'{v}'"),
            Tok::Eol => "end of line".into(),
            Tok::Eof => "end of file".into(),
            other => format!("'{}'", keyword_text(other)),
        }
    }
}

fn keyword_text(t: &Tok) -> &'static str {
    match t {
        Tok::Bool => "bool",
        Tok::Choice => "choice",
        Tok::Comment => "comment",
        Tok::Config => "config",
        Tok::DefBool => "def_bool",
        Tok::DefTristate => "def_tristate",
        Tok::Default => "default",
        Tok::Depends => "depends",
        Tok::EndChoice => "endchoice",
        Tok::EndIf => "endif",
        Tok::EndMenu => "endmenu",
        Tok::Help => "help",
        Tok::Hex => "hex",
        Tok::If => "if",
        Tok::Imply => "imply",
        Tok::Int => "int",
        Tok::MainMenu => "mainmenu",
        Tok::Menu => "menu",
        Tok::MenuConfig => "menuconfig",
        Tok::Modules => "modules",
        Tok::On => "on",
        Tok::Optional => "optional",
        Tok::Prompt => "prompt",
        Tok::Range => "range",
        Tok::Select => "select",
        Tok::Source => "source",
        Tok::String => "string",
        Tok::Tristate => "tristate",
        Tok::Visible => "visible",
        Tok::Or => "||",
        Tok::And => "&&",
        Tok::Equal => "=",
        Tok::Unequal => "!=",
        Tok::Less => "<",
        Tok::LessEqual => "<=",
        Tok::Greater => ">",
        Tok::GreaterEqual => ">=",
        Tok::Not => "!",
        Tok::OpenParen => "(",
        Tok::CloseParen => ")",
        Tok::ColonEqual => ":=",
        Tok::PlusEqual => "+=",
        _ => "?",
    }
}

fn keyword(w: &[u8], with_optional: bool) -> Option<Tok> {
    Some(match w {
        b"bool" => Tok::Bool,
        b"choice" => Tok::Choice,
        b"comment" => Tok::Comment,
        b"config" => Tok::Config,
        b"def_bool" => Tok::DefBool,
        b"def_tristate" => Tok::DefTristate,
        b"default" => Tok::Default,
        b"depends" => Tok::Depends,
        b"endchoice" => Tok::EndChoice,
        b"endif" => Tok::EndIf,
        b"endmenu" => Tok::EndMenu,
        b"help" => Tok::Help,
        b"hex" => Tok::Hex,
        b"if" => Tok::If,
        b"imply" => Tok::Imply,
        b"int" => Tok::Int,
        b"mainmenu" => Tok::MainMenu,
        b"menu" => Tok::Menu,
        b"menuconfig" => Tok::MenuConfig,
        b"modules" => Tok::Modules,
        b"on" => Tok::On,
        b"optional" if with_optional => Tok::Optional,
        b"prompt" => Tok::Prompt,
        b"range" => Tok::Range,
        b"select" => Tok::Select,
        b"source" => Tok::Source,
        b"string" => Tok::String,
        b"tristate" => Tok::Tristate,
        b"visible" => Tok::Visible,
        _ => return None,
    })
}

/// Bytes of an unquoted word (`[A-Za-z0-9_-]`), and `$`, as a table.
const WORD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' {
            t[i] = 1;
        } else if c == b'$' {
            t[i] = 2;
        }
        i += 1;
    }
    t
};

fn is_n(c: u8) -> bool {
    WORD[c as usize] == 1
}

/// A lexer diagnostic: a warning or a fatal error at file:line.
#[derive(Clone, Debug)]
pub struct LexMsg {
    pub file: String,
    pub line: u32,
    pub text: String,
    pub fatal: bool,
}

struct Buffer {
    data: Vec<u8>,
    pos: usize,
    lineno: u32,
    file: String,
    /// The line of the `source` statement that opened this buffer.
    source_line: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Initial,
    AssignVal,
}

/// The token stream over a stack of open files.
pub struct Lexer {
    stack: Vec<Buffer>,
    state: State,
    help_pending: bool,
    prev_token: Tok,
    prev_prev_token: Tok,
    /// The line of the current statement's first token (`cur_lineno`).
    pub cur_lineno: u32,
    pub msgs: Vec<LexMsg>,
    with_optional: bool,
}

impl Lexer {
    pub fn new(file: String, data: Vec<u8>, with_optional: bool) -> Lexer {
        Lexer {
            stack: vec![Buffer {
                data,
                pos: 0,
                lineno: 1,
                file,
                source_line: 0,
            }],
            state: State::Initial,
            help_pending: false,
            prev_token: Tok::Eol,
            prev_prev_token: Tok::Eol,
            cur_lineno: 1,
            msgs: Vec::new(),
            with_optional,
        }
    }

    /// The file being lexed (`cur_filename`).
    pub fn file(&self) -> &str {
        self.stack.last().map(|b| b.file.as_str()).unwrap_or("")
    }

    /// The raw line counter (`yylineno`).
    pub fn lineno(&self) -> u32 {
        self.stack.last().map(|b| b.lineno).unwrap_or(0)
    }

    /// The chain of `source` statements that led to the current file,
    /// innermost first: (file, line of the source statement).
    pub fn include_chain(&self) -> Vec<(String, u32)> {
        let mut v = Vec::new();
        for i in (1..self.stack.len()).rev() {
            v.push((self.stack[i - 1].file.clone(), self.stack[i].source_line));
        }
        v
    }

    /// Whether `name` is already open (recursive inclusion).
    pub fn is_open(&self, name: &str) -> bool {
        self.stack.iter().any(|b| b.file == name)
    }

    /// Starts lexing `data` as file `name` (`zconf_nextfile`).
    pub fn push_file(&mut self, name: String, data: Vec<u8>) {
        let source_line = self.cur_lineno;
        self.stack.push(Buffer {
            data,
            pos: 0,
            lineno: 1,
            file: name,
            source_line,
        });
    }

    /// The next token after `help` and its end of line is help text.
    pub fn start_help(&mut self) {
        self.help_pending = true;
    }

    fn warn(&mut self, line: u32, text: String) {
        let file = self.file().to_string();
        self.msgs.push(LexMsg {
            file,
            line,
            text,
            fatal: false,
        });
    }

    /// The second stage (`yylex`).
    pub fn next(&mut self, pp: &mut Preprocessor) -> Result<Tok, PpError> {
        loop {
            let tok = self.next_raw(pp)?;
            if matches!(self.prev_token, Tok::Eol | Tok::HelpText(_)) {
                if tok == Tok::Eol {
                    continue;
                }
                self.cur_lineno = self.lineno();
            }
            if self.prev_prev_token == Tok::Eol
                && matches!(self.prev_token, Tok::Word(_))
                && matches!(tok, Tok::Equal | Tok::ColonEqual | Tok::PlusEqual)
            {
                self.state = State::AssignVal;
            }
            self.prev_prev_token = std::mem::replace(&mut self.prev_token, shallow(&tok));
            return Ok(tok);
        }
    }

    fn next_raw(&mut self, pp: &mut Preprocessor) -> Result<Tok, PpError> {
        if self.help_pending {
            self.help_pending = false;
            if let Some(t) = self.lex_help() {
                return Ok(t);
            }
        }
        loop {
            let Some(buf) = self.stack.last_mut() else {
                return Ok(Tok::Eof);
            };
            if buf.pos >= buf.data.len() {
                // <<EOF>>
                self.state = State::Initial;
                if !matches!(self.prev_token, Tok::Eol | Tok::HelpText(_)) {
                    let l = self.lineno();
                    self.warn(l, "no new line at end of file".into());
                }
                if self.stack.len() > 1 {
                    self.stack.pop();
                    return Ok(Tok::Eol);
                }
                return Ok(Tok::Eof);
            }
            if self.state == State::AssignVal {
                let c = buf.data[buf.pos];
                if c == b'\n' {
                    buf.pos += 1;
                    buf.lineno += 1;
                    self.state = State::Initial;
                    return Ok(Tok::Eol);
                }
                if c == b' ' || c == b'\t' {
                    buf.pos += 1;
                    continue;
                }
                let end = line_end(&buf.data, buf.pos);
                let v = bytes_to_string(&buf.data[buf.pos..end]);
                buf.pos = end;
                return Ok(Tok::AssignVal(v));
            }
            let data = &buf.data;
            let p = buf.pos;
            let c = data[p];
            match c {
                b'#' => {
                    buf.pos = line_end(data, p);
                    continue;
                }
                b' ' | b'\t' => {
                    let mut q = p + 1;
                    while q < data.len() && (data[q] == b' ' || data[q] == b'\t') {
                        q += 1;
                    }
                    buf.pos = q;
                    continue;
                }
                b'\\' if data.get(p + 1) == Some(&b'\n') => {
                    buf.pos += 2;
                    buf.lineno += 1;
                    continue;
                }
                b'\n' => {
                    buf.pos += 1;
                    buf.lineno += 1;
                    return Ok(Tok::Eol);
                }
                b'"' | b'\'' => {
                    buf.pos += 1;
                    return self.lex_string(c, pp);
                }
                _ => {}
            }
            if is_n(c) || c == b'$' {
                let mut e = p;
                let mut class = 0u8;
                while e < data.len() && WORD[data[e] as usize] != 0 {
                    class |= WORD[data[e] as usize];
                    e += 1;
                }
                let dollar = class & 2 != 0;
                if !dollar {
                    let w = &data[p..e];
                    buf.pos = e;
                    if let Some(k) = keyword(w, self.with_optional) {
                        return Ok(k);
                    }
                    return Ok(Tok::Word(bytes_to_string(w)));
                }
                let le = line_end(data, p);
                let line: Vec<u8> = data[p..le].to_vec();
                pp.pos.file = buf.file.clone();
                pp.pos.line = buf.lineno;
                let (s, stop) = pp.expand_token(&line, 0)?;
                if let Some(buf) = self.stack.last_mut() {
                    buf.pos = p + stop;
                }
                if !s.is_empty() {
                    return Ok(Tok::Word(s));
                }
                continue;
            }
            let two = data.get(p + 1).copied();
            let (tok, len) = match (c, two) {
                (b'|', Some(b'|')) => (Tok::Or, 2),
                (b'&', Some(b'&')) => (Tok::And, 2),
                (b'!', Some(b'=')) => (Tok::Unequal, 2),
                (b'<', Some(b'=')) => (Tok::LessEqual, 2),
                (b'>', Some(b'=')) => (Tok::GreaterEqual, 2),
                (b':', Some(b'=')) => (Tok::ColonEqual, 2),
                (b'+', Some(b'=')) => (Tok::PlusEqual, 2),
                (b'=', _) => (Tok::Equal, 1),
                (b'<', _) => (Tok::Less, 1),
                (b'>', _) => (Tok::Greater, 1),
                (b'!', _) => (Tok::Not, 1),
                (b'(', _) => (Tok::OpenParen, 1),
                (b')', _) => (Tok::CloseParen, 1),
                _ => {
                    buf.pos += 1;
                    let l = buf.lineno;
                    self.warn(l, format!("ignoring unsupported character '{}'", c as char));
                    continue;
                }
            };
            buf.pos += len;
            return Ok(tok);
        }
    }

    /// The STRING state: after the opening quote `q`.
    fn lex_string(&mut self, q: u8, pp: &mut Preprocessor) -> Result<Tok, PpError> {
        let mut text: Vec<u8> = Vec::new();
        while let Some(buf) = self.stack.last_mut() {
            let data = &buf.data;
            let p = buf.pos;
            if p >= data.len() {
                break;
            }
            let c = data[p];
            match c {
                b'$' => {
                    let le = line_end(data, p);
                    let line: Vec<u8> = data[p..le].to_vec();
                    pp.pos.file = buf.file.clone();
                    pp.pos.line = buf.lineno;
                    let (s, stop) = pp.expand_dollar(&line, 1)?;
                    if let Some(buf) = self.stack.last_mut() {
                        buf.pos = p + stop;
                    }
                    text.extend_from_slice(s.as_bytes());
                }
                b'\\' => match data.get(p + 1) {
                    Some(&n) if n != b'\n' => {
                        text.push(n);
                        buf.pos += 2;
                    }
                    _ => buf.pos += 1,
                },
                b'\'' | b'"' => {
                    buf.pos += 1;
                    if c == q {
                        return Ok(Tok::WordQuote(bytes_to_string(&text)));
                    }
                    text.push(c);
                }
                b'\n' => {
                    let l = self.lineno();
                    self.warn(l, "multi-line strings not supported".into());
                    return Ok(Tok::WordQuote(bytes_to_string(&text)));
                }
                _ => {
                    let mut e = p;
                    while e < data.len() && !matches!(data[e], b'$' | b'\'' | b'"' | b'\\' | b'\n')
                    {
                        e += 1;
                    }
                    text.extend_from_slice(&data[p..e]);
                    buf.pos = e;
                }
            }
        }
        Ok(Tok::WordQuote(bytes_to_string(&text)))
    }

    /// The HELP state, from the start of the line after `help`. Returns
    /// `None` only when no buffer is open.
    fn lex_help(&mut self) -> Option<Tok> {
        let buf = self.stack.last_mut()?;
        let data = &buf.data;
        let mut text: Vec<u8> = Vec::new();
        let mut first_ts = 0usize;
        let mut last_ts = 0usize;
        loop {
            let mut p = buf.pos;
            if p >= data.len() {
                break;
            }
            // Leading blanks.
            let ws_start = p;
            while p < data.len() && (data[p] == b' ' || data[p] == b'\t') {
                p += 1;
            }
            if p >= data.len() {
                // `[ \t]+` then end of file.
                if p > ws_start {
                    let ts = tab_width(&data[ws_start..p]);
                    if first_ts != 0 && ts >= first_ts {
                        push_indent(&mut text, ts - first_ts);
                    }
                }
                buf.pos = p;
                break;
            }
            if data[p] == b'\n' {
                // A blank line: `[ \t]*\n/[^ \t\n]` ends the help text.
                let next = data.get(p + 1).copied();
                buf.pos = p + 1;
                buf.lineno += 1;
                match next {
                    Some(n) if n != b' ' && n != b'\t' && n != b'\n' => {
                        return Some(Tok::HelpText(into_string(text)));
                    }
                    _ => text.push(b'\n'),
                }
                continue;
            }
            if p > ws_start {
                let ts = tab_width(&data[ws_start..p]);
                last_ts = ts;
                if first_ts != 0 {
                    if ts < first_ts {
                        buf.pos = p;
                        return Some(Tok::HelpText(into_string(text)));
                    }
                    push_indent(&mut text, ts - first_ts);
                }
            }
            // `[^ \t\n].*`: the line's text, trailing blanks trimmed.
            let le = line_end(data, p);
            let mut e = le;
            while e > p && (data[e - 1] == b' ' || data[e - 1] == b'\t') {
                e -= 1;
            }
            text.extend_from_slice(&data[p..e]);
            if first_ts == 0 {
                first_ts = last_ts;
            }
            buf.pos = le;
            if le >= data.len() {
                break;
            }
            // The newline ending a text line.
            let next = data.get(le + 1).copied();
            buf.pos = le + 1;
            buf.lineno += 1;
            match next {
                Some(n) if n != b' ' && n != b'\t' && n != b'\n' => {
                    return Some(Tok::HelpText(into_string(text)));
                }
                _ => text.push(b'\n'),
            }
        }
        Some(Tok::HelpText(into_string(text)))
    }
}

fn into_string(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Kconfig files are UTF-8 in practice; anything else is kept lossily.
pub(crate) fn bytes_to_string(b: &[u8]) -> String {
    crate::text_of(b).into_owned()
}

fn tab_width(ws: &[u8]) -> usize {
    let mut ts = 0;
    for &c in ws {
        if c == b'\t' {
            ts = (ts & !7) + 8;
        } else {
            ts += 1;
        }
    }
    ts
}

fn push_indent(text: &mut Vec<u8>, mut n: usize) {
    while n > 8 {
        text.extend_from_slice(b"        ");
        n -= 8;
    }
    text.extend(std::iter::repeat_n(b' ', n));
}

fn line_end(data: &[u8], from: usize) -> usize {
    data[from..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(data.len(), |i| from + i)
}

impl Tok {
    /// The token without its text: a cheap copy to dispatch on.
    pub fn kind(&self) -> Tok {
        shallow(self)
    }
}

/// A cheap copy of a token for the previous-token bookkeeping.
fn shallow(t: &Tok) -> Tok {
    match t {
        Tok::Word(_) => Tok::Word(String::new()),
        Tok::WordQuote(_) => Tok::WordQuote(String::new()),
        Tok::HelpText(_) => Tok::HelpText(String::new()),
        Tok::AssignVal(_) => Tok::AssignVal(String::new()),
        other => other.clone(),
    }
}
