//! Loading Kubernetes objects from files, folders and stdin.
//!
//! This is the only module that parses or prints YAML. Input is parsed with an event parser
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

/// A parsed YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// For a plain (unquoted) YAML scalar that YAML 1.2 reads as a string but YAML 1.1 reads as
    /// a boolean (`yes`, `No`, `on`, `OFF`, `y`, …): that boolean. `kubectl` reads manifests
    /// with a YAML 1.1 reader (sigs.k8s.io/yaml), so the API server saw the boolean.
    pub yaml11_bool: Option<bool>,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Keys are strings (Kubernetes objects have no other keys); order is kept.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The child at `key` of a mapping, treating `null` as absent (Go decoding semantics).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .filter(|v| !matches!(v.value, Value::Null)),
            _ => None,
        }
    }

    /// A nested child by a path of keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }

    /// Converts to a JSON value (for serde-typed views and for engines).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
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
            let is_json = file.extension().is_some_and(|e| e == "json");
            if file.as_os_str() == "-" {
                match read_input(&file, limits) {
                    Ok(text) => parse_stream(&text, &source, limits, f, diags),
                    Err(d) => diags.push(d),
                }
            } else if is_json {
                // JSON is read in chunks as it is parsed, too.
                match open_input(&file, limits) {
                    Ok(mut reader) => parse_json_reader(&mut reader, &source, limits, f, diags),
                    Err(d) => diags.push(d),
                }
            } else {
                // YAML is parsed as it is read: memory stays flat however large the file.
                match open_input(&file, limits) {
                    Ok(reader) => parse_reader(reader, &source, limits, f, diags),
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

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            // std's messages end with " (os error N)"; keep them short.
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
    }
}

fn read_input(path: &Path, limits: &Limits) -> Result<String, Diagnostic> {
    let name = display_path(path);
    let mut bytes = Vec::new();
    let too_big = |n: u64| {
        Diagnostic::error(format!(
            "`{name}` is larger than the input limit ({n} bytes > {} bytes)",
            limits.max_file_bytes
        ))
        .at(Location::file(name.clone()))
        .with_help("raise the limit with `--max-input-bytes` if this input is genuine")
    };
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(limits.max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Diagnostic::error(format!("cannot read stdin: {}", io_reason(&e)))
                    .at(Location::file(name.clone()))
            })?;
        if bytes.len() as u64 > limits.max_file_bytes {
            return Err(too_big(bytes.len() as u64));
        }
    } else {
        let meta = std::fs::metadata(path).map_err(|e| {
            Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&e)))
                .at(Location::file(name.clone()))
        })?;
        if meta.len() > limits.max_file_bytes {
            return Err(too_big(meta.len()));
        }
        let file = std::fs::File::open(path).map_err(|e| {
            Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&e)))
                .at(Location::file(name.clone()))
        })?;
        file.take(limits.max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                let mut d = Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&e)))
                    .at(Location::file(name.clone()));
                if e.raw_os_error() == Some(21) {
                    d = d.with_help("a folder was given where a file is needed");
                }
                d
            })?;
    }
    String::from_utf8(bytes).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.as_bytes()[..off]);
        let line = text.matches('\n').count() + 1;
        let at = Location {
            file: name.clone(),
            line: line as u32,
            column: (text.len() - text.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1) as u32,
            ..Default::default()
        };
        not_utf8(&name, off, at, off == 0 && looks_utf16(e.as_bytes()))
    })
}

/// Whether bytes start with a UTF-16 byte-order mark.
fn looks_utf16(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff])
}

fn not_utf8(name: &str, offset: usize, at: Location, utf16: bool) -> Diagnostic {
    Diagnostic::error(format!(
        "`{name}` is not UTF-8 text (invalid byte at offset {offset})"
    ))
    .at(at)
    .with_help(if utf16 {
        "this looks like UTF-16 (it starts with a byte-order mark); save it as UTF-8"
    } else {
        "Kubernetes manifests are UTF-8 YAML or JSON; is this a binary file?"
    })
}

/// A fast path for JSON input (a `.json` file or text starting with `{`/`[`): a direct parser
/// that keeps positions, much faster than the YAML event parser on large dumps.
///
/// A `.json` file is read in chunks as the parser needs them, and the text of `items` already
/// handed on is dropped, so memory stays flat however large the dump.
struct JsonParser<'r, 's> {
    /// The text read and not yet dropped; `buf[0]` is at byte `base` of the input.
    buf: String,
    base: usize,
    pos: usize,
    line: u32,
    /// Absolute byte offset where the current line starts.
    line_start: usize,
    /// Where more text comes from (`None`: `buf` is the whole input).
    reader: Option<&'r mut dyn Read>,
    /// Bytes read that end in an incomplete UTF-8 sequence.
    pending: Vec<u8>,
    /// A read or UTF-8 error met while refilling; reported instead of the parse error it causes.
    read_error: Option<Diagnostic>,
    name: String,
    depth: usize,
    max_depth: usize,
    /// Receives the root's `items` one by one (see [`starts_item_stream`]).
    sink: Option<ItemSink<'s>>,
    streamed: usize,
}

