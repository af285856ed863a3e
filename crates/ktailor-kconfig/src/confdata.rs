//! `.config` data: reading user values, writing `.config`, minimal
//! defconfigs and the auto.conf / autoconf.h / rustc_cfg files.
//!
//! Mirrors scripts/kconfig/confdata.c. Reading accepts `CONFIG_X=value`
//! and `# CONFIG_X is not set` lines (the `CONFIG_` prefix can be changed
//! through the environment variable of that name); unknown symbols are
//! skipped, invalid values warned about. Writing walks the menu tree in
//! order, printing a `# Title` block for each visible menu or comment and
//! `# end of Title` after each visible menu, and every symbol that is
//! visible, has a default or is selected (`SYMBOL_WRITE`).
//!
//! Files are written atomically (a temporary file renamed over the
//! target); an unchanged `.config` is left alone, a changed one keeps its
//! previous contents as `.config.old`, as conf does.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::symbol::string_valid;
use crate::{
    flags, Dialect, Kconfig, MenuId, PropType, SymId, SymType, Tri, S_DEF_AUTO, S_DEF_USER,
};

/// Options for reading and writing that come from the environment.
#[derive(Clone, Debug)]
pub struct DataOptions {
    /// The `CONFIG_` prefix.
    pub prefix: String,
    /// `KCONFIG_WARN_UNKNOWN_SYMBOLS` is set.
    pub warn_unknown: bool,
}

impl Default for DataOptions {
    fn default() -> Self {
        DataOptions {
            prefix: "CONFIG_".into(),
            warn_unknown: false,
        }
    }
}

impl Kconfig {
    fn conf_warning(&mut self, file: &str, line: u32, msg: String) {
        self.conf_warnings += 1;
        self.diags.push(Diagnostic::warning(file, line, msg));
    }

    /// `conf_read_simple`: loads `data` (read from `name`) into slot `def`.
    /// Warnings about its lines carry the line as read: the file itself may
    /// be rewritten before anyone shows them.
    pub fn conf_read_simple(&mut self, name: &str, data: &[u8], def: usize, opts: &DataOptions) {
        let first = self.diags.len();
        self.conf_read_lines(name, data, def, opts);
        if self.diags.len() > first {
            let lines: Vec<&[u8]> = split_lines(data).collect();
            for d in &mut self.diags[first..] {
                if d.file != name || d.line == 0 {
                    continue;
                }
                if let Some(l) = lines.get(d.line as usize - 1) {
                    let text = String::from_utf8_lossy(strip_eol(l, self.dialect));
                    d.excerpt = Some(text.into());
                }
            }
        }
    }

