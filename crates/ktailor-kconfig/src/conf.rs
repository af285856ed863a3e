//! The `make *config` targets: what scripts/kconfig/conf.c does after
//! parsing, for each non-interactive mode.
//!
//! `olddefconfig` reads the existing configuration and fills every new
//! symbol with its default; `alldefconfig`, `allnoconfig`, `allyesconfig`,
//! `allmodconfig` and `randconfig` give every prompted bool/tristate
//! symbol without a value `default`, `n`, `y`, `m` or a random answer
//! (`conf_set_all_new_symbols`), optionally seeded by `KCONFIG_ALLCONFIG`;
//! `defconfig` reads a minimal configuration and defaults the rest;
//! `savedefconfig` writes the minimal configuration; `listnewconfig` lists
//! symbols the configuration has no value for. This module decides values
//! and produces bytes; reading and writing files is the caller's job.

use crate::confdata::DataOptions;
use crate::diag::Diagnostic;
use crate::rand::GlibcRand;
use crate::{flags, Dialect, Kconfig, MenuId, SymId, SymType, Tri, S_DEF_USER};

/// A conf mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    OldDefconfig,
    AllDefconfig,
    AllNoconfig,
    AllYesconfig,
    AllModconfig,
    Randconfig,
    /// `--defconfig FILE`.
    Defconfig,
    /// `--savedefconfig FILE`.
    SaveDefconfig,
    ListNewconfig,
    HelpNewconfig,
    /// `make oldconfig`: ask about options without a value.
    OldConfig,
    /// `make config`: ask about every option.
    OldAskConfig,
    Yes2Modconfig,
    Mod2Yesconfig,
    Mod2Noconfig,
}

/// A file conf reads: its name as given and its bytes.
pub type Input = Option<(String, Vec<u8>)>;

/// Everything a run needs besides the parsed tree.
pub struct RunInput<'a> {
    pub mode: Mode,
    /// Opens a configuration file by name as `zconf_fopen` would.
    pub open: &'a mut dyn FnMut(&str) -> Input,
    /// The configuration file name (`KCONFIG_CONFIG`, default `.config`).
    pub config_name: String,
    /// The `--defconfig` input file name.
    pub defconfig_file: Option<String>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub data: DataOptions,
    /// Answers for the asking modes, and whether they come from a terminal
    /// (otherwise each answer is echoed, as conf does).
    pub stdin: Option<(&'a mut dyn std::io::BufRead, bool)>,
}

/// What a run produced.
#[derive(Default, Debug)]
pub struct RunOutput {
    /// The new `.config` contents, for modes that write one.
    pub config: Option<Vec<u8>>,
    /// The minimal configuration, for savedefconfig.
    pub defconfig: Option<Vec<u8>>,
    /// What conf prints on standard output (seed, listnewconfig lines).
    pub stdout: Vec<u8>,
    /// What conf prints on standard error besides diagnostics.
    pub stderr: Vec<u8>,
}

/// A failed run: a message conf would print, and diagnostics.
#[derive(Debug)]
pub struct RunError {
    pub message: String,
}

#[derive(Clone, Copy, PartialEq)]
enum DefMode {
    Default,
    Yes,
    Mod,
    No,
    Random,
}

impl Kconfig {
    /// Runs `mode` on this tree (conf.c's `main` after `conf_parse`).
    pub fn run(&mut self, input: RunInput) -> Result<RunOutput, RunError> {
        let mode = input.mode.clone();
        let data = input.data.clone();
        let mut out = self.settle(input)?;
        match mode {
            Mode::SaveDefconfig => out.defconfig = Some(self.conf_write_defconfig_bytes(&data)),
            Mode::ListNewconfig | Mode::HelpNewconfig => {}
            _ => out.config = Some(self.conf_write_bytes(&data)),
        }
        Ok(out)
    }

