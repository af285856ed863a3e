//! The module → CONFIG index on real kernel trees (Debian's 6.12 and 6.1
//! sources from scripts/setup-trees.sh), and the index cache on a small
//! tree written by the test.
//!
//! The tree tests are `#[ignore]`d in a plain `cargo test`;
//! scripts/test.sh runs them with `--include-ignored`, and then a missing
//! tree is a failure, not a skip.

use std::path::{Path, PathBuf};

use ktailor_hw::input;
use ktailor_hw::kbuild::{CacheUse, Index};
use ktailor_hw::map::{map, Context, Row};

fn trees() -> PathBuf {
    match std::env::var_os("KTAILOR_TREES") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/ktailor/trees"),
    }
}

fn tree(ver: &str) -> PathBuf {
    let t = trees().join(format!("linux-source-{ver}"));
    assert!(
        t.join("Makefile").is_file(),
        "{} is not a kernel tree: run scripts/setup-trees.sh (or set KTAILOR_TREES)",
        t.display()
    );
    t
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn map_file(index: &Index, file: &Path) -> Vec<Row> {
    let inp = input::read(file).expect("input parses");
    map(
        &inp,
        &Context {
            index,
            aliases: None,
            config: None,
            pci_ids: None,
            usb_ids: None,
            cache_dir: None,
        },
    )
}

/// The symbols of the module's own obj- line(s), and whether `gate` is in
/// every gating alternative of its directory.
fn symbols(rows: &[Row], module: &str) -> Vec<String> {
    let r = rows
        .iter()
        .find(|r| r.module.as_deref() == Some(module))
        .unwrap_or_else(|| panic!("no row for {module}"));
    assert!(r.unmapped.is_none(), "{module}: {:?}", r.unmapped);
    let mut s: Vec<String> = r.hits.iter().flat_map(|h| h.symbols.clone()).collect();
    s.sort();
    s.dedup();
    s
}

fn gated_by(rows: &[Row], module: &str, sym: &str) -> bool {
    rows.iter()
        .filter(|r| r.module.as_deref() == Some(module))
        .flat_map(|r| &r.hits)
        .all(|h| {
            !h.gated_by.is_empty() && h.gated_by.iter().all(|alt| alt.iter().any(|s| s == sym))
        })
}

/// What each module of seed 001's `lspci -k` listing is built by, read off
/// the 6.12 Makefiles and Kconfig files:
/// - amdgpu: drivers/gpu/drm/amd/amdgpu/Makefile `obj-$(CONFIG_DRM_AMDGPU) += amdgpu.o`
/// - nvme: drivers/nvme/host/Makefile `obj-$(CONFIG_BLK_DEV_NVME) += nvme.o`
///   (BLK_DEV_NVME selects NVME_CORE, which builds nvme-core)
/// - pcie_mp2_amd: the driver name of amd_sfh_pcie.c, a part of amd_sfh.o,
///   `obj-$(CONFIG_AMD_SFH_HID)`
/// - snd_rn_pci_acp3x: sound/soc/amd/renoir `obj-$(CONFIG_SND_SOC_AMD_RENOIR)`
/// - iwlwifi: `obj-$(CONFIG_IWLWIFI) += iwlwifi.o`
/// - xhci_hcd: drivers/usb/host `obj-$(CONFIG_USB_XHCI_HCD) += xhci-hcd.o`,
///   and, since "xhci_hcd" is also the name xhci-pci.c registers its
///   pci_driver under (`hcd_name[]`), `obj-$(CONFIG_USB_XHCI_PCI) +=
///   xhci-pci.o`: the PCI controller needs both
/// - snd_hda_intel: sound/pci/hda `obj-$(CONFIG_SND_HDA_INTEL) += snd-hda-intel.o`
/// - pcieport: the driver name of portdrv.c, a part of pcieportdrv.o,
///   `obj-$(CONFIG_PCIEPORTBUS)` (bool: always built in)
/// - ccp: drivers/crypto/ccp `obj-$(CONFIG_CRYPTO_DEV_CCP_DD) += ccp.o`
/// - piix4_smbus: the driver name of i2c-piix4.c, `obj-$(CONFIG_I2C_PIIX4)`
const SEED_001: &[(&str, &str)] = &[
    ("amdgpu", "DRM_AMDGPU"),
    ("nvme", "BLK_DEV_NVME"),
    ("pcie_mp2_amd", "AMD_SFH_HID"),
    ("snd_rn_pci_acp3x", "SND_SOC_AMD_RENOIR"),
    ("iwlwifi", "IWLWIFI"),
    ("xhci_hcd", "USB_XHCI_HCD USB_XHCI_PCI"),
    ("snd_hda_intel", "SND_HDA_INTEL"),
    ("pcieport", "PCIEPORTBUS"),
    ("ccp", "CRYPTO_DEV_CCP_DD"),
    ("piix4_smbus", "I2C_PIIX4"),
];

#[test]
#[ignore = "needs the kernel trees from scripts/setup-trees.sh"]
fn seed_001_lspci_maps_on_6_12() {
    let index = Index::build(&tree("6.12"), "x86").expect("index");
    let rows = map_file(&index, &fixture("seed-001-lspci-k.txt"));
    assert_eq!(rows.len(), 15, "one row per listed device");
    for (module, sym) in SEED_001 {
        let want: Vec<String> = sym.split(' ').map(str::to_string).collect();
        assert_eq!(symbols(&rows, module), want, "{module}");
    }
    // Directory gating inherited from the parent Makefiles.
    assert!(gated_by(&rows, "iwlwifi", "WLAN_VENDOR_INTEL"));
    assert!(gated_by(&rows, "snd_rn_pci_acp3x", "SND_SOC"));
    assert!(gated_by(&rows, "ccp", "CRYPTO_DEV_CCP"));
    assert!(gated_by(&rows, "pcie_mp2_amd", "HID_SUPPORT"));
    // Found through the driver name, and said so.
    let via: Vec<&str> = rows
        .iter()
        .filter(|r| r.module.as_deref() == Some("pcieport"))
        .flat_map(|r| r.hits.iter().map(|h| h.via.as_str()))
        .collect();
    assert!(
        via.iter()
            .all(|v| v.starts_with("driver name in drivers/pci/pcie/portdrv.c:")),
        "{via:?}"
    );
}

#[test]
#[ignore = "needs the kernel trees from scripts/setup-trees.sh"]
fn modules_map_on_6_1_and_colliding_names_use_the_path() {
    let index = Index::build(&tree("6.1"), "x86").expect("index");
    let hits = index.lookup("e1000e", None);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].object, "drivers/net/ethernet/intel/e1000e/e1000e.o");
    assert_eq!(hits[0].symbols, ["E1000E"]);
    assert!(
        hits[0]
            .gated_by
            .iter()
            .all(|a| a.contains(&"NET_VENDOR_INTEL".to_string())),
        "{hits:?}"
    );
    // `-` and `_` are the same in module names.
    assert_eq!(
        index.lookup("snd-hda-intel", None)[0].symbols,
        ["SND_HDA_INTEL"]
    );
    // A basename several directories build: the modules.dep path picks one.
    let all = index.lookup("core", None);
    assert!(all.len() > 1, "{all:?}");
    let one = index.lookup(
        "core",
        Some(&format!(
            "kernel/{}.ko",
            all[1].object.trim_end_matches(".o")
        )),
    );
    assert_eq!(one, vec![all[1].clone()]);
    // Objects of other architectures are not reached.
    assert!(index
        .lookup("sun4i_drm", None)
        .iter()
        .all(|h| !h.object.starts_with("arch/")));
    assert!(index
        .dirs
        .keys()
        .all(|d| !d.starts_with("arch/") || d.starts_with("arch/x86")));
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
    std::fs::write(p, text).expect("write");
}