    fn conf_read_lines(&mut self, name: &str, data: &[u8], def: usize, opts: &DataOptions) {
        let def_flag = flags::DEF_USER << def;
        self.conf_warnings = 0;
        let v61 = self.dialect == Dialect::V6_1;
        for s in self.syms.iter_mut().skip(3) {
            s.flags &= !def_flag;
            if v61 {
                s.flags &= !flags::VALID;
                if s.flags & flags::CHOICE != 0 {
                    s.flags |= def_flag;
                }
            }
            s.def[def] = Default::default();
        }
        if def == S_DEF_USER {
            self.invalidate_values();
        }
        let prefix = opts.prefix.as_bytes();
        let mut lineno = 0u32;
        for raw in split_lines(data) {
            lineno += 1;
            let line = strip_eol(raw, self.dialect);
            let (sym_name, val): (&[u8], &[u8]);
            if line.first() == Some(&b'#') {
                if line.get(1) != Some(&b' ') {
                    continue;
                }
                let p = &line[2..];
                if !p.starts_with(prefix) {
                    continue;
                }
                let rest = &p[prefix.len()..];
                let Some(sp) = rest.iter().position(|&c| c == b' ') else {
                    continue;
                };
                let tail = &rest[sp + 1..];
                let ok = match self.dialect {
                    Dialect::V6_12 => tail == b"is not set",
                    Dialect::V6_1 => tail.starts_with(b"is not set"),
                };
                if !ok {
                    continue;
                }
                sym_name = &rest[..sp];
                val = b"n";
            } else {
                if line.is_empty() {
                    continue;
                }
                if !line.starts_with(prefix) {
                    if self.dialect == Dialect::V6_12 || (line[0] != b'\r' && line[0] != b'\n') {
                        let t = String::from_utf8_lossy(line).into_owned();
                        self.conf_warning(name, lineno, format!("unexpected data: {t}"));
                    }
                    continue;
                }
                let rest = &line[prefix.len()..];
                let Some(eq) = rest.iter().position(|&c| c == b'=') else {
                    if self.dialect == Dialect::V6_12 {
                        let t = String::from_utf8_lossy(line).into_owned();
                        self.conf_warning(name, lineno, format!("unexpected data: {t}"));
                    }
                    continue;
                };
                sym_name = &rest[..eq];
                val = &rest[eq + 1..];
            }
            let sname = crate::text_of(sym_name);
            let Some(sym) = self.find(&sname) else {
                if def != S_DEF_AUTO {
                    if opts.warn_unknown {
                        self.conf_warning(name, lineno, format!("unknown symbol: {sname}"));
                    }
                    self.changed = true;
                }
                continue;
            };
            if sym.idx() < 3 {
                continue;
            }
            if self.syms[sym.idx()].flags & def_flag != 0 {
                self.conf_warning(
                    name,
                    lineno,
                    format!("override: reassigning to symbol {sname}"),
                );
            }
            if !self.conf_set_sym_val(sym, def, def_flag, val, name, lineno) {
                continue;
            }
            if def != S_DEF_USER {
                continue;
            }
            match self.dialect {
                Dialect::V6_12 => {
                    if let Some(ch) = self.sym_get_choice_menu(sym) {
                        let members = self.choice_members_mut(ch);
                        if let Some(i) = members.iter().position(|&x| x == sym) {
                            members.remove(i);
                            members.insert(0, sym);
                        }
                    }
                }
                Dialect::V6_1 => {
                    if self.is_choice_value(sym) {
                        if let Some(cs) = self.choice_of(sym) {
                            let t = self.syms[sym.idx()].def[def].tri;
                            match t {
                                Tri::N => {}
                                Tri::M => {
                                    if self.syms[cs.idx()].def[def].tri == Tri::Y {
                                        self.conf_warning(
                                            name,
                                            lineno,
                                            format!("{sname} creates inconsistent choice state"),
                                        );
                                        self.syms[cs.idx()].flags &= !def_flag;
                                    }
                                }
                                Tri::Y => {
                                    if self.syms[cs.idx()].def[def].tri != Tri::N {
                                        self.conf_warning(
                                            name,
                                            lineno,
                                            format!("override: {sname} changes choice state"),
                                        );
                                    }
                                    self.syms[cs.idx()].def[def].choice = Some(sym);
                                }
                            }
                            let c = &mut self.syms[cs.idx()].def[def];
                            c.tri = c.tri.or(t);
                        }
                    }
                }
            }
        }
    }

