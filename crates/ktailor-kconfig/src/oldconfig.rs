//! conf's line-oriented front end: `oldaskconfig` (make config) asks about
//! every visible option; `oldconfig` asks only about options the
//! configuration has no value for.
//!
//! Mirrors conf.c's `conf`, `conf_sym`, `conf_string`, `conf_choice` and
//! `check_conf`, including their exact prompts: answers are read one line
//! at a time; when standard input is not a terminal each line read is echoed
//! (as `xfgets` does), and at the end of input an empty answer (the
//! default) is assumed.

use std::io::BufRead;

use crate::confdata::DataOptions;
use crate::{Dialect, Kconfig, MenuId, PropType, SymType, Tri};

pub(crate) struct Ask<'a> {
    pub input: &'a mut dyn BufRead,
    pub echo: bool,
    pub out: Vec<u8>,
    pub err: Vec<u8>,
    pub ask_all: bool,
    indent: usize,
    root_entry: MenuId,
    conf_cnt: u32,
    line: String,
    prefix: String,
    eof: bool,
    pub fatal: Option<String>,
}

impl<'a> Ask<'a> {
    pub fn new(input: &'a mut dyn BufRead, echo: bool, ask_all: bool, data: &DataOptions) -> Self {
        Ask {
            input,
            echo,
            out: Vec::new(),
            err: Vec::new(),
            ask_all,
            indent: 1,
            root_entry: MenuId::ROOT,
            conf_cnt: 0,
            line: String::new(),
            prefix: data.prefix.clone(),
            eof: false,
            fatal: None,
        }
    }

    /// Output goes straight to the terminal in interactive use (prompts must
    /// appear before the answer is typed); otherwise it is collected.
    fn print(&mut self, s: &str) {
        if !self.echo {
            use std::io::Write as _;
            let mut o = std::io::stdout();
            let _ = o.write_all(s.as_bytes());
            let _ = o.flush();
        } else {
            self.out.extend_from_slice(s.as_bytes());
        }
    }

    /// `xfgets`: reads a line (keeping its newline); at the end of input the
    /// previous contents stay and an error is printed.
    fn read_line(&mut self) -> bool {
        let mut s = String::new();
        match self.input.read_line(&mut s) {
            Ok(n) if n > 0 => {
                self.line = s;
                if self.echo {
                    let l = self.line.clone();
                    self.print(&l);
                }
                true
            }
            _ => {
                self.eof = true;
                self.err
                    .extend_from_slice(b"\nError in reading or end of file.\n");
                if self.echo {
                    let l = self.line.clone();
                    self.print(&l);
                }
                false
            }
        }
    }

    fn strip(&mut self) {
        self.line = self
            .line
            .trim_matches(|c: char| c.is_ascii_whitespace())
            .to_string();
    }
}

impl Kconfig {
    /// `conf_askvalue`.
    fn askvalue(&mut self, a: &mut Ask, s: crate::SymId, def: &str) -> bool {
        if !self.syms[s.idx()].has_value() {
            a.print("(NEW) ");
        }
        a.line = "\n".into();
        if !self.sym_is_changeable(s) {
            a.print(&format!("{def}\n"));
            return false;
        }
        if !a.ask_all && self.syms[s.idx()].has_value() {
            a.print(&format!("{def}\n"));
            return false;
        }
        a.read_line();
        true
    }

    fn print_help(&mut self, a: &mut Ask, m: MenuId) {
        let p = a.prefix.clone();
        let h = self.menu_get_ext_help(m, &p);
        a.print(&format!("\n{h}\n"));
    }

    /// `conf_sym`.
    fn conf_sym(&mut self, a: &mut Ask, m: MenuId) {
        let Some(s) = self.menus[m.idx()].sym else {
            return;
        };
        loop {
            if a.fatal.is_some() {
                return;
            }
            let text = self.menus[m.idx()]
                .prompt
                .and_then(|p| self.props[p.idx()].text.clone())
                .unwrap_or_default();
            a.print(&format!("{:w$}{text} ", "", w = a.indent - 1));
            if let Some(n) = &self.syms[s.idx()].name {
                a.print(&format!("({n}) "));
            }
            a.print("[");
            let old = self.syms[s.idx()].curr_tri;
            a.print(match old {
                Tri::N => "N",
                Tri::M => "M",
                Tri::Y => "Y",
            });
            if old != Tri::N && self.sym_tristate_within_range(s, Tri::N) {
                a.print("/n");
            }
            if old != Tri::M && self.sym_tristate_within_range(s, Tri::M) {
                a.print("/m");
            }
            if old != Tri::Y && self.sym_tristate_within_range(s, Tri::Y) {
                a.print("/y");
            }
            a.print("/?] ");
            let def = self.sym_get_string_value(s).to_string();
            if !self.askvalue(a, s, &def) {
                return;
            }
            a.strip();
            let l = a.line.clone();
            let b = l.as_bytes();
            let new = match b.first() {
                Some(b'n' | b'N') if l.len() == 1 || &l[1..] == "o" => Tri::N,
                Some(b'm' | b'M') if l.len() == 1 => Tri::M,
                Some(b'y' | b'Y') if l.len() == 1 || &l[1..] == "es" => Tri::Y,
                None => old,
                Some(b'?') => {
                    self.print_help(a, m);
                    continue;
                }
                _ => continue,
            };
            if self.sym_set_tristate_value(s, new) {
                return;
            }
            self.print_help(a, m);
        }
    }