impl JsonParser<'_, '_> {
    fn err(&self, msg: impl Into<String>) -> (String, u32, u32) {
        (
            msg.into(),
            self.line,
            ((self.base + self.pos).saturating_sub(self.line_start) + 1) as u32,
        )
    }

    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.base + self.pos;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                _ => break,
            }
        }
    }

    fn here(&self) -> (u32, u32) {
        (
            self.line,
            (self.base + self.pos - self.line_start + 1) as u32,
        )
    }

    /// The byte at `pos`, reading more input when the buffer is exhausted.
    fn peek(&mut self) -> Option<u8> {
        // A refill may add nothing yet (a chunk that ends inside a multi-byte character).
        while self.pos >= self.buf.len() {
            if !self.refill() {
                return None;
            }
        }
        self.buf.as_bytes().get(self.pos).copied()
    }

    /// Reads until `n` bytes from `pos` are in the buffer, or the input ends.
    fn ensure(&mut self, n: usize) {
        while self.buf.len() < self.pos + n {
            if !self.refill() {
                break;
            }
        }
    }

    /// Whether the bytes from `pos` are `lit` (reading more input as needed).
    fn looking_at(&mut self, lit: &str) -> bool {
        self.ensure(lit.len());
        self.buf[self.pos..].starts_with(lit)
    }

    /// Reads the next chunk into `buf`; false at the end of input or on a read error.
    fn refill(&mut self) -> bool {
        const CHUNK: usize = 1 << 20;
        let Some(reader) = self.reader.as_mut() else {
            return false;
        };
        let mut chunk = std::mem::take(&mut self.pending);
        let start = chunk.len();
        chunk.resize(start + CHUNK, 0);
        let n = loop {
            match reader.read(&mut chunk[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.read_error = Some(
                        Diagnostic::error(format!(
                            "cannot read `{}`: {}",
                            self.name,
                            io_reason(&e)
                        ))
                        .at(Location::file(self.name.clone())),
                    );
                    self.reader = None;
                    return false;
                }
            }
        };
        chunk.truncate(start + n);
        if n == 0 {
            self.reader = None;
            if chunk.is_empty() {
                return false;
            }
        }
        let valid = match std::str::from_utf8(&chunk) {
            Ok(_) => chunk.len(),
            // An incomplete sequence at the end of a chunk: keep it for the next read.
            Err(e) if e.error_len().is_none() && n > 0 => e.valid_up_to(),
            Err(e) => {
                let off = e.valid_up_to();
                let before = std::str::from_utf8(&chunk[..off]).unwrap_or("");
                let newlines = self.buf[self.pos.min(self.buf.len())..]
                    .matches('\n')
                    .count()
                    + before.matches('\n').count();
                let line_start = match before.rfind('\n') {
                    Some(i) => self.base + self.buf.len() + i + 1,
                    None => match self.buf.rfind('\n') {
                        Some(i) if i >= self.pos => self.base + i + 1,
                        _ => self.line_start,
                    },
                };
                let abs = self.base + self.buf.len() + off;
                let at = Location {
                    file: self.name.clone(),
                    line: self.line + newlines as u32,
                    column: (abs - line_start + 1) as u32,
                    ..Default::default()
                };
                self.read_error = Some(not_utf8(&self.name, abs, at, false));
                self.reader = None;
                return false;
            }
        };
        self.pending = chunk.split_off(valid);
        match std::str::from_utf8(&chunk) {
            Ok(text) => self.buf.push_str(text),
            Err(_) => return false,
        }
        true
    }

    /// Drops the text before `pos` (between streamed items).
    fn drop_consumed(&mut self) {
        if self.pos > (1 << 20) {
            self.buf.drain(..self.pos);
            self.base += self.pos;
            self.pos = 0;
        }
    }

    /// The root's `items` array: streamed to the sink element by element when the first
    /// element starts a stream, else parsed whole.
    fn root_items(&mut self, root_entries: &[(String, Node)]) -> Result<Node, (String, u32, u32)> {
        let (line, column) = self.here();
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.err(format!("nesting deeper than {} levels", self.max_depth)));
        }
        self.pos += 1;
        let mut items = Vec::new();
        let mut streaming = None;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                let item = self.value()?;
                if *streaming.get_or_insert_with(|| starts_item_stream(&item, root_entries)) {
                    if let Some(sink) = self.sink.as_mut() {
                        sink(self.streamed, item);
                    }
                    self.streamed += 1;
                    self.drop_consumed();
                } else {
                    items.push(item);
                }
                self.ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.err("invalid JSON: expected `,` or `]`")),
                }
            }
        }
        self.depth -= 1;
        Ok(Node {
            value: Value::Seq(items),
            line,
            column,
            yaml11_bool: None,
        })
    }

    fn value(&mut self) -> Result<Node, (String, u32, u32)> {
        self.ws();
        let (line, column) = self.here();
        let node = |value| Node {
            value,
            line,
            column,
            yaml11_bool: None,
        };
        match self.peek() {
            None => Err(self.err("invalid JSON: unexpected end of input")),
            Some(b'{') => {
                self.depth += 1;
                if self.depth > self.max_depth {
                    return Err(self.err(format!("nesting deeper than {} levels", self.max_depth)));
                }
                self.pos += 1;
                let mut entries: Vec<(String, Node)> = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        if self.peek() != Some(b'"') {
                            return Err(self.err("invalid JSON: expected a string key"));
                        }
                        let key = self.string()?;
                        if entries.iter().any(|(k, _)| *k == key) {
                            return Err(self.err(format!("duplicate key `{key}` in mapping")));
                        }
                        self.ws();
                        if self.peek() != Some(b':') {
                            return Err(self.err("invalid JSON: expected `:`"));
                        }
                        self.pos += 1;
                        self.ws();
                        let v = if self.depth == 1
                            && key == "items"
                            && self.sink.is_some()
                            && self.peek() == Some(b'[')
                        {
                            self.root_items(&entries)?
                        } else {
                            self.value()?
                        };
                        entries.push((key, v));
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err("invalid JSON: expected `,` or `}`")),
                        }
                    }
                }
                self.depth -= 1;
                Ok(node(Value::Map(entries)))
            }
            Some(b'[') => {
                self.depth += 1;
                if self.depth > self.max_depth {
                    return Err(self.err(format!("nesting deeper than {} levels", self.max_depth)));
                }
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err("invalid JSON: expected `,` or `]`")),
                        }
                    }
                }
                self.depth -= 1;
                Ok(node(Value::Seq(items)))
            }
            Some(b'"') => Ok(node(Value::String(self.string()?))),
            Some(b't') if self.looking_at("true") => {
                self.pos += 4;
                Ok(node(Value::Bool(true)))
            }
            Some(b'f') if self.looking_at("false") => {
                self.pos += 5;
                Ok(node(Value::Bool(false)))
            }
            Some(b'n') if self.looking_at("null") => {
                self.pos += 4;
                Ok(node(Value::Null))
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(&c))
                {
                    self.pos += 1;
                }
                let t = &self.buf[start..self.pos];
                if let Ok(i) = t.parse::<i64>() {
                    Ok(node(Value::Int(i)))
                } else if let Ok(f) = t.parse::<f64>() {
                    Ok(node(Value::Float(f)))
                } else {
                    Err(self.err(format!("invalid JSON: bad number `{t}`")))
                }
            }
            Some(_) => Err(self.err("invalid JSON: unexpected character")),
        }
    }

    fn string(&mut self) -> Result<String, (String, u32, u32)> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.pos;
            while self
                .peek()
                .is_some_and(|c| c != b'"' && c != b'\\' && c >= 0x20)
            {
                self.pos += 1;
            }
            out.push_str(&self.buf[start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self
                        .peek()
                        .ok_or_else(|| self.err("invalid JSON: unterminated string"))?;
                    self.pos += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hex = |p: &mut Self| -> Result<u32, (String, u32, u32)> {
                                p.ensure(4);
                                let h = p
                                    .buf
                                    .get(p.pos..p.pos + 4)
                                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                                    .ok_or_else(|| p.err("invalid JSON: bad `\\u` escape"))?;
                                p.pos += 4;
                                Ok(h)
                            };
                            let mut cp = hex(self)?;
                            if (0xd800..0xdc00).contains(&cp) && self.looking_at("\\u") {
                                self.pos += 2;
                                let lo = hex(self)?;
                                cp = 0x10000
                                    + ((cp - 0xd800) << 10)
                                    + (lo.wrapping_sub(0xdc00) & 0x3ff);
                            }
                            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.err("invalid JSON: bad escape")),
                    }
                }
                _ => return Err(self.err("invalid JSON: unterminated string")),
            }
        }
    }
}