    /// `conf_set_sym_val`; returns false when the value was rejected.
    fn conf_set_sym_val(
        &mut self,
        s: SymId,
        def: usize,
        def_flag: u32,
        p: &[u8],
        file: &str,
        line: u32,
    ) -> bool {
        let ty = self.syms[s.idx()].ty;
        match ty {
            SymType::Bool | SymType::Tristate => {
                let t = match p.first() {
                    Some(b'm') if ty == SymType::Tristate => Some(Tri::M),
                    Some(b'y') => Some(Tri::Y),
                    Some(b'n') => Some(Tri::N),
                    _ => None,
                };
                match t {
                    Some(t) => {
                        let sym = &mut self.syms[s.idx()];
                        sym.def[def].tri = t;
                        sym.flags |= def_flag;
                        true
                    }
                    None => {
                        if def != S_DEF_AUTO {
                            let v = String::from_utf8_lossy(p).into_owned();
                            self.conf_warning(
                                file,
                                line,
                                format!("symbol value '{v}' invalid for {}", self.sym_name(s)),
                            );
                        }
                        false
                    }
                }
            }
            SymType::String | SymType::Int | SymType::Hex => {
                let mut value: Vec<u8> = p.to_vec();
                if ty == SymType::String && def != S_DEF_AUTO {
                    if p.first() != Some(&b'"') {
                        return true;
                    }
                    let mut out = Vec::new();
                    let mut i = 1;
                    let mut closed = false;
                    while i < p.len() {
                        match p[i] {
                            b'"' => {
                                closed = true;
                                break;
                            }
                            b'\\' => {
                                if i + 1 < p.len() {
                                    out.push(p[i + 1]);
                                }
                                i += 2;
                            }
                            c => {
                                out.push(c);
                                i += 1;
                            }
                        }
                    }
                    if !closed {
                        self.conf_warning(file, line, "invalid string found".into());
                        return false;
                    }
                    value = out;
                }
                let v = String::from_utf8_lossy(&value).into_owned();
                if string_valid(ty, &v) {
                    let sym = &mut self.syms[s.idx()];
                    sym.def[def].val = Some(v.into());
                    sym.flags |= def_flag;
                    true
                } else {
                    if def != S_DEF_AUTO {
                        self.conf_warning(
                            file,
                            line,
                            format!("symbol value '{v}' invalid for {}", self.sym_name(s)),
                        );
                    }
                    false
                }
            }
            SymType::Unknown => true,
        }
    }

    /// `conf_read`: reads user values and recomputes everything. `data` is
    /// `None` when no configuration file was found.
    pub fn conf_read(&mut self, input: Option<(&str, &[u8])>, opts: &DataOptions) -> bool {
        self.changed = false;
        let Some((name, data)) = input else {
            // conf_read_simple(NULL) sets changed before failing.
            self.changed = true;
            let ms = self.modules_sym;
            self.sym_calc_value(ms);
            return false;
        };
        self.conf_read_simple(name, data, S_DEF_USER, opts);
        let ms = self.modules_sym;
        self.sym_calc_value(ms);
        let order = self.symbols_hash_order();
        let mut unsaved = 0u32;
        for &s in order.iter() {
            self.sym_calc_value(s);
            if self.is_choice(s)
                || (self.dialect == Dialect::V6_1
                    && self.syms[s.idx()].flags & flags::NO_WRITE != 0)
            {
                continue;
            }
            let sym = &self.syms[s.idx()];
            let write = sym.flags & flags::WRITE != 0;
            if sym.has_value() && write {
                let same = match sym.ty {
                    SymType::Bool | SymType::Tristate => sym.def[S_DEF_USER].tri == sym.curr_tri,
                    _ => sym.def[S_DEF_USER].val.as_deref() == Some(&*sym.curr_val),
                };
                if same {
                    continue;
                }
            } else if !sym.has_value() && !write {
                continue;
            }
            unsaved += 1;
            self.changed = true;
        }
        if self.dialect == Dialect::V6_1 {
            for &s in order.iter() {
                if !self.syms[s.idx()].has_value() || self.is_choice_value(s) {
                    continue;
                }
                if self.syms[s.idx()].visible == Tri::N && unsaved == 0 {
                    self.syms[s.idx()].flags &= !flags::DEF_USER;
                }
                match self.syms[s.idx()].ty {
                    SymType::String | SymType::Int | SymType::Hex => {
                        let v = self.syms[s.idx()].def[S_DEF_USER]
                            .val
                            .clone()
                            .unwrap_or_else(|| "".into());
                        if !self.sym_string_within_range(s, &v) {
                            self.syms[s.idx()].flags &= !(flags::VALID | flags::DEF_USER);
                            unsaved += 1;
                        }
                    }
                    _ => {}
                }
            }
            if self.conf_warnings > 0 || unsaved > 0 {
                self.changed = true;
            }
        } else if self.conf_warnings > 0 {
            self.changed = true;
        }
        true
    }

