//! A binary snapshot of a parsed tree, so that a warm run can skip lexing,
//! parsing and `menu_finalize`.
//!
//! The snapshot holds the whole [`Kconfig`] state as it is right after
//! [`crate::parser::parse`]: symbols, properties, menus, expressions, file
//! names, the environment the preprocessor read, and the diagnostics the
//! parse produced (replayed on load, so warnings are not lost). Deciding
//! whether a snapshot is still valid (files, environment, `$(shell)`
//! outputs) is the caller's job; this module only encodes and decodes.
//!
//! Help texts are not in the snapshot itself but in a help section of
//! their own ([`Kconfig::help_section`]): a decoded tree refers to them by
//! index and reads them through a [`HelpStore`] when one is asked for, so
//! a run that shows no help neither reads nor decodes them.

use rustc_hash::FxHashMap;
use std::sync::Arc;

use crate::cow::IdList;
use crate::diag::{Diagnostic, Origin, Severity};
use crate::expr::{CmpOp, Expr, Exprs};
use crate::{
    DefValue, Dialect, ExprId, ExprValue, FileId, Help, Kconfig, Menu, MenuId, PropId, PropType,
    Property, SymId, SymType, Symbol, Tri,
};

/// A snapshot's help section: `count`, then `count + 1` offsets into the
/// texts that follow (all little-endian `u32`), so that text `i` is one
/// slice. Held in memory, or as a region of an open file read on first
/// use: the parse cache replaces its files by renaming and never writes
/// into one, so an open file keeps the bytes the cache validated.
pub struct HelpStore {
    file: Option<(std::fs::File, u64, usize)>,
    bytes: std::sync::OnceLock<Option<Vec<u8>>>,
}

impl HelpStore {
    pub fn in_memory(section: Vec<u8>) -> HelpStore {
        let bytes = std::sync::OnceLock::new();
        let _ = bytes.set(Some(section));
        HelpStore { file: None, bytes }
    }

    /// The `len` bytes at `offset` of `file`, read when a text is first
    /// asked for.
    pub fn in_file(file: std::fs::File, offset: u64, len: usize) -> HelpStore {
        HelpStore {
            file: Some((file, offset, len)),
            bytes: std::sync::OnceLock::new(),
        }
    }

    fn section(&self) -> Option<&[u8]> {
        self.bytes
            .get_or_init(|| {
                let (file, offset, len) = self.file.as_ref()?;
                let mut b = vec![0; *len];
                std::os::unix::fs::FileExt::read_exact_at(file, &mut b, *offset).ok()?;
                Some(b)
            })
            .as_deref()
    }

    /// Text `i`, if the section reads back and holds it.
    pub fn get(&self, i: u32) -> Option<Arc<str>> {
        let d = self.section()?;
        let word = |at: usize| -> Option<usize> {
            Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?) as usize)
        };
        let count = word(0)?;
        if i as usize >= count {
            return None;
        }
        let base = 4 * (count + 2);
        let (a, b) = (word(4 + 4 * i as usize)?, word(8 + 4 * i as usize)?);
        std::str::from_utf8(d.get(base + a..base + b)?)
            .ok()
            .map(Arc::from)
    }
}

const MAGIC: &[u8] = b"ktailor-kconfig-snapshot 8\n";

/// A signed distance as an unsigned number, small either way (ids are
/// below 2^31, so a distance between two fits).
fn zigzag(d: i64) -> u32 {
    ((d << 1) ^ (d >> 63)) as u32
}

