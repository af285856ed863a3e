//! Field checks for untrusted input.
//!
//! Reports come from machines nobody vouches for, so every string that
//! enters the pipeline passes one of these checks first: a length cap and
//! a charset. The checks return the reason as text; callers add file:line.
//! They are deliberately strict: a real kernel never produces a module
//! name with a slash or a modalias with a newline, so anything else is
//! either corruption or an attack and is rejected, not repaired.

/// The largest report accepted (bytes).
pub const MAX_REPORT_BYTES: u64 = 64 << 20;
/// The longest modalias accepted (the kernel's own are far shorter).
pub const MAX_MODALIAS: usize = 1024;
/// The longest module name (the kernel's MODULE_NAME_LEN is 56).
pub const MAX_MODULE_NAME: usize = 64;
/// The longest firmware path.
pub const MAX_FIRMWARE: usize = 256;
/// The longest free-text field (CPU model name, DMI strings, names).
pub const MAX_TEXT: usize = 256;
/// The most entries in one list of a report.
pub const MAX_ITEMS: usize = 100_000;

/// A module name: `[A-Za-z0-9_-]`, 1 to 64 characters.
pub fn module_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty module name".into());
    }
    if s.len() > MAX_MODULE_NAME {
        return Err(format!(
            "module name longer than {MAX_MODULE_NAME} characters"
        ));
    }
    match s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        Some(c) => Err(format!(
            "module name '{}' has the character {c:?} (allowed: A-Z a-z 0-9 _ -)",
            shorten(s)
        )),
        None => Ok(()),
    }
}

/// A modalias: printable ASCII without spaces (the kernel filters
/// everything else out of modaliases), at most 1024 characters.
pub fn modalias(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty modalias".into());
    }
    if s.len() > MAX_MODALIAS {
        return Err(format!("modalias longer than {MAX_MODALIAS} characters"));
    }
    match s.chars().find(|c| !c.is_ascii_graphic()) {
        Some(c) => Err(format!(
            "modalias '{}' has the character {c:?} (allowed: printable ASCII, no spaces)",
            shorten(s)
        )),
        None => Ok(()),
    }
}

/// A driver name as sysfs shows it: printable ASCII (spaces allowed, as
/// some drivers have them), no `/`, at most 256 characters.
pub fn driver_name(s: &str) -> Result<(), String> {
    text(s)?;
    if s.is_empty() || s.contains('/') {
        return Err(format!(
            "driver name '{}' is empty or has a '/'",
            shorten(s)
        ));
    }
    Ok(())
}

/// Free text (names, DMI strings, CPU model): printable, no control
/// characters, at most 256 characters.
pub fn text(s: &str) -> Result<(), String> {
    if s.len() > MAX_TEXT {
        return Err(format!(
            "field longer than {MAX_TEXT} characters ('{}...')",
            shorten(s)
        ));
    }
    match s.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "field '{}' has the control character {c:?}",
            shorten(s)
        )),
        None => Ok(()),
    }
}

/// A short hexadecimal ID (`0x8086`, `8086`, `0x030000`).
pub fn hex_id(s: &str) -> Result<(), String> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    if h.is_empty() || h.len() > 8 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("'{}' is not a hexadecimal ID", shorten(s)));
    }
    Ok(())
}

/// A firmware file name as `MODULE_FIRMWARE` declares it: a relative path
/// under the firmware directory. Rejects `..` components, absolute paths,
/// glob characters, backslashes and anything outside printable ASCII, so a
/// name can never reach outside the directory it is looked up in.
pub fn firmware_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty firmware name".into());
    }
    if s.len() > MAX_FIRMWARE {
        return Err(format!(
            "firmware name longer than {MAX_FIRMWARE} characters"
        ));
    }
    if s.starts_with('/') {
        return Err(format!(
            "firmware name '{}' is an absolute path",
            shorten(s)
        ));
    }
    if s.split('/').any(|c| c == ".." || c == "." || c.is_empty()) {
        return Err(format!(
            "firmware name '{}' has an empty, '.' or '..' path component",
            shorten(s)
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| matches!(c, '*' | '?' | '[' | ']' | '\\' | '{' | '}') || !c.is_ascii_graphic())
    {
        return Err(format!(
            "firmware name '{}' has the character {c:?} (no globs, spaces or backslashes)",
            shorten(s)
        ));
    }
    Ok(())
}

/// The first 40 characters of `s`, for messages about untrusted text
/// (control characters escaped).
pub fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_default).collect();
    if s.chars().count() > 40 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert!(module_name("snd_hda_intel").is_ok());
        assert!(module_name("snd-hda-intel").is_ok());
        assert!(module_name("").is_err());
        assert!(module_name("../evil").is_err());
        assert!(module_name("a b").is_err());
        assert!(module_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn modaliases() {
        assert!(modalias("pci:v00008086d00002723sv00008086sd00000084bc02sc80i00").is_ok());
        assert!(modalias("acpi:PNP0A08:PNP0A03:").is_ok());
        assert!(modalias("pci:v0 d0").is_err());
        assert!(modalias("pci:\n").is_err());
        assert!(modalias(&"x".repeat(2000)).is_err());
    }

    #[test]
    fn firmware_names() {
        assert!(firmware_name("iwlwifi-cc-a0-72.ucode").is_ok());
        assert!(firmware_name("amdgpu/renoir_sdma.bin").is_ok());
        for bad in [
            "../etc/shadow",
            "amdgpu/../../x",
            "/etc/passwd",
            "amdgpu/*.bin",
            "a?b",
            "a[0]",
            "a b",
            "a//b",
            "",
        ] {
            assert!(firmware_name(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn text_fields() {
        assert!(text("AMD Ryzen 7 4800U").is_ok());
        assert!(text("a\u{1b}[31m").is_err());
        assert!(text(&"x".repeat(300)).is_err());
        assert!(hex_id("0x8086").is_ok());
        assert!(hex_id("0xzz").is_err());
    }
}
