//! What `ktailor hw REPORT` reads: the JSON report, `lspci -k` text (the
//! full form, with or without `-nn`, and busybox's one-line form),
//! `lsmod` output, or a plain list of module names. The format is
//! detected from the first meaningful line; every line of the others must
//! then parse, or the error names it (file:line). Everything is checked
//! with [`crate::validate`] before it is used.

use std::io::Read as _;
use std::path::Path;

use crate::report::Report;
use crate::validate;
use crate::Error;

/// The detected input format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `ktailor probe`'s JSON.
    Report,
    /// `lspci -k` (or busybox `lspci -k`).
    Lspci,
    /// `lsmod`.
    Lsmod,
    /// One module name per line.
    List,
}

impl Format {
    /// The name used in messages and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Format::Report => "report",
            Format::Lspci => "lspci",
            Format::Lsmod => "lsmod",
            Format::List => "module list",
        }
    }
}

/// A device as an input describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeviceInfo {
    /// The bus (`pci`, `usb`, ...).
    pub bus: String,
    /// Its name on the bus (`03:00.0`).
    pub id: String,
    /// Vendor ID, 4 hex digits lower case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Device ID, 4 hex digits lower case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Class code, as given (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Description from the input (lspci's text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The modalias, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modalias: Option<String>,
}

/// One thing to map: a device with what drives it, or a bare module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item {
    /// Where it came from (`file:line`, or `file` and a field for JSON).
    pub at: String,
    /// The device, if the item is one.
    pub device: Option<DeviceInfo>,
    /// The bound driver's name (lspci's "Kernel driver in use").
    pub driver: Option<String>,
    /// Modules named by the input (the bound driver's module, lspci's
    /// "Kernel modules", an lsmod or list line).
    pub modules: Vec<String>,
    /// Modules matching the modalias (from the report).
    pub alias_matches: Vec<String>,
    /// The module's path under /lib/modules/RELEASE, when known.
    pub path: Option<String>,
}

/// A parsed input.
#[derive(Clone, Debug)]
pub struct Input {
    /// The detected format.
    pub format: Format,
    /// Devices and modules, in input order.
    pub items: Vec<Item>,
    /// The whole report, for JSON input.
    pub report: Option<Report>,
}