/// `v`'s distance from `last` as an unsigned number, small either way.
fn zigzag64(v: u32, last: u32) -> u64 {
    let d = v as i64 - last as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

/// The number `zigzag64` distance `z` from `last`, if it is one.
fn from_near(last: u32, z: u64) -> Option<u32> {
    let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
    u32::try_from(last as i64 + d).ok()
}

/// The id `zigzag` distance `d` back from node `i`, if it is one.
fn unzigzag(i: usize, d: u32) -> Option<u32> {
    let back = ((d >> 1) as i64) ^ -((d & 1) as i64);
    u32::try_from(i as i64 - back).ok()
}

/// A section's writer: numbers and lengths go to `d`, the bytes of every
/// string to `s`, so that a reader checks all of a section's text as
/// UTF-8 at once instead of string by string. A finished section is the
/// length of `d` (a little-endian `u32`), `d`, then `s`.
#[derive(Default)]
struct W {
    d: Vec<u8>,
    s: Vec<u8>,
}

impl W {
    fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.d.len() + self.s.len());
        out.extend_from_slice(&(self.d.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.d);
        out.extend_from_slice(&self.s);
        out
    }
    fn u32(&mut self, v: u32) {
        self.u64(v.into());
    }
    fn u64(&mut self, v: u64) {
        let mut v = v;
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.d.push(b);
                break;
            }
            self.d.push(b | 0x80);
        }
    }
    fn opt(&mut self, v: Option<u32>) {
        match v {
            None => self.u32(0),
            Some(x) => self.u32(x + 1),
        }
    }
    /// `v` as its distance from `*last`, which then becomes `v`: ids and
    /// line numbers mostly come close to the one before them, and then
    /// take one byte instead of two or three.
    fn near(&mut self, v: u32, last: &mut u32) {
        self.u64(zigzag64(v, *last));
        *last = v;
    }
    /// An optional [`W::near`]: 0 for none.
    fn onear(&mut self, v: Option<u32>, last: &mut u32) {
        match v {
            None => self.u64(0),
            Some(v) => {
                self.u64(zigzag64(v, *last) + 1);
                *last = v;
            }
        }
    }
    /// An [`ExprValue`] with its expression [`W::near`] `*last`.
    fn ev_near(&mut self, e: &ExprValue, last: &mut u32) {
        self.onear(e.expr.map(|x| x.0), last);
        self.tri(e.tri);
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.s.extend_from_slice(s.as_bytes());
    }
    fn ostr(&mut self, s: Option<&str>) {
        match s {
            None => self.u32(0),
            Some(s) => {
                self.u32(s.len() as u32 + 1);
                self.s.extend_from_slice(s.as_bytes());
            }
        }
    }
    fn tri(&mut self, t: Tri) {
        self.d.push(t as u8);
    }
    /// Another finished section, as bytes of this one.
    fn section(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.d.extend_from_slice(b);
    }
}

/// A section's reader (see [`W`]).
struct R<'a> {
    d: &'a [u8],
    p: usize,
    /// The section's text, and how much of it has been read.
    s: &'a str,
    sp: usize,
    /// Shared copies of the empty and one-byte strings (most symbols'
    /// values, `n`/`y`/`m`), so decoding allocates each only once.
    short: Vec<Option<Arc<str>>>,
}

