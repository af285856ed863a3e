//! Derives the environment the kernel's Makefile hands to conf.
//! (Interim implementation; see ktailor-kbuild.)

use std::path::PathBuf;

use ktailor_kconfig::Dialect;

use crate::kconfig_cmd::Tree;
use crate::TreeOpts;

fn sh(cmd: &str, env: &[(String, String)]) -> String {
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    let mut s = String::from_utf8_lossy(&out).into_owned();
    while s.ends_with('\n') {
        s.pop();
    }
    s.replace('\n', " ")
}

pub fn derive(
    o: &TreeOpts,
    srctree: PathBuf,
    objtree: PathBuf,
    process_env: Vec<(String, String)>,
) -> Result<Tree, String> {
    let mut env: Vec<(String, String)> = process_env.clone();
    let get = |env: &Vec<(String, String)>, k: &str| {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    let set = |env: &mut Vec<(String, String)>, k: &str, v: String| {
        env.retain(|(n, _)| n != k);
        env.push((k.to_string(), v));
    };
    let makefile = std::fs::read_to_string(srctree.join("Makefile")).ok();
    let mut version = None;
    if let Some(mf) = &makefile {
        let var = |name: &str| {
            mf.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.trim_start().strip_prefix('='))
                    .map(|v| v.trim().to_string())
            })
        };
        if let (Some(v), Some(p)) = (var("VERSION"), var("PATCHLEVEL")) {
            let s = var("SUBLEVEL").unwrap_or_default();
            let e = var("EXTRAVERSION").unwrap_or_default();
            version = Some((
                v.parse::<u32>().unwrap_or(0),
                p.parse::<u32>().unwrap_or(0),
                format!("{v}.{p}.{s}{e}"),
            ));
        }
    }
    let dialect = match (&o.kconfig_dialect, &version) {
        (Some(d), _) if d == "6.1" => Dialect::V6_1,
        (Some(d), _) if d == "6.12" => Dialect::V6_12,
        (Some(d), _) => return Err(format!("unknown --kconfig-dialect {d}: use 6.1 or 6.12")),
        (None, Some((a, b, _))) => Dialect::for_version(*a, *b),
        (None, None) => Dialect::V6_12,
    };
    let srctree_var = if objtree == srctree {
        ".".to_string()
    } else if objtree.parent() == Some(srctree.as_path()) {
        "..".to_string()
    } else {
        srctree.to_string_lossy().into_owned()
    };
    set(&mut env, "srctree", srctree_var);
    let mut srcarch = None;
    if version.is_some() {
        let uname = sh("uname -m", &env);
        let subarch = match uname.as_str() {
            "x86_64" | "i386" | "i486" | "i586" | "i686" => "x86".to_string(),
            "aarch64" => "arm64".to_string(),
            u if u.starts_with("arm") => "arm".to_string(),
            u => u.to_string(),
        };
        let arch = o
            .arch
            .clone()
            .or_else(|| get(&env, "ARCH"))
            .unwrap_or(subarch.clone());
        let sa = match arch.as_str() {
            "i386" | "x86_64" => "x86",
            "sparc32" | "sparc64" => "sparc",
            "parisc64" => "parisc",
            a => a,
        }
        .to_string();
        if !srctree.join("arch").join(&sa).join("Kconfig").is_file() {
            return Err(format!(
                "ARCH={arch}: no arch/{sa}/Kconfig in {}",
                srctree.display()
            ));
        }
        set(&mut env, "ARCH", arch.clone());
        set(&mut env, "SRCARCH", sa.clone());
        set(&mut env, "SUBARCH", subarch.clone());
        let cross = get(&env, "CROSS_COMPILE").unwrap_or_default();
        for (k, v) in [
            ("CC", "gcc"),
            ("LD", "ld"),
            ("AR", "ar"),
            ("NM", "nm"),
            ("OBJCOPY", "objcopy"),
            ("OBJDUMP", "objdump"),
            ("READELF", "readelf"),
            ("STRIP", "strip"),
        ] {
            if get(&process_env, k).is_none() {
                set(&mut env, k, format!("{cross}{v}"));
            }
        }
        for (k, v) in [
            ("HOSTCC", "gcc"),
            ("HOSTCXX", "g++"),
            ("RUSTC", "rustc"),
            ("BINDGEN", "bindgen"),
            ("PAHOLE", "pahole"),
        ] {
            if get(&process_env, k).is_none() {
                set(&mut env, k, v.to_string());
            }
        }
        let cc = get(&env, "CC").unwrap_or_default();
        let t = sh(
            &format!("LC_ALL=C {cc} --version 2>/dev/null | head -n 1"),
            &env,
        )
        .replace('#', "");
        set(&mut env, "CC_VERSION_TEXT", t);
        if dialect == Dialect::V6_12 {
            let r = get(&env, "RUSTC").unwrap_or_default();
            let t = sh(&format!("{r} --version 2>/dev/null"), &env).replace('#', "");
            set(&mut env, "RUSTC_VERSION_TEXT", t);
        }
        if let Some((_, _, kv)) = &version {
            set(&mut env, "KERNELVERSION", kv.clone());
        }
        let defc = match sa.as_str() {
            "x86" if arch == "x86" => "x86_64_defconfig".to_string(),
            "x86" => format!("{arch}_defconfig"),
            _ => {
                let amf = std::fs::read_to_string(srctree.join("arch").join(&sa).join("Makefile"))
                    .unwrap_or_default();
                amf.lines()
                    .filter_map(|l| l.trim_start().strip_prefix("KBUILD_DEFCONFIG"))
                    .filter_map(|r| {
                        r.trim_start()
                            .trim_start_matches(':')
                            .strip_prefix('=')
                            .map(|v| v.trim().to_string())
                    })
                    .next()
                    .unwrap_or_else(|| "defconfig".into())
            }
        };
        set(&mut env, "KBUILD_DEFCONFIG", defc.clone());
        let rel = sh("uname -r", &env);
        set(&mut env, "KCONFIG_DEFCONFIG_LIST", format!(" /lib/modules/{rel}/.config /etc/kernel-config /boot/config-{rel} arch/{sa}/configs/{defc}"));
        srcarch = Some(sa);
    }
    let config = match &o.config {
        Some(c) => std::env::current_dir()
            .map(|d| d.join(c))
            .unwrap_or(c.clone()),
        None => match get(&process_env, "KCONFIG_CONFIG") {
            Some(c) => objtree.join(c),
            None => objtree.join(".config"),
        },
    };
    set(
        &mut env,
        "KCONFIG_CONFIG",
        config.to_string_lossy().into_owned(),
    );
    let kconfig = o
        .kconfig
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned())
        .or_else(|| get(&process_env, "KBUILD_KCONFIG"))
        .unwrap_or_else(|| "Kconfig".into());
    env.sort();
    Ok(Tree {
        srctree,
        objtree,
        config,
        kconfig,
        env,
        dialect,
        srcarch,
    })
}
