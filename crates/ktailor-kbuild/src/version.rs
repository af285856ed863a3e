//! The kernel version a tree declares in its Makefile, and the Kconfig
//! dialect that follows from it.
//!
//! Not here: reading the Makefile (see `makefile`), or the dialect
//! differences themselves, which belong to the Kconfig engine.

use std::fmt;

/// VERSION, PATCHLEVEL, SUBLEVEL, EXTRAVERSION and NAME from the top of a
/// kernel Makefile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelVersion {
    pub version: u32,
    pub patchlevel: u32,
    /// 0 when the Makefile has no SUBLEVEL line.
    pub sublevel: u32,
    /// As written, e.g. "" or "-rc3".
    pub extraversion: String,
    /// The release name (`NAME = ...`), when present.
    pub name: Option<String>,
}

impl KernelVersion {
    /// Whether this is `major.minor` or later.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.version, self.patchlevel) >= (major, minor)
    }
}

/// Formats like the Makefile's KERNELVERSION: `6.12.117-rc1`.
impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}{}",
            self.version, self.patchlevel, self.sublevel, self.extraversion
        )
    }
}

/// The `(VERSION, PATCHLEVEL)` whose Kconfig semantics a tree expects, or
/// `None` for a tree without a kernel Makefile (the engine then uses its
/// newest dialect).
pub fn dialect_version(tree: &crate::Tree) -> Option<(u32, u32)> {
    tree.version.as_ref().map(|v| (v.version, v.patchlevel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_kernelversion_and_compares_by_major_minor() {
        let v = KernelVersion {
            version: 6,
            patchlevel: 12,
            sublevel: 117,
            extraversion: "-rc1".into(),
            name: None,
        };
        assert_eq!(v.to_string(), "6.12.117-rc1");
        assert!(v.at_least(6, 12));
        assert!(v.at_least(6, 1));
        assert!(!v.at_least(6, 13));
        assert!(!v.at_least(7, 0));
    }
}