/// Reads a file of at most [`validate::MAX_REPORT_BYTES`] bytes as text
/// (invalid UTF-8 replaced, since it is validated field by field later).
pub fn read_capped(path: &Path) -> Result<String, Error> {
    let shown = path.display().to_string();
    let f = std::fs::File::open(path)
        .map_err(|e| Error::new(&shown, 0, format!("cannot read: {e}")))?;
    let mut buf = Vec::new();
    f.take(validate::MAX_REPORT_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::new(&shown, 0, format!("cannot read: {e}")))?;
    if buf.len() as u64 > validate::MAX_REPORT_BYTES {
        return Err(Error::new(
            &shown,
            0,
            format!(
                "larger than {} MiB: not a hardware report",
                validate::MAX_REPORT_BYTES >> 20
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Reads and parses an input file.
pub fn read(path: &Path) -> Result<Input, Error> {
    let text = read_capped(path)?;
    parse(&text, &path.display().to_string())
}

fn is_slot(w: &str) -> bool {
    // [DOMAIN:]BUS:DEV.FN
    let w = match w.split_once(':') {
        Some((d, rest)) if d.len() == 4 && rest.contains(':') => rest,
        _ => w,
    };
    let Some((bus, devfn)) = w.split_once(':') else {
        return false;
    };
    let Some((dev, func)) = devfn.split_once('.') else {
        return false;
    };
    bus.len() == 2
        && dev.len() == 2
        && func.len() == 1
        && bus
            .chars()
            .chain(dev.chars())
            .chain(func.chars())
            .all(|c| c.is_ascii_hexdigit())
}

/// Detects the format from the first meaningful line.
pub fn detect(text: &str) -> Format {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    if first.starts_with('{') {
        Format::Report
    } else if first.starts_with("Module") && first.contains("Size") && first.contains("Used by") {
        Format::Lsmod
    } else if first.split_whitespace().next().is_some_and(is_slot) {
        Format::Lspci
    } else {
        Format::List
    }
}

/// Parses an input of any format.
pub fn parse(text: &str, file: &str) -> Result<Input, Error> {
    let format = detect(text);
    let mut items = Vec::new();
    let mut report = None;
    match format {
        Format::Report => {
            let devices = element_lines(text, "devices");
            let modules = element_lines(text, "modules");
            let r = Report::from_json(text.as_bytes(), file).map_err(|mut e| {
                // A field error names the element (`devices[3].modalias`):
                // point at its line.
                if e.line == 0 {
                    e.line = field_line(&e.message, &devices, &modules);
                }
                e
            })?;
            items = report_items(&r, file, &devices, &modules);
            report = Some(r);
        }
        Format::Lspci => parse_lspci(text, file, &mut items)?,
        Format::Lsmod => parse_lsmod(text, file, &mut items)?,
        Format::List => {
            for (n, line) in text.lines().enumerate() {
                let l = line.trim();
                if l.is_empty() || l.starts_with('#') {
                    continue;
                }
                let at = format!("{file}:{}", n + 1);
                validate::module_name(l).map_err(|e| {
                    Error::new(file, n as u32 + 1, e)
                        .hint("a module list has one module name per line; lspci -k, lsmod and ktailor probe's JSON are also accepted")
                })?;
                items.push(Item {
                    at,
                    modules: vec![l.to_string()],
                    ..Item::default()
                });
            }
        }
    }
    Ok(Input {
        format,
        items,
        report,
    })
}

fn hex4(s: &str) -> Option<String> {
    let h = s.trim().trim_start_matches("0x");
    (!h.is_empty() && h.len() <= 4 && h.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("{:0>4}", h.to_ascii_lowercase()))
}

/// The 1-based line on which each element of the top-level array `key`
/// of a JSON object starts (`"devices": [ {...}, {...} ]`), so that a
/// report's devices and modules can be named by file:line. A scanner, not
/// a parser: it runs before (and independently of) the JSON parser, and
/// on malformed text returns what it saw, which the parser then rejects.
pub fn element_lines(text: &str, key: &str) -> Vec<u32> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line, mut depth) = (0usize, 1u32, 0u32);
    // The last string closed at depth 1 (an object key, when ':' follows).
    let mut last_key: Option<(usize, usize)> = None;
    // Inside the wanted array: its depth, and whether an element may start.
    let mut array: Option<u32> = None;
    let mut expect_element = false;
    let mut after_colon_key = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => line += 1,
            b'"' => {
                if array == Some(depth) && expect_element {
                    out.push(line);
                    expect_element = false;
                }
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    } else if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                if depth == 1 {
                    last_key = Some((start, i.min(b.len())));
                }
            }
            b':' if depth == 1 => {
                after_colon_key = last_key.is_some_and(|(s, e)| &b[s..e] == key.as_bytes());
            }
            b'[' | b'{' => {
                if array == Some(depth) && expect_element {
                    out.push(line);
                    expect_element = false;
                }
                if c == b'[' && depth == 1 && after_colon_key && array.is_none() {
                    array = Some(depth + 1);
                    expect_element = true;
                }
                after_colon_key = false;
                depth += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if array.is_some_and(|a| depth < a) {
                    array = None;
                    expect_element = false;
                }
            }
            b',' => {
                if array == Some(depth) {
                    expect_element = true;
                }
                if depth == 1 {
                    after_colon_key = false;
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => {
                if array == Some(depth) && expect_element {
                    out.push(line);
                    expect_element = false;
                }
            }
        }
        i += 1;
    }
    out
}

/// The line of the element a validation message names (`devices[3]...`,
/// `modules[0]...`), 0 when it names none.
fn field_line(message: &str, devices: &[u32], modules: &[u32]) -> u32 {
    for (prefix, lines) in [("devices[", devices), ("modules[", modules)] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Some(l) = n.parse::<usize>().ok().and_then(|n| lines.get(n)) {
                return *l;
            }
        }
    }
    0
}

