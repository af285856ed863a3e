//! `ktailor probe`: the report of the machine it runs on.
//!
//! Reads only `/sys`, `/proc` and (when present) `/lib/modules/RELEASE/
//! modules.alias` and `modules.dep`; needs no root, runs no process. What
//! cannot be read is left out (an unreadable DMI file, a bus without
//! devices), so a report from a container or a locked-down machine is
//! smaller, never wrong. Values are validated as they are read, with the
//! same rules `ktailor hw` applies to a report, so a probe never writes a
//! report its reader would refuse.

use std::path::{Path, PathBuf};

use crate::alias::{normalize_module, Aliases};
use crate::report::{Cpu, Device, Dmi, Module, NamedDevice, Report, SCHEMA_VERSION};
use crate::validate;

/// Where to read from: `/` on a real machine.
#[derive(Clone, Debug)]
pub struct ProbeRoot {
    /// The root directory under which `sys`, `proc` and `lib/modules` are.
    pub root: PathBuf,
}

impl Default for ProbeRoot {
    fn default() -> Self {
        ProbeRoot {
            root: PathBuf::from("/"),
        }
    }
}

fn read_trim(p: &Path) -> Option<String> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn link_name(p: &Path) -> Option<String> {
    let t = std::fs::read_link(p).ok()?;
    Some(t.file_name()?.to_string_lossy().into_owned())
}

fn checked(v: Option<String>, f: fn(&str) -> Result<(), String>) -> Option<String> {
    v.filter(|s| f(s).is_ok())
}

