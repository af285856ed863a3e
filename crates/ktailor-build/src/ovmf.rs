//! UEFI firmware for EFI boot tests: finding OVMF (Debian's `ovmf`
//! package: a read-only code image and a template of the variable store),
//! and writing a boot entry into a copy of the variable store.
//!
//! Why a boot entry: firmware starts `EFI/BOOT/BOOTX64.EFI` from a disk
//! with no command line at all, and a boot test must hand the kernel
//! per-boot parameters (the checks, a fresh token for the 9p share). On
//! real machines those go into the UEFI boot entry (`efibootmgr
//! --unicode`); here the entry is written straight into the variable store
//! file QEMU maps as the firmware's flash, before QEMU starts:
//!
//! - `Boot####`: an `EFI_LOAD_OPTION` (UEFI spec 3.1.3) — attributes
//!   (`LOAD_OPTION_ACTIVE`), the length of the device path, a UCS-2
//!   description, the device path, and the optional data the firmware
//!   passes to the image as its load options (the kernel's command line,
//!   UCS-2). The device path is the short form that is only a file path
//!   (`\EFI\BOOT\BOOTX64.EFI`), which firmware expands by searching every
//!   file system (UEFI spec 3.1.2; edk2's boot manager does).
//! - `BootOrder`: that entry first.
//!
//! The store format is edk2's (MdeModulePkg's VariableFormat.h): a
//! firmware volume header (`_FVH` at 40, its length at 48), a variable
//! store header (the format GUID, size, `0x5a` formatted, `0xfe` healthy),
//! then variables from the next 4-byte boundary, each a header
//! (`0x55aa`, state, attributes, [authenticated: monotonic count, time
//! stamp, key index], name size, data size, vendor GUID), the UCS-2 name
//! and the data, the next one 4-byte aligned; free space is `0xff`. A
//! variable replaced here is marked deleted (state bit cleared), as the
//! firmware's own driver does.
//!
//! Not here: running QEMU (see `qemu`).

use std::path::{Path, PathBuf};

use ktailor_kconfig::Diagnostic;

use crate::err;

/// Debian's OVMF files, preferred first: (code, variable store template).
pub const OVMF_PAIRS: [(&str, &str); 2] = [
    (
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ),
];

/// The firmware files of an EFI boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firmware {
    /// The code image (mapped read-only).
    pub code: PathBuf,
    /// The variable store template (copied for every boot, never written).
    pub vars: PathBuf,
}

/// The firmware files: both given, or Debian's.
pub fn find(code: Option<&Path>, vars: Option<&Path>) -> Result<Firmware, Diagnostic> {
    let pair = match (code, vars) {
        (Some(c), Some(v)) => Firmware {
            code: c.to_path_buf(),
            vars: v.to_path_buf(),
        },
        (None, None) => {
            let found = OVMF_PAIRS
                .iter()
                .find(|(c, v)| Path::new(c).is_file() && Path::new(v).is_file());
            match found {
                Some((c, v)) => Firmware {
                    code: PathBuf::from(c),
                    vars: PathBuf::from(v),
                },
                None => {
                    return Err(err(format!(
                        "cannot find the OVMF firmware ({} and {})",
                        OVMF_PAIRS[0].0, OVMF_PAIRS[0].1
                    ))
                    .with_hint(
                        "install it: apt-get install ovmf (or give --ovmf-code and --ovmf-vars)",
                    ))
                }
            }
        }
        _ => return Err(err(
            "--ovmf-code and --ovmf-vars go together: the variable store must match the code image",
        )),
    };
    for (p, what) in [
        (&pair.code, "OVMF code image"),
        (&pair.vars, "OVMF variable store"),
    ] {
        if !p.is_file() {
            return Err(err(format!("the {what} {} does not exist", p.display()))
                .with_hint("install OVMF: apt-get install ovmf"));
        }
    }
    Ok(pair)
}

