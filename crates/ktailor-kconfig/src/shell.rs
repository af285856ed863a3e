//! Running `$(shell,...)` commands, with an optional persistent cache.
//!
//! [`SystemShell`] runs a command with `/bin/sh -c` in a given working
//! directory and environment, as conf's `popen` does. [`CachedShell`]
//! remembers outputs on disk, keyed on everything that can change them:
//! the command text, the working directory, the whole environment the
//! command sees, and the identity (path, size, modification time) of every
//! program and file the command line names — each word that is a path, or
//! that resolves through `PATH`. A changed compiler, script or variable
//! therefore misses the cache; a hit can never change a result unless a
//! command depends on something it does not name (documented limitation:
//! e.g. a compiler's internal helpers replaced without the driver binary
//! changing).

use rustc_hash::FxHashMap as HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::preprocess::Shell;

/// Runs commands with `/bin/sh -c`.
pub struct SystemShell {
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    /// Number of commands actually run.
    pub runs: u32,
}

impl SystemShell {
    pub fn new(cwd: PathBuf, env: Vec<(String, String)>) -> Self {
        SystemShell { cwd, env, runs: 0 }
    }
}

impl Shell for SystemShell {
    fn run(&mut self, cmd: &str) -> std::io::Result<Vec<u8>> {
        self.runs += 1;
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&self.cwd)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut out = Vec::new();
        if let Some(mut so) = child.stdout.take() {
            so.read_to_end(&mut out)?;
        }
        child.wait()?;
        Ok(out)
    }
}

/// Environment variables left out of cache keys. `_` and `OLDPWD` are set
/// by the invoking shell; the others name where conf writes its output and
/// conf's own knobs (they differ for every object tree), and no command
/// that Kconfig runs reads them (checked against the scripts the 6.1 and
/// 6.12 trees call from `$(shell,...)`). The working directory is part of
/// a command's key only when the command names a relative path.
pub const KEY_EXCLUDED_ENV: &[&str] = &[
    "_",
    "OLDPWD",
    "KCONFIG_CONFIG",
    "KCONFIG_AUTOCONFIG",
    "KCONFIG_AUTOHEADER",
    "KCONFIG_RUSTCCFG",
    "KCONFIG_ALLCONFIG",
    "KCONFIG_SEED",
    "KCONFIG_PROBABILITY",
    "KCONFIG_OVERWRITECONFIG",
    "O",
    "KBUILD_OUTPUT",
    "abs_objtree",
];

/// How many cache files of one kind are kept (the oldest go first).
pub const KEEP_FILES: usize = 64;

/// Removes the oldest files named `prefix*` in `dir` beyond `keep`.
pub fn evict(dir: &Path, prefix: &str, keep: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort();
    let n = files.len() - keep;
    for (_, p) in files.into_iter().take(n) {
        let _ = std::fs::remove_file(p);
    }
}

/// The identities of command words, shared by every [`CachedShell`] of the
/// process (one run often opens several, which name the same programs),
/// keyed on the working directory, `PATH` and the word.
/// Where a command's words end, for finding the programs and files it
/// names: white space and the shell's operators and quotes.
fn word_break(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '|' | ';' | '&' | '(' | ')' | '<' | '>' | '\'' | '"' | '`' | '=' | ','
        )
}

type WordKey = (PathBuf, String, String);
fn word_memo() -> &'static std::sync::Mutex<HashMap<WordKey, String>> {
    static MEMO: std::sync::OnceLock<std::sync::Mutex<HashMap<WordKey, String>>> =
        std::sync::OnceLock::new();
    MEMO.get_or_init(Default::default)
}

