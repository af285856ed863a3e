//! PE/COFF images as UEFI firmware loads them: reading the headers and
//! section table (an EFI-stub kernel, systemd's stub, a unified kernel
//! image), and appending sections to an existing image (how a UKI is made
//! from systemd's stub).
//!
//! Layout (Microsoft's "PE Format" specification): a DOS header whose
//! `e_lfanew` (0x3c) points at `PE\0\0`, the 20-byte COFF header, the
//! optional header (PE32 or PE32+), then one 40-byte header per section.
//! The headers occupy the first `SizeOfHeaders` bytes of the file and of
//! the loaded image; each section's bytes sit at `PointerToRawData` in the
//! file and are mapped at `VirtualAddress` (an RVA) in memory.
//!
//! Appending (`append_sections`) works as systemd's ukify does with its
//! PE library: the new section headers go into the unused space after the
//! section table (an error when there is none), each new section is mapped
//! after the highest existing one, rounded up to `SectionAlignment`, and its
//! data is appended to the file at `FileAlignment`. `SizeOfImage`,
//! `SizeOfInitializedData` and the checksum are updated; an Authenticode
//! signature no longer matches the bytes, so it is removed.
//!
//! Every offset read from an image is bounds-checked: a short or corrupt
//! file is an error naming what is wrong, never a panic. Not here: what
//! the sections mean (see `uki`) or the x86 boot header (see `bzimage`).

/// `Machine` of x86-64 images.
pub const MACHINE_X86_64: u16 = 0x8664;
/// `Magic` of a PE32+ optional header (64-bit).
pub const MAGIC_PE32_PLUS: u16 = 0x20b;
/// `Subsystem` of an EFI application.
pub const SUBSYSTEM_EFI_APPLICATION: u16 = 10;
/// Section flags of a UKI's data sections: initialised data, readable.
pub const DATA_SECTION: u32 = 0x0000_0040 | 0x4000_0000;

/// One section header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub virtual_size: u32,
    pub virtual_address: u32,
    pub raw_size: u32,
    pub raw_offset: u32,
    pub characteristics: u32,
}

/// The headers of a PE/COFF image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pe {
    /// 0x8664 for x86-64, 0xaa64 for arm64.
    pub machine: u16,
    /// PE32+ (0x20b) or PE32 (0x10b).
    pub magic: u16,
    pub entry_point: u32,
    /// 10: EFI application.
    pub subsystem: u16,
    pub section_alignment: u32,
    pub file_alignment: u32,
    pub size_of_image: u32,
    pub size_of_headers: u32,
    pub checksum: u32,
    pub sections: Vec<Section>,
    /// File offsets of fields `append_sections` rewrites.
    offsets: Offsets,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Offsets {
    coff: usize,
    opt: usize,
    table: usize,
    /// The security (certificate table) data directory, if present.
    security_dir: Option<usize>,
}

fn u8_at(b: &[u8], o: usize) -> Result<u8, String> {
    b.get(o)
        .copied()
        .ok_or_else(|| format!("the file ends before offset {o:#x}"))
}
fn u16_at(b: &[u8], o: usize) -> Result<u16, String> {
    Ok(u16::from_le_bytes([u8_at(b, o)?, u8_at(b, o + 1)?]))
}
fn u32_at(b: &[u8], o: usize) -> Result<u32, String> {
    Ok(u32::from(u16_at(b, o)?) | (u32::from(u16_at(b, o + 2)?) << 16))
}
fn put_u16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

fn align_up(v: u64, a: u64) -> u64 {
    if a <= 1 {
        v
    } else {
        v.div_ceil(a) * a
    }
}

