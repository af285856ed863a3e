//! module → CONFIG: an index over a kernel tree's Makefiles and Kbuild
//! files.
//!
//! Kbuild decides what becomes a module with lines like
//! `obj-$(CONFIG_E1000E) += e1000e/` (descend into a directory) and
//! `obj-$(CONFIG_E1000E) += e1000e.o` (build an object, a module when the
//! symbol is `m`); composite objects list their parts in `foo-y`,
//! `foo-objs` or `foo-$(CONFIG_Y)`. A module is therefore reached through
//! a chain of directories from the top of the tree, each gated by the
//! symbols of the line that descends into it; [`Index`] records every
//! directory with the edges that reach it and every object with its own
//! symbols, and answers "which symbols build module M" as the object's
//! symbols plus the gating chain.
//!
//! This is a model of make, not make: it joins continuation lines,
//! expands the Makefile's own variables (`$(NAME)`), keeps `$(CONFIG_X)`
//! symbolic, and reads the symbols out of the forms the tree uses
//! (`$(subst m,y,$(CONFIG_X))`, `$(subst y,$(CONFIG_A),$(CONFIG_B))`,
//! `$(if $(CONFIG_X),...)`, `ifdef`/`ifeq` blocks) as a conjunction. The
//! walk starts where kbuild starts: the top Kbuild, plus the directories
//! the top and arch Makefiles list in `core-y`, `drivers-y` and `libs-y`,
//! so directories of other architectures are never reached.
//!
//! The index is cached per tree (see [`Index::load`]): the cache file
//! records the size and modification time of every Makefile and Kbuild
//! file the walk looked at (present or not), and is used only if all of
//! them are unchanged.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::alias::normalize_module;
use crate::Error;

/// Bumped whenever the index layout or the parsing rules change.
const FORMAT: u32 = 2;

/// The index of one tree for one architecture.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Index {
    /// [`FORMAT`] and the build that wrote it.
    pub format: String,
    /// The source tree (as given, made absolute).
    pub srctree: String,
    /// The source architecture directory (`x86` for x86_64).
    pub srcarch: String,
    /// Every directory reached, by path relative to the tree (`""` is the
    /// top).
    pub dirs: BTreeMap<String, Dir>,
    /// Identity of every Makefile/Kbuild looked at.
    pub stamps: Vec<Stamp>,
    #[serde(skip)]
    modules: HashMap<String, Vec<(String, usize)>>,
    #[serde(skip)]
    gates: HashMap<String, Vec<Vec<String>>>,
}

/// One directory kbuild descends into.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Dir {
    /// The file kbuild reads there (`Kbuild` if present, else `Makefile`),
    /// relative to the tree.
    pub file: String,
    /// The lines that descend into this directory.
    pub parents: Vec<Edge>,
    /// Objects of `obj-*` lines.
    pub objs: Vec<Obj>,
    /// Composite objects: name → parts (`foo-y`, `foo-objs`,
    /// `foo-$(CONFIG_Y)`).
    pub composites: BTreeMap<String, Vec<Obj>>,
}

/// A line that descends into a directory.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Edge {
    /// The directory the line is in.
    pub from: String,
    /// The symbols of the line (a conjunction; empty for `obj-y`).
    pub conds: Vec<String>,
    /// Where the line is (`file:line`).
    pub at: String,
}

/// An object of an `obj-*` or composite line.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Obj {
    /// The object's path relative to its Makefile's directory, without
    /// `.o` (`e1000e`, `sfh1_1/amd_sfh_init`).
    pub name: String,
    /// The symbols of the line (a conjunction).
    pub conds: Vec<String>,
    /// True for `obj-y` and `obj-$(subst m,y,...)`: never a module.
    pub builtin_only: bool,
    /// Where the line is (`file:line`).
    pub at: String,
}

/// A file's identity: size and modification time, or absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Path relative to the tree.
    pub path: String,
    /// Modification time in nanoseconds, -1 if the file does not exist.
    pub mtime: i128,
    /// Size in bytes.
    pub size: u64,
}

/// Where a module is built and what gates it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The object, relative to the tree (`drivers/nvme/host/nvme.o`).
    pub object: String,
    /// The symbols of its own `obj-$(CONFIG_X)` line.
    pub symbols: Vec<String>,
    /// The symbols gating its directory: alternatives (any one chain
    /// reaches it), each a conjunction; `[[]]` when ungated.
    pub gated_by: Vec<Vec<String>>,
    /// Never a module (`obj-y`, `$(subst m,y,...)`).
    pub builtin_only: bool,
    /// Where the deciding line is (`file:line`).
    pub at: String,
    /// How the module was found: `object` (its name is an object) or
    /// `driver name in FILE:LINE`.
    pub via: String,
}

/// The source architecture directory for an ARCH value (the top
/// Makefile's SRCARCH rules).
pub fn srcarch(arch: &str) -> String {
    match arch {
        "i386" | "x86_64" | "x86" => "x86".into(),
        "sparc32" | "sparc64" => "sparc".into(),
        "parisc64" => "parisc".into(),
        "sh64" => "sh".into(),
        "tilepro" | "tilegx" => "tile".into(),
        a => a.into(),
    }
}

