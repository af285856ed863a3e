//! The probe report: what `ktailor probe` writes and `ktailor hw` reads.
//!
//! JSON with a `schema_version`; a reader accepts its own version and
//! older ones it knows, and rejects newer ones with a hint. Absent fields
//! mean "not known" (an unreadable DMI file is simply absent), never an
//! empty string. [`Report::from_json`] is the only way in from untrusted
//! bytes: it caps the size and validates every field.

use serde::{Deserialize, Serialize};

use crate::validate;
use crate::Error;

/// The report format version this build writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A machine's hardware as seen from `/sys` and `/proc`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// The format version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The running kernel's release (`uname -r`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// The machine architecture (`uname -m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// Devices on every bus under `/sys/bus/*/devices`.
    #[serde(default)]
    pub devices: Vec<Device>,
    /// Loaded modules (`/proc/modules`).
    #[serde(default)]
    pub modules: Vec<Module>,
    /// The CPU (`/proc/cpuinfo`, first processor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// DMI identification (`/sys/class/dmi/id`).
    #[serde(default)]
    pub dmi: Dmi,
    /// Filesystem types mounted (`/proc/mounts`).
    #[serde(default)]
    pub filesystems_mounted: Vec<String>,
    /// Filesystem types the kernel supports (`/proc/filesystems`).
    #[serde(default)]
    pub filesystems_supported: Vec<String>,
    /// Block devices (`/sys/block`).
    #[serde(default)]
    pub block_devices: Vec<NamedDevice>,
    /// Network interfaces (`/sys/class/net`).
    #[serde(default)]
    pub net_interfaces: Vec<NamedDevice>,
}

/// One device on a bus.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Device {
    /// The bus (`pci`, `usb`, `virtio`, ...).
    pub bus: String,
    /// The device's name on the bus (`0000:03:00.0`).
    pub id: String,
    /// The modalias the kernel matches drivers with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modalias: Option<String>,
    /// Vendor ID (hex, `0x8086`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Device/product ID (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Class (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The bound driver's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The module the bound driver lives in (absent when built in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Modules whose `modules.alias` patterns match the modalias, when the
    /// probed machine had a `modules.alias`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alias_matches: Vec<String>,
}

/// A loaded module.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Module {
    /// The module name as `/proc/modules` shows it.
    pub name: String,
    /// Modules using this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_by: Vec<String>,
    /// The module's path relative to `/lib/modules/RELEASE` (from
    /// modules.dep), which tells colliding basenames apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Firmware the module declares (modinfo), when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firmware: Vec<String>,
}

/// The CPU.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Cpu {
    /// `vendor_id` (x86) or `CPU implementer` (arm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// `cpu family`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `model name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// `flags` (x86) or `Features` (arm).
    #[serde(default)]
    pub flags: Vec<String>,
    /// How many processors `/proc/cpuinfo` lists.
    #[serde(default)]
    pub count: u32,
}

/// DMI identification; unreadable files are absent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Dmi {
    /// `sys_vendor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sys_vendor: Option<String>,
    /// `product_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// `board_vendor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_vendor: Option<String>,
    /// `board_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_name: Option<String>,
}

/// A block device or network interface with the driver behind it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NamedDevice {
    /// The name (`nvme0n1`, `eth0`).
    pub name: String,
    /// The driver of the underlying device, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

