//! `ktailor kconfig TARGET`: the `make *config` targets.

use std::path::{Path, PathBuf};

use clap::Args;
use ktailor_kconfig::{Diagnostic, Origin};
use ktailor_tree::{open, Target, TreeOptions};

use crate::{TreeOpts, EXIT_ERROR, EXIT_OK};

#[derive(Args, Debug)]
pub struct KconfigArgs {
    /// The target (olddefconfig, defconfig, savedefconfig, ...).
    pub target: String,
    /// For `defconfig`: the defconfig file to start from.
    pub file: Option<PathBuf>,
    /// For `savedefconfig`: where to write (default OBJTREE/defconfig).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub tree: TreeOpts,
}

/// Prints diagnostics on stderr with source excerpts (`$(info)` text goes
/// to stdout, as conf prints it).
pub fn print_diags(diags: &[Diagnostic], srctree: &Path) {
    let source = |file: &str, line: u32| -> Option<String> {
        let p = if Path::new(file).is_absolute() {
            PathBuf::from(file)
        } else {
            srctree.join(file)
        };
        let text = std::fs::read_to_string(p).ok()?;
        text.lines()
            .nth(line.checked_sub(1)? as usize)
            .map(|s| s.to_string())
    };
    for d in diags {
        if d.origin == Origin::Info {
            print!("{}", d.render(&source));
            continue;
        }
        eprint!("{}", d.render(&source));
    }
}

/// The tree options every tree-reading command shares.
pub fn tree_options(o: &TreeOpts) -> TreeOptions {
    TreeOptions {
        srctree: o.srctree.clone(),
        arch: o.arch.clone(),
        objtree: o.objtree.clone(),
        config: o.config.clone(),
        kconfig: o.kconfig.clone(),
        dialect: o.kconfig_dialect.clone(),
        no_cache: o.no_cache,
        make_vars: Vec::new(),
    }
}

pub fn run(a: KconfigArgs) -> u8 {
    let t = match open(&tree_options(&a.tree)) {
        Ok(t) => t,
        Err(e) => {
            print_diags(&e.diags, &a.tree.srctree);
            return EXIT_ERROR;
        }
    };
    let file = a.file.as_ref().map(|f| {
        // A FILE given on the command line is relative to where ktailor
        // runs; conf would open it relative to the object tree.
        let p = if f.is_absolute() {
            f.clone()
        } else {
            std::env::current_dir()
                .map(|d| d.join(f))
                .unwrap_or(f.clone())
        };
        p.to_string_lossy().into_owned()
    });
    let target = match Target::parse(&a.target, file.as_deref(), &t) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERROR;
        }
    };
    match t.run_and_write(&target, a.output.as_deref()) {
        Ok((stdout, diags)) => {
            print_diags(&diags, &t.tree.srctree);
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(&stdout);
            EXIT_OK
        }
        Err(e) => {
            print_diags(&e.diags, &t.tree.srctree);
            EXIT_ERROR
        }
    }
}