/// The host's ARCH as the kernel names it.
pub fn host_arch() -> String {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64".into(),
        "x86" => "i386".into(),
        "aarch64" => "arm64".into(),
        "powerpc64" | "powerpc" => "powerpc".into(),
        "riscv64" => "riscv".into(),
        "loongarch64" => "loongarch".into(),
        a => a.into(),
    }
}

fn stamp(root: &Path, rel: &str) -> Stamp {
    match std::fs::metadata(root.join(rel)) {
        Ok(md) => Stamp {
            path: rel.into(),
            mtime: md
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i128)
                .unwrap_or(0),
            size: md.len(),
        },
        Err(_) => Stamp {
            path: rel.into(),
            mtime: -1,
            size: 0,
        },
    }
}

fn join(dir: &str, rel: &str) -> Option<String> {
    // Normalise `a/b/../c` and refuse anything that leaves the tree.
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Which ktailor build this is: an index from another build is not used.
fn exe_identity() -> String {
    let Ok(p) = std::env::current_exe() else {
        return "unknown".into();
    };
    let Ok(md) = std::fs::metadata(&p) else {
        return "unknown".into();
    };
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{FORMAT}:{}:{}:{}", p.display(), md.len(), mtime)
}

/// Statistics of [`Index::load`]: whether the cache was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// Read from the cache.
    Hit,
    /// Built (and stored if possible).
    Built,
}