/// Whether directory `d` may hold an entry `name`: false only when a
/// listing of `d` (read once per process) lacks it. Most words of a
/// command line are not programs, and one listing of each `PATH`
/// directory answers for all of them instead of a failed lookup each.
/// A listing keeps only the hashes of the names: a collision merely costs
/// the lookup the listing saves.
fn may_contain(d: &Path, name: &str) -> bool {
    type Listings = HashMap<PathBuf, Option<rustc_hash::FxHashSet<u64>>>;
    static LISTINGS: std::sync::OnceLock<std::sync::Mutex<Listings>> = std::sync::OnceLock::new();
    let Ok(mut m) = LISTINGS.get_or_init(Default::default).lock() else {
        return true;
    };
    let names = m
        .entry(d.to_path_buf())
        .or_insert_with(|| match std::fs::read_dir(d) {
            Ok(rd) => Some(
                rd.flatten()
                    .map(|e| bytes_hash(e.file_name().as_encoded_bytes()))
                    .collect(),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Default::default()),
            // Unreadable but perhaps searchable: look names up one by one.
            Err(_) => None,
        });
    names
        .as_ref()
        .is_none_or(|n| n.contains(&bytes_hash(name.as_bytes())))
}

/// A quick 64-bit hash of `b` (cache file names, listed names).
pub(crate) fn bytes_hash(b: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    std::hash::Hasher::write(&mut h, b);
    std::hash::Hasher::finish(&h)
}

/// A persistent cache in front of a [`SystemShell`]. One cache file per
/// context (working directory and environment), named after a hash of the
/// context and holding the full context text, which is compared on load.
pub struct CachedShell {
    pub inner: SystemShell,
    path: PathBuf,
    context: String,
    entries: HashMap<String, Vec<u8>>,
    path_dirs: Vec<PathBuf>,
    path_var: String,
    /// This shell's word identities (its working directory and PATH are
    /// fixed): the process-wide memo without building its key each time.
    words: HashMap<String, String>,
    dirty: bool,
    pub hits: u32,
}

impl CachedShell {
    /// Opens (or starts) the cache for this context in directory `dir`.
    pub fn open(inner: SystemShell, dir: PathBuf) -> Self {
        let mut env: Vec<&(String, String)> = inner
            .env
            .iter()
            .filter(|(k, _)| !KEY_EXCLUDED_ENV.contains(&k.as_str()))
            .collect();
        env.sort();
        let mut context = String::new();
        for (k, v) in env {
            context.push_str(k);
            context.push('=');
            context.push_str(v);
            context.push('\0');
        }
        let path = dir.join(format!("shell-{:016x}", bytes_hash(context.as_bytes())));
        let entries = std::fs::read(&path)
            .ok()
            .and_then(|d| decode(&d, &context))
            .unwrap_or_default();
        let path_var = inner
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let path_dirs = path_var.split(':').map(PathBuf::from).collect();
        CachedShell {
            inner,
            path,
            context,
            entries,
            path_dirs,
            path_var,
            words: HashMap::default(),
            dirty: false,
            hits: 0,
        }
    }

    fn word_identity(&mut self, w: &str) -> String {
        if let Some(id) = self.words.get(w) {
            return id.clone();
        }
        let id = self.word_identity_uncached(w);
        self.words.insert(w.to_string(), id.clone());
        id
    }

    fn word_identity_uncached(&mut self, w: &str) -> String {
        let key = (self.inner.cwd.clone(), self.path_var.clone(), w.to_string());
        if let Some(id) = word_memo().lock().ok().and_then(|m| m.get(&key).cloned()) {
            return id;
        }
        let candidate: Option<PathBuf> = if w.contains('/') {
            Some(self.inner.cwd.join(w))
        } else if w
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
            && !w.starts_with('-')
        {
            self.path_dirs
                .iter()
                .filter(|d| may_contain(d, w))
                .map(|d| d.join(w))
                .find(|p| p.is_file())
        } else {
            None
        };
        let mut id = String::new();
        if let Some(p) = candidate {
            if let Ok(md) = std::fs::metadata(&p) {
                let mtime = md
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                id = format!("{}:{}:{}\0", p.display(), md.len(), mtime);
            }
        }
        if let Ok(mut m) = word_memo().lock() {
            m.insert(key, id.clone());
        }
        id
    }

    fn identity(&mut self, cmd: &str) -> String {
        let mut id = String::new();
        let words: Vec<&str> = cmd.split(word_break).filter(|w| !w.is_empty()).collect();
        for w in words {
            id.push_str(&self.word_identity(w));
        }
        id
    }

