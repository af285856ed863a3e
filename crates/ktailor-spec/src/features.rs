//! The feature library: named sets of kernel options with a reason for
//! each, as TOML data embedded in the binary (`features/*.toml`), plus
//! feature files a spec brings along.
//!
//! A feature says which kernel versions and architectures it applies to;
//! so can each option (e.g. an option that exists only from 6.19 on).
//! Features can include other features. See docs/features.md for the
//! schema.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::value::Value;

include!(concat!(env!("OUT_DIR"), "/features.rs"));

/// A kernel version constraint such as `>=6.1` or `>=6.1,<6.19`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Versions(Vec<(Cmp, (u32, u32))>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

impl Versions {
    pub fn parse(s: &str) -> Result<Versions, String> {
        let mut v = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (op, rest) = if let Some(r) = part.strip_prefix(">=") {
                (Cmp::Ge, r)
            } else if let Some(r) = part.strip_prefix("<=") {
                (Cmp::Le, r)
            } else if let Some(r) = part.strip_prefix('>') {
                (Cmp::Gt, r)
            } else if let Some(r) = part.strip_prefix('<') {
                (Cmp::Lt, r)
            } else if let Some(r) = part.strip_prefix('=') {
                (Cmp::Eq, r)
            } else {
                (Cmp::Eq, part)
            };
            let mut it = rest.trim().split('.');
            let major = it.next().and_then(|x| x.parse().ok());
            let minor = it.next().unwrap_or("0").parse().ok();
            match (major, minor) {
                (Some(a), Some(b)) => v.push((op, (a, b))),
                _ => return Err(format!("bad kernel version constraint '{part}' (use e.g. \">=6.1\" or \">=6.1,<6.19\")")),
            }
        }
        Ok(Versions(v))
    }

    pub fn matches(&self, ver: (u32, u32)) -> bool {
        self.0.iter().all(|&(op, x)| match op {
            Cmp::Ge => ver >= x,
            Cmp::Gt => ver > x,
            Cmp::Le => ver <= x,
            Cmp::Lt => ver < x,
            Cmp::Eq => ver == x,
        })
    }

    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(op, (a, b))| {
                let o = match op {
                    Cmp::Ge => ">=",
                    Cmp::Gt => ">",
                    Cmp::Le => "<=",
                    Cmp::Lt => "<",
                    Cmp::Eq => "=",
                };
                format!("{o}{a}.{b}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeature {
    name: String,
    summary: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    kernels: Option<String>,
    #[serde(default)]
    includes: Vec<String>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default, rename = "option")]
    options: Vec<RawOption>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOption {
    name: String,
    value: toml::Value,
    why: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    kernels: Option<String>,
    #[serde(default)]
    alternatives: Vec<String>,
}

/// One option of a feature.
#[derive(Clone, Debug)]
pub struct FeatureOption {
    pub name: String,
    pub value: Value,
    pub why: String,
    pub optional: bool,
    pub arches: Option<Vec<String>>,
    pub kernels: Versions,
    pub alternatives: Vec<String>,
}

/// A feature.
#[derive(Clone, Debug)]
pub struct Feature {
    pub name: String,
    pub summary: String,
    pub description: Option<String>,
    pub arches: Option<Vec<String>>,
    pub kernels: Versions,
    pub includes: Vec<String>,
    pub sources: Vec<String>,
    pub options: Vec<FeatureOption>,
    /// Where it was defined: `library` or a file path.
    pub origin: String,
}

/// The kernel a feature is applied to: its version and architecture.
#[derive(Clone, Debug)]
pub struct Target {
    pub version: (u32, u32),
    /// make's ARCH (x86_64, arm64, ...) and its SRCARCH (x86, arm64, ...).
    pub arch: String,
    pub srcarch: String,
}

/// Does an `arches` list admit this target? Entries are ARCH or SRCARCH
/// names; `x86_64` also matches ARCH=x86 (make's default on x86_64).
pub fn arch_matches(list: &Option<Vec<String>>, t: &Target) -> bool {
    match list {
        None => true,
        Some(l) => l.iter().any(|a| {
            a == &t.arch
                || a == &t.srcarch
                || (a == "x86_64" && t.arch == "x86")
                || (a == "x86" && t.srcarch == "x86")
        }),
    }
}