fn looks_like_json(source: &Source, text: &str) -> bool {
    source.name.ends_with(".json") || matches!(text.trim_start().as_bytes().first(), Some(b'{'))
}

/// Parses JSON: `text`, then what `reader` still holds. Returns false when the text is not JSON
/// and may be YAML instead (never when `json_only`, e.g. for a `.json` file).
fn parse_json(
    text: String,
    reader: Option<&mut dyn Read>,
    json_only: bool,
    source: &Arc<Source>,
    limits: &Limits,
    f: &mut dyn FnMut(Object),
    diags: &mut Diagnostics,
) -> bool {
    let json_file = json_only || source.name.ends_with(".json");
    // Items are streamed in `.json` files and in text that starts like JSON (`{"`); once some
    // were handed on, a later syntax error is reported as JSON rather than retried as YAML.
    let stream_items = json_file
        || text
            .trim_start()
            .strip_prefix('{')
            .is_some_and(|r| r.trim_start().starts_with('"'));
    let mut sink = |i: usize, node: Node| {
        if let Some(o) = make_object(node, source, 1, Some(i), diags) {
            f(o);
        }
    };
    let mut p = JsonParser {
        buf: text,
        base: 0,
        pos: 0,
        line: 1,
        line_start: 0,
        reader,
        pending: Vec::new(),
        read_error: None,
        name: source.name.clone(),
        depth: 0,
        max_depth: limits.max_depth,
        sink: if stream_items { Some(&mut sink) } else { None },
        streamed: 0,
    };
    if p.looking_at("\u{feff}") {
        p.pos += '\u{feff}'.len_utf8();
        p.line_start = p.pos;
    }
    let result = p.value().and_then(|v| {
        p.ws();
        if p.peek().is_some() {
            Err(p.err("invalid JSON: trailing characters"))
        } else {
            Ok(v)
        }
    });
    let streamed = p.streamed;
    let read_error = p.read_error.take();
    drop(p);
    if let Some(d) = read_error {
        diags.push(d);
        return true;
    }
    match result {
        Ok(root) => {
            if !matches!(root.value, Value::Null) {
                emit_objects(root, source, 1, streamed, f, diags);
            }
            true
        }
        // Not JSON after all (YAML may start with `{` too): let the YAML parser decide.
        Err(_) if !json_file && streamed == 0 => false,
        Err((msg, line, column)) => {
            let (msg, help) = explain_parse_error(msg, limits);
            diags.push(
                Diagnostic::error(msg)
                    .at(Location {
                        file: source.name.clone(),
                        line,
                        column,
                        document: Some(1),
                        object: None,
                    })
                    .with_help(help),
            );
            true
        }
    }
}