impl Report {
    /// Reads a report from untrusted bytes: size cap, JSON syntax (errors
    /// with line), schema version, then every field.
    pub fn from_json(bytes: &[u8], file: &str) -> Result<Report, Error> {
        if bytes.len() as u64 > validate::MAX_REPORT_BYTES {
            return Err(Error::new(
                file,
                0,
                format!(
                    "the report is larger than {} MiB",
                    validate::MAX_REPORT_BYTES >> 20
                ),
            ));
        }
        // Look at the version first, so that a newer report gets a
        // version error rather than a confusing field error.
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::new(file, e.line() as u32, format!("malformed JSON: {e}")))?;
        match v.get("schema_version").and_then(|x| x.as_u64()) {
            None => {
                return Err(Error::new(file, 1, "the report has no schema_version")
                    .hint("write reports with `ktailor probe`"))
            }
            Some(n) if n > SCHEMA_VERSION as u64 || n == 0 => {
                return Err(Error::new(
                    file,
                    1,
                    format!(
                        "unsupported schema_version {n} (this ktailor reads 1 to {SCHEMA_VERSION})"
                    ),
                )
                .hint("use a newer ktailor to read this report"))
            }
            Some(_) => {}
        }
        let r: Report = serde_json::from_value(v)
            .map_err(|e| Error::new(file, 0, format!("invalid report: {e}")))?;
        r.validate().map_err(|m| Error::new(file, 0, m))?;
        Ok(r)
    }

    /// Checks every field; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        use validate::*;
        let lists = [
            ("devices", self.devices.len()),
            ("modules", self.modules.len()),
            ("filesystems_mounted", self.filesystems_mounted.len()),
            ("filesystems_supported", self.filesystems_supported.len()),
            ("block_devices", self.block_devices.len()),
            ("net_interfaces", self.net_interfaces.len()),
        ];
        for (name, n) in lists {
            if n > MAX_ITEMS {
                return Err(format!("{name}: more than {MAX_ITEMS} entries"));
            }
        }
        let opt = |what: &str, v: &Option<String>, f: fn(&str) -> Result<(), String>| {
            v.as_deref()
                .map_or(Ok(()), f)
                .map_err(|e| format!("{what}: {e}"))
        };
        opt("kernel_release", &self.kernel_release, text)?;
        opt("machine", &self.machine, text)?;
        for (i, d) in self.devices.iter().enumerate() {
            let at = |f: &str| format!("devices[{i}].{f}");
            text(&d.bus).map_err(|e| format!("{}: {e}", at("bus")))?;
            text(&d.id).map_err(|e| format!("{}: {e}", at("id")))?;
            opt(&at("modalias"), &d.modalias, modalias)?;
            opt(&at("vendor"), &d.vendor, hex_id)?;
            opt(&at("device"), &d.device, hex_id)?;
            opt(&at("class"), &d.class, hex_id)?;
            opt(&at("driver"), &d.driver, driver_name)?;
            opt(&at("module"), &d.module, module_name)?;
            if d.alias_matches.len() > 1000 {
                return Err(format!("{}: more than 1000 entries", at("alias_matches")));
            }
            for m in &d.alias_matches {
                module_name(m).map_err(|e| format!("{}: {e}", at("alias_matches")))?;
            }
        }
        for (i, m) in self.modules.iter().enumerate() {
            let at = |f: &str| format!("modules[{i}].{f}");
            module_name(&m.name).map_err(|e| format!("{}: {e}", at("name")))?;
            if m.used_by.len() > 10_000 || m.firmware.len() > 10_000 {
                return Err(format!("{}: too many entries", at("used_by/firmware")));
            }
            for u in &m.used_by {
                module_name(u).map_err(|e| format!("{}: {e}", at("used_by")))?;
            }
            opt(&at("path"), &m.path, module_path)?;
            for f in &m.firmware {
                firmware_name(f).map_err(|e| format!("{}: {e}", at("firmware")))?;
            }
        }
        if let Some(c) = &self.cpu {
            opt("cpu.vendor", &c.vendor, text)?;
            opt("cpu.family", &c.family, text)?;
            opt("cpu.model", &c.model, text)?;
            opt("cpu.model_name", &c.model_name, text)?;
            if c.flags.len() > 10_000 {
                return Err("cpu.flags: too many entries".into());
            }
            for f in &c.flags {
                text(f).map_err(|e| format!("cpu.flags: {e}"))?;
            }
        }
        opt("dmi.sys_vendor", &self.dmi.sys_vendor, text)?;
        opt("dmi.product_name", &self.dmi.product_name, text)?;
        opt("dmi.board_vendor", &self.dmi.board_vendor, text)?;
        opt("dmi.board_name", &self.dmi.board_name, text)?;
        for f in self
            .filesystems_mounted
            .iter()
            .chain(&self.filesystems_supported)
        {
            text(f).map_err(|e| format!("filesystems: {e}"))?;
        }
        for d in self.block_devices.iter().chain(&self.net_interfaces) {
            text(&d.name).map_err(|e| format!("block_devices/net_interfaces: {e}"))?;
            opt(
                "block_devices/net_interfaces driver",
                &d.driver,
                driver_name,
            )?;
        }
        Ok(())
    }
}

