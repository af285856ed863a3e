//! Joins an input with the alias table, the Makefile index and a
//! configuration: one [`Row`] per (device or module, module) with the
//! CONFIG symbols that build the module and their values.
//!
//! Which module drives a device, in order of authority: the bound
//! driver's module (the report's `driver/module` link), the bound driver's
//! name (an object of that name, else a driver registering that name),
//! then every modalias match (the report's, lspci's "Kernel modules", or a
//! `modules.alias` the user passes). A bound driver wins: the matches
//! that lost are listed next to it, not mapped. A module that maps to no
//! object is a row with no hits, never dropped.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::alias::{normalize_module, Aliases};
use crate::config::{and, Config};
use crate::ids::Ids;
use crate::input::{DeviceInfo, Input};
use crate::kbuild::{Hit, Index};

/// One mapped module.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Where the input named it.
    pub at: String,
    /// The device, for device rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceInfo>,
    /// The device's name from pci.ids/usb.ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// The bound driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The module (None: a device nothing drives or matches).
    pub module: Option<String>,
    /// Why this module: `bound driver module`, `bound driver`,
    /// `modalias match`, `loaded`, `listed`.
    pub how: String,
    /// Other modules whose aliases match the device (a bound driver won).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_matches: Vec<String>,
    /// Where the module is built and its symbols.
    pub hits: Vec<Hit>,
    /// Values in the configuration of every symbol involved.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, char>,
    /// The configuration's verdict: `y`, `m` or `n` (the best hit's
    /// symbols and gating chain ANDed), when a configuration was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<char>,
    /// Why the module could not be mapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmapped: Option<String>,
}

/// What the mapping needs besides the input.
pub struct Context<'a> {
    /// The tree's Makefile index.
    pub index: &'a Index,
    /// A modules.alias to match modaliases with.
    pub aliases: Option<&'a Aliases>,
    /// The configuration to compare with.
    pub config: Option<&'a Config>,
    /// pci.ids.
    pub pci_ids: Option<&'a Ids>,
    /// usb.ids.
    pub usb_ids: Option<&'a Ids>,
    /// Where the driver-name table is cached (None: not cached).
    pub cache_dir: Option<&'a std::path::Path>,
}

impl<'a> Context<'a> {
    /// The index alone: no modules.alias, configuration or ID databases.
    pub fn with_index(index: &'a Index, cache_dir: Option<&'a std::path::Path>) -> Self {
        Context {
            index,
            aliases: None,
            config: None,
            pci_ids: None,
            usb_ids: None,
            cache_dir,
        }
    }
}

/// Maps every item of the input.
pub fn map(input: &Input, cx: &Context<'_>) -> Vec<Row> {
    let mut rows = Vec::new();
    for it in &input.items {
        let device_name = it.device.as_ref().and_then(|d| {
            let ids = match d.bus.as_str() {
                "pci" => cx.pci_ids?,
                "usb" => cx.usb_ids?,
                _ => return None,
            };
            ids.name(d.vendor.as_deref()?, d.device.as_deref()?)
        });
        let mut matches: Vec<String> = it
            .alias_matches
            .iter()
            .map(|m| normalize_module(m))
            .collect();
        if let (Some(a), Some(m)) = (
            cx.aliases,
            it.device.as_ref().and_then(|d| d.modalias.as_deref()),
        ) {
            for x in a.lookup(m) {
                if !matches.contains(&x) {
                    matches.push(x);
                }
            }
        }
        let base = Row {
            at: it.at.clone(),
            device: it.device.clone(),
            device_name,
            driver: it.driver.clone(),
            module: None,
            how: String::new(),
            other_matches: Vec::new(),
            hits: Vec::new(),
            values: BTreeMap::new(),
            config: None,
            unmapped: None,
        };
        let how_named = match (&it.device, input.format) {
            (Some(_), _) => "bound driver module",
            (None, crate::input::Format::Lsmod) => "loaded",
            (None, crate::input::Format::Report) => "loaded",
            (None, _) => "listed",
        };
        // The bound driver (its module, else its name) wins.
        let bound: Option<(String, &str)> = it
            .modules
            .first()
            .map(|m| (m.clone(), how_named))
            .or_else(|| it.driver.clone().map(|d| (d, "bound driver")));
        match bound {
            Some((m, how)) => {
                let mut r = base.clone();
                r.other_matches = matches
                    .iter()
                    .filter(|x| **x != normalize_module(&m))
                    .cloned()
                    .collect();
                r.module = Some(m.clone());
                r.how = how.into();
                r.hits = cx.index.lookup(&m, it.path.as_deref());
                rows.push(r);
            }
            None if !matches.is_empty() => {
                for m in &matches {
                    let mut r = base.clone();
                    r.module = Some(m.clone());
                    r.how = "modalias match".into();
                    r.hits = cx.index.lookup(m, None);
                    rows.push(r);
                }
            }
            None => {
                let mut r = base;
                r.how = "no driver bound, no alias match".into();
                rows.push(r);
            }
        }
    }
    // Every bound driver's name (which need not be its module's: xhci_pci
    // registers "xhci_hcd", pcieport is no module): look for the drivers
    // registering it. A module name (lsmod, a list, a report's module
    // link) is not looked up as a driver name: a module the tree does not
    // build is unmapped, not guessed (the string "eeprom" is registered by
    // six unrelated drivers).
    let mut wanted: Vec<(String, Option<String>)> = rows
        .iter()
        .filter(|r| r.how == "bound driver")
        .filter_map(|r| Some((r.module.clone()?, r.device.as_ref().map(|d| d.bus.clone()))))
        .collect();
    wanted.sort();
    wanted.dedup();
    let found = if wanted.is_empty() {
        Default::default()
    } else {
        let (table, _) = crate::kbuild::DriverNames::load(cx.index, cx.cache_dir);
        cx.index.find_drivers(&table, &wanted)
    };
    for r in &mut rows {
        let Some(m) = &r.module else {
            continue;
        };
        if r.how == "bound driver" {
            // Next to an object of the driver's name, only a file that
            // declares the device's bus driver is evidence; alone, any
            // registration is.
            let have_object = !r.hits.is_empty();
            for (h, bus_ok) in found.get(m).into_iter().flatten() {
                if have_object && !bus_ok {
                    continue;
                }
                if !r.hits.iter().any(|x| x.object == h.object) {
                    r.hits.push(h.clone());
                }
            }
        }
        if r.hits.is_empty() {
            r.unmapped = Some(if r.how == "bound driver" {
                format!(
                    "no Makefile of the tree builds {m}.o and no driver in it registers the name \"{m}\""
                )
            } else {
                format!("no Makefile of the tree builds {m}.o")
            });
        }
        if let Some(c) = cx.config {
            let mut best = 'n';
            for h in &r.hits {
                let own = and(h.symbols.iter().map(|s| c.tristate(s)));
                let gate = h
                    .gated_by
                    .iter()
                    .map(|alt| and(alt.iter().map(|s| c.tristate(s))))
                    .fold(if h.gated_by.is_empty() { 'y' } else { 'n' }, |a, b| {
                        if rank(b) > rank(a) {
                            b
                        } else {
                            a
                        }
                    });
                let v = and([own, gate]);
                if rank(v) > rank(best) {
                    best = v;
                }
                for s in h.symbols.iter().chain(h.gated_by.iter().flatten()) {
                    r.values.insert(s.clone(), c.tristate(s));
                }
            }
            r.config = Some(best);
        }
    }
    rows
}

