//! `hardware = [...]` in a spec kernel: the drivers of a machine's devices
//! as requests of a feature named after the report (`hardware:NAME` for
//! `NAME.json`), so the gate and the resolver treat them like any other
//! request and the report says which device asked for which option.
//!
//! For each entry: read the report (a `ktailor probe` JSON, `lspci -k`,
//! `lsmod` or a module list; untrusted, validated by `ktailor-hw`), map it
//! with the tree's Makefile index, and keep what `ktailor_hw::wants`
//! counts: devices with a bound driver (only those of the entry's
//! `classes`, when given) and, for lsmod and module lists, every module.
//! Each counted module's object symbols and the symbols shared by every
//! chain gating its directory are requested:
//!
//! - tristate symbols at the entry's `value`, else `m` when the kernel has
//!   modules (a request or the base turns `MODULES` on) and `y` when it
//!   does not (a preboot kernel without modules needs its drivers built
//!   in); a request for `m` is also met by `y`;
//! - bool symbols at `y`.
//!
//! A symbol several devices need is one request naming all of them. A
//! report that cannot be read, and a counted module the tree does not
//! build (or builds through several lines with different symbols), are
//! errors at the spec entry, naming the report's file:line (warnings for
//! `optional = true` entries). Devices that do not count are listed with
//! why in [`HardwareUse::skipped`].
//!
//! Not here: what the Makefiles say (`ktailor-hw`), values
//! (`ktailor-kconfig`), and dependencies of the requested drivers (the
//! resolver adds them, as for any request).

use std::path::Path;

use ktailor_hw::kbuild::Index;
use ktailor_hw::map::{map, Context};
use ktailor_hw::wants::{wants, Need, Select, Skipped};
use ktailor_kconfig::{Diagnostic, Kconfig, SymType, Tri};

use crate::generate::{Ask, HwReason, Origin};
use crate::spec::{HardwareRef, Kernel, Spec};
use crate::value::Value;

/// What one `hardware` entry contributed.
#[derive(Clone, Debug)]
pub struct HardwareUse {
    /// The feature's name (`hardware:NAME`).
    pub feature: String,
    /// The report as written in the spec.
    pub report: String,
    /// The counted devices and modules.
    pub needs: Vec<Need>,
    /// Devices (and modules) that do not count, with why.
    pub skipped: Vec<Skipped>,
    /// How tristate drivers were requested.
    pub value: Tri,
}

/// The feature name of a report: `hardware:` and the file name without
/// its extension.
pub fn feature_name(report: &str) -> String {
    let file = Path::new(report)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| report.to_string());
    let stem = match file.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() => s.to_string(),
        _ => file,
    };
    format!("hardware:{stem}")
}

/// Turns an error of the hardware crate into a diagnostic at the spec
/// entry, naming the report's file:line.
fn at_entry(h: &HardwareRef, what: &str, e: &ktailor_hw::Error) -> Diagnostic {
    let place = match (e.file.is_empty(), e.line) {
        (true, _) => String::new(),
        (false, 0) => format!("{}: ", e.file),
        (false, l) => format!("{}:{l}: ", e.file),
    };
    let msg = format!("hardware report '{}': {what}{place}{}", h.report, e.message);
    let mut d = if h.optional {
        h.loc.warning(msg)
    } else {
        h.loc.error(msg)
    };
    if let Some(hint) = &e.hint {
        d.hint = Some(hint.clone().into());
    }
    d
}

/// The inputs every entry of a kernel shares.
pub struct Tree<'a> {
    pub srctree: &'a Path,
    pub arch: &'a str,
    pub kconfig: &'a Kconfig,
    /// Whether the kernel has modules (the default driver value is `m`).
    pub modules: bool,
    pub no_cache: bool,
}