impl Index {
    /// The index for `srctree`/`arch`, from the cache in `cache_dir` when
    /// every Makefile is unchanged, else built and stored there (`None`:
    /// no cache).
    pub fn load(
        srctree: &Path,
        arch: &str,
        cache_dir: Option<&Path>,
    ) -> Result<(Index, CacheUse), Error> {
        let root = std::fs::canonicalize(srctree).map_err(|e| {
            Error::new(
                srctree.display().to_string(),
                0,
                format!("cannot open the tree: {e}"),
            )
        })?;
        let sa = srcarch(arch);
        let ident = exe_identity();
        let cache_file = cache_dir.map(|d| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&(root.display().to_string(), &sa), &mut h);
            d.join(format!(
                "hw-index-{:016x}.json",
                std::hash::Hasher::finish(&h)
            ))
        });
        if let Some(cf) = &cache_file {
            if let Ok(bytes) = std::fs::read(cf) {
                if let Ok(mut idx) = serde_json::from_slice::<Index>(&bytes) {
                    let fresh = idx.format == ident
                        && idx.srctree == root.display().to_string()
                        && idx.srcarch == sa
                        && idx.stamps.iter().all(|s| stamp(&root, &s.path) == *s);
                    if fresh {
                        idx.finish();
                        return Ok((idx, CacheUse::Hit));
                    }
                }
            }
        }
        let mut idx = Index::build(&root, &sa)?;
        idx.format = ident;
        if let Some(cf) = &cache_file {
            // A cache that cannot be written costs time next run, nothing
            // else.
            if let Some(d) = cf.parent() {
                let _ = std::fs::create_dir_all(d);
            }
            if let Ok(bytes) = serde_json::to_vec(&idx) {
                let _ = crate::write_atomic(cf, &bytes);
            }
        }
        Ok((idx, CacheUse::Built))
    }

    /// Walks the tree's Makefiles from the top, as kbuild descends.
    pub fn build(root: &Path, srcarch: &str) -> Result<Index, Error> {
        let mut idx = Index {
            srctree: root.display().to_string(),
            srcarch: srcarch.into(),
            ..Index::default()
        };
        let top = if root.join("Kbuild").is_file() {
            "Kbuild"
        } else {
            "Makefile"
        };
        if !root.join(top).is_file() {
            return Err(Error::new(
                root.display().to_string(),
                0,
                "no Kbuild or Makefile at the top: not a kernel tree",
            )
            .hint("pass the kernel source tree with -C"));
        }
        let mut queue: Vec<String> = vec![String::new()];
        idx.dirs.insert(String::new(), Dir::default());
        // The top and arch Makefiles name the arch's directories in
        // core-y/drivers-y/libs-y (relative to the top).
        let arch_mk = format!("arch/{srcarch}/Makefile");
        for mk in ["Makefile", arch_mk.as_str()] {
            idx.stamps.push(stamp(root, mk));
            let Ok(text) = std::fs::read(root.join(mk)) else {
                continue;
            };
            let parsed = parse_makefile(&String::from_utf8_lossy(&text), mk, "", srcarch);
            for (d, conds, at) in parsed.arch_dirs {
                idx.add_edge("", &d, conds, at, &mut queue);
            }
        }
        while let Some(dir) = queue.pop() {
            let kb = if dir.is_empty() {
                "Kbuild".to_string()
            } else {
                format!("{dir}/Kbuild")
            };
            let mk = if dir.is_empty() {
                "Makefile".to_string()
            } else {
                format!("{dir}/Makefile")
            };
            let (kbs, mks) = (stamp(root, &kb), stamp(root, &mk));
            let file = if kbs.mtime >= 0 { kb } else { mk };
            idx.stamps.push(kbs);
            idx.stamps.push(mks);
            let Ok(bytes) = std::fs::read(root.join(&file)) else {
                continue;
            };
            let parsed = parse_makefile(&String::from_utf8_lossy(&bytes), &file, &dir, srcarch);
            for (sub, conds, at) in parsed.subdirs {
                if let Some(d) = join(&dir, &sub) {
                    idx.add_edge(&dir, &d, conds, at, &mut queue);
                }
            }
            if let Some(d) = idx.dirs.get_mut(&dir) {
                d.file = file;
                d.objs = parsed.objs;
                d.composites = parsed.composites;
            }
        }
        idx.stamps.sort_by(|a, b| a.path.cmp(&b.path));
        idx.stamps.dedup();
        idx.finish();
        Ok(idx)
    }

    fn add_edge(
        &mut self,
        from: &str,
        to: &str,
        conds: Vec<String>,
        at: String,
        queue: &mut Vec<String>,
    ) {
        if to == from {
            return;
        }
        let e = Edge {
            from: from.into(),
            conds,
            at,
        };
        match self.dirs.get_mut(to) {
            Some(d) => d.parents.push(e),
            None => {
                self.dirs.insert(
                    to.into(),
                    Dir {
                        parents: vec![e],
                        ..Dir::default()
                    },
                );
                queue.push(to.into());
            }
        }
    }

    /// Builds the lookup tables that are not stored.
    fn finish(&mut self) {
        let mut modules: HashMap<String, Vec<(String, usize)>> = HashMap::new();
        for (d, dir) in &self.dirs {
            for (i, o) in dir.objs.iter().enumerate() {
                let base = o.name.rsplit('/').next().unwrap_or(&o.name);
                modules
                    .entry(normalize_module(base))
                    .or_default()
                    .push((d.clone(), i));
            }
        }
        self.modules = modules;
        let names: Vec<String> = self.dirs.keys().cloned().collect();
        let mut gates = HashMap::new();
        for d in names {
            let mut visiting = Vec::new();
            gate_of(&self.dirs, &d, &mut gates, &mut visiting);
        }
        self.gates = gates;
    }

    /// How many directories and objects the index holds.
    pub fn size(&self) -> (usize, usize) {
        (
            self.dirs.len(),
            self.dirs.values().map(|d| d.objs.len()).sum(),
        )
    }

    fn hit(&self, dir: &str, o: &Obj, via: &str) -> Hit {
        let (odir, _) = split_obj(dir, &o.name);
        let object = match join(dir, &o.name) {
            Some(p) => format!("{p}.o"),
            None => format!("{}.o", o.name),
        };
        Hit {
            object,
            symbols: o.conds.clone(),
            gated_by: self
                .gates
                .get(&odir)
                .or_else(|| self.gates.get(dir))
                .cloned()
                .unwrap_or_default(),
            builtin_only: o.builtin_only,
            at: o.at.clone(),
            via: via.into(),
        }
    }

    /// Where module `name` is built: every object of that name (`-` and
    /// `_` equal). `path` (from modules.dep or modules.order, e.g.
    /// `kernel/drivers/nvme/host/nvme.ko`) picks among colliding names.
    pub fn lookup(&self, name: &str, path: Option<&str>) -> Vec<Hit> {
        let key = normalize_module(name);
        let Some(list) = self.modules.get(&key) else {
            return Vec::new();
        };
        let mut hits: Vec<Hit> = list
            .iter()
            .filter_map(|(d, i)| Some(self.hit(d, self.dirs.get(d)?.objs.get(*i)?, "object")))
            .collect();
        if let Some(p) = path {
            let p = p.strip_prefix("kernel/").unwrap_or(p);
            let stem = p.split(".ko").next().unwrap_or(p);
            let want = format!("{}.o", stem);
            let norm = |s: &str| s.replace('-', "_");
            if hits.iter().any(|h| norm(&h.object) == norm(&want)) {
                hits.retain(|h| norm(&h.object) == norm(&want));
            }
        }
        hits
    }

    /// The module objects built from source file `rel` (relative to the
    /// tree, e.g. `drivers/pci/pcie/portdrv.c`): the object of the same
    /// name if it is one, else the composites listing it as a part (in its
    /// directory or an ancestor, as parts may live in subdirectories).
    pub fn objects_of_source(&self, rel: &str) -> Vec<Hit> {
        let stem = rel.strip_suffix(".c").unwrap_or(rel);
        let mut out = Vec::new();
        let mut dir = stem.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        for _ in 0..3 {
            if let Some(d) = self.dirs.get(dir) {
                for o in &d.objs {
                    if join(dir, &o.name).as_deref() == Some(stem) {
                        out.push(self.hit(dir, o, ""));
                    }
                }
                for (comp, parts) in &d.composites {
                    if parts
                        .iter()
                        .any(|p| join(dir, &p.name).as_deref() == Some(stem))
                    {
                        for o in d.objs.iter().filter(|o| &o.name == comp) {
                            out.push(self.hit(dir, o, ""));
                        }
                    }
                }
            }
            if !out.is_empty() || dir.is_empty() {
                break;
            }
            dir = dir.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        }
        out
    }

    /// Finds drivers by the name they register (`.name = "pcieport"`,
    /// `#define DRIVER_NAME "pcie_mp2_amd"`, `hcd_name[] = "xhci_hcd"`):
    /// what lspci and sysfs show for a bound driver, which need not be its
    /// module's name. Looks the names up in the tree's [`DriverNames`]
    /// and maps each file to its module objects. When a name's `bus` is
    /// given (`pci`, `usb`, `platform`, ...) and some of the files declare
    /// a `struct BUS_driver`, only those are kept: a PCI device's driver
    /// is a `pci_driver`. Each hit comes with whether its file declared
    /// the bus's driver struct.
    pub fn find_drivers(
        &self,
        table: &DriverNames,
        names: &[(String, Option<String>)],
    ) -> HashMap<String, Vec<(Hit, bool)>> {
        let mut out: HashMap<String, Vec<(Hit, bool)>> = HashMap::new();
        for (name, bus) in names {
            let Some(regs) = table.names.get(name) else {
                continue;
            };
            let mine: Vec<(&str, u32, bool)> = regs
                .iter()
                .filter_map(|(f, line)| {
                    let (file, buses) = table.files.get(*f as usize)?;
                    let bus_ok = bus
                        .as_ref()
                        .is_some_and(|b| buses.iter().any(|x| *x == b.replace('-', "_")));
                    Some((file.as_str(), *line, bus_ok))
                })
                .collect();
            let any_bus = mine.iter().any(|f| f.2);
            for (rel, line, bus_ok) in mine.into_iter().filter(|f| f.2 || !any_bus) {
                for mut h in self.objects_of_source(rel) {
                    h.via = format!("driver name in {rel}:{line}");
                    let v = out.entry(name.clone()).or_default();
                    if !v.iter().any(|x| x.0.object == h.object) {
                        v.push((h, bus_ok));
                    }
                }
            }
        }
        out
    }
}

