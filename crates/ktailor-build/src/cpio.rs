//! The "newc" cpio format the kernel unpacks into its initial root
//! (Documentation/driver-api/early-userspace/buffer-format.rst; the
//! kernel's reader is init/initramfs.c).
//!
//! Each entry is a 110-byte ASCII header — the magic `070701` and thirteen
//! 8-digit hex fields (ino, mode, uid, gid, nlink, mtime, filesize,
//! devmajor, devminor, rdevmajor, rdevminor, namesize, check) — then the
//! NUL-terminated name, padded to a multiple of 4, then the data, padded to
//! a multiple of 4. The archive ends with an entry named `TRAILER!!!`.
//!
//! The writer is deterministic: entries in the order given, inode numbers
//! counted from 1, mtime 0, uid/gid 0, so the same contents give the same
//! bytes (and make an unchanged initramfs keep its mtime). The reader
//! exists to test the writer and to inspect archives; it is not a general
//! cpio implementation (no hard links, no CRC format).

use std::fmt::Write as _;

/// File type bits of `mode` (as in `st_mode`).
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;

const MAGIC: &str = "070701";
const HEADER_LEN: usize = 110;
const TRAILER: &str = "TRAILER!!!";

/// One archive member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The path inside the archive, without a leading `/` (`dev/console`).
    pub name: String,
    /// `st_mode`: type bits and permissions.
    pub mode: u32,
    /// File contents, or a symlink's target.
    pub data: Vec<u8>,
    /// `(major, minor)` of a device node.
    pub rdev: (u32, u32),
}

impl Entry {
    pub fn dir(name: &str, perm: u32) -> Entry {
        Entry::new(name, S_IFDIR | perm, Vec::new())
    }
    pub fn file(name: &str, perm: u32, data: Vec<u8>) -> Entry {
        Entry::new(name, S_IFREG | perm, data)
    }
    pub fn symlink(name: &str, target: &str) -> Entry {
        Entry::new(name, S_IFLNK | 0o777, target.as_bytes().to_vec())
    }
    pub fn char_dev(name: &str, perm: u32, major: u32, minor: u32) -> Entry {
        Entry {
            rdev: (major, minor),
            ..Entry::new(name, S_IFCHR | perm, Vec::new())
        }
    }
    fn new(name: &str, mode: u32, data: Vec<u8>) -> Entry {
        Entry {
            name: name.trim_start_matches('/').to_string(),
            mode,
            data,
            rdev: (0, 0),
        }
    }
}

fn pad4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

fn header(out: &mut Vec<u8>, ino: u32, e: &Entry, namesize: usize) -> Result<(), String> {
    let filesize = u32::try_from(e.data.len())
        .map_err(|_| format!("{}: {} bytes is too large for cpio", e.name, e.data.len()))?;
    let namesize = u32::try_from(namesize).map_err(|_| format!("{}: name too long", e.name))?;
    let nlink = if e.mode & 0o170000 == S_IFDIR { 2 } else { 1 };
    let mut h = String::with_capacity(HEADER_LEN);
    h.push_str(MAGIC);
    for v in [
        ino, e.mode, 0, 0, nlink, 0, filesize, 0, 0, e.rdev.0, e.rdev.1, namesize, 0,
    ] {
        let _ = write!(h, "{v:08x}");
    }
    out.extend_from_slice(h.as_bytes());
    Ok(())
}

/// Writes entries as a newc archive (uncompressed). Names must be unique,
/// non-empty and contain no NUL; a name's parent directories must come
/// before it (the kernel does not create them).
pub fn write(entries: &[Entry]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, e) in entries.iter().enumerate() {
        if e.name.is_empty() || e.name.contains('\0') || e.name == TRAILER {
            return Err(format!("invalid cpio member name '{}'", e.name));
        }
        if !seen.insert(e.name.as_str()) {
            return Err(format!("duplicate cpio member '{}'", e.name));
        }
        if let Some((parent, _)) = e.name.rsplit_once('/') {
            if !seen.contains(parent) {
                return Err(format!(
                    "cpio member '{}' comes before its directory '{parent}'",
                    e.name
                ));
            }
        }
        let ino = u32::try_from(i + 1).map_err(|_| "too many cpio members".to_string())?;
        header(&mut out, ino, e, e.name.len() + 1)?;
        out.extend_from_slice(e.name.as_bytes());
        out.push(0);
        pad4(&mut out);
        out.extend_from_slice(&e.data);
        pad4(&mut out);
    }
    let trailer = Entry::new(TRAILER, 0, Vec::new());
    header(
        &mut out,
        0,
        &Entry { mode: 0, ..trailer },
        TRAILER.len() + 1,
    )?;
    out.extend_from_slice(TRAILER.as_bytes());
    out.push(0);
    pad4(&mut out);
    Ok(out)
}