/// Parses a JSON input as it is read (in chunks; the text of list items already handed on is
/// dropped) and calls `f` for every object.
pub fn parse_json_reader(
    reader: &mut dyn Read,
    source: &Arc<Source>,
    limits: &Limits,
    f: &mut dyn FnMut(Object),
    diags: &mut Diagnostics,
) {
    parse_json(String::new(), Some(reader), true, source, limits, f, diags);
}

/// Parses one input text (all its documents) and calls `f` for every object.
pub fn parse_stream(
    text: &str,
    source: &Arc<Source>,
    limits: &Limits,
    f: &mut dyn FnMut(Object),
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
    parse_yaml(Parser::new_from_str(text), source, limits, f, diags);
}

/// The byte index of the first control character YAML does not allow (C0 controls other than
/// tab, line feed and carriage return). The YAML scanner reads a NUL as the end of input, so a
/// file with one would otherwise be silently cut short.
fn forbidden_control(text: &str) -> Option<usize> {
    text.bytes()
        .position(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
}

fn control_char_error(name: &str, c: char, at: Location) -> Diagnostic {
    Diagnostic::error(format!(
        "`{name}` holds a control character (U+{:04X}), which YAML does not allow",
        c as u32
    ))
    .at(at)
    .with_help(if c == '\0' {
        "a NUL byte usually means a binary or UTF-16 file; save manifests as UTF-8"
    } else {
        "remove the character, or write it as an escape inside a double-quoted string"
    })
}

/// Opens a file for streaming, after the size check.
fn open_input(
    path: &Path,
    limits: &Limits,
) -> Result<std::io::BufReader<std::fs::File>, Diagnostic> {
    let name = display_path(path);
    let meta = std::fs::metadata(path).map_err(|e| {
        Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&e)))
            .at(Location::file(name.clone()))
    })?;
    if meta.len() > limits.max_file_bytes {
        return Err(Diagnostic::error(format!(
            "`{name}` is larger than the input limit ({} bytes > {} bytes)",
            meta.len(),
            limits.max_file_bytes
        ))
        .at(Location::file(name.clone()))
        .with_help("raise the limit with `--max-input-bytes` if this input is genuine"));
    }
    let file = std::fs::File::open(path).map_err(|e| {
        Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&e)))
            .at(Location::file(name.clone()))
    })?;
    Ok(std::io::BufReader::with_capacity(1 << 16, file))
}

/// Where and why decoding a stream stopped early.
#[derive(Debug, Clone, Copy)]
struct DecodeStop {
    offset: usize,
    line: usize,
    column: usize,
    /// A control character YAML does not allow; `None`: invalid UTF-8.
    control: Option<char>,
    /// The stream starts with a UTF-16 byte-order mark.
    utf16: bool,
}

/// Characters decoded from a reader as they are needed (a block at a time); invalid UTF-8 ends
/// the stream and is reported with its position.
struct StreamChars<R> {
    reader: R,
    chars: Vec<char>,
    idx: usize,
    carry: Vec<u8>,
    /// Bytes, lines and the column reached by the blocks decoded so far.
    offset: usize,
    line: usize,
    column: usize,
    started: bool,
    /// Where decoding stopped (byte offset, line, column) and, for a control character, which.
    failed: std::rc::Rc<std::cell::Cell<Option<DecodeStop>>>,
    error: std::rc::Rc<std::cell::RefCell<Option<String>>>,
    eof: bool,
}

