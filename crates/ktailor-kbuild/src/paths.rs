//! Where things are: the source and object trees as make computes them
//! (`$(realpath ...)`, symlinks resolved), and the value of `srctree` that
//! conf and every `$(shell,...)` command see: `.` in-tree, `..` when the
//! object tree is a direct subdirectory of the source tree, otherwise the
//! absolute source path.
//!
//! Unlike make, nothing here creates the object directory: resolving is
//! free of side effects, and a missing trailing part of the object path is
//! appended to the resolved existing part.

use std::path::{Component, Path, PathBuf};

use crate::KbuildError;

/// `path` made absolute against `base` (no symlink resolution).
pub(crate) fn absolute(path: &Path, base: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// make's `$(realpath ...)` after `mkdir -p`: symlinks in the existing part
/// of `path` are resolved, and the components that do not exist yet are
/// appended (with `.` dropped and `..` applied).
pub(crate) fn realpath_lenient(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut missing: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(resolved) = existing.canonicalize() {
            let mut out = resolved;
            for part in missing.iter().rev() {
                match Path::new(part).components().next() {
                    Some(Component::ParentDir) => {
                        out.pop();
                    }
                    Some(Component::CurDir) | None => {}
                    _ => out.push(part),
                }
            }
            return out;
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            // `..` or `.` at the end: drop it lexically.
            (None, Some(parent)) => {
                missing.push(existing.components().next_back().map_or_else(
                    || std::ffi::OsString::from("."),
                    |c| c.as_os_str().to_os_string(),
                ));
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The path as a `&str`, or the error for a path that cannot go into the
/// environment.
pub(crate) fn utf8(path: &Path) -> Result<&str, KbuildError> {
    path.to_str().ok_or_else(|| KbuildError::NonUtf8Path {
        path: path.to_path_buf(),
    })
}

/// make's `$(dir NAME)` for one word: everything up to and including the
/// last `/`, or `./` when there is none.
pub(crate) fn make_dir(word: &str) -> &str {
    match word.rfind('/') {
        Some(i) => &word[..=i],
        None => "./",
    }
}

/// make's `$(notdir NAME)` for one word.
pub(crate) fn make_notdir(word: &str) -> &str {
    match word.rfind('/') {
        Some(i) => &word[i + 1..],
        None => word,
    }
}

/// The top Makefile's `srctree` rule, on the resolved absolute paths.
pub(crate) fn srctree_value(abs_srctree: &str, abs_objtree: &str) -> String {
    if abs_srctree == abs_objtree {
        ".".to_string()
    } else if format!("{abs_srctree}/") == make_dir(abs_objtree) {
        "..".to_string()
    } else {
        abs_srctree.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srctree_is_dot_dotdot_or_absolute() {
        assert_eq!(srctree_value("/src/linux", "/src/linux"), ".");
        assert_eq!(srctree_value("/src/linux", "/src/linux/build"), "..");
        assert_eq!(
            srctree_value("/src/linux", "/src/linux/out/x86"),
            "/src/linux"
        );
        assert_eq!(srctree_value("/src/linux", "/tmp/obj"), "/src/linux");
        // A sibling whose name starts with the source directory's name.
        assert_eq!(srctree_value("/src/linux", "/src/linux-obj"), "/src/linux");
    }

    #[test]
    fn make_dir_and_notdir_split_at_the_last_slash() {
        assert_eq!(make_dir("/usr/bin/x86_64-linux-gnu-elfedit"), "/usr/bin/");
        assert_eq!(make_dir("elfedit"), "./");
        assert_eq!(
            make_notdir("/opt/cross/bin/aarch64-linux-gnu"),
            "aarch64-linux-gnu"
        );
        assert_eq!(make_notdir("aarch64-linux-gnu"), "aarch64-linux-gnu");
    }

    #[test]
    fn realpath_lenient_resolves_symlinks_and_appends_missing_parts() {
        let base =
            std::env::temp_dir().join(format!("ktailor-kbuild-paths-{}", std::process::id()));
        let real = base.join("real");
        std::fs::create_dir_all(&real).expect("create temp dir");
        let link = base.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let canonical_real = real.canonicalize().expect("canonical");

        assert_eq!(realpath_lenient(&link), canonical_real);
        assert_eq!(
            realpath_lenient(&link.join("new/obj")),
            canonical_real.join("new/obj")
        );
        assert_eq!(
            realpath_lenient(&link.join("new/../obj/.")),
            canonical_real.join("obj")
        );
        std::fs::remove_dir_all(&base).expect("clean up");
    }
}