fn sorted_dir(p: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = match std::fs::read_dir(p) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

impl ProbeRoot {
    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Probes everything.
    pub fn probe(&self) -> Report {
        let release = read_trim(&self.p("proc/sys/kernel/osrelease"));
        let mut r = Report {
            schema_version: SCHEMA_VERSION,
            kernel_release: checked(release.clone(), validate::text),
            machine: Some(crate::kbuild::host_arch()),
            devices: self.devices(),
            modules: self.modules(),
            cpu: self.cpu(),
            dmi: self.dmi(),
            filesystems_mounted: self.mounted(),
            filesystems_supported: self.supported(),
            block_devices: self.named("sys/block"),
            net_interfaces: self.named("sys/class/net"),
        };
        if let Some(rel) = release.filter(|r| validate::text(r).is_ok() && !r.contains('/')) {
            let dir = self.p("lib/modules").join(rel);
            if let Ok(a) = Aliases::read(&dir.join("modules.alias")) {
                for d in &mut r.devices {
                    if let Some(m) = &d.modalias {
                        d.alias_matches = a.lookup(m);
                    }
                }
            }
            if let Ok(dep) = std::fs::read_to_string(dir.join("modules.dep")) {
                add_paths(&mut r.modules, &dep);
            }
        }
        r
    }

    /// Devices of every bus: `/sys/bus/*/devices/*`.
    pub fn devices(&self) -> Vec<Device> {
        let mut out = Vec::new();
        for (bus, bp) in sorted_dir(&self.p("sys/bus")) {
            for (id, dp) in sorted_dir(&bp.join("devices")) {
                if out.len() >= validate::MAX_ITEMS {
                    return out;
                }
                let first = |names: &[&str], f: fn(&str) -> Result<(), String>| {
                    names
                        .iter()
                        .find_map(|n| checked(read_trim(&dp.join(n)), f))
                };
                out.push(Device {
                    bus: bus.clone(),
                    id,
                    modalias: first(&["modalias"], validate::modalias),
                    vendor: first(&["vendor", "idVendor"], validate::hex_id),
                    device: first(&["device", "idProduct"], validate::hex_id),
                    class: first(&["class", "bDeviceClass"], validate::hex_id),
                    driver: checked(link_name(&dp.join("driver")), validate::driver_name),
                    module: checked(link_name(&dp.join("driver/module")), validate::module_name),
                    alias_matches: Vec::new(),
                });
            }
        }
        out
    }

    /// Loaded modules: `/proc/modules` (`name size refs users state addr`).
    pub fn modules(&self) -> Vec<Module> {
        let Some(text) = read_trim(&self.p("proc/modules")) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                let name = *w.first()?;
                validate::module_name(name).ok()?;
                // `-` when nothing uses it.
                let used_by = w
                    .get(3)
                    .map(|u| {
                        u.split(',')
                            .filter(|x| *x != "-" && validate::module_name(x).is_ok())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                Some(Module {
                    name: name.into(),
                    used_by,
                    ..Module::default()
                })
            })
            .collect()
    }

    /// The first processor of `/proc/cpuinfo`, with the processor count.
    pub fn cpu(&self) -> Option<Cpu> {
        let text = read_trim(&self.p("proc/cpuinfo"))?;
        let mut cpu = Cpu::default();
        let mut first = true;
        for l in text.lines() {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k == "processor" {
                cpu.count += 1;
                first = cpu.count == 1;
                continue;
            }
            if !first {
                continue;
            }
            if matches!(k, "flags" | "Features" | "isa") {
                // Long lines of short words: each word is checked.
                cpu.flags = v
                    .split_whitespace()
                    .filter(|f| validate::text(f).is_ok())
                    .map(str::to_string)
                    .collect();
                continue;
            }
            if validate::text(v).is_err() {
                continue;
            }
            let v = Some(v.to_string());
            match k {
                "vendor_id" | "CPU implementer" => cpu.vendor = cpu.vendor.take().or(v),
                "cpu family" | "CPU architecture" => cpu.family = cpu.family.take().or(v),
                "model" | "CPU part" => cpu.model = cpu.model.take().or(v),
                "model name" => cpu.model_name = cpu.model_name.take().or(v),
                _ => {}
            }
        }
        Some(cpu)
    }

    /// DMI identification; unreadable files (some need root) are absent.
    pub fn dmi(&self) -> Dmi {
        let d = self.p("sys/class/dmi/id");
        let f = |n: &str| checked(read_trim(&d.join(n)), validate::text);
        Dmi {
            sys_vendor: f("sys_vendor"),
            product_name: f("product_name"),
            board_vendor: f("board_vendor"),
            board_name: f("board_name"),
        }
    }

    /// Filesystem types of `/proc/mounts`, sorted, without repeats.
    pub fn mounted(&self) -> Vec<String> {
        let text = read_trim(&self.p("proc/mounts")).unwrap_or_default();
        let mut v: Vec<String> = text
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .filter(|t| {
                validate::module_name(t).is_ok() || validate::text(t).is_ok() && !t.is_empty()
            })
            .map(str::to_string)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Filesystem types of `/proc/filesystems`.
    pub fn supported(&self) -> Vec<String> {
        let text = read_trim(&self.p("proc/filesystems")).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split_whitespace().last())
            .filter(|t| validate::text(t).is_ok())
            .map(str::to_string)
            .collect()
    }

    /// Entries of a class directory with their device's driver.
    pub fn named(&self, rel: &str) -> Vec<NamedDevice> {
        sorted_dir(&self.p(rel))
            .into_iter()
            .filter(|(n, _)| validate::text(n).is_ok())
            .map(|(name, p)| NamedDevice {
                driver: checked(link_name(&p.join("device/driver")), validate::driver_name),
                name,
            })
            .collect()
    }
}

/// Adds each module's path from modules.dep (`kernel/.../x.ko[.xz]: deps`).
fn add_paths(modules: &mut [Module], dep: &str) {
    let mut by_name = std::collections::HashMap::new();
    for l in dep.lines() {
        let Some((path, _)) = l.split_once(':') else {
            continue;
        };
        let base = path.rsplit('/').next().unwrap_or(path);
        let name = base.split(".ko").next().unwrap_or(base);
        by_name.insert(normalize_module(name), path.to_string());
    }
    for m in modules {
        if let Some(p) = by_name.get(&normalize_module(&m.name)) {
            if crate::report::module_path(p).is_ok() {
                m.path = Some(p.clone());
            }
        }
    }
}

/// Probes this machine and writes the report as JSON atomically.
pub fn probe_to_file(dest: &Path) -> Result<Report, crate::Error> {
    let r = ProbeRoot::default().probe();
    let mut bytes = serde_json::to_vec_pretty(&r)
        .map_err(|e| crate::Error::new(dest.display().to_string(), 0, e.to_string()))?;
    bytes.push(b'\n');
    crate::write_atomic(dest, &bytes)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loaded_modules_and_their_users() {
        let root = std::env::temp_dir().join(format!("ktailor-probe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("proc")).expect("dir");
        std::fs::write(
            root.join("proc/modules"),
            "virtio_net 73728 0 - Live 0x0000000000000000\nfailover 12288 1 net_failover, Live 0x0000000000000000\n",
        )
        .expect("write");
        let m = ProbeRoot { root: root.clone() }.modules();
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(m.len(), 2);
        // `-` is /proc/modules' "no users", not a module.
        assert!(m[0].used_by.is_empty(), "{:?}", m[0].used_by);
        assert_eq!(m[1].used_by, ["net_failover"]);
    }
}