/// Parses the headers: `Ok(None)` when the file is not a PE image at all
/// (no `MZ`, or no `PE\0\0` where `e_lfanew` points), an error when it is
/// one but its headers are cut short.
pub fn parse(b: &[u8]) -> Result<Option<Pe>, String> {
    if b.get(..2) != Some(b"MZ") {
        return Ok(None);
    }
    let pe = u32_at(b, 0x3c)? as usize;
    if pe.checked_add(4).and_then(|e| b.get(pe..e)) != Some(b"PE\0\0") {
        return Ok(None);
    }
    let coff = pe + 4;
    let machine = u16_at(b, coff)?;
    let nsections = u16_at(b, coff + 2)?;
    let opt_size = usize::from(u16_at(b, coff + 16)?);
    let opt = coff + 20;
    let magic = u16_at(b, opt)?;
    // Offsets that differ between PE32 and PE32+: the data directories
    // (PE32+ has 64-bit stack and heap sizes).
    let (ndirs_at, dirs_at) = match magic {
        MAGIC_PE32_PLUS => (opt + 108, opt + 112),
        0x10b => (opt + 92, opt + 96),
        other => return Err(format!("unknown optional header magic {other:#x}")),
    };
    let ndirs = u32_at(b, ndirs_at)?;
    let security_dir = (ndirs > 4).then_some(dirs_at + 4 * 8);
    let table = opt + opt_size;
    let mut sections = Vec::new();
    for i in 0..usize::from(nsections) {
        let s = table + i * 40;
        let raw = b
            .get(s..s + 40)
            .ok_or_else(|| format!("PE section header {i} lies past the end of the file"))?;
        let name = String::from_utf8_lossy(&raw[..8])
            .trim_end_matches('\0')
            .to_string();
        sections.push(Section {
            name,
            virtual_size: u32_at(b, s + 8)?,
            virtual_address: u32_at(b, s + 12)?,
            raw_size: u32_at(b, s + 16)?,
            raw_offset: u32_at(b, s + 20)?,
            characteristics: u32_at(b, s + 36)?,
        });
    }
    Ok(Some(Pe {
        machine,
        magic,
        // Both optional header layouts agree up to the subsystem field.
        entry_point: u32_at(b, opt + 16)?,
        section_alignment: u32_at(b, opt + 32)?,
        file_alignment: u32_at(b, opt + 36)?,
        size_of_image: u32_at(b, opt + 56)?,
        size_of_headers: u32_at(b, opt + 60)?,
        checksum: u32_at(b, opt + 64)?,
        subsystem: u16_at(b, opt + 68)?,
        sections,
        offsets: Offsets {
            coff,
            opt,
            table,
            security_dir,
        },
    }))
}

impl Pe {
    /// The section named `name` (the first, if several are).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// A section's bytes in the file: `VirtualSize` bytes (the rest of the
    /// raw data is alignment padding), or fewer when the file holds fewer.
    pub fn data<'a>(&self, file: &'a [u8], s: &Section) -> Result<&'a [u8], String> {
        let len = s.virtual_size.min(s.raw_size) as usize;
        let start = s.raw_offset as usize;
        file.get(start..start + len).ok_or_else(|| {
            format!(
                "section {} ({len} bytes at {start:#x}) lies past the end of the file",
                s.name
            )
        })
    }

    /// Machine, in words.
    pub fn machine_name(&self) -> &'static str {
        match self.machine {
            MACHINE_X86_64 => "x86-64",
            0xaa64 => "arm64",
            0x14c => "i386",
            0x5064 => "riscv64",
            _ => "unknown",
        }
    }
}

