//! Reading symbol values out of a `.config` file, textually: `CONFIG_X=y`,
//! `CONFIG_X=m`, `# CONFIG_X is not set`. This answers "does this config
//! already have it", nothing more; computing values is the Kconfig
//! engine's job (`ktailor-kconfig`), not this crate's.

use std::collections::HashMap;
use std::path::Path;

use crate::Error;

/// A configuration's tristate values by symbol name (without `CONFIG_`).
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The file it was read from.
    pub file: String,
    values: HashMap<String, String>,
}

impl Config {
    /// Parses configuration text.
    pub fn parse(text: &str, file: &str) -> Config {
        let mut values = HashMap::new();
        for l in text.lines() {
            let l = l.trim();
            if let Some(rest) = l.strip_prefix("# CONFIG_") {
                if let Some(name) = rest.strip_suffix(" is not set") {
                    values.insert(name.to_string(), "n".to_string());
                }
            } else if let Some(rest) = l.strip_prefix("CONFIG_") {
                if let Some((k, v)) = rest.split_once('=') {
                    values.insert(k.to_string(), v.to_string());
                }
            }
        }
        Config {
            file: file.into(),
            values,
        }
    }

    /// Reads a configuration file (size-capped).
    pub fn read(path: &Path) -> Result<Config, Error> {
        let text = crate::input::read_capped(path)?;
        Ok(Config::parse(&text, &path.display().to_string()))
    }

    /// The symbols set to `m`, sorted.
    pub fn modules(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .values
            .iter()
            .filter(|(_, v)| v.as_str() == "m")
            .map(|(k, _)| k.as_str())
            .collect();
        v.sort_unstable();
        v
    }

    /// The tristate value of a symbol: `y`, `m`, or `n` (also for symbols
    /// the file does not mention, which conf reads as n).
    pub fn tristate(&self, sym: &str) -> char {
        match self.values.get(sym).map(String::as_str) {
            Some("y") => 'y',
            Some("m") => 'm',
            _ => 'n',
        }
    }
}

/// The tristate AND (minimum) of several values: what a chain of gates
/// gives (n < m < y).
pub fn and(values: impl IntoIterator<Item = char>) -> char {
    let rank = |c: char| match c {
        'y' => 2,
        'm' => 1,
        _ => 0,
    };
    values
        .into_iter()
        .fold('y', |a, b| if rank(b) < rank(a) { b } else { a })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let c = Config::parse(
            "CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_S=\"x\"\n",
            "c",
        );
        assert_eq!(
            (
                c.tristate("A"),
                c.tristate("B"),
                c.tristate("C"),
                c.tristate("D")
            ),
            ('y', 'm', 'n', 'n')
        );
        assert_eq!(c.modules(), ["B"]);
        assert_eq!(and(['y', 'm']), 'm');
        assert_eq!(and(['y', 'n', 'm']), 'n');
        assert_eq!(and([]), 'y');
    }
}
