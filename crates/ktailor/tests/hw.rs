//! `ktailor probe` and `ktailor hw` from the command line: the probe of
//! the machine the tests run on (checked against /sys and /proc read
//! independently here), the input formats, bad input, and the mapping on
//! the real 6.12 tree (`#[ignore]`d in a plain `cargo test`; scripts/
//! test.sh runs it, and then a missing tree fails).

use std::path::{Path, PathBuf};

mod common;
use common::{Out, Tmp};

fn ktailor(dir: &Path, args: &[&str]) -> Out {
    common::ktailor(dir, args, &[])
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ktailor-hw/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn entries(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn probe_reports_this_machine() {
    let t = Tmp::new("probe");
    let o = ktailor(t.path(), &["probe", "--output", "report.json"]);
    assert_eq!(o.code, 0);
    // Written atomically: the report and nothing else.
    assert_eq!(entries(&t.path().display().to_string()), ["report.json"]);
    let text = std::fs::read_to_string(t.path().join("report.json")).expect("report");
    let r: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(r["schema_version"], 1);

    // The CPU: /proc/cpuinfo has processors, so the report has them.
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("cpuinfo");
    let processors = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    assert_eq!(r["cpu"]["count"], processors as u64);
    if let Some(l) = cpuinfo.lines().find(|l| l.starts_with("vendor_id")) {
        let v = l.split_once(':').map(|x| x.1.trim()).unwrap_or("");
        assert_eq!(r["cpu"]["vendor"], v);
        assert!(!r["cpu"]["flags"].as_array().expect("flags").is_empty());
    }

    // Every device of every bus, with its bound driver.
    let mut sys_devices = Vec::new();
    for bus in entries("/sys/bus") {
        for d in entries(&format!("/sys/bus/{bus}/devices")) {
            let drv = std::fs::read_link(format!("/sys/bus/{bus}/devices/{d}/driver"))
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
            sys_devices.push((bus.clone(), d, drv));
        }
    }
    let devices = r["devices"].as_array().expect("devices");
    let reported: Vec<(String, String, Option<String>)> = devices
        .iter()
        .map(|d| {
            (
                d["bus"].as_str().unwrap_or("").to_string(),
                d["id"].as_str().unwrap_or("").to_string(),
                d["driver"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(reported, sys_devices);

    // Loaded modules: exactly /proc/modules (absent on a kernel without
    // modules, as in some containers).
    let modules = r["modules"].as_array().expect("modules");
    match std::fs::read_to_string("/proc/modules") {
        Ok(m) => assert_eq!(modules.len(), m.lines().count()),
        Err(_) => assert!(modules.is_empty()),
    }
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .filter_map(|x| x["name"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(names(&r["block_devices"]), entries("/sys/block"));
    assert_eq!(names(&r["net_interfaces"]), entries("/sys/class/net"));
    let mounts = std::fs::read_to_string("/proc/mounts").expect("mounts");
    for fs in mounts.lines().filter_map(|l| l.split_whitespace().nth(2)) {
        assert!(
            r["filesystems_mounted"]
                .as_array()
                .expect("fs")
                .iter()
                .any(|x| x == fs),
            "{fs}"
        );
    }

    // And `ktailor hw` reads it back.
    t.write("Kbuild", "obj-y += drivers/\n");
    t.write("drivers/Makefile", "obj-$(CONFIG_VIRTIO) += virtio/\n");
    t.write(
        "drivers/virtio/Makefile",
        "obj-$(CONFIG_VIRTIO_BLK) += virtio_blk.o\n",
    );
    let o = ktailor(t.path(), &["hw", "report.json", "--format", "json"]);
    assert_eq!(o.code, 0);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["format"], "report");
}

/// A small tree: drivers/net gated by NETDEVICES, e1000e in it, and
/// pcieport registered by name in a composite object.
fn small_tree(t: &Tmp) {
    t.write("Kbuild", "obj-y += drivers/\n");
    t.write("Makefile", "");
    t.write(
        "drivers/Makefile",
        "obj-$(CONFIG_NETDEVICES) += net/\nobj-y += pci/\n",
    );
    t.write(
        "drivers/net/Makefile",
        "obj-$(CONFIG_E1000E) += e1000e/ \\\n\tdummy/\n",
    );
    t.write(
        "drivers/net/e1000e/Makefile",
        "obj-$(CONFIG_E1000E) += e1000e.o\ne1000e-objs := netdev.o\n",
    );
    t.write(
        "drivers/pci/Makefile",
        "pcieportdrv-y := portdrv.o\nobj-$(CONFIG_PCIEPORTBUS) += pcieportdrv.o\n",
    );
    t.write(
        "drivers/pci/portdrv.c",
        "static struct pci_driver pcie_portdriver = {\n\t.name\t\t= \"pcieport\",\n};\n",
    );
}

#[test]
fn hw_maps_a_module_list_and_reports_what_it_cannot_map() {
    let t = Tmp::new("list");
    small_tree(&t);
    t.write("modules.txt", "# modules\ne1000e\nnosuchmodule\n");
    t.write(
        "config",
        "CONFIG_NETDEVICES=y\nCONFIG_E1000E=m\n# CONFIG_PCIEPORTBUS is not set\n",
    );
    let o = ktailor(t.path(), &["hw", "modules.txt", "--config", "config"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout
            .contains("drivers/net/e1000e/e1000e.o -> CONFIG_E1000E=m"),
        "{}",
        o.stdout
    );
    assert!(o
        .stdout
        .contains("directory gated by CONFIG_NETDEVICES=y && CONFIG_E1000E=m"));
    assert!(o
        .stdout
        .contains("module nosuchmodule: listed\n    NOT MAPPED: no Makefile"));
    assert!(o.stderr.contains("2 rows, 1 not mapped"), "{}", o.stderr);

    let o = ktailor(
        t.path(),
        &[
            "hw",
            "modules.txt",
            "--config",
            "config",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.code, 0);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["format"], "module list");
    assert_eq!(v["rows"][0]["config"], "m");
    assert_eq!(v["rows"][0]["hits"][0]["symbols"][0], "E1000E");
    assert_eq!(v["rows"][1]["module"], "nosuchmodule");
    assert!(v["rows"][1]["unmapped"].is_string());
}

#[test]
fn hw_reads_lspci_lsmod_and_matches_modaliases() {
    let t = Tmp::new("formats");
    small_tree(&t);
    // Full `lspci -k`: the bound driver's name is found in the sources.
    t.write(
        "lspci.txt",
        "00:08.1 PCI bridge [0604]: AMD Renoir PCIe GPP Bridge [1022:1635]\n\tKernel driver in use: pcieport\n",
    );
    let o = ktailor(t.path(), &["hw", "lspci.txt"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout
            .contains("drivers/pci/pcieportdrv.o -> CONFIG_PCIEPORTBUS"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("driver name in drivers/pci/portdrv.c:2"));

    t.write(
        "lsmod.txt",
        "Module                  Size  Used by\ne1000e                323584  0\n",
    );
    let o = ktailor(t.path(), &["hw", "lsmod.txt"]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("module e1000e: loaded"), "{}", o.stdout);

    // A report device with no driver bound: every alias match is mapped.
    t.write(
        "report.json",
        r#"{"schema_version": 1, "devices": [{"bus": "pci", "id": "0000:00:1f.6",
            "modalias": "pci:v00008086d000015BBsv000017AAsd0000225Abc02sc00i00"}]}"#,
    );
    let o = ktailor(
        t.path(),
        &[
            "hw",
            "report.json",
            "--modules-alias",
            &fixture("modules.alias"),
        ],
    );
    assert_eq!(o.code, 0);
    assert!(
        o.stdout.contains("module e1000e: modalias match"),
        "{}",
        o.stdout
    );
}

#[test]
fn bad_input_is_an_error_with_file_and_line() {
    let t = Tmp::new("bad");
    small_tree(&t);
    let cases: &[(&str, &str, &str)] = &[
        (
            "malformed.json",
            "{\n  \"schema_version\": 1,\n  \"devices\": [\n    {\"bus\": \"pci\",}\n  ]\n}\n",
            "malformed.json:4: error: malformed JSON",
        ),
        (
            "firmware.json",
            r#"{"schema_version": 1, "modules": [{"name": "iwlwifi", "firmware": ["../../etc/shadow"]}]}"#,
            "modules[0].firmware: firmware name '../../etc/shadow' has an empty, '.' or '..' path component",
        ),
        (
            "long.json",
            &format!(
                r#"{{"schema_version": 1, "devices": [{{"bus": "pci", "id": "x", "modalias": "pci:{}"}}]}}"#,
                "v".repeat(5000)
            ),
            "devices[0].modalias: modalias longer than 1024 characters",
        ),
        (
            "newer.json",
            r#"{"schema_version": 7}"#,
            "unsupported schema_version 7",
        ),
        (
            "list.txt",
            "e1000e\nsnd_hda_intel\nrm -rf /\n",
            "list.txt:3: error: module name 'rm -rf /' has the character ' '",
        ),
        (
            "lspci.txt",
            "03:00.0 Class 0300: 1002:1638 amdgpu\n03:00.1 Class zzzz: 1002:1637 snd_hda_intel\n",
            "lspci.txt:2: error: expected `SLOT Class CCCC: VVVV:DDDD [DRIVER]`",
        ),
        (
            "lsmod.txt",
            "Module                  Size  Used by\nnvme 61440\n",
            "lsmod.txt:2: error: expected `NAME SIZE USED",
        ),
    ];
    for (name, text, want) in cases {
        t.write(name, text);
        let o = ktailor(t.path(), &["hw", name]);
        assert_eq!(o.code, 2, "{name}");
        assert!(o.stderr.contains(want), "{name}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{name}: no data on error");
    }
    // Larger than the cap: refused before it is parsed.
    let big = std::fs::File::create(t.path().join("big.json")).expect("create");
    big.set_len((64 << 20) + 1).expect("sparse file");
    let o = ktailor(t.path(), &["hw", "big.json"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("big.json: error: larger than 64 MiB"),
        "{}",
        o.stderr
    );
    // Not a kernel tree.
    let o = ktailor(t.path(), &["hw", "list.txt", "-C", "nonexistent"]);
    assert_eq!(o.code, 2);
}

fn tree_6_12() -> String {
    let trees = match std::env::var_os("KTAILOR_TREES") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/ktailor/trees"),
    };
    let t = trees.join("linux-source-6.12");
    assert!(
        t.join("Makefile").is_file(),
        "{} is missing: run scripts/setup-trees.sh",
        t.display()
    );
    t.display().to_string()
}

#[test]
#[ignore = "needs the kernel trees from scripts/setup-trees.sh"]
fn seed_001_on_6_12_from_the_command_line() {
    let t = Tmp::new("seed");
    let tree = tree_6_12();
    let o = ktailor(
        t.path(),
        &[
            "hw",
            &fixture("seed-001-lspci-k.txt"),
            "-C",
            &tree,
            "--arch",
            "x86_64",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.code, 0);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 15);
    assert!(rows.iter().all(|r| r["unmapped"].is_null()));
    let iwl = rows
        .iter()
        .find(|r| r["module"] == "iwlwifi")
        .expect("iwlwifi");
    assert_eq!(iwl["hits"][0]["symbols"][0], "IWLWIFI");
    // The second run reads the index from the cache.
    let o = ktailor(
        t.path(),
        &[
            "hw",
            &fixture("seed-001-lspci-k.txt"),
            "-C",
            &tree,
            "--arch",
            "x86_64",
            "--format",
            "json",
        ],
    );
    assert!(o.stderr.contains("(Hit,"), "{}", o.stderr);
    let v2: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v, v2);
}

#[test]
#[ignore = "needs the kernel trees from scripts/setup-trees.sh"]
fn built_in_drivers_get_their_firmware_listed() {
    let t = Tmp::new("firmware");
    let tree = tree_6_12();
    // r8169 declares its firmware through macros
    // (`MODULE_FIRMWARE(FIRMWARE_8168D_1)`); one file is present.
    t.write("fw/rtl_nic/rtl8168d-1.fw", "firmware");
    t.write("modules.txt", "r8169\n");
    t.write(
        "config",
        "CONFIG_NET=y\nCONFIG_NETDEVICES=y\nCONFIG_ETHERNET=y\nCONFIG_NET_VENDOR_REALTEK=y\nCONFIG_R8169=y\n",
    );
    let args = [
        "hw",
        "modules.txt",
        "-C",
        &tree,
        "--config",
        "config",
        "--firmware-dir",
        "fw",
    ];
    let o = ktailor(t.path(), &[&args[..], &["--format", "json"]].concat());
    assert_eq!(o.code, 0);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert_eq!(v["rows"][0]["config"], "y");
    assert_eq!(
        v["firmware"]["extra_firmware"],
        serde_json::json!(["rtl_nic/rtl8168d-1.fw"])
    );
    let missing = v["firmware"]["missing"].as_array().expect("missing");
    assert!(
        missing.iter().any(|m| m == "rtl_nic/rtl8125a-3.fw"),
        "{missing:?}"
    );
    // As a module (=m) it loads firmware from the root filesystem: nothing
    // to build in.
    t.write(
        "config",
        "CONFIG_NET=y\nCONFIG_NETDEVICES=y\nCONFIG_ETHERNET=y\nCONFIG_NET_VENDOR_REALTEK=y\nCONFIG_R8169=m\n",
    );
    let o = ktailor(t.path(), &[&args[..], &["--format", "json"]].concat());
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    assert!(v["firmware"].is_null());
}

/// `small_tree` with a Kconfig, and a sound driver the reports below
/// use as the unrelated device.
fn spec_tree(t: &Tmp) {
    small_tree(t);
    t.write(
        "Kconfig",
        "mainmenu \"test\"\nconfig MODULES\n\tbool \"modules\"\n\tmodules\nconfig PCI\n\tbool \"pci\"\nconfig NETDEVICES\n\tbool \"network devices\"\nconfig E1000E\n\ttristate \"e1000e\"\n\tdepends on NETDEVICES && PCI\nconfig PCIEPORTBUS\n\tbool \"pcie ports\"\n\tdepends on PCI\n",
    );
}

/// A probe report: the NIC the tree builds, and a sound card it does not.
const SPEC_REPORT: &str = r#"{
  "schema_version": 1,
  "devices": [
    {
      "bus": "pci",
      "id": "0000:00:03.0",
      "vendor": "0x8086",
      "device": "0x10d3",
      "class": "0x020000",
      "modalias": "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00",
      "driver": "e1000e",
      "module": "e1000e"
    },
    {
      "bus": "pci",
      "id": "0000:00:1b.0",
      "class": "0x040300",
      "driver": "snd_hda_intel",
      "module": "snd_hda_intel"
    }
  ]
}
"#;

fn generate_json(t: &Tmp) -> (Out, serde_json::Value) {
    let o = ktailor(
        t.path(),
        &["generate", "spec.toml", "--out", "out", "--format", "json"],
    );
    let v = serde_json::from_str(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o, v)
}

#[test]
fn spec_hardware_requests_the_drivers_of_the_selected_devices() {
    let t = Tmp::new("spec-hw");
    spec_tree(&t);
    t.write("report.json", SPEC_REPORT);
    t.write(
        "spec.toml",
        "[kernel.k]\nsource = \".\"\nbase = \"allnoconfig\"\nhardware = [{ report = \"report.json\", classes = [\"network\"] }]\n",
    );
    let (o, v) = generate_json(&t);
    assert_eq!(o.code, 0);
    let k = &v[0];
    assert_eq!(k["passed"], true);
    let req = |name: &str| -> serde_json::Value {
        k["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .find(|r| r["option"] == name)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    // No modules in this kernel: the driver is requested built in.
    let e = req("E1000E");
    assert_eq!((&e["requested"], &e["actual"]), (&"y".into(), &"y".into()));
    assert_eq!(e["origin"]["feature"], "hardware:report");
    assert_eq!(e["origin"]["named_at"], "spec.toml:4:13");
    let dev = &e["origin"]["devices"][0];
    assert_eq!(dev["device"], "pci 0000:00:03.0 [8086:10d3]");
    assert_eq!(dev["class"], "network");
    assert_eq!(dev["report"], "./report.json:4 (devices[0])");
    assert_eq!(dev["module"], "e1000e");
    assert_eq!(dev["object"], "drivers/net/e1000e/e1000e.o");
    // drivers/Makefile descends into net/ only with NETDEVICES.
    let g = req("NETDEVICES");
    assert_eq!(g["origin"]["devices"][0]["directory_gate"], true);
    // PCI comes from Kconfig (E1000E depends on it), added by the resolver.
    assert!(k["added"]
        .as_array()
        .expect("added")
        .iter()
        .any(|a| a["option"] == "PCI" && a["needed_by"] == "E1000E"));
    // The sound card is skipped by class, and said so.
    let skipped = &k["hardware"][0]["skipped"];
    assert_eq!(skipped[0]["device"], "pci 0000:00:1b.0");
    assert_eq!(skipped[0]["reason"], "class multimedia not selected");
    assert!(t.read("out/k/.config").contains("CONFIG_E1000E=y\n"));

    // With modules, drivers are requested as modules.
    t.write(
        "spec.toml",
        "[kernel.k]\nsource = \".\"\nbase = \"allnoconfig\"\nset = { MODULES = \"y\" }\nhardware = [{ report = \"report.json\", classes = [\"network\"] }]\n",
    );
    let (o, v) = generate_json(&t);
    assert_eq!(o.code, 0);
    assert_eq!(v[0]["hardware"][0]["value"], "m");
    assert!(t.read("out/k/.config").contains("CONFIG_E1000E=m\n"));
}

#[test]
fn spec_hardware_errors_name_the_spec_entry_and_the_report_line() {
    let t = Tmp::new("spec-hw-errors");
    spec_tree(&t);
    t.write("report.json", SPEC_REPORT);
    // Every device: the sound card's module is built by no Makefile here.
    t.write(
        "spec.toml",
        "[kernel.k]\nsource = \".\"\nbase = \"allnoconfig\"\nhardware = [\"report.json\"]\n",
    );
    let o = ktailor(t.path(), &["generate", "spec.toml", "--out", "out"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("spec.toml:4:13: error: hardware report 'report.json': ./report.json:14 (devices[1]): pci 0000:00:1b.0: module snd_hda_intel cannot be mapped"),
        "{}",
        o.stderr
    );
    assert!(!t.path().join("out/k/.config").exists());
    // optional: a warning, and the kernel passes with what maps (its
    // requests are optional too: applied, not resolved, so PCI is set).
    t.write(
        "spec.toml",
        "[kernel.k]\nsource = \".\"\nbase = \"allnoconfig\"\nhardware = [{ report = \"report.json\", optional = true }]\nset = { PCI = \"y\" }\n",
    );
    let o = ktailor(t.path(), &["generate", "spec.toml", "--out", "out"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stderr.contains("spec.toml:4:13: warning:"),
        "{}",
        o.stderr
    );
    assert!(t.read("out/k/.config").contains("CONFIG_E1000E=y\n"));

    // A missing report, and an invalid one (the report's line).
    t.write(
        "spec.toml",
        "[kernel.k]\nsource = \".\"\nbase = \"allnoconfig\"\n\nhardware = [\"missing.json\"]\n",
    );
    let o = ktailor(t.path(), &["generate", "spec.toml", "--out", "out"]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains(
            "spec.toml:5:13: error: hardware report 'missing.json': ./missing.json: cannot read"
        ),
        "{}",
        o.stderr
    );
    t.write(
        "bad.json",
        &SPEC_REPORT.replace("\"driver\": \"snd_hda_intel\"", "\"driver\": \"snd/hda\""),
    );
    t.write(
        "spec.toml",
        "[kernel.k]\nsource = \".\"\nbase = \"allnoconfig\"\nhardware = [\"bad.json\"]\n",
    );
    let o = ktailor(t.path(), &["generate", "spec.toml", "--out", "out"]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains(
            "spec.toml:4:13: error: hardware report 'bad.json': ./bad.json:14: devices[1].driver"
        ),
        "{}",
        o.stderr
    );
    // An unknown class is a spec error, with the classes listed.
    t.write(
        "spec.toml",
        "[kernel.k]\nsource = \".\"\nhardware = [{ report = \"report.json\", classes = [\"nic\"] }]\n",
    );
    let o = ktailor(t.path(), &["generate", "spec.toml", "--out", "out"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("spec.toml:3:13: error: hardware: unknown device class 'nic'"),
        "{}",
        o.stderr
    );
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixture's devices with a bound driver: (bus id, driver, class code).
fn fixture_devices() -> Vec<(String, String, String, Option<String>)> {
    let text = std::fs::read_to_string(repo().join("examples/hardware/qemu-guest.json"))
        .expect("the QEMU guest fixture");
    let r: serde_json::Value = serde_json::from_str(&text).expect("json");
    r["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .filter(|d| d["driver"].is_string())
        .map(|d| {
            (
                d["bus"].as_str().unwrap_or("").to_string(),
                d["id"].as_str().unwrap_or("").to_string(),
                d["driver"].as_str().unwrap_or("").to_string(),
                d["class"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn config_value(config: &str, sym: &str) -> String {
    for l in config.lines() {
        if let Some(v) = l.strip_prefix(&format!("CONFIG_{sym}=")) {
            return v.to_string();
        }
    }
    "n".into()
}

#[test]
#[ignore = "needs the kernel trees from scripts/setup-trees.sh"]
fn qemu_guest_probe_drives_the_fortros_preboot() {
    // The NIC and disk drivers bound in the guest, and the symbol each
    // builds it in 6.12 (from the Makefiles: drivers/net/Makefile
    // `obj-$(CONFIG_VIRTIO_NET) += virtio_net.o`, drivers/block/Makefile
    // VIRTIO_BLK, drivers/net/ethernet/intel/e1000e/Makefile E1000E,
    // drivers/nvme/host/Makefile `obj-$(CONFIG_BLK_DEV_NVME) += nvme.o`,
    // drivers/ata/Makefile `obj-$(CONFIG_SATA_AHCI) += ahci.o libahci.o`,
    // drivers/virtio/Makefile VIRTIO_PCI (the PCI functions of the virtio
    // devices), drivers/scsi/Makefile `obj-$(CONFIG_BLK_DEV_SD) +=
    // sd_mod.o` (the disk behind the AHCI port)).
    let drivers: &[(&str, &str)] = &[
        ("virtio_net", "VIRTIO_NET"),
        ("virtio_blk", "VIRTIO_BLK"),
        ("e1000e", "E1000E"),
        ("nvme", "BLK_DEV_NVME"),
        ("ahci", "SATA_AHCI"),
        ("virtio-pci", "VIRTIO_PCI"),
        ("sd", "BLK_DEV_SD"),
    ];
    // The directories kbuild must descend into for them: drivers/net/
    // Makefile `obj-$(CONFIG_ETHERNET) += ethernet/`, drivers/net/ethernet/
    // Makefile `obj-$(CONFIG_NET_VENDOR_INTEL) += intel/`, drivers/Makefile
    // `obj-$(CONFIG_ATA) += ata/` (the others are obj-y).
    let gates = ["ETHERNET", "NET_VENDOR_INTEL", "ATA"];
    // The guest's other devices and the symbol of their driver (for the
    // built-in ones, the object registering the driver name).
    let unrelated: &[(&str, Option<&str>)] = &[
        ("bochs-drm", Some("DRM_BOCHS")),
        ("lpc_ich", Some("LPC_ICH")),
        ("i801_smbus", Some("I2C_I801")),
        ("fw_cfg", Some("FW_CFG_SYSFS")),
        ("iTCO_wdt", Some("ITCO_WDT")),
        ("pcspkr", Some("INPUT_PCSPKR")),
        ("i8042", Some("SERIO_I8042")),
        ("i8042 kbd", Some("SERIO_I8042")),
        ("i8042 aux", Some("SERIO_I8042")),
        ("atkbd", Some("KEYBOARD_ATKBD")),
        ("psmouse", Some("MOUSE_PS2")),
        ("parport_pc", Some("PARPORT_PC")),
        ("rtc_cmos", Some("RTC_DRV_CMOS")),
        ("serial8250", Some("SERIAL_8250")),
        ("serial", Some("SERIAL_8250")),
        ("reg-dummy", Some("REGULATOR")),
        ("button", Some("ACPI_BUTTON")),
        ("processor", Some("ACPI_PROCESSOR")),
        // kernel/time/Makefile and drivers/pnp/Makefile: obj-y.
        ("alarmtimer", None),
        ("system", None),
    ];
    let devices = fixture_devices();
    for (bus, id, drv, _) in &devices {
        assert!(
            drivers.iter().any(|(d, _)| d == drv) || unrelated.iter().any(|(d, _)| d == drv),
            "{bus} {id}: driver {drv} is in neither list (a new fixture?)"
        );
    }
    for (d, _) in drivers {
        assert!(
            devices.iter().any(|x| x.2 == *d),
            "the fixture has no device bound to {d}"
        );
    }

    let t = Tmp::new("fortros-preboot");
    let spec = repo().join("examples/fortros.toml");
    let spec = spec.to_str().expect("path");
    let o = common::run(
        t.path(),
        &[
            "generate", spec, "--kernel", "preboot", "--out", "with", "--format", "json",
        ],
        &[],
        None,
    );
    assert_eq!(o.code, 0, "the preboot kernel fails the gate");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
    let k = &v[0];
    assert_eq!(k["version"], "6.12");
    let config = t.read("with/preboot/.config");

    // Exactly the drivers and their directories are requested by the
    // report, built in (the preboot kernel has no modules), and hold.
    let hw: Vec<&serde_json::Value> = k["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter(|r| r["origin"]["feature"] == "hardware:qemu-guest")
        .collect();
    let mut asked: Vec<&str> = hw.iter().filter_map(|r| r["option"].as_str()).collect();
    asked.sort();
    let mut want: Vec<&str> = drivers.iter().map(|(_, s)| *s).chain(gates).collect();
    want.sort();
    want.dedup();
    assert_eq!(asked, want);
    for r in &hw {
        assert_eq!(r["requested"], "y", "{r}");
        assert_eq!(r["holds"], true, "{r}");
    }
    // Each device's driver symbol names that device (device -> module ->
    // CONFIG), and is y in the written configuration.
    for (bus, id, drv, _) in devices
        .iter()
        .filter(|d| drivers.iter().any(|x| x.0 == d.2))
    {
        let sym = drivers
            .iter()
            .find(|x| x.0 == *drv)
            .map(|x| x.1)
            .unwrap_or("");
        let r = hw.iter().find(|r| r["option"] == sym).expect("request");
        let named = r["origin"]["devices"]
            .as_array()
            .expect("devices")
            .iter()
            .any(|d| {
                d["device"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(&format!("{bus} {id}")))
                    && d["directory_gate"] == false
            });
        assert!(named, "CONFIG_{sym} does not name {bus} {id}: {r}");
        assert_eq!(config_value(&config, sym), "y", "CONFIG_{sym}");
    }

    // Nothing of the unrelated devices slipped in: the same spec without
    // the hardware entry gives each of their symbols the same value (some
    // are on anyway: a feature asks for SERIAL_8250, and Kconfig defaults
    // turn on the PC keyboard and ACPI button drivers in any x86 kernel).
    let text = std::fs::read_to_string(repo().join("examples/fortros.toml")).expect("spec");
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("hardware = "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(without, text, "the preboot kernel has no hardware entry");
    t.write("without.toml", &without);
    let o = common::run(
        t.path(),
        &[
            "generate",
            "without.toml",
            "--kernel",
            "preboot",
            "--out",
            "without",
        ],
        &[],
        None,
    );
    assert_eq!(o.code, 0);
    let base = t.read("without/preboot/.config");
    for (drv, sym) in unrelated {
        let Some(sym) = sym else { continue };
        assert_eq!(
            config_value(&config, sym),
            config_value(&base, sym),
            "CONFIG_{sym} (driver {drv}) changed because of the hardware entry"
        );
    }
    for (_, sym) in drivers {
        assert_eq!(
            config_value(&base, sym),
            "n",
            "CONFIG_{sym} without hardware"
        );
    }
}

#[test]
fn localmodconfig_keeps_used_modules_and_puts_back_what_they_rest_on() {
    let t = Tmp::new("localmod");
    small_tree(&t);
    t.write(
        "drivers/Makefile",
        "obj-$(CONFIG_NETDEVICES) += net/\nobj-y += pci/\nobj-$(CONFIG_LIBPHY) += libphy.o\n",
    );
    t.write(
        "Kconfig",
        "mainmenu \"test\"
config MODULES
\tbool \"modules\"
\tmodules
config PCI
\tbool \"pci\"
config NETDEVICES
\tbool \"network devices\"
config COMPILE_TEST
\tbool \"compile test\"
config PTP
\ttristate \"ptp clocks\"
config PINCTRL
\ttristate \"pin control\"
config E1000E
\ttristate \"e1000e\"
\tdepends on NETDEVICES && PCI && PTP && (PINCTRL || COMPILE_TEST)
config OTHER_PHY
\ttristate \"other phy\"
\tselect LIBPHY
config MDIO
\ttristate \"mdio\"
\tselect LIBPHY
config LIBPHY
\ttristate
config SND
\ttristate \"sound\"
config PCIEPORTBUS
\tbool \"pcie ports\"
\tdepends on PCI
",
    );
    let config = "CONFIG_MODULES=y\nCONFIG_PCI=y\nCONFIG_NETDEVICES=y\n# CONFIG_COMPILE_TEST is not set\nCONFIG_PTP=m\nCONFIG_PINCTRL=m\nCONFIG_E1000E=m\n# CONFIG_OTHER_PHY is not set\nCONFIG_MDIO=m\nCONFIG_LIBPHY=m\nCONFIG_SND=m\n# CONFIG_PCIEPORTBUS is not set\n";
    t.write(".config", config);
    t.write(
        "lsmod.txt",
        "Module                  Size  Used by\ne1000e                323584  0\nnosuchmodule 1 0\nlibphy 1 0\n",
    );
    let o = ktailor(t.path(), &["localmodconfig", "lsmod.txt", "-C", "."]);
    assert_eq!(o.code, 0);
    let new = t.read(".config");
    assert!(new.contains("CONFIG_E1000E=m\n"), "{new}");
    // No loaded module builds PTP or PINCTRL, but E1000E rests on them:
    // put back. `PINCTRL || COMPILE_TEST` brings back PINCTRL, which was
    // on, never COMPILE_TEST.
    assert!(new.contains("CONFIG_PTP=m\n"), "{new}");
    assert!(new.contains("CONFIG_PINCTRL=m\n"), "{new}");
    assert!(new.contains("# CONFIG_COMPILE_TEST is not set\n"), "{new}");
    assert!(o
        .stdout
        .contains("put back CONFIG_PTP=m: needed by CONFIG_E1000E"));
    // libphy has no prompt: its selector that was on (MDIO, not
    // OTHER_PHY) comes back.
    assert!(new.contains("CONFIG_LIBPHY=m\n"), "{new}");
    assert!(new.contains("CONFIG_MDIO=m\n"), "{new}");
    assert!(new.contains("# CONFIG_OTHER_PHY is not set\n"), "{new}");
    // Unused: switched off. Unmappable: said so, not dropped silently.
    assert!(new.contains("# CONFIG_SND is not set\n"), "{new}");
    assert!(o
        .stderr
        .contains("lsmod.txt:3: module nosuchmodule: module nosuchmodule is not kept"));
    // Written atomically, the previous configuration kept.
    assert_eq!(t.read(".config.old"), config);

    // --dry-run writes nothing; a second run changes nothing.
    let o = ktailor(
        t.path(),
        &["localmodconfig", "lsmod.txt", "-C", ".", "--dry-run"],
    );
    assert_eq!(o.code, 0);
    assert_eq!(t.read(".config"), new);
    let o = ktailor(t.path(), &["localmodconfig", "lsmod.txt", "-C", "."]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("is unchanged"), "{}", o.stdout);
    // Bad input is an error, nothing written.
    t.write("bad.txt", "Module Size Used by\ne1000e x 0\n");
    let o = ktailor(t.path(), &["localmodconfig", "bad.txt", "-C", "."]);
    assert_eq!(o.code, 2);
    assert_eq!(t.read(".config"), new);
}

/// A `.config`'s values (`# CONFIG_X is not set` is `n`).
fn config_values(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::new();
    for l in text.lines() {
        if let Some(r) = l.strip_prefix("CONFIG_") {
            if let Some((k, v)) = r.split_once('=') {
                m.insert(k.to_string(), v.to_string());
            }
        } else if let Some(r) = l.strip_prefix("# CONFIG_") {
            if let Some(k) = r.strip_suffix(" is not set") {
                m.insert(k.to_string(), "n".to_string());
            }
        }
    }
    m
}

#[test]
#[ignore = "needs the kernel trees from scripts/setup-trees.sh"]
fn localmodconfig_matches_make_localmodconfig_up_to_explained_differences() {
    let trees = match std::env::var_os("KTAILOR_TREES") {
        Some(t) => PathBuf::from(t),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/ktailor/trees"),
    };
    let src = trees.join("linux-source-6.12");
    let input = std::fs::read_to_string(trees.join("configs/6.12/config.amd64_none_amd64"))
        .expect("Debian's amd64 6.12 config (scripts/setup-trees.sh)");
    let t = Tmp::new("localmod-make");
    // lsmod of the QEMU guest: the fixture's loaded modules.
    let text =
        std::fs::read_to_string(repo().join("examples/hardware/qemu-guest.json")).expect("fixture");
    let r: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut lsmod = String::from("Module                  Size  Used by\n");
    for m in r["modules"].as_array().expect("modules") {
        lsmod.push_str(&format!(
            "{:<24}{:>8}  0\n",
            m["name"].as_str().unwrap_or(""),
            0
        ));
    }
    let lsmod_path = t.write("lsmod.txt", &lsmod);
    t.write("make/.config", &input);
    t.write("ktailor/.config", &input);

    // The kernel's own target (conf --oldconfig asks about options that
    // become visible: take the defaults, as `yes ''` would).
    let mut child = std::process::Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(&src)
        .arg(format!("O={}", t.path().join("make").display()))
        .arg("ARCH=x86_64")
        .arg(format!("LSMOD={}", lsmod_path.display()))
        .arg("localmodconfig")
        .env("LOCALMODCONFIG_DEBUG", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run make");
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        // make may exit before reading it all.
        let _ = stdin.write_all(&vec![b'\n'; 4096]);
    }
    let out = child.wait_with_output().expect("make");
    let debug = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "make localmodconfig failed:\n{debug}");

    // (-O is relative to the source tree, as make's O= after -C.)
    let objtree = t.path().join("ktailor");
    let o = ktailor(
        t.path(),
        &[
            "localmodconfig",
            "lsmod.txt",
            "-C",
            src.to_str().expect("path"),
            "-O",
            objtree.to_str().expect("path"),
            "--arch",
            "x86_64",
        ],
    );
    assert_eq!(o.code, 0);
    assert_eq!(t.read("ktailor/.config.old"), input);
    let before = config_values(&input);
    let make = config_values(&t.read("make/.config"));
    let ours = config_values(&t.read("ktailor/.config"));
    let get = |m: &std::collections::BTreeMap<String, String>, k: &str| {
        m.get(k).cloned().unwrap_or_else(|| "n".into())
    };

    // The guest's drivers are kept by both (built in or modules, as
    // Debian's config has them).
    for s in [
        "E1000E",
        "BLK_DEV_NVME",
        "SATA_AHCI",
        "VIRTIO_NET",
        "VIRTIO_BLK",
        "VIRTIO_PCI",
        "BLK_DEV_SD",
    ] {
        assert_ne!(get(&ours, s), "n", "CONFIG_{s}");
        assert_eq!(get(&ours, s), get(&before, s), "CONFIG_{s}");
        assert_eq!(get(&make, s), get(&before, s), "CONFIG_{s} (make)");
    }
    // Most modules are switched off.
    let modules =
        |m: &std::collections::BTreeMap<String, String>| m.values().filter(|v| *v == "m").count();
    assert!(modules(&ours) < modules(&before) / 20);

    // Every difference belongs to an explained class
    // (docs/hardware.md, "localmodconfig and make localmodconfig").
    let keys: std::collections::BTreeSet<&String> = make.keys().chain(ours.keys()).collect();
    let mut ikconfig = Vec::new();
    let mut several_lines = Vec::new();
    let mut unexplained = Vec::new();
    for k in keys {
        let (m, o) = (get(&make, k), get(&ours, k));
        if m == o {
            continue;
        }
        // streamline_config.pl turns IKCONFIG on as a module when it is
        // off ("enable IKCONFIG at least as a module").
        if k == "IKCONFIG" && get(&before, k) == "n" && m == "m" && o == "n" {
            ikconfig.push(k.clone());
            continue;
        }
        // make keeps every option whose obj- line lists a loaded module's
        // object; ktailor keeps one way to build it, and another line that
        // builds the same module is kept.
        if m == "m" && o == "n" {
            let tag = format!("CONFIG_{k} added by direct (");
            let module = debug.lines().find_map(|l| {
                l.strip_prefix(&tag)
                    .and_then(|r| r.strip_suffix(')'))
                    .map(str::to_string)
            });
            if let Some(module) = module {
                let other_kept = debug.lines().any(|l| {
                    l.ends_with(&format!(" added by direct ({module})"))
                        && l.strip_prefix("CONFIG_")
                            .and_then(|r| r.split_once(' '))
                            .is_some_and(|(s, _)| s != k && get(&ours, s) != "n")
                });
                if other_kept {
                    several_lines.push(format!("{k} ({module})"));
                    continue;
                }
            }
        }
        unexplained.push(format!("{k}: make {m}, ktailor {o}"));
    }
    assert!(
        unexplained.is_empty(),
        "differences from make localmodconfig that no class explains:\n{}",
        unexplained.join("\n")
    );
    // Both classes occur on this input: Debian's config has IKCONFIG off,
    // and drivers/ata/Makefile lists libahci.o on the SATA_ACARD_AHCI line
    // (=m in Debian's config) as well as on ahci's.
    assert_eq!(ikconfig, ["IKCONFIG"]);
    assert!(
        several_lines
            .iter()
            .any(|s| s == "SATA_ACARD_AHCI (libahci)"),
        "{several_lines:?}"
    );
}
