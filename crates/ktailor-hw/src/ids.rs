//! Vendor and device names from the `pci.ids` and `usb.ids` databases
//! (packages `pci.ids`/`pciutils`, `usbutils`, `hwdata`), when the system
//! has them. Optional: without the files devices are shown by ID.
//!
//! The format: `vvvv  Vendor name`, then `\tdddd  Device name` lines for
//! that vendor (deeper levels and the class section are skipped).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Names by (vendor) and (vendor, device), IDs lower-case hex.
#[derive(Clone, Debug, Default)]
pub struct Ids {
    vendors: HashMap<String, String>,
    devices: HashMap<(String, String), String>,
}

/// Where distributions install the databases.
const DIRS: &[&str] = &["/usr/share/misc", "/usr/share/hwdata", "/usr/share"];

/// Finds `name` (`pci.ids`, `usb.ids`) in the usual places.
pub fn find(name: &str) -> Option<PathBuf> {
    DIRS.iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

impl Ids {
    /// Parses an ids file's text.
    pub fn parse(text: &str) -> Ids {
        let mut ids = Ids::default();
        let mut vendor: Option<String> = None;
        for l in text.lines() {
            if l.starts_with('#') || l.trim().is_empty() {
                continue;
            }
            if l.starts_with("C ") {
                // The class section ends the vendor list.
                break;
            }
            let is_hex4 = |s: &str| s.len() == 4 && s.chars().all(|c| c.is_ascii_hexdigit());
            if let Some(rest) = l.strip_prefix('\t') {
                if rest.starts_with('\t') {
                    continue;
                }
                if let (Some(v), Some((id, name))) = (&vendor, rest.split_once("  ")) {
                    if is_hex4(id) {
                        ids.devices
                            .insert((v.clone(), id.to_ascii_lowercase()), name.trim().into());
                    }
                }
            } else if let Some((id, name)) = l.split_once("  ") {
                if is_hex4(id) {
                    let id = id.to_ascii_lowercase();
                    ids.vendors.insert(id.clone(), name.trim().into());
                    vendor = Some(id);
                } else {
                    vendor = None;
                }
            }
        }
        ids
    }

    /// Loads a database file, if present and readable.
    pub fn load(name: &str) -> Option<Ids> {
        let text = std::fs::read(find(name)?).ok()?;
        Some(Ids::parse(&String::from_utf8_lossy(&text)))
    }

    /// "Vendor Device" for IDs, as much as is known.
    pub fn name(&self, vendor: &str, device: &str) -> Option<String> {
        let v = self.vendors.get(vendor)?;
        Some(
            match self.devices.get(&(vendor.to_string(), device.to_string())) {
                Some(d) => format!("{v} {d}"),
                None => v.clone(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let ids = Ids::parse("# c\n8086  Intel Corporation\n\t2723  Wi-Fi 6 AX200\n\t\t8086 0084  Wi-Fi 6 AX200NGW\n1022  Advanced Micro Devices, Inc. [AMD]\nC 00  Unclassified device\n\t00  Non-VGA\n");
        assert_eq!(
            ids.name("8086", "2723").as_deref(),
            Some("Intel Corporation Wi-Fi 6 AX200")
        );
        assert_eq!(
            ids.name("1022", "1639").as_deref(),
            Some("Advanced Micro Devices, Inc. [AMD]")
        );
        assert_eq!(ids.name("ffff", "0000"), None);
    }
}
