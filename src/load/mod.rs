//! Loading Kubernetes objects from files, folders and stdin.
//!
//! This is the only module that parses YAML (`render` prints it). Input is parsed with an event parser
//! that keeps the line and column of every node, so every later stage can point at the exact
//! field a diagnostic is about. JSON goes through the same parser (JSON is YAML).
//!
//! - folders are walked recursively, `*.yaml`, `*.yml` and `*.json`, in sorted order;
//! - `-` reads stdin;
//! - multi-document YAML, empty documents skipped;
//! - `kind: List` and every `*List` kind are flattened into their `items`;
//! - limits (size, documents, depth, alias expansion) turn hostile input into clear errors.

use crate::diag::{Diagnostic, Diagnostics, Location};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

mod json;
mod node;
mod objects;
mod strict;
mod text;
mod yaml;

pub use json::parse_json_reader;
use json::*;
pub use node::{Node, Value};
use objects::*;
pub use objects::{by_kind, is_list_kind};
pub use strict::{Undecoded, decode_prefix};
pub use text::decode_text;
use text::*;
use yaml::*;
pub use yaml::{yaml_documents, yaml11_bool};

/// Limits that keep hostile input from exhausting memory or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input file, in bytes.
    pub max_file_bytes: u64,
    /// Most YAML documents in one file.
    pub max_documents: usize,
    /// Deepest nesting of mappings and sequences.
    pub max_depth: usize,
    /// Most nodes that alias expansion may add in one document.
    pub max_alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 512 * 1024 * 1024,
            max_documents: 1_000_000,
            max_depth: 128,
            max_alias_nodes: 100_000,
        }
    }
}

/// Where an input came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    /// The path as the user gave it (or as found under a folder); `<stdin>` for `-`.
    pub name: String,
}

/// One Kubernetes object found in the input.
#[derive(Debug, Clone)]
pub struct Object {
    pub source: Arc<Source>,
    /// 1-based document index within the file.
    pub document: usize,
    /// Index within a `*List` document's `items`, if it came from one.
    pub item: Option<usize>,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub node: Node,
}

impl Object {
    /// ``Kind `name` `` for messages.
    pub fn describe(&self) -> String {
        if self.name.is_empty() {
            self.kind.clone()
        } else {
            format!("{} `{}`", self.kind, self.name)
        }
    }

    /// The location of `node` (a node inside this object).
    pub fn loc(&self, node: &Node) -> Location {
        Location {
            file: self.source.name.clone(),
            line: node.line,
            column: node.column,
            document: Some(self.document),
            object: Some(self.describe()),
        }
    }

    /// The location of the object itself.
    pub fn location(&self) -> Location {
        self.loc(&self.node)
    }

    /// `file:line` of the object, for short prefixes.
    pub fn short_location(&self) -> String {
        format!("{}:{}", self.source.name, self.node.line)
    }
}

/// Where an item of a JSON list document starts (see [`ObjectSink::json_item`]).
#[derive(Debug, Clone, Copy)]
pub struct ItemAt<'a> {
    pub source: &'a Arc<Source>,
    /// 1-based document index within the file.
    pub document: usize,
    /// Index within the document's `items` (or the root array); `None` for a whole document
    /// (one of several objects in a file, one per line).
    pub item: Option<usize>,
    /// 1-based line and column (in bytes) of the item's `{`.
    pub line: u32,
    pub column: u32,
}

impl ItemAt<'_> {
    /// The location of the item, for an object described as `object`.
    pub fn location(&self, object: String) -> Location {
        Location {
            file: self.source.name.clone(),
            line: self.line,
            column: self.column,
            document: Some(self.document),
            object: Some(object),
        }
    }
}

/// Receives the objects read from the inputs.
pub trait ObjectSink {
    /// An object read by the positioned reader.
    fn object(&mut self, o: Object);

