//! `localmodconfig`: which symbols of a configuration a machine's modules
//! keep, and which `m` symbols are switched off.
//!
//! As the kernel's `make localmodconfig` (scripts/kconfig/
//! streamline_config.pl) does, only symbols set to `m` are switched off,
//! and nothing is switched on. Unlike it, the symbols to keep come from
//! the Makefile index ([`crate::kbuild`], through [`crate::wants`]): the
//! object's own `obj-` line wherever it is (composite objects, objects in
//! subdirectories, `$(subst m,y,...)` and variable forms), the symbols of
//! the directories that gate it, and, with a report, the module's path to
//! tell colliding names apart. Kconfig is not read here: the caller
//! applies the plan through the Kconfig engine and the resolver, which put
//! back what a kept module depends on and check that every kept module
//! still holds.
//!
//! A module built by several lines with different symbols (`libahci.o`
//! is listed by every AHCI driver's line) is satisfied by one way of
//! building it: one whose symbols are already kept, else every way that
//! is on in the configuration (there is no telling which one the machine
//! used).

use std::collections::BTreeMap;

use crate::config::Config;
use crate::wants::{Build, Need, Wants};

/// What to keep and what to switch off.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Symbols to keep, each with who needs it (`module (device)`).
    pub keep: BTreeMap<String, Vec<String>>,
    /// `m` symbols to switch off, sorted.
    pub off: Vec<String>,
    /// Symbols a needed module requires that are off in the configuration:
    /// (symbol, who). They stay off (localmodconfig does not add).
    pub missing: Vec<(String, String)>,
}

fn who(n: &Need) -> String {
    if n.what.starts_with("module ") {
        n.module.clone()
    } else {
        format!("{} ({})", n.module, n.what)
    }
}

fn symbols(b: &Build) -> impl Iterator<Item = &String> {
    b.symbols.iter().chain(b.gates.iter())
}

/// The plan for a configuration and what a machine needs.
pub fn plan(w: &Wants, config: &Config) -> Plan {
    let mut p = Plan::default();
    let keep = |p: &mut Plan, b: &Build, who: &str| {
        for s in symbols(b) {
            let v = p.keep.entry(s.clone()).or_default();
            if !v.iter().any(|x| x == who) {
                v.push(who.to_string());
            }
        }
    };
    for n in w.needs.iter().filter(|n| n.builds.len() == 1) {
        keep(&mut p, &n.builds[0], &who(n));
    }
    for n in w.needs.iter().filter(|n| n.builds.len() > 1) {
        let who = who(n);
        let kept = |p: &Plan, b: &Build| symbols(b).all(|s| p.keep.contains_key(s));
        if let Some(b) = n.builds.iter().find(|b| kept(&p, b)) {
            keep(&mut p, b, &who);
            continue;
        }
        let on: Vec<&Build> = n
            .builds
            .iter()
            .filter(|b| symbols(b).all(|s| config.tristate(s) != 'n'))
            .collect();
        if on.is_empty() {
            keep(&mut p, &n.builds[0], &who);
        }
        for b in on {
            keep(&mut p, b, &who);
        }
    }
    for (s, by) in &p.keep {
        if config.tristate(s) == 'n' {
            for w in by {
                p.missing.push((s.clone(), w.clone()));
            }
        }
    }
    p.off = config
        .modules()
        .into_iter()
        .filter(|s| !p.keep.contains_key(*s))
        .map(str::to_string)
        .collect();
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(object: &str, symbols: &[&str], gates: &[&str]) -> Build {
        Build {
            object: object.into(),
            line: "Makefile:1".into(),
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
            gates: gates.iter().map(|s| s.to_string()).collect(),
            builtin_only: false,
        }
    }

    fn need(module: &str, builds: Vec<Build>) -> Need {
        Need {
            at: "lsmod:2".into(),
            what: format!("module {module}"),
            class: None,
            module: module.into(),
            how: "loaded".into(),
            builds,
        }
    }

    #[test]
    fn keeps_what_modules_need_and_switches_the_other_modules_off() {
        let config = Config::parse(
            "CONFIG_ATA=m\nCONFIG_SATA_AHCI=m\nCONFIG_SATA_ACARD_AHCI=m\nCONFIG_SND=m\nCONFIG_E1000E=m\nCONFIG_NET_VENDOR_INTEL=y\n# CONFIG_NVME is not set\nCONFIG_PCI=y\n",
            "c",
        );
        let w = Wants {
            needs: vec![
                need(
                    "e1000e",
                    vec![build("e1000e.o", &["E1000E"], &["NET_VENDOR_INTEL"])],
                ),
                need("ahci", vec![build("ahci.o", &["SATA_AHCI"], &["ATA"])]),
                // libahci: kept through ahci's line, not through ACARD's.
                need(
                    "libahci",
                    vec![
                        build("libahci.o", &["SATA_AHCI"], &["ATA"]),
                        build("libahci.o", &["SATA_ACARD_AHCI"], &["ATA"]),
                    ],
                ),
                need("nvme", vec![build("nvme.o", &["NVME"], &[])]),
            ],
            ..Wants::default()
        };
        let p = plan(&w, &config);
        let kept: Vec<&str> = p.keep.keys().map(String::as_str).collect();
        assert_eq!(
            kept,
            ["ATA", "E1000E", "NET_VENDOR_INTEL", "NVME", "SATA_AHCI"]
        );
        assert_eq!(p.keep["SATA_AHCI"], ["ahci", "libahci"]);
        assert_eq!(p.off, ["SATA_ACARD_AHCI", "SND"]);
        assert_eq!(p.missing, [("NVME".to_string(), "nvme".to_string())]);

        // Alone, libahci keeps every way of building it that is on.
        let w = Wants {
            needs: vec![need(
                "libahci",
                vec![
                    build("libahci.o", &["SATA_AHCI"], &["ATA"]),
                    build("libahci.o", &["SATA_ACARD_AHCI"], &["ATA"]),
                    build("libahci.o", &["AHCI_IMX"], &["ATA"]),
                ],
            )],
            ..Wants::default()
        };
        let p = plan(&w, &config);
        let kept: Vec<&str> = p.keep.keys().map(String::as_str).collect();
        assert_eq!(kept, ["ATA", "SATA_ACARD_AHCI", "SATA_AHCI"]);
        assert!(p.missing.is_empty());
    }
}