/// Where element `i` of a report's list is: `file:LINE (list[i])`, or
/// `file: list[i]` when the line is unknown.
fn element_at(file: &str, list: &str, i: usize, lines: &[u32]) -> String {
    match lines.get(i) {
        Some(l) => format!("{file}:{l} ({list}[{i}])"),
        None => format!("{file}: {list}[{i}]"),
    }
}

/// The items of a report: devices with a driver, module or alias match,
/// then loaded modules no device accounts for.
fn report_items(r: &Report, file: &str, device_lines: &[u32], module_lines: &[u32]) -> Vec<Item> {
    let mut items = Vec::new();
    let mut covered: Vec<String> = Vec::new();
    for (i, d) in r.devices.iter().enumerate() {
        if d.driver.is_none()
            && d.module.is_none()
            && d.alias_matches.is_empty()
            && d.modalias.is_none()
        {
            continue;
        }
        let modules: Vec<String> = d.module.iter().cloned().collect();
        covered.extend(modules.iter().map(|m| crate::alias::normalize_module(m)));
        items.push(Item {
            at: element_at(file, "devices", i, device_lines),
            device: Some(DeviceInfo {
                bus: d.bus.clone(),
                id: d.id.clone(),
                vendor: d.vendor.as_deref().and_then(hex4),
                device: d.device.as_deref().and_then(hex4),
                class: d.class.clone(),
                description: None,
                modalias: d.modalias.clone(),
            }),
            driver: d.driver.clone(),
            modules,
            alias_matches: d.alias_matches.clone(),
            path: None,
        });
    }
    for (i, m) in r.modules.iter().enumerate() {
        if covered.contains(&crate::alias::normalize_module(&m.name)) {
            // Still useful for its path: give it to the device items.
            for it in items.iter_mut() {
                if it.modules.iter().any(|x| {
                    crate::alias::normalize_module(x) == crate::alias::normalize_module(&m.name)
                }) {
                    it.path = m.path.clone();
                }
            }
            continue;
        }
        items.push(Item {
            at: element_at(file, "modules", i, module_lines),
            modules: vec![m.name.clone()],
            path: m.path.clone(),
            ..Item::default()
        });
    }
    items
}

fn parse_lsmod(text: &str, file: &str, items: &mut Vec<Item>) -> Result<(), Error> {
    let mut header = true;
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if header {
            header = false;
            continue;
        }
        let lineno = n as u32 + 1;
        let w: Vec<&str> = l.split_whitespace().collect();
        let bad = || {
            Error::new(
                file,
                lineno,
                "expected `NAME SIZE USED [BY,...]` (lsmod output)",
            )
        };
        if w.len() < 3
            || w.len() > 4
            || !w[1].chars().all(|c| c.is_ascii_digit())
            || w[2].parse::<i64>().is_err()
        {
            return Err(bad());
        }
        validate::module_name(w[0]).map_err(|e| Error::new(file, lineno, e))?;
        if let Some(users) = w.get(3) {
            for u in users.split(',').filter(|u| !u.is_empty() && *u != "-") {
                // lsmod shows "[permanent]" for modules that cannot unload.
                if u.starts_with('[') {
                    continue;
                }
                validate::module_name(u).map_err(|e| Error::new(file, lineno, e))?;
            }
        }
        items.push(Item {
            at: format!("{file}:{lineno}"),
            modules: vec![w[0].to_string()],
            ..Item::default()
        });
    }
    Ok(())
}

