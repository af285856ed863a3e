//! Integration tests of `ktailor explain`, `enable`, `disable` and `diff`
//! on a small Kconfig tree whose answers are known by construction.
//! Each test gets its own temporary directory; on failure the command, its
//! exit status, stdout and stderr are printed.

mod common;
use common::{ktailor, Tmp};

const TREE: &str = r#"mainmenu "Test"
config MODULES
	bool "modules"
	modules
config NET
	bool "net"
config PCI
	bool "pci"
config ETH
	tristate "eth"
	depends on NET && PCI
config DRV
	tristate "drv"
	depends on ETH
	select HELPER
config HELPER
	tristate
config ALT_A
	bool "alt a"
config ALT_B
	bool "alt b"
config NEEDS_ALT
	bool "needs alt"
	depends on ALT_A || ALT_B
config ANTI
	bool "anti"
	depends on !NET
config HIDDEN
	bool
config WANTS_HIDDEN
	bool "wants hidden"
	depends on HIDDEN
config FORCER
	bool "forcer"
	select HELPER2
config HELPER2
	bool "helper2"
config NUM
	int "num"
	range 1 10
	default 3
config MODONLY
	tristate "module only"
	depends on m
"#;

fn tree(name: &str) -> Tmp {
    let t = Tmp::new(name);
    t.write("Kconfig", TREE);
    let o = ktailor(t.path(), &["kconfig", "allnoconfig", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    t
}

fn line(t: &Tmp, name: &str) -> Option<String> {
    t.read(".config")
        .lines()
        .find(|l| {
            l.starts_with(&format!("CONFIG_{name}=")) || *l == format!("# CONFIG_{name} is not set")
        })
        .map(str::to_string)
}

#[test]
fn enable_pulls_dependencies_in_and_writes_a_fixed_point() {
    let t = tree("enable");
    let before = t.read(".config");
    let o = ktailor(t.path(), &["enable", "DRV", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    for dep in ["NET", "PCI", "ETH"] {
        assert!(
            o.stdout.contains(&format!("+ CONFIG_{dep}=y")),
            "{dep} not in the plan"
        );
    }
    assert_eq!(line(&t, "DRV").as_deref(), Some("CONFIG_DRV=y"));
    assert_eq!(line(&t, "ETH").as_deref(), Some("CONFIG_ETH=y"));
    assert_eq!(line(&t, "HELPER").as_deref(), Some("CONFIG_HELPER=y"));
    assert_eq!(t.read(".config.old"), before);
    // The written configuration is what olddefconfig keeps.
    let written = t.read(".config");
    let o = ktailor(t.path(), &["kconfig", "olddefconfig", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    assert_eq!(t.read(".config"), written);
}

#[test]
fn enable_a_module_needs_modules() {
    let t = tree("module");
    let o = ktailor(t.path(), &["enable", "ETH=m", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("+ CONFIG_MODULES=y"));
    assert_eq!(line(&t, "ETH").as_deref(), Some("CONFIG_ETH=m"));
}

#[test]
fn a_module_only_option_named_without_value_is_asked_as_m() {
    let t = tree("modonly");
    let o = ktailor(t.path(), &["enable", "MODONLY", "-C", "."], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("asking for m"), "{}", o.stdout);
    assert!(o.stdout.contains("+ CONFIG_MODULES=y"), "{}", o.stdout);
    assert_eq!(line(&t, "MODONLY").as_deref(), Some("CONFIG_MODONLY=m"));
    // Asked for explicitly, y stays a request that cannot hold.
    let t = tree("modonly-y");
    let o = ktailor(t.path(), &["enable", "MODONLY=y", "-C", "."], &[]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("proven impossible"), "{}", o.stderr);
}

#[test]
fn a_conflict_names_the_requests_and_rules_with_locations() {
    let t = tree("proof");
    let o = ktailor(t.path(), &["enable", "ANTI", "NET", "-C", "."], &[]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("proven impossible: CONFIG_ANTI=y together with CONFIG_NET=y"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("CONFIG_ANTI (Kconfig:"), "{}", o.stderr);
    // A request that is impossible alone is not blamed on the other one.
    let o = ktailor(t.path(), &["enable", "WANTS_HIDDEN", "NET", "-C", "."], &[]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("proven impossible: CONFIG_WANTS_HIDDEN=y cannot hold"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("CONFIG_HIDDEN (Kconfig:"), "{}", o.stderr);
}

#[test]
fn dry_run_writes_nothing() {
    let t = tree("dry");
    let before = t.read(".config");
    let o = ktailor(t.path(), &["enable", "DRV", "--dry-run", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("+ CONFIG_ETH=y"));
    assert_eq!(t.read(".config"), before);
    assert!(!t.path().join(".config.old").exists());
}

#[test]
fn alternatives_are_chosen_deterministically_and_listed() {
    let t = tree("alt");
    let o = ktailor(
        t.path(),
        &["enable", "NEEDS_ALT", "--dry-run", "-C", "."],
        &[],
    );
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("+ CONFIG_ALT_A=y"), "left side on a tie");
    assert!(!o.stdout.contains("+ CONFIG_ALT_B=y"));
    assert!(o.stdout.contains("--alternatives lists them"));
    let o = ktailor(
        t.path(),
        &[
            "enable",
            "NEEDS_ALT",
            "--dry-run",
            "--alternatives",
            "-C",
            ".",
        ],
        &[],
    );
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("alternatives:"));
    assert!(o.stdout.contains("ALT_B"), "the other side is listed");
}

#[test]
fn impossible_requests_fail_with_the_reason_and_write_nothing() {
    let t = tree("impossible");
    let before = t.read(".config");
    let o = ktailor(t.path(), &["enable", "ANTI", "NET", "-C", "."], &[]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("CONFIG_ANTI=y cannot hold"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("!NET"), "{}", o.stderr);
    assert_eq!(t.read(".config"), before);

    let o = ktailor(t.path(), &["enable", "WANTS_HIDDEN", "-C", "."], &[]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("HIDDEN"), "{}", o.stderr);
    assert!(o.stderr.contains("no prompt"), "{}", o.stderr);
    assert_eq!(t.read(".config"), before);

    // Out of range: the engine falls back to the default, so it cannot hold.
    let o = ktailor(t.path(), &["enable", "NUM=42", "-C", "."], &[]);
    assert_eq!(o.code, 1);
    assert_eq!(t.read(".config"), before);
    let o = ktailor(t.path(), &["enable", "NUM=7", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    assert_eq!(line(&t, "NUM").as_deref(), Some("CONFIG_NUM=7"));
}

#[test]
fn disable_follows_selects() {
    let t = tree("disable");
    let o = ktailor(t.path(), &["enable", "FORCER", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    assert_eq!(line(&t, "HELPER2").as_deref(), Some("CONFIG_HELPER2=y"));
    let o = ktailor(t.path(), &["disable", "HELPER2", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("+ CONFIG_FORCER=n"), "{}", o.stdout);
    assert_eq!(
        line(&t, "HELPER2").as_deref(),
        Some("# CONFIG_HELPER2 is not set")
    );
    assert_eq!(
        line(&t, "FORCER").as_deref(),
        Some("# CONFIG_FORCER is not set")
    );
}

#[test]
fn bad_requests_are_errors() {
    let t = tree("bad");
    let o = ktailor(t.path(), &["enable", "DRVV", "-C", "."], &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("did you mean 'DRV'"), "{}", o.stderr);
    let o = ktailor(t.path(), &["enable", "NET=m", "-C", "."], &[]);
    assert_eq!(o.code, 2);
    let o = ktailor(t.path(), &["enable", "NUM", "-C", "."], &[]);
    assert_eq!(o.code, 2);
    let o = ktailor(t.path(), &["enable", "NUM=x1", "-C", "."], &[]);
    assert_eq!(o.code, 2);
    let o = ktailor(t.path(), &["disable", "NUM", "-C", "."], &[]);
    assert_eq!(o.code, 2);
    let o = ktailor(
        t.path(),
        &["enable", "NET", "-C", ".", "--config", "missing"],
        &[],
    );
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("missing"), "{}", o.stderr);
}

#[test]
fn explain_shows_value_why_dependencies_and_the_plan() {
    let t = tree("explain");
    let o = ktailor(t.path(), &["explain", "CONFIG_ETH", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout.starts_with("CONFIG_ETH: tristate = n\n"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("Depends on: NET [=n] && PCI [=n]"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("Defined at Kconfig:9"), "{}", o.stdout);
    assert!(o.stdout.contains("To enable it"), "{}", o.stdout);
    assert!(o.stdout.contains("+ CONFIG_NET=y"), "{}", o.stdout);

    ktailor(t.path(), &["enable", "DRV", "-C", "."], &[]);
    let o = ktailor(t.path(), &["explain", "HELPER", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("selected by DRV [=y]"), "{}", o.stdout);
    let o = ktailor(t.path(), &["explain", "NUM", "-C", "."], &[]);
    assert!(o.stdout.contains("CONFIG_NUM: integer = 3"), "{}", o.stdout);
    assert!(o.stdout.contains("Range : [1 10]"), "{}", o.stdout);
}

#[test]
fn diff_lists_removed_added_changed() {
    let t = Tmp::new("diff");
    t.write(
        "a",
        "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\nCONFIG_D=1\n",
    );
    t.write("b", "CONFIG_A=m\nCONFIG_B=y\nCONFIG_C=\"x\"\nCONFIG_E=y\n");
    let o = ktailor(t.path(), &["diff", "a", "b"], &[]);
    assert_eq!(o.code, 0);
    assert_eq!(o.stdout, "-D 1\n+E y\n A y -> m\n B n -> y\n");
    let o = ktailor(t.path(), &["diff", "a", "b", "--format", "json"], &[]);
    assert_eq!(o.code, 0);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["changed"][0]["name"], "A");
    assert_eq!(v["added"][0]["new"], "y");
    t.write("bad", "CONFIG_A=y\ngarbage\n");
    let o = ktailor(t.path(), &["diff", "a", "bad"], &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("bad:2"), "{}", o.stderr);
}

#[test]
fn diff_by_menu_groups_with_prompts() {
    let t = Tmp::new("bymenu");
    t.write(
        "Kconfig",
        "menu \"Networking\"\nconfig NET\n\tbool \"net\"\nendmenu\nconfig TOP\n\tbool \"top\"\n",
    );
    t.write("a", "# CONFIG_NET is not set\n");
    t.write("b", "CONFIG_NET=y\nCONFIG_TOP=y\n");
    let o = ktailor(t.path(), &["diff", "a", "b", "--by-menu", "-C", "."], &[]);
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stdout,
        "(top level):\n  +TOP y  \"top\"\nNetworking:\n   NET n -> y  \"net\"\n"
    );
}

#[test]
fn upgrade_reports_new_vanished_renamed_and_changed() {
    let t = Tmp::new("upgrade");
    t.write(
        "old/Kconfig",
        "config KEEP\n\tbool \"keep\"\nconfig OLDNAME\n\tbool \"Frobnicate the widget\"\nconfig GONE\n\tbool \"gone\"\nconfig DEP\n\tbool \"dep\"\n",
    );
    t.write(
        "new/Kconfig",
        "config KEEP\n\tbool \"keep\"\nconfig NEWNAME\n\tbool \"Frobnicate the widget\"\nconfig FRESH\n\tbool \"fresh\"\n\tdefault KEEP\nconfig DEP\n\tbool \"dep\"\n\tdepends on GATE\nconfig GATE\n\tbool \"gate\"\n",
    );
    t.write(
        "old.config",
        "CONFIG_KEEP=y\nCONFIG_OLDNAME=y\nCONFIG_GONE=y\nCONFIG_DEP=y\n",
    );
    let o = ktailor(
        t.path(),
        &[
            "upgrade",
            "old.config",
            "-C",
            "new",
            "-O",
            "out",
            "--from",
            "old",
        ],
        &[],
    );
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("+FRESH y  (not set in the configuration: its default applies; default KEEP [=y] (Kconfig:7))"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("-OLDNAME y  (likely renamed: NEWNAME has the same prompt or help, now n)"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("-GONE y\n"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("-DEP y  (its prompt is not visible (depends on GATE [=n])"),
        "{}",
        o.stdout
    );
    let written = t.read("new/out/.config");
    assert!(written.contains("CONFIG_FRESH=y\n"));
    // The written file is what olddefconfig on the new tree gives.
    let o = ktailor(
        t.path(),
        &["kconfig", "olddefconfig", "-C", "new", "-O", "out"],
        &[],
    );
    assert_eq!(o.code, 0);
    assert_eq!(t.read("new/out/.config"), written);
}

#[test]
fn an_option_of_another_architecture_cannot_hold() {
    let t = tree("other-arch");
    t.write(
        "arch/arm64/Kconfig",
        "config ARM64_ONLY\n\tbool \"arm64 only\"\n",
    );
    let before = t.read(".config");
    let o = ktailor(t.path(), &["enable", "ARM64_ONLY", "-C", "."], &[]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("defined only for another architecture (arch/arm64/Kconfig:1)"),
        "{}",
        o.stderr
    );
    assert_eq!(t.read(".config"), before);
    // A name defined nowhere is an error in the request.
    let o = ktailor(t.path(), &["enable", "NOWHERE", "-C", "."], &[]);
    assert_eq!(o.code, 2, "{}", o.stderr);
}