/// A module's path relative to `/lib/modules/RELEASE` (`kernel/drivers/
/// nvme/host/nvme.ko`): relative, no `..`, a conservative charset.
pub fn module_path(s: &str) -> Result<(), String> {
    validate::text(s)?;
    if s.starts_with('/') || s.split('/').any(|c| c == ".." || c.is_empty()) {
        return Err(format!(
            "module path '{}' is absolute or has '..'",
            validate::shorten(s)
        ));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./+,".contains(c))
    {
        return Err(format!(
            "module path '{}' has unexpected characters",
            validate::shorten(s)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = Report {
            schema_version: SCHEMA_VERSION,
            devices: vec![Device {
                bus: "pci".into(),
                id: "0000:00:02.0".into(),
                modalias: Some("pci:v00001AF4d00001042sv00001AF4sd00001042bc01sc80i00".into()),
                driver: Some("virtio-pci".into()),
                ..Device::default()
            }],
            ..Report::default()
        };
        let j = serde_json::to_vec(&r).expect("json");
        assert_eq!(Report::from_json(&j, "r.json"), Ok(r));
    }

    #[test]
    fn malformed_json_has_a_line() {
        let e = Report::from_json(b"{\n\"schema_version\": 1,\n\"devices\": [,]\n}", "r.json")
            .expect_err("malformed");
        assert_eq!((e.file.as_str(), e.line), ("r.json", 3), "{e}");
        assert!(e.message.contains("malformed JSON"), "{e}");
    }

    #[test]
    fn versions() {
        let e = Report::from_json(b"{\"devices\": []}", "r").expect_err("no version");
        assert!(e.message.contains("no schema_version"), "{e}");
        let e = Report::from_json(b"{\"schema_version\": 99}", "r").expect_err("newer");
        assert!(e.message.contains("unsupported schema_version 99"), "{e}");
    }

    #[test]
    fn bad_fields_are_rejected() {
        let cases = [
            (
                r#"{"schema_version":1,"modules":[{"name":"../x"}]}"#,
                "modules[0].name",
            ),
            (
                r#"{"schema_version":1,"devices":[{"bus":"pci","id":"x","modalias":"a b"}]}"#,
                "devices[0].modalias",
            ),
            (
                r#"{"schema_version":1,"modules":[{"name":"iwlwifi","firmware":["../../etc/shadow"]}]}"#,
                "modules[0].firmware",
            ),
            (
                r#"{"schema_version":1,"modules":[{"name":"x","path":"/etc/x.ko"}]}"#,
                "modules[0].path",
            ),
        ];
        for (json, field) in cases {
            let e = Report::from_json(json.as_bytes(), "r").expect_err(json);
            assert!(e.message.contains(field), "{json}: {e}");
        }
        let long = format!(
            r#"{{"schema_version":1,"cpu":{{"model_name":"{}"}}}}"#,
            "x".repeat(10_000)
        );
        let e = Report::from_json(long.as_bytes(), "r").expect_err("long");
        assert!(e.message.contains("cpu.model_name: field longer"), "{e}");
    }
}