    /// An item of a JSON `*List` document or root array (not the first), or a JSON document
    /// after the first in a file of several (one object per line; `at.item` is `None`; a
    /// `*List` kind must then be refused, its items are the objects), offered as text before
    /// the positioned reader reads it: `text` starts with the item (`{`) and may hold more
    /// after it. A sink that decodes it straight from the text (with [`decode_prefix`], so that it
    /// reads exactly what the positioned reader would) handles it and returns the number of
    /// bytes it took; `Err(Undecoded::NeedMore)` asks for more text, `Err(Undecoded::Refused)`
    /// has the positioned reader read it and hand it to [`ObjectSink::object`] (which then reports
    /// errors with their positions, or makes of the object what it always did).
    fn json_item(&mut self, text: &str, at: &ItemAt<'_>, depth: usize) -> Result<usize, Undecoded> {
        let _ = (text, at, depth);
        Err(Undecoded::Refused)
    }
}

/// A closure as an [`ObjectSink`] that takes every object from the positioned reader.
pub struct Each<'f>(pub &'f mut dyn FnMut(Object));

impl ObjectSink for Each<'_> {
    fn object(&mut self, o: Object) {
        (self.0)(o)
    }
}

/// Loads every object from the given inputs, collecting every error before failing.
pub fn load_paths(paths: &[PathBuf], limits: &Limits) -> Result<Vec<Object>, Diagnostics> {
    let mut objects = Vec::new();
    let mut diags = Diagnostics::default();
    for_each_object(paths, limits, &mut |o| objects.push(o), &mut diags);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(objects)
    }
}

/// Streams objects one by one, so memory stays flat in the number of objects.
/// Errors are pushed to `diags` and loading continues with the next document or file.
pub fn for_each_object(
    paths: &[PathBuf],
    limits: &Limits,
    f: &mut dyn FnMut(Object),
    diags: &mut Diagnostics,
) {
    for_each_object_in(paths, limits, &mut Each(f), diags)
}

/// [`for_each_object`] into an [`ObjectSink`], which may decode JSON list items itself.
pub fn for_each_object_in(
    paths: &[PathBuf],
    limits: &Limits,
    f: &mut dyn ObjectSink,
    diags: &mut Diagnostics,
) {
    if paths.is_empty() {
        diags.push(
            Diagnostic::error("no input given")
                .with_help("name one or more files or folders, or `-` for stdin"),
        );
        return;
    }
    for path in paths {
        for file in expand_path(path, diags) {
            let source = Arc::new(Source {
                name: display_path(&file),
            });
            let is_json = is_json_name(&file.to_string_lossy());
            if file.as_os_str() == "-" {
                match read_input(&file, limits) {
                    Ok(text) => parse_stream_in(&text, &source, limits, f, diags),
                    Err(d) => diags.push(d),
                }
            } else if is_json {
                // JSON is read in chunks as it is parsed, too.
                match open_input(&file, limits) {
                    Ok(mut reader) => {
                        parse_json(
                            String::new(),
                            Some(&mut reader),
                            true,
                            &source,
                            limits,
                            f,
                            diags,
                        );
                    }
                    Err(d) => diags.push(d),
                }
            } else {
                // YAML is parsed as it is read: memory stays flat however large the file.
                match open_input(&file, limits) {
                    Ok(reader) => {
                        parse_reader(reader, &source, limits, &mut |o| f.object(o), diags)
                    }
                    Err(d) => diags.push(d),
                }
            }
        }
    }
}

fn display_path(p: &Path) -> String {
    if p.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        p.to_string_lossy().into_owned()
    }
}