/// The names drivers register, read from the C files of an index's
/// directories: every quoted string on a line that names something (`name`
/// with `=`, or a `#define`), and the `struct BUS_driver` kinds each file
/// declares. Built on first need (it reads the sources) and cached like
/// the index: the cache records every file's and directory's identity.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DriverNames {
    format: String,
    srctree: String,
    /// Files (relative to the tree) with the bus driver kinds they declare.
    pub files: Vec<(String, Vec<String>)>,
    /// Name → (file index, line).
    pub names: HashMap<String, Vec<(u32, u32)>>,
    stamps: Vec<Stamp>,
}

impl DriverNames {
    /// The table for an index's tree, from the cache in `cache_dir` when
    /// no C file or directory changed, else built (and stored).
    pub fn load(index: &Index, cache_dir: Option<&Path>) -> (DriverNames, CacheUse) {
        let cache_file = cache_dir.map(|d| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&(&index.srctree, &index.srcarch), &mut h);
            d.join(format!(
                "hw-drivers-{:016x}.json",
                std::hash::Hasher::finish(&h)
            ))
        });
        let root = PathBuf::from(&index.srctree);
        if let Some(cf) = &cache_file {
            if let Ok(bytes) = std::fs::read(cf) {
                if let Ok(t) = serde_json::from_slice::<DriverNames>(&bytes) {
                    if t.format == index.format
                        && t.srctree == index.srctree
                        && t.stamps.iter().all(|s| stamp(&root, &s.path) == *s)
                    {
                        return (t, CacheUse::Hit);
                    }
                }
            }
        }
        let t = DriverNames::build(index);
        if let Some(cf) = &cache_file {
            if let Some(d) = cf.parent() {
                let _ = std::fs::create_dir_all(d);
            }
            if let Ok(bytes) = serde_json::to_vec(&t) {
                let _ = crate::write_atomic(cf, &bytes);
            }
        }
        (t, CacheUse::Built)
    }

    /// Reads the C files of every indexed directory with objects (two
    /// threads).
    pub fn build(index: &Index) -> DriverNames {
        let root = PathBuf::from(&index.srctree);
        let dirs: Vec<&String> = index
            .dirs
            .iter()
            .filter(|(_, d)| !d.objs.is_empty())
            .map(|(k, _)| k)
            .collect();
        type FileNames = (String, Vec<String>, Vec<(String, u32)>);
        let scan = |part: &[&String]| -> (Vec<FileNames>, Vec<Stamp>) {
            let mut found = Vec::new();
            let mut stamps = Vec::new();
            for dir in part {
                // The directory's identity changes when files come or go.
                stamps.push(stamp(&root, dir));
                let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
                    continue;
                };
                let mut files: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".c"))
                    .collect();
                files.sort();
                for f in files {
                    let rel = if dir.is_empty() {
                        f.clone()
                    } else {
                        format!("{dir}/{f}")
                    };
                    stamps.push(stamp(&root, &rel));
                    let Ok(bytes) = std::fs::read(root.join(&rel)) else {
                        continue;
                    };
                    let text = String::from_utf8_lossy(&bytes);
                    let names = registrations(&text);
                    if !names.is_empty() {
                        found.push((rel, bus_kinds(&text), names));
                    }
                }
            }
            (found, stamps)
        };
        let (a, b) = dirs.split_at(dirs.len() / 2);
        let (mut found, mut stamps) = std::thread::scope(|s| {
            let h = s.spawn(|| scan(a));
            let (mut f, mut st) = scan(b);
            if let Ok((f2, st2)) = h.join() {
                f.extend(f2);
                st.extend(st2);
            }
            (f, st)
        });
        found.sort_by(|x, y| x.0.cmp(&y.0));
        stamps.sort_by(|x, y| x.path.cmp(&y.path));
        let mut t = DriverNames {
            format: index.format.clone(),
            srctree: index.srctree.clone(),
            stamps,
            ..DriverNames::default()
        };
        for (rel, buses, names) in found {
            let i = t.files.len() as u32;
            t.files.push((rel, buses));
            for (n, line) in names {
                t.names.entry(n).or_default().push((i, line));
            }
        }
        t
    }
}

