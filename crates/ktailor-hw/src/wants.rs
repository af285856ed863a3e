//! What an input asks of a kernel: for each device the machine drives
//! (and, when asked, each module an lsmod or list names), the module, the
//! object that builds it and the CONFIG symbols to request.
//!
//! This is the step between [`crate::map`] (every row, with every
//! candidate) and a consumer that turns symbols into requests (a spec's
//! `hardware` entry, `localmodconfig`). The rules:
//!
//! - A device counts when a driver is bound to it (the report's bound
//!   driver, or lspci's "Kernel driver in use"): that is what the machine
//!   runs. A device with only modalias matches is listed as skipped with
//!   the matches; nothing bound means the probing kernel did not use it.
//! - With a class selection ([`crate::class`]), only devices of those
//!   classes count; devices of other classes or without one are skipped.
//! - Rows without a device (an lsmod line, a module list line, a report's
//!   loaded module no device accounts for) count when
//!   [`Select::modules`] says so.
//! - A counted module is built by an object: its own `obj-$(CONFIG_X)`
//!   symbols, and the symbols every gating chain of its directory shares
//!   (kbuild only descends into the directory when they are on). When
//!   several lines build an object of that name with different symbols,
//!   each is a [`Build`]; the consumer decides (a request needs exactly
//!   one, `localmodconfig` keeps them all). A module no Makefile builds
//!   is unmapped: the consumer reports it, with where the input names it.
//!
//! Not here: symbol types and values (the consumer asks the Kconfig
//! engine; this crate evaluates no Kconfig).

use crate::map::Row;

/// Which rows count.
#[derive(Clone, Debug, Default)]
pub struct Select {
    /// Device classes to take; `None` takes every device with a driver.
    pub classes: Option<Vec<String>>,
    /// Take rows without a device (lsmod, module lists, a report's loaded
    /// modules).
    pub modules: bool,
}

/// A module the input asks for, and what builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    /// Where the input names it (`file:line`).
    pub at: String,
    /// The device (`pci 0000:00:03.0 [8086:10d3]`) or `module NAME`.
    pub what: String,
    /// The device's class, when it has one.
    pub class: Option<&'static str>,
    /// The module.
    pub module: String,
    /// How the module was chosen (`bound driver module`, `loaded`, ...).
    pub how: String,
    /// The objects that build it: usually one; several when more than
    /// one Makefile line builds an object of that name with different
    /// symbols (`libahci.o` is listed by every AHCI driver's line), any
    /// of which builds the module.
    pub builds: Vec<Build>,
}

/// One object that builds a needed module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    /// The object, relative to the tree.
    pub object: String,
    /// The Makefile line that builds it (`file:line`).
    pub line: String,
    /// The symbols of that line (a conjunction; empty for `obj-y`).
    pub symbols: Vec<String>,
    /// The symbols every chain gating the object's directory has (those
    /// of `symbols` left out).
    pub gates: Vec<String>,
    /// Never a module (`obj-y`, `$(subst m,y,...)`).
    pub builtin_only: bool,
}

/// A row that does not count, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub at: String,
    pub what: String,
    pub reason: String,
}

/// A counted module that cannot be mapped to symbols.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmapped {
    pub at: String,
    pub what: String,
    pub module: String,
    pub reason: String,
}

/// The outcome for a whole input.
#[derive(Clone, Debug, Default)]
pub struct Wants {
    pub needs: Vec<Need>,
    pub skipped: Vec<Skipped>,
    pub unmapped: Vec<Unmapped>,
}

/// A row's device as people read it.
pub fn describe(r: &Row) -> String {
    match &r.device {
        Some(d) => {
            let mut s = format!("{} {}", d.bus, d.id);
            if let (Some(v), Some(dv)) = (&d.vendor, &d.device) {
                s.push_str(&format!(" [{v}:{dv}]"));
            }
            s
        }
        None => format!("module {}", r.module.as_deref().unwrap_or("?")),
    }
}

