//! An exact Kconfig engine.
//!
//! Reads a Kconfig tree (preprocessor, lexer, parser), builds the same menu
//! tree and symbol table as the kernel's scripts/kconfig, evaluates symbol
//! values with the same rules, and reads and writes `.config` files byte for
//! byte like `conf`. Two dialects are supported, selected by [`Dialect`]:
//! Linux 6.1 (named and tristate choices, `optional`) and 6.12 (bool-only
//! choices with member priority lists).
//!
//! This crate is deliberately only the engine: it knows nothing of specs,
//! features, hardware or builds, and it never spawns a process itself —
//! `$(shell,...)` goes through the [`preprocess::Shell`] trait; a caching
//! implementation lives in [`shell`].
//!
//! Entry points: [`Kconfig::parse`], then [`conf`] for the `make *config`
//! targets, or the lower-level reading, evaluation and writing functions.

pub mod conf;
pub mod confdata;
pub mod cow;
mod depcheck;
pub mod diag;
pub mod expr;
pub mod help;
pub mod lexer;
pub mod menu;
mod oldconfig;
pub mod parse_cache;
pub mod parser;
pub mod preprocess;
pub mod rand;
pub mod shell;
pub mod snapshot;
pub mod symbol;

use cow::{IdList, Shared};
use std::sync::Arc;

pub use diag::{Diagnostic, Origin, Severity};

/// `String::from_utf8_lossy`, but valid UTF-8 (nearly every input) is
/// borrowed after the fast check of `str::from_utf8` instead of the
/// lossy conversion's slower pass.
pub fn text_of(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(b),
    }
}
pub use expr::{CmpOp, Expr, ExprId, Exprs, Tri};

/// Which version of scripts/kconfig's semantics to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dialect {
    /// Linux 6.1: choices are symbols with a value, may be tristate, named
    /// or `optional`.
    V6_1,
    /// Linux 6.12: choices are bool-only menus with a member priority list.
    V6_12,
}

impl Dialect {
    /// The dialect for a kernel version: 6.12's choice rework (and the
    /// removal of `optional` and tristate choices) landed in 6.10/6.11.
    pub fn for_version(major: u32, minor: u32) -> Dialect {
        if (major, minor) >= (6, 11) {
            Dialect::V6_12
        } else {
            Dialect::V6_1
        }
    }
}

/// A symbol id. The constants `y`, `m` and `n` are always 0, 1 and 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymId(pub u32);

impl SymId {
    pub const YES: SymId = SymId(0);
    pub const MOD: SymId = SymId(1);
    pub const NO: SymId = SymId(2);
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MenuId(pub u32);
impl MenuId {
    pub const ROOT: MenuId = MenuId(0);
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PropId(pub u32);
impl PropId {
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// A symbol's declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymType {
    Unknown,
    Bool,
    Tristate,
    Int,
    Hex,
    String,
}

impl SymType {
    pub fn name(self) -> &'static str {
        match self {
            SymType::Bool => "bool",
            SymType::Tristate => "tristate",
            SymType::Int => "integer",
            SymType::Hex => "hex",
            SymType::String => "string",
            SymType::Unknown => "unknown",
        }
    }
    pub fn is_tristate_like(self) -> bool {
        matches!(self, SymType::Bool | SymType::Tristate)
    }
}

/// Symbol flags, with the values scripts/kconfig/expr.h gives them.
pub mod flags {
    pub const CONST: u32 = 0x0001;
    pub const CHECK: u32 = 0x0008;
    pub const CHOICE: u32 = 0x0010;
    pub const CHOICEVAL: u32 = 0x0020;
    pub const VALID: u32 = 0x0080;
    pub const OPTIONAL: u32 = 0x0100;
    pub const WRITE: u32 = 0x0200;
    pub const CHANGED: u32 = 0x0400;
    pub const WRITTEN: u32 = 0x0800;
    pub const NO_WRITE: u32 = 0x1000;
    pub const CHECKED: u32 = 0x2000;
    pub const WARNED: u32 = 0x8000;
    pub const DEF_USER: u32 = 0x10000;
    pub const DEF_AUTO: u32 = 0x20000;
    pub const NEED_SET_CHOICE_VALUES: u32 = 0x100000;
}

/// A value from outside (`def[S_DEF_USER]`, `def[S_DEF_AUTO]`).
#[derive(Clone, Debug, Default)]
pub struct DefValue {
    pub tri: Tri,
    pub val: Option<Arc<str>>,
    /// 6.1 choices: the user's chosen member.
    pub choice: Option<SymId>,
}

/// An expression with its last computed tristate (`struct expr_value`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ExprValue {
    pub expr: Option<ExprId>,
    pub tri: Tri,
}

