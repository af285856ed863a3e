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
    let lib = Library::for_spec(&spec)?;
    Ok((spec, lib))
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

/// The source tree of a spec kernel: the `source` directory itself, or
/// where `generate` unpacked the tarball.
pub fn source_tree(spec: &Spec, k: &ktailor_spec::Kernel) -> Result<PathBuf, Diagnostic> {
    ktailor_spec::generate::source_dir(spec, k)
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