    /// Writes new entries back to disk (atomically).
    pub fn save(&mut self) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let data = encode(&self.entries, &self.context);
        if let Some(d) = self.path.parent() {
            std::fs::create_dir_all(d)?;
        }
        crate::confdata::write_atomic(&self.path, &data, false)?;
        self.dirty = false;
        if let Some(d) = self.path.parent() {
            evict(d, "shell-", KEEP_FILES);
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Shell for CachedShell {
    fn run(&mut self, cmd: &str) -> std::io::Result<Vec<u8>> {
        // The working directory matters when the command names a relative path.
        let relative = cmd
            .split(word_break)
            .any(|w| w.contains('/') && !w.starts_with('/'));
        let cwd = if relative {
            self.inner.cwd.display().to_string()
        } else {
            String::new()
        };
        let key = format!("{}\0{}\0{}", cmd, cwd, self.identity(cmd));
        if let Some(v) = self.entries.get(&key) {
            self.hits += 1;
            return Ok(v.clone());
        }
        let out = self.inner.run(cmd)?;
        self.entries.insert(key, out.clone());
        self.dirty = true;
        Ok(out)
    }
}

fn encode(m: &HashMap<String, Vec<u8>>, context: &str) -> Vec<u8> {
    let mut out = b"ktailor-shell-cache 2\n".to_vec();
    out.extend_from_slice(format!("{}\n", context.len()).as_bytes());
    out.extend_from_slice(context.as_bytes());
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        let v = &m[k];
        out.extend_from_slice(format!("{} {}\n", k.len(), v.len()).as_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(v);
    }
    out
}

/// Reads a cache file; `None` if it belongs to another context (a hash
/// collision) or is not a cache file.
fn decode(d: &[u8], context: &str) -> Option<HashMap<String, Vec<u8>>> {
    let mut m = HashMap::default();
    let header = b"ktailor-shell-cache 2\n";
    let mut rest = d.strip_prefix(&header[..])?;
    let nl = rest.iter().position(|&c| c == b'\n')?;
    let cl: usize = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
    rest = &rest[nl + 1..];
    if rest.len() < cl || &rest[..cl] != context.as_bytes() {
        return None;
    }
    rest = &rest[cl..];
    while !rest.is_empty() {
        let Some(nl) = rest.iter().position(|&c| c == b'\n') else {
            break;
        };
        let hdr = crate::text_of(&rest[..nl]);
        let mut it = hdr.split(' ').map(|x| x.parse::<usize>());
        let (Some(Ok(kl)), Some(Ok(vl))) = (it.next(), it.next()) else {
            break;
        };
        rest = &rest[nl + 1..];
        if rest.len() < kl + vl {
            break;
        }
        let k = crate::lexer::bytes_to_string(&rest[..kl]);
        m.insert(k, rest[kl..kl + vl].to_vec());
        rest = &rest[kl + vl..];
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_round_trips() {
        let mut m = HashMap::default();
        m.insert("a\0b".to_string(), b"out\n".to_vec());
        m.insert("c".to_string(), Vec::new());
        assert_eq!(decode(&encode(&m, "ctx"), "ctx"), Some(m.clone()));
        assert_eq!(decode(&encode(&m, "ctx"), "other"), None);
    }

    #[test]
    fn changed_environment_misses_the_cache() {
        let dir = std::env::temp_dir().join(format!("ktailor-shell-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("cache");
        std::fs::create_dir_all(&file).expect("cache dir");
        let env1 = vec![
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("X".to_string(), "1".to_string()),
        ];
        let mut a = CachedShell::open(SystemShell::new(dir.clone(), env1.clone()), file.clone());
        assert_eq!(a.run("echo $X").expect("run"), b"1\n");
        a.save().expect("save");
        let mut b = CachedShell::open(SystemShell::new(dir.clone(), env1), file.clone());
        assert_eq!(b.run("echo $X").expect("run"), b"1\n");
        assert_eq!((b.hits, b.inner.runs), (1, 0));
        let env2 = vec![
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("X".to_string(), "2".to_string()),
        ];
        let mut c = CachedShell::open(SystemShell::new(dir.clone(), env2), file);
        assert_eq!(c.run("echo $X").expect("run"), b"2\n");
        assert_eq!((c.hits, c.inner.runs), (0, 1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