    /// What [`Kconfig::run`] does before it writes anything: the values
    /// are settled as conf leaves them, and the output files (`config`,
    /// `defconfig`) are not rendered; [`Kconfig::conf_write_bytes`] renders
    /// the configuration afterwards, for a caller that needs only some
    /// runs' text (a search that evaluates many candidates).
    pub fn settle(&mut self, input: RunInput) -> Result<RunOutput, RunError> {
        let RunInput {
            mode,
            open,
            config_name,
            defconfig_file,
            env,
            data,
            stdin,
        } = input;
        let mut out = RunOutput::default();
        let mut rng = None;
        if mode == Mode::Randconfig {
            let seed = env("KCONFIG_SEED")
                .filter(|s| !s.is_empty())
                .and_then(|s| parse_c_long(&s))
                .unwrap_or_else(time_seed);
            out.stdout
                .extend_from_slice(format!("KCONFIG_SEED=0x{seed:X}\n").as_bytes());
            rng = Some(GlibcRand::new(seed));
        }
        match mode {
            Mode::Defconfig => {
                let name = defconfig_file.clone().unwrap_or_default();
                let Some((n, d)) = open(&name) else {
                    return Err(RunError {
                        message: format!("Can't find default configuration \"{name}\"!"),
                    });
                };
                self.conf_read(Some((&n, &d)), &data);
            }
            Mode::AllDefconfig
            | Mode::AllNoconfig
            | Mode::AllYesconfig
            | Mode::AllModconfig
            | Mode::Randconfig => {
                if let Some(name) = env("KCONFIG_ALLCONFIG") {
                    if !name.is_empty() && name != "1" {
                        let Some((n, d)) = open(&name) else {
                            return Err(RunError {
                                message: format!("Can't read seed configuration \"{name}\"!"),
                            });
                        };
                        self.conf_read_simple(&n, &d, S_DEF_USER, &data);
                    } else {
                        let f = match mode {
                            Mode::AllNoconfig => "allno.config",
                            Mode::AllYesconfig => "allyes.config",
                            Mode::AllModconfig => "allmod.config",
                            Mode::AllDefconfig => "alldef.config",
                            _ => "allrandom.config",
                        };
                        let got = open(f).or_else(|| open("all.config"));
                        let Some((n, d)) = got else {
                            return Err(RunError {
                                message: format!("KCONFIG_ALLCONFIG set, but no \"{f}\" or \"all.config\" file found"),
                            });
                        };
                        self.conf_read_simple(&n, &d, S_DEF_USER, &data);
                    }
                }
            }
            _ => {
                let mut got = open(&config_name);
                if got.is_none() {
                    if let Some(list) = env("KCONFIG_DEFCONFIG_LIST") {
                        for name in list.split_ascii_whitespace() {
                            if let Some(g) = open(name) {
                                out.stdout.extend_from_slice(
                                    format!("#\n# using defaults found in {name}\n#\n").as_bytes(),
                                );
                                got = Some(g);
                                break;
                            }
                        }
                        if got.is_none() {
                            // conf_read_simple(NULL) marks the config changed.
                        }
                    }
                }
                match &got {
                    Some((n, d)) => {
                        self.conf_read(Some((n, d)), &data);
                    }
                    None => {
                        self.conf_read(None, &data);
                    }
                }
            }
        }
        if env("KCONFIG_WERROR").is_some() && self.conf_warnings > 0 {
            return Err(RunError {
                message: "warnings in the configuration are errors (KCONFIG_WERROR)".into(),
            });
        }
        match mode {
            Mode::AllNoconfig => self.set_all_new_symbols(DefMode::No, &mut rng, env)?,
            Mode::AllYesconfig => self.set_all_new_symbols(DefMode::Yes, &mut rng, env)?,
            Mode::AllModconfig => self.set_all_new_symbols(DefMode::Mod, &mut rng, env)?,
            Mode::AllDefconfig | Mode::Defconfig => {
                self.set_all_new_symbols(DefMode::Default, &mut rng, env)?
            }
            Mode::Randconfig => {
                if self.dialect == Dialect::V6_1 {
                    while self.set_all_new_symbols_61(DefMode::Random, &mut rng, env)? {}
                } else {
                    self.set_all_new_symbols(DefMode::Random, &mut rng, env)?;
                }
            }
            Mode::Yes2Modconfig => self.rewrite_tristates(Tri::Y, Tri::M),
            Mode::Mod2Yesconfig => self.rewrite_tristates(Tri::M, Tri::Y),
            Mode::Mod2Noconfig => self.rewrite_tristates(Tri::M, Tri::N),
            Mode::ListNewconfig | Mode::HelpNewconfig => {
                let mut lines = Vec::new();
                self.check_conf(MenuId::ROOT, &mode, &mut lines, &data);
                out.stdout.extend_from_slice(&lines);
            }
            Mode::OldConfig | Mode::OldAskConfig => {
                let mut empty: &[u8] = &[];
                let (input, tty): (&mut dyn std::io::BufRead, bool) = match stdin {
                    Some((i, t)) => (i, t),
                    None => (&mut empty, false),
                };
                let mut a =
                    crate::oldconfig::Ask::new(input, !tty, mode == Mode::OldAskConfig, &data);
                self.run_ask(&mut a);
                out.stdout.extend_from_slice(&a.out);
                out.stderr.extend_from_slice(&a.err);
                if let Some(f) = a.fatal {
                    return Err(RunError { message: f });
                }
            }
            Mode::OldDefconfig | Mode::SaveDefconfig => {}
        }
        if env("KCONFIG_WERROR").is_some() && self.sym_warnings > 0 {
            return Err(RunError {
                message: "unmet dependencies are errors (KCONFIG_WERROR)".into(),
            });
        }
        Ok(out)
    }

