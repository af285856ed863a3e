//! A FAT32 file system image holding a few files: the EFI system
//! partition image `ktailor efi --esp` writes and EFI boot tests boot from
//! (the EFI file at `EFI/BOOT/BOOTX64.EFI`, the path firmware boots from
//! removable media).
//!
//! Layout (Microsoft's FAT specification, "FAT: General Overview of
//! On-Disk Format"): 512-byte sectors; a reserved area of 32 sectors with
//! the boot sector and its BIOS parameter block at 0, the FSInfo sector at
//! 1 and their backups at 6 and 7; two copies of the file allocation table
//! (one 32-bit entry per cluster, 0x0fffffff ends a chain); then the data
//! clusters, numbered from 2, the root directory first. Directories are
//! arrays of 32-byte entries (8.3 name, attributes, first cluster, size).
//! The FAT type follows from the cluster count alone, so an image always
//! has at least 65525 clusters (FAT32's minimum, about 33 MiB with
//! one-sector clusters); the free space costs nothing on disk, as the
//! image is written sparse.
//!
//! Deliberately small: 8.3 names only (letters are upper-cased; no long
//! names), every file and directory in contiguous clusters, fixed time
//! stamps (2000-01-01) and a volume ID computed from the contents, so the
//! same files give the same image. Not a general FAT implementation: no
//! reading (tests read images back with dosfstools and mtools).

use std::io::Write;
use std::path::Path;

const SECTOR: u64 = 512;
const RESERVED: u64 = 32;
const FATS: u64 = 2;
/// FAT32's minimum cluster count, with a margin.
const MIN_CLUSTERS: u64 = 65525 + 500;
/// 2000-01-01 as a FAT date.
const DATE: u16 = (20 << 9) | (1 << 5) | 1;
const ATTR_DIR: u8 = 0x10;
const ATTR_ARCHIVE: u8 = 0x20;
const ATTR_VOLUME: u8 = 0x08;
const END_OF_CHAIN: u32 = 0x0fff_ffff;

/// An image: its size and the byte ranges that are not zero.
#[derive(Clone, Debug)]
pub struct Image {
    pub size: u64,
    pub extents: Vec<(u64, Vec<u8>)>,
}

impl Image {
    /// The whole image in memory.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.size as usize];
        for (o, d) in &self.extents {
            v[*o as usize..*o as usize + d.len()].copy_from_slice(d);
        }
        v
    }

    /// Writes the image to `path` through a temporary file in the same
    /// directory and a rename; the zero ranges stay holes.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.set_len(self.size)?;
            for (o, d) in &self.extents {
                f.write_all_at(d, *o)?;
            }
            f.flush()?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// An 8.3 name as stored: 8 + 3 bytes, space-padded, upper case.
fn short_name(component: &str) -> Result<[u8; 11], String> {
    let up = component.to_ascii_uppercase();
    let (base, ext) = match up.rsplit_once('.') {
        Some((b, e)) => (b, e),
        None => (up.as_str(), ""),
    };
    let ok = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'()-@^_`{}~".contains(&c))
    };
    if base.is_empty() || base.len() > 8 || ext.len() > 3 || !ok(base) || !ok(ext) {
        return Err(format!(
            "'{component}' is not an 8.3 file name (1-8 characters, a dot, 0-3 characters; letters, digits, !#$%&'()-@^_`{{}}~)"
        ));
    }
    let mut n = [b' '; 11];
    n[..base.len()].copy_from_slice(base.as_bytes());
    n[8..8 + ext.len()].copy_from_slice(ext.as_bytes());
    Ok(n)
}

/// A node of the tree being laid out.
struct Node {
    name: [u8; 11],
    /// Children (directories) or `None` for a file.
    children: Option<Vec<usize>>,
    data: Vec<u8>,
    parent: usize,
    first_cluster: u32,
    clusters: u64,
}

/// Adds a node under `parent` (a directory when `children` is `Some`);
/// returns its index.
fn add_node(
    nodes: &mut Vec<Node>,
    parent: usize,
    name: [u8; 11],
    children: Option<Vec<usize>>,
    data: Vec<u8>,
) -> usize {
    nodes.push(Node {
        name,
        children,
        data,
        parent,
        first_cluster: 0,
        clusters: 0,
    });
    let k = nodes.len() - 1;
    if let Some(c) = nodes[parent].children.as_mut() {
        c.push(k);
    }
    k
}