#[test]
fn the_cache_is_used_only_while_every_makefile_is_unchanged() {
    let root = std::env::temp_dir().join(format!("ktailor-hw-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let tree = root.join("tree");
    let cache = root.join("cache");
    write(&tree, "Kbuild", "obj-y += drivers/\n");
    write(&tree, "Makefile", "");
    write(&tree, "drivers/Makefile", "obj-$(CONFIG_FOO) += foo/\n");
    write(
        &tree,
        "drivers/foo/Makefile",
        "obj-$(CONFIG_FOO_DRV) += foo_drv.o\n",
    );
    let (a, u1) = Index::load(&tree, "x86_64", Some(&cache)).expect("index");
    let (b, u2) = Index::load(&tree, "x86_64", Some(&cache)).expect("index");
    assert_eq!((u1, u2), (CacheUse::Built, CacheUse::Hit));
    assert_eq!(a.lookup("foo_drv", None), b.lookup("foo_drv", None));
    assert_eq!(
        b.lookup("foo_drv", None)[0].gated_by,
        vec![vec!["FOO".to_string()]]
    );
    // A changed Makefile (different size) misses the cache.
    write(
        &tree,
        "drivers/foo/Makefile",
        "obj-$(CONFIG_FOO_DRIVER) += foo_drv.o\n",
    );
    let (c, u3) = Index::load(&tree, "x86_64", Some(&cache)).expect("index");
    assert_eq!(u3, CacheUse::Built);
    assert_eq!(c.lookup("foo_drv", None)[0].symbols, ["FOO_DRIVER"]);
    // So does a Kbuild file appearing where there was only a Makefile.
    write(
        &tree,
        "drivers/foo/Kbuild",
        "obj-$(CONFIG_BAR) += foo_drv.o\n",
    );
    let (d, u4) = Index::load(&tree, "x86_64", Some(&cache)).expect("index");
    assert_eq!(u4, CacheUse::Built);
    assert_eq!(d.lookup("foo_drv", None)[0].symbols, ["BAR"]);
    let _ = std::fs::remove_dir_all(&root);
}