impl<R: Read> StreamChars<R> {
    fn advance_position(&mut self, text: &str) {
        self.offset += text.len();
        match text.rfind('\n') {
            Some(i) => {
                self.line += text.matches('\n').count();
                self.column = text[i + 1..].chars().count() + 1;
            }
            None => self.column += text.chars().count(),
        }
    }

    fn refill(&mut self) {
        let mut bytes = std::mem::take(&mut self.carry);
        let mut buf = vec![0u8; 1 << 16];
        let n = match self.reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                *self.error.borrow_mut() = Some(io_reason(&e));
                self.eof = true;
                return;
            }
        };
        if n == 0 {
            self.eof = true;
            if !bytes.is_empty() {
                self.failed.set(Some(DecodeStop {
                    offset: self.offset,
                    line: self.line,
                    column: self.column,
                    control: None,
                    utf16: looks_utf16(&bytes),
                }));
            }
            return;
        }
        bytes.extend_from_slice(&buf[..n]);
        let valid = match std::str::from_utf8(&bytes) {
            Ok(_) => bytes.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = std::str::from_utf8(&bytes[..valid]).expect("valid prefix");
        if let Some(i) = forbidden_control(text) {
            // The parser would read a NUL as the end of input: stop here and say why.
            let (before, rest) = text.split_at(i);
            self.chars.clear();
            self.chars.extend(before.chars());
            self.idx = 0;
            let before = before.to_string();
            self.advance_position(&before);
            self.failed.set(Some(DecodeStop {
                offset: self.offset,
                line: self.line,
                column: self.column,
                control: rest.chars().next(),
                utf16: false,
            }));
            self.eof = true;
            return;
        }
        self.chars.clear();
        self.chars.extend(text.chars());
        self.idx = 0;
        let text = text.to_string();
        self.advance_position(&text);
        if valid < bytes.len() {
            let incomplete = std::str::from_utf8(&bytes[valid..])
                .err()
                .is_some_and(|e| e.error_len().is_none());
            if incomplete && bytes.len() - valid < 4 {
                // A character cut by the block boundary: keep it for the next block.
                self.carry = bytes[valid..].to_vec();
            } else {
                let utf16 = self.offset == 0 && looks_utf16(&bytes);
                self.failed.set(Some(DecodeStop {
                    offset: self.offset,
                    line: self.line,
                    column: self.column,
                    control: None,
                    utf16,
                }));
                self.eof = true;
            }
        }
    }
}

impl<R: Read> Iterator for StreamChars<R> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        loop {
            if let Some(&c) = self.chars.get(self.idx) {
                self.idx += 1;
                if !self.started {
                    self.started = true;
                    if c == '\u{feff}' {
                        continue;
                    }
                }
                return Some(c);
            }
            if self.eof {
                return None;
            }
            self.refill();
        }
    }
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

fn parse_yaml<I: Iterator<Item = char>>(
    mut parser: Parser<I>,
    source: &Arc<Source>,
    limits: &Limits,
    f: &mut dyn FnMut(Object),
    diags: &mut Diagnostics,
) {
    let mut doc_index = 0usize;
    loop {
        let this_doc = doc_index + 1;
        let mut sink = |i: usize, node: Node| {
            if let Some(o) = make_object(node, source, this_doc, Some(i), diags) {
                f(o);
            }
        };
        let next = next_document(&mut parser, limits, Some(&mut sink));
        match next {
            Ok(None) => break,
            Ok(Some((root, streamed))) => {
                doc_index += 1;
                if doc_index > limits.max_documents {
                    diags.push(
                        Diagnostic::error(format!(
                            "`{}` has more than {} documents",
                            source.name, limits.max_documents
                        ))
                        .at(Location::file(source.name.clone()))
                        .with_help(
                            "raise the limit with `--max-documents` if this input is genuine",
                        ),
                    );
                    return;
                }
                if let Some(root) = root {
                    emit_objects(root, source, doc_index, streamed, f, diags);
                }
            }
            Err((msg, mark)) => {
                doc_index += 1;
                let (msg, help) = explain_parse_error(msg, limits);
                diags.push(
                    Diagnostic::error(msg)
                        .at(Location {
                            file: source.name.clone(),
                            line: mark.line() as u32,
                            column: mark.col() as u32 + 1,
                            document: Some(doc_index),
                            object: None,
                        })
                        .with_help(help),
                );
                // The parser cannot resume after a syntax error.
                return;
            }
        }
    }
}

type ParseError = (String, Marker);