/// The requests of a kernel's `hardware` entries, in entry order.
pub fn asks(
    spec: &Spec,
    k: &Kernel,
    t: &Tree<'_>,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> (Vec<Ask>, Vec<HardwareUse>) {
    let mut asks: Vec<Ask> = Vec::new();
    let mut uses = Vec::new();
    if k.hardware.is_empty() {
        return (asks, uses);
    }
    let cache = (!t.no_cache).then(ktailor_hw::cache_dir);
    let index = match Index::load(t.srctree, t.arch, cache.as_deref()) {
        Ok((i, _)) => i,
        Err(e) => {
            for h in &k.hardware {
                let d = at_entry(h, "cannot index the tree's Makefiles: ", &e);
                if h.optional {
                    warnings.push(d);
                } else {
                    errors.push(d);
                }
            }
            return (asks, uses);
        }
    };
    for h in &k.hardware {
        let sink: &mut Vec<Diagnostic> = if h.optional {
            &mut *warnings
        } else {
            &mut *errors
        };
        let path = spec.resolve_path(&h.report);
        let input = match ktailor_hw::input::read(&path) {
            Ok(i) => i,
            Err(e) => {
                sink.push(at_entry(h, "", &e));
                continue;
            }
        };
        let cx = Context::with_index(&index, cache.as_deref());
        let rows = map(&input, &cx);
        let sel = Select {
            classes: h.classes.clone(),
            modules: input.format != ktailor_hw::input::Format::Report,
        };
        let w = wants(&rows, &sel);
        let feature = feature_name(&h.report);
        let value = h.value.unwrap_or(if t.modules { Tri::M } else { Tri::Y });
        for u in &w.unmapped {
            let e = ktailor_hw::Error::new(
                "",
                0,
                format!(
                    "{}: {}: module {} cannot be mapped to CONFIG symbols: {}",
                    u.at, u.what, u.module, u.reason
                ),
            );
            sink.push(at_entry(h, "", &e).with_hint(
                "select devices with classes = [...], or mark the entry optional = true",
            ));
        }
        let mut counted = Vec::new();
        for n in w.needs {
            if n.builds.len() > 1 {
                let e = ktailor_hw::Error::new(
                    "",
                    0,
                    format!(
                        "{}: {}: module {} is built by several Makefile lines with different symbols: {}",
                        n.at,
                        n.what,
                        n.module,
                        n.describe_builds()
                    ),
                );
                sink.push(at_entry(h, "", &e));
                continue;
            }
            let Some(b) = n.builds.first() else { continue };
            let mut add = |sym: &str, gate: bool| {
                let v = match t
                    .kconfig
                    .find(sym)
                    .map(|s| t.kconfig.sym(s).ty)
                    .unwrap_or(SymType::Unknown)
                {
                    SymType::Tristate => value,
                    _ => Tri::Y,
                };
                let reason = HwReason {
                    device: n.what.clone(),
                    class: n.class.map(str::to_string),
                    at: n.at.clone(),
                    module: n.module.clone(),
                    object: b.object.clone(),
                    line: b.line.clone(),
                    gate,
                };
                match asks.iter_mut().find(|a| a.name == sym) {
                    Some(a) => {
                        if let Origin::Hardware { by, .. } = &mut a.origin {
                            if !by.contains(&reason) {
                                by.push(reason);
                            }
                        }
                        if v == Tri::Y {
                            a.value = Value::Tri(Tri::Y);
                        }
                        a.optional &= h.optional;
                    }
                    None => asks.push(Ask {
                        name: sym.to_string(),
                        value: Value::Tri(v),
                        optional: h.optional,
                        origin: Origin::Hardware {
                            feature: feature.clone(),
                            named_at: h.loc.clone(),
                            by: vec![reason],
                        },
                        alternatives: Vec::new(),
                    }),
                }
            };
            for s in &b.symbols {
                add(s, false);
            }
            for g in &b.gates {
                add(g, true);
            }
            counted.push(n);
        }
        uses.push(HardwareUse {
            feature,
            report: h.report.clone(),
            needs: counted,
            skipped: w.skipped,
            value,
        });
    }
    (asks, uses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_names() {
        assert_eq!(
            feature_name("hardware/qemu-guest.json"),
            "hardware:qemu-guest"
        );
        assert_eq!(feature_name("lspci.txt"), "hardware:lspci");
        assert_eq!(feature_name("modules"), "hardware:modules");
        assert_eq!(feature_name(".hidden"), "hardware:.hidden");
    }
}