/// Expands a path argument into the files to read.
fn expand_path(path: &Path, diags: &mut Diagnostics) -> Vec<PathBuf> {
    if path.as_os_str() == "-" {
        return vec![path.to_path_buf()];
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            let mut files = Vec::new();
            let mut seen = std::collections::HashSet::new();
            walk_dir(path, &mut files, &mut seen, diags);
            files.sort();
            if files.is_empty() {
                diags.push(
                    Diagnostic::warning(format!(
                        "folder `{}` holds no `*.yaml`, `*.yml` or `*.json` files",
                        path.display()
                    ))
                    .at(Location::file(path.display().to_string())),
                );
            }
            files
        }
        Ok(_) => vec![path.to_path_buf()],
        Err(e) => {
            diags.push(
                Diagnostic::error(format!(
                    "cannot read `{}`: {}",
                    path.display(),
                    io_reason(&e)
                ))
                .at(Location::file(path.display().to_string()))
                .with_help("check the path; use `-` to read stdin"),
            );
            vec![]
        }
    }
}

fn walk_dir(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
    diags: &mut Diagnostics,
) {
    // Symlink loops: remember canonical folders already walked.
    let canon = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !seen.insert(canon) {
        diags.push(
            Diagnostic::warning(format!(
                "folder `{}` was already read (symlink loop?); skipped",
                dir.display()
            ))
            .at(Location::file(dir.display().to_string())),
        );
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(
                Diagnostic::error(format!(
                    "cannot read folder `{}`: {}",
                    dir.display(),
                    io_reason(&e)
                ))
                .at(Location::file(dir.display().to_string())),
            );
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk_dir(&p, files, seen, diags);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            files.push(p);
        }
    }
}

/// Parses one input text (all its documents) and calls `f` for every object.
pub fn parse_stream(
    text: &str,
    source: &Arc<Source>,
    limits: &Limits,
    f: &mut dyn FnMut(Object),
    diags: &mut Diagnostics,
) {
    parse_stream_in(text, source, limits, &mut Each(f), diags)
}

/// [`parse_stream`] into an [`ObjectSink`], which may decode JSON list items itself.
pub fn parse_stream_in(
    text: &str,
    source: &Arc<Source>,
    limits: &Limits,
    f: &mut dyn ObjectSink,
    diags: &mut Diagnostics,
) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if looks_like_json(source, text)
        && parse_json(text.to_string(), None, false, source, limits, f, diags)
    {
        return;
    }
    if let Some(i) = forbidden_control(text) {
        let before = &text[..i];
        let line = before.matches('\n').count() + 1;
        let column = before[before.rfind('\n').map_or(0, |n| n + 1)..]
            .chars()
            .count()
            + 1;
        let c = text[i..].chars().next().expect("a character at i");
        diags.push(control_char_error(
            &source.name,
            c,
            Location {
                file: source.name.clone(),
                line: line as u32,
                column: column as u32,
                ..Default::default()
            },
        ));
        return;
    }
    parse_yaml(
        Parser::new_from_str(text),
        source,
        limits,
        &mut |o| f.object(o),
        diags,
    );
}