/// The quoted names a C file registers: string literals (driver-name
/// charset, at most 64 characters) on lines with `name` and `=`, or on
/// `#define` lines; the first line of each name.
fn registrations(text: &str) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if !line.contains('"') {
            continue;
        }
        let t = line.trim_start();
        let names_something = t.starts_with("#define")
            || (line.contains('=') && line.to_ascii_lowercase().contains("name"));
        if !names_something {
            continue;
        }
        for (k, lit) in line.split('"').enumerate() {
            // Odd pieces are inside quotes.
            let ok = k % 2 == 1
                && !lit.is_empty()
                && lit.len() <= 64
                && lit
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:+".contains(c));
            if ok && !out.iter().any(|(x, _)| x == lit) {
                out.push((lit.to_string(), n as u32 + 1));
            }
        }
    }
    out
}

/// The `struct BUS_driver` kinds a file mentions (`pci`, `usb`, ...).
fn bus_kinds(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split("struct ").skip(1) {
        let id: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if let Some(bus) = id.strip_suffix("_driver") {
            if !bus.is_empty() && !out.iter().any(|x| x == bus) {
                out.push(bus.to_string());
            }
        }
    }
    out
}

/// The directory an object lives in (`sub/bar` in `d` → `d/sub`).
fn split_obj(dir: &str, name: &str) -> (String, String) {
    match name.rsplit_once('/') {
        Some((sub, base)) => (join(dir, sub).unwrap_or_default(), base.into()),
        None => (dir.into(), name.into()),
    }
}

/// The gating alternatives of a directory: for every line descending into
/// it, the parent's alternatives plus that line's symbols. At most a few
/// alternatives are kept (shortest first); a cycle contributes nothing.
fn gate_of(
    dirs: &BTreeMap<String, Dir>,
    d: &str,
    memo: &mut HashMap<String, Vec<Vec<String>>>,
    visiting: &mut Vec<String>,
) -> Vec<Vec<String>> {
    const MAX_ALTERNATIVES: usize = 4;
    if let Some(g) = memo.get(d) {
        return g.clone();
    }
    if d.is_empty() {
        return vec![Vec::new()];
    }
    if visiting.iter().any(|v| v == d) {
        return Vec::new();
    }
    visiting.push(d.into());
    let mut alts: Vec<Vec<String>> = Vec::new();
    if let Some(dir) = dirs.get(d) {
        for e in &dir.parents {
            for g in gate_of(dirs, &e.from, memo, visiting) {
                let mut a = g.clone();
                for c in &e.conds {
                    if !a.contains(c) {
                        a.push(c.clone());
                    }
                }
                if !alts.contains(&a) {
                    alts.push(a);
                }
            }
        }
    }
    alts.sort_by_key(|a| a.len());
    alts.truncate(MAX_ALTERNATIVES);
    visiting.pop();
    memo.insert(d.into(), alts.clone());
    alts
}

/// What one Makefile contributes.
#[derive(Debug, Default)]
pub struct Parsed {
    /// `obj-*` objects.
    pub objs: Vec<Obj>,
    /// `obj-* += dir/` and `subdir-*` entries, relative to the Makefile's
    /// directory: (dir, symbols, file:line).
    pub subdirs: Vec<(String, Vec<String>, String)>,
    /// `core-*`/`drivers-*`/`libs-*` directories (top and arch Makefiles),
    /// relative to the top.
    pub arch_dirs: Vec<(String, Vec<String>, String)>,
    /// Composite objects.
    pub composites: BTreeMap<String, Vec<Obj>>,
}

/// Variables whose `NAME-y` form is not a composite object.
const NOT_COMPOSITE: &[&str] = &[
    "ccflags",
    "asflags",
    "ldflags",
    "cflags",
    "subdir-ccflags",
    "subdir-asflags",
    "lib",
    "always",
    "extra",
    "targets",
    "hostprogs",
    "userprogs",
    "userccflags",
    "head",
    "core",
    "drivers",
    "libs",
    "init",
    "obj",
    "subdir",
    "clean-files",
    "header-test",
    "no-header-test",
];