#[derive(Clone, Debug)]
pub struct Symbol {
    /// `None` for choices (unnamed in 6.12; 6.1 choices may be named, see
    /// `choice_name`).
    pub name: Option<Arc<str>>,
    pub ty: SymType,
    pub curr_tri: Tri,
    pub curr_val: Arc<str>,
    /// 6.1 choices: the selected member (`curr.val` points at it in C).
    pub curr_choice: Option<SymId>,
    pub def: [DefValue; 2],
    pub visible: Tri,
    pub flags: u32,
    /// Its properties and menu entries. Fixed once parsed, so shared
    /// between copies of a tree (a copy per evaluation stays cheap).
    pub props: IdList<PropId>,
    pub menus: IdList<MenuId>,
    pub dir_dep: ExprValue,
    pub rev_dep: ExprValue,
    pub implied: ExprValue,
    /// 6.12: the choice menu whose member list holds this symbol.
    pub choice_link: Option<MenuId>,
    /// Creation order, for the C hash table's iteration order.
    pub created: u32,
}

pub const S_DEF_USER: usize = 0;
pub const S_DEF_AUTO: usize = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropType {
    Prompt,
    Comment,
    Menu,
    Default,
    Select,
    Imply,
    Range,
    /// 6.1 only: a choice's member list, or a member's link to its choice.
    Choice,
}