    fn set_all_new_symbols(
        &mut self,
        mode: DefMode,
        rng: &mut Option<GlibcRand>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), RunError> {
        if self.dialect == Dialect::V6_1 {
            self.set_all_new_symbols_61(mode, rng, env)?;
            return Ok(());
        }
        let (pby, pty, ptm) = probabilities(mode, env)?;
        for m in self.sub_entries(MenuId::ROOT) {
            let Some(s) = self.menus[m.idx()].sym else {
                continue;
            };
            let sym = &self.syms[s.idx()];
            if self.menus[m.idx()].prompt.is_none()
                || sym.has_value()
                || !sym.ty.is_tristate_like()
                || self.is_choice_value(s)
            {
                continue;
            }
            if self.is_choice(s) {
                if mode == DefMode::Random {
                    if let Some(r) = rng.as_mut() {
                        self.randomize_choice_612(m, r);
                    }
                }
                continue;
            }
            let val = match mode {
                DefMode::Yes => Tri::Y,
                DefMode::Mod => Tri::M,
                DefMode::No => Tri::N,
                DefMode::Random => {
                    let cnt = rng.as_mut().map(|r| r.next_i32() % 100).unwrap_or(0);
                    let ty = self.syms[s.idx()].ty;
                    if ty == SymType::Tristate {
                        if cnt < pty {
                            Tri::Y
                        } else if cnt < pty + ptm {
                            Tri::M
                        } else {
                            Tri::N
                        }
                    } else if cnt < pby {
                        Tri::Y
                    } else {
                        Tri::N
                    }
                }
                DefMode::Default => continue,
            };
            let sym = &mut self.syms[s.idx()];
            sym.def[S_DEF_USER].tri = val;
            sym.flags |= flags::DEF_USER;
        }
        self.sym_clear_all_valid();
        Ok(())
    }

