//! A spec kernel made ready for make: the spec and its feature library
//! loaded, the configuration generated through the gate and written to
//! `OUT/NAME/.config` (only when its bytes change), and the source tree
//! make must be pointed at.
//!
//! Not here: the gate itself (`ktailor_spec::generate`).

use std::path::{Path, PathBuf};

use ktailor_kconfig::Diagnostic;
use ktailor_spec::generate::{generate, KernelResult};
use ktailor_spec::{Library, Spec};

use crate::err;

/// Loads a spec and the feature library it uses (the built-in one plus its
/// `feature-files`).
pub fn open_spec(path: &Path) -> Result<(Spec, Library), Vec<Diagnostic>> {
    let spec = Spec::load(path)?;
    let mut lib = Library::builtin()
        .map_err(|e| vec![err(format!("the built-in feature library is broken: {e}"))])?;
    let mut errs = Vec::new();
    for f in &spec.feature_files {
        let p = spec.resolve_path(&f.value);
        match std::fs::read_to_string(&p) {
            Ok(t) => {
                if let Err(e) = lib.add_file(&t, &p.display().to_string()) {
                    errs.push(f.loc.error(e));
                }
            }
            Err(e) => errs.push(
                f.loc
                    .error(format!("cannot read feature file {}: {e}", p.display())),
            ),
        }
    }
    if let Err(e) = lib.check_includes() {
        errs.push(err(e));
    }
    if errs.is_empty() {
        Ok((spec, lib))
    } else {
        Err(errs)
    }
}

/// The error for a kernel name the spec does not declare.
pub fn unknown_kernel(spec: &Spec, name: &str) -> Diagnostic {
    let all: Vec<&str> = spec.kernels.iter().map(|k| k.name.as_str()).collect();
    err(format!(
        "the spec {} has no kernel '{name}'",
        spec.path.display()
    ))
    .with_hint(format!("kernels in the spec: {}", all.join(", ")))
}

/// A kernel whose configuration passed the gate and sits in its object
/// tree.
pub struct Prepared {
    /// The gate's full result (verdicts, additions), for reports.
    pub result: KernelResult,
    /// The kernel source tree (make's `-C`).
    pub srctree: PathBuf,
    /// `OUT/NAME` (make's `O=`); holds `.config`.
    pub objtree: PathBuf,
    /// make's `ARCH=`.
    pub arch: String,
    /// Extra make variables from the spec (`CROSS_COMPILE=`).
    pub make_vars: Vec<(String, String)>,
    /// The generated configuration, as written.
    pub config: Vec<u8>,
}

/// Generates kernel `name` into `out/NAME/.config` through the gate.
/// `.config` is rewritten only when its bytes change (the engine's
/// `write_atomic` compares first), so an unchanged spec leaves make nothing
/// to do. A gate failure comes back as `Err` with the result, so the caller
/// can print the verdicts.
pub fn prepare(
    spec: &Spec,
    lib: &Library,
    name: &str,
    out: &Path,
    no_cache: bool,
) -> Result<Prepared, Box<KernelResult>> {
    let result = generate(spec, name, lib, Some(out), no_cache);
    if result.failed() {
        return Err(Box::new(result));
    }
    let Some(k) = spec.flattened(name) else {
        return Err(Box::new(result));
    };
    let srctree = match source_tree(spec, &k) {
        Ok(s) => s,
        Err(d) => {
            let mut r = result;
            r.errors.push(d);
            return Err(Box::new(r));
        }
    };
    let config = result.config.clone().unwrap_or_default();
    Ok(Prepared {
        arch: result.arch.clone(),
        srctree,
        objtree: out.join(name),
        make_vars: k
            .cross_compile
            .iter()
            .map(|c| ("CROSS_COMPILE".to_string(), c.value.clone()))
            .collect(),
        config,
        result,
    })
}

/// The source tree of a spec kernel once `generate` has run: the `source`
/// directory itself, or where `generate` unpacked the tarball (ktailor's
/// cache, `sources/STEM-SIZE-MTIME/`, its single top directory).
///
/// This mirrors the private `source_dir` of `ktailor_spec::generate`; it
/// should become that function, made public, so the two cannot drift.
pub fn source_tree(spec: &Spec, k: &ktailor_spec::Kernel) -> Result<PathBuf, Diagnostic> {
    let Some(src) = &k.source else {
        return Err(k.loc.error(format!("kernel '{}' has no source", k.name)));
    };
    let p = spec.resolve_path(&src.value);
    if p.is_dir() {
        return Ok(p);
    }
    let md = std::fs::metadata(&p)
        .map_err(|e| src.loc.error(format!("source '{}': {e}", p.display())))?;
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let stem = name.split(".tar").next().unwrap_or("linux").to_string();
    let dest = ktailor_tree::cache_dir()
        .join("sources")
        .join(format!("{stem}-{}-{mtime}", md.len()));
    if !dest.join(".ktailor-unpacked").is_file() {
        return Err(src.loc.error(format!(
            "the tarball {} is not unpacked in {}",
            p.display(),
            dest.display()
        )));
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dest)
        .map_err(|e| src.loc.error(format!("{}: {e}", dest.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let tree = if dirs.len() == 1 {
        dirs.remove(0)
    } else {
        dest
    };
    if !tree.join("Makefile").is_file() {
        return Err(src.loc.error(format!(
            "{} is not a kernel tree (no Makefile)",
            tree.display()
        )));
    }
    Ok(tree)
}

/// The value of `CONFIG_NAME` in a `.config` text: `Some("y")`,
/// `Some("\"str\"")`, `None` when unset or absent.
pub fn config_value<'a>(config: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("CONFIG_{name}=");
    config
        .lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_value_reads_set_options_only() {
        let c = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_AB=m\nCONFIG_S=\"x y\"\n";
        assert_eq!(config_value(c, "A"), Some("y"));
        assert_eq!(config_value(c, "AB"), Some("m"));
        assert_eq!(config_value(c, "B"), None);
        assert_eq!(config_value(c, "S"), Some("\"x y\""));
        assert_eq!(config_value(c, "C"), None);
    }
}