    /// `conf_string`.
    fn conf_string(&mut self, a: &mut Ask, m: MenuId) {
        let Some(s) = self.menus[m.idx()].sym else {
            return;
        };
        loop {
            if a.fatal.is_some() {
                return;
            }
            let text = self.menus[m.idx()]
                .prompt
                .and_then(|p| self.props[p.idx()].text.clone())
                .unwrap_or_default();
            a.print(&format!("{:w$}{text} ", "", w = a.indent - 1));
            a.print(&format!("({}) ", self.sym_name(s)));
            let def = self.sym_get_string_value(s).to_string();
            a.print(&format!("[{def}] "));
            if !self.askvalue(a, s, &def) {
                return;
            }
            let mut value = Some(def);
            let l = a.line.clone();
            match l.as_bytes().first() {
                Some(b'\n') => {}
                Some(b'?') if l.as_bytes().get(1) == Some(&b'\n') => {
                    self.print_help(a, m);
                    value = None;
                }
                _ => {
                    let mut t = l.clone();
                    t.pop();
                    value = Some(t);
                }
            }
            if let Some(v) = value {
                if self.sym_set_string_value(s, &v) {
                    return;
                }
            }
            // At the end of input the same answer would come forever
            // (Debian's conf stops with this error; upstream 6.1 loops).
            if a.eof {
                a.fatal = Some(format!(
                    "no value for new symbol '{}' at end of input",
                    self.sym_name(s)
                ));
                return;
            }
        }
    }

    fn visible_children(&mut self, m: MenuId) -> Vec<MenuId> {
        let mut v = Vec::new();
        let mut c = self.menus[m.idx()].list;
        while let Some(x) = c {
            v.push(x);
            c = self.menus[x.idx()].next;
        }
        v
    }

    /// `conf_choice` (6.12).
    fn conf_choice(&mut self, a: &mut Ask, m: MenuId) -> bool {
        let cs = self.menus[m.idx()].sym;
        let mut is_new = false;
        if self.dialect == Dialect::V6_1 {
            let Some(cs) = cs else { return true };
            is_new = !self.syms[cs.idx()].has_value();
            if self.sym_is_changeable(cs) {
                self.conf_sym(a, m);
                self.sym_calc_value(cs);
                match self.syms[cs.idx()].curr_tri {
                    Tri::N => return true,
                    Tri::M => return false,
                    Tri::Y => {}
                }
            } else {
                match self.syms[cs.idx()].curr_tri {
                    Tri::N => return true,
                    Tri::M => {
                        let p = self.menu_get_prompt(m).unwrap_or_default();
                        a.print(&format!("{:w$}{p}\n", "", w = a.indent - 1));
                        return false;
                    }
                    Tri::Y => {}
                }
            }
        }
        loop {
            if a.fatal.is_some() {
                return true;
            }
            let p = self.menu_get_prompt(m).unwrap_or_default();
            a.print(&format!("{:w$}{p}\n", "", w = a.indent - 1));
            let def_sym = match self.dialect {
                Dialect::V6_12 => self.sym_calc_choice_612(m),
                Dialect::V6_1 => cs.and_then(|c| {
                    self.sym_calc_value(c);
                    self.syms[c.idx()].curr_choice
                }),
            };
            let mut cnt = 0;
            let mut def = 0;
            a.line.clear();
            for child in self.visible_children(m) {
                if !self.menu_is_visible(child) {
                    continue;
                }
                let Some(cs2) = self.menus[child.idx()].sym else {
                    let p = self.menu_get_prompt(child).unwrap_or_default();
                    a.print(&format!("{:>w$} {p}\n", '*', w = a.indent));
                    continue;
                };
                cnt += 1;
                if Some(cs2) == def_sym {
                    def = cnt;
                    a.print(&format!("{:>w$}", '>', w = a.indent));
                } else {
                    a.print(&format!("{:>w$}", ' ', w = a.indent));
                }
                let p = self.menu_get_prompt(child).unwrap_or_default();
                a.print(&format!(" {cnt}. {p}"));
                if let Some(n) = self.syms[cs2.idx()].name.clone() {
                    a.print(&format!(" ({n})"));
                }
                if !self.syms[cs2.idx()].has_value() {
                    if self.dialect == Dialect::V6_12 {
                        is_new = true;
                    }
                    a.print(" (NEW)");
                }
                a.print("\n");
            }
            a.print(&format!("{:w$}choice", "", w = a.indent - 1));
            let mut choose = cnt;
            if cnt == 1 {
                a.print("[1]: 1\n");
            } else {
                a.print(&format!("[1-{cnt}?]: "));
                if !a.ask_all && !is_new {
                    choose = def;
                    a.print(&format!("{choose}\n"));
                } else {
                    a.read_line();
                    a.strip();
                    let l = a.line.clone();
                    if l.starts_with('?') {
                        self.print_help(a, m);
                        continue;
                    }
                    if l.is_empty() {
                        choose = def;
                    } else if l.as_bytes()[0].is_ascii_digit() {
                        let digits: String = l.chars().take_while(|c| c.is_ascii_digit()).collect();
                        choose = digits.parse().unwrap_or(0);
                    } else {
                        continue;
                    }
                }
            }
            let mut picked = None;
            let mut n = choose as i64;
            for child in self.visible_children(m) {
                if self.menus[child.idx()].sym.is_none() || !self.menu_is_visible(child) {
                    continue;
                }
                n -= 1;
                if n == 0 {
                    picked = Some(child);
                    break;
                }
            }
            let Some(child) = picked else { continue };
            if a.line.ends_with('?') {
                self.print_help(a, child);
                continue;
            }
            let Some(s) = self.menus[child.idx()].sym else {
                continue;
            };
            match self.dialect {
                Dialect::V6_12 => self.choice_set_value(m, s),
                Dialect::V6_1 => {
                    self.sym_set_tristate_value(s, Tri::Y);
                    let mut c = self.menus[child.idx()].list;
                    while let Some(x) = c {
                        a.indent += 2;
                        self.conf_menu(a, x);
                        a.indent -= 2;
                        c = self.menus[x.idx()].next;
                    }
                }
            }
            return true;
        }
    }

