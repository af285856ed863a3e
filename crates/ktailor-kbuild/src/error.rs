//! The errors [`crate::resolve`] reports: each names the file, path or
//! command involved and says what to do about it.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a tree could not be resolved.
#[derive(Debug)]
pub enum KbuildError {
    /// The source tree does not exist or is not a directory.
    MissingSourceTree { path: PathBuf, source: io::Error },
    /// The source tree's absolute path contains a space or a colon, which
    /// the kernel's Makefile refuses ("source directory cannot contain
    /// spaces or colons").
    UnusableSourcePath { path: PathBuf },
    /// `arch/$(SRCARCH)/Kconfig` does not exist for the requested ARCH.
    UnknownArch {
        arch: String,
        srcarch: String,
        srctree: PathBuf,
        /// Every ARCH value the tree accepts, sorted.
        valid: Vec<String>,
    },
    /// A file the Makefile reads could not be read.
    Read { path: PathBuf, source: io::Error },
    /// A Makefile line that this crate could not interpret, or one whose
    /// evaluation makes make stop (`$(error ...)`).
    Makefile {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A path that has to go into the environment is not valid UTF-8.
    NonUtf8Path { path: PathBuf },
    /// The runner could not run a probe command.
    Command { command: String, source: io::Error },
    /// A probe command's output did not have the expected shape.
    ProbeOutput { command: String, output: String },
}

impl fmt::Display for KbuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KbuildError::MissingSourceTree { path, source } => write!(
                f,
                "source tree {} is not a readable directory: {source}\n\nhint: pass the top directory of a kernel (or other Kconfig) source tree",
                path.display()
            ),
            KbuildError::UnusableSourcePath { path } => write!(
                f,
                "source directory {} contains a space or a colon, which kbuild cannot handle\n\nhint: move or symlink the tree to a path without spaces or colons",
                path.display()
            ),
            KbuildError::UnknownArch {
                arch,
                srcarch,
                srctree,
                valid,
            } => write!(
                f,
                "unknown ARCH '{arch}': {}/arch/{srcarch}/Kconfig does not exist\n\nhint: valid ARCH values for this tree: {}",
                srctree.display(),
                valid.join(", ")
            ),
            KbuildError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            KbuildError::Makefile {
                path,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            KbuildError::NonUtf8Path { path } => write!(
                f,
                "path {} is not valid UTF-8 and cannot be passed through the environment",
                path.display()
            ),
            KbuildError::Command { command, source } => {
                write!(f, "cannot run `{command}`: {source}")
            }
            KbuildError::ProbeOutput { command, output } => write!(
                f,
                "unexpected output from `{command}`: {output:?}\n\nhint: this is a bug in ktailor-kbuild, please report it with the output above"
            ),
        }
    }
}

impl std::error::Error for KbuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KbuildError::MissingSourceTree { source, .. }
            | KbuildError::Read { source, .. }
            | KbuildError::Command { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_arch_lists_the_valid_values() {
        let err = KbuildError::UnknownArch {
            arch: "vax".into(),
            srcarch: "vax".into(),
            srctree: PathBuf::from("/src/linux"),
            valid: vec!["arm64".into(), "x86".into(), "x86_64".into()],
        };
        let text = err.to_string();
        assert!(text.starts_with("unknown ARCH 'vax': /src/linux/arch/vax/Kconfig does not exist"));
        assert!(text.ends_with("valid ARCH values for this tree: arm64, x86, x86_64"));
    }

    #[test]
    fn makefile_error_is_path_colon_line() {
        let err = KbuildError::Makefile {
            path: PathBuf::from("linux/Makefile"),
            line: 3,
            message: "SUBLEVEL is not a number: 'x'".into(),
        };
        assert_eq!(
            err.to_string(),
            "linux/Makefile:3: SUBLEVEL is not a number: 'x'"
        );
    }
}
