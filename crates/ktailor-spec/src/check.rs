//! Checking an existing configuration against features or a spec, without
//! a kernel tree: the `.config` text is read directly.
//!
//! The kernel version and architecture come from the configuration's
//! header (`# Linux/x86 6.12.117 Kernel Configuration`), so features apply
//! as they would when generating. A request for `m` is met by `y`; an option
//! missing from the file counts as `n` (conf writes every visible option, so
//! a missing one does not exist or is off).

use std::collections::HashMap;

use ktailor_kconfig::{Diagnostic, Tri};

use crate::features::{Library, Target};
use crate::generate::Ask;
use crate::spec::{Loc, Spec};
use crate::value::Value;

/// A parsed configuration file.
pub struct ConfigFile {
    pub values: HashMap<String, String>,
    pub version: Option<(u32, u32)>,
    /// The SRCARCH in the header (`x86`, `arm64`, ...).
    pub srcarch: Option<String>,
}

impl ConfigFile {
    pub fn parse(text: &str) -> ConfigFile {
        let mut values = HashMap::new();
        let mut version = None;
        let mut srcarch = None;
        for (i, l) in text.lines().enumerate() {
            if i < 5 {
                if let Some(rest) = l.strip_prefix("# Linux/") {
                    let mut it = rest.split_whitespace();
                    srcarch = it.next().map(str::to_string);
                    if let Some(v) = it.next() {
                        let mut p = v.split('.');
                        if let (Some(a), Some(b)) = (p.next(), p.next()) {
                            if let (Ok(a), Ok(b)) = (a.parse(), b.parse::<String>()) {
                                let b: String =
                                    b.chars().take_while(|c| c.is_ascii_digit()).collect();
                                version = b.parse().ok().map(|b| (a, b));
                            }
                        }
                    }
                }
            }
            if let Some(rest) = l.strip_prefix("CONFIG_") {
                if let Some((n, v)) = rest.split_once('=') {
                    let v = v
                        .strip_prefix('"')
                        .and_then(|x| x.strip_suffix('"'))
                        .map(|x| x.replace("\\\"", "\"").replace("\\\\", "\\"))
                        .unwrap_or_else(|| v.to_string());
                    values.insert(n.to_string(), v);
                }
            } else if let Some(rest) = l.strip_prefix("# CONFIG_") {
                if let Some(n) = rest.strip_suffix(" is not set") {
                    values.insert(n.to_string(), "n".to_string());
                }
            }
        }
        ConfigFile {
            values,
            version,
            srcarch,
        }
    }
}

/// One checked request.
pub struct Checked {
    pub ask: Ask,
    pub actual: Option<String>,
    pub holds: bool,
}

fn holds(v: &Value, actual: Option<&str>) -> bool {
    let a = actual.unwrap_or("n");
    match v {
        Value::Tri(Tri::M) => a == "m" || a == "y",
        Value::Tri(t) => a == t.as_str(),
        Value::Int(i) => {
            a == i.to_string()
                || a.strip_prefix("0x")
                    .and_then(|h| i64::from_str_radix(h, 16).ok())
                    == Some(*i)
        }
        Value::Text(s) => a == s,
    }
}

/// The requests of `features` (or of a spec kernel), as they apply to the
/// configuration's version and arch.
pub fn collect_for_check(
    lib: &Library,
    features: &[String],
    spec_kernel: Option<(&Spec, &str)>,
    cfg: &ConfigFile,
) -> Result<(Vec<Ask>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let srcarch = cfg.srcarch.clone().unwrap_or_default();
    let target = Target {
        version: cfg.version.unwrap_or((0, 0)),
        arch: if srcarch == "x86" {
            "x86_64".into()
        } else {
            srcarch.clone()
        },
        srcarch,
    };
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut asks = Vec::new();
    let cli = Loc {
        file: "the command line".into(),
        line: 0,
        col: 0,
    };
    let mut names: Vec<(String, bool, Loc)> = features
        .iter()
        .map(|f| (f.clone(), false, cli.clone()))
        .collect();
    if let Some((spec, k)) = spec_kernel {
        let Some(kern) = spec.flattened(k) else {
            return Err(vec![Diagnostic::error(
                spec.path.display().to_string(),
                0,
                format!("no kernel named '{k}'"),
            )]);
        };
        names.extend(
            kern.features
                .iter()
                .map(|f| (f.name.clone(), f.optional, f.loc.clone())),
        );
        asks.extend(crate::generate::spec_asks(&kern));
        for h in &kern.hardware {
            warnings.push(h.loc.warning(format!(
                "hardware report '{}' is not checked: mapping devices to options needs the kernel tree",
                h.report
            )).with_hint("`ktailor generate` maps and checks hardware entries"));
        }
    }
    let mut seen = Vec::new();
    let mut feat_asks = Vec::new();
    for (n, optional, loc) in names {
        crate::generate::add_feature(
            &n,
            optional,
            &loc,
            lib,
            &target,
            &mut feat_asks,
            &mut seen,
            &mut errors,
            &mut warnings,
        );
    }
    feat_asks.extend(asks);
    if errors.is_empty() {
        Ok((feat_asks, warnings))
    } else {
        Err(errors)
    }
}

/// Checks requests against the configuration.
pub fn check(asks: Vec<Ask>, cfg: &ConfigFile) -> Vec<Checked> {
    let mut out: Vec<Checked> = Vec::new();
    for a in asks {
        out.retain(|c| c.ask.name != a.name);
        let actual = cfg.values.get(&a.name).cloned();
        let mut ok = holds(&a.value, actual.as_deref());
        if !ok {
            ok = a
                .alternatives
                .iter()
                .any(|alt| holds(&a.value, cfg.values.get(alt).map(|s| s.as_str())));
        }
        out.push(Checked {
            ask: a,
            actual,
            holds: ok,
        });
    }
    out
}