/// The CONFIG_ symbols a text mentions, in order, without repeats.
fn symbols_in(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("CONFIG_") {
        let after = &rest[i + 7..];
        let n = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let preceded_ok = i == 0
            || !rest[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if n > 0 && preceded_ok {
            let sym = after[..n].to_string();
            if !out.contains(&sym) {
                out.push(sym);
            }
        }
        rest = &after[n..];
    }
    out
}

/// Index of the `)`/`}` closing the reference opened at `s[open]`.
fn matching(s: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, &c) in s.iter().enumerate().skip(open) {
        match c {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

struct Vars<'a> {
    map: HashMap<String, String>,
    dir: &'a str,
    srcarch: &'a str,
}

impl Vars<'_> {
    /// Expands the Makefile's own variables; `$(CONFIG_X)` stays
    /// symbolic, function calls keep their name with expanded arguments,
    /// and unknown variables expand to nothing (as in make).
    fn expand(&self, s: &str, depth: u32) -> String {
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' {
                let next = s[i..].find('$').map(|k| i + k).unwrap_or(b.len());
                out.push_str(&s[i..next]);
                i = next;
                continue;
            }
            match b.get(i + 1) {
                Some(b'(') | Some(b'{') => {
                    let Some(close) = matching(b, i + 1) else {
                        out.push_str(&s[i..]);
                        break;
                    };
                    let inner = &s[i + 2..close];
                    out.push_str(&self.reference(inner, depth));
                    i = close + 1;
                }
                Some(b'$') => {
                    out.push('$');
                    i += 2;
                }
                Some(_) => i += 2,
                None => i += 1,
            }
        }
        out
    }

    fn reference(&self, inner: &str, depth: u32) -> String {
        let simple = !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if simple {
            if inner.starts_with("CONFIG_") {
                return format!("$({inner})");
            }
            return match inner {
                "SRCARCH" | "ARCH" | "SUBARCH" | "HEADER_ARCH" => self.srcarch.into(),
                "src" | "obj" => self.dir.into(),
                "srctree" | "objtree" => ".".into(),
                _ => match self.map.get(inner) {
                    Some(v) if depth < 16 => self.expand(v, depth + 1),
                    _ => String::new(),
                },
            };
        }
        match inner.split_once(|c: char| c.is_whitespace()) {
            Some((f, args)) => format!("$({f} {})", self.expand(args.trim_start(), depth + 1)),
            // `$(VAR:.o=.c)` and the like: not used in obj lists we need.
            None => String::new(),
        }
    }
}

/// Splits a function call's arguments at top-level commas.
fn split_args(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '{' => depth += 1,
            ')' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The words of an expanded right-hand side with the extra symbols each
/// carries: `$(if COND,THEN,ELSE)` contributes THEN's words with COND's
/// symbols (ELSE is the negation, which a conjunction cannot say, so it is
/// left out); `$(addprefix P,WORDS)` prefixes; other functions contribute
/// the words of their last argument.
fn words(s: &str, extra: &[String], out: &mut Vec<(String, Vec<String>)>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b[i] == b'$' && matches!(b.get(i + 1), Some(b'(') | Some(b'{')) {
            let Some(close) = matching(b, i + 1) else {
                return;
            };
            let inner = &s[i + 2..close];
            let (f, args) = inner
                .split_once(|c: char| c.is_whitespace())
                .unwrap_or((inner, ""));
            let args = split_args(args);
            match (f, args.as_slice()) {
                ("if", [cond, then, ..]) => {
                    let mut e = extra.to_vec();
                    for s in symbols_in(cond) {
                        if !e.contains(&s) {
                            e.push(s);
                        }
                    }
                    words(then, &e, out);
                }
                ("addprefix", [p, list]) => {
                    let mut inner_words = Vec::new();
                    words(list, extra, &mut inner_words);
                    for (w, e) in inner_words {
                        out.push((format!("{}{w}", p.trim()), e));
                    }
                }
                (_, [.., last]) => words(last, extra, out),
                _ => {}
            }
            i = close + 1;
            continue;
        }
        let end = s[i..]
            .find(|c: char| c.is_whitespace())
            .map(|k| i + k)
            .unwrap_or(b.len());
        out.push((s[i..end].to_string(), extra.to_vec()));
        i = end;
    }
}

/// Joins continuation lines and strips comments: (line number, text).
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0u32;
    for (n, raw) in text.lines().enumerate() {
        if cur.is_empty() {
            start = n as u32 + 1;
        }
        let (body, cont) = match raw.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (raw, false),
        };
        cur.push_str(body);
        if cont {
            cur.push(' ');
            continue;
        }
        out.push((start, std::mem::take(&mut cur)));
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    for (_, l) in out.iter_mut() {
        // A comment starts at an unescaped '#' (tabs-first recipe lines
        // are dropped later, so shell '#' in recipes does not matter).
        let b = l.as_bytes();
        if let Some(p) = (0..b.len()).find(|&i| b[i] == b'#' && (i == 0 || b[i - 1] != b'\\')) {
            l.truncate(p);
        }
    }
    out
}

/// Finds an assignment operator outside references: (lhs, op, rhs).
fn assignment(line: &str) -> Option<(&str, &str, &str)> {
    let b = line.as_bytes();
    let mut depth = 0i32;
    for i in 0..b.len() {
        match b[i] {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth -= 1,
            _ if depth > 0 => {}
            b'=' => {
                let (lhs, op) = match i.checked_sub(1).map(|j| b[j]) {
                    Some(b'+') => (&line[..i - 1], "+="),
                    Some(b'?') => (&line[..i - 1], "?="),
                    Some(b':') => {
                        let l = line[..i - 1].trim_end_matches(':');
                        (l, ":=")
                    }
                    _ => (&line[..i], "="),
                };
                return Some((lhs.trim(), op, line[i + 1..].trim()));
            }
            // A ':' not followed by '=' is a rule.
            b':' if b.get(i + 1) != Some(&b'=') && b.get(i + 1) != Some(&b':') => return None,
            _ => {}
        }
    }
    None
}