    /// 6.12 `randomize_choice_values`.
    fn randomize_choice_612(&mut self, choice: MenuId, r: &mut GlibcRand) {
        let subs: Vec<SymId> = self
            .sub_entries(choice)
            .into_iter()
            .filter_map(|m| self.menus[m.idx()].sym)
            .collect();
        let mut cnt = subs
            .iter()
            .filter(|&&s| !self.syms[s.idx()].has_value())
            .count() as i32;
        while cnt > 0 {
            let mut x = r.next_i32() % cnt;
            for &s in &subs {
                if !self.syms[s.idx()].has_value() {
                    x -= 1;
                }
                if x < 0 {
                    let sym = &mut self.syms[s.idx()];
                    sym.def[S_DEF_USER].tri = Tri::Y;
                    sym.flags |= flags::DEF_USER;
                    let members = self.choice_members_mut(choice);
                    if let Some(i) = members.iter().position(|&y| y == s) {
                        members.remove(i);
                        members.push(s);
                    }
                    break;
                }
            }
            cnt -= 1;
        }
    }

    /// 6.1 `conf_set_all_new_symbols`; returns whether anything changed.
    fn set_all_new_symbols_61(
        &mut self,
        mode: DefMode,
        rng: &mut Option<GlibcRand>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<bool, RunError> {
        let (pby, pty, ptm) = probabilities(mode, env)?;
        let mut changed = false;
        let order = self.symbols_hash_order();
        for &s in order.iter() {
            let sym = &self.syms[s.idx()];
            if sym.has_value() || sym.flags & flags::VALID != 0 {
                continue;
            }
            if !self.sym_get_type(s).is_tristate_like() {
                continue;
            }
            changed = true;
            let val = match mode {
                DefMode::Yes => Tri::Y,
                DefMode::Mod => Tri::M,
                DefMode::No => Tri::N,
                DefMode::Random => {
                    let cnt = rng.as_mut().map(|r| r.next_i32() % 100).unwrap_or(0);
                    if self.syms[s.idx()].ty == SymType::Tristate {
                        if cnt < pty {
                            Tri::Y
                        } else if cnt < pty + ptm {
                            Tri::M
                        } else {
                            Tri::N
                        }
                    } else if cnt < pby {
                        Tri::Y
                    } else {
                        Tri::N
                    }
                }
                DefMode::Default => continue,
            };
            let is_choice = self.is_choice(s);
            let sym = &mut self.syms[s.idx()];
            sym.def[S_DEF_USER].tri = val;
            if !(is_choice && mode == DefMode::Random) {
                sym.flags |= flags::DEF_USER;
            }
        }
        self.sym_clear_all_valid();
        if mode != DefMode::Random {
            for &c in order.iter() {
                if (self.is_choice(c) && !self.syms[c.idx()].has_value()) || self.is_choice_value(c)
                {
                    self.syms[c.idx()].flags |= flags::NEED_SET_CHOICE_VALUES;
                }
            }
        }
        for &c in order.iter() {
            if self.syms[c.idx()].has_value() || !self.is_choice(c) {
                continue;
            }
            self.sym_calc_value(c);
            if mode == DefMode::Random {
                if let Some(r) = rng.as_mut() {
                    changed |= self.randomize_choice_61(c, r);
                }
            } else {
                self.set_all_choice_values(c);
                changed = true;
            }
        }
        Ok(changed)
    }

    fn randomize_choice_61(&mut self, c: SymId, r: &mut GlibcRand) -> bool {
        if self.syms[c.idx()].curr_tri != Tri::Y {
            return false;
        }
        let list = self.choice_list(c);
        if list.is_empty() {
            return false;
        }
        let def = r.next_i32() % list.len() as i32;
        for (i, &s) in list.iter().enumerate() {
            if i as i32 == def {
                self.syms[s.idx()].def[S_DEF_USER].tri = Tri::Y;
                self.syms[c.idx()].def[S_DEF_USER].choice = Some(s);
            } else {
                self.syms[s.idx()].def[S_DEF_USER].tri = Tri::N;
            }
            self.syms[s.idx()].flags |= flags::DEF_USER;
            self.syms[s.idx()].flags &= !flags::VALID;
        }
        self.syms[c.idx()].flags |= flags::DEF_USER;
        self.syms[c.idx()].flags &= !flags::VALID;
        true
    }

    /// `conf_rewrite_tristates`.
    fn rewrite_tristates(&mut self, old: Tri, new: Tri) {
        for &s in self.symbols_hash_order().iter() {
            if self.sym_get_type(s) == SymType::Tristate
                && self.syms[s.idx()].def[S_DEF_USER].tri == old
            {
                self.syms[s.idx()].def[S_DEF_USER].tri = new;
            }
        }
        self.sym_clear_all_valid();
    }

    /// `check_conf` for listnewconfig and helpnewconfig.
    fn check_conf(&mut self, m: MenuId, mode: &Mode, out: &mut Vec<u8>, data: &DataOptions) {
        if !self.menu_is_visible(m) {
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
                match mode {
                    Mode::ListNewconfig => {
                        if let Some(name) = self.syms[s.idx()].name.clone() {
                            if !self.is_choice(s) {
                                let v = self.sym_get_string_value(s);
                                let v = if self.syms[s.idx()].ty == SymType::String {
                                    crate::confdata::escape_string(&v)
                                } else {
                                    v.to_string()
                                };
                                out.extend_from_slice(
                                    format!("{}{name}={v}\n", data.prefix).as_bytes(),
                                );
                            }
                        }
                    }
                    _ => {
                        out.extend_from_slice(b"-----\n\n");
                        out.extend_from_slice(self.menu_get_ext_help(m, &data.prefix).as_bytes());
                        out.extend_from_slice(b"\n-----\n");
                    }
                }
            }
        }
        let mut c = self.menus[m.idx()].list;
        while let Some(x) = c {
            self.check_conf(x, mode, out, data);
            c = self.menus[x.idx()].next;
        }
    }

