//! Requested option values and how they compare with configured ones.

use ktailor_kconfig::{SymType, Tri};

/// A value a feature or spec asks an option to have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `y`, `m` or `n` (TOML `"y"`/`"m"`/`"n"`, or `true`/`false`).
    Tri(Tri),
    /// An integer (TOML integer).
    Int(i64),
    /// Text: a string symbol's value, or a number written as a string
    /// (`"0x1000"`, `"17"`).
    Text(String),
}

impl Value {
    pub fn from_toml(v: &toml::Value) -> Result<Value, String> {
        Ok(match v {
            toml::Value::Boolean(true) => Value::Tri(Tri::Y),
            toml::Value::Boolean(false) => Value::Tri(Tri::N),
            toml::Value::Integer(i) => Value::Int(*i),
            toml::Value::String(s) => match s.as_str() {
                "y" => Value::Tri(Tri::Y),
                "m" => Value::Tri(Tri::M),
                "n" => Value::Tri(Tri::N),
                _ => Value::Text(s.clone()),
            },
            other => {
                return Err(format!(
                    "a value must be \"y\", \"m\", \"n\", a number or a string, not {}",
                    other.type_str()
                ))
            }
        })
    }

    /// The value as conf stores it for a symbol of type `ty`, or why it
    /// cannot be one.
    pub fn canonical(&self, ty: SymType) -> Result<String, String> {
        match (self, ty) {
            (Value::Tri(t), SymType::Tristate) => Ok(t.as_str().to_string()),
            (Value::Tri(Tri::M), SymType::Bool) => {
                Err("a bool option cannot be m (build it in with y)".into())
            }
            (Value::Tri(t), SymType::Bool) => Ok(t.as_str().to_string()),
            (Value::Int(i), SymType::Int) => Ok(i.to_string()),
            (Value::Int(i), SymType::Hex) => Ok(format!("0x{i:x}")),
            (Value::Text(s), SymType::Int)
                if ktailor_kconfig::symbol::string_valid(SymType::Int, s) =>
            {
                Ok(s.clone())
            }
            (Value::Text(s), SymType::Hex)
                if ktailor_kconfig::symbol::string_valid(SymType::Hex, s) =>
            {
                Ok(if s.starts_with("0x") || s.starts_with("0X") {
                    s.clone()
                } else {
                    format!("0x{s}")
                })
            }
            (Value::Text(s), SymType::String) => Ok(s.clone()),
            (Value::Int(i), SymType::String) => Ok(i.to_string()),
            (v, t) => Err(format!(
                "{} is not a valid {} value",
                v.describe(),
                t.name()
            )),
        }
    }

    /// The line a configuration file would carry for `name`.
    pub fn config_line(&self, name: &str, ty: SymType) -> Result<String, String> {
        let c = self.canonical(ty)?;
        Ok(match ty {
            SymType::Bool | SymType::Tristate if c == "n" => format!("# CONFIG_{name} is not set"),
            SymType::String => format!(
                "CONFIG_{name}={}",
                ktailor_kconfig::confdata::escape_string(&c)
            ),
            _ => format!("CONFIG_{name}={c}"),
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Value::Tri(t) => t.as_str().to_string(),
            Value::Int(i) => i.to_string(),
            Value::Text(s) => format!("\"{s}\""),
        }
    }

    pub fn is_off(&self) -> bool {
        *self == Value::Tri(Tri::N)
    }
}