    /// `conf_read` without its pass over every symbol: reads the user
    /// values and computes MODULES; every other value is computed when it
    /// is first asked for (`sym_calc_value`), and comes out as `conf_read`
    /// would have made it, since a value depends only on the user values
    /// and the values it is computed from. For callers that look at a few
    /// symbols of a configuration (the resolver's view of the current one).
    /// Linux 6.1's `conf_read` goes on after that pass to forget the user
    /// values of invisible symbols, so a 6.1 tree is read in full.
    pub fn conf_read_deferred(&mut self, name: &str, data: &[u8], opts: &DataOptions) {
        if self.dialect == Dialect::V6_1 {
            self.conf_read(Some((name, data)), opts);
            return;
        }
        self.changed = false;
        self.conf_read_simple(name, data, S_DEF_USER, opts);
        let ms = self.modules_sym;
        self.sym_calc_value(ms);
        if self.conf_warnings > 0 {
            self.changed = true;
        }
    }

    fn print_symbol_dotconfig(&self, out: &mut Vec<u8>, s: SymId, prefix: &str) {
        let sym = &self.syms[s.idx()];
        let name = sym.name.as_deref().unwrap_or("");
        match sym.ty {
            SymType::Unknown => {}
            SymType::Bool | SymType::Tristate => {
                if sym.curr_tri == Tri::N {
                    let _ = writeln!(out, "# {prefix}{name} is not set");
                } else {
                    let _ = writeln!(out, "{prefix}{name}={}", sym.curr_tri.as_str());
                }
            }
            SymType::String => {
                let _ = writeln!(out, "{prefix}{name}={}", escape_string(&sym.curr_val));
            }
            SymType::Int | SymType::Hex => {
                let _ = writeln!(out, "{prefix}{name}={}", sym.curr_val);
            }
        }
    }

