//! Reading an x86 kernel image (bzImage): the real-mode setup header of
//! the Linux/x86 boot protocol (Documentation/arch/x86/boot.rst; offsets
//! below are from the start of the file) and, for an EFI-stub kernel, the
//! PE/COFF header that lets firmware run it as an EFI application (read by
//! `pe`).
//!
//! Only reads; every offset is bounds-checked, so a short or corrupt image
//! gives an error naming what is missing, never a panic.

/// The setup header fields `ktailor inspect` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupHeader {
    /// 0x1f1: setup sectors (0 means 4).
    pub setup_sects: u8,
    /// 0x1f4: protected-mode code size in 16-byte paragraphs.
    pub syssize: u32,
    /// 0x206: boot protocol version, e.g. 0x020f = 2.15.
    pub protocol: u16,
    /// The string at 0x200 + kernel_version (0x20e).
    pub kernel_version: String,
    /// 0x211.
    pub loadflags: u8,
    /// 0x22c: highest address for the initrd.
    pub initrd_addr_max: u32,
    /// 0x230.
    pub kernel_alignment: u32,
    /// 0x234.
    pub relocatable: bool,
    /// 0x236.
    pub xloadflags: u16,
    /// 0x238: maximum command line length.
    pub cmdline_size: u32,
    /// 0x248/0x24c: the compressed kernel inside the protected-mode part.
    pub payload_offset: u32,
    pub payload_length: u32,
    /// 0x258.
    pub pref_address: u64,
    /// 0x260: memory the kernel needs while decompressing.
    pub init_size: u32,
    /// 0x264: EFI handover entry offset (0: none).
    pub handover_offset: u32,
}

/// An inspected image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub size: u64,
    pub setup: SetupHeader,
    /// Real-mode setup code: (setup_sects + 1) * 512 bytes.
    pub setup_size: u64,
    /// The protected-mode part after it.
    pub kernel_size: u64,
    /// gzip, xz, zstd, ... from the payload's magic bytes.
    pub compression: Option<&'static str>,
    /// The PE/COFF header of an EFI-stub kernel (see `pe`).
    pub pe: Option<crate::pe::Pe>,
}

fn u8_at(b: &[u8], o: usize) -> Result<u8, String> {
    b.get(o)
        .copied()
        .ok_or_else(|| format!("the image ends before offset {o:#x}"))
}
fn u16_at(b: &[u8], o: usize) -> Result<u16, String> {
    Ok(u16::from_le_bytes([u8_at(b, o)?, u8_at(b, o + 1)?]))
}
fn u32_at(b: &[u8], o: usize) -> Result<u32, String> {
    Ok(u32::from(u16_at(b, o)?) | (u32::from(u16_at(b, o + 2)?) << 16))
}
fn u64_at(b: &[u8], o: usize) -> Result<u64, String> {
    Ok(u64::from(u32_at(b, o)?) | (u64::from(u32_at(b, o + 4)?) << 32))
}

/// The payload's compression, from its magic bytes.
fn compression(magic: &[u8]) -> Option<&'static str> {
    let table: [(&[u8], &str); 7] = [
        (&[0x1f, 0x8b], "gzip"),
        (&[0xfd, b'7', b'z', b'X', b'Z'], "xz"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
        (&[0x02, 0x21, 0x4c, 0x18], "lz4"),
        (b"BZh", "bzip2"),
        (&[0x89, b'L', b'Z', b'O'], "lzo"),
        (&[0x5d, 0x00, 0x00], "lzma"),
    ];
    table
        .iter()
        .find(|(m, _)| magic.starts_with(m))
        .map(|(_, n)| *n)
}

