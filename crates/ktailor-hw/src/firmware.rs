//! Firmware for built-in drivers: a driver built in (`=y`) loads its
//! firmware before any root filesystem exists, so the files must be in
//! the kernel image via `CONFIG_EXTRA_FIRMWARE` (with
//! `CONFIG_EXTRA_FIRMWARE_DIR` where they are found).
//!
//! The names come from `MODULE_FIRMWARE("...")` lines with a literal
//! string in the driver's sources, or from a report's modinfo data. Names
//! built by macros are not expanded (they are listed by the report's
//! modinfo data when the probing machine has the module). Every name is
//! checked with [`crate::validate::firmware_name`] before it is joined to
//! a directory, so a name never reaches outside the firmware directory.

use std::path::{Path, PathBuf};

use crate::validate;

/// The `MODULE_FIRMWARE(...)` names in the `.c` and `.h` files of `dir`
/// (an absolute directory of the tree): a string literal, or a macro the
/// same files `#define` as one (`MODULE_FIRMWARE(FIRMWARE_8168D_1)` with
/// `#define FIRMWARE_8168D_1 "rtl_nic/rtl8168d-1.fw"`). Names built by
/// other macros are left out. Returns (names, rejected names with the
/// reason).
pub fn declared_in(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut names = Vec::new();
    let mut rejected = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (names, rejected);
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c" || x == "h"))
        .collect();
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect();
    // `#define NAME "literal"` of these files.
    let mut defines = std::collections::HashMap::new();
    for t in &texts {
        for l in t.lines() {
            let mut w = l.trim_start().splitn(3, char::is_whitespace);
            if let (Some("#define"), Some(name), Some(val)) = (w.next(), w.next(), w.next()) {
                let val = val.trim();
                if let Some(lit) = val.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                    defines.insert(name.to_string(), lit.to_string());
                }
            }
        }
    }
    for t in &texts {
        for part in t.split("MODULE_FIRMWARE(").skip(1) {
            let arg = part.split(')').next().unwrap_or("").trim();
            let name = match arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
                Some(lit) => lit.to_string(),
                None => match defines.get(arg) {
                    Some(v) => v.clone(),
                    None => continue,
                },
            };
            match validate::firmware_name(&name) {
                Ok(()) if !names.contains(&name) => names.push(name),
                Ok(()) => {}
                Err(e) => rejected.push(e),
            }
        }
    }
    (names, rejected)
}

/// Which firmware files exist under `dir` (also compressed, `.xz`/`.zst`,
/// which the kernel's EXTRA_FIRMWARE cannot use: those are reported as
/// missing with a note). Returns (found, missing).
pub fn locate(names: &[String], dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for n in names {
        if validate::firmware_name(n).is_err() {
            missing.push(n.clone());
            continue;
        }
        if dir.join(n).is_file() {
            found.push(n.clone());
        } else if dir.join(format!("{n}.xz")).is_file() || dir.join(format!("{n}.zst")).is_file() {
            missing.push(format!(
                "{n} (only compressed: decompress it for EXTRA_FIRMWARE)"
            ));
        } else {
            missing.push(n.clone());
        }
    }
    (found, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_defined_names() {
        let d = std::env::temp_dir().join(format!("ktailor-hw-fw-{}", std::process::id()));
        std::fs::create_dir_all(d.join("fw/rtl_nic")).expect("dir");
        std::fs::write(
            d.join("r8169.c"),
            "#define FIRMWARE_8168D_1\t\"rtl_nic/rtl8168d-1.fw\"\n\
             MODULE_FIRMWARE(FIRMWARE_8168D_1);\nMODULE_FIRMWARE(\"rtl_nic/rtl8125a-3.fw\");\n\
             MODULE_FIRMWARE(\"../../etc/shadow\");\nMODULE_FIRMWARE(IWL_MODULE(x));\n",
        )
        .expect("write");
        std::fs::write(d.join("fw/rtl_nic/rtl8168d-1.fw"), "x").expect("write");
        let (names, rejected) = declared_in(&d);
        assert_eq!(names, ["rtl_nic/rtl8168d-1.fw", "rtl_nic/rtl8125a-3.fw"]);
        assert_eq!(rejected.len(), 1, "{rejected:?}");
        let (found, missing) = locate(&names, &d.join("fw"));
        assert_eq!(found, ["rtl_nic/rtl8168d-1.fw"]);
        assert_eq!(missing, ["rtl_nic/rtl8125a-3.fw"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn names_outside_the_directory_are_never_looked_up() {
        let (found, missing) = locate(
            &["../../etc/passwd".to_string(), "/etc/passwd".to_string()],
            Path::new("/lib/firmware"),
        );
        assert!(found.is_empty());
        assert_eq!(missing.len(), 2);
    }
}