/// The PE checksum (as Windows' `CheckSumMappedFile` computes it): the
/// 16-bit one's-complement-style sum of the file with the checksum field
/// taken as zero, plus the file length.
pub fn checksum(b: &[u8], checksum_at: usize) -> u32 {
    let mut sum: u64 = 0;
    let mut i = 0;
    while i < b.len() {
        let word = if i + 1 < b.len() {
            u16::from_le_bytes([b[i], b[i + 1]])
        } else {
            u16::from(b[i])
        };
        if !(checksum_at..checksum_at + 4).contains(&i) {
            sum += u64::from(word);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        i += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    (sum as u32).wrapping_add(b.len() as u32)
}

/// A copy of `image` with `new` sections (name, bytes) appended, in order.
pub fn append_sections(image: &[u8], new: &[(&str, &[u8])]) -> Result<Vec<u8>, String> {
    let pe = parse(image)?.ok_or("not a PE/COFF image (no MZ/PE header)")?;
    if pe.magic != MAGIC_PE32_PLUS {
        return Err("only PE32+ (64-bit) images are supported".into());
    }
    for (name, _) in new {
        if name.is_empty() || name.len() > 8 {
            return Err(format!("section name '{name}' must have 1 to 8 bytes"));
        }
        if pe.section(name).is_some() {
            return Err(format!("the image already has a {name} section"));
        }
    }
    let o = &pe.offsets;
    let n = pe.sections.len();
    let table_end = o.table + n * 40;
    let new_end = table_end + new.len() * 40;
    let first_data = pe
        .sections
        .iter()
        .filter(|s| s.raw_size > 0)
        .map(|s| s.raw_offset as usize)
        .min()
        .unwrap_or(image.len());
    let room = (pe.size_of_headers as usize).min(first_data);
    if new_end > room {
        return Err(format!(
            "no room for {} more section headers: the section table ends at {table_end:#x} and the headers at {room:#x}",
            new.len()
        ));
    }
    let free = image
        .get(table_end..new_end)
        .is_some_and(|r| r.iter().all(|&c| c == 0));
    if !free {
        return Err(format!(
            "the space after the section table ({table_end:#x}..{new_end:#x}) is in use"
        ));
    }
    let mut out = image.to_vec();
    // An Authenticode signature would no longer match: drop it (and its
    // bytes, when they end the file, as they normally do).
    if let Some(d) = o.security_dir {
        let off = u32_at(image, d)? as usize;
        let size = u32_at(image, d + 4)? as usize;
        if size > 0 {
            if off.checked_add(size) == Some(out.len()) {
                out.truncate(off);
            }
            put_u32(&mut out, d, 0);
            put_u32(&mut out, d + 4, 0);
        }
    }
    let sa = u64::from(pe.section_alignment.max(1));
    let fa = u64::from(pe.file_alignment.max(1));
    let mut vma = pe
        .sections
        .iter()
        .map(|s| u64::from(s.virtual_address) + u64::from(s.virtual_size.max(s.raw_size)))
        .max()
        .unwrap_or(u64::from(pe.size_of_headers));
    vma = align_up(vma, sa);
    let mut added_init = 0u64;
    for (i, (name, data)) in new.iter().enumerate() {
        let off = align_up(out.len() as u64, fa);
        let raw = align_up(data.len() as u64, fa);
        let too_big =
            |v: u64| u32::try_from(v).map_err(|_| "the image would exceed 4 GiB".to_string());
        out.resize(off as usize, 0);
        out.extend_from_slice(data);
        out.resize((off + raw) as usize, 0);
        let h = table_end + i * 40;
        let mut name8 = [0u8; 8];
        name8[..name.len()].copy_from_slice(name.as_bytes());
        out[h..h + 8].copy_from_slice(&name8);
        put_u32(&mut out, h + 8, too_big(data.len() as u64)?);
        put_u32(&mut out, h + 12, too_big(vma)?);
        put_u32(&mut out, h + 16, too_big(raw)?);
        put_u32(&mut out, h + 20, too_big(off)?);
        put_u32(&mut out, h + 36, DATA_SECTION);
        vma = align_up(vma + data.len() as u64, sa);
        added_init += raw;
    }
    let total = u16::try_from(n + new.len()).map_err(|_| "too many sections")?;
    put_u16(&mut out, o.coff + 2, total);
    let size_of_image = u32::try_from(vma).map_err(|_| "the image would exceed 4 GiB")?;
    put_u32(&mut out, o.opt + 56, size_of_image);
    let init = u64::from(u32_at(&out, o.opt + 8)?) + added_init;
    put_u32(&mut out, o.opt + 8, u32::try_from(init).unwrap_or(u32::MAX));
    let sum = checksum(&out, o.opt + 64);
    put_u32(&mut out, o.opt + 64, sum);
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal PE32+ EFI application: headers in 0x400 bytes, one
    /// `.text` section of 0x200 bytes at RVA 0x1000.
    pub(crate) fn tiny_pe() -> Vec<u8> {
        let mut b = vec![0u8; 0x600];
        b[0..2].copy_from_slice(b"MZ");
        put_u32(&mut b, 0x3c, 0x80);
        b[0x80..0x84].copy_from_slice(b"PE\0\0");
        let coff = 0x84;
        put_u16(&mut b, coff, MACHINE_X86_64);
        put_u16(&mut b, coff + 2, 1);
        put_u16(&mut b, coff + 16, 240);
        let opt = coff + 20;
        put_u16(&mut b, opt, MAGIC_PE32_PLUS);
        put_u32(&mut b, opt + 16, 0x1000);
        put_u32(&mut b, opt + 32, 0x1000);
        put_u32(&mut b, opt + 36, 0x200);
        put_u32(&mut b, opt + 56, 0x2000);
        put_u32(&mut b, opt + 60, 0x400);
        put_u16(&mut b, opt + 68, SUBSYSTEM_EFI_APPLICATION);
        put_u32(&mut b, opt + 108, 16);
        let s = opt + 240;
        b[s..s + 5].copy_from_slice(b".text");
        put_u32(&mut b, s + 8, 0x1f0);
        put_u32(&mut b, s + 12, 0x1000);
        put_u32(&mut b, s + 16, 0x200);
        put_u32(&mut b, s + 20, 0x400);
        put_u32(&mut b, s + 36, 0x6000_0020);
        b[0x400..0x404].copy_from_slice(&[0xc3, 0x90, 0x90, 0x90]);
        b
    }

    #[test]
    fn reads_headers() {
        let pe = parse(&tiny_pe()).expect("parse").expect("a PE image");
        assert_eq!(pe.machine_name(), "x86-64");
        assert_eq!(pe.subsystem, SUBSYSTEM_EFI_APPLICATION);
        assert_eq!(pe.sections.len(), 1);
        assert_eq!(pe.sections[0].name, ".text");
        assert_eq!(parse(b"\x7fELF").expect("not PE"), None);
    }

    #[test]
    fn appended_sections_are_mapped_after_the_last_one() {
        let big = vec![7u8; 0x1234];
        let out = append_sections(&tiny_pe(), &[(".osrel", b"ID=x\n"), (".linux", &big)])
            .expect("append");
        let pe = parse(&out).expect("parse").expect("PE");
        let names: Vec<&str> = pe.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, [".text", ".osrel", ".linux"]);
        let osrel = pe.section(".osrel").expect(".osrel");
        let linux = pe.section(".linux").expect(".linux");
        // After .text (0x1000 + 0x200), at the section alignment.
        assert_eq!(osrel.virtual_address, 0x2000);
        assert_eq!(linux.virtual_address, 0x3000);
        assert_eq!(pe.size_of_image, 0x5000);
        assert_eq!(osrel.raw_offset % 0x200, 0);
        assert_eq!(linux.raw_size, 0x1400);
        assert_eq!(pe.data(&out, osrel).expect("data"), b"ID=x\n");
        assert_eq!(pe.data(&out, linux).expect("data"), &big[..]);
        assert_eq!(pe.checksum, checksum(&out, 0x84 + 20 + 64));
        assert_ne!(pe.checksum, 0);
        assert_eq!(out.len() % 0x200, 0);
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let b = tiny_pe();
        let e = append_sections(&b, &[(".text", b"x")]).expect_err("duplicate");
        assert!(e.contains("already has a .text"), "{e}");
        let e = append_sections(&b, &[(".toolongname", b"x")]).expect_err("name");
        assert!(e.contains("1 to 8 bytes"), "{e}");
        // The table ends at 0x1b0; 0x400 bytes of headers hold 14 more.
        let many: Vec<(String, Vec<u8>)> = (0..40).map(|i| (format!(".s{i}"), vec![1])).collect();
        let refs: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let e = append_sections(&b, &refs).expect_err("no room");
        assert!(e.contains("no room for 40 more section headers"), "{e}");
        assert!(append_sections(b"MZ", &[]).is_err());
        assert!(append_sections(b"plain text", &[])
            .expect_err("not PE")
            .contains("not a PE/COFF image"));
    }

    #[test]
    fn truncated_headers_are_errors() {
        let b = tiny_pe();
        let e = parse(&b[..0x100]).expect_err("cut");
        assert!(
            e.contains("past the end") || e.contains("ends before"),
            "{e}"
        );
    }

    #[test]
    fn checksum_matches_a_known_value() {
        // Computed by hand: words 0x0201 + 0x0403 = 0x0604, plus length 4.
        assert_eq!(checksum(&[1, 2, 3, 4], 100), 0x0608);
        // The checksum field itself (here bytes 2..6) is skipped.
        assert_eq!(checksum(&[1, 2, 3, 4], 2), 0x0201 + 4);
    }
}