impl Feature {
    /// Parses one feature file.
    pub fn parse(text: &str, origin: &str) -> Result<Feature, String> {
        let raw: RawFeature =
            toml::from_str(text).map_err(|e| format!("{origin}: {}", e.message()))?;
        let kernels = match &raw.kernels {
            Some(k) => Versions::parse(k).map_err(|e| format!("{origin}: {e}"))?,
            None => Versions::default(),
        };
        let mut options = Vec::new();
        for o in raw.options {
            let value = Value::from_toml(&o.value)
                .map_err(|e| format!("{origin}: option {}: {e}", o.name))?;
            let kernels = match &o.kernels {
                Some(k) => {
                    Versions::parse(k).map_err(|e| format!("{origin}: option {}: {e}", o.name))?
                }
                None => Versions::default(),
            };
            let name = o
                .name
                .strip_prefix("CONFIG_")
                .unwrap_or(&o.name)
                .to_string();
            options.push(FeatureOption {
                name,
                value,
                why: o.why,
                optional: o.optional,
                arches: o.arches,
                kernels,
                alternatives: o.alternatives,
            });
        }
        Ok(Feature {
            name: raw.name,
            summary: raw.summary,
            description: raw.description,
            arches: raw.arches,
            kernels,
            includes: raw.includes,
            sources: raw.sources,
            options,
            origin: origin.to_string(),
        })
    }

    /// Whether the whole feature applies to a target.
    pub fn applies(&self, t: &Target) -> bool {
        self.kernels.matches(t.version) && arch_matches(&self.arches, t)
    }
}

/// All features available: the embedded library plus extra files.
#[derive(Clone, Debug, Default)]
pub struct Library {
    pub features: BTreeMap<String, Feature>,
}

impl Library {
    /// The library a spec uses: the built-in features plus the spec's
    /// `feature-files` (errors point at the spec line naming the file).
    pub fn for_spec(spec: &crate::Spec) -> Result<Library, Vec<ktailor_kconfig::Diagnostic>> {
        use ktailor_kconfig::Diagnostic;
        let mut lib = Library::builtin().map_err(|e| {
            vec![Diagnostic::error(
                "",
                0,
                format!("the built-in feature library is broken: {e}"),
            )]
        })?;
        let mut errs = Vec::new();
        for f in &spec.feature_files {
            let p = spec.resolve_path(&f.value);
            match std::fs::read_to_string(&p) {
                Ok(t) => {
                    if let Err(e) = lib.add_file(&t, &p.display().to_string()) {
                        errs.push(f.loc.error(e));
                    }
                }
                Err(e) => errs.push(
                    f.loc
                        .error(format!("cannot read feature file {}: {e}", p.display())),
                ),
            }
        }
        if let Err(e) = lib.check_includes() {
            errs.push(Diagnostic::error("", 0, e));
        }
        if errs.is_empty() {
            Ok(lib)
        } else {
            Err(errs)
        }
    }

    /// The embedded library.
    pub fn builtin() -> Result<Library, String> {
        let mut lib = Library::default();
        for (file, text) in FEATURE_FILES {
            let f = Feature::parse(text, &format!("features/{file}"))?;
            let expect = file.trim_end_matches(".toml");
            if f.name != expect {
                return Err(format!(
                    "features/{file}: name '{}' does not match the file name",
                    f.name
                ));
            }
            lib.features.insert(f.name.clone(), f);
        }
        lib.check_includes()?;
        Ok(lib)
    }

    /// Adds a feature file (a spec's own); it may shadow a library one.
    pub fn add_file(&mut self, text: &str, origin: &str) -> Result<String, String> {
        let f = Feature::parse(text, origin)?;
        let n = f.name.clone();
        self.features.insert(n.clone(), f);
        Ok(n)
    }

    /// Every `includes` names a known feature, with no cycles.
    pub fn check_includes(&self) -> Result<(), String> {
        for f in self.features.values() {
            for i in &f.includes {
                if !self.features.contains_key(i) {
                    return Err(format!(
                        "{}: feature '{}' includes unknown feature '{i}'",
                        f.origin, f.name
                    ));
                }
            }
        }
        for f in self.features.keys() {
            let mut stack = vec![f.clone()];
            self.cycle_check(f, &mut stack)?;
        }
        Ok(())
    }

    fn cycle_check(&self, name: &str, stack: &mut Vec<String>) -> Result<(), String> {
        let Some(f) = self.features.get(name) else {
            return Ok(());
        };
        for i in &f.includes {
            if stack.contains(i) {
                return Err(format!(
                    "features include each other: {} -> {i}",
                    stack.join(" -> ")
                ));
            }
            stack.push(i.clone());
            self.cycle_check(i, stack)?;
            stack.pop();
        }
        Ok(())
    }

    /// Feature names closest to `name`, for "did you mean" hints.
    pub fn suggest(&self, name: &str) -> Option<String> {
        crate::suggest::closest(name, self.features.keys().map(|s| s.as_str()))
    }
}
