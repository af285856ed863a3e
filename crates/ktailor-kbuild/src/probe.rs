//! Running the few external commands the Makefile's `$(shell ...)` calls
//! need (`uname -m`, `$(CC) --version`, ...), always through the caller's
//! runner, batched so that one resolve costs one or two runner calls.
//!
//! A batch is one `/bin/sh` command line that runs each snippet inside
//! `"$(...)"` and prints the results separated by the ASCII unit separator.
//! The shell's command substitution strips trailing newlines, and the runner
//! turns the remaining newlines into spaces: together that is exactly what
//! make's `$(shell ...)` does to each snippet's output.
//!
//! Not here: deciding *which* commands to run (see the crate root).

use crate::KbuildError;

/// Separates the snippets' outputs; no tool prints it.
const SEPARATOR: char = '\u{1f}';

/// The runner's signature: run a `/bin/sh -c` command line with exactly the
/// given environment and return its stdout post-processed like make's
/// `$(shell ...)` (see [`fold_shell_output`]).
pub type Runner<'a> = dyn FnMut(&str, &[(String, String)]) -> std::io::Result<String> + 'a;

/// make's post-processing of `$(shell ...)` output (`fold_newlines` in GNU
/// make's function.c): a carriage return before a newline is dropped, every
/// newline becomes a space, and the trailing newlines are removed (trailing
/// spaces that were spaces in the output stay).
pub fn fold_shell_output(raw: &[u8]) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut keep = 0;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        if b == b'\n' {
            out.push(b' ');
        } else {
            out.push(b);
            keep = out.len();
        }
        i += 1;
    }
    out.truncate(keep);
    String::from_utf8_lossy(&out).into_owned()
}

/// A plain, non-caching runner: `/bin/sh -c CMD` with exactly `env`, stdout
/// folded like make's `$(shell ...)`, stderr passed through, the exit status
/// ignored (as make ignores it).
pub fn run_sh(cmd: &str, env: &[(String, String)]) -> std::io::Result<String> {
    let output = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()?;
    Ok(fold_shell_output(&output.stdout))
}

/// Quotes `s` for the shell (single quotes, `'` written as `'\''`).
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs all snippets in one runner call and returns their outputs, each as
/// make's `$(shell SNIPPET)` would have returned it.
pub(crate) fn run_batch(
    runner: &mut Runner<'_>,
    env: &[(String, String)],
    snippets: &[String],
) -> Result<Vec<String>, KbuildError> {
    if snippets.is_empty() {
        return Ok(Vec::new());
    }
    let mut script = String::from("printf '%s\\037'");
    for snippet in snippets {
        script.push_str(" \"$(");
        script.push_str(snippet);
        script.push_str(")\"");
    }
    let output = runner(&script, env).map_err(|source| KbuildError::Command {
        command: script.clone(),
        source,
    })?;
    let mut parts: Vec<String> = output.split(SEPARATOR).map(str::to_string).collect();
    // printf ends with a separator, so the last piece must be empty.
    if parts.len() != snippets.len() + 1 || parts.last().is_some_and(|p| !p.is_empty()) {
        return Err(KbuildError::ProbeOutput {
            command: script,
            output,
        });
    }
    parts.pop();
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_turns_inner_newlines_into_spaces_and_drops_trailing_ones() {
        assert_eq!(fold_shell_output(b"a \n\nb\n\n"), "a   b");
        assert_eq!(fold_shell_output(b"x\r\ny  \n"), "x y  ");
        assert_eq!(fold_shell_output(b"\n\n"), "");
        assert_eq!(fold_shell_output(b""), "");
        assert_eq!(fold_shell_output(b"lone\rcr\n"), "lone\rcr");
    }

    #[test]
    fn shell_quote_survives_single_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn batch_runs_all_snippets_in_one_call_with_make_semantics() {
        let mut calls = 0;
        let mut runner = |cmd: &str, env: &[(String, String)]| {
            calls += 1;
            run_sh(cmd, env)
        };
        let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
        let out = run_batch(
            &mut runner,
            &env,
            &[
                "printf 'one\\n\\n'".to_string(),
                "printf 'two\\nlines\\n'".to_string(),
                "true".to_string(),
                "echo \"$PATH\"".to_string(),
            ],
        )
        .expect("batch runs");
        assert_eq!(out, ["one", "two lines", "", "/usr/bin:/bin"]);
        assert_eq!(calls, 1);
    }

    #[test]
    fn batch_rejects_output_of_the_wrong_shape() {
        let mut runner = |_: &str, _: &[(String, String)]| Ok("only one piece".to_string());
        let err = run_batch(&mut runner, &[], &["true".to_string()]).expect_err("must fail");
        assert!(matches!(err, KbuildError::ProbeOutput { .. }));
    }
}