/// Parses YAML from a reader, document by document.
pub fn parse_reader<R: Read>(
    reader: R,
    source: &Arc<Source>,
    limits: &Limits,
    f: &mut dyn FnMut(Object),
    diags: &mut Diagnostics,
) {
    let failed = std::rc::Rc::new(std::cell::Cell::new(None));
    let error = std::rc::Rc::new(std::cell::RefCell::new(None));
    let chars = StreamChars {
        reader,
        chars: Vec::new(),
        idx: 0,
        carry: Vec::new(),
        offset: 0,
        line: 1,
        column: 1,
        started: false,
        failed: failed.clone(),
        error: error.clone(),
        eof: false,
    };
    let mut local = Diagnostics::default();
    parse_yaml(Parser::new(chars), source, limits, f, &mut local);
    if let Some(DecodeStop {
        offset,
        line,
        column,
        control,
        utf16,
    }) = failed.get()
    {
        // What the parser said about the truncated text is noise.
        let at = Location {
            file: source.name.clone(),
            line: line as u32,
            column: column as u32,
            ..Default::default()
        };
        diags.push(match control {
            Some(c) => control_char_error(&source.name, c, at),
            None => not_utf8(&source.name, offset, at, utf16),
        });
        diags.extend(Diagnostics(
            local
                .0
                .into_iter()
                .filter(|d| d.severity != crate::diag::Severity::Error)
                .collect(),
        ));
        return;
    }
    if let Some(e) = error.borrow().as_ref() {
        diags.push(
            Diagnostic::error(format!("cannot read `{}`: {e}", source.name))
                .at(Location::file(source.name.clone())),
        );
    }
    diags.extend(local);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> (Vec<serde_json::Value>, Diagnostics) {
        let src = Arc::new(Source { name: name.into() });
        let mut out = Vec::new();
        let mut d = Diagnostics::default();
        parse_stream(
            text,
            &src,
            &Limits::default(),
            &mut |o| out.push(o.node.to_json()),
            &mut d,
        );
        (out, d)
    }

    /// An object as JSON text, its line and column, and its index in `items`.
    type Seen = (String, u32, u32, Option<usize>);

    /// Objects with their locations, through the file path (chunked reading).
    fn parse_file(name: &str, text: &str) -> (Vec<Seen>, String) {
        let dir = std::env::temp_dir().join(format!("polytrans-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let mut out = Vec::new();
        let mut d = Diagnostics::default();
        for_each_object(
            std::slice::from_ref(&path),
            &Limits::default(),
            &mut |o| {
                out.push((
                    o.node.to_json().to_string(),
                    o.node.line,
                    o.node.column,
                    o.item,
                ))
            },
            &mut d,
        );
        std::fs::remove_dir_all(&dir).unwrap();
        (out, d.to_string())
    }

    /// A `kind: List` dump larger than the read chunk: items, positions and values are the same
    /// whether the text is parsed whole or read in chunks (boundaries fall inside strings,
    /// escapes, multi-byte characters, numbers and literals), and `kind` may follow `items`.
    #[test]
    fn json_lists_stream_across_chunks() {
        let mut items = Vec::new();
        for i in 0..15000 {
            items.push(format!(
                "{{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n  \"metadata\": {{\"name\": \"p{i}-é😀\\u00e9\\ud83d\\ude00\"}},\n  \"spec\": {{\"n\": {}, \"f\": -1.5e3, \"t\": true, \"x\": null, \"s\": \"{}\"}}}}",
                i * 7919,
                "ab\\\"".repeat(i % 50)
            ));
        }
        let text = format!(
            "{{\"apiVersion\": \"v1\", \"items\": [\n{}\n], \"kind\": \"List\", \"metadata\": {{}}}}\n",
            items.join(",\n")
        );
        assert!(text.len() > 3 << 20, "spans several chunks");
        let (chunked, diags) = parse_file("list.json", &text);
        assert_eq!(diags, "");
        let src = Arc::new(Source {
            name: "list.json".into(),
        });
        let mut whole = Vec::new();
        let mut d = Diagnostics::default();
        parse_stream(
            &text,
            &src,
            &Limits::default(),
            &mut |o| {
                whole.push((
                    o.node.to_json().to_string(),
                    o.node.line,
                    o.node.column,
                    o.item,
                ))
            },
            &mut d,
        );
        assert_eq!(chunked.len(), 15000);
        assert_eq!(chunked, whole);
        assert_eq!(chunked[14999].3, Some(14999));
        assert!(chunked[1].0.contains("p1-é😀é😀"), "{}", chunked[1].0);
        // A syntax error late in a large file keeps its position.
        let bad = text.replacen("\"t\": true, \"x\": null, \"s\": \"\"}}", "\"t\": tru}}", 1);
        let bad = format!("{}{}", &text[..text.len() - 40], &bad[bad.len() - 40..]);
        let (_, diags) = parse_file(
            "bad.json",
            &bad.replace("\"metadata\": {}}", "\"metadata\": {]}"),
        );
        let lines = bad.matches('\n').count();
        assert!(diags.contains(&format!("bad.json:{lines}:")), "{diags}");
    }

    /// A reader that hands out a few bytes at a time, so that every byte is a chunk boundary.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.1 = self.1 % 5 + 1;
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn json_reader_agrees_with_whole_text_at_every_boundary() {
        let texts = [
            r#"{"items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a\u00e9\ud83d\ude00é😀"}, "spec": {"n": 12345, "f": -1.5e3, "t": true, "u": false, "x": null}}, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}}], "kind": "List", "apiVersion": "v1"}"#,
            r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "single"}}"#,
            r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"}, "spec": tru}"#,
            "{\"apiVersion\": \"v1\",\n \"kind\": \"Pod\",\n \"metadata\": {\"name\": \"x\"}} trailing",
            "\u{feff}{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"bom\"}}",
        ];
        for text in texts {
            let src = Arc::new(Source {
                name: "t.json".into(),
            });
            let mut whole = Vec::new();
            let mut d1 = Diagnostics::default();
            parse_stream(
                text,
                &src,
                &Limits::default(),
                &mut |o| whole.push((o.node.to_json(), o.node.line, o.node.column, o.item)),
                &mut d1,
            );
            let mut read = Vec::new();
            let mut d2 = Diagnostics::default();
            parse_json_reader(
                &mut Trickle(text.as_bytes(), 0),
                &src,
                &Limits::default(),
                &mut |o| read.push((o.node.to_json(), o.node.line, o.node.column, o.item)),
                &mut d2,
            );
            assert_eq!(d1.to_string(), d2.to_string(), "{text}");
            assert_eq!(whole, read, "{text}");
            assert_eq!(d1.to_string(), d2.to_string(), "{text}");
        }
    }

    #[test]
    fn items_of_a_non_list_are_flagged() {
        let (objs, d) = parse(
            "x.yaml",
            "apiVersion: v1\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\nkind: Thing\n",
        );
        assert_eq!(objs.len(), 1);
        assert!(
            d.to_string()
                .contains("the 1 `items` of this `Thing` were read as objects"),
            "{d}"
        );
        let (objs, d) = parse(
            "x.yaml",
            "apiVersion: v1\nkind: Thing\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n",
        );
        // Known not to be a list before `items`: one object, the Thing itself.
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0]["kind"], "Thing");
        assert_eq!(d.to_string(), "");
    }

    #[test]
    fn json_fast_path_agrees_with_yaml() {
        let text = r#"{"kind": "List", "items": [
  {"kind": "Pod", "metadata": {"name": "a\"b\\c\u00e9\n"}, "spec": {"n": -12, "f": 1.5e3, "t": true, "z": null, "e": [], "o": {}}}
]}"#;
        let (json, d1) = parse("x.json", text);
        let (yaml, d2) = parse("x.yaml-as-text", &format!("# yaml\n{text}"));
        assert!(d1.is_empty() && d2.is_empty(), "{d1} {d2}");
        assert_eq!(json, yaml);
        assert_eq!(json[0]["metadata"]["name"], "a\"b\\cé\n");
        let (json, _) = parse("y.json", r#"{"kind": "Pod", "s": "\ud83d\ude00"}"#);
        assert_eq!(json[0]["s"], "😀");
    }

    #[test]
    fn json_errors_have_positions() {
        let (_, d) = parse("x.json", "{\"kind\": \"Pod\",\n \"a\": 1,\n \"a\": 2}");
        assert!(d.to_string().contains("duplicate key `a`"), "{d}");
        assert!(d.to_string().contains("x.json:3:"), "{d}");
        let (_, d) = parse("x.json", &format!("{}{}", "[".repeat(500), "]".repeat(500)));
        assert!(d.to_string().contains("nesting deeper than"), "{d}");
        let (_, d) = parse("x.json", "{\"kind\": \"Pod\"} trailing");
        assert!(d.to_string().contains("trailing"), "{d}");
    }
}