impl<'a> R<'a> {
    /// `None` unless `section` is a finished section with valid text.
    fn new(section: &'a [u8]) -> Option<R<'a>> {
        let n = u32::from_le_bytes(section.get(..4)?.try_into().ok()?) as usize;
        let d = section.get(4..4usize.checked_add(n)?)?;
        let s = std::str::from_utf8(&section[4 + n..]).ok()?;
        Some(R {
            d,
            p: 0,
            s,
            sp: 0,
            short: vec![None; 129],
        })
    }
    /// Whether every number and every string has been read.
    fn at_end(&self) -> bool {
        self.p == self.d.len() && self.sp == self.s.len()
    }
    /// Most numbers are below 128: one byte, read inline.
    #[inline(always)]
    fn u32(&mut self) -> Option<u32> {
        let b = *self.d.get(self.p)?;
        if b < 0x80 {
            self.p += 1;
            return Some(b as u32);
        }
        self.u32_long()
    }
    /// A longer number, refused if it does not fit 32 bits.
    #[inline(never)]
    fn u32_long(&mut self) -> Option<u32> {
        u32::try_from(self.u64_long()?).ok()
    }
    #[inline(always)]
    fn u64(&mut self) -> Option<u64> {
        let b = *self.d.get(self.p)?;
        if b < 0x80 {
            self.p += 1;
            return Some(b as u64);
        }
        self.u64_long()
    }
    #[inline(never)]
    fn u64_long(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        let mut shift = 0;
        loop {
            let b = *self.d.get(self.p)?;
            self.p += 1;
            v |= ((b & 0x7f) as u64).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
        }
    }
    /// What [`W::near`] wrote.
    #[inline(always)]
    fn near(&mut self, last: &mut u32) -> Option<u32> {
        let v = from_near(*last, self.u64()?)?;
        *last = v;
        Some(v)
    }
    /// What [`W::onear`] wrote.
    #[inline(always)]
    fn onear(&mut self, last: &mut u32) -> Option<Option<u32>> {
        match self.u64()? {
            0 => Some(None),
            z => {
                let v = from_near(*last, z - 1)?;
                *last = v;
                Some(Some(v))
            }
        }
    }
    #[inline(always)]
    fn opt(&mut self) -> Option<Option<u32>> {
        Some(match self.u32()? {
            0 => None,
            x => Some(x - 1),
        })
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.d.get(self.p..self.p + n)?;
        self.p += n;
        Some(b)
    }
    fn strref(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        self.text(n)
    }
    /// The next `n` bytes of text (whole characters).
    fn text(&mut self, n: usize) -> Option<&'a str> {
        let t = self.s.get(self.sp..self.sp.checked_add(n)?)?;
        self.sp += n;
        Some(t)
    }
    fn str(&mut self) -> Option<String> {
        self.strref().map(str::to_owned)
    }
    fn rc(&mut self) -> Option<Arc<str>> {
        let n = self.u32()? as usize;
        self.rc_of_len(n)
    }
    fn rc_of_len(&mut self, n: usize) -> Option<Arc<str>> {
        let s = self.text(n)?;
        let slot = match s.as_bytes() {
            [] => 0,
            [b] if b.is_ascii() => *b as usize + 1,
            _ => return Some(Arc::from(s)),
        };
        Some(self.short[slot].get_or_insert_with(|| Arc::from(s)).clone())
    }
    /// A count and that many ids, each [`R::near`] the one before (the
    /// first near `*last`), read into the list in one allocation (through
    /// `scratch`, which keeps its capacity between lists).
    fn ids<T: Copy>(
        &mut self,
        scratch: &mut Vec<T>,
        last: &mut u32,
        id: fn(u32) -> T,
    ) -> Option<IdList<T>> {
        let n = self.u32()? as usize;
        if n == 0 {
            return Some(IdList::default());
        }
        scratch.clear();
        for _ in 0..n {
            scratch.push(id(self.near(last)?));
        }
        Some(Arc::<[T]>::from(&scratch[..]).into())
    }
    fn orc(&mut self) -> Option<Option<Arc<str>>> {
        match self.u32()? {
            0 => Some(None),
            n => self.rc_of_len(n as usize - 1).map(Some),
        }
    }
    fn tri(&mut self) -> Option<Tri> {
        let b = *self.d.get(self.p)?;
        self.p += 1;
        Some(match b {
            0 => Tri::N,
            1 => Tri::M,
            _ => Tri::Y,
        })
    }
    /// What [`W::ev_near`] wrote.
    fn ev_near(&mut self, last: &mut u32) -> Option<ExprValue> {
        Some(ExprValue {
            expr: self.onear(last)?.map(ExprId),
            tri: self.tri()?,
        })
    }
}

fn sym_type_code(t: SymType) -> u32 {
    match t {
        SymType::Unknown => 0,
        SymType::Bool => 1,
        SymType::Tristate => 2,
        SymType::Int => 3,
        SymType::Hex => 4,
        SymType::String => 5,
    }
}

fn sym_type_of(c: u32) -> SymType {
    match c {
        1 => SymType::Bool,
        2 => SymType::Tristate,
        3 => SymType::Int,
        4 => SymType::Hex,
        5 => SymType::String,
        _ => SymType::Unknown,
    }
}

const PROP_TYPES: [PropType; 8] = [
    PropType::Prompt,
    PropType::Comment,
    PropType::Menu,
    PropType::Default,
    PropType::Select,
    PropType::Imply,
    PropType::Range,
    PropType::Choice,
];
const CMP_OPS: [CmpOp; 6] = [
    CmpOp::Eq,
    CmpOp::Ne,
    CmpOp::Lt,
    CmpOp::Le,
    CmpOp::Gt,
    CmpOp::Ge,
];