/// `EFI_GLOBAL_VARIABLE` (8be4df61-93ca-11d2-aa0d-00e098032b8c), as stored.
pub const GLOBAL_VARIABLE: [u8; 16] = [
    0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c,
];
/// The format GUID of an authenticated variable store
/// (aaf32c78-947b-439a-a180-2e144ec37792).
const AUTH_STORE: [u8; 16] = [
    0x78, 0x2c, 0xf3, 0xaa, 0x7b, 0x94, 0x9a, 0x43, 0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92,
];
/// The format GUID of a plain variable store
/// (ddcf3616-3275-4164-98b6-fe85707ffe7d).
const PLAIN_STORE: [u8; 16] = [
    0x16, 0x36, 0xcf, 0xdd, 0x75, 0x32, 0x64, 0x41, 0x98, 0xb6, 0xfe, 0x85, 0x70, 0x7f, 0xfe, 0x7d,
];

/// Non-volatile, boot-service and runtime access: how boot entries are
/// stored.
pub const NV_BS_RT: u32 = 0x7;
const START_ID: u16 = 0x55aa;
const VAR_ADDED: u8 = 0x3f;
const VAR_DELETED_BIT: u8 = 0x02;

/// UCS-2, NUL-terminated (what UEFI calls a CHAR16 string).
pub fn ucs2(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// An `EFI_LOAD_OPTION` that starts `path` (e.g. `\EFI\BOOT\BOOTX64.EFI`)
/// on whichever file system holds it, with `options` as its load options.
pub fn load_option(description: &str, path: &str, options: &str) -> Vec<u8> {
    let file = ucs2(path);
    let mut dp = vec![0x04, 0x04]; // media device path, file path
    dp.extend_from_slice(&((4 + file.len()) as u16).to_le_bytes());
    dp.extend_from_slice(&file);
    dp.extend_from_slice(&[0x7f, 0xff, 0x04, 0x00]); // end of the device path
    let mut o = Vec::new();
    o.extend_from_slice(&1u32.to_le_bytes()); // LOAD_OPTION_ACTIVE
    o.extend_from_slice(&(dp.len() as u16).to_le_bytes());
    o.extend_from_slice(&ucs2(description));
    o.extend_from_slice(&dp);
    o.extend_from_slice(&ucs2(options));
    o
}

/// One variable of a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub guid: [u8; 16],
    pub attributes: u32,
    pub state: u8,
    pub data: Vec<u8>,
    /// Offset of its header in the file.
    pub offset: usize,
}

impl Variable {
    /// Added and not deleted: what the firmware sees.
    pub fn live(&self) -> bool {
        self.state == VAR_ADDED
    }
}

/// A parsed store: where variables start and end, and its format.
struct Store {
    authenticated: bool,
    /// First variable.
    start: usize,
    /// End of the variable area.
    end: usize,
}

fn rd16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?]))
}
fn rd32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from(rd16(b, o)?) | (u32::from(rd16(b, o + 2)?) << 16))
}

fn store(fd: &[u8]) -> Result<Store, String> {
    if fd.get(40..44) != Some(b"_FVH") {
        return Err("not a firmware volume (no _FVH signature at 40)".into());
    }
    let hl = usize::from(rd16(fd, 48).ok_or("the firmware volume header is cut short")?);
    let guid = fd.get(hl..hl + 16).ok_or("no variable store header")?;
    let authenticated = if guid == AUTH_STORE {
        true
    } else if guid == PLAIN_STORE {
        false
    } else {
        return Err("the firmware volume holds no edk2 variable store".into());
    };
    let size = rd32(fd, hl + 16).ok_or("the variable store header is cut short")? as usize;
    if fd.get(hl + 20) != Some(&0x5a) || fd.get(hl + 21) != Some(&0xfe) {
        return Err("the variable store is not formatted and healthy".into());
    }
    let end = hl + size;
    if end > fd.len() {
        return Err(format!(
            "the variable store claims {size} bytes, past the end of the file"
        ));
    }
    Ok(Store {
        authenticated,
        start: (hl + 28).next_multiple_of(4),
        end,
    })
}