fn rank(c: char) -> u8 {
    match c {
        'y' => 2,
        'm' => 1,
        _ => 0,
    }
}

/// The text rendering: one block per row.
pub fn render_text(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let head = match &r.device {
            Some(d) => {
                let mut h = format!("{} {}", d.bus, d.id);
                if let (Some(v), Some(dv)) = (&d.vendor, &d.device) {
                    h.push_str(&format!(" [{v}:{dv}]"));
                }
                if let Some(n) = r.device_name.as_ref().or(d.description.as_ref()) {
                    h.push_str(&format!(" {n}"));
                }
                h
            }
            None => format!("module {}", r.module.as_deref().unwrap_or("?")),
        };
        out.push_str(&head);
        out.push('\n');
        let val = |s: &str| match r.values.get(s) {
            Some(v) => format!("CONFIG_{s}={v}"),
            None => format!("CONFIG_{s}"),
        };
        match &r.module {
            None => out.push_str(&format!("    {}\n", r.how)),
            Some(m) => {
                let drv = match &r.driver {
                    Some(d) if normalize_module(d) != normalize_module(m) => {
                        format!(" (driver {d})")
                    }
                    _ => String::new(),
                };
                out.push_str(&format!("    module {m}{drv}: {}\n", r.how));
                if let Some(u) = &r.unmapped {
                    out.push_str(&format!("    NOT MAPPED: {u}\n"));
                }
                for h in &r.hits {
                    let own: Vec<String> = h.symbols.iter().map(|s| val(s)).collect();
                    let own = if own.is_empty() {
                        "always built (obj-y)".to_string()
                    } else {
                        own.join(" && ")
                    };
                    out.push_str(&format!("    {} -> {own}", h.object));
                    if h.builtin_only {
                        out.push_str(" (built-in only)");
                    }
                    out.push('\n');
                    let gates: Vec<String> = h
                        .gated_by
                        .iter()
                        .filter(|a| !a.is_empty())
                        .map(|a| a.iter().map(|s| val(s)).collect::<Vec<_>>().join(" && "))
                        .collect();
                    if !gates.is_empty() {
                        out.push_str(&format!(
                            "        directory gated by {}\n",
                            gates.join("  or  ")
                        ));
                    }
                    out.push_str(&format!("        {} ({})\n", h.at, h.via));
                }
                if !r.other_matches.is_empty() {
                    out.push_str(&format!(
                        "    also matched by: {}\n",
                        r.other_matches.join(", ")
                    ));
                }
                if let Some(c) = r.config {
                    out.push_str(&format!("    config: {c}\n"));
                }
            }
        }
    }
    out
}