    /// `conf`.
    pub(crate) fn conf_menu(&mut self, a: &mut Ask, m: MenuId) {
        if a.fatal.is_some() || !self.menu_is_visible(m) {
            return;
        }
        let sym = self.menus[m.idx()].sym;
        if let Some(p) = self.menus[m.idx()].prompt {
            let ty = self.props[p.idx()].ty;
            let show = match ty {
                PropType::Menu => {
                    if !a.ask_all && a.root_entry != m {
                        self.check_conf_ask(a, m);
                        return;
                    }
                    true
                }
                PropType::Comment => true,
                _ => false,
            };
            if show {
                if let Some(p) = self.menu_get_prompt(m) {
                    let w = a.indent;
                    a.print(&format!("{:>w$}\n{:>w$} {p}\n{:>w$}\n", '*', '*', '*'));
                }
            }
        }
        if let Some(s) = sym {
            if self.is_choice(s) {
                self.conf_choice(a, m);
                if self.dialect == Dialect::V6_12 || self.syms[s.idx()].curr_tri != Tri::M {
                    return;
                }
            } else {
                match self.syms[s.idx()].ty {
                    SymType::Int | SymType::Hex | SymType::String => self.conf_string(a, m),
                    _ => self.conf_sym(a, m),
                }
            }
        }
        if sym.is_some() {
            a.indent += 2;
        }
        let mut c = self.menus[m.idx()].list;
        while let Some(x) = c {
            self.conf_menu(a, x);
            c = self.menus[x.idx()].next;
        }
        if sym.is_some() {
            a.indent -= 2;
        }
    }

    /// `check_conf` in the asking modes: restart at the enclosing menu of
    /// every new option.
    pub(crate) fn check_conf_ask(&mut self, a: &mut Ask, m: MenuId) {
        if a.fatal.is_some() || !self.menu_is_visible(m) {
            return;
        }
        if let Some(s) = self.menus[m.idx()].sym {
            let new = !self.syms[s.idx()].has_value()
                && match self.dialect {
                    Dialect::V6_12 => self.sym_is_changeable(s),
                    Dialect::V6_1 => {
                        self.sym_is_changeable(s)
                            || (self.is_choice(s) && self.syms[s.idx()].curr_tri == Tri::Y)
                    }
                };
            if new {
                if a.conf_cnt == 0 {
                    a.print("*\n* Restart config...\n*\n");
                }
                a.conf_cnt += 1;
                a.root_entry = self.menu_get_parent_menu(m);
                let r = a.root_entry;
                self.conf_menu(a, r);
            }
        }
        let mut c = self.menus[m.idx()].list;
        while let Some(x) = c {
            self.check_conf_ask(a, x);
            c = self.menus[x.idx()].next;
        }
    }

    /// Runs oldaskconfig (`ask_all`) or oldconfig on the loaded values.
    pub(crate) fn run_ask(&mut self, a: &mut Ask) {
        if a.ask_all {
            a.root_entry = MenuId::ROOT;
            self.conf_menu(a, MenuId::ROOT);
            a.ask_all = false;
        }
        loop {
            a.conf_cnt = 0;
            self.check_conf_ask(a, MenuId::ROOT);
            if a.conf_cnt == 0 || a.fatal.is_some() {
                break;
            }
        }
    }
}