    /// The `.config` text conf would write (`conf_write` without the file
    /// handling).
    pub fn conf_write_bytes(&mut self, opts: &DataOptions) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 << 18);
        let title = self.menus[0]
            .prompt
            .and_then(|p| self.props[p.idx()].text.clone())
            .unwrap_or_else(|| "".into());
        let _ = write!(
            out,
            "#\n# Automatically generated file; DO NOT EDIT.\n# {title}\n#\n"
        );
        if !self.changed {
            self.sym_clear_all_valid();
        }
        let mut written: Vec<bool> = vec![false; self.syms.len()];
        let mut need_newline = false;
        let mut menu = self.menus[0].list;
        'outer: while let Some(m) = menu {
            let sym = self.menus[m.idx()].sym;
            match sym {
                None if self.menu_is_visible(m) => {
                    let p = self.menu_get_prompt(m).unwrap_or_default();
                    let _ = write!(out, "\n#\n# {p}\n#\n");
                    need_newline = false;
                }
                Some(s) if !self.is_choice(s) && !written[s.idx()] => {
                    self.sym_calc_value(s);
                    if self.syms[s.idx()].flags & flags::WRITE != 0 {
                        if need_newline {
                            out.push(b'\n');
                            need_newline = false;
                        }
                        written[s.idx()] = true;
                        self.print_symbol_dotconfig(&mut out, s, &opts.prefix);
                    }
                }
                _ => {}
            }
            if let Some(l) = self.menus[m.idx()].list {
                menu = Some(l);
                continue;
            }
            let mut cur = m;
            loop {
                if self.menus[cur.idx()].sym.is_none()
                    && cur != MenuId::ROOT
                    && self.menu_is_visible(cur)
                    && self.menus[cur.idx()].prompt.map(|p| self.props[p.idx()].ty)
                        == Some(PropType::Menu)
                {
                    let p = self.menu_get_prompt(cur).unwrap_or_default();
                    let _ = writeln!(out, "# end of {p}");
                    need_newline = true;
                }
                if let Some(n) = self.menus[cur.idx()].next {
                    menu = Some(n);
                    continue 'outer;
                }
                match self.menus[cur.idx()].parent {
                    Some(p) => cur = p,
                    None => break 'outer,
                }
            }
        }
        out
    }

    /// The minimal configuration savedefconfig writes
    /// (`conf_write_defconfig`).
    pub fn conf_write_defconfig_bytes(&mut self, opts: &DataOptions) -> Vec<u8> {
        let mut out = Vec::new();
        self.sym_clear_all_valid();
        for m in self.sub_entries(MenuId::ROOT) {
            let Some(s) = self.menus[m.idx()].sym else {
                if self.dialect == Dialect::V6_1 {
                    self.menu_is_visible(m);
                }
                continue;
            };
            if self.is_choice(s) {
                continue;
            }
            self.sym_calc_value(s);
            if self.syms[s.idx()].flags & flags::WRITE == 0 {
                continue;
            }
            self.syms[s.idx()].flags &= !flags::WRITE;
            if !self.sym_is_changeable(s) {
                continue;
            }
            let cur = self.sym_get_string_value(s);
            let def = self.sym_get_string_default(s);
            if *cur == *def {
                continue;
            }
            match self.dialect {
                Dialect::V6_12 => {
                    if let Some(ch) = self.sym_get_choice_menu(s) {
                        let ds = self.sym_choice_default_612(ch);
                        if ds == Some(s) && self.syms[s.idx()].curr_tri == Tri::Y {
                            continue;
                        }
                    }
                }
                Dialect::V6_1 => {
                    if self.is_choice_value(s) {
                        if let Some(cs) = self.choice_of(s) {
                            let ds = self.sym_choice_default_61(cs);
                            if self.syms[cs.idx()].flags & flags::OPTIONAL == 0
                                && ds == Some(s)
                                && self.syms[s.idx()].ty == SymType::Bool
                                && self.syms[s.idx()].curr_tri == Tri::Y
                            {
                                continue;
                            }
                        }
                    }
                }
            }
            self.print_symbol_dotconfig(&mut out, s, &opts.prefix);
        }
        out
    }

    /// Writes include/config/auto.conf, its .cmd file, the per-symbol
    /// dependency files, include/generated/autoconf.h and rustc_cfg below
    /// `dir`, unless auto.conf exists and `overwrite` is false
    /// (`conf_write_autoconf`).
    pub fn conf_write_autoconf(
        &mut self,
        dir: &Path,
        names: &AutoconfNames,
        overwrite: bool,
        opts: &DataOptions,
    ) -> std::io::Result<()> {
        let auto = dir.join(&names.autoconfig);
        if !overwrite && auto.exists() {
            return Ok(());
        }
        // auto.conf.cmd: the Kconfig files read (each once) and the
        // environment they used. 6.1 lists the files newest first and
        // names auto.conf in every rule; 6.12 defines $(autoconfig).
        let mut seen = std::collections::HashSet::new();
        let mut files: Vec<&String> = self.sourced.iter().filter(|f| seen.insert(*f)).collect();
        let mut cmd = String::new();
        if self.dialect == Dialect::V6_1 {
            files.reverse();
            cmd.push_str("deps_config := \\\n");
            for f in files {
                cmd.push_str(&format!("\t{f} \\\n"));
            }
            let auto = &names.autoconfig;
            cmd.push_str(&format!("\n{auto}: $(deps_config)\n\n"));
            for (n, v) in self.env_used.iter() {
                cmd.push_str(&format!("ifneq \"$({n})\" \"{v}\"\n{auto}: FORCE\nendif\n"));
            }
            cmd.push_str("\n$(deps_config): ;\n");
        } else {
            cmd.push_str(&format!(
                "autoconfig := {}\n\ndeps_config := \\\n",
                names.autoconfig
            ));
            for f in files {
                cmd.push_str(&format!("\t{f} \\\n"));
            }
            cmd.push_str("\n$(autoconfig): $(deps_config)\n$(deps_config): ;\n");
            for (n, v) in self.env_used.iter() {
                cmd.push_str(&format!(
                    "\nifneq \"$({n})\" \"{v}\"\n$(autoconfig): FORCE\nendif\n"
                ));
            }
        }
        write_atomic(
            &dir.join(format!("{}.cmd", names.autoconfig)),
            cmd.as_bytes(),
            false,
        )?;
        let order = self.symbols_hash_order();
        for &s in order.iter() {
            self.sym_calc_value(s);
        }
        // Dependency files: read the old auto.conf, touch changed symbols.
        let depdir = match names.autoconfig.rfind('/') {
            Some(i) => dir.join(&names.autoconfig[..=i]),
            None => dir.to_path_buf(),
        };
        if let Ok(old) = std::fs::read(&auto) {
            let old_name = names.autoconfig.clone();
            self.conf_read_simple(&old_name, &old, S_DEF_AUTO, opts);
            for l in split_lines(&old) {
                let l = strip_eol(l, self.dialect);
                if let Some(rest) = l.strip_prefix(opts.prefix.as_bytes()) {
                    if let Some(eq) = rest.iter().position(|&c| c == b'=') {
                        let n = String::from_utf8_lossy(&rest[..eq]).into_owned();
                        if self.find(&n).is_none() {
                            touch(&depdir.join(&n))?;
                        }
                    }
                }
            }
        }
        for &s in order.iter() {
            if self.is_choice(s) {
                continue;
            }
            let sym = &self.syms[s.idx()];
            let write = sym.flags & flags::WRITE != 0;
            let has_auto = sym.flags & flags::DEF_AUTO != 0;
            if write {
                if has_auto {
                    let same = match sym.ty {
                        SymType::Bool | SymType::Tristate => {
                            sym.curr_tri == sym.def[S_DEF_AUTO].tri
                        }
                        SymType::String | SymType::Hex | SymType::Int => {
                            sym.def[S_DEF_AUTO].val.as_deref() == Some(&*sym.curr_val)
                        }
                        SymType::Unknown => false,
                    };
                    if same {
                        continue;
                    }
                } else if sym.ty.is_tristate_like() && sym.curr_tri == Tri::N {
                    continue;
                }
            } else if !has_auto {
                continue;
            }
            if let Some(n) = &sym.name {
                touch(&depdir.join(&**n))?;
            }
        }
        let mut h = String::from("/*\n * Automatically generated file; DO NOT EDIT.\n");
        let title = self.menus[0]
            .prompt
            .and_then(|p| self.props[p.idx()].text.clone())
            .unwrap_or_else(|| "".into());
        h.push_str(&format!(" * {title}\n */\n"));
        let mut r = String::new();
        let mut a = format!("#\n# Automatically generated file; DO NOT EDIT.\n# {title}\n#\n");
        let pre = &opts.prefix;
        for &s in order.iter() {
            let sym = &self.syms[s.idx()];
            if sym.flags & flags::WRITE == 0 {
                continue;
            }
            let Some(name) = &sym.name else { continue };
            let val = self.sym_get_string_value(s);
            match sym.ty {
                SymType::Unknown => {}
                SymType::Bool | SymType::Tristate => {
                    if sym.curr_tri == Tri::N {
                        continue;
                    }
                    let suffix = if sym.curr_tri == Tri::M {
                        "_MODULE"
                    } else {
                        ""
                    };
                    h.push_str(&format!("#define {pre}{name}{suffix} 1\n"));
                    r.push_str(&format!(
                        "--cfg={pre}{name}\n--cfg={pre}{name}={}\n",
                        escape_string(&val)
                    ));
                    a.push_str(&format!("{pre}{name}={val}\n"));
                }
                SymType::Hex => {
                    let vp = if val.starts_with("0x") || val.starts_with("0X") {
                        ""
                    } else {
                        "0x"
                    };
                    h.push_str(&format!("#define {pre}{name} {vp}{val}\n"));
                    r.push_str(&format!(
                        "--cfg={pre}{name}={}\n",
                        escape_string(&format!("{vp}{val}"))
                    ));
                    a.push_str(&format!("{pre}{name}={val}\n"));
                }
                SymType::String => {
                    h.push_str(&format!("#define {pre}{name} {}\n", escape_string(&val)));
                    r.push_str(&format!("--cfg={pre}{name}={}\n", escape_string(&val)));
                    a.push_str(&format!("{pre}{name}={val}\n"));
                }
                SymType::Int => {
                    h.push_str(&format!("#define {pre}{name} {val}\n"));
                    r.push_str(&format!("--cfg={pre}{name}={}\n", escape_string(&val)));
                    a.push_str(&format!("{pre}{name}={val}\n"));
                }
            }
        }
        write_atomic(&dir.join(&names.autoheader), h.as_bytes(), false)?;
        if let Some(rc) = &names.rustccfg {
            write_atomic(&dir.join(rc), r.as_bytes(), false)?;
        }
        write_atomic(&auto, a.as_bytes(), false)?;
        Ok(())
    }
}