/// The symbols an `ifeq`/`ifneq`/`ifdef` line makes true inside its block,
/// when the block's condition is positive (the symbol is set); a negative
/// condition contributes nothing.
fn conditional(line: &str) -> Vec<String> {
    let (kw, rest) = line
        .split_once(|c: char| c.is_whitespace())
        .unwrap_or((line, ""));
    let rest = rest.trim();
    match kw {
        "ifdef" => symbols_in(rest),
        "ifndef" => Vec::new(),
        "ifeq" | "ifneq" => {
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or(rest);
            let args = split_args(inner);
            let [a, b] = args.as_slice() else {
                return Vec::new();
            };
            let (a, b) = (a.trim().trim_matches('"'), b.trim().trim_matches('"'));
            let (syms, other) = if symbols_in(a).is_empty() {
                (symbols_in(b), a)
            } else {
                (symbols_in(a), b)
            };
            let positive = match kw {
                "ifeq" => other == "y" || other == "m",
                _ => other.is_empty() || other == "n",
            };
            if positive {
                syms
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// Parses one Makefile or Kbuild file. `dir` is its directory relative to
/// the tree (for `$(src)`), `file` its path (for `file:line`).
pub fn parse_makefile(text: &str, file: &str, dir: &str, srcarch: &str) -> Parsed {
    let mut vars = Vars {
        map: HashMap::new(),
        dir,
        srcarch,
    };
    let mut p = Parsed::default();
    // The symbols of the enclosing conditional blocks.
    let mut blocks: Vec<Vec<String>> = Vec::new();
    let mut in_recipe = false;
    let mut in_define = false;
    for (lineno, raw) in logical_lines(text) {
        if raw.starts_with('\t') && in_recipe {
            continue;
        }
        let line = raw.trim();
        if in_define {
            in_define = line != "endef";
            continue;
        }
        if line.is_empty() {
            continue;
        }
        in_recipe = false;
        let first = line.split_whitespace().next().unwrap_or("");
        match first {
            "ifeq" | "ifneq" | "ifdef" | "ifndef" => {
                blocks.push(conditional(line));
                continue;
            }
            "else" => {
                // The else branch is the negation: it adds nothing, but an
                // `else ifeq ...` adds its own condition.
                let rest = line["else".len()..].trim();
                if let Some(top) = blocks.last_mut() {
                    *top = if rest.is_empty() {
                        Vec::new()
                    } else {
                        conditional(rest)
                    };
                }
                continue;
            }
            "endif" => {
                blocks.pop();
                continue;
            }
            "define" => {
                in_define = true;
                continue;
            }
            "include" | "-include" | "sinclude" | "endef" | "unexport" => continue,
            _ => {}
        }
        let stmt = line
            .strip_prefix("export ")
            .or_else(|| line.strip_prefix("override "))
            .unwrap_or(line)
            .trim();
        let Some((lhs_raw, op, rhs)) = assignment(stmt) else {
            // A rule: the lines after it that start with a tab are its
            // recipe.
            in_recipe = stmt.contains(':');
            continue;
        };
        let lhs = vars.expand(lhs_raw, 0);
        let lhs = lhs.trim();
        let at = format!("{file}:{lineno}");
        let block_syms: Vec<String> = blocks.iter().flatten().cloned().collect();
        let conds_of = |suffix: &str, extra: &[String]| -> Vec<String> {
            let mut c = symbols_in(suffix);
            for s in block_syms.iter().chain(extra) {
                if !c.contains(s) {
                    c.push(s.clone());
                }
            }
            c
        };
        // Which list does the left-hand side name?
        let (base, suffix) = match lhs.rfind("-$(") {
            Some(i) => (&lhs[..i], &lhs[i + 1..]),
            None => match lhs.rsplit_once('-') {
                Some((b, s)) if matches!(s, "y" | "m" | "objs") => (b, s),
                _ => {
                    // An ordinary variable.
                    let v = vars.map.entry(lhs.to_string()).or_default();
                    if op == "+=" && !v.is_empty() {
                        v.push(' ');
                        v.push_str(rhs);
                    } else if op != "?=" || v.is_empty() {
                        *v = rhs.to_string();
                    }
                    continue;
                }
            },
        };
        if suffix != "y" && suffix != "m" && suffix != "objs" && symbols_in(suffix).is_empty() {
            continue;
        }
        let builtin_only = suffix == "y" || suffix.contains("subst m,y");
        let expanded = vars.expand(rhs, 0);
        if !matches!(base, "obj" | "subdir" | "core" | "drivers" | "libs") {
            // A list can be used as a variable later (drivers/video/fbdev/
            // matrox: `my-obj-$(CONFIG_FB_MATROX_G) += g450_pll.o ...`, then
            // `obj-$(CONFIG_FB_MATROX) += ... $(my-obj-y)`): remember its
            // words under the names `$(NAME-y)` and `$(NAME-m)`, a
            // conditional part as `$(if COND,WORDS)` so its symbols stay
            // attached.
            let part = if matches!(suffix, "y" | "m" | "objs") {
                expanded.clone()
            } else {
                format!("$(if {suffix},{expanded})")
            };
            let names: &[&str] = match suffix {
                "y" | "objs" => &["y"],
                "m" => &["m"],
                _ => &["y", "m"],
            };
            for n in names {
                let v = vars.map.entry(format!("{base}-{n}")).or_default();
                if op != "+=" {
                    v.clear();
                }
                if !v.is_empty() {
                    v.push(' ');
                }
                v.push_str(&part);
            }
        }
        let mut ws = Vec::new();
        words(&expanded, &[], &mut ws);
        match base {
            "obj" | "subdir" => {
                for (w, extra) in ws {
                    let conds = conds_of(suffix, &extra);
                    if let Some(d) = w.strip_suffix('/') {
                        p.subdirs.push((d.to_string(), conds, at.clone()));
                    } else if base == "subdir" {
                        p.subdirs.push((w, conds, at.clone()));
                    } else if let Some(o) = w.strip_suffix(".o") {
                        p.objs.push(Obj {
                            name: o.to_string(),
                            conds,
                            builtin_only,
                            at: at.clone(),
                        });
                    }
                }
            }
            "core" | "drivers" | "libs" => {
                for (w, extra) in ws {
                    if let Some(d) = w.strip_suffix('/') {
                        p.arch_dirs
                            .push((d.to_string(), conds_of(suffix, &extra), at.clone()));
                    }
                }
            }
            b if NOT_COMPOSITE.contains(&b) || b.ends_with("flags") => {}
            b => {
                let parts = p.composites.entry(b.to_string()).or_default();
                for (w, extra) in ws {
                    if let Some(o) = w.strip_suffix(".o") {
                        parts.push(Obj {
                            name: o.to_string(),
                            conds: conds_of(suffix, &extra),
                            builtin_only,
                            at: at.clone(),
                        });
                    }
                }
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objs(p: &Parsed) -> Vec<(String, Vec<String>)> {
        p.objs
            .iter()
            .map(|o| (o.name.clone(), o.conds.clone()))
            .collect()
    }

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn objects_subdirs_and_composites() {
        // Shapes from drivers/nvme/host/Makefile and
        // drivers/net/ethernet/intel/Makefile.
        let p = parse_makefile(
            "obj-$(CONFIG_NVME_CORE)\t\t+= nvme-core.o\nobj-$(CONFIG_BLK_DEV_NVME) += nvme.o\n\
             nvme-core-y += core.o ioctl.o\nnvme-core-$(CONFIG_NVME_HWMON) += hwmon.o\n\
             nvme-y += pci.o\nobj-$(CONFIG_E1000E) += e1000e/\nobj-y += common/ \\\n  host/\n",
            "Makefile",
            "d",
            "x86",
        );
        assert_eq!(
            objs(&p),
            vec![
                ("nvme-core".into(), v(&["NVME_CORE"])),
                ("nvme".into(), v(&["BLK_DEV_NVME"]))
            ]
        );
        let subs: Vec<_> = p
            .subdirs
            .iter()
            .map(|s| (s.0.clone(), s.1.clone(), s.2.clone()))
            .collect();
        assert_eq!(
            subs,
            vec![
                ("e1000e".into(), v(&["E1000E"]), "Makefile:6".into()),
                ("common".into(), v(&[]), "Makefile:7".into()),
                ("host".into(), v(&[]), "Makefile:7".into()),
            ]
        );
        let core = &p.composites["nvme-core"];
        assert_eq!(core.len(), 3);
        assert_eq!(core[2].conds, v(&["NVME_HWMON"]));
    }

    #[test]
    fn subst_if_variables_and_blocks() {
        let p = parse_makefile(
            "obj-$(subst m,y,$(CONFIG_HYPERV)) += hv_common.o\n\
             obj-$(subst y,$(CONFIG_L2TP),$(CONFIG_L2TP_IP)) += l2tp_ip.o\n\
             MOD := mymod\nobj-$(CONFIG_MY) += $(MOD).o\n\
             obj-y += $(if $(CONFIG_FOO),foo.o)\n\
             ifdef CONFIG_BAR\nobj-m += bar.o\nelse\nobj-m += nobar.o\nendif\n\
             ifneq ($(CONFIG_BAZ),)\n\tobj-m += baz.o\nendif\n\
             x: y\n\tobj-m += recipe.o\n\
             my-obj-$(CONFIG_G) += g450.o\nmy-obj-y += always.o\n\
             obj-$(CONFIG_MATROX) += base.o $(my-obj-y)\n",
            "Makefile",
            "",
            "x86",
        );
        assert_eq!(
            objs(&p),
            vec![
                ("hv_common".into(), v(&["HYPERV"])),
                ("l2tp_ip".into(), v(&["L2TP", "L2TP_IP"])),
                ("mymod".into(), v(&["MY"])),
                ("foo".into(), v(&["FOO"])),
                ("bar".into(), v(&["BAR"])),
                ("nobar".into(), v(&[])),
                ("baz".into(), v(&["BAZ"])),
                ("base".into(), v(&["MATROX"])),
                ("g450".into(), v(&["MATROX", "G"])),
                ("always".into(), v(&["MATROX"])),
            ]
        );
        assert!(p.objs[0].builtin_only);
        assert!(!p.objs[1].builtin_only);
    }

    #[test]
    fn joins_stay_inside_the_tree() {
        assert_eq!(join("a/b", "../c").as_deref(), Some("a/c"));
        assert_eq!(join("a", "../../x"), None);
        assert_eq!(join("", "arch/x86/").as_deref(), Some("arch/x86"));
    }
}