/// `[vvvv:dddd]` at the end of an `lspci -nn` line (before `(rev xx)`),
/// and `[cccc]` after the class name.
fn nn_ids(desc: &str) -> (Option<String>, Option<String>, Option<String>) {
    let mut ids = (None, None, None);
    let mut rest = desc;
    while let Some(o) = rest.find('[') {
        let Some(c) = rest[o..].find(']') else { break };
        let inner = &rest[o + 1..o + c];
        if let Some((v, d)) = inner.split_once(':') {
            if let (Some(v), Some(d)) = (hex4(v), hex4(d)) {
                ids.0 = Some(v);
                ids.1 = Some(d);
            }
        } else if inner.len() == 4
            && inner.chars().all(|c| c.is_ascii_hexdigit())
            && ids.2.is_none()
        {
            ids.2 = Some(inner.to_ascii_lowercase());
        }
        rest = &rest[o + c + 1..];
    }
    ids
}

fn parse_lspci(text: &str, file: &str, items: &mut Vec<Item>) -> Result<(), Error> {
    for (n, line) in text.lines().enumerate() {
        let lineno = n as u32 + 1;
        let err = |m: String| Error::new(file, lineno, m);
        if line.trim().is_empty() || line.trim_start().starts_with('#') || line.trim() == "..." {
            continue;
        }
        if line.starts_with(|c: char| c.is_whitespace()) {
            // A detail line of the device above.
            let l = line.trim();
            let Some(it) = items.last_mut() else {
                return Err(err("a detail line before any device".into()));
            };
            if let Some(d) = l.strip_prefix("Kernel driver in use:") {
                let d = d.trim();
                validate::driver_name(d).map_err(err)?;
                it.driver = Some(d.to_string());
            } else if let Some(ms) = l.strip_prefix("Kernel modules:") {
                for m in ms.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                    validate::module_name(m).map_err(err)?;
                    it.modules.push(m.to_string());
                }
            } else {
                validate::text(l).map_err(err)?;
            }
            continue;
        }
        let (slot, rest) = line.split_once(' ').unwrap_or((line, ""));
        if !is_slot(slot) {
            return Err(err(format!(
                "expected a PCI slot (like 03:00.0) at the start of the line, found '{}'",
                validate::shorten(slot)
            ))
            .hint("lspci input must be the output of `lspci -k` (or `lspci -nnk`)"));
        }
        let rest = rest.trim();
        validate::text(rest).map_err(err)?;
        let mut dev = DeviceInfo {
            bus: "pci".into(),
            id: slot.to_string(),
            ..DeviceInfo::default()
        };
        let mut driver = None;
        // busybox: `Class 0300: 1002:1638 amdgpu`.
        if let Some(bb) = rest.strip_prefix("Class ") {
            let w: Vec<&str> = bb.split_whitespace().collect();
            let class = w.first().map(|c| c.trim_end_matches(':'));
            let ids = w.get(1).and_then(|x| x.split_once(':'));
            match (class, ids) {
                (Some(c), Some((v, d)))
                    if hex4(c).is_some() && hex4(v).is_some() && hex4(d).is_some() =>
                {
                    dev.class = hex4(c);
                    dev.vendor = hex4(v);
                    dev.device = hex4(d);
                }
                _ => {
                    return Err(err(
                        "expected `SLOT Class CCCC: VVVV:DDDD [DRIVER]` (busybox lspci -k)".into(),
                    ))
                }
            }
            if w.len() > 3 {
                return Err(err("unexpected words after the driver".into()));
            }
            if let Some(d) = w.get(2) {
                validate::driver_name(d).map_err(err)?;
                driver = Some(d.to_string());
            }
        } else {
            let (v, d, c) = nn_ids(rest);
            dev.vendor = v;
            dev.device = d;
            dev.class = c;
            dev.description = Some(rest.to_string());
        }
        items.push(Item {
            at: format!("{file}:{lineno}"),
            device: Some(dev),
            driver,
            ..Item::default()
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(detect("{\"schema_version\":1}"), Format::Report);
        assert_eq!(
            detect("Module                  Size  Used by\nnvme 1 0\n"),
            Format::Lsmod
        );
        assert_eq!(
            detect("03:00.0 Class 0300: 1002:1638 amdgpu\n"),
            Format::Lspci
        );
        assert_eq!(
            detect("0000:03:00.0 VGA compatible controller: AMD\n"),
            Format::Lspci
        );
        assert_eq!(detect("# my modules\nnvme\n"), Format::List);
    }

    #[test]
    fn full_lspci_form() {
        let text = "\
01:00.0 Network controller [0280]: Intel Corporation Wi-Fi 6 AX200 [8086:2723] (rev 1a)
\tSubsystem: Intel Corporation Wi-Fi 6 AX200NGW [8086:0084]
\tKernel driver in use: iwlwifi
\tKernel modules: iwlwifi
03:00.3 USB controller: Advanced Micro Devices, Inc. [AMD] Renoir/Cezanne USB 3.1
\tKernel driver in use: xhci_hcd
\tKernel modules: xhci_pci
";
        let i = parse(text, "l.txt").expect("parses");
        assert_eq!(i.items.len(), 2);
        let d = i.items[0].device.as_ref().expect("device");
        assert_eq!(
            (d.vendor.as_deref(), d.device.as_deref(), d.class.as_deref()),
            (Some("8086"), Some("2723"), Some("0280"))
        );
        assert_eq!(i.items[1].driver.as_deref(), Some("xhci_hcd"));
        assert_eq!(i.items[1].modules, vec!["xhci_pci".to_string()]);
    }

    #[test]
    fn malformed_lines_are_errors_with_a_line() {
        let e = parse("03:00.0 Class 0300: 1002:1638 amdgpu\nnot a slot\n", "l").expect_err("bad");
        assert_eq!((e.file.as_str(), e.line), ("l", 2), "{e}");
        let e = parse("03:00.0 Class 0300: 1002:1638 amd/gpu\n", "l").expect_err("bad");
        assert_eq!(e.line, 1);
        let e = parse("Module Size Used by\nnvme 12 x\n", "m").expect_err("bad");
        assert_eq!(e.line, 2, "{e}");
        let e = parse("nvme\n../../etc/passwd\n", "list").expect_err("bad");
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("list:2: error: module name"), "{e}");
        let e = parse("nvme\n\tKernel driver in use: x\n", "list").expect_err("bad");
        assert_eq!(e.line, 2);
    }

    #[test]
    fn report_elements_have_lines() {
        let text = "{\n  \"schema_version\": 1,\n  \"modules\": [],\n  \"devices\": [\n    {\n      \"bus\": \"pci\", \"id\": \"a[]{\\\"\"\n    },\n    {\"bus\": \"virtio\", \"id\": \"virtio0\", \"driver\": \"virtio_net\"}\n  ],\n  \"x\": {\"devices\": [1, 2]}\n}\n";
        assert_eq!(element_lines(text, "devices"), vec![5, 8]);
        assert!(element_lines(text, "modules").is_empty());
        let i = parse(text, "r.json").expect("parses");
        assert_eq!(i.items[0].at, "r.json:8 (devices[1])");
        // A field error names the line of its element.
        let bad = "{\"schema_version\": 1,\n\"devices\": [\n{\"bus\": \"pci\", \"id\": \"x\"},\n{\"bus\": \"pci\", \"id\": \"y\", \"modalias\": \"a b\"}\n]}";
        let e = parse(bad, "r.json").expect_err("bad modalias");
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.starts_with("devices[1].modalias"), "{e}");
    }

    #[test]
    fn lsmod() {
        let i = parse(
            "Module                  Size  Used by\nnvme                   61440  3\nnvme_core             200704  4 nvme\nintel_rapl 1 0 [permanent]\n",
            "lsmod.txt",
        )
        .expect("parses");
        let names: Vec<_> = i.items.iter().map(|x| x.modules[0].as_str()).collect();
        assert_eq!(names, ["nvme", "nvme_core", "intel_rapl"]);
        assert_eq!(i.items[1].at, "lsmod.txt:3");
    }
}
