//! Build, package and boot-test the kernels a spec declares.
//!
//! - [`kernel`]: a spec kernel through the gate (`ktailor-spec`'s
//!   `generate`), and where its source tree is;
//! - [`make`]: the kernel build itself (`make -C SRC O=OBJ ARCH=…`), its
//!   log, progress and report;
//! - [`cpio`]: the newc archive format (writer and reader);
//! - [`initramfs`]: the test initramfs (the `ktailor-init` binary as
//!   `/init`, the generated `.config`, optional busybox), gzip-compressed;
//! - [`qemu`]: direct kernel boot under QEMU, reading the init's
//!   `KTAILOR-CHECK` lines from the serial console;
//! - [`bzimage`]: the x86 boot protocol header of a kernel image;
//! - [`pe`]: PE/COFF headers and sections (EFI-stub kernels, systemd's
//!   stub, UKIs), and appending sections;
//! - [`efi`]: one bootable EFI file — the kernel's own stub with the
//!   initramfs and command line built in, or a unified kernel image made
//!   from systemd's stub;
//! - [`fat`]: the FAT32 image of an EFI system partition;
//! - [`ovmf`]: UEFI firmware for EFI boots and boot entries in its
//!   variable store.
//!
//! This is the only crate that spawns make or QEMU. It never writes outside
//! the output directory it is given (`OUT/NAME/...`), and it writes every
//! product atomically and only when its bytes change, so make's own
//! incremental build and file timestamps stay meaningful.
//!
//! Not here: computing configurations (the engine and `ktailor-spec` do
//! that; this crate only hands their result to make).

pub mod bzimage;
pub mod cpio;
pub mod efi;
pub mod fat;
pub mod initramfs;
pub mod kernel;
pub mod make;
pub mod ovmf;
pub mod pe;
pub mod qemu;

pub use ktailor_kconfig::Diagnostic;

/// An error with no file position, with an optional hint.
/// Finds a program as a spawn would: a name with a `/` as that path,
/// else the first match in the directories of `path` (a `PATH` value).
pub fn find_program_in(name: &str, path: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    if name.contains('/') {
        let p = std::path::Path::new(name);
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::split_paths(path)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub(crate) fn err(msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error("", 0, msg)
}

/// Writes `data` to `path` through a temporary file and a rename, and only
/// when the bytes differ (so an unchanged product keeps its mtime).
/// Returns whether the file was written.
pub fn write_if_changed(path: &std::path::Path, data: &[u8]) -> Result<bool, Diagnostic> {
    ktailor_kconfig::confdata::write_atomic(path, data, false)
        .map_err(|e| err(format!("cannot write {}: {e}", path.display())))
}