impl Kconfig {
    /// Encodes the tree as parsed (call before evaluating anything).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = W::default();
        w.u32(match self.dialect {
            Dialect::V6_1 => 61,
            Dialect::V6_12 => 612,
        });
        // Properties and menus come first, as a section of known length,
        // so that a reader can decode them alongside the symbols.
        let mut b = W::default();
        self.write_props_menus(&mut b, &self.help_indices());
        w.section(&b.finish());
        w.u32(self.files.len() as u32);
        for f in self.files.iter() {
            w.str(f);
        }
        w.u32(self.exprs.len() as u32);
        let mut sym = 0;
        for (i, e) in self.exprs.nodes().iter().enumerate() {
            // A node's operands are mostly nodes made just before it: as
            // distances back they take one byte instead of three.
            let back = |a: ExprId| zigzag(i as i64 - a.0 as i64);
            match *e {
                Expr::Sym(s) => {
                    w.u32(0);
                    w.near(s.0, &mut sym);
                }
                Expr::Not(a) => {
                    w.u32(1);
                    w.u32(back(a));
                }
                Expr::And(a, b) => {
                    w.u32(2);
                    w.u32(back(a));
                    w.u32(back(b));
                }
                Expr::Or(a, b) => {
                    w.u32(3);
                    w.u32(back(a));
                    w.u32(back(b));
                }
                Expr::Cmp(op, a, b) => {
                    w.u32(4 + CMP_OPS.iter().position(|&o| o == op).unwrap_or(0) as u32);
                    w.near(a.0, &mut sym);
                    w.near(b.0, &mut sym);
                }
                Expr::Range(a, b) => {
                    w.u32(10);
                    w.near(a.0, &mut sym);
                    w.near(b.0, &mut sym);
                }
            }
        }
        w.u32(self.syms.len() as u32);
        // Each kind of id near the last one of its kind.
        let (mut prop, mut menu, mut link, mut flags) = (0, 0, 0, 0);
        let mut deps = [0; 3];
        for (i, s) in self.syms.iter().enumerate() {
            w.ostr(s.name.as_deref());
            w.u32(sym_type_code(s.ty));
            w.tri(s.curr_tri);
            w.str(&s.curr_val);
            w.opt(s.curr_choice.map(|x| x.0));
            for d in &s.def {
                w.tri(d.tri);
                w.ostr(d.val.as_deref());
                w.opt(d.choice.map(|x| x.0));
            }
            w.tri(s.visible);
            // Mostly the same as the symbol before.
            w.near(s.flags, &mut flags);
            w.u32(s.props.len() as u32);
            for p in s.props.iter() {
                w.near(p.0, &mut prop);
            }
            w.u32(s.menus.len() as u32);
            for m in s.menus.iter() {
                w.near(m.0, &mut menu);
            }
            for (e, last) in [&s.dir_dep, &s.rev_dep, &s.implied]
                .into_iter()
                .zip(&mut deps)
            {
                w.ev_near(e, last);
            }
            w.onear(s.choice_link.map(|x| x.0), &mut link);
            // Mostly the symbol's own index.
            w.near(s.created, &mut (i as u32));
        }
        w.u32(self.modules_sym.0);
        w.tri(self.modules_val);
        for list in [&self.env_used] {
            w.u32(list.len() as u32);
            for (k, v) in list.iter() {
                w.str(k);
                w.str(v);
            }
        }
        w.u32(self.sourced.len() as u32);
        for s in self.sourced.iter() {
            w.str(s);
        }
        w.u32(self.choice_names.len() as u32);
        for (n, s) in &self.choice_names {
            w.str(n);
            w.u32(s.0);
        }
        w.u32(self.diags.len() as u32);
        for d in &self.diags {
            // 0 warning, 1 error, 2 $(info), 3 $(warning-if).
            w.u32(match (d.origin, d.severity) {
                (Origin::Info, _) => 2,
                (Origin::Warning, _) => 3,
                (Origin::Engine, Severity::Error) => 1,
                (Origin::Engine, Severity::Warning) => 0,
            });
            w.str(&d.file);
            w.u32(d.line);
            w.str(&d.message);
            w.u32(d.notes.len() as u32);
            for n in &d.notes {
                w.str(n);
            }
            w.ostr(d.hint.as_deref());
        }
        let order = self.symbols_hash_order();
        w.u32(order.len() as u32);
        for s in order.iter() {
            w.u32(s.0);
        }
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&w.finish());
        out
    }

    /// Each menu's help text as its index in the help section (texts
    /// numbered in menu order).
    fn help_indices(&self) -> Vec<Option<u32>> {
        let mut n = 0;
        self.menus
            .iter()
            .map(|m| {
                m.help.as_ref().map(|_| {
                    n += 1;
                    n - 1
                })
            })
            .collect()
    }

    /// The help section that goes with [`Kconfig::snapshot`] (see
    /// [`HelpStore`] for its layout).
    pub fn help_section(&self) -> Vec<u8> {
        let texts: Vec<Arc<str>> = (0..self.menus.len())
            .filter(|&i| self.menus[i].help.is_some())
            .map(|i| {
                self.menu_help(MenuId(i as u32))
                    .unwrap_or_else(|| "".into())
            })
            .collect();
        let mut out = Vec::with_capacity(texts.iter().map(|t| t.len() + 4).sum::<usize>() + 8);
        out.extend_from_slice(&(texts.len() as u32).to_le_bytes());
        let mut off = 0u32;
        out.extend_from_slice(&off.to_le_bytes());
        for t in &texts {
            off += t.len() as u32;
            out.extend_from_slice(&off.to_le_bytes());
        }
        for t in &texts {
            out.extend_from_slice(t.as_bytes());
        }
        out
    }

    fn write_props_menus(&self, w: &mut W, help: &[Option<u32>]) {
        w.u32(self.props.len() as u32);
        // Each kind of id, and line numbers, near the last one of its kind.
        let (mut vis, mut expr, mut sym, mut menu, mut file, mut line) = (0, 0, 0, 0, 0, 0);
        for (p, &tri) in self.props.iter().zip(&self.prop_vis) {
            w.u32(PROP_TYPES.iter().position(|&t| t == p.ty).unwrap_or(0) as u32);
            w.ostr(p.text.as_deref());
            w.ev_near(
                &ExprValue {
                    expr: p.visible,
                    tri,
                },
                &mut vis,
            );
            w.onear(p.expr.map(|x| x.0), &mut expr);
            w.u32(p.choice_list.len() as u32);
            for s in &p.choice_list {
                w.near(s.0, &mut sym);
            }
            w.near(p.menu.0, &mut menu);
            w.near(p.file.0, &mut file);
            w.near(p.line, &mut line);
        }
        w.u32(help.iter().flatten().count() as u32);
        w.u32(self.menus.len() as u32);
        let (mut prompt, mut dep, mut text) = (0, 0, 0);
        (vis, sym, file, line) = (0, 0, 0, 0);
        for (i, m) in self.menus.iter().enumerate() {
            // The menus around this one, near its own index.
            for x in [m.next, m.parent, m.list] {
                w.onear(x.map(|x| x.0), &mut (i as u32));
            }
            w.onear(m.sym.map(|x| x.0), &mut sym);
            w.onear(m.prompt.map(|x| x.0), &mut prompt);
            w.onear(m.visibility.map(|x| x.0), &mut vis);
            w.onear(m.dep.map(|x| x.0), &mut dep);
            w.onear(help[i], &mut text);
            w.onear(m.file.map(|x| x.0), &mut file);
            w.near(m.line, &mut line);
            let members = self.choice_members(MenuId(i as u32));
            w.u32(members.len() as u32);
            for s in members {
                w.near(s.0, &mut sym);
            }
        }
    }

    /// Decodes a snapshot, with its help texts in `help` (what
    /// [`Kconfig::help_section`] wrote); `None` if it is damaged or of
    /// another format. With `spare_copy`, the symbols are also copied (see
    /// [`Kconfig::take_spare_copy`]).
    pub fn from_snapshot(data: &[u8], help: Arc<HelpStore>, spare_copy: bool) -> Option<Kconfig> {
        let d = data.strip_prefix(MAGIC)?;
        let mut r = R::new(d)?;
        let dialect = match r.u32()? {
            61 => Dialect::V6_1,
            612 => Dialect::V6_12,
            _ => return None,
        };
        let n = r.u32()? as usize;
        let section = r.bytes(n)?;
        std::thread::scope(|scope| {
            let other = scope.spawn(|| read_props_menus(section));
            let mut k = Self::read_rest(dialect, &mut r)?;
            // The symbols are final: a spare copy is made while the rest
            // is put together and checked.
            let (sound, copy) = std::thread::scope(|inner| {
                let syms = &k.syms;
                let copy = spare_copy.then(|| inner.spawn(|| syms.clone()));
                let sound = 'check: {
                    let Ok(Some((props, vis, menus, members, helps))) = other.join() else {
                        break 'check false;
                    };
                    if menus
                        .iter()
                        .any(|m| matches!(m.help, Some(Help::Stored(i)) if i >= helps))
                    {
                        break 'check false;
                    }
                    k.help_store = Some(help);
                    k.props = props.into();
                    k.prop_vis = vis;
                    k.menus = menus.into();
                    k.choice_members = members;
                    k.check_references()
                };
                if sound {
                    k.index_choice_menus();
                }
                (sound, copy.and_then(|c| c.join().ok()))
            });
            if !sound {
                return None;
            }
            k.spare = crate::SpareSyms(copy);
            Some(k)
        })
    }

    fn read_rest(dialect: Dialect, r: &mut R) -> Option<Kconfig> {
        let mut k = Kconfig::new(dialect);
        k.syms.clear();
        k.menus.clear();
        let n = r.u32()? as usize;
        for _ in 0..n {
            k.files.push(r.rc()?);
        }
        let n = r.u32()? as usize;
        let mut nodes = Vec::with_capacity(n);
        let mut sym = 0;
        for i in 0..n {
            let tag = r.u32()?;
            let back = |d: u32| unzigzag(i, d).map(ExprId);
            let e = match tag {
                0 => Expr::Sym(SymId(r.near(&mut sym)?)),
                1 => Expr::Not(back(r.u32()?)?),
                2 => Expr::And(back(r.u32()?)?, back(r.u32()?)?),
                3 => Expr::Or(back(r.u32()?)?, back(r.u32()?)?),
                4..=9 => Expr::Cmp(
                    CMP_OPS[(tag - 4) as usize],
                    SymId(r.near(&mut sym)?),
                    SymId(r.near(&mut sym)?),
                ),
                10 => Expr::Range(SymId(r.near(&mut sym)?), SymId(r.near(&mut sym)?)),
                _ => return None,
            };
            nodes.push(e);
        }
        k.exprs = Exprs::from_nodes(nodes).into();
        k.exprs.dups_61 = k.dialect == Dialect::V6_1;
        let n = r.u32()? as usize;
        k.syms.reserve(n);
        let (mut prop_ids, mut menu_ids) = (Vec::new(), Vec::new());
        // The running ids the writer's distances start from.
        let (mut last_prop, mut last_menu, mut last_link, mut last_flags) = (0, 0, 0, 0);
        let mut last_deps = [0; 3];
        for i in 0..n {
            let name: Option<Arc<str>> = r.orc()?;
            let ty = sym_type_of(r.u32()?);
            let curr_tri = r.tri()?;
            let curr_val: Arc<str> = r.rc()?;
            let curr_choice = r.opt()?.map(SymId);
            let mut def: [DefValue; 2] = Default::default();
            for slot in def.iter_mut() {
                slot.tri = r.tri()?;
                slot.val = r.orc()?;
                slot.choice = r.opt()?.map(SymId);
            }
            let visible = r.tri()?;
            let flags = r.near(&mut last_flags)?;
            let props = r.ids(&mut prop_ids, &mut last_prop, PropId)?;
            let menus = r.ids(&mut menu_ids, &mut last_menu, MenuId)?;
            let [d0, d1, d2] = &mut last_deps;
            let dir_dep = r.ev_near(d0)?;
            let rev_dep = r.ev_near(d1)?;
            let implied = r.ev_near(d2)?;
            let choice_link = r.onear(&mut last_link)?.map(MenuId);
            let created = r.near(&mut u32::try_from(i).ok()?)?;
            k.syms.push(Symbol {
                name,
                ty,
                curr_tri,
                curr_val,
                curr_choice,
                def,
                visible,
                flags,
                props,
                menus,
                dir_dep,
                rev_dep,
                implied,
                choice_link,
                created,
            });
        }
        k.modules_sym = SymId(r.u32()?);
        k.modules_val = r.tri()?;
        let n = r.u32()? as usize;
        for _ in 0..n {
            let a = r.str()?;
            let b = r.str()?;
            k.env_used.push((a, b));
        }
        let n = r.u32()? as usize;
        for _ in 0..n {
            k.sourced.push(r.str()?);
        }
        let n = r.u32()? as usize;
        for _ in 0..n {
            let a = r.str()?;
            k.choice_names.push((a, SymId(r.u32()?)));
        }
        let n = r.u32()? as usize;
        for _ in 0..n {
            let kind = r.u32()?;
            if kind > 3 {
                return None;
            }
            let err = kind == 1;
            let file = r.str()?;
            let line = r.u32()?;
            let message = r.str()?;
            let nn = r.u32()? as usize;
            let mut notes = Vec::with_capacity(nn);
            for _ in 0..nn {
                notes.push(r.str()?);
            }
            let hint = r.orc()?;
            k.diags.push(Diagnostic {
                severity: if err {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                origin: match kind {
                    2 => Origin::Info,
                    3 => Origin::Warning,
                    _ => Origin::Engine,
                },
                file,
                line,
                col: 0,
                message,
                notes,
                hint: hint.map(|h| Box::from(&*h)),
                excerpt: None,
            });
        }
        let n = r.u32()? as usize;
        let mut order = Vec::with_capacity(n.min(r.d.len()));
        for _ in 0..n {
            order.push(SymId(r.u32()?));
        }
        if !r.at_end() || k.syms.len() < 3 || !k.set_hash_order(order) {
            return None;
        }
        k.rebuild_symbol_index();
        k.changed = true;
        Some(k)
    }

    /// Whether every reference is in range, so that a damaged snapshot
    /// cannot make the engine index out of bounds.
    fn check_references(&self) -> bool {
        let k = self;
        if k.menus.is_empty() {
            return false;
        }
        let (ns, np, nm, ne) = (
            k.syms.len() as u32,
            k.props.len() as u32,
            k.menus.len() as u32,
            k.exprs.len() as u32,
        );
        let ok_e = |e: Option<ExprId>| e.is_none_or(|e| e.0 < ne);
        let sym_ok = |x: SymId| x.0 < ns;
        for e in k.exprs.nodes() {
            let ok = match *e {
                Expr::Sym(s) => sym_ok(s),
                Expr::Not(a) => a.0 < ne,
                Expr::And(a, b) | Expr::Or(a, b) => a.0 < ne && b.0 < ne,
                Expr::Cmp(_, a, b) | Expr::Range(a, b) => sym_ok(a) && sym_ok(b),
            };
            if !ok {
                return false;
            }
        }
        for s in &k.syms {
            if !(s.props.iter().all(|p| p.0 < np)
                && s.menus.iter().all(|m| m.0 < nm)
                && ok_e(s.dir_dep.expr)
                && ok_e(s.rev_dep.expr)
                && ok_e(s.implied.expr)
                && s.choice_link.is_none_or(|m| m.0 < nm))
            {
                return false;
            }
        }
        for p in k.props.iter() {
            if !(ok_e(p.visible)
                && ok_e(p.expr)
                && p.menu.0 < nm
                && p.choice_list.iter().all(|&s| sym_ok(s)))
            {
                return false;
            }
        }
        let nf = k.files.len() as u32;
        for m in k.menus.iter() {
            let om = |x: Option<MenuId>| x.is_none_or(|x| x.0 < nm);
            if !(om(m.next)
                && om(m.parent)
                && om(m.list)
                && m.sym.is_none_or(sym_ok)
                && m.prompt.is_none_or(|p| p.0 < np)
                && ok_e(m.visibility)
                && ok_e(m.dep)
                && m.file.is_none_or(|f| f.0 < nf))
            {
                return false;
            }
        }
        if !k
            .choice_members
            .iter()
            .all(|(m, v)| m.0 < nm && v.iter().all(|&s| sym_ok(s)))
        {
            return false;
        }
        sym_ok(k.modules_sym)
    }
}

