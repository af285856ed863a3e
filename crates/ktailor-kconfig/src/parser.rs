//! The Kconfig parser: statements into the menu tree and symbol table.
//!
//! A recursive-descent rendering of scripts/kconfig/parser.y. The grammar
//! actions are the `menu_add_*` helpers below, which mirror the functions of
//! the same names in menu.c; they run at the same points in the token
//! stream as bison's reductions, so file and line numbers, `source`
//! handling and help-text lexing happen exactly where the C parser does
//! them. Syntax errors are collected (each skips to the end of the line, as
//! bison's `error T_EOL` rules do) and make [`parse`] fail after the whole
//! tree has been read.
//!
//! After parsing, [`parse`] runs `menu_finalize` (see `menu.rs`) and the
//! recursive-dependency check (see `symbol.rs`), as `conf_parse` does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Diagnostic;
use crate::expr::{CmpOp, ExprId};
use crate::lexer::{Lexer, Tok};
use crate::preprocess::{Flavor, PpError, PpMessage, Preprocessor, Shell};
use crate::{
    flags, Dialect, FileId, Kconfig, Menu, MenuId, PropId, PropType, Property, SymId, SymType,
};

/// Opens Kconfig files by the name a `source` statement gives.
pub trait FileLoader {
    /// Returns the file's bytes, or `None` if it cannot be opened. Mirrors
    /// `zconf_fopen`: the name as given, then `$srctree/name`.
    fn open(&mut self, name: &str) -> Option<Vec<u8>>;

    /// What `open(name)` would read, cheaply: which file it resolves to and
    /// that file's size and modification time (for cache validation).
    fn identity(&mut self, name: &str) -> String;
}

fn file_identity(p: &Path) -> Option<String> {
    let md = std::fs::metadata(p).ok()?;
    if !md.is_file() {
        return None;
    }
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Some(identity_text(p, md.len(), mtime))
}

/// PATH:SIZE:MTIME_NS, built without the formatting machinery: a warm
/// load checks every sourced file this way.
fn identity_text(p: &Path, len: u64, mtime_ns: u128) -> String {
    let path = p.to_string_lossy();
    let mut id = String::with_capacity(path.len() + 32);
    id.push_str(&path);
    push_identity_numbers(&mut id, len, mtime_ns);
    id
}

/// `:SIZE:MTIME_NS`. A modification time fits 64 bits until 2554; 64-bit
/// digits are much cheaper than 128-bit ones.
fn push_identity_numbers(id: &mut String, len: u64, mtime_ns: u128) {
    fn push_u64(id: &mut String, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        // Decimal digits are ASCII.
        id.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
    }
    id.push(':');
    push_u64(id, len);
    id.push(':');
    match u64::try_from(mtime_ns) {
        Ok(t) => push_u64(id, t),
        Err(_) => id.push_str(&mtime_ns.to_string()),
    }
}

/// [`file_identity`] of `dir_path/rel`, looked up from the open directory
/// `dir` (`fstatat`): the kernel walks only `rel`'s components, not the
/// directory's whole path again for each of the tree's Kconfig files.
fn file_identity_at(dir: &std::fs::File, dir_path: &Path, rel: &str) -> Option<String> {
    use nix::sys::stat::{fstatat, SFlag};
    let st = fstatat(dir, rel, nix::fcntl::AtFlags::empty()).ok()?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return None;
    }
    // As `SystemTime::duration_since(UNIX_EPOCH)` counts it (0 before 1970).
    let mtime = if st.st_mtime >= 0 {
        st.st_mtime as u128 * 1_000_000_000 + st.st_mtime_nsec as u128
    } else {
        0
    };
    // `dir_path.join(rel)` as text (`rel` is relative), in one allocation.
    let dir = dir_path.to_string_lossy();
    let mut id = String::with_capacity(dir.len() + rel.len() + 33);
    id.push_str(&dir);
    if !id.is_empty() && !id.ends_with('/') {
        id.push('/');
    }
    id.push_str(rel);
    push_identity_numbers(&mut id, st.st_size as u64, mtime);
    Some(id)
}

/// Loads files from the file system relative to a working directory, then
/// to `srctree` (itself relative to the working directory when not
/// absolute).
pub struct FsLoader {
    cwd: PathBuf,
    srctree: Option<String>,
    /// Whether `cwd/DIR` exists, for the first component DIR of relative
    /// names: an object tree without `drivers/` has no `drivers/**/Kconfig`,
    /// so checking a cached parse need not look each one up there.
    top_dirs: std::collections::HashMap<String, bool>,
    /// The directory `$srctree` names, opened on first use (None inside:
    /// it cannot be opened), for [`file_identity_at`].
    src_dir: Option<Option<(PathBuf, std::fs::File)>>,
}

