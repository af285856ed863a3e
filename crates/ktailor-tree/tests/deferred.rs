//! A configuration read with its values computed as they are asked for
//! (`OpenTree::read_deferred`) against the same configuration settled in
//! full: every option, computed in the reverse of the order `conf_read`
//! computes them, must get the value (as conf shows it), visibility and
//! write flag the full pass gives it, and the configuration written from
//! it must be the same.
//!
//! These tests need the Debian trees from scripts/setup-trees.sh; they are
//! `#[ignore]`d in a plain `cargo test`, scripts/test.sh runs them with
//! `--include-ignored`, and then a missing tree is a failure, not a skip.

use std::path::PathBuf;

use ktailor_kconfig::{flags, SymId};
use ktailor_tree::{open, OpenTree, TreeOptions};

fn trees() -> PathBuf {
    match std::env::var_os("KTAILOR_TREES") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/ktailor/trees"),
    }
}

fn tree(ver: &str, obj: &std::path::Path) -> OpenTree {
    let src = trees().join(format!("linux-source-{ver}"));
    assert!(
        src.join("Makefile").is_file(),
        "{} is not a kernel tree: run scripts/setup-trees.sh (or set KTAILOR_TREES)",
        src.display()
    );
    std::fs::create_dir_all(obj).expect("temp dir");
    let opts = TreeOptions {
        srctree: src,
        arch: Some("x86".into()),
        objtree: Some(obj.to_path_buf()),
        config: Some(obj.join(".config")),
        kconfig: None,
        dialect: None,
        no_cache: false,
        make_vars: Vec::new(),
    };
    open(&opts).unwrap_or_else(|e| panic!("open {ver}: {:?}", e.diags))
}

fn check(ver: &str, config: &str) {
    let obj = std::env::temp_dir().join(format!(
        "ktailor-deferred-{ver}-{config}-{}",
        std::process::id()
    ));
    let t = tree(ver, &obj);
    let p = trees().join("configs").join(ver).join(config);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut full = t
        .settle(bytes.clone())
        .unwrap_or_else(|e| panic!("settle: {:?}", e.diags))
        .kconfig;
    let mut lazy = t
        .read_deferred(bytes)
        .unwrap_or_else(|e| panic!("read_deferred: {:?}", e.diags));
    let n = full.syms.len();
    assert_eq!(n, lazy.syms.len());
    assert!(n > 10_000, "the tree has options");
    let mut wrong = Vec::new();
    for i in (0..n).rev() {
        let s = SymId(i as u32);
        lazy.sym_calc_value(s);
        // The value as conf shows it (a bool's or tristate's string is its
        // tristate), its visibility and whether it is written.
        let seen = |k: &ktailor_kconfig::Kconfig| {
            let sym = k.sym(s);
            (
                k.sym_string_value_now(s),
                sym.visible,
                sym.flags & flags::WRITE != 0,
            )
        };
        let (a, b) = (seen(&full), seen(&lazy));
        if a != b {
            wrong.push(format!("{} {a:?}/{b:?}", full.sym_name(s)));
        }
    }
    wrong.truncate(20);
    assert!(
        wrong.is_empty(),
        "computed as asked for, these differ from the full pass: {}",
        wrong.join(" ")
    );
    assert!(
        t.config_text(&mut lazy) == t.config_text(&mut full),
        "the configuration written differs"
    );
    let _ = std::fs::remove_dir_all(&obj);
}

#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn debian_amd64_6_12() {
    check("6.12", "config.amd64_none_amd64");
}

#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn debian_cloud_6_12() {
    check("6.12", "config.amd64_none_cloud-amd64");
}

#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn debian_rt_6_12() {
    check("6.12", "config.amd64_rt_amd64");
}

/// 6.1 is read in full (its `conf_read` changes user values after the
/// pass), so this holds trivially; it guards the fallback.
#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn debian_amd64_6_1() {
    check("6.1", "config.amd64_none_amd64");
}

/// The resolver's loads (`expect_loads`): the first from the spare copy
/// made while decoding, then copies, then the tree as parsed, then
/// beyond the announced count a fresh decode. Each must evaluate exactly
/// as a tree opened for that one evaluation does, whatever ran before on
/// the others.
#[test]
#[ignore = "needs the kernel trees (scripts/test.sh runs it)"]
fn announced_loads_are_independent_trees() {
    let obj = std::env::temp_dir().join(format!("ktailor-loads-{}", std::process::id()));
    let read = |c: &str| {
        let p = trees().join("configs/6.12").join(c);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let configs = [
        read("config.amd64_none_amd64"),
        read("config.amd64_none_cloud-amd64"),
        read("config.amd64_rt_amd64"),
        read("config.amd64_none_amd64"),
    ];
    let alone: Vec<Vec<u8>> = configs
        .iter()
        .map(|c| {
            let t = tree("6.12", &obj);
            let mut k = t.settle(c.clone()).expect("settle").kconfig;
            t.config_text(&mut k)
        })
        .collect();
    let t = tree("6.12", &obj);
    t.expect_loads(3);
    let mut first = t.read_deferred(configs[0].clone()).expect("read_deferred");
    let mut later = Vec::new();
    for c in &configs[1..] {
        later.push(t.settle(c.clone()).expect("settle").kconfig);
    }
    assert!(
        t.config_text(&mut first) == alone[0],
        "the first load differs"
    );
    for (i, k) in later.iter_mut().enumerate() {
        assert!(t.config_text(k) == alone[i + 1], "load {} differs", i + 2);
    }
    let _ = std::fs::remove_dir_all(&obj);
}
