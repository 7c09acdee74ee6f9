//! The minijinja environment every backend renders through.
//!
//! Templates under `templates/<target>/` are embedded at build time; `--templates DIR` loads
//! files from `DIR` first, so a user can override any of them. Undefined variables are errors
//! (strict), output is never HTML-escaped, and templates only lay out what the backend computed:
//! they never compute policy.

use minijinja::{Environment, UndefinedBehavior};
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

pub use embedded::TEMPLATES;

/// Builds the environment. `override_dir` takes precedence over the embedded templates.
pub fn environment(override_dir: Option<&Path>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    let dir: Option<PathBuf> = override_dir.map(Path::to_path_buf);
    env.set_loader(move |name| {
        if let Some(d) = &dir {
            let p = d.join(name);
            if p.is_file() {
                return std::fs::read_to_string(&p).map(Some).map_err(|e| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("cannot read template `{}`: {e}", p.display()),
                    )
                });
            }
        }
        Ok(TEMPLATES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.to_string()))
    });
    env.add_filter("yaml", yaml_filter);
    // The names before `yaml`, kept for `--templates` folders written against them.
    env.add_filter("yaml_string", yaml_string);
    env.add_filter("to_yaml", to_yaml_filter);
    env.add_filter("json", json_string);
    env.add_filter("shell_quote", shell_quote);
    env
}

/// Renders `name` with `ctx`.
pub fn render<S: serde::Serialize>(
    env: &Environment<'_>,
    name: &str,
    ctx: S,
) -> Result<String, crate::Error> {
    let tmpl = env
        .get_template(name)
        .map_err(|e| crate::Error::Template(format!("{name}: {e:#}")))?;
    tmpl.render(ctx)
        .map_err(|e| crate::Error::Template(format!("{name}: {e:#}")))
}

/// The `yaml` filter, the one way values reach a YAML template: `{{ s | yaml }}` writes a string
/// as a double-quoted scalar ([`yaml_string`]); `key:{{ v | yaml(column) }}` writes any value
/// (string, number, list, map) as the YAML printer does after a `key:` at `column`
/// ([`to_yaml_filter`]).
pub fn yaml_filter(
    value: minijinja::Value,
    column: Option<usize>,
) -> Result<String, minijinja::Error> {
    match (column, value.as_str()) {
        (Some(c), _) => to_yaml_filter(value, c),
        (None, Some(s)) => Ok(yaml_string(s)),
        (None, None) => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "`yaml` without a column takes a string: write `key:{{ value | yaml(column) }}` for other values",
        )),
    }
}

/// A YAML double-quoted scalar: safe for any input string (quotes, backslashes, newlines,
/// document markers, YAML's extra line breaks and non-printable characters are escaped).
pub fn yaml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20
                || (0x7f..=0x9f).contains(&(c as u32))
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `to_yaml(column)` filter: `value` as the YAML printer ([`to_yaml`]) writes it after a
/// `key:` at `column`, so `key:{{ v | to_yaml(4) }}` reads the same as a document serde printed
/// whole. A scalar (and an empty list or map) follows on the same line after one space; a list
/// starts on the next line at `column` (the printer does not indent a list under its key); a map
/// starts on the next line at `column + 2`. Every string is quoted or escaped as the printer
/// decides; with [`yaml_string`] it is what the `yaml` filter ([`yaml_filter`]) writes, the only
/// way input reaches a YAML template.
pub fn to_yaml_filter(value: minijinja::Value, column: usize) -> Result<String, minijinja::Error> {
    // Printed as the value of a one-key map, so the printer decides in the same context (a
    // block mapping value) as in the document.
    let mut wrapper = serde_json::Map::new();
    let json = serde_json::to_value(&value).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    wrapper.insert("k".into(), json);
    let text = serde_yaml::to_string(&wrapper).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    let body = text
        .strip_prefix("k:")
        .expect("a one-key map prints its key first");
    let body = body.strip_suffix('\n').unwrap_or(body);
    let pad = " ".repeat(column);
    let mut out = String::with_capacity(body.len() + 16);
    for (i, line) in body.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    Ok(out)
}

/// A POSIX shell word: single-quoted, with embedded quotes escaped.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A JSON string literal (also a valid YAML double-quoted scalar).
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// Prints a serialisable value as YAML (block style, keys in struct order).
pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    serde_yaml::to_string(value).expect("values built by polytrans serialise to YAML")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_strings_round_trip() {
        for s in [
            "plain",
            "quote \" and \\ backslash",
            "new\nline\r\t",
            "---\n...\n",
            "{{ x }} ${{ y }}",
            "nel\u{85} ls\u{2028} ps\u{2029} bom\u{feff} del\u{7f}",
            "a: b, [c], #d",
        ] {
            let doc = format!("k: {}\n", yaml_string(s));
            let v = crate::load::yaml_documents(&doc).unwrap();
            assert_eq!(v[0]["k"], serde_json::Value::String(s.into()), "{doc}");
        }
    }

    /// `to_yaml(column)` in a template prints what the printer prints for the whole document,
    /// byte for byte, and reads back as the same value, for hostile strings in every position.
    #[test]
    fn to_yaml_filter_matches_the_printer() {
        let env = environment(None);
        let tmpl = "a:\n  b:{{ s | to_yaml(2) }}\n  c:{{ l | to_yaml(2) }}\n  d:{{ m | to_yaml(2) }}\n  e:\n  - f:{{ s | to_yaml(4) }}\n    g:{{ m | to_yaml(4) }}\n";
        for s in [
            "plain",
            "",
            "true",
            "123",
            "'single' \"double\"",
            "new\nline",
            "two\n\ntrailing\n\n",
            " leading space\nx",
            "---\n...\n",
            "{{ x }} ${{ y }}",
            "nel\u{85} ls\u{2028} ps\u{2029} bom\u{feff} del\u{7f}",
            "a: b, [c], #d",
            "- item",
            "*alias &anchor !tag %dir @at `tick`",
        ] {
            let m = serde_json::json!({"x": s, "=(y)": [s, {"z": s}], "": {}});
            let value = serde_json::json!({"a": {"b": s, "c": [s, s], "d": m.clone(),
                "e": [{"f": s, "g": m.clone()}]}});
            let ctx = minijinja::context! { s => s, l => vec![s, s], m => m.clone() };
            let text = env.render_str(tmpl, ctx).unwrap();
            assert_eq!(text, to_yaml(&value), "{s:?}");
            let back = crate::load::yaml_documents(&text).unwrap();
            assert_eq!(back[0], value, "{s:?}");
        }
    }
}