impl FsLoader {
    pub fn new(cwd: PathBuf, srctree: Option<String>) -> FsLoader {
        FsLoader {
            cwd,
            srctree,
            top_dirs: Default::default(),
            src_dir: None,
        }
    }

    /// False when `cwd/name` cannot exist because the directory its
    /// relative name starts with does not.
    fn may_exist_in_cwd(&mut self, name: &str) -> bool {
        let Some((top, _)) = name.split_once('/') else {
            return true;
        };
        if name.starts_with('/') || top.is_empty() || top == "." || top == ".." {
            return true;
        }
        if let Some(&e) = self.top_dirs.get(top) {
            return e;
        }
        let e = std::fs::symlink_metadata(self.cwd.join(top)).is_ok();
        self.top_dirs.insert(top.to_string(), e);
        e
    }
}

impl FileLoader for FsLoader {
    fn open(&mut self, name: &str) -> Option<Vec<u8>> {
        let direct = self.cwd.join(name);
        if let Ok(d) = std::fs::read(&direct) {
            return Some(d);
        }
        if name.starts_with('/') {
            return None;
        }
        let src = self.srctree.as_ref()?;
        let full = self.cwd.join(Path::new(&format!("{src}/{name}")));
        std::fs::read(full).ok()
    }

    fn identity(&mut self, name: &str) -> String {
        if self.may_exist_in_cwd(name) {
            if let Some(id) = file_identity(&self.cwd.join(name)) {
                return id;
            }
        }
        if name.starts_with('/') {
            return "missing".into();
        }
        let Some(src) = &self.srctree else {
            return "missing".into();
        };
        let (cwd, src) = (&self.cwd, src.as_str());
        let dir = self.src_dir.get_or_insert_with(|| {
            let p = cwd.join(src);
            std::fs::File::open(&p).ok().map(|f| (p, f))
        });
        let id = match dir {
            // The same file as `cwd/src/name`: `src` is a directory path,
            // and `name` is relative.
            Some((p, f)) => file_identity_at(f, p, name),
            None => file_identity(&self.cwd.join(format!("{src}/{name}"))),
        };
        id.unwrap_or_else(|| "missing".into())
    }
}

/// What parsing needs from the outside.
pub struct ParseInput<'a> {
    pub dialect: Dialect,
    /// The top Kconfig file name as conf receives it.
    pub kconfig: &'a str,
    pub loader: &'a mut dyn FileLoader,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub shell: &'a mut dyn Shell,
}

/// A failed parse: every diagnostic, errors among them.
#[derive(Debug)]
pub struct ParseError {
    pub diags: Vec<Diagnostic>,
}

/// Where the next menu entry is linked (`last_entry_ptr`).
#[derive(Clone, Copy)]
enum Link {
    ListOf(MenuId),
    NextOf(MenuId),
}

struct Parser<'a, 'p> {
    k: Kconfig,
    lx: Lexer,
    pp: Preprocessor<'p>,
    loader: &'a mut dyn FileLoader,
    peeked: Option<Tok>,
    current_menu: MenuId,
    current_entry: MenuId,
    current_choice: Option<MenuId>,
    last_entry: Link,
    nerrs: u32,
    fatal: Option<Diagnostic>,
    file_cache: rustc_hash::FxHashMap<String, FileId>,
    last_file: Option<(String, FileId)>,
}

/// Parses a Kconfig tree (`conf_parse`).
pub fn parse(input: ParseInput) -> Result<Kconfig, ParseError> {
    let ParseInput {
        dialect,
        kconfig,
        loader,
        env,
        shell,
    } = input;
    let Some(data) = loader.open(kconfig) else {
        return Err(ParseError {
            diags: vec![Diagnostic::error(
                "",
                0,
                format!("can't find file {kconfig}"),
            )],
        });
    };
    let mut k = Kconfig::new(dialect);
    k.sourced.push(kconfig.to_string());
    let lx = Lexer::new(kconfig.to_string(), data, dialect == Dialect::V6_1);
    let pp = Preprocessor::new(env, shell);
    let mut p = Parser {
        k,
        lx,
        pp,
        loader,
        peeked: None,
        current_menu: MenuId::ROOT,
        current_entry: MenuId::ROOT,
        current_choice: None,
        last_entry: Link::ListOf(MenuId::ROOT),
        nerrs: 0,
        fatal: None,
        file_cache: Default::default(),
        last_file: None,
    };
    p.input();
    p.finish()
}

type PResult<T> = Result<T, ()>;