/// The properties, the menus, the choices' member lists and the number of
/// help texts.
type PropsMenus = (
    Vec<Property>,
    Vec<Tri>,
    Vec<Menu>,
    FxHashMap<MenuId, Vec<SymId>>,
    u32,
);

/// Decodes the properties-and-menus section.
fn read_props_menus(d: &[u8]) -> Option<PropsMenus> {
    let mut r = R::new(d)?;
    let mut props = Vec::new();
    let mut menus = Vec::new();
    let n = r.u32()? as usize;
    props.reserve(n);
    let mut vis = Vec::with_capacity(n);
    // The running ids and line numbers the writer's distances start from.
    let (mut last_vis, mut last_expr, mut last_sym) = (0, 0, 0);
    let (mut last_menu, mut last_file, mut last_line) = (0, 0, 0);
    for _ in 0..n {
        let ty = *PROP_TYPES.get(r.u32()? as usize)?;
        let text = r.orc()?;
        let ExprValue { expr: visible, tri } = r.ev_near(&mut last_vis)?;
        vis.push(tri);
        let expr = r.onear(&mut last_expr)?.map(ExprId);
        let nc = r.u32()? as usize;
        let mut choice_list = Vec::with_capacity(nc);
        for _ in 0..nc {
            choice_list.push(SymId(r.near(&mut last_sym)?));
        }
        let menu = MenuId(r.near(&mut last_menu)?);
        let file = FileId(r.near(&mut last_file)?);
        let line = r.near(&mut last_line)?;
        props.push(Property {
            ty,
            text,
            visible,
            expr,
            choice_list,
            menu,
            file,
            line,
        });
    }
    let helps = r.u32()?;
    let n = r.u32()? as usize;
    menus.reserve(n);
    let mut members = FxHashMap::default();
    let (mut last_prompt, mut last_dep, mut last_help) = (0, 0, 0);
    (last_vis, last_sym, last_file, last_line) = (0, 0, 0, 0);
    for i in 0..n {
        let here = u32::try_from(i).ok()?;
        let next = r.onear(&mut { here })?.map(MenuId);
        let parent = r.onear(&mut { here })?.map(MenuId);
        let list = r.onear(&mut { here })?.map(MenuId);
        let sym = r.onear(&mut last_sym)?.map(SymId);
        let prompt = r.onear(&mut last_prompt)?.map(PropId);
        let visibility = r.onear(&mut last_vis)?.map(ExprId);
        let dep = r.onear(&mut last_dep)?.map(ExprId);
        let help = r.onear(&mut last_help)?.map(Help::Stored);
        let file = r.onear(&mut last_file)?.map(FileId);
        let line = r.near(&mut last_line)?;
        let nc = r.u32()? as usize;
        if nc > 0 {
            let mut v = Vec::with_capacity(nc);
            for _ in 0..nc {
                v.push(SymId(r.near(&mut last_sym)?));
            }
            members.insert(MenuId(here), v);
        }
        menus.push(Menu {
            next,
            parent,
            list,
            sym,
            prompt,
            visibility,
            dep,
            help,
            file,
            line,
        });
    }
    r.at_end().then_some((props, vis, menus, members, helps))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operand's distance back from its node, either way, gives the
    /// operand back, and one before the first node is refused.
    #[test]
    fn distances_back_give_the_operand() {
        for i in [0usize, 1, 2, 63, 64, 65, 1000, 300_000] {
            for a in [
                0u32, 1, 2, 63, 64, 65, 999, 1000, 1001, 299_999, 300_000, 400_000,
            ] {
                assert_eq!(unzigzag(i, zigzag(i as i64 - a as i64)), Some(a), "{i} {a}");
            }
        }
        assert_eq!(unzigzag(3, zigzag(4)), None);
    }

    /// Numbers of every length read back, in the middle of a section and
    /// at its end, and a number longer than five bytes is refused.
    #[test]
    fn numbers_read_back_whatever_their_length() {
        let values = [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            (1 << 21) - 1,
            1 << 21,
            (1 << 28) - 1,
            1 << 28,
            u32::MAX - 1,
            u32::MAX,
        ];
        for &v in &values {
            for tail in [0usize, 6] {
                let mut w = W::default();
                w.u32(v);
                for _ in 0..tail {
                    w.u32(0);
                }
                let data = w.finish();
                let mut r = R::new(&data).expect("section");
                assert_eq!(r.u32(), Some(v), "{v} followed by {tail} bytes");
                for _ in 0..tail {
                    assert_eq!(r.u32(), Some(0));
                }
                assert!(r.at_end());
            }
        }
        for tail in [0usize, 6] {
            let mut d = vec![0xff; 6];
            d.push(0x01);
            d.extend(std::iter::repeat_n(0, tail));
            let mut section = (d.len() as u32).to_le_bytes().to_vec();
            section.extend_from_slice(&d);
            let mut r = R::new(&section).expect("section");
            assert_eq!(r.u32(), None, "six bytes followed by {tail}");
        }
    }
}
