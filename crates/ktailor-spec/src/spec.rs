//! The spec file: one or more kernels declared in TOML.
//!
//! ```toml
//! [defaults]                      # optional: applies to every kernel
//! source = "/usr/src/linux-source-6.12.tar.xz"   # or a kernel tree directory
//! arch = "x86_64"
//!
//! [kernel.sandbox]
//! base = "tinyconfig"             # tinyconfig | allnoconfig | defconfig | distro | a config file
//! features = ["qemu-guest", { name = "debug-off", optional = true }]
//! set = { LOG_BUF_SHIFT = 16, CMDLINE = { value = "console=ttyS0", why = "serial console" } }
//! unset = ["MODULES", { name = "SOUND", why = "no audio in a sandbox" }]
//! # drivers of a machine's devices (`ktailor probe` JSON, lspci -k, lsmod):
//! hardware = ["probe.json", { report = "fleet.json", classes = ["network", "storage"], value = "y" }]
//! # cross-compile = "aarch64-linux-gnu-"   # make's CROSS_COMPILE
//!
//! [kernel.big]
//! extends = "sandbox"             # everything sandbox has, plus:
//! features = ["kvm-host"]
//! ```
//!
//! Relative paths are relative to the spec file. Unknown keys and values of
//! the wrong type are errors with file:line:column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ktailor_kconfig::Diagnostic;
use serde::Deserialize;
use toml::Spanned;

use crate::value::Value;
use ktailor_kconfig::Tri;

/// A place in a spec file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    pub file: String,
    pub line: u32,
    pub col: u32,
}

impl Loc {
    pub fn error(&self, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.file.clone(), self.line, msg).at_col(self.col)
    }
    pub fn warning(&self, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(self.file.clone(), self.line, msg).at_col(self.col)
    }
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            return write!(f, "{}", self.file);
        }
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A value with where it was written.
#[derive(Clone, Debug)]
pub struct Located<T> {
    pub value: T,
    pub loc: Loc,
}

/// A requested option value, from `set`, `unset` or a feature.
#[derive(Clone, Debug)]
pub struct Request {
    /// The symbol, without `CONFIG_`.
    pub name: String,
    pub value: Value,
    pub why: Option<String>,
    pub optional: bool,
    pub loc: Loc,
}

/// A feature named by a kernel.
#[derive(Clone, Debug)]
pub struct FeatureRef {
    pub name: String,
    pub optional: bool,
    pub loc: Loc,
}

/// A hardware report named by a kernel (`hardware = [...]`): its devices'
/// drivers become requests (see `crate::hardware`).
#[derive(Clone, Debug)]
pub struct HardwareRef {
    /// The report's path as written (relative to the spec file).
    pub report: String,
    /// Device classes to take (`None`: every device with a driver).
    pub classes: Option<Vec<String>>,
    /// How drivers are requested, `y` or `m`; `None`: `m` when the kernel
    /// has modules, else `y`.
    pub value: Option<Tri>,
    pub optional: bool,
    pub loc: Loc,
}

/// One declared kernel, as written (defaults applied, `extends` not yet).
#[derive(Clone, Debug, Default)]
pub struct Kernel {
    pub name: String,
    pub loc: Loc,
    pub source: Option<Located<String>>,
    pub arch: Option<Located<String>>,
    pub base: Option<Located<String>>,
    pub extends: Option<Located<String>>,
    pub features: Vec<FeatureRef>,
    pub set: Vec<Request>,
    pub unset: Vec<Request>,
    pub hardware: Vec<HardwareRef>,
    /// make's CROSS_COMPILE (e.g. `aarch64-linux-gnu-`): Kconfig probes
    /// the toolchain, so an arm64 kernel needs an arm64 assembler for
    /// options such as KVM.
    pub cross_compile: Option<Located<String>>,
}