/// Parses an image's headers.
pub fn parse(b: &[u8]) -> Result<Image, String> {
    if b.len() < 0x250 {
        return Err(format!(
            "{} bytes is too short for a bzImage (the setup header alone ends at 0x250)",
            b.len()
        ));
    }
    let flag = u16_at(b, 0x1fe)?;
    if flag != 0xaa55 {
        return Err(format!(
            "no boot signature: 0x{flag:04x} at offset 510, expected 0xaa55 (not an x86 kernel image)"
        ));
    }
    if b.get(0x202..0x206) != Some(b"HdrS") {
        return Err("no \"HdrS\" at 0x202: not a Linux boot protocol 2.x image".into());
    }
    let protocol = u16_at(b, 0x206)?;
    let kv = u16_at(b, 0x20e)?;
    let kernel_version = if kv == 0 {
        String::new()
    } else {
        let start = 0x200 + usize::from(kv);
        let tail = b
            .get(start..)
            .ok_or_else(|| format!("kernel_version points past the end ({start:#x})"))?;
        let end = tail
            .iter()
            .take(512)
            .position(|&c| c == 0)
            .ok_or("the kernel version string is not terminated")?;
        String::from_utf8_lossy(&tail[..end]).into_owned()
    };
    let at_least = |v: u16, f: u32| if protocol >= v { f } else { 0 };
    let setup = SetupHeader {
        setup_sects: u8_at(b, 0x1f1)?,
        syssize: u32_at(b, 0x1f4)?,
        protocol,
        kernel_version,
        loadflags: u8_at(b, 0x211)?,
        initrd_addr_max: at_least(0x0203, u32_at(b, 0x22c)?),
        kernel_alignment: at_least(0x0205, u32_at(b, 0x230)?),
        relocatable: protocol >= 0x0205 && u8_at(b, 0x234)? != 0,
        xloadflags: if protocol >= 0x020c {
            u16_at(b, 0x236)?
        } else {
            0
        },
        cmdline_size: at_least(0x0206, u32_at(b, 0x238)?),
        payload_offset: at_least(0x0208, u32_at(b, 0x248)?),
        payload_length: at_least(0x0208, u32_at(b, 0x24c)?),
        pref_address: if protocol >= 0x020a {
            u64_at(b, 0x258)?
        } else {
            0
        },
        init_size: at_least(0x020a, u32_at(b, 0x260)?),
        handover_offset: at_least(0x020b, u32_at(b, 0x264)?),
    };
    let sects = if setup.setup_sects == 0 {
        4
    } else {
        setup.setup_sects
    };
    let setup_size = (u64::from(sects) + 1) * 512;
    let size = b.len() as u64;
    if setup_size > size {
        return Err(format!(
            "setup_sects says the setup code is {setup_size} bytes, but the image has {size}"
        ));
    }
    let payload_start = setup_size as usize + setup.payload_offset as usize;
    let compression = (setup.payload_length > 0)
        .then(|| b.get(payload_start..).and_then(compression))
        .flatten();
    Ok(Image {
        size,
        setup_size,
        kernel_size: size - setup_size,
        compression,
        pe: crate::pe::parse(b)?,
        setup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic image: just enough header for the parser.
    fn fake(version: &str) -> Vec<u8> {
        let setup = 5 * 512;
        let mut b = vec![0u8; setup + 16];
        b[0x1f1] = 4;
        b[0x1fe] = 0x55;
        b[0x1ff] = 0xaa;
        b[0x202..0x206].copy_from_slice(b"HdrS");
        b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        // The version string at 0x200 + 0x300.
        b[0x20e..0x210].copy_from_slice(&0x300u16.to_le_bytes());
        b[0x500..0x500 + version.len()].copy_from_slice(version.as_bytes());
        b[0x248..0x24c].copy_from_slice(&0u32.to_le_bytes());
        b[0x24c..0x250].copy_from_slice(&4u32.to_le_bytes());
        b[setup..setup + 2].copy_from_slice(&[0x1f, 0x8b]);
        b
    }

    #[test]
    fn reads_version_and_header() {
        let img = parse(&fake("6.12.0 (root@x) #1")).expect("parse");
        assert_eq!(img.setup.kernel_version, "6.12.0 (root@x) #1");
        assert_eq!(img.setup.protocol, 0x020f);
        assert_eq!(img.setup_size, 5 * 512);
        assert_eq!(img.compression, Some("gzip"));
        assert_eq!(img.pe, None);
    }

    #[test]
    fn corrupt_images_are_errors() {
        let e = parse(&[0u8; 100]).expect_err("must fail");
        assert!(e.contains("too short"), "{e}");
        let mut b = fake("x");
        b[0x1fe] = 0;
        assert!(parse(&b).expect_err("must fail").contains("0xaa55"));
        let mut b = fake("x");
        b[0x202] = b'X';
        assert!(parse(&b).expect_err("must fail").contains("HdrS"));
        let mut b = fake("x");
        b[0x1f1] = 200;
        assert!(parse(&b).expect_err("must fail").contains("setup_sects"));
        let mut b = fake("x");
        b[0x20e..0x210].copy_from_slice(&0xfff0u16.to_le_bytes());
        assert!(parse(&b).expect_err("must fail").contains("past the end"));
    }

    #[test]
    fn pe_header_out_of_bounds_is_an_error() {
        let mut b = fake("x");
        b[0..2].copy_from_slice(b"MZ");
        b[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        b[0x40..0x44].copy_from_slice(b"PE\0\0");
        // A PE32+ optional header, 240 bytes long.
        b[0x54..0x56].copy_from_slice(&240u16.to_le_bytes());
        b[0x58..0x5a].copy_from_slice(&0x20bu16.to_le_bytes());
        // 0xffff sections: the table runs past the end.
        b[0x46..0x48].copy_from_slice(&0xffffu16.to_le_bytes());
        assert!(parse(&b).expect_err("must fail").contains("past the end"));
    }
}