/// Reads a newc archive back (up to the trailer). Errors name the byte
/// offset of the bad header.
pub fn read(data: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    loop {
        let h = data
            .get(at..at + HEADER_LEN)
            .ok_or_else(|| format!("offset {at}: truncated header (no trailer)"))?;
        if &h[..6] != MAGIC.as_bytes() {
            return Err(format!("offset {at}: bad magic (not a newc cpio archive)"));
        }
        let field = |i: usize| -> Result<u32, String> {
            let s = std::str::from_utf8(&h[6 + 8 * i..6 + 8 * (i + 1)])
                .map_err(|_| format!("offset {at}: non-ASCII header field {i}"))?;
            u32::from_str_radix(s, 16)
                .map_err(|_| format!("offset {at}: bad hex '{s}' in field {i}"))
        };
        let mode = field(1)?;
        let filesize = field(6)? as usize;
        let rdev = (field(9)?, field(10)?);
        let namesize = field(11)? as usize;
        let name_start = at + HEADER_LEN;
        let name_bytes = data
            .get(name_start..name_start + namesize)
            .ok_or_else(|| format!("offset {at}: truncated name"))?;
        let name = String::from_utf8_lossy(name_bytes.strip_suffix(b"\0").unwrap_or(name_bytes))
            .into_owned();
        let data_start = (name_start + namesize).next_multiple_of(4);
        if name == TRAILER {
            return Ok(entries);
        }
        let body = data
            .get(data_start..data_start + filesize)
            .ok_or_else(|| format!("offset {at}: '{name}' data truncated"))?;
        entries.push(Entry {
            name,
            mode,
            data: body.to_vec(),
            rdev,
        });
        at = (data_start + filesize).next_multiple_of(4);
    }
}

/// `ls -l`-like listing of entries (tests, `ktailor initramfs --list`).
pub fn describe(e: &Entry) -> String {
    let kind = match e.mode & 0o170000 {
        S_IFDIR => 'd',
        S_IFREG => '-',
        S_IFLNK => 'l',
        S_IFCHR => 'c',
        _ => '?',
    };
    match kind {
        'c' => format!(
            "{kind} {:04o} {},{} /{}",
            e.mode & 0o7777,
            e.rdev.0,
            e.rdev.1,
            e.name
        ),
        'l' => format!(
            "{kind} {:04o} /{} -> {}",
            e.mode & 0o7777,
            e.name,
            String::from_utf8_lossy(&e.data)
        ),
        _ => format!(
            "{kind} {:04o} {:>8} /{}",
            e.mode & 0o7777,
            e.data.len(),
            e.name
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Entry> {
        vec![
            Entry::dir("dev", 0o755),
            Entry::char_dev("dev/console", 0o600, 5, 1),
            Entry::dir("bin", 0o755),
            Entry::file("init", 0o755, b"#!/bin/sh\necho hi\n".to_vec()),
            Entry::symlink("bin/sh", "busybox"),
            Entry::file("empty", 0o644, Vec::new()),
            Entry::file("odd", 0o644, vec![1, 2, 3, 4, 5]),
        ]
    }

    #[test]
    fn round_trip() {
        let bytes = write(&sample()).expect("write");
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(read(&bytes).expect("read"), sample());
    }

    #[test]
    fn header_layout_is_newc() {
        let bytes = write(&[Entry::char_dev("dev", 0o600, 5, 1)]).expect("write");
        let h = std::str::from_utf8(&bytes[..HEADER_LEN]).expect("ascii");
        // magic, ino 1, mode 020600, uid, gid, nlink 1, mtime, size 0,
        // devmajor, devminor, rdev 5:1, namesize 4 ("dev\0"), check.
        let want = [
            "070701", "00000001", "00002180", "00000000", "00000000", "00000001", "00000000",
            "00000000", "00000000", "00000000", "00000005", "00000001", "00000004", "00000000",
        ]
        .concat();
        assert_eq!(h, want);
        // 110 + 4 = 114, padded to 116; then the trailer.
        assert_eq!(&bytes[114..116], b"\0\0");
        assert_eq!(&bytes[116..122], b"070701");
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn deterministic() {
        assert_eq!(write(&sample()), write(&sample()));
    }

    #[test]
    fn rejects_bad_members() {
        let e = write(&[Entry::file("a/b", 0o644, Vec::new())]).expect_err("must fail");
        assert!(e.contains("before its directory 'a'"), "{e}");
        let e = write(&[Entry::dir("a", 0o755), Entry::dir("a", 0o755)]).expect_err("must fail");
        assert!(e.contains("duplicate"), "{e}");
    }

    #[test]
    fn reader_reports_corruption() {
        let mut bytes = write(&sample()).expect("write");
        assert!(read(&bytes[..50])
            .expect_err("must fail")
            .contains("truncated header"));
        bytes[0] = b'X';
        assert!(read(&bytes).expect_err("must fail").contains("bad magic"));
    }

    /// GNU cpio lists what we wrote the same way.
    #[test]
    fn gnu_cpio_agrees() {
        let Ok(mut child) = std::process::Command::new("cpio")
            .args(["-t", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            panic!("GNU cpio is not installed (scripts/setup-trees.sh installs it)");
        };
        let bytes = write(&sample()).expect("write");
        if let Some(mut i) = child.stdin.take() {
            use std::io::Write;
            i.write_all(&bytes).expect("feed cpio");
        }
        let out = child.wait_with_output().expect("cpio -t");
        assert!(out.status.success());
        let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        let ours: Vec<String> = sample().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ours);
    }
}
