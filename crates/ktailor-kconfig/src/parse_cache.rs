//! Reusing a parsed tree across runs.
//!
//! [`parse_cached`] parses through recording wrappers that note every file
//! opened (with its identity: resolved path, size, modification time) and
//! every `$(shell,...)` command with its output, and stores them next to a
//! [`crate::Kconfig::snapshot`]. A later run with the same context (working
//! directory, Kconfig file, dialect, environment, engine version) reuses the
//! snapshot only if every file still has the same identity and every
//! command still gives the same output (through the caller's shell, which
//! may itself be cached and validate programs). Anything else re-parses:
//! a stale cache can cost time, never change a result.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::parser::{parse, FileLoader, ParseError, ParseInput};
use crate::preprocess::Shell;
use crate::snapshot::HelpStore;
use crate::Kconfig;

/// A cache file: this line, the length of the part every run reads (a
/// little-endian `u64`), that part (the context, the files and commands
/// with their identities and outputs, the snapshot), then the snapshot's
/// help section, read only when a help text is asked for.
const MAGIC: &[u8] = b"ktailor-parse-cache 2\n";

struct RecLoader<'a> {
    inner: &'a mut dyn FileLoader,
    files: Vec<(String, String)>,
}

impl FileLoader for RecLoader<'_> {
    fn open(&mut self, name: &str) -> Option<Vec<u8>> {
        let id = self.inner.identity(name);
        self.files.push((name.to_string(), id));
        self.inner.open(name)
    }
    fn identity(&mut self, name: &str) -> String {
        self.inner.identity(name)
    }
}

struct RecShell<'a> {
    inner: &'a mut dyn Shell,
    cmds: Vec<(String, Vec<u8>)>,
}

impl Shell for RecShell<'_> {
    fn run(&mut self, cmd: &str) -> std::io::Result<Vec<u8>> {
        let out = self.inner.run(cmd)?;
        self.cmds.push((cmd.to_string(), out.clone()));
        Ok(out)
    }
}

/// Where a context's cache file lives.
pub fn cache_path(dir: &Path, context: &str) -> PathBuf {
    dir.join(format!(
        "parse-{:016x}",
        crate::shell::bytes_hash(context.as_bytes())
    ))
}

fn put(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

fn take<'a>(d: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = u64::from_le_bytes(d.get(..8)?.try_into().ok()?) as usize;
    let b = d.get(8..8 + n)?;
    *d = &d[8 + n..];
    Some(b)
}

/// Tries the cache; on a miss parses and stores. Returns the tree and
/// whether it came from the cache. `context` must describe everything
/// besides files and commands that the parse depends on. `spare_copy`
/// asks a decoded tree for a spare copy ([`Kconfig::take_spare_copy`]).
pub fn parse_cached(
    input: ParseInput,
    dir: &Path,
    context: &str,
    spare_copy: bool,
) -> Result<(Kconfig, bool), ParseError> {
    let path = cache_path(dir, context);
    let ParseInput {
        dialect,
        kconfig,
        loader,
        env,
        shell,
    } = input;
    if let Some((data, help)) = read_cache(&path) {
        if let Some(k) = validate(&data, context, loader, shell, help, spare_copy) {
            // The parse read these environment variables: they must be
            // unchanged too.
            if k.env_used
                .iter()
                .all(|(n, v)| env(n).as_deref() == Some(v.as_str()))
            {
                return Ok((k, true));
            }
        }
    }
    let mut rl = RecLoader {
        inner: loader,
        files: Vec::new(),
    };
    let mut rs = RecShell {
        inner: shell,
        cmds: Vec::new(),
    };
    let k = parse(ParseInput {
        dialect,
        kconfig,
        loader: &mut rl,
        env,
        shell: &mut rs,
    })?;
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&0u64.to_le_bytes());
    put(&mut out, context.as_bytes());
    out.extend_from_slice(&(rl.files.len() as u64).to_le_bytes());
    for (n, id) in &rl.files {
        put(&mut out, n.as_bytes());
        put(&mut out, id.as_bytes());
    }
    out.extend_from_slice(&(rs.cmds.len() as u64).to_le_bytes());
    for (c, o) in &rs.cmds {
        put(&mut out, c.as_bytes());
        put(&mut out, o);
    }
    put(&mut out, &k.snapshot());
    let main = (out.len() - MAGIC.len() - 8) as u64;
    out[MAGIC.len()..MAGIC.len() + 8].copy_from_slice(&main.to_le_bytes());
    out.extend_from_slice(&k.help_section());
    // A cache that cannot be written only costs time.
    let _ = std::fs::create_dir_all(dir);
    let _ = crate::confdata::write_atomic(&path, &out, false);
    crate::shell::evict(dir, "parse-", 16);
    Ok((k, false))
}