impl PropType {
    pub fn name(self) -> &'static str {
        match self {
            PropType::Prompt => "prompt",
            PropType::Comment => "comment",
            PropType::Menu => "menu",
            PropType::Default => "default",
            PropType::Select => "select",
            PropType::Imply => "imply",
            PropType::Range => "range",
            PropType::Choice => "choice",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Property {
    pub ty: PropType,
    pub text: Option<Arc<str>>,
    /// The condition under which it applies (`visible.expr` in C); its
    /// value is `Kconfig::prop_vis`, which evaluation updates.
    pub visible: Option<ExprId>,
    pub expr: Option<ExprId>,
    /// 6.1 P_CHOICE on a choice: its members in order.
    pub choice_list: Vec<SymId>,
    pub menu: MenuId,
    pub file: FileId,
    pub line: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId(pub u32);

#[derive(Clone, Debug, Default)]
pub struct Menu {
    pub next: Option<MenuId>,
    pub parent: Option<MenuId>,
    pub list: Option<MenuId>,
    pub sym: Option<SymId>,
    pub prompt: Option<PropId>,
    pub visibility: Option<ExprId>,
    pub dep: Option<ExprId>,
    pub help: Option<Help>,
    pub file: Option<FileId>,
    pub line: u32,
}

/// A menu entry's help text (read it with [`Kconfig::menu_help`]): in
/// memory, or the `i`th text of the help section of the snapshot the tree
/// was decoded from, read on first use (the texts are half of a snapshot
/// and most runs show none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Help {
    Text(Arc<str>),
    Stored(u32),
}

/// A parsed Kconfig tree with its symbol values.
#[derive(Clone)]
pub struct Kconfig {
    pub dialect: Dialect,
    pub syms: Vec<Symbol>,
    /// Fixed once parsed (their computed visibility is `prop_vis`), so
    /// shared between copies.
    pub props: Shared<Vec<Property>>,
    /// Each property's visibility as last computed (`visible.tri` in C).
    pub prop_vis: Vec<Tri>,
    /// Fixed once parsed but for the choices' member order (kept apart in
    /// `choice_members`), so shared between copies (see [`cow`]).
    pub menus: Shared<Vec<Menu>>,
    pub exprs: Shared<Exprs>,
    /// 6.12 choices: each choice menu's members in priority order
    /// (`choice_members` in C), which reading a `.config` and setting a
    /// member reorder.
    pub choice_members: rustc_hash::FxHashMap<MenuId, Vec<SymId>>,
    /// Memoised expression values, valid while `expr_epoch[i] == epoch`.
    pub(crate) expr_val: Vec<Tri>,
    pub(crate) expr_epoch: Vec<u32>,
    pub(crate) epoch: u32,
    pub files: Shared<Vec<Arc<str>>>,
    nonconst: Shared<rustc_hash::FxHashMap<Arc<str>, SymId>>,
    consts: Shared<rustc_hash::FxHashMap<Arc<str>, SymId>>,
    pub modules_sym: SymId,
    pub modules_val: Tri,
    /// Environment variables the preprocessor read, in order.
    /// Fixed once parsed, so shared between copies.
    pub env_used: Shared<Vec<(String, String)>>,
    /// The `source`d files, in order (for auto.conf.cmd); shared between
    /// copies.
    pub sourced: Shared<Vec<String>>,
    /// `conf_set_changed` state.
    pub changed: bool,
    /// Diagnostics produced while parsing and evaluating.
    pub diags: Vec<Diagnostic>,
    /// Count of unmet-dependency warnings (`sym_warnings`).
    pub sym_warnings: u32,
    /// Count of `.config` reading warnings (`conf_warnings`).
    pub conf_warnings: u32,
    /// 6.1 named choices (`choice NAME`).
    pub choice_names: Vec<(String, SymId)>,
    /// Memoised `for_all_symbols` order.
    hash_order: std::cell::RefCell<Option<Arc<[SymId]>>>,
    /// Memoised `sym_get_choice_menu` of every symbol (the menu structure
    /// is fixed once `menu_finalize` has run; shared by clones).
    pub(crate) choice_menus: std::cell::RefCell<Option<Arc<[Option<MenuId>]>>>,
    /// Where [`Help::Stored`] texts are (a decoded snapshot's help section).
    pub(crate) help_store: Option<Arc<snapshot::HelpStore>>,
    /// A copy of the symbols made while decoding (see
    /// [`Kconfig::take_spare_copy`]).
    pub(crate) spare: SpareSyms,
}

/// Symbols kept for one copy of the tree; never copied along with it.
#[derive(Default)]
pub(crate) struct SpareSyms(pub(crate) Option<Vec<Symbol>>);

impl Clone for SpareSyms {
    fn clone(&self) -> SpareSyms {
        SpareSyms(None)
    }
}

impl Kconfig {
    /// A copy of the tree made from symbols copied while it was decoded
    /// (on another thread, alongside the decoding's last checks), if the
    /// decoding was asked for one and it has not been taken yet.
    pub fn take_spare_copy(&mut self) -> Option<Kconfig> {
        let syms = self.spare.0.take()?;
        let own = std::mem::take(&mut self.syms);
        let mut copy = self.clone();
        self.syms = own;
        copy.syms = syms;
        Some(copy)
    }

    /// A menu entry's help text. `None` when it has none, or when a
    /// snapshot's help section no longer reads back (its cache file was
    /// changed in place after it was validated, which ktailor never does).
    pub fn menu_help(&self, m: MenuId) -> Option<Arc<str>> {
        match self.menus[m.idx()].help.as_ref()? {
            Help::Text(t) => Some(t.clone()),
            Help::Stored(i) => self.help_store.as_ref()?.get(*i),
        }
    }

    /// A 6.12 choice menu's members in priority order (empty for any
    /// other menu).
    pub fn choice_members(&self, choice: MenuId) -> &[SymId] {
        self.choice_members.get(&choice).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn choice_members_mut(&mut self, choice: MenuId) -> &mut Vec<SymId> {
        self.choice_members.entry(choice).or_default()
    }

    pub(crate) fn new(dialect: Dialect) -> Kconfig {
        let mut k = Kconfig {
            dialect,
            syms: Vec::new(),
            props: Default::default(),
            prop_vis: Vec::new(),
            menus: Shared::new(vec![Menu::default()]),
            exprs: Default::default(),
            choice_members: Default::default(),
            expr_val: Vec::new(),
            expr_epoch: Vec::new(),
            epoch: 1,
            files: Default::default(),
            nonconst: Default::default(),
            consts: Default::default(),
            modules_sym: SymId::NO,
            modules_val: Tri::N,
            env_used: Default::default(),
            sourced: Default::default(),
            changed: false,
            diags: Vec::new(),
            sym_warnings: 0,
            conf_warnings: 0,
            choice_names: Vec::new(),
            hash_order: Default::default(),
            choice_menus: Default::default(),
            help_store: None,
            spare: Default::default(),
        };
        k.exprs.dups_61 = dialect == Dialect::V6_1;
        for (name, tri) in [("y", Tri::Y), ("m", Tri::M), ("n", Tri::N)] {
            let mut s = Symbol::blank(Some(name.into()), 0);
            s.ty = SymType::Tristate;
            s.curr_tri = tri;
            s.curr_val = name.into();
            s.flags = flags::CONST | flags::VALID;
            k.syms.push(s);
        }
        k
    }

    pub fn sym(&self, s: SymId) -> &Symbol {
        &self.syms[s.idx()]
    }
    pub fn sym_mut(&mut self, s: SymId) -> &mut Symbol {
        &mut self.syms[s.idx()]
    }
    pub fn menu(&self, m: MenuId) -> &Menu {
        &self.menus[m.idx()]
    }
    pub fn prop(&self, p: PropId) -> &Property {
        &self.props[p.idx()]
    }
    pub fn file_name(&self, f: Option<FileId>) -> &str {
        f.map(|f| &*self.files[f.0 as usize]).unwrap_or("")
    }

    /// `sym_is_choice`.
    pub fn is_choice(&self, s: SymId) -> bool {
        self.sym(s).flags & flags::CHOICE != 0
    }

    /// The printed name of a symbol (`<choice>` for choices).
    pub fn sym_name(&self, s: SymId) -> String {
        match &self.sym(s).name {
            Some(n) => n.to_string(),
            None => "<choice>".to_string(),
        }
    }

    /// `sym_find`: a non-constant symbol by name, or the constants y/m/n.
    pub fn find(&self, name: &str) -> Option<SymId> {
        match name {
            "y" => return Some(SymId::YES),
            "m" => return Some(SymId::MOD),
            "n" => return Some(SymId::NO),
            _ => {}
        }
        self.nonconst.get(name).copied()
    }

    /// `sym_lookup`: finds or creates a symbol; `constant` for quoted words.
    pub fn lookup(&mut self, name: &str, constant: bool) -> SymId {
        match name {
            "y" => return SymId::YES,
            "m" => return SymId::MOD,
            "n" => return SymId::NO,
            _ => {}
        }
        let map = if constant {
            &self.consts
        } else {
            &self.nonconst
        };
        if let Some(&s) = map.get(name) {
            return s;
        }
        let id = SymId(self.syms.len() as u32);
        let rc: Arc<str> = name.into();
        let mut s = Symbol::blank(Some(rc.clone()), id.0);
        if constant {
            s.flags = flags::CONST;
            self.consts.insert(rc, id);
        } else {
            self.nonconst.insert(rc, id);
        }
        self.syms.push(s);
        id
    }

    /// A new unnamed symbol (a choice).
    pub fn new_choice_sym(&mut self, name: Option<&str>) -> SymId {
        if let Some(n) = name {
            if let Some((_, id)) = self.choice_names.iter().find(|(c, _)| c == n) {
                return *id;
            }
        }
        let id = SymId(self.syms.len() as u32);
        let mut s = Symbol::blank(name.map(Arc::from), id.0);
        s.flags = flags::CHOICE;
        self.syms.push(s);
        if let Some(n) = name {
            self.choice_names.push((n.to_string(), id));
        }
        id
    }

    /// Rebuilds the name → symbol maps from the symbol table.
    pub(crate) fn rebuild_symbol_index(&mut self) {
        self.nonconst.clear();
        self.consts.clear();
        // Sized once: growing the table rehashes every name already in it.
        self.nonconst.reserve(self.syms.len());
        for (i, s) in self.syms.iter().enumerate().skip(3) {
            let Some(n) = &s.name else { continue };
            if s.flags & flags::CHOICE != 0 {
                continue;
            }
            if s.flags & flags::CONST != 0 {
                self.consts.insert(n.clone(), SymId(i as u32));
            } else {
                self.nonconst.insert(n.clone(), SymId(i as u32));
            }
        }
    }

    /// All named, non-constant symbols and choices, in the order the C
    /// tool's symbol hash table iterates them (`for_all_symbols`).
    /// Memoised (shared by clones) while no symbol is added.
    pub fn symbols_hash_order(&self) -> Arc<[SymId]> {
        if let Some(v) = self.hash_order.borrow().as_ref() {
            if v.len() + 3 == self.syms.len() {
                return v.clone();
            }
        }
        let v: Arc<[SymId]> = self.compute_hash_order().into();
        *self.hash_order.borrow_mut() = Some(v.clone());
        v
    }

    /// Installs an order computed earlier (a snapshot's); ignored unless it
    /// is a permutation of the symbols `symbols_hash_order` iterates.
    pub(crate) fn set_hash_order(&mut self, order: Vec<SymId>) -> bool {
        let n = self.syms.len();
        if order.len() + 3 != n {
            return false;
        }
        let mut seen = vec![false; n];
        for s in &order {
            let i = s.idx();
            if i < 3 || i >= n || std::mem::replace(&mut seen[i], true) {
                return false;
            }
        }
        *self.hash_order.borrow_mut() = Some(order.into());
        true
    }

    fn compute_hash_order(&self) -> Vec<SymId> {
        let size: u32 = match self.dialect {
            Dialect::V6_12 => 1 << 14,
            Dialect::V6_1 => 9973,
        };
        let mut v: Vec<(u32, std::cmp::Reverse<u32>, SymId)> = self
            .syms
            .iter()
            .enumerate()
            .skip(3)
            .map(|(i, s)| {
                let h = match &s.name {
                    Some(n) => fnv32(n.as_bytes()) % size,
                    None => 0,
                };
                (h, std::cmp::Reverse(s.created), SymId(i as u32))
            })
            .collect();
        v.sort_unstable();
        v.into_iter().map(|t| t.2).collect()
    }
}

/// The FNV-1a-like hash scripts/kconfig uses for symbol names (`hash_str`);
/// `char` is signed on the kernel's build hosts, so bytes are sign-extended.
pub fn fnv32(s: &[u8]) -> u32 {
    let mut h: u32 = 2166136261;
    for &c in s {
        h = (h ^ (c as i8 as i32 as u32)).wrapping_mul(0x01000193);
    }
    h
}

impl Symbol {
    fn blank(name: Option<Arc<str>>, created: u32) -> Symbol {
        Symbol {
            name,
            ty: SymType::Unknown,
            curr_tri: Tri::N,
            curr_val: "".into(),
            curr_choice: None,
            def: [DefValue::default(), DefValue::default()],
            visible: Tri::N,
            flags: 0,
            props: Default::default(),
            menus: Default::default(),
            dir_dep: ExprValue::default(),
            rev_dep: ExprValue::default(),
            implied: ExprValue::default(),
            choice_link: None,
            created,
        }
    }
    pub fn has_value(&self) -> bool {
        self.flags & flags::DEF_USER != 0
    }
}