    /// Records a diagnostic (for front ends that drive the engine).
    pub fn push_diag(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
}

fn probabilities(
    mode: DefMode,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(i32, i32, i32), RunError> {
    let (mut pby, mut pty, mut ptm) = (50, 33, 33);
    if mode != DefMode::Random {
        return Ok((pby, pty, ptm));
    }
    let mut p = Vec::new();
    if let Some(e) = env("KCONFIG_PROBABILITY") {
        let mut rest = e.as_str();
        while !rest.is_empty() {
            let digits: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-' || *c == '+')
                .collect();
            let v: i64 = digits.parse().unwrap_or(0);
            if !(0..=100).contains(&v) {
                return Err(RunError {
                    message: "KCONFIG_PROBABILITY: Numerical result out of range".into(),
                });
            }
            p.push(v as i32);
            rest = &rest[digits.len()..];
            rest = rest.strip_prefix(':').unwrap_or(rest);
            if p.len() >= 3 || digits.is_empty() {
                break;
            }
        }
    }
    match p.len() {
        1 => {
            pby = p[0];
            ptm = pby / 2;
            pty = pby - ptm;
        }
        2 => {
            pty = p[0];
            ptm = p[1];
            pby = pty + ptm;
        }
        3 => {
            pby = p[0];
            pty = p[1];
            ptm = p[2];
        }
        _ => {}
    }
    if pty + ptm > 100 {
        return Err(RunError {
            message: "KCONFIG_PROBABILITY: Numerical result out of range".into(),
        });
    }
    Ok((pby, pty, ptm))
}

/// `strtol(s, &end, 0)` accepting the whole string, truncated to unsigned
/// int as conf stores the seed.
fn parse_c_long(s: &str) -> Option<u32> {
    let (v, used) = crate::symbol::strtoll(s, 0);
    if used != s.len() {
        return None;
    }
    Some(v as u32)
}

fn time_seed() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ((now.as_secs() as u32).wrapping_add(1)).wrapping_mul(now.subsec_micros().wrapping_add(1))
}