impl Need {
    /// The builds, as `object (CONFIG_A && CONFIG_B)`, for messages.
    pub fn describe_builds(&self) -> String {
        self.builds
            .iter()
            .map(|b| {
                if b.symbols.is_empty() {
                    format!("{} (obj-y)", b.object)
                } else {
                    format!("{} (CONFIG_{})", b.object, b.symbols.join(" && CONFIG_"))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn intersection(alts: &[Vec<String>]) -> Vec<String> {
    let Some(first) = alts.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|s| alts.iter().all(|a| a.contains(s)))
        .cloned()
        .collect()
}

/// Sorts the rows of a mapped input into needs, skipped and unmapped.
pub fn wants(rows: &[Row], sel: &Select) -> Wants {
    let mut out = Wants::default();
    // A device with only modalias matches has one row per match: report
    // it once.
    let mut seen_match: Vec<&str> = Vec::new();
    for r in rows {
        let what = describe(r);
        let class = r
            .device
            .as_ref()
            .and_then(|d| crate::class::of(&d.bus, d.class.as_deref(), d.modalias.as_deref()));
        let skip = |reason: String| Skipped {
            at: r.at.clone(),
            what: what.clone(),
            reason,
        };
        if r.device.is_some() {
            if let Some(classes) = &sel.classes {
                if !class.is_some_and(|c| classes.iter().any(|x| x == c)) {
                    if !seen_match.contains(&r.at.as_str()) {
                        if r.how == "modalias match" {
                            seen_match.push(&r.at);
                        }
                        out.skipped.push(skip(match class {
                            Some(c) => format!("class {c} not selected"),
                            None => "no device class (only all devices select it)".into(),
                        }));
                    }
                    continue;
                }
            }
            if r.how == "modalias match" {
                if !seen_match.contains(&r.at.as_str()) {
                    seen_match.push(&r.at);
                    let all: Vec<&str> = rows
                        .iter()
                        .filter(|x| x.at == r.at)
                        .filter_map(|x| x.module.as_deref())
                        .collect();
                    out.skipped.push(skip(format!(
                        "no driver bound (modules.alias matches {})",
                        all.join(", ")
                    )));
                }
                continue;
            }
            if r.module.is_none() {
                out.skipped.push(skip(r.how.clone()));
                continue;
            }
        } else if !sel.modules {
            out.skipped
                .push(skip("a loaded module no device accounts for".into()));
            continue;
        }
        let Some(module) = r.module.clone() else {
            continue;
        };
        let unmapped = |reason: String| Unmapped {
            at: r.at.clone(),
            what: what.clone(),
            module: module.clone(),
            reason,
        };
        if r.hits.is_empty() {
            out.unmapped.push(unmapped(
                r.unmapped
                    .clone()
                    .unwrap_or_else(|| "no Makefile of the tree builds it".into()),
            ));
            continue;
        }
        let mut builds: Vec<Build> = Vec::new();
        for h in &r.hits {
            let gates: Vec<String> = intersection(&h.gated_by)
                .into_iter()
                .filter(|g| !h.symbols.contains(g))
                .collect();
            if builds
                .iter()
                .any(|b| b.symbols == h.symbols && b.gates == gates)
            {
                continue;
            }
            builds.push(Build {
                object: h.object.clone(),
                line: h.at.clone(),
                symbols: h.symbols.clone(),
                gates,
                builtin_only: h.builtin_only,
            });
        }
        out.needs.push(Need {
            at: r.at.clone(),
            what,
            class,
            module,
            how: r.how.clone(),
            builds,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::DeviceInfo;
    use crate::kbuild::Hit;

    fn row(at: &str, dev: Option<(&str, &str, &str)>, module: Option<&str>, how: &str) -> Row {
        Row {
            at: at.into(),
            device: dev.map(|(bus, class, modalias)| DeviceInfo {
                bus: bus.into(),
                id: "0000:00:03.0".into(),
                class: Some(class.into()),
                modalias: Some(modalias.into()),
                ..DeviceInfo::default()
            }),
            device_name: None,
            driver: None,
            module: module.map(str::to_string),
            how: how.into(),
            other_matches: Vec::new(),
            hits: Vec::new(),
            values: Default::default(),
            config: None,
            unmapped: None,
        }
    }

    fn hit(object: &str, symbols: &[&str], gates: &[&[&str]]) -> Hit {
        Hit {
            object: object.into(),
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
            gated_by: gates
                .iter()
                .map(|g| g.iter().map(|s| s.to_string()).collect())
                .collect(),
            builtin_only: false,
            at: "Makefile:1".into(),
            via: "object".into(),
        }
    }

    #[test]
    fn bound_drivers_count_matches_do_not() {
        let mut nic = row(
            "r:1",
            Some(("pci", "0x020000", "pci:v00008086d000010D3")),
            Some("e1000e"),
            "bound driver module",
        );
        nic.hits = vec![hit(
            "drivers/net/ethernet/intel/e1000e/e1000e.o",
            &["E1000E"],
            &[&["NETDEVICES", "ETHERNET", "NET_VENDOR_INTEL", "E1000E"]],
        )];
        let smbus_a = row(
            "r:9",
            Some(("pci", "0x0c0500", "pci:v00008086d00002930")),
            Some("i2c_i801"),
            "modalias match",
        );
        let smbus_b = row(
            "r:9",
            Some(("pci", "0x0c0500", "pci:v00008086d00002930")),
            Some("other"),
            "modalias match",
        );
        let loaded = row("r:40", None, Some("ext4"), "loaded");
        let rows = [nic, smbus_a, smbus_b, loaded];
        let w = wants(&rows, &Select::default());
        assert_eq!(w.needs.len(), 1);
        assert_eq!(w.needs[0].builds.len(), 1);
        assert_eq!(w.needs[0].builds[0].symbols, ["E1000E"]);
        // The gate's own symbol is not repeated.
        assert_eq!(
            w.needs[0].builds[0].gates,
            ["NETDEVICES", "ETHERNET", "NET_VENDOR_INTEL"]
        );
        assert_eq!(w.needs[0].class, Some("network"));
        let reasons: Vec<&str> = w.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "no driver bound (modules.alias matches i2c_i801, other)",
                "a loaded module no device accounts for"
            ]
        );
        // Only storage: the NIC is skipped by class.
        let w = wants(
            &rows,
            &Select {
                classes: Some(vec!["storage".into()]),
                modules: true,
            },
        );
        assert!(w.needs.is_empty());
        assert_eq!(w.skipped[0].reason, "class network not selected");
        assert_eq!(w.skipped[1].reason, "class serial-bus not selected");
        assert_eq!(w.skipped.len(), 2);
        // Loaded modules count when asked; unmappable ones are unmapped.
        assert_eq!(w.unmapped.len(), 1);
        assert_eq!(w.unmapped[0].module, "ext4");
    }

    #[test]
    fn gates_shared_by_every_chain_and_several_objects() {
        let mut r = row("l:1", None, Some("foo"), "listed");
        r.hits = vec![hit("a/foo.o", &["FOO"], &[&["A", "X"], &["B", "X"]])];
        let sel = Select {
            classes: None,
            modules: true,
        };
        let w = wants(std::slice::from_ref(&r), &sel);
        assert_eq!(w.needs[0].builds[0].gates, ["X"]);
        // A second line with the same symbols adds nothing; one with
        // others is a second way to build the module.
        r.hits
            .push(hit("a/foo.o", &["FOO"], &[&["A", "X"], &["B", "X"]]));
        r.hits.push(hit("b/foo.o", &["OTHER_FOO"], &[&[]]));
        let w = wants(&[r], &sel);
        assert_eq!(w.needs[0].builds.len(), 2);
        assert_eq!(
            w.needs[0].describe_builds(),
            "a/foo.o (CONFIG_FOO), b/foo.o (CONFIG_OTHER_FOO)"
        );
    }
}