impl<'a, 'p> Parser<'a, 'p> {
    fn finish(mut self) -> Result<Kconfig, ParseError> {
        self.flush_lexer_msgs();
        self.k.env_used = std::mem::take(&mut self.pp.env_used).into();
        if let Some(f) = self.fatal.take() {
            self.k.diags.push(f);
            return Err(ParseError {
                diags: self.k.diags,
            });
        }
        if self.nerrs > 0 {
            return Err(ParseError {
                diags: self.k.diags,
            });
        }
        let mut k = self.k;
        if k.modules_sym == SymId::NO {
            // No `modules` option: MODULES is the constant n.
        }
        if k.menus[0].prompt.is_none() {
            let root = MenuId::ROOT;
            let pid = new_prop(&mut k, PropType::Menu, None, None, root, None, 0);
            k.props[pid.idx()].text = Some("Main menu".into());
            k.menus[0].prompt = Some(pid);
        }
        k.menu_finalize();
        k.index_choice_menus();
        if k.check_all_deps() > 0 {
            return Err(ParseError { diags: k.diags });
        }
        k.changed = true;
        Ok(k)
    }

    fn flush_lexer_msgs(&mut self) {
        for m in self.lx.msgs.drain(..) {
            let d = if m.fatal {
                Diagnostic::error(m.file, m.line, m.text)
            } else {
                Diagnostic::warning(m.file, m.line, m.text)
            };
            self.k.diags.push(d);
        }
        for m in self.pp.messages.drain(..) {
            match m {
                PpMessage::Info(s) => self
                    .k
                    .diags
                    .push(Diagnostic::warning("", 0, s).from_kconfig(crate::Origin::Info)),
                PpMessage::Warning { file, line, text } => self.k.diags.push(
                    Diagnostic::warning(file, line, text).from_kconfig(crate::Origin::Warning),
                ),
            }
        }
    }

    // ---- token plumbing ----------------------------------------------

    fn peek(&mut self) -> &Tok {
        if self.peeked.is_none() {
            let t = if self.fatal.is_some() {
                Tok::Eof
            } else {
                match self.lx.next(&mut self.pp) {
                    Ok(t) => t,
                    Err(PpError(msg)) => {
                        let line = self.lx.lineno();
                        self.fatal = Some(Diagnostic::error(self.lx.file().to_string(), line, msg));
                        Tok::Eof
                    }
                }
            };
            self.peeked = Some(t);
        }
        self.peeked.as_ref().unwrap_or(&Tok::Eof)
    }

    fn bump(&mut self) -> Tok {
        self.peek();
        self.peeked.take().unwrap_or(Tok::Eof)
    }

    fn cur_file_id(&mut self) -> FileId {
        if let Some((n, id)) = &self.last_file {
            if n == self.lx.file() {
                return *id;
            }
        }
        let name = self.lx.file().to_string();
        let id = match self.file_cache.get(&name) {
            Some(&id) => id,
            None => {
                self.k.files.push(Arc::from(name.as_str()));
                let id = FileId((self.k.files.len() - 1) as u32);
                self.file_cache.insert(name.clone(), id);
                id
            }
        };
        self.last_file = Some((name, id));
        id
    }

    fn error_here(&mut self, msg: String) {
        self.nerrs += 1;
        let line = self.lx.cur_lineno;
        let file = self.lx.file().to_string();
        self.k.diags.push(Diagnostic::error(file, line, msg));
    }

    /// Skips to the end of the line after a syntax error (`error T_EOL`).
    fn recover(&mut self, what: &str) {
        let t = self.peek().clone();
        let msg = if t == Tok::Eof {
            format!("syntax error, unexpected end of file in {what}")
        } else {
            format!("syntax error, unexpected {} in {what}", t.describe())
        };
        self.error_here(msg);
        loop {
            match self.bump() {
                Tok::Eol | Tok::Eof => break,
                _ => {}
            }
        }
    }

    fn expect_eol(&mut self, what: &str) -> PResult<()> {
        if *self.peek() == Tok::Eol {
            self.bump();
            Ok(())
        } else {
            self.recover(what);
            Err(())
        }
    }

    fn expect_quote(&mut self, what: &str) -> PResult<String> {
        if let Tok::WordQuote(_) = self.peek() {
            if let Tok::WordQuote(s) = self.bump() {
                return Ok(s);
            }
        }
        self.recover(what);
        Err(())
    }

    fn expect_word(&mut self, what: &str) -> PResult<String> {
        if let Tok::Word(_) = self.peek() {
            if let Tok::Word(s) = self.bump() {
                return Ok(s);
            }
        }
        self.recover(what);
        Err(())
    }

    // ---- grammar -------------------------------------------------------

    fn input(&mut self) {
        if *self.peek() == Tok::MainMenu {
            self.bump();
            if let Ok(text) = self.expect_quote("mainmenu") {
                if self.expect_eol("mainmenu").is_ok() {
                    self.menu_add_prompt(PropType::Menu, &text, None);
                }
            }
        }
        loop {
            let end = self.stmt_list(false);
            match end {
                Tok::Eof => break,
                t => {
                    // An `end*` token with no open block.
                    let msg = format!("syntax error, unexpected {}", t.describe());
                    self.error_here(msg);
                    self.bump();
                }
            }
        }
    }