impl Store {
    fn header_len(&self) -> usize {
        if self.authenticated {
            60
        } else {
            32
        }
    }
    /// (name size, data size, guid offset) fields of a header at `o`.
    fn fields(&self, o: usize) -> (usize, usize, usize) {
        if self.authenticated {
            (o + 36, o + 40, o + 44)
        } else {
            (o + 8, o + 12, o + 16)
        }
    }
}

/// The variables in a store, deleted ones included, and where free space
/// starts.
fn walk(fd: &[u8], s: &Store) -> Result<(Vec<Variable>, usize), String> {
    let mut vars = Vec::new();
    let mut o = s.start;
    while o + s.header_len() <= s.end && rd16(fd, o) == Some(START_ID) {
        let (ns, ds, g) = s.fields(o);
        let cut = || format!("the variable at {o:#x} is cut short");
        let name_len = rd32(fd, ns).ok_or_else(cut)? as usize;
        let data_len = rd32(fd, ds).ok_or_else(cut)? as usize;
        let name_at = o + s.header_len();
        let data_at = name_at + name_len;
        let next = data_at + data_len;
        if next > s.end {
            return Err(cut());
        }
        let name: Vec<u16> = fd[name_at..data_at]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&c| c != 0)
            .collect();
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&fd[g..g + 16]);
        vars.push(Variable {
            name: String::from_utf16_lossy(&name),
            guid,
            attributes: rd32(fd, o + 4).ok_or_else(cut)?,
            state: fd[o + 2],
            data: fd[data_at..next].to_vec(),
            offset: o,
        });
        o = next.next_multiple_of(4);
    }
    Ok((vars, o.min(s.end)))
}

/// Every variable in a variable store file (for tests and reports).
pub fn variables(fd: &[u8]) -> Result<Vec<Variable>, String> {
    let s = store(fd)?;
    Ok(walk(fd, &s)?.0)
}

/// Sets (adds, or replaces) variables in a store file image.
pub fn set_variables(fd: &mut [u8], vars: &[(&str, [u8; 16], u32, &[u8])]) -> Result<(), String> {
    let s = store(fd)?;
    let (old, mut free) = walk(fd, &s)?;
    for (name, guid, _, _) in vars {
        for v in old
            .iter()
            .filter(|v| v.live() && v.name == *name && v.guid == *guid)
        {
            fd[v.offset + 2] &= !VAR_DELETED_BIT;
        }
    }
    for (name, guid, attributes, data) in vars {
        let name16 = ucs2(name);
        let len = s.header_len() + name16.len() + data.len();
        let next = (free + len).next_multiple_of(4);
        if next > s.end || fd[free..next].iter().any(|&c| c != 0xff) {
            return Err(format!(
                "no free space for the variable {name} in the variable store"
            ));
        }
        let h = &mut fd[free..free + s.header_len()];
        h.fill(0);
        h[0..2].copy_from_slice(&START_ID.to_le_bytes());
        h[2] = VAR_ADDED;
        h[4..8].copy_from_slice(&attributes.to_le_bytes());
        let (ns, ds, g) = s.fields(0);
        h[ns..ns + 4].copy_from_slice(&(name16.len() as u32).to_le_bytes());
        h[ds..ds + 4].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[g..g + 16].copy_from_slice(guid);
        let name_at = free + s.header_len();
        fd[name_at..name_at + name16.len()].copy_from_slice(&name16);
        let data_at = name_at + name16.len();
        fd[data_at..data_at + data.len()].copy_from_slice(data);
        free = next;
    }
    Ok(())
}