/// Picks the message and `help:` line for a parse error.
fn explain_parse_error(msg: String, limits: &Limits) -> (String, String) {
    if msg.contains("recursion limit exceeded") || msg.starts_with("nesting deeper") {
        (
            format!("nesting deeper than {} levels", limits.max_depth),
            "raise `--max-depth` if this input is genuine".into(),
        )
    } else if msg.starts_with("duplicate key") {
        (msg, "Kubernetes rejects duplicate keys; keep one".into())
    } else if msg.starts_with("YAML aliases") {
        (
            msg,
            "raise `--max-alias-nodes` if this input is genuine".into(),
        )
    } else {
        (
            msg,
            "fix the syntax; `yamllint` or `jq` show the exact spot".into(),
        )
    }
}

/// Reads the next document. `Ok(None)`: end of stream; `Ok(Some(None))`: an empty document.
fn next_document<I: Iterator<Item = char>>(
    parser: &mut Parser<I>,
    limits: &Limits,
    sink: Option<ItemSink<'_>>,
) -> Result<Option<(Option<Node>, usize)>, ParseError> {
    let scan = |e: yaml_rust2::ScanError| (format!("invalid YAML: {}", e.info()), *e.marker());
    // Skip to the next DocumentStart.
    loop {
        let (ev, mark) = parser.next_token().map_err(scan)?;
        match ev {
            Event::StreamStart | Event::Nothing => continue,
            Event::StreamEnd => return Ok(None),
            Event::DocumentStart => break,
            other => {
                return Err((format!("invalid YAML: unexpected event {other:?}"), mark));
            }
        }
    }
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        alias_nodes: 0,
        limits,
        sink,
        streaming: None,
        streamed: 0,
    };
    loop {
        let (ev, mark) = parser.next_token().map_err(scan)?;
        match ev {
            Event::DocumentEnd => break,
            ev => builder.event(ev, mark)?,
        }
    }
    let root = builder.root.take();
    Ok(Some((
        root.filter(|n| !matches!(n.value, Value::Null)),
        builder.streamed,
    )))
}

enum Frame {
    Seq {
        node: Node,
        items: Vec<Node>,
        anchor: usize,
    },
    Map {
        node: Node,
        entries: Vec<(String, Node)>,
        key: Option<(String, Node)>,
        anchor: usize,
    },
}

struct Builder<'a, 's> {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    alias_nodes: usize,
    limits: &'a Limits,
    /// Receives the root's `items` one by one (see [`starts_item_stream`]).
    sink: Option<ItemSink<'s>>,
    /// Whether this document's `items` stream (decided on the first element).
    streaming: Option<bool>,
    streamed: usize,
}

fn count_nodes(n: &Node) -> usize {
    match &n.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(_, v)| 1 + count_nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

impl Builder<'_, '_> {
    /// Whether `node` is an element of the root mapping's `items` sequence.
    fn at_root_item(&self) -> bool {
        matches!(
            self.stack.as_slice(),
            [Frame::Map { key: Some((k, _)), .. }, Frame::Seq { .. }] if k == "items"
        )
    }

    fn event(&mut self, ev: Event, mark: Marker) -> Result<(), ParseError> {
        let pos = |m: &Marker| (m.line() as u32, m.col() as u32 + 1);
        match ev {
            Event::Scalar(s, style, anchor, tag) => {
                let (line, column) = pos(&mark);
                let yaml11_bool = if style == TScalarStyle::Plain && tag.is_none() {
                    yaml11_bool(&s)
                } else {
                    None
                };
                let value = resolve_scalar(s, style, tag.as_ref().map(|t| t.suffix.as_str()));
                let yaml11_bool = yaml11_bool.filter(|_| matches!(value, Value::String(_)));
                let node = Node {
                    value,
                    line,
                    column,
                    yaml11_bool,
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(node, mark)
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| {
                    ("invalid YAML: alias to an unknown anchor".to_string(), mark)
                })?;
                self.alias_nodes += count_nodes(&node);
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err((
                        format!(
                            "YAML aliases expand to more than {} nodes (alias bomb?)",
                            self.limits.max_alias_nodes
                        ),
                        mark,
                    ));
                }
                self.push(node, mark)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= self.limits.max_depth {
                    return Err((
                        format!("nesting deeper than {} levels", self.limits.max_depth),
                        mark,
                    ));
                }
                let (line, column) = pos(&mark);
                let node = Node {
                    value: Value::Null,
                    line,
                    column,
                    yaml11_bool: None,
                };
                self.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        node,
                        items: Vec::new(),
                        anchor,
                    }
                } else {
                    Frame::Map {
                        node,
                        entries: Vec::new(),
                        key: None,
                        anchor,
                    }
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        mut node,
                        items,
                        anchor,
                    }) => {
                        node.value = Value::Seq(items);
                        (node, anchor)
                    }
                    Some(Frame::Map {
                        mut node,
                        entries,
                        anchor,
                        ..
                    }) => {
                        node.value = Value::Map(entries);
                        (node, anchor)
                    }
                    None => return Err(("invalid YAML: unbalanced collection".into(), mark)),
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(node, mark)
            }
            _ => Ok(()),
        }
    }

    fn push(&mut self, node: Node, mark: Marker) -> Result<(), ParseError> {
        if self.sink.is_some() && self.at_root_item() {
            let streaming = *self.streaming.get_or_insert_with(|| match &self.stack[0] {
                Frame::Map { entries, .. } => starts_item_stream(&node, entries),
                Frame::Seq { .. } => false,
            });
            if streaming {
                if let Some(sink) = self.sink.as_mut() {
                    sink(self.streamed, node);
                }
                self.streamed += 1;
                return Ok(());
            }
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries,
                key,
                node: map_node,
                ..
            }) => match key.take() {
                None => {
                    if entries.is_empty() {
                        // A block mapping starts where its first key does.
                        map_node.line = node.line;
                        map_node.column = node.column;
                    }
                    let k = match &node.value {
                        Value::String(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Null => "null".to_string(),
                        _ => {
                            return Err((
                                "mapping keys must be scalars (complex keys are not supported)"
                                    .into(),
                                mark,
                            ));
                        }
                    };
                    if k == "<<" {
                        // Merge keys are resolved when the value arrives.
                    } else if entries.iter().any(|(e, _)| *e == k) {
                        return Err((format!("duplicate key `{k}` in mapping"), mark));
                    }
                    *key = Some((k, node));
                    Ok(())
                }
                Some((k, _)) => {
                    if k == "<<" {
                        // YAML merge key: bring in the entries not already present.
                        let sources: Vec<Node> = match node.value {
                            Value::Seq(items) => items,
                            _ => vec![node],
                        };
                        for src in sources {
                            if let Value::Map(m) = src.value {
                                for (mk, mv) in m {
                                    if !entries.iter().any(|(e, _)| *e == mk) {
                                        entries.push((mk, mv));
                                    }
                                }
                            }
                        }
                    } else {
                        entries.push((k, node));
                    }
                    Ok(())
                }
            },
        }
    }
}