    /// Parses statements until an `end*` token or end of file, which is
    /// returned without being consumed.
    fn stmt_list(&mut self, in_choice: bool) -> Tok {
        loop {
            if self.fatal.is_some() {
                return Tok::Eof;
            }
            let t = self.peek().kind();
            match t {
                Tok::Eof | Tok::EndMenu | Tok::EndChoice | Tok::EndIf => return t,
                Tok::Config => self.config_stmt(false),
                Tok::Comment => self.comment_stmt(),
                Tok::If => self.if_stmt(in_choice),
                Tok::MenuConfig if !in_choice => self.config_stmt(true),
                Tok::Choice if !in_choice => self.choice_stmt(),
                Tok::Menu if !in_choice => self.menu_stmt(),
                Tok::Source if !in_choice => self.source_stmt(),
                Tok::Word(_) if !in_choice => self.assignment_or_unknown(),
                Tok::Eol => {
                    self.bump();
                }
                _ => {
                    self.error_here("invalid statement".into());
                    loop {
                        match self.bump() {
                            Tok::Eol | Tok::Eof => break,
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    fn assignment_or_unknown(&mut self) {
        let Tok::Word(name) = self.bump() else { return };
        let flavor = match self.peek() {
            Tok::Equal => Flavor::Recursive,
            Tok::ColonEqual => Flavor::Simple,
            Tok::PlusEqual => Flavor::Append,
            _ => {
                self.error_here(format!("unknown statement \"{name}\""));
                loop {
                    match self.bump() {
                        Tok::Eol | Tok::Eof => break,
                        _ => {}
                    }
                }
                return;
            }
        };
        self.bump();
        let value = match self.peek() {
            Tok::AssignVal(_) => match self.bump() {
                Tok::AssignVal(v) => v,
                _ => String::new(),
            },
            _ => String::new(),
        };
        if self.expect_eol("assignment").is_err() {
            return;
        }
        self.pp.pos.file = self.lx.file().to_string();
        self.pp.pos.line = self.lx.lineno();
        if let Err(PpError(msg)) = self.pp.add_variable(&name, &value, flavor) {
            let line = self.lx.lineno();
            self.fatal = Some(Diagnostic::error(self.lx.file().to_string(), line, msg));
        }
    }

    fn config_stmt(&mut self, menuconfig: bool) {
        self.bump();
        let Ok(name) = self.expect_word(if menuconfig { "menuconfig" } else { "config" }) else {
            return;
        };
        if self.expect_eol("config").is_err() {
            return;
        }
        let sym = self.k.lookup(&name, false);
        if self.k.dialect == Dialect::V6_1 {
            self.k.sym_mut(sym).flags |= flags::OPTIONAL;
        }
        self.menu_add_entry(Some(sym));
        self.config_option_list();
        if menuconfig {
            let e = self.current_entry;
            if let Some(p) = self.k.menus[e.idx()].prompt {
                self.k.props[p.idx()].ty = PropType::Menu;
            } else {
                let line = self.lx.cur_lineno;
                let f = self.lx.file().to_string();
                self.k.diags.push(Diagnostic::warning(
                    f,
                    line,
                    "menuconfig statement without prompt",
                ));
            }
        } else if self.k.dialect == Dialect::V6_12 {
            if let Some(ch) = self.current_choice {
                let e = self.current_entry;
                let (file, line) = (
                    self.k.file_name(self.k.menus[e.idx()].file).to_string(),
                    self.k.menus[e.idx()].line,
                );
                if self.k.menus[e.idx()].prompt.is_none() {
                    self.nerrs += 1;
                    self.k.diags.push(Diagnostic::error(
                        file.clone(),
                        line,
                        "choice member must have a prompt",
                    ));
                }
                if self.k.sym(sym).ty != SymType::Bool {
                    self.nerrs += 1;
                    self.k
                        .diags
                        .push(Diagnostic::error(file, line, "choice member must be bool"));
                }
                if self.k.sym(sym).choice_link.is_none() {
                    self.k.sym_mut(sym).choice_link = Some(ch);
                    self.k.choice_members_mut(ch).push(sym);
                }
            }
        }
    }

    fn config_option_list(&mut self) {
        loop {
            if self.fatal.is_some() {
                return;
            }
            let t = self.peek().kind();
            let r = match t {
                Tok::Bool | Tok::Tristate | Tok::Int | Tok::Hex | Tok::String => {
                    self.bump();
                    let ty = tok_type(&t);
                    self.prompt_stmt_opt()
                        .and_then(|_| self.expect_eol("type"))
                        .map(|_| self.menu_set_type(ty))
                }
                Tok::Prompt => {
                    self.bump();
                    self.prompt_rest()
                }
                Tok::Default | Tok::DefBool | Tok::DefTristate => {
                    self.bump();
                    let ty = match t {
                        Tok::DefBool => SymType::Bool,
                        Tok::DefTristate => SymType::Tristate,
                        _ => SymType::Unknown,
                    };
                    (|| {
                        let e = self.expr()?;
                        let c = self.if_expr()?;
                        self.expect_eol("default")?;
                        self.menu_add_prop(PropType::Default, Some(e), c);
                        if ty != SymType::Unknown {
                            self.menu_set_type(ty);
                        }
                        Ok(())
                    })()
                }
                Tok::Select | Tok::Imply => {
                    self.bump();
                    (|| {
                        let w = self.expect_word("select")?;
                        let c = self.if_expr()?;
                        self.expect_eol("select")?;
                        let s = self.k.lookup(&w, false);
                        let e = self.k.exprs.sym(s);
                        let ty = if t == Tok::Select {
                            PropType::Select
                        } else {
                            PropType::Imply
                        };
                        self.menu_add_prop(ty, Some(e), c);
                        Ok(())
                    })()
                }
                Tok::Range => {
                    self.bump();
                    (|| {
                        let a = self.symbol("range")?;
                        let b = self.symbol("range")?;
                        let c = self.if_expr()?;
                        self.expect_eol("range")?;
                        let e = self.k.exprs.intern(crate::Expr::Range(a, b));
                        self.menu_add_prop(PropType::Range, Some(e), c);
                        Ok(())
                    })()
                }
                Tok::Modules => {
                    self.bump();
                    (|| {
                        self.expect_eol("modules")?;
                        let cur = self.k.menus[self.current_entry.idx()]
                            .sym
                            .unwrap_or(SymId::NO);
                        if self.k.modules_sym != SymId::NO {
                            let (a, b) =
                                (self.k.sym_name(cur), self.k.sym_name(self.k.modules_sym));
                            self.error_here(format!(
                                "symbol '{a}' redefines option 'modules' already defined by symbol '{b}'"
                            ));
                        }
                        self.k.modules_sym = cur;
                        Ok(())
                    })()
                }
                Tok::Depends => {
                    self.bump();
                    self.depends_rest()
                }
                Tok::Help => {
                    self.bump();
                    self.help_rest()
                }
                _ => return,
            };
            let _ = r;
        }
    }

    fn prompt_rest(&mut self) -> PResult<()> {
        let text = self.expect_quote("prompt")?;
        let c = self.if_expr()?;
        self.expect_eol("prompt")?;
        self.menu_add_prompt(PropType::Prompt, &text, c);
        Ok(())
    }

    fn prompt_stmt_opt(&mut self) -> PResult<()> {
        if let Tok::WordQuote(_) = self.peek() {
            let text = self.expect_quote("prompt")?;
            let c = self.if_expr()?;
            self.menu_add_prompt(PropType::Prompt, &text, c);
        }
        Ok(())
    }

    fn depends_rest(&mut self) -> PResult<()> {
        if *self.peek() != Tok::On {
            self.recover("depends");
            return Err(());
        }
        self.bump();
        let e = self.expr()?;
        self.expect_eol("depends on")?;
        let e_cur = self.current_entry;
        let d = self.k.menus[e_cur.idx()].dep;
        self.k.menus[e_cur.idx()].dep = self.k.exprs.and(d, Some(e));
        Ok(())
    }

    fn help_rest(&mut self) -> PResult<()> {
        if *self.peek() != Tok::Eol {
            self.recover("help");
            return Err(());
        }
        // Consume the end of line without peeking past it: the lexer must
        // switch to help text before reading on.
        self.peeked = None;
        self.lx.start_help();
        let text = match self.bump() {
            Tok::HelpText(t) => t,
            _ => String::new(),
        };
        let e = self.current_entry;
        let name = self.k.menus[e.idx()]
            .sym
            .map(|s| self.k.sym_name(s))
            .unwrap_or_else(|| "<choice>".into());
        let file = self.lx.file().to_string();
        let line = self.lx.cur_lineno;
        if self.k.menus[e.idx()].help.is_some() {
            self.k.diags.push(Diagnostic::warning(
                file.clone(),
                line,
                format!("'{name}' defined with more than one help text -- only the last one will be used"),
            ));
        }
        if text
            .trim_matches(|c: char| " \x0c\n\r\t\x0b".contains(c))
            .is_empty()
        {
            self.k.diags.push(Diagnostic::warning(
                file,
                line,
                format!("'{name}' defined with blank help text"),
            ));
        }
        self.k.menus[e.idx()].help = Some(crate::Help::Text(text.into()));
        Ok(())
    }

    fn choice_stmt(&mut self) {
        self.bump();
        let mut name = None;
        if self.k.dialect == Dialect::V6_1 {
            if let Tok::Word(_) = self.peek() {
                if let Tok::Word(w) = self.bump() {
                    name = Some(w);
                }
            }
        }
        if self.expect_eol("choice").is_err() {
            return;
        }
        let sym = self.k.new_choice_sym(name.as_deref());
        self.menu_add_entry(Some(sym));
        match self.k.dialect {
            Dialect::V6_12 => {
                self.menu_set_type(SymType::Bool);
            }
            Dialect::V6_1 => {
                self.k.sym_mut(sym).flags |= flags::NO_WRITE;
                self.menu_add_prop(PropType::Choice, None, None);
            }
        }
        // choice_option_list
        loop {
            if self.fatal.is_some() {
                break;
            }
            let t = self.peek().kind();
            let _ = match t {
                Tok::Prompt => {
                    self.bump();
                    self.prompt_rest()
                }
                Tok::Bool if self.k.dialect == Dialect::V6_12 => {
                    self.bump();
                    self.prompt_rest()
                }
                Tok::Bool | Tok::Tristate if self.k.dialect == Dialect::V6_1 => {
                    self.bump();
                    let ty = tok_type(&t);
                    self.prompt_stmt_opt()
                        .and_then(|_| self.expect_eol("type"))
                        .map(|_| self.menu_set_type(ty))
                }
                Tok::Optional if self.k.dialect == Dialect::V6_1 => {
                    self.bump();
                    self.expect_eol("optional").map(|_| {
                        self.k.sym_mut(sym).flags |= flags::OPTIONAL;
                    })
                }
                Tok::Default => {
                    self.bump();
                    (|| {
                        let w = self.expect_word("default")?;
                        let c = self.if_expr()?;
                        self.expect_eol("default")?;
                        let s = self.k.lookup(&w, false);
                        let e = self.k.exprs.sym(s);
                        self.menu_add_prop(PropType::Default, Some(e), c);
                        Ok(())
                    })()
                }
                Tok::Depends => {
                    self.bump();
                    self.depends_rest()
                }
                Tok::Help => {
                    self.bump();
                    self.help_rest()
                }
                _ => break,
            };
        }
        let entry = self.current_entry;
        if self.k.dialect == Dialect::V6_12 && self.k.menus[entry.idx()].prompt.is_none() {
            self.nerrs += 1;
            let (f, l) = (
                self.k.file_name(self.k.menus[entry.idx()].file).to_string(),
                self.k.menus[entry.idx()].line,
            );
            self.k
                .diags
                .push(Diagnostic::error(f, l, "choice must have a prompt"));
        }
        let start_file = self.lx.file().to_string();
        let _ = start_file;
        self.menu_add_menu();
        let saved_choice = self.current_choice;
        self.current_choice = Some(entry);
        let end = self.stmt_list(true);
        self.current_choice = if self.k.dialect == Dialect::V6_12 {
            None
        } else {
            saved_choice
        };
        self.end_block(end, "choice");
    }

    fn end_block(&mut self, end: Tok, expected: &str) {
        if self.fatal.is_some() {
            // Parsing stopped at a fatal error; unclosed blocks are noise.
            return;
        }
        let got = match end {
            Tok::EndMenu => "menu",
            Tok::EndChoice => "choice",
            Tok::EndIf => "if",
            _ => {
                self.error_here(format!(
                    "syntax error, unexpected end of file (missing end{expected})"
                ));
                return;
            }
        };
        self.bump();
        if self.expect_eol(got).is_err() {
            return;
        }
        if got != expected {
            self.error_here(format!("unexpected '{got}' within {expected} block"));
            return;
        }
        let cm = self.current_menu;
        let cm_file = self.k.menus[cm.idx()].file;
        let here = self.cur_file_id();
        if cm_file != Some(here) {
            self.error_here(format!("'{got}' in different file than '{expected}'"));
            return;
        }
        self.menu_end_menu();
    }

    fn if_stmt(&mut self, in_choice: bool) {
        self.bump();
        let Ok(e) = self.expr() else { return };
        if self.expect_eol("if").is_err() {
            return;
        }
        self.menu_add_entry(None);
        let cur = self.current_entry;
        let d = self.k.menus[cur.idx()].dep;
        self.k.menus[cur.idx()].dep = self.k.exprs.and(d, Some(e));
        self.menu_add_menu();
        let end = self.stmt_list(in_choice);
        self.end_block(end, "if");
    }

    fn menu_stmt(&mut self) {
        self.bump();
        let Ok(text) = self.expect_quote("menu") else {
            return;
        };
        if self.expect_eol("menu").is_err() {
            return;
        }
        self.menu_add_entry(None);
        self.menu_add_prompt(PropType::Menu, &text, None);
        loop {
            match self.peek() {
                Tok::Visible => {
                    self.bump();
                    if let Ok(c) = self.if_expr() {
                        if self.expect_eol("visible").is_ok() {
                            let cur = self.current_entry;
                            let v = self.k.menus[cur.idx()].visibility;
                            self.k.menus[cur.idx()].visibility = self.k.exprs.and(v, c);
                        }
                    }
                }
                Tok::Depends => {
                    self.bump();
                    let _ = self.depends_rest();
                }
                _ => break,
            }
        }
        self.menu_add_menu();
        let end = self.stmt_list(false);
        self.end_block(end, "menu");
    }

    fn comment_stmt(&mut self) {
        self.bump();
        let Ok(text) = self.expect_quote("comment") else {
            return;
        };
        if self.expect_eol("comment").is_err() {
            return;
        }
        self.menu_add_entry(None);
        self.menu_add_prompt(PropType::Comment, &text, None);
        while *self.peek() == Tok::Depends {
            self.bump();
            let _ = self.depends_rest();
        }
    }

    fn source_stmt(&mut self) {
        self.bump();
        let Ok(name) = self.expect_quote("source") else {
            return;
        };
        if *self.peek() != Tok::Eol {
            self.recover("source");
            return;
        }
        // Open the file before anything past the end of line is read.
        self.peeked = None;
        let Some(data) = self.loader.open(&name) else {
            let line = self.lx.cur_lineno;
            self.fatal = Some(Diagnostic::error(
                self.lx.file().to_string(),
                line,
                format!("can't open file \"{name}\""),
            ));
            return;
        };
        if self.lx.is_open(&name) {
            let mut d = Diagnostic::error(name.clone(), 0, "Recursive inclusion detected.");
            d.notes.push(format!("current file : {name}"));
            let line = self.lx.cur_lineno;
            d.notes
                .push(format!("included from: {}:{}", self.lx.file(), line));
            for (f, l) in self.lx.include_chain() {
                d.notes.push(format!("included from: {f}:{l}"));
            }
            self.fatal = Some(d);
            return;
        }
        self.k.sourced.push(name.clone());
        self.lx.push_file(name, data);
    }

    fn if_expr(&mut self) -> PResult<Option<ExprId>> {
        if *self.peek() == Tok::If {
            self.bump();
            return self.expr().map(Some);
        }
        Ok(None)
    }

    fn symbol(&mut self, what: &str) -> PResult<SymId> {
        match self.peek() {
            Tok::Word(_) | Tok::WordQuote(_) => match self.bump() {
                Tok::Word(w) => Ok(self.k.lookup(&w, false)),
                Tok::WordQuote(w) => Ok(self.k.lookup(&w, true)),
                _ => Err(()),
            },
            _ => {
                self.recover(what);
                Err(())
            }
        }
    }

    fn expr(&mut self) -> PResult<ExprId> {
        let mut l = self.and_expr()?;
        while *self.peek() == Tok::Or {
            self.bump();
            let r = self.and_expr()?;
            l = self.k.exprs.two_or(l, r);
        }
        Ok(l)
    }

    fn and_expr(&mut self) -> PResult<ExprId> {
        let mut l = self.unary()?;
        while *self.peek() == Tok::And {
            self.bump();
            let r = self.unary()?;
            l = self.k.exprs.two_and(l, r);
        }
        Ok(l)
    }

    fn unary(&mut self) -> PResult<ExprId> {
        match self.peek() {
            Tok::Not => {
                self.bump();
                let e = self.unary()?;
                Ok(self.k.exprs.not(e))
            }
            Tok::OpenParen => {
                self.bump();
                let e = self.expr()?;
                if *self.peek() != Tok::CloseParen {
                    self.recover("expression");
                    return Err(());
                }
                self.bump();
                Ok(e)
            }
            _ => {
                let a = self.symbol("expression")?;
                let op = match self.peek() {
                    Tok::Equal => CmpOp::Eq,
                    Tok::Unequal => CmpOp::Ne,
                    Tok::Less => CmpOp::Lt,
                    Tok::LessEqual => CmpOp::Le,
                    Tok::Greater => CmpOp::Gt,
                    Tok::GreaterEqual => CmpOp::Ge,
                    _ => return Ok(self.k.exprs.sym(a)),
                };
                self.bump();
                let b = self.symbol("expression")?;
                Ok(self.k.exprs.cmp(op, a, b))
            }
        }
    }

    // ---- menu construction (menu.c) -------------------------------------

    fn menu_add_entry(&mut self, sym: Option<SymId>) {
        let id = MenuId(self.k.menus.len() as u32);
        let file = self.cur_file_id();
        self.k.menus.push(Menu {
            sym,
            parent: Some(self.current_menu),
            file: Some(file),
            line: self.lx.cur_lineno,
            ..Menu::default()
        });
        match self.last_entry {
            Link::ListOf(m) => self.k.menus[m.idx()].list = Some(id),
            Link::NextOf(m) => self.k.menus[m.idx()].next = Some(id),
        }
        self.last_entry = Link::NextOf(id);
        self.current_entry = id;
        if let Some(s) = sym {
            self.k.sym_mut(s).menus.push(id);
        }
    }

    fn menu_add_menu(&mut self) {
        self.last_entry = Link::ListOf(self.current_entry);
        self.current_menu = self.current_entry;
    }

    fn menu_end_menu(&mut self) {
        let cm = self.current_menu;
        self.last_entry = Link::NextOf(cm);
        self.current_menu = self.k.menus[cm.idx()].parent.unwrap_or(MenuId::ROOT);
    }

    fn menu_set_type(&mut self, ty: SymType) {
        let e = self.current_entry;
        let Some(s) = self.k.menus[e.idx()].sym else {
            return;
        };
        let cur = self.k.sym(s).ty;
        if cur == ty {
            return;
        }
        if cur == SymType::Unknown {
            self.k.sym_mut(s).ty = ty;
            return;
        }
        let name = self.k.sym_name(s);
        let m = &self.k.menus[e.idx()];
        let d = Diagnostic::warning(
            self.k.file_name(m.file).to_string(),
            m.line,
            format!(
                "ignoring type redefinition of '{name}' from '{}' to '{}'",
                cur.name(),
                ty.name()
            ),
        );
        self.k.diags.push(d);
    }

    fn menu_add_prop(&mut self, ty: PropType, e: Option<ExprId>, dep: Option<ExprId>) -> PropId {
        let file = self.cur_file_id();
        let entry = self.current_entry;
        let line = self.lx.cur_lineno;
        new_prop(&mut self.k, ty, e, dep, entry, Some(file), line)
    }

    fn menu_add_prompt(&mut self, ty: PropType, prompt: &str, dep: Option<ExprId>) -> PropId {
        let p = self.menu_add_prop(ty, None, dep);
        let mut text = prompt;
        let (file, line) = (self.lx.file().to_string(), self.lx.cur_lineno);
        if text.starts_with(|c: char| c.is_ascii_whitespace()) {
            self.k.diags.push(Diagnostic::warning(
                file.clone(),
                line,
                "leading whitespace ignored",
            ));
            text = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
        }
        let entry = self.current_entry;
        if self.k.menus[entry.idx()].prompt.is_some() {
            self.k
                .diags
                .push(Diagnostic::warning(file, line, "prompt redefined"));
        }
        if ty == PropType::Prompt {
            let mut m = entry;
            while let Some(parent) = self.k.menus[m.idx()].parent {
                m = parent;
                let vis = self.k.menus[m.idx()].visibility;
                if vis.is_none() {
                    continue;
                }
                let cur = self.k.props[p.idx()].visible;
                self.k.props[p.idx()].visible = self.k.exprs.and(cur, vis);
            }
        }
        self.k.menus[entry.idx()].prompt = Some(p);
        self.k.props[p.idx()].text = Some(Arc::from(text));
        p
    }
}

pub(crate) fn new_prop(
    k: &mut Kconfig,
    ty: PropType,
    e: Option<ExprId>,
    dep: Option<ExprId>,
    menu: MenuId,
    file: Option<FileId>,
    line: u32,
) -> PropId {
    let id = PropId(k.props.len() as u32);
    k.prop_vis.push(crate::Tri::N);
    k.props.push(Property {
        ty,
        text: None,
        visible: dep,
        expr: e,
        choice_list: Vec::new(),
        menu,
        file: file.unwrap_or(FileId(0)),
        line,
    });
    if let Some(s) = k.menus[menu.idx()].sym {
        k.sym_mut(s).props.push(id);
    }
    id
}

fn tok_type(t: &Tok) -> SymType {
    match t {
        Tok::Bool => SymType::Bool,
        Tok::Tristate => SymType::Tristate,
        Tok::Int => SymType::Int,
        Tok::Hex => SymType::Hex,
        Tok::String => SymType::String,
        _ => SymType::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PATH:SIZE:MTIME_NS for numbers of every length, and the same text
    /// whether a file is looked up by its whole path or from its directory.
    #[test]
    fn identities_are_path_size_and_time() {
        for (len, t) in [
            (0u64, 0u128),
            (9, 10),
            (143_157, 1_733_000_000_123_456_789),
            (u64::MAX, u64::MAX as u128 + 1),
        ] {
            assert_eq!(
                identity_text(Path::new("a/b"), len, t),
                format!("a/b:{len}:{t}")
            );
        }
        let dir = std::env::temp_dir().join(format!("ktailor-identity-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).expect("temp dir");
        std::fs::write(dir.join("sub/Kconfig"), b"config A\n\tbool\n").expect("file");
        let open = std::fs::File::open(&dir).expect("open dir");
        let whole = file_identity(&dir.join("sub/Kconfig")).expect("whole path");
        assert_eq!(
            file_identity_at(&open, &dir, "sub/Kconfig"),
            Some(whole.clone())
        );
        assert!(whole.starts_with(&format!("{}:15:", dir.join("sub/Kconfig").display())));
        assert_eq!(file_identity_at(&open, &dir, "sub"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