fn dir_entry(name: &[u8; 11], attr: u8, cluster: u32, size: u32) -> [u8; 32] {
    let mut e = [0u8; 32];
    e[..11].copy_from_slice(name);
    e[11] = attr;
    e[16..18].copy_from_slice(&DATE.to_le_bytes());
    e[18..20].copy_from_slice(&DATE.to_le_bytes());
    e[20..22].copy_from_slice(&((cluster >> 16) as u16).to_le_bytes());
    e[24..26].copy_from_slice(&DATE.to_le_bytes());
    e[26..28].copy_from_slice(&(cluster as u16).to_le_bytes());
    e[28..32].copy_from_slice(&size.to_le_bytes());
    e
}

/// Lays out a FAT32 image holding `files` (paths with `/`, e.g.
/// `EFI/BOOT/BOOTX64.EFI`); directories are created as needed.
pub fn build(files: &[(&str, &[u8])], label: &str) -> Result<Image, String> {
    let mut label11 = [b' '; 11];
    let l = label.to_ascii_uppercase();
    if l.len() > 11
        || l.bytes()
            .any(|c| !(c.is_ascii_alphanumeric() || c == b'_' || c == b' '))
    {
        return Err(format!(
            "volume label '{label}': up to 11 letters, digits, _ or spaces"
        ));
    }
    label11[..l.len()].copy_from_slice(l.as_bytes());
    // The tree: node 0 is the root.
    let mut nodes = vec![Node {
        name: label11,
        children: Some(Vec::new()),
        data: Vec::new(),
        parent: 0,
        first_cluster: 0,
        clusters: 0,
    }];
    for (path, data) in files {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let Some((file, dirs)) = parts.split_last() else {
            return Err(format!("empty file path '{path}'"));
        };
        let mut at = 0;
        for d in dirs {
            let name = short_name(d)?;
            let kids = nodes[at].children.clone().unwrap_or_default();
            at = match kids.iter().find(|&&k| nodes[k].name == name) {
                Some(&k) if nodes[k].children.is_some() => k,
                Some(_) => return Err(format!("'{path}': {d} is a file")),
                None => add_node(&mut nodes, at, name, Some(Vec::new()), Vec::new()),
            };
        }
        let name = short_name(file)?;
        let kids = nodes[at].children.clone().unwrap_or_default();
        if kids.iter().any(|&k| nodes[k].name == name) {
            return Err(format!("'{path}' is given twice"));
        }
        if u32::try_from(data.len()).is_err() {
            return Err(format!("'{path}' is larger than FAT's 4 GiB limit"));
        }
        add_node(&mut nodes, at, name, None, data.to_vec());
    }

    // Geometry: one-sector clusters for small contents, 4 KiB above.
    let content: u64 = nodes.iter().map(|n| n.data.len() as u64).sum();
    let spc: u64 = if content <= 256 << 20 { 1 } else { 8 };
    let cluster_bytes = spc * SECTOR;
    for n in nodes.iter_mut() {
        let bytes = match &n.children {
            // Root: volume label; others: "." and "..".
            Some(c) => (c.len() as u64 + 2) * 32,
            None => n.data.len() as u64,
        };
        n.clusters = bytes.div_ceil(cluster_bytes);
        if n.children.is_some() {
            n.clusters = n.clusters.max(1);
        }
    }
    // Directories first (root at cluster 2), then files, each contiguous.
    let mut next: u64 = 2;
    let order: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].children.is_some())
        .chain((0..nodes.len()).filter(|&i| nodes[i].children.is_none()))
        .collect();
    for &i in &order {
        if nodes[i].clusters > 0 {
            nodes[i].first_cluster =
                u32::try_from(next).map_err(|_| "too many clusters".to_string())?;
            next += nodes[i].clusters;
        }
    }
    let used = next - 2;
    let clusters = (used + used / 16 + (1 << 20) / cluster_bytes).max(MIN_CLUSTERS);
    let fat_sectors = ((clusters + 2) * 4).div_ceil(SECTOR);
    let total_sectors = RESERVED + FATS * fat_sectors + clusters * spc;
    let total =
        u32::try_from(total_sectors).map_err(|_| "the image would be too large".to_string())?;
    let data_start = (RESERVED + FATS * fat_sectors) * SECTOR;
    let cluster_at = |c: u32| data_start + (u64::from(c) - 2) * cluster_bytes;

    let mut extents = Vec::new();
    // Directories.
    for (i, n) in nodes.iter().enumerate() {
        let Some(children) = &n.children else {
            continue;
        };
        let mut d = Vec::new();
        if i == 0 {
            d.extend_from_slice(&dir_entry(&n.name, ATTR_VOLUME, 0, 0));
        } else {
            let mut dot = [b' '; 11];
            dot[0] = b'.';
            d.extend_from_slice(&dir_entry(&dot, ATTR_DIR, n.first_cluster, 0));
            dot[1] = b'.';
            let parent = if n.parent == 0 {
                0
            } else {
                nodes[n.parent].first_cluster
            };
            d.extend_from_slice(&dir_entry(&dot, ATTR_DIR, parent, 0));
        }
        for &k in children {
            let c = &nodes[k];
            let (attr, size) = match c.children {
                Some(_) => (ATTR_DIR, 0),
                None => (ATTR_ARCHIVE, c.data.len() as u32),
            };
            d.extend_from_slice(&dir_entry(&c.name, attr, c.first_cluster, size));
        }
        // Zero-filled to the cluster end: a 0 first byte ends the listing.
        d.resize((n.clusters * cluster_bytes) as usize, 0);
        extents.push((cluster_at(n.first_cluster), d));
    }
    // Files.
    for n in nodes
        .iter()
        .filter(|n| n.children.is_none() && n.clusters > 0)
    {
        extents.push((cluster_at(n.first_cluster), n.data.clone()));
    }
    // The FAT: entries 0 and 1 reserved, then each node's chain.
    let mut fat = vec![0u32; next as usize];
    fat[0] = 0x0fff_fff8;
    fat[1] = END_OF_CHAIN;
    for n in nodes.iter().filter(|n| n.clusters > 0) {
        let first = n.first_cluster as usize;
        let last = first + n.clusters as usize - 1;
        for (c, e) in fat.iter_mut().enumerate().take(last).skip(first) {
            *e = c as u32 + 1;
        }
        fat[last] = END_OF_CHAIN;
    }
    let fat_bytes: Vec<u8> = fat.iter().flat_map(|e| e.to_le_bytes()).collect();
    for f in 0..FATS {
        extents.push(((RESERVED + f * fat_sectors) * SECTOR, fat_bytes.clone()));
    }
    // Boot sector and FSInfo, and their backups at 6 and 7.
    let volume_id = extents
        .iter()
        .flat_map(|(_, d)| d.iter())
        .fold(0x6b74_6169u32, |h, &b| h.rotate_left(5) ^ u32::from(b));
    let mut bs = [0u8; 512];
    bs[0..3].copy_from_slice(&[0xeb, 0x58, 0x90]);
    bs[3..11].copy_from_slice(b"KTAILOR ");
    bs[11..13].copy_from_slice(&(SECTOR as u16).to_le_bytes());
    bs[13] = spc as u8;
    bs[14..16].copy_from_slice(&(RESERVED as u16).to_le_bytes());
    bs[16] = FATS as u8;
    bs[21] = 0xf8;
    bs[24..26].copy_from_slice(&32u16.to_le_bytes());
    bs[26..28].copy_from_slice(&64u16.to_le_bytes());
    bs[32..36].copy_from_slice(&total.to_le_bytes());
    bs[36..40].copy_from_slice(&(fat_sectors as u32).to_le_bytes());
    bs[44..48].copy_from_slice(&2u32.to_le_bytes());
    bs[48..50].copy_from_slice(&1u16.to_le_bytes());
    bs[50..52].copy_from_slice(&6u16.to_le_bytes());
    bs[64] = 0x80;
    bs[66] = 0x29;
    bs[67..71].copy_from_slice(&volume_id.to_le_bytes());
    bs[71..82].copy_from_slice(&label11);
    bs[82..90].copy_from_slice(b"FAT32   ");
    bs[510] = 0x55;
    bs[511] = 0xaa;
    let mut info = [0u8; 512];
    info[0..4].copy_from_slice(&0x4161_5252u32.to_le_bytes());
    info[484..488].copy_from_slice(&0x6141_7272u32.to_le_bytes());
    info[488..492].copy_from_slice(&((clusters - used) as u32).to_le_bytes());
    info[492..496].copy_from_slice(&(next as u32).to_le_bytes());
    info[508..512].copy_from_slice(&0xaa55_0000u32.to_le_bytes());
    let mut head = Vec::with_capacity(1024);
    head.extend_from_slice(&bs);
    head.extend_from_slice(&info);
    extents.push((0, head.clone()));
    extents.push((6 * SECTOR, head));
    extents.sort_by_key(|(o, _)| *o);
    Ok(Image {
        size: total_sectors * SECTOR,
        extents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn tool(name: &str) -> String {
        let found = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(|d| format!("{d}/{name}"))
            .find(|p| Path::new(p).is_file());
        found.unwrap_or_else(|| {
            panic!("{name} is needed to check FAT images: apt-get install dosfstools mtools (scripts/setup-trees.sh installs them)")
        })
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ktailor-fat-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("tmp");
        d
    }

    /// dosfstools and mtools, not this module, judge the image: fsck.fat
    /// finds nothing to fix and mtools reads every file back.
    #[test]
    fn other_tools_read_the_image() {
        let d = tmp("read");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 511) as u8).collect();
        let files: Vec<(&str, &[u8])> = vec![
            ("EFI/BOOT/BOOTX64.EFI", &big),
            ("EFI/BOOT/x.txt", b"hello\n"),
            ("startup.nsh", b"fs0:\r\n"),
            ("EMPTY", b""),
        ];
        let img = build(&files, "ESP").expect("build");
        let path = d.join("esp.img");
        img.write(&path).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), img.to_vec());
        let fsck = Command::new(tool("fsck.fat"))
            .args(["-n", "-v"])
            .arg(&path)
            .output()
            .expect("fsck.fat");
        let report = String::from_utf8_lossy(&fsck.stdout);
        assert!(fsck.status.success(), "fsck.fat: {report}");
        assert!(report.contains("32 bit entries"), "{report}");
        for (name, data) in &files {
            let out = d.join("out");
            let _ = std::fs::remove_file(&out);
            let st = Command::new(tool("mcopy"))
                .arg("-i")
                .arg(&path)
                .arg(format!("::{}", name.to_ascii_uppercase()))
                .arg(&out)
                .env("MTOOLS_SKIP_CHECK", "1")
                .status()
                .expect("mcopy");
            assert!(st.success(), "mcopy {name}");
            assert_eq!(std::fs::read(&out).expect("copied"), *data, "{name}");
        }
        let label = Command::new(tool("mlabel"))
            .arg("-s")
            .arg("-i")
            .arg(&path)
            .arg("::")
            .env("MTOOLS_SKIP_CHECK", "1")
            .output()
            .expect("mlabel");
        assert!(String::from_utf8_lossy(&label.stdout).contains("ESP"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn deterministic_and_sparse() {
        let a = build(&[("A/B.EFI", b"x")], "ESP").expect("build");
        let b = build(&[("A/B.EFI", b"x")], "ESP").expect("build");
        assert_eq!(a.to_vec(), b.to_vec());
        // At least FAT32's minimum number of one-sector clusters.
        assert!(a.size >= 65525 * 512);
        let written: usize = a.extents.iter().map(|(_, d)| d.len()).sum();
        assert!(written < 1 << 20, "{written} bytes are not holes");
    }

    #[test]
    fn names_must_be_short() {
        let e = build(&[("EFI/BOOT/bootx64-long.efi", b"x")], "ESP").expect_err("8.3");
        assert!(e.contains("not an 8.3 file name"), "{e}");
        let e = build(&[("A", b"x"), ("A/B", b"y")], "ESP").expect_err("file as dir");
        assert!(e.contains("A is a file"), "{e}");
        let e = build(&[("A", b"x"), ("a", b"y")], "ESP").expect_err("twice");
        assert!(e.contains("given twice"), "{e}");
        assert!(build(&[], "much too long label").is_err());
    }
}