/// The boolean YAML 1.1 (go-yaml v2, which `kubectl` reads manifests with) gives a plain
/// scalar that YAML 1.2 reads as a string.
pub fn yaml11_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// Resolves a scalar the way the YAML 1.2 core schema does (what Kubernetes' JSON-compatible
/// decoding sees for everything but YAML 1.1's `yes`/`no`).
fn resolve_scalar(s: String, style: TScalarStyle, tag: Option<&str>) -> Value {
    if let Some(tag) = tag {
        match tag {
            "str" => return Value::String(s),
            "int" => {
                if let Ok(i) = s.parse() {
                    return Value::Int(i);
                }
            }
            "bool" => {
                if let Ok(b) = s.parse() {
                    return Value::Bool(b);
                }
            }
            "null" => return Value::Null,
            _ => {}
        }
    }
    if style != TScalarStyle::Plain {
        return Value::String(s);
    }
    match s.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let bytes = s.as_bytes();
    let numeric_start = bytes
        .first()
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.'));
    if numeric_start {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
        if let Some(hex) = s.strip_prefix("0x") {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return Value::Int(i);
            }
        }
        if let Some(oct) = s.strip_prefix("0o") {
            if let Ok(i) = i64::from_str_radix(oct, 8) {
                return Value::Int(i);
            }
        }
        let is_float_syntax = s
            .trim_start_matches(['-', '+'])
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
            && s.chars().any(|c| c.is_ascii_digit());
        if is_float_syntax {
            if let Ok(f) = s.parse::<f64>() {
                return Value::Float(f);
            }
        }
    }
    Value::String(s)
}

/// Whether a kind holds objects in `items` (`List`, `PodList`, …).
fn is_list_kind(kind: &str) -> bool {
    kind == "List" || kind.ends_with("List")
}

/// Whether the first element of a root `items` sequence starts streaming: it looks like an
/// object, and the root's `kind`, if already read, is a list kind (`kubectl` writes `items`
/// before `kind`, so the kind is often not known yet).
fn starts_item_stream(first: &Node, root_entries: &[(String, Node)]) -> bool {
    let kind_ok = root_entries
        .iter()
        .find(|(k, _)| k == "kind")
        .is_none_or(|(_, v)| v.as_str().is_some_and(is_list_kind));
    kind_ok && first.get("kind").and_then(Node::as_str).is_some()
}

/// Called with each element of a list document's `items` as soon as it is parsed, so that a
/// `kubectl get -o yaml|json` dump of any size is judged object by object in flat memory.
type ItemSink<'s> = &'s mut dyn FnMut(usize, Node);

