//! Device classes: what kind of hardware a device is (network, storage,
//! display, ...), from what the bus itself says about it.
//!
//! A kernel that needs only some of a machine's hardware (a preboot
//! kernel wants its NICs and disks, not its GPU) selects devices by class.
//! The class is read from the device's own identification, never from
//! its driver:
//!
//! | bus | read from | classes |
//! |---|---|---|
//! | `pci` | the class code's base class (`0x020000` → `02`) | `01` storage, `02` network, `03` display, `04` multimedia, `05` memory, `06` bridge, `07` communication, `08` system, `09` input, `0c03` usb, other `0c` serial-bus, `0d` wireless, `10` crypto, `11` signal-processing, `12` accelerator |
//! | `virtio` | the device ID of the modalias (`virtio:d00000001v...`) | 1 network, 2 storage (block), 3 communication (console), 4 crypto (entropy), 5 memory (balloon), 8 storage (SCSI), 9 filesystem (9P), 16 display (GPU), 18 input, 19 network (vsock), 20 crypto, 26 filesystem (virtiofs) |
//! | `usb` | the interface class of the modalias (`...ic08isc06...`) | `01` multimedia (audio), `02`/`0a` network (CDC), `03` input (HID), `08` storage, `09` usb (hub), `0e` multimedia (video), `e0` wireless |
//! | `scsi` | the device type of the modalias (`scsi:t-0x00`) | 0 (disk), 5 (CD/DVD), 7 (optical), 14 (RBC) storage |
//!
//! Devices of other buses (platform, ACPI, PnP, serio, ...) have no class:
//! they are selected only when every device is.

/// The class names, in the order documented above.
pub const CLASSES: &[&str] = &[
    "storage",
    "network",
    "display",
    "multimedia",
    "memory",
    "bridge",
    "communication",
    "system",
    "input",
    "usb",
    "serial-bus",
    "wireless",
    "crypto",
    "signal-processing",
    "accelerator",
    "filesystem",
];

/// Whether `name` is a class name.
pub fn is_class(name: &str) -> bool {
    CLASSES.contains(&name)
}

/// Hex digits of an ID with an optional `0x`, lower case.
fn hex(s: &str) -> Option<String> {
    let h = s.trim().trim_start_matches("0x").trim_start_matches("0X");
    (!h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit())).then(|| h.to_ascii_lowercase())
}

/// A PCI class code: `0x020000` (sysfs, base-sub-interface) or `0200`
/// (lspci, base-sub).
fn pci(class: &str) -> Option<&'static str> {
    let h = hex(class)?;
    let full = match h.len() {
        // Leading zeros are dropped by nobody, but be lenient.
        5 | 6 => format!("{h:0>6}"),
        3 | 4 => format!("{h:0>4}00"),
        _ => return None,
    };
    let base = &full[0..2];
    let sub = &full[2..4];
    Some(match base {
        "01" => "storage",
        "02" => "network",
        "03" => "display",
        "04" => "multimedia",
        "05" => "memory",
        "06" => "bridge",
        "07" => "communication",
        "08" => "system",
        "09" => "input",
        "0c" if sub == "03" => "usb",
        "0c" => "serial-bus",
        "0d" => "wireless",
        "10" => "crypto",
        "11" => "signal-processing",
        "12" => "accelerator",
        _ => return None,
    })
}

/// The hex digits after `tag` in a modalias (`d00000001v...` → `00000001`).
fn field<'a>(modalias: &'a str, tag: &str) -> Option<&'a str> {
    let at = modalias.find(tag)? + tag.len();
    let rest = &modalias[at..];
    let end = rest
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

fn virtio(modalias: &str) -> Option<&'static str> {
    let body = modalias.strip_prefix("virtio:")?;
    let id = u32::from_str_radix(field(body, "d")?, 16).ok()?;
    Some(match id {
        1 | 19 => "network",
        2 | 8 => "storage",
        3 => "communication",
        4 | 20 => "crypto",
        5 => "memory",
        9 | 26 => "filesystem",
        16 => "display",
        18 => "input",
        _ => return None,
    })
}

fn usb(modalias: &str) -> Option<&'static str> {
    let body = modalias.strip_prefix("usb:")?;
    // `ic` is the interface class; `dc` (device class) only when the
    // device has no interface (a device node, not an interface node).
    let ic = field(body, "ic")?;
    Some(match ic.to_ascii_lowercase().as_str() {
        "01" | "0e" => "multimedia",
        "02" | "0a" => "network",
        "03" => "input",
        "08" => "storage",
        "09" => "usb",
        "e0" => "wireless",
        _ => return None,
    })
}

fn scsi(modalias: &str) -> Option<&'static str> {
    let t = modalias.strip_prefix("scsi:t-0x")?;
    let end = t.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(t.len());
    match u32::from_str_radix(&t[..end], 16).ok()? {
        0 | 5 | 7 | 14 => Some("storage"),
        _ => None,
    }
}

/// The class of a device, from its bus, class code and modalias.
pub fn of(bus: &str, class: Option<&str>, modalias: Option<&str>) -> Option<&'static str> {
    match bus {
        "pci" => pci(class?),
        "virtio" => virtio(modalias?),
        "usb" => usb(modalias?),
        "scsi" => scsi(modalias?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_by_bus() {
        // sysfs and lspci spellings of a PCI class code.
        assert_eq!(of("pci", Some("0x020000"), None), Some("network"));
        assert_eq!(of("pci", Some("0x010802"), None), Some("storage"));
        assert_eq!(of("pci", Some("0280"), None), Some("network"));
        assert_eq!(of("pci", Some("0x0c0330"), None), Some("usb"));
        assert_eq!(of("pci", Some("0x0c0500"), None), Some("serial-bus"));
        assert_eq!(of("pci", Some("0x060100"), None), Some("bridge"));
        assert_eq!(of("pci", Some("0xff0000"), None), None);
        assert_eq!(of("pci", None, Some("pci:v00008086")), None);
        assert_eq!(
            of("virtio", None, Some("virtio:d00000001v00001AF4")),
            Some("network")
        );
        assert_eq!(
            of("virtio", None, Some("virtio:d00000002v00001AF4")),
            Some("storage")
        );
        assert_eq!(
            of(
                "usb",
                None,
                Some("usb:v0781p5581d0100dc00dsc00dp00ic08isc06ip50in00")
            ),
            Some("storage")
        );
        assert_eq!(of("scsi", None, Some("scsi:t-0x00")), Some("storage"));
        assert_eq!(of("scsi", None, Some("scsi:t-0x0d")), None);
        assert_eq!(of("platform", None, Some("platform:serial8250")), None);
        assert!(CLASSES.iter().all(|c| is_class(c)));
    }
}
