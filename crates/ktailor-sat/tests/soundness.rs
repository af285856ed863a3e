//! The encoding against the exact engine on real trees: every rule opened,
//! the configuration the engine computed must satisfy the clauses with
//! every option held at its value. A rule encoded too strictly (one the
//! engine can violate) makes this unsatisfiable, and the test names the
//! options whose rules conflict with the engine's values.
//!
//! These tests need the Debian trees from scripts/setup-trees.sh; they are
//! `#[ignore]`d in a plain `cargo test`, scripts/test.sh runs them with
//! `--include-ignored`, and then a missing tree is a failure, not a skip.

use std::path::PathBuf;

use ktailor_kconfig::conf::Mode;
use ktailor_kconfig::Kconfig;
use ktailor_sat::encode::{is_variable, Encoder};
use ktailor_tree::{open, Target, TreeOptions};

fn trees() -> PathBuf {
    match std::env::var_os("KTAILOR_TREES") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/ktailor/trees"),
    }
}

/// Settles `target` (with `config` as the input .config) on a tree.
fn settle(ver: &str, target: Target, config: Option<&str>) -> Kconfig {
    let src = trees().join(format!("linux-source-{ver}"));
    assert!(
        src.join("Makefile").is_file(),
        "{} is not a kernel tree: run scripts/setup-trees.sh (or set KTAILOR_TREES)",
        src.display()
    );
    // One object tree per call: tests run in parallel.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let obj = std::env::temp_dir().join(format!(
        "ktailor-sat-soundness-{ver}-{}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&obj).expect("temp dir");
    let opts = TreeOptions {
        srctree: src,
        arch: Some("x86".into()),
        objtree: Some(obj.clone()),
        config: Some(obj.join(".config")),
        kconfig: None,
        dialect: None,
        no_cache: false,
        make_vars: Vec::new(),
    };
    let tree = open(&opts).unwrap_or_else(|e| panic!("open {ver}: {:?}", e.diags));
    let input = config.map(|c| {
        let p = trees().join("configs").join(ver).join(c);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    });
    let out = tree
        .run(&target, input)
        .unwrap_or_else(|e| panic!("run: {:?}", e.diags));
    let _ = std::fs::remove_dir_all(&obj);
    out.kconfig
}

/// Opens every rule and checks the engine's values satisfy them all.
fn check(mut k: Kconfig) {
    let n = k.syms.len();
    let mut enc = Encoder::new(&mut k);
    let mut acts = Vec::new();
    for i in 0..n {
        let s = ktailor_kconfig::SymId(i as u32);
        if is_variable(enc.k, s) {
            acts.extend(enc.open(s));
        }
    }
    let mut assume = acts.clone();
    assume.extend(enc.frozen.iter().map(|f| f.lit));
    let order = enc.order.clone();
    let keeps: Vec<_> = order.iter().map(|&s| (s, enc.keep(s))).collect();
    assume.extend(keeps.iter().map(|k| k.1));
    assert!(enc.order.len() > 1000, "the tree has options");
    if enc.solve(&assume) == Some(true) {
        return;
    }
    // Name the culprits: the opened rules in the core, minimised.
    let core = enc.core();
    let mut culprits = Vec::new();
    for &s in &order {
        if let Some(o) = enc.opened(s) {
            if core.contains(&o.act) {
                culprits.push(enc.k.sym_name(s));
            }
        }
    }
    culprits.truncate(40);
    panic!(
        "the engine's configuration violates the encoding; rules involved: {}",
        culprits.join(" ")
    );
}

#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn debian_amd64_6_12() {
    check(settle(
        "6.12",
        Target::Mode(Mode::OldDefconfig, None),
        Some("config.amd64_none_amd64"),
    ));
}

#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn debian_rt_6_12() {
    check(settle(
        "6.12",
        Target::Mode(Mode::OldDefconfig, None),
        Some("config.amd64_rt_amd64"),
    ));
}

#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn defconfig_6_12() {
    check(settle(
        "6.12",
        Target::Mode(
            Mode::Defconfig,
            Some("arch/x86/configs/x86_64_defconfig".into()),
        ),
        None,
    ));
}

#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn tinyconfig_6_12() {
    check(settle("6.12", Target::Tiny, None));
}

#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn allmodconfig_6_12() {
    check(settle("6.12", Target::Mode(Mode::AllModconfig, None), None));
}

#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn debian_amd64_6_1() {
    check(settle(
        "6.1",
        Target::Mode(Mode::OldDefconfig, None),
        Some("config.amd64_none_amd64"),
    ));
}

#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn defconfig_6_1() {
    check(settle(
        "6.1",
        Target::Mode(
            Mode::Defconfig,
            Some("arch/x86/configs/x86_64_defconfig".into()),
        ),
        None,
    ));
}