/// Where the auto files go (relative to the object tree).
#[derive(Clone, Debug)]
pub struct AutoconfNames {
    pub autoconfig: String,
    pub autoheader: String,
    /// include/generated/rustc_cfg (written by 6.1 and 6.12), if any.
    pub rustccfg: Option<String>,
}

fn touch(p: &Path) -> std::io::Result<()> {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::File::create(p).map(|_| ())
}

/// `escape_string_value`: quotes and backslash-escapes `"` and `\`.
pub fn escape_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            o.push('\\');
        }
        o.push(c);
    }
    o.push('"');
    o
}

fn split_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|&c| c == b'\n') {
            Some(i) => {
                let l = &rest[..=i];
                rest = &rest[i + 1..];
                Some(l)
            }
            None => {
                let l = rest;
                rest = &[];
                Some(l)
            }
        }
    })
}

/// Strips the line ending as each version does: 6.12 removes `\n` then a
/// `\r`; 6.1 keeps `\r` at the start of an otherwise empty line.
fn strip_eol(l: &[u8], dialect: Dialect) -> &[u8] {
    let mut l = l;
    if let Some(x) = l.strip_suffix(b"\n") {
        l = x;
        if dialect == Dialect::V6_12 || !l.is_empty() {
            if let Some(y) = l.strip_suffix(b"\r") {
                l = y;
            }
        }
    }
    l
}

/// Writes `data` to `path` through a temporary file and a rename. With
/// `keep_old`, an existing different file is kept as `path.old`. Returns
/// without touching anything when the content is already the same.
pub fn write_atomic(path: &Path, data: &[u8], keep_old: bool) -> std::io::Result<bool> {
    if let Ok(old) = std::fs::read(path) {
        if old == data {
            return Ok(false);
        }
    }
    if let Some(d) = path.parent() {
        if !d.as_os_str().is_empty() {
            std::fs::create_dir_all(d)?;
        }
    }
    let tmp = tmp_name(path);
    // Renamed into place once complete, so a reader sees the old file or
    // the new one, never part of one. Not synced to disk: conf does not
    // either, and a sync costs a request about as much as writing.
    if let Err(e) = std::fs::File::create(&tmp).and_then(|mut f| f.write_all(data)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if keep_old && path.exists() {
        let mut old = path.as_os_str().to_owned();
        old.push(".old");
        let _ = std::fs::rename(path, PathBuf::from(old));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(true)
}

fn tmp_name(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{}.tmp", std::process::id()));
    PathBuf::from(s)
}
