//! `ktailor generate` and `ktailor features`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ktailor_spec::generate::{generate, KernelResult, Origin};
use ktailor_spec::{Library, Spec};
use serde_json::json;

use crate::kconfig_cmd::print_diags;
use crate::{EXIT_ERROR, EXIT_FAILED, EXIT_OK};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Generate the kernels a spec declares; every request is checked against
/// the final configuration (the gate). A configuration is written only
/// for kernels that pass.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The spec file (TOML).
    pub spec: PathBuf,
    /// Generate only this kernel (repeatable).
    #[arg(long = "kernel", value_name = "NAME")]
    pub kernels: Vec<String>,
    /// Where to write NAME/.config (default: ./out).
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Do not use the $(shell) and parse caches.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Args, Debug)]
pub struct FeaturesArgs {
    #[command(subcommand)]
    pub cmd: Option<FeaturesCmd>,
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum FeaturesCmd {
    /// Show one feature: its options, each with why.
    Show { name: String },
}

fn library() -> Result<Library, u8> {
    Library::builtin().map_err(|e| {
        eprintln!("error: the built-in feature library is broken: {e}");
        EXIT_ERROR
    })
}

pub fn features(a: FeaturesArgs) -> u8 {
    let lib = match library() {
        Ok(l) => l,
        Err(c) => return c,
    };
    match a.cmd {
        None => {
            match a.format {
                Format::Json => {
                    let v: Vec<_> = lib.features.values().map(|f| json!({"name": f.name, "summary": f.summary, "options": f.options.len()})).collect();
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                }
                Format::Text => {
                    let w = lib.features.keys().map(|k| k.len()).max().unwrap_or(0);
                    for f in lib.features.values() {
                        println!("{:w$}  {}", f.name, f.summary);
                    }
                }
            }
            EXIT_OK
        }
        Some(FeaturesCmd::Show { name }) => {
            let Some(f) = lib.features.get(&name) else {
                eprintln!("error: unknown feature '{name}'");
                if let Some(s) = lib.suggest(&name) {
                    eprintln!("\nhint: did you mean '{s}'?");
                }
                return EXIT_ERROR;
            };
            match a.format {
                Format::Json => {
                    let opts: Vec<_> = f
                        .options
                        .iter()
                        .map(|o| json!({"name": o.name, "value": o.value.describe(), "why": o.why, "optional": o.optional, "arches": o.arches, "kernels": o.kernels.describe()}))
                        .collect();
                    let v = json!({"name": f.name, "summary": f.summary, "description": f.description, "arches": f.arches, "kernels": f.kernels.describe(), "includes": f.includes, "sources": f.sources, "options": opts});
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                }
                Format::Text => {
                    println!("{}: {}", f.name, f.summary);
                    if let Some(d) = &f.description {
                        println!("\n{}", d.trim_end());
                    }
                    if let Some(a) = &f.arches {
                        println!("\narches: {}", a.join(", "));
                    }
                    if !f.kernels.describe().is_empty() {
                        println!("kernels: {}", f.kernels.describe());
                    }
                    if !f.includes.is_empty() {
                        println!("includes: {}", f.includes.join(", "));
                    }
                    println!();
                    for o in &f.options {
                        let mut extra = Vec::new();
                        if o.optional {
                            extra.push("optional".to_string());
                        }
                        if let Some(a) = &o.arches {
                            extra.push(format!("arches {}", a.join(",")));
                        }
                        if !o.kernels.describe().is_empty() {
                            extra.push(format!("kernels {}", o.kernels.describe()));
                        }
                        let extra = if extra.is_empty() {
                            String::new()
                        } else {
                            format!(" [{}]", extra.join("; "))
                        };
                        println!(
                            "  CONFIG_{}={}{extra}\n      {}",
                            o.name,
                            o.value.describe().trim_matches('"'),
                            o.why
                        );
                    }
                    if !f.sources.is_empty() {
                        println!("\nsources: {}", f.sources.join("; "));
                    }
                }
            }
            EXIT_OK
        }
    }
}

fn origin_json(o: &Origin) -> serde_json::Value {
    match o {
        Origin::Feature {
            feature,
            why,
            named_at,
        } => json!({"feature": feature, "why": why, "named_at": named_at.to_string()}),
        Origin::Spec { loc, why } => json!({"spec": loc.to_string(), "why": why}),
        Origin::Hardware {
            feature,
            named_at,
            by,
        } => {
            let by: Vec<_> = by
                .iter()
                .map(|r| json!({"device": r.device, "class": r.class, "report": r.at, "module": r.module, "object": r.object, "makefile": r.line, "directory_gate": r.gate}))
                .collect();
            json!({"feature": feature, "named_at": named_at.to_string(), "devices": by})
        }
    }
}

fn hardware_text(r: &KernelResult) {
    for h in &r.hardware {
        println!(
            "  {}: {} device(s) or module(s) counted (drivers requested as {}), {} skipped",
            h.feature,
            h.needs.len(),
            h.value.as_str(),
            h.skipped.len()
        );
        for n in &h.needs {
            let syms: Vec<String> = n
                .builds
                .iter()
                .flat_map(|b| b.symbols.iter().chain(b.gates.iter()))
                .map(|s| format!("CONFIG_{s}"))
                .collect();
            let syms = if syms.is_empty() {
                "always built".to_string()
            } else {
                syms.join(", ")
            };
            println!("    {} -> {} -> {syms}", n.what, n.module);
        }
        // Skipped devices, grouped by reason.
        let mut reasons: Vec<(&str, usize)> = Vec::new();
        for s in &h.skipped {
            match reasons.iter_mut().find(|(r, _)| *r == s.reason) {
                Some(x) => x.1 += 1,
                None => reasons.push((&s.reason, 1)),
            }
        }
        for (reason, n) in reasons {
            println!("    skipped {n}: {reason}");
        }
    }
}

fn hardware_json(r: &KernelResult) -> serde_json::Value {
    let v: Vec<_> = r
        .hardware
        .iter()
        .map(|h| {
            let needs: Vec<_> = h
                .needs
                .iter()
                .map(|n| {
                    let builds: Vec<_> = n
                        .builds
                        .iter()
                        .map(|b| json!({"object": b.object, "makefile": b.line, "symbols": b.symbols, "gates": b.gates}))
                        .collect();
                    json!({"device": n.what, "class": n.class, "report": n.at, "module": n.module, "how": n.how, "builds": builds})
                })
                .collect();
            let skipped: Vec<_> = h
                .skipped
                .iter()
                .map(|s| json!({"device": s.what, "report": s.at, "reason": s.reason}))
                .collect();
            json!({"feature": h.feature, "report": h.report, "value": h.value.as_str(), "counted": needs, "skipped": skipped})
        })
        .collect();
    json!(v)
}

fn report_text(r: &KernelResult) {
    println!(
        "kernel {}: Linux {}.{} ARCH={}, base {}",
        r.name, r.version.0, r.version.1, r.arch, r.base
    );
    hardware_text(r);
    let ok = r.verdicts.iter().filter(|v| v.holds).count();
    for v in &r.verdicts {
        let want = v.ask.value.describe();
        let who = v.ask.origin.describe();
        if v.holds {
            let why = v
                .ask
                .origin
                .why()
                .map(|w| format!(" — {w}"))
                .unwrap_or_default();
            println!(
                "  ok    CONFIG_{}={}{why}",
                v.ask.name,
                want.trim_matches('"')
            );
        } else {
            let mark = if v.ask.optional { "warn " } else { "FAIL " };
            let got = v.actual.clone().unwrap_or_else(|| "(absent)".into());
            println!(
                "  {mark} CONFIG_{}: requested {want}, got {got}; asked by {who}",
                v.ask.name
            );
            if let Some(w) = v.ask.origin.why() {
                println!("          wanted because: {w}");
            }
            for reason in &v.reasons {
                println!("          {reason}");
            }
        }
    }
    for a in &r.plan.additions {
        println!(
            "  added CONFIG_{}={}: needed by CONFIG_{} ({})",
            a.name,
            a.value.as_str(),
            a.needed_by,
            a.because
        );
    }
    for a in &r.plan.alternatives {
        println!("  note  {a}");
    }
    if r.failed() {
        for c in &r.plan.conflicts {
            println!("  cannot {c}");
        }
    }
    let failed = r
        .verdicts
        .iter()
        .filter(|v| !v.holds && !v.ask.optional)
        .count();
    let warned = r
        .verdicts
        .iter()
        .filter(|v| !v.holds && v.ask.optional)
        .count();
    println!("  {ok} requests hold, {failed} fail, {warned} optional not met");
    match &r.written {
        Some(p) => println!("  wrote {}", p.display()),
        None if r.failed() => println!("  nothing written for {}", r.name),
        None => {}
    }
}

fn report_json(r: &KernelResult) -> serde_json::Value {
    let verdicts: Vec<_> = r
        .verdicts
        .iter()
        .map(|v| {
            json!({"option": v.ask.name, "requested": v.ask.value.describe().trim_matches('"'), "actual": v.actual, "holds": v.holds, "optional": v.ask.optional, "origin": origin_json(&v.ask.origin), "reasons": v.reasons})
        })
        .collect();
    let errs: Vec<_> = r.errors.iter().map(|d| json!({"file": d.file, "line": d.line, "col": d.col, "message": d.message, "hint": d.hint})).collect();
    let adds: Vec<_> = r
        .plan
        .additions
        .iter()
        .map(|a| json!({"option": a.name, "value": a.value.as_str(), "needed_by": a.needed_by, "because": a.because}))
        .collect();
    json!({"kernel": r.name, "version": format!("{}.{}", r.version.0, r.version.1), "arch": r.arch, "base": r.base, "passed": !r.failed(), "requests": verdicts, "added": adds, "alternatives": r.plan.alternatives, "conflicts": r.plan.conflicts, "hardware": hardware_json(r), "errors": errs, "config": r.written.as_ref().map(|p| p.display().to_string())})
}

pub fn run(a: GenerateArgs) -> u8 {
    let spec = match Spec::load(&a.spec) {
        Ok(s) => s,
        Err(d) => {
            print_diags(&d, std::path::Path::new("."));
            return EXIT_ERROR;
        }
    };
    let lib = match Library::for_spec(&spec) {
        Ok(l) => l,
        Err(d) => {
            print_diags(&d, std::path::Path::new("."));
            return EXIT_ERROR;
        }
    };
    let names: Vec<String> = if a.kernels.is_empty() {
        spec.kernels.iter().map(|k| k.name.clone()).collect()
    } else {
        a.kernels.clone()
    };
    for n in &names {
        if spec.kernel(n).is_none() {
            eprintln!("error: the spec has no kernel '{n}'");
            let all: Vec<&str> = spec.kernels.iter().map(|k| k.name.as_str()).collect();
            eprintln!(
                "\nhint: kernels in {}: {}",
                a.spec.display(),
                all.join(", ")
            );
            return EXIT_ERROR;
        }
    }
    let mut code = EXIT_OK;
    let mut json_out = Vec::new();
    for n in &names {
        let r = generate(&spec, n, &lib, Some(&a.out), a.no_cache);
        print_diags(&r.warnings, std::path::Path::new("."));
        print_diags(&r.errors, std::path::Path::new("."));
        match a.format {
            Format::Text => report_text(&r),
            Format::Json => json_out.push(report_json(&r)),
        }
        if !r.errors.is_empty() && r.verdicts.is_empty() {
            code = code.max(EXIT_ERROR);
        } else if r.failed() {
            code = code.max(EXIT_FAILED);
        }
    }
    if let Format::Json = a.format {
        println!(
            "{}",
            serde_json::to_string_pretty(&json_out).unwrap_or_default()
        );
    }
    code
}

/// Check an existing configuration against features or a spec kernel.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The configuration to check (default: the running kernel's
    /// /proc/config.gz, else /boot/config-$(uname -r)).
    #[arg(long, value_name = "FILE", conflicts_with = "running")]
    pub config: Option<PathBuf>,
    /// Check the running kernel's configuration.
    #[arg(long)]
    pub running: bool,
    /// A feature to check (repeatable).
    #[arg(long = "feature", value_name = "NAME")]
    pub features: Vec<String>,
    /// A spec whose kernel's requests to check.
    #[arg(long, value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// The spec's kernel (default: the only one).
    #[arg(long, value_name = "NAME")]
    pub kernel: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

fn running_config() -> Result<(String, Vec<u8>), String> {
    if let Ok(o) = std::process::Command::new("gzip")
        .arg("-dc")
        .arg("/proc/config.gz")
        .output()
    {
        if o.status.success() && !o.stdout.is_empty() {
            return Ok(("/proc/config.gz".into(), o.stdout));
        }
    }
    let rel = std::process::Command::new("uname")
        .arg("-r")
        .output()
        .map_err(|e| format!("uname: {e}"))?;
    let rel = String::from_utf8_lossy(&rel.stdout).trim().to_string();
    let p = format!("/boot/config-{rel}");
    std::fs::read(&p)
        .map(|d| (p.clone(), d))
        .map_err(|e| format!("no /proc/config.gz and cannot read {p}: {e}"))
}

pub fn check(a: CheckArgs) -> u8 {
    use ktailor_spec::check::{check as run_check, collect_for_check, ConfigFile};
    if a.features.is_empty() && a.spec.is_none() {
        eprintln!("error: nothing to check against\n\nhint: give --feature NAME (repeatable) or --spec SPEC");
        return EXIT_ERROR;
    }
    let (name, data) = match &a.config {
        Some(p) => match std::fs::read(p) {
            Ok(d) => (p.display().to_string(), d),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", p.display());
                return EXIT_ERROR;
            }
        },
        None => match running_config() {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}\n\nhint: give --config FILE");
                return EXIT_ERROR;
            }
        },
    };
    let cfg = ConfigFile::parse(&String::from_utf8_lossy(&data));
    let spec = match &a.spec {
        Some(p) => match Spec::load(p) {
            Ok(s) => Some(s),
            Err(d) => {
                print_diags(&d, std::path::Path::new("."));
                return EXIT_ERROR;
            }
        },
        None => None,
    };
    let lib = match &spec {
        Some(s) => match Library::for_spec(s) {
            Ok(l) => l,
            Err(d) => {
                print_diags(&d, std::path::Path::new("."));
                return EXIT_ERROR;
            }
        },
        None => match library() {
            Ok(l) => l,
            Err(c) => return c,
        },
    };
    let kernel = match (&spec, &a.kernel) {
        (Some(_), Some(k)) => Some(k.clone()),
        (Some(s), None) if s.kernels.len() == 1 => Some(s.kernels[0].name.clone()),
        (Some(s), None) => {
            let all: Vec<&str> = s.kernels.iter().map(|k| k.name.as_str()).collect();
            eprintln!(
                "error: the spec declares several kernels\n\nhint: choose one with --kernel: {}",
                all.join(", ")
            );
            return EXIT_ERROR;
        }
        (None, _) => None,
    };
    let sk = spec.as_ref().zip(kernel.as_deref());
    let (asks, warnings) = match collect_for_check(&lib, &a.features, sk, &cfg) {
        Ok(x) => x,
        Err(d) => {
            print_diags(&d, std::path::Path::new("."));
            return EXIT_ERROR;
        }
    };
    print_diags(&warnings, std::path::Path::new("."));
    let results = run_check(asks, &cfg);
    let failed = results
        .iter()
        .filter(|c| !c.holds && !c.ask.optional)
        .count();
    match a.format {
        Format::Json => {
            let v: Vec<_> = results
                .iter()
                .map(|c| json!({"option": c.ask.name, "requested": c.ask.value.describe().trim_matches('"'), "actual": c.actual, "holds": c.holds, "optional": c.ask.optional, "origin": origin_json(&c.ask.origin)}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"config": name, "passed": failed == 0, "checks": v})
                )
                .unwrap_or_default()
            );
        }
        Format::Text => {
            println!("checking {name}");
            for c in &results {
                let mark = if c.holds {
                    "✓"
                } else if c.ask.optional {
                    "~"
                } else {
                    "✗"
                };
                let got = c.actual.clone().unwrap_or_else(|| "absent".into());
                let why = c.ask.origin.why().unwrap_or_default();
                println!(
                    "{mark} CONFIG_{}={} (is {got}) — {why}",
                    c.ask.name,
                    c.ask.value.describe().trim_matches('"')
                );
            }
            let ok = results.iter().filter(|c| c.holds).count();
            println!("{ok} of {} hold, {failed} required fail", results.len());
        }
    }
    if failed == 0 {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