/// Reads a cache file's main part, and opens its help section for
/// reading later.
fn read_cache(path: &Path) -> Option<(Vec<u8>, Arc<HelpStore>)> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path).ok()?;
    let size = f.metadata().ok()?.len();
    let mut head = vec![0; MAGIC.len() + 8];
    f.read_exact(&mut head).ok()?;
    let main = head.strip_prefix(MAGIC)?;
    let main = u64::from_le_bytes(main.try_into().ok()?);
    let help_at = (head.len() as u64).checked_add(main)?;
    if help_at > size {
        return None;
    }
    // Two halves read at once: most of the cost is the kernel providing
    // fresh pages for the copy, which the two cores then share.
    let mut data = vec![0; main as usize];
    let at = head.len() as u64;
    let (first, second) = data.split_at_mut(main as usize / 2);
    let second_at = at + first.len() as u64;
    let file = &f;
    let read = std::thread::scope(|scope| {
        use std::os::unix::fs::FileExt as _;
        let other = scope.spawn(move || file.read_exact_at(second, second_at));
        let a = file.read_exact_at(first, at);
        a.is_ok() && other.join().is_ok_and(|b| b.is_ok())
    });
    if !read {
        return None;
    }
    let help = HelpStore::in_file(f, help_at, (size - help_at) as usize);
    Some((data, Arc::new(help)))
}

fn validate(
    data: &[u8],
    context: &str,
    loader: &mut dyn FileLoader,
    shell: &mut dyn Shell,
    help: Arc<HelpStore>,
    spare_copy: bool,
) -> Option<Kconfig> {
    let mut d = data;
    if take(&mut d)? != context.as_bytes() {
        return None;
    }
    let mut files = Vec::new();
    for _ in 0..count(&mut d)? {
        files.push((std::str::from_utf8(take(&mut d)?).ok()?, take(&mut d)?));
    }
    let mut cmds = Vec::new();
    for _ in 0..count(&mut d)? {
        cmds.push((std::str::from_utf8(take(&mut d)?).ok()?, take(&mut d)?));
    }
    let snap = take(&mut d)?;
    // Decoding does not depend on the checks: it runs alongside them.
    std::thread::scope(|scope| {
        let decoded = scope.spawn(|| Kconfig::from_snapshot(snap, help, spare_copy));
        let fresh = files
            .iter()
            .all(|(name, id)| loader.identity(name).as_bytes() == *id)
            && cmds
                .iter()
                .all(|(cmd, out)| shell.run(cmd).is_ok_and(|o| o == *out));
        let k = decoded.join().ok()?;
        if fresh {
            k
        } else {
            None
        }
    })
}

