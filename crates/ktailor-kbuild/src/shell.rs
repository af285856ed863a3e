//! What bash does to the environment it passes on, for arch Makefiles that
//! set `SHELL := bash` (um): make then runs the recipe
//! `$(MAKE) -f scripts/Makefile.build obj=scripts/kconfig <target>` as
//! `bash -c '...'`, and bash, before it execs make (and make conf), sets
//! BASH to its own path, PWD to the working directory (unless the inherited
//! PWD already names it), keeps SHLVL as it was (raised at start-up, lowered
//! again for the exec), drops an OLDPWD that is not a directory, and sets
//! `_` (left out: see `MAKE_INTERNAL`).
//!
//! Observed with bash 5.2; the rules mirror bash's `adjust_shell_level`,
//! `set_pwd` and `set_shell_var` in variables.c. Not here: any other shell.

use std::path::Path;

fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn put(env: &mut Vec<(String, String)>, name: &str, value: String) {
    match env.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => slot.1 = value,
        None => {
            env.push((name.to_string(), value));
            env.sort();
        }
    }
}

/// The first executable `program` on `path` (as bash finds itself for BASH).
fn search_path(program: &str, path: &str) -> Option<String> {
    path.split(':')
        .map(|dir| if dir.is_empty() { "." } else { dir })
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| {
                    m.is_file()
                        && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
                })
                .unwrap_or(false)
        })
        .map(|p| p.display().to_string())
}

/// SHLVL after bash started with `inherited` and exec'd its only command.
fn shell_level(inherited: Option<&str>) -> String {
    let old: i64 = inherited.and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let started = match old.saturating_add(1) {
        n if n < 0 => 0,
        n if n >= 1000 => 1,
        n => n,
    };
    (started - 1).max(0).to_string()
}

/// Applies bash's start-up changes to `env` (sorted by name), for bash
/// named `shell` (make's SHELL) running in `cwd`.
pub(crate) fn bash_startup(env: &mut Vec<(String, String)>, shell: &str, cwd: &Path) {
    let bash = if shell.contains('/') {
        Some(shell.to_string())
    } else {
        get(env, "PATH").and_then(|path| search_path(shell, path))
    };
    if let Some(bash) = bash {
        put(env, "BASH", bash);
    }

    let pwd_ok = get(env, "PWD")
        .filter(|p| p.starts_with('/'))
        .and_then(|p| Path::new(p).canonicalize().ok())
        .zip(cwd.canonicalize().ok())
        .is_some_and(|(a, b)| a == b);
    if !pwd_ok {
        put(env, "PWD", cwd.display().to_string());
    }

    let level = shell_level(get(env, "SHLVL"));
    put(env, "SHLVL", level);

    if get(env, "OLDPWD").is_some_and(|p| !Path::new(p).is_dir()) {
        env.retain(|(k, _)| k != "OLDPWD");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(list: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = list
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn shlvl_is_unchanged_after_the_exec_and_sanitised() {
        assert_eq!(shell_level(None), "0");
        assert_eq!(shell_level(Some("5")), "5");
        assert_eq!(shell_level(Some("abc")), "0");
        assert_eq!(shell_level(Some("-5")), "0");
        assert_eq!(shell_level(Some("999")), "0");
    }

    #[test]
    fn bash_sets_bash_pwd_and_shlvl_and_drops_a_stale_oldpwd() {
        let tmp = std::env::temp_dir().canonicalize().expect("temp dir");
        let mut e = env(&[
            ("PATH", "/usr/bin:/bin"),
            ("PWD", "/"),
            ("OLDPWD", "/no/such/dir"),
            ("BASH", "bash"),
        ]);
        bash_startup(&mut e, "/bin/bash", &tmp);
        assert_eq!(get(&e, "BASH"), Some("/bin/bash"));
        assert_eq!(get(&e, "PWD"), tmp.to_str());
        assert_eq!(get(&e, "SHLVL"), Some("0"));
        assert_eq!(get(&e, "OLDPWD"), None);
        assert!(e.windows(2).all(|w| w[0].0 <= w[1].0), "stays sorted");
    }

    #[test]
    fn an_inherited_pwd_naming_the_directory_is_kept_verbatim() {
        let tmp = std::env::temp_dir().canonicalize().expect("temp dir");
        let spelled = format!("{}/.", tmp.display());
        let mut e = env(&[("PWD", spelled.as_str()), ("OLDPWD", "/")]);
        bash_startup(&mut e, "/bin/bash", &tmp);
        assert_eq!(get(&e, "PWD"), Some(spelled.as_str()));
        assert_eq!(get(&e, "OLDPWD"), Some("/"));
    }
}