/// Makes boot entry `number` (`Boot####`) the first thing the firmware
/// boots: writes it and a `BootOrder` that lists only it (the firmware
/// appends the entries it creates itself).
pub fn set_boot_entry(fd: &mut [u8], number: u16, load_option: &[u8]) -> Result<(), String> {
    let name = format!("Boot{number:04X}");
    set_variables(
        fd,
        &[
            (name.as_str(), GLOBAL_VARIABLE, NV_BS_RT, load_option),
            (
                "BootOrder",
                GLOBAL_VARIABLE,
                NV_BS_RT,
                &number.to_le_bytes(),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty store in the shape of Debian's OVMF_VARS.fd.
    fn empty_store(authenticated: bool) -> Vec<u8> {
        let mut fd = vec![0u8; 0x4000];
        fd[40..44].copy_from_slice(b"_FVH");
        fd[48..50].copy_from_slice(&72u16.to_le_bytes());
        let hl = 72;
        fd[hl..hl + 16].copy_from_slice(if authenticated {
            &AUTH_STORE
        } else {
            &PLAIN_STORE
        });
        fd[hl + 16..hl + 20].copy_from_slice(&0x2000u32.to_le_bytes());
        fd[hl + 20] = 0x5a;
        fd[hl + 21] = 0xfe;
        fd[hl + 28..].fill(0xff);
        fd
    }

    #[test]
    fn load_option_layout() {
        let o = load_option("k", "\\A", "x y");
        // attributes, path length (file node 4 + "\A\0" 6, end node 4)
        assert_eq!(&o[..6], &[1, 0, 0, 0, 14, 0]);
        assert_eq!(&o[6..10], &ucs2("k")[..]);
        assert_eq!(&o[10..14], &[4, 4, 10, 0]);
        assert_eq!(&o[14..20], &ucs2("\\A")[..]);
        assert_eq!(&o[20..24], &[0x7f, 0xff, 4, 0]);
        assert_eq!(&o[24..], &ucs2("x y")[..]);
    }

    #[test]
    fn boot_entry_round_trip() {
        for auth in [true, false] {
            let mut fd = empty_store(auth);
            let opt = load_option("ktailor", "\\EFI\\BOOT\\BOOTX64.EFI", "a=1");
            set_boot_entry(&mut fd, 1, &opt).expect("set");
            let v = variables(&fd).expect("read");
            assert_eq!(v.len(), 2);
            assert_eq!(v[0].name, "Boot0001");
            assert_eq!(v[0].data, opt);
            assert_eq!(v[0].attributes, NV_BS_RT);
            assert_eq!(v[0].guid, GLOBAL_VARIABLE);
            assert!(v[0].live());
            assert_eq!(v[1].name, "BootOrder");
            assert_eq!(v[1].data, [1, 0]);
            assert_eq!(v[0].offset, 100);
            assert_eq!(v[1].offset % 4, 0);
            // Setting it again deletes the old copies.
            set_boot_entry(&mut fd, 1, &opt).expect("set again");
            let v = variables(&fd).expect("read");
            assert_eq!(v.len(), 4);
            assert_eq!(v.iter().filter(|v| v.live()).count(), 2);
            assert!(!v[0].live() && !v[1].live());
        }
    }

    #[test]
    fn bad_stores_are_errors() {
        let e = set_boot_entry(&mut [0u8; 100], 1, b"x").expect_err("not FV");
        assert!(e.contains("_FVH"), "{e}");
        let mut fd = empty_store(true);
        fd[72] ^= 1;
        let e = set_boot_entry(&mut fd, 1, b"x").expect_err("guid");
        assert!(e.contains("no edk2 variable store"), "{e}");
        let mut fd = empty_store(true);
        let big = vec![0u8; 0x3000];
        let e = set_boot_entry(&mut fd, 1, &big).expect_err("full");
        assert!(e.contains("no free space"), "{e}");
    }

    #[test]
    fn finding_firmware() {
        let e = find(Some(Path::new("/nonexistent/CODE.fd")), None).expect_err("one of two");
        assert!(e.message.contains("go together"), "{}", e.message);
        let e = find(
            Some(Path::new("/nonexistent/CODE.fd")),
            Some(Path::new("/nonexistent/VARS.fd")),
        )
        .expect_err("missing");
        assert!(
            e.message.contains("/nonexistent/CODE.fd does not exist"),
            "{}",
            e.message
        );
    }
}