fn count(d: &mut &[u8]) -> Option<u64> {
    let n = u64::from_le_bytes(d.get(..8)?.try_into().ok()?);
    *d = &d[8..];
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::{Mode, RunInput};
    use crate::confdata::DataOptions;
    use crate::parser::FsLoader;
    use crate::Dialect;

    struct CountingShell(u32);
    impl Shell for CountingShell {
        fn run(&mut self, cmd: &str) -> std::io::Result<Vec<u8>> {
            self.0 += 1;
            Ok(format!("{}\n", cmd.len()).into_bytes())
        }
    }

    fn alldef(k: &mut Kconfig) -> Vec<u8> {
        run_mode(k, Mode::AllDefconfig, None)
    }

    /// Runs `mode` on `k` with `config` (if any) as its `.config`; the
    /// configuration written.
    fn run_mode(k: &mut Kconfig, mode: Mode, config: Option<&[u8]>) -> Vec<u8> {
        let env = |_: &str| None;
        let mut open = |n: &str| {
            config
                .filter(|_| n == ".config")
                .map(|c| (n.to_string(), c.to_vec()))
        };
        let out = k
            .run(RunInput {
                mode,
                open: &mut open,
                config_name: ".config".into(),
                defconfig_file: None,
                env: &env,
                data: DataOptions::default(),
                stdin: None,
            })
            .expect("run");
        out.config.expect("config")
    }

    /// A 6.12 parse of `kconfig` through the cache in `cache`, context
    /// "ctx", commands answered by a [`CountingShell`].
    fn parse_through_cache(mut loader: FsLoader, kconfig: &str, cache: &Path) -> (Kconfig, bool) {
        let env = |_: &str| None;
        let mut sh = CountingShell(0);
        parse_cached(
            ParseInput {
                dialect: Dialect::V6_12,
                kconfig,
                loader: &mut loader,
                env: &env,
                shell: &mut sh,
            },
            cache,
            "ctx",
            false,
        )
        .expect("parse")
    }

    /// A fresh directory `tag` holding a source tree `src` with `files`
    /// (relative name, text) and an empty object tree `obj`.
    fn src_obj_tree(tag: &str, files: &[(&str, &str)]) -> (PathBuf, PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("ktailor-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (src, obj) = (dir.join("src"), dir.join("obj"));
        std::fs::create_dir_all(&obj).expect("dir");
        for (name, text) in files {
            let f = src.join(name);
            std::fs::create_dir_all(f.parent().expect("parent")).expect("dir");
            std::fs::write(f, text).expect("write");
        }
        (dir, src, obj)
    }

    /// alldefconfig's text after parsing `top` from object tree `obj`
    /// with srctree `src` through the cache, and whether it was a hit.
    fn parse_src_obj(src: &Path, obj: &Path, top: &str, cache: &Path) -> (String, bool) {
        let loader = FsLoader::new(obj.to_path_buf(), Some(src.display().to_string()));
        let (mut k, hit) = parse_through_cache(loader, top, cache);
        (String::from_utf8_lossy(&alldef(&mut k)).into_owned(), hit)
    }

    #[test]
    fn snapshot_reproduces_the_parse_and_files_invalidate_it() {
        let dir = std::env::temp_dir().join(format!("ktailor-pcache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let kc = "mainmenu \"T\"\nconfig N\n\tint \"n\"\n\tdefault $(shell,abc)\n\trange 0 10\nsource \"sub\"\n";
        std::fs::write(dir.join("Kconfig"), kc).expect("write");
        std::fs::write(
            dir.join("sub"),
            "choice\n\tprompt \"c\"\nconfig X\n\tbool \"x\"\nconfig Y\n\tbool \"y\"\nendchoice\n",
        )
        .expect("write");
        let cache = dir.join("cache");
        let run = |dir: &Path| {
            let (mut k, hit) =
                parse_through_cache(FsLoader::new(dir.to_path_buf(), None), "Kconfig", &cache);
            (alldef(&mut k), hit)
        };
        let (a, hit_a) = run(&dir);
        let (b, hit_b) = run(&dir);
        assert!(!hit_a && hit_b, "second run should reuse the snapshot");
        assert_eq!(a, b);
        assert!(
            String::from_utf8_lossy(&a).contains("CONFIG_N=3\nCONFIG_X=y\n# CONFIG_Y is not set\n")
        );
        // A sourced file changes size: the snapshot must not be used.
        std::fs::write(
            dir.join("sub"),
            "choice\n\tprompt \"c\"\nconfig Y\n\tbool \"y\"\nconfig X\n\tbool \"x\"\nendchoice\n",
        )
        .expect("write");
        let (c, hit_c) = run(&dir);
        assert!(!hit_c);
        assert!(String::from_utf8_lossy(&c).contains("CONFIG_Y=y\n# CONFIG_X is not set\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn help_texts_of_a_cached_parse_are_read_when_asked_for() {
        let dir = std::env::temp_dir().join(format!("ktailor-phelp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("Kconfig"),
            "config A\n\tbool \"a\"\n\thelp\n\t  Help of A,\n\t  two lines.\nconfig B\n\tbool \"b\"\nconfig C\n\tbool\n\thelp\n\t  Ü of C.\n",
        )
        .expect("write");
        let cache = dir.join("cache");
        let parse = || parse_through_cache(FsLoader::new(dir.clone(), None), "Kconfig", &cache);
        let helps = |k: &Kconfig| -> Vec<Option<Arc<str>>> {
            (0..k.menus.len())
                .map(|i| k.menu_help(crate::MenuId(i as u32)))
                .collect()
        };
        let (fresh, hit) = parse();
        assert!(!hit);
        let (cached, hit) = parse();
        assert!(hit);
        assert!(cached
            .menus
            .iter()
            .any(|m| matches!(m.help, Some(crate::Help::Stored(_)))));
        // The cache file is replaced (as a later parse would replace it)
        // before any text is read: the open file still has the old texts.
        let file = cache_path(&cache, "ctx");
        crate::confdata::write_atomic(&file, b"replaced", false).expect("replace");
        let want = helps(&fresh);
        assert_eq!(helps(&cached), want);
        assert_eq!(
            want.iter()
                .flatten()
                .map(|h| h.to_string())
                .collect::<Vec<_>>(),
            ["Help of A,\ntwo lines.", "Ü of C.\n"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_changed_file_under_srctree_invalidates_the_snapshot() {
        // Files found through srctree are checked from the open srctree
        // directory: an edit there must still miss the cache.
        let (dir, src, obj) = src_obj_tree(
            "psrc",
            &[
                ("Kconfig", "source \"fs/Kconfig\"\n"),
                ("fs/Kconfig", "config A\n\tbool \"a\"\n\tdefault y\n"),
            ],
        );
        let cache = dir.join("cache");
        let run = || parse_src_obj(&src, &obj, "Kconfig", &cache);
        let (a, hit_a) = run();
        let (_, hit_b) = run();
        assert!(!hit_a && hit_b, "second run should reuse the snapshot");
        assert!(a.contains("CONFIG_A=y\n"));
        std::fs::write(
            src.join("fs/Kconfig"),
            "config AB\n\tbool \"ab\"\n\tdefault y\n",
        )
        .expect("write");
        let (c, hit_c) = run();
        assert!(
            !hit_c,
            "the edited srctree file must invalidate the snapshot"
        );
        assert!(c.contains("CONFIG_AB=y\n") && !c.contains("CONFIG_A=y"));
        std::fs::remove_file(src.join("fs/Kconfig")).expect("remove");
        let mut loader = FsLoader::new(obj.clone(), Some(src.display().to_string()));
        assert_eq!(loader.identity("fs/Kconfig"), "missing");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_appearing_in_the_object_tree_invalidates_the_snapshot() {
        // conf looks a sourced file up in its working directory (the
        // object tree) before srctree; a snapshot taken while the object
        // tree had no such file must not survive one appearing there,
        // even under a directory that did not exist then.
        let (dir, src, obj) = src_obj_tree(
            "pobj",
            &[
                ("Kconfig", "source \"drivers/net/Kconfig\"\n"),
                (
                    "drivers/net/Kconfig",
                    "config A\n\tbool \"a\"\n\tdefault y\n",
                ),
            ],
        );
        let cache = dir.join("cache");
        let top = src.join("Kconfig").display().to_string();
        let run = || parse_src_obj(&src, &obj, &top, &cache);
        let (a, hit_a) = run();
        let (_, hit_b) = run();
        assert!(!hit_a && hit_b, "second run should reuse the snapshot");
        assert!(a.contains("CONFIG_A=y\n"));
        std::fs::create_dir_all(obj.join("drivers/net")).expect("dir");
        std::fs::write(
            obj.join("drivers/net/Kconfig"),
            "config B\n\tbool \"b\"\n\tdefault y\n",
        )
        .expect("write");
        let (c, hit_c) = run();
        assert!(
            !hit_c,
            "the object tree's file must invalidate the snapshot"
        );
        assert!(c.contains("CONFIG_B=y\n") && !c.contains("CONFIG_A"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn copies_of_a_decoded_tree_share_what_evaluation_leaves_alone() {
        // A resolver or gate evaluation runs on a copy of the decoded
        // tree; reading a .config there reorders the copy's choice members
        // (6.12's priority list) and computes property visibilities, but
        // must neither duplicate the menus, the properties, the
        // expressions and the file table nor touch the original's order.
        let dir = std::env::temp_dir().join(format!("ktailor-pshare-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("Kconfig"),
            "config A\n\tbool \"a\"\n\tdefault y\nchoice\n\tprompt \"c\" if A\nconfig X\n\tbool \"x\"\nconfig Y\n\tbool \"y\"\nendchoice\n",
        )
        .expect("write");
        let cache = dir.join("cache");
        let _ = parse_through_cache(FsLoader::new(dir.clone(), None), "Kconfig", &cache);
        let (orig, hit) = parse_through_cache(FsLoader::new(dir.clone(), None), "Kconfig", &cache);
        assert!(hit, "second parse should decode the snapshot");
        let choice = orig.syms[orig.find("X").expect("X").idx()]
            .choice_link
            .expect("X is a choice member");
        let order = |k: &Kconfig| -> Vec<String> {
            k.choice_members(choice)
                .iter()
                .map(|&s| k.syms[s.idx()].name.as_deref().unwrap_or("").to_string())
                .collect()
        };
        assert_eq!(order(&orig), ["X", "Y"]);
        let mut copy = orig.clone();
        let out = run_mode(
            &mut copy,
            Mode::OldDefconfig,
            Some(b"CONFIG_A=y\nCONFIG_Y=y\n"),
        );
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.contains("# CONFIG_X is not set\nCONFIG_Y=y\n"),
            "{text}"
        );
        assert_eq!(order(&copy), ["Y", "X"]);
        assert_eq!(order(&orig), ["X", "Y"]);
        assert!(crate::cow::Shared::ptr_eq(&orig.menus, &copy.menus));
        assert!(crate::cow::Shared::ptr_eq(&orig.props, &copy.props));
        assert!(crate::cow::Shared::ptr_eq(&orig.exprs, &copy.exprs));
        assert!(crate::cow::Shared::ptr_eq(&orig.files, &copy.files));
        // A spare copy made while decoding is as independent as a clone,
        // is taken once, and does not come along with clones.
        let help = Arc::new(HelpStore::in_memory(orig.help_section()));
        let mut decoded = Kconfig::from_snapshot(&orig.snapshot(), help, true).expect("decodes");
        assert!(decoded.clone().take_spare_copy().is_none());
        let mut first = decoded.take_spare_copy().expect("a spare copy");
        assert!(decoded.take_spare_copy().is_none());
        let with_y = run_mode(
            &mut first,
            Mode::OldDefconfig,
            Some(b"CONFIG_A=y\nCONFIG_Y=y\n"),
        );
        assert_eq!(with_y, text.as_bytes());
        assert_eq!(order(&first), ["Y", "X"]);
        assert_eq!(order(&decoded), ["X", "Y"]);
        let alone = run_mode(&mut decoded, Mode::OldDefconfig, Some(b"CONFIG_A=y\n"));
        assert!(String::from_utf8_lossy(&alone).contains("CONFIG_X=y\n# CONFIG_Y is not set\n"));
        assert!(crate::cow::Shared::ptr_eq(&first.menus, &decoded.menus));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn damaged_snapshots_are_rejected_not_trusted() {
        let dir = std::env::temp_dir().join(format!("ktailor-pdamage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("Kconfig"),
            b"config A\n\tbool \"a\"\n\tdefault y\n\thelp\n\t  text\nconfig B\n\ttristate \"b\" if A\n\tselect C\nconfig C\n\ttristate\nchoice\n\tprompt \"c\"\nconfig X\n\tbool \"x\"\nconfig Y\n\tbool \"y\"\nendchoice\n",
        )
        .expect("write");
        let mut loader = FsLoader::new(dir.clone(), None);
        let env = |_: &str| None;
        let mut sh = CountingShell(0);
        let k = parse(ParseInput {
            dialect: Dialect::V6_12,
            kconfig: "Kconfig",
            loader: &mut loader,
            env: &env,
            shell: &mut sh,
        })
        .expect("parse");
        let snap = k.snapshot();
        let help = k.help_section();
        let store = || Arc::new(HelpStore::in_memory(help.clone()));
        let back = Kconfig::from_snapshot(&snap, store(), false).expect("round trip");
        assert_eq!(back.snapshot(), snap);
        assert_eq!(back.help_section(), help);
        assert_eq!(back.menu_help(crate::MenuId(1)).as_deref(), Some("text"));
        // Every truncation, and every single-byte change, either decodes to
        // a tree whose references are in range or is refused; none panics.
        for n in 0..snap.len() {
            assert!(
                Kconfig::from_snapshot(&snap[..n], store(), false).is_none(),
                "prefix {n}"
            );
        }
        for i in 0..snap.len() {
            let mut d = snap.clone();
            d[i] ^= 0x5a;
            if let Some(mut k) = Kconfig::from_snapshot(&d, store(), false) {
                let _ = alldef(&mut k);
            }
        }
        // A cut help section gives no text (never a wrong one, or a panic).
        for n in 0..help.len() {
            let cut = Arc::new(HelpStore::in_memory(help[..n].to_vec()));
            let k = Kconfig::from_snapshot(&snap, cut, false).expect("the snapshot is whole");
            assert_eq!(k.menu_help(crate::MenuId(1)), None, "help cut at {n}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
