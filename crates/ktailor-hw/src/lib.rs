//! Hardware → modules → CONFIG symbols.
//!
//! The pipeline, one module per step:
//!
//! - [`probe`] runs on the target machine and reads only `/sys` and
//!   `/proc` (no root): devices with their modalias and bound driver,
//!   loaded modules, CPU, DMI, filesystems, block devices, network
//!   interfaces. The result is a [`report::Report`], written as JSON with a
//!   `schema_version`.
//! - [`input`] reads what a user hands in: that JSON report, `lspci -k`
//!   text (full or busybox form), `lsmod` output, or a plain list of module
//!   names, detected from the content. Every input is untrusted:
//!   [`validate`] caps sizes and checks every field's charset before
//!   anything else looks at it.
//! - [`alias`] matches modaliases against `modules.alias` patterns with
//!   the fnmatch rules modprobe uses (a bound driver wins over matches).
//! - [`kbuild`] indexes a kernel tree's Makefiles and Kbuild files: for
//!   every object that can become a module, the CONFIG symbols of its
//!   `obj-$(CONFIG_X)` line and those gating its directory from the top of
//!   the tree. The index is cached per tree ([`kbuild::Index::load`]).
//!   A bound driver's name need not be a module's (`pcieport`,
//!   `piix4_smbus`); [`kbuild::DriverNames`] is the table of names the
//!   tree's C files register, built on first need and cached the same way.
//! - [`map`] joins the three: each device or module of the input with its
//!   module(s), CONFIG symbol(s) and their values in a configuration;
//!   modules it cannot map are listed, never dropped.
//! - [`wants`] sorts mapped rows into what a kernel needs (bound drivers,
//!   optionally only devices of some [`class`]es, optionally loaded
//!   modules), what is skipped and why, and what cannot be mapped: the
//!   input of a spec's `hardware` entry and of `localmodconfig`;
//!   [`localmod`] turns it into what `localmodconfig` keeps and switches
//!   off in a configuration.
//! - [`ids`] names vendors and devices from `pci.ids`/`usb.ids` when the
//!   system has them; [`firmware`] lists what built-in drivers would need
//!   in `CONFIG_EXTRA_FIRMWARE`.
//!
//! What this crate deliberately is not: it runs no process, evaluates no
//! Kconfig (the CONFIG symbols come from Makefiles; whether a value can
//! hold is the engine's business), and never writes outside the files it
//! is asked to write.

pub mod alias;
pub mod class;
pub mod config;
pub mod firmware;
pub mod ids;
pub mod input;
pub mod kbuild;
pub mod localmod;
pub mod map;
pub mod probe;
pub mod report;
pub mod validate;
pub mod wants;

use std::fmt;

/// An error a person can act on: where (file and line, when known), what,
/// and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The file the error is about (empty when none).
    pub file: String,
    /// The 1-based line, 0 when the error is about the whole file.
    pub line: u32,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Error {
    /// An error about `file` (line 0: the whole file).
    pub fn new(file: impl Into<String>, line: u32, message: impl Into<String>) -> Error {
        Error {
            file: file.into(),
            line,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.file.is_empty(), self.line) {
            (true, _) => write!(f, "error: {}", self.message)?,
            (false, 0) => write!(f, "{}: error: {}", self.file, self.message)?,
            (false, l) => write!(f, "{}:{}: error: {}", self.file, l, self.message)?,
        }
        if let Some(h) = &self.hint {
            write!(f, "\n\nhint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Writes `bytes` to `dest` through a temporary file in the same directory
/// and a rename, so a reader never sees half a file.
pub fn write_atomic(dest: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write as _;
    let shown = dest.display().to_string();
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = dest
        .file_name()
        .ok_or_else(|| Error::new(&shown, 0, "not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::new(shown, 0, format!("cannot write: {e}")));
    }
    Ok(())
}

/// The cache directory: `$KTAILOR_CACHE_DIR`, `$XDG_CACHE_HOME/ktailor`,
/// `~/.cache/ktailor` (the same rule as the tree crate's).
pub fn cache_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(d) = std::env::var_os("KTAILOR_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("ktailor");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache/ktailor"),
        None => std::env::temp_dir().join("ktailor-cache"),
    }
}