/// A parsed spec.
#[derive(Clone, Debug)]
pub struct Spec {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub kernels: Vec<Kernel>,
    pub feature_files: Vec<Located<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    #[serde(default)]
    defaults: Option<RawKernel>,
    #[serde(default)]
    kernel: BTreeMap<Spanned<String>, Spanned<RawKernel>>,
    #[serde(default, rename = "feature-files")]
    feature_files: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawKernel {
    #[serde(default)]
    source: Option<Spanned<String>>,
    #[serde(default)]
    arch: Option<Spanned<String>>,
    #[serde(default)]
    base: Option<Spanned<String>>,
    #[serde(default)]
    extends: Option<Spanned<String>>,
    #[serde(default)]
    features: Vec<Spanned<RawFeatureRef>>,
    #[serde(default)]
    set: BTreeMap<Spanned<String>, Spanned<RawSet>>,
    #[serde(default)]
    unset: Vec<Spanned<RawUnset>>,
    #[serde(default)]
    hardware: Vec<Spanned<RawHardware>>,
    #[serde(default, rename = "cross-compile")]
    cross_compile: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFeatureRef {
    Name(String),
    Full(RawFeatureRefFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeatureRefFull {
    name: String,
    #[serde(default)]
    optional: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawHardware {
    Path(String),
    Full(RawHardwareFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHardwareFull {
    report: String,
    #[serde(default)]
    classes: Option<Vec<String>>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    optional: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSet {
    Full(RawSetFull),
    Plain(toml::Value),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSetFull {
    value: toml::Value,
    #[serde(default)]
    why: Option<String>,
    #[serde(default)]
    optional: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawUnset {
    Name(String),
    Full(RawUnsetFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnsetFull {
    name: String,
    #[serde(default)]
    why: Option<String>,
    #[serde(default)]
    optional: bool,
}

/// Turns byte offsets into line and column numbers.
struct Lines<'a> {
    file: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(file: &'a str, text: &str) -> Self {
        let mut starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i + 1);
            }
        }
        Lines { file, starts }
    }
    fn loc(&self, offset: usize) -> Loc {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        Loc {
            file: self.file.to_string(),
            line: line as u32 + 1,
            col: (offset - self.starts[line]) as u32 + 1,
        }
    }
    fn at<T>(&self, s: &Spanned<T>) -> Loc {
        self.loc(s.span().start)
    }
}

fn strip_config(n: &str) -> String {
    n.strip_prefix("CONFIG_").unwrap_or(n).to_string()
}

impl Spec {
    /// Reads and parses a spec file.
    pub fn load(path: &Path) -> Result<Spec, Vec<Diagnostic>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic::error(
                path.display().to_string(),
                0,
                format!("cannot read the spec: {e}"),
            )]
        })?;
        Spec::parse(path, &text)
    }

    /// Parses spec text that was read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Spec, Vec<Diagnostic>> {
        let file = path.display().to_string();
        let lines = Lines::new(&file, text);
        let raw: RawSpec = toml::from_str(text).map_err(|e| {
            let loc = e.span().map(|s| lines.loc(s.start)).unwrap_or(Loc {
                file: file.clone(),
                line: 0,
                col: 0,
            });
            let mut d = loc.error(e.message().trim().to_string());
            if e.message().contains("unknown field") {
                d.hint =
                    Some("see the spec format in `ktailor generate --help` or README.md".into());
            }
            vec![d]
        })?;
        let mut errors = Vec::new();
        let defaults = raw
            .defaults
            .map(|d| convert(&lines, "defaults", Loc::default(), d, &mut errors));
        let mut kernels = Vec::new();
        for (name, k) in raw.kernel {
            let loc = lines.at(&name);
            let n = name.into_inner();
            if n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                errors.push(loc.error(format!(
                    "kernel name '{n}' must be letters, digits, '-', '_' or '.'"
                )));
            }
            let mut kern = convert(&lines, &n, loc, k.into_inner(), &mut errors);
            if let Some(d) = &defaults {
                kern.source = kern.source.or_else(|| d.source.clone());
                kern.arch = kern.arch.or_else(|| d.arch.clone());
                kern.base = kern.base.or_else(|| d.base.clone());
                kern.cross_compile = kern.cross_compile.or_else(|| d.cross_compile.clone());
                let mut f = d.features.clone();
                f.extend(kern.features);
                kern.features = f;
                let mut s = d.set.clone();
                s.extend(kern.set);
                kern.set = s;
                let mut u = d.unset.clone();
                u.extend(kern.unset);
                kern.unset = u;
                let mut h = d.hardware.clone();
                h.extend(kern.hardware);
                kern.hardware = h;
            }
            kernels.push(kern);
        }
        if kernels.is_empty() {
            errors.push(
                Diagnostic::error(file.clone(), 1, "the spec declares no kernel").with_hint(
                    "add a table such as [kernel.NAME] with base, features, set and unset",
                ),
            );
        }
        let names: Vec<String> = kernels.iter().map(|k| k.name.clone()).collect();
        for k in &kernels {
            if let Some(e) = &k.extends {
                if !names.contains(&e.value) {
                    let mut d = e.loc.error(format!(
                        "kernel '{}' extends unknown kernel '{}'",
                        k.name, e.value
                    ));
                    if let Some(s) =
                        crate::suggest::closest(&e.value, names.iter().map(|s| s.as_str()))
                    {
                        d.hint = Some(format!("did you mean '{s}'?").into());
                    }
                    errors.push(d);
                } else if e.value == k.name {
                    errors.push(e.loc.error(format!("kernel '{}' extends itself", k.name)));
                }
            }
        }
        let feature_files = raw
            .feature_files
            .iter()
            .map(|f| Located {
                value: f.get_ref().clone(),
                loc: lines.at(f),
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let spec = Spec {
            path: path.to_path_buf(),
            dir,
            kernels,
            feature_files,
        };
        spec.check_extends_cycles()?;
        Ok(spec)
    }

    fn check_extends_cycles(&self) -> Result<(), Vec<Diagnostic>> {
        for k in &self.kernels {
            let mut seen = vec![k.name.clone()];
            let mut cur = k;
            while let Some(e) = &cur.extends {
                if seen.contains(&e.value) {
                    return Err(vec![e.loc.error(format!(
                        "kernels extend each other: {} -> {}",
                        seen.join(" -> "),
                        e.value
                    ))]);
                }
                seen.push(e.value.clone());
                match self.kernel(&e.value) {
                    Some(n) => cur = n,
                    None => break,
                }
            }
        }
        Ok(())
    }

    pub fn kernel(&self, name: &str) -> Option<&Kernel> {
        self.kernels.iter().find(|k| k.name == name)
    }

    /// A kernel with everything it `extends` folded in: the ancestor's
    /// features, settings and unsettings first, its own after (a later
    /// request for the same option wins).
    pub fn flattened(&self, name: &str) -> Option<Kernel> {
        let k = self.kernel(name)?.clone();
        let Some(e) = &k.extends else { return Some(k) };
        let parent = self.flattened(&e.value)?;
        let mut out = k.clone();
        out.source = k.source.or(parent.source);
        out.arch = k.arch.or(parent.arch);
        out.base = k.base.or(parent.base);
        out.cross_compile = k.cross_compile.or(parent.cross_compile);
        out.features = parent.features.into_iter().chain(k.features).collect();
        out.set = parent.set.into_iter().chain(k.set).collect();
        out.unset = parent.unset.into_iter().chain(k.unset).collect();
        out.hardware = parent.hardware.into_iter().chain(k.hardware).collect();
        Some(out)
    }

    /// A path written in the spec, relative to the spec's directory.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let pb = PathBuf::from(p);
        if pb.is_absolute() {
            pb
        } else {
            self.dir.join(pb)
        }
    }
}

fn loc_of<T>(lines: &Lines, s: &Spanned<T>) -> Loc {
    lines.at(s)
}

fn located(lines: &Lines, s: Option<Spanned<String>>) -> Option<Located<String>> {
    s.map(|s| Located {
        loc: loc_of(lines, &s),
        value: s.into_inner(),
    })
}

fn convert(
    lines: &Lines,
    name: &str,
    loc: Loc,
    r: RawKernel,
    errors: &mut Vec<Diagnostic>,
) -> Kernel {
    let mut k = Kernel {
        name: name.to_string(),
        loc,
        source: located(lines, r.source),
        arch: located(lines, r.arch),
        base: located(lines, r.base),
        extends: located(lines, r.extends),
        cross_compile: located(lines, r.cross_compile),
        ..Kernel::default()
    };
    for f in r.features {
        let loc = lines.at(&f);
        match f.into_inner() {
            RawFeatureRef::Name(n) => k.features.push(FeatureRef {
                name: n,
                optional: false,
                loc,
            }),
            RawFeatureRef::Full(x) => k.features.push(FeatureRef {
                name: x.name,
                optional: x.optional,
                loc,
            }),
        }
    }
    for (key, v) in r.set {
        let loc = lines.at(&key);
        let vloc = lines.at(&v);
        let (value, why, optional) = match v.into_inner() {
            RawSet::Plain(v) => (v, None, false),
            RawSet::Full(f) => (f.value, f.why, f.optional),
        };
        match Value::from_toml(&value) {
            Ok(value) => k.set.push(Request {
                name: strip_config(key.get_ref()),
                value,
                why,
                optional,
                loc,
            }),
            Err(e) => errors.push(vloc.error(format!("{}: {e}", key.get_ref()))),
        }
    }
    for u in r.unset {
        let loc = lines.at(&u);
        let (n, why, optional) = match u.into_inner() {
            RawUnset::Name(n) => (n, None, false),
            RawUnset::Full(f) => (f.name, f.why, f.optional),
        };
        k.unset.push(Request {
            name: strip_config(&n),
            value: Value::Tri(ktailor_kconfig::Tri::N),
            why,
            optional,
            loc,
        });
    }
    for h in r.hardware {
        let loc = lines.at(&h);
        let (report, classes, value, optional) = match h.into_inner() {
            RawHardware::Path(p) => (p, None, None, false),
            RawHardware::Full(f) => (f.report, f.classes, f.value, f.optional),
        };
        if report.is_empty() {
            errors.push(loc.error("hardware: the report's path is empty"));
        }
        for c in classes.iter().flatten() {
            if !ktailor_hw::class::is_class(c) {
                let mut d = loc.error(format!("hardware: unknown device class '{c}'"));
                d.hint = Some(
                    match crate::suggest::closest(c, ktailor_hw::class::CLASSES.iter().copied()) {
                        Some(s) => format!(
                            "did you mean '{s}'? classes: {}",
                            ktailor_hw::class::CLASSES.join(", ")
                        ),
                        None => format!("classes: {}", ktailor_hw::class::CLASSES.join(", ")),
                    }
                    .into(),
                );
                errors.push(d);
            }
        }
        let value = match value.as_deref() {
            None => None,
            Some("y") => Some(ktailor_kconfig::Tri::Y),
            Some("m") => Some(ktailor_kconfig::Tri::M),
            Some(v) => {
                errors.push(loc.error(format!(
                    "hardware: value must be \"y\" (built in) or \"m\" (modules), not \"{v}\""
                )));
                None
            }
        };
        k.hardware.push(HardwareRef {
            report,
            classes,
            value,
            optional,
            loc,
        });
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Spec, Vec<Diagnostic>> {
        Spec::parse(Path::new("spec.toml"), t)
    }

    #[test]
    fn kernels_defaults_and_extends() {
        let s = parse(
            "[defaults]\narch = \"x86_64\"\nsource = \"/src\"\n\n[kernel.a]\nbase = \"tinyconfig\"\nfeatures = [\"f1\", { name = \"f2\", optional = true }]\nset = { X = \"y\", N = 5, S = { value = \"txt\", why = \"because\" } }\nunset = [\"U\", { name = \"CONFIG_V\", why = \"no\" }]\n\n[kernel.b]\nextends = \"a\"\nfeatures = [\"f3\"]\n",
        )
        .expect("parses");
        let b = s.flattened("b").expect("b");
        assert_eq!(b.arch.as_ref().map(|a| a.value.as_str()), Some("x86_64"));
        assert_eq!(
            b.base.as_ref().map(|a| a.value.as_str()),
            Some("tinyconfig")
        );
        let fs: Vec<_> = b
            .features
            .iter()
            .map(|f| (f.name.as_str(), f.optional))
            .collect();
        assert_eq!(fs, vec![("f1", false), ("f2", true), ("f3", false)]);
        let set: Vec<_> = b
            .set
            .iter()
            .map(|r| (r.name.as_str(), r.value.describe()))
            .collect();
        assert_eq!(
            set,
            vec![
                ("N", "5".to_string()),
                ("S", "\"txt\"".to_string()),
                ("X", "y".to_string())
            ]
        );
        assert_eq!(
            b.unset.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            vec!["U", "V"]
        );
        assert_eq!(b.set[2].loc.line, 8);
    }

    #[test]
    fn unknown_key_is_an_error_with_line_and_column() {
        let e = parse("[kernel.a]\nbase = \"tinyconfig\"\nfeaturez = []\n").expect_err("must fail");
        assert_eq!((e[0].line, e[0].col), (3, 1));
        assert!(e[0].message.contains("unknown field"), "{}", e[0].message);
    }

    #[test]
    fn extends_unknown_kernel_suggests_a_name() {
        let e = parse("[kernel.preboot]\n[kernel.node]\nextends = \"prebot\"\n")
            .expect_err("must fail");
        assert_eq!(e[0].line, 3);
        assert_eq!(e[0].hint.as_deref(), Some("did you mean 'preboot'?"));
    }

    #[test]
    fn hardware_entries() {
        let s = parse(
            "[kernel.a]\nhardware = [\"probe.json\", { report = \"fleet.json\", classes = [\"network\", \"storage\"], value = \"m\", optional = true }]\n",
        )
        .expect("parses");
        let h = &s.kernels[0].hardware;
        assert_eq!(h.len(), 2);
        assert_eq!(
            (h[0].report.as_str(), h[0].classes.is_none()),
            ("probe.json", true)
        );
        assert_eq!(h[1].value, Some(Tri::M));
        assert!(h[1].optional);
        assert_eq!((h[1].loc.line, h[1].loc.col), (2, 27));
        let e = parse("[kernel.a]\nhardware = [{ report = \"p.json\", classes = [\"netwrk\"] }]\n")
            .expect_err("unknown class");
        assert_eq!(e[0].line, 2);
        assert!(
            e[0].message.contains("unknown device class 'netwrk'"),
            "{}",
            e[0].message
        );
        assert!(e[0]
            .hint
            .as_deref()
            .unwrap_or("")
            .starts_with("did you mean 'network'?"));
        let e = parse("[kernel.a]\nhardware = [{ report = \"p.json\", value = \"n\" }]\n")
            .expect_err("bad value");
        assert!(e[0].message.contains("value must be"), "{}", e[0].message);
    }

    #[test]
    fn wrong_value_type_is_an_error() {
        let e = parse("[kernel.a]\nset = { X = [1, 2] }\n").expect_err("must fail");
        assert_eq!(e[0].line, 2);
    }
}