fn emit_objects(
    root: Node,
    source: &Arc<Source>,
    document: usize,
    streamed: usize,
    f: &mut dyn FnMut(Object),
    diags: &mut Diagnostics,
) {
    let loc = |n: &Node| Location {
        file: source.name.clone(),
        line: n.line,
        column: n.column,
        document: Some(document),
        object: None,
    };
    if root.as_map().is_none() {
        diags.push(
            Diagnostic::error(format!(
                "expected a Kubernetes object (a mapping), found a {}",
                root.type_name()
            ))
            .at(loc(&root)),
        );
        return;
    }
    let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
    if streamed > 0 {
        if !is_list_kind(kind) {
            diags.push(
                Diagnostic::warning(format!(
                    "the {streamed} `items` of this {} were read as objects",
                    if kind.is_empty() {
                        "document without `kind`".to_string()
                    } else {
                        format!("`{kind}`")
                    }
                ))
                .at(loc(&root))
                .with_help("only `List` kinds hold objects in `items`; split the document"),
            );
        }
        return;
    }
    if kind.is_empty() {
        diags.push(
            Diagnostic::error("document has no `kind`")
                .at(loc(&root))
                .with_help("every Kubernetes object names its `apiVersion` and `kind`"),
        );
        return;
    }
    if kind == "List" || (kind.ends_with("List") && root.get("items").is_some()) {
        // An absent `items` is an empty list; items are moved out, not copied.
        let kind = kind.to_string();
        let Value::Map(entries) = root.value else {
            return;
        };
        if let Some((_, items)) = entries
            .into_iter()
            .find(|(k, v)| k == "items" && !matches!(v.value, Value::Null))
        {
            match items.value {
                Value::Seq(seq) => {
                    for (i, item) in seq.into_iter().enumerate() {
                        if let Some(o) = make_object(item, source, document, Some(i), diags) {
                            f(o);
                        }
                    }
                }
                _ => diags.push(
                    Diagnostic::error(format!(
                        "`items` of a `{kind}` must be a list, found a {}",
                        items.type_name()
                    ))
                    .at(loc(&items)),
                ),
            }
        }
        return;
    }
    if let Some(o) = make_object(root, source, document, None, diags) {
        f(o);
    }
}

fn make_object(
    node: Node,
    source: &Arc<Source>,
    document: usize,
    item: Option<usize>,
    diags: &mut Diagnostics,
) -> Option<Object> {
    let loc = Location {
        file: source.name.clone(),
        line: node.line,
        column: node.column,
        document: Some(document),
        object: None,
    };
    if node.as_map().is_none() {
        diags.push(
            Diagnostic::error(format!(
                "expected a Kubernetes object (a mapping), found a {}",
                node.type_name()
            ))
            .at(loc),
        );
        return None;
    }
    let text = |key: &str| -> Result<String, Diagnostic> {
        match node.get(key) {
            None => Ok(String::new()),
            Some(n) => n.as_str().map(str::to_string).ok_or_else(|| {
                Diagnostic::error(format!(
                    "`{key}` must be a string, found a {}",
                    n.type_name()
                ))
                .at(Location {
                    line: n.line,
                    column: n.column,
                    ..loc.clone()
                })
            }),
        }
    };
    let meta_text = |key: &str| -> Result<Option<String>, Diagnostic> {
        match node.path(&["metadata", key]) {
            None => Ok(None),
            Some(n) => n.as_str().map(|s| Some(s.to_string())).ok_or_else(|| {
                Diagnostic::error(format!(
                    "`metadata.{key}` must be a string, found a {}",
                    n.type_name()
                ))
                .at(Location {
                    line: n.line,
                    column: n.column,
                    ..loc.clone()
                })
            }),
        }
    };
    let result = (|| -> Result<(String, String, String, Option<String>), Diagnostic> {
        let kind = text("kind")?;
        if kind.is_empty() {
            return Err(Diagnostic::error("object has no `kind`")
                .at(loc.clone())
                .with_help("every Kubernetes object names its `apiVersion` and `kind`"));
        }
        Ok((
            kind,
            text("apiVersion")?,
            meta_text("name")?.unwrap_or_default(),
            meta_text("namespace")?,
        ))
    })();
    match result {
        Ok((kind, api_version, name, namespace)) => Some(Object {
            source: source.clone(),
            document,
            item,
            api_version,
            kind,
            name,
            namespace,
            node,
        }),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

/// Prints a serialisable value as YAML (block style, keys in struct order).
pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    serde_yaml::to_string(value).expect("values built by polytrans serialise to YAML")
}

/// Parses a YAML text without locations into JSON (for tests, templates' own output and
/// configuration files). Multi-document input yields one value per document.
pub fn yaml_documents(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut out = Vec::new();
    let mut parser = Parser::new_from_str(text);
    let limits = Limits::default();
    loop {
        match next_document(&mut parser, &limits, None) {
            Ok(None) => break,
            Ok(Some((Some(root), _))) => out.push(root.to_json()),
            Ok(Some((None, _))) => {}
            Err((msg, mark)) => {
                return Err(format!("{msg} at line {}", mark.line()));
            }
        }
    }
    Ok(out)
}

/// Groups objects by kind, keeping input order (handy for later stages).
pub fn by_kind(objects: &[Object]) -> BTreeMap<&str, Vec<&Object>> {
    let mut m: BTreeMap<&str, Vec<&Object>> = BTreeMap::new();
    for o in objects {
        m.entry(o.kind.as_str()).or_default().push(o);
    }
    m
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
