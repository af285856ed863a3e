//! What the command-line tests share: a temporary directory removed on
//! drop, and running the `ktailor` binary with its output captured (and
//! printed, so a failing test shows the command, exit status, stdout and
//! stderr).

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh temporary directory, removed on drop.
pub struct Tmp(pub PathBuf);

impl Tmp {
    pub fn new(name: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("ktailor-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        Tmp(d)
    }
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("dir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.0.join(rel)).unwrap_or_default()
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs ktailor in `dir` with extra environment; `cache` is its cache
/// directory (`None`: the user's, e.g. where tarballs are unpacked).
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)], cache: Option<&Path>) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ktailor"));
    cmd.args(args).current_dir(dir);
    if let Some(c) = cache {
        cmd.env("KTAILOR_CACHE_DIR", c);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run ktailor");
    let out = Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    eprintln!(
        "$ ktailor {}\nexit {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.code,
        out.stdout,
        out.stderr
    );
    out
}

/// Runs ktailor in `dir` with a cache of its own (`dir/.cache`).
pub fn ktailor(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    run(dir, args, env, Some(&dir.join(".cache")))
}
