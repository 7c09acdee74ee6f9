//! The streaming JSON reader (JSON is YAML, but a hand-written reader keeps `kind: List` items
//! streaming with positions).

use super::*;

/// A fast path for JSON input (a `.json` file or text starting with `{`/`[`): a direct parser
/// that keeps positions, much faster than the YAML event parser on large dumps.
///
/// A `.json` file is read in chunks as the parser needs them, and the text of `items` already
/// handed on is dropped, so memory stays flat however large the dump.
pub(super) struct JsonParser<'r, 's> {
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
    /// Receives the root's `items` one by one (see [`starts_item_stream`]), the elements of a
    /// root array, and the documents of a file of several (one object per line).
    sink: Option<&'s mut dyn JsonItems>,
    /// Items of the current document handed to the sink.
    streamed: usize,
    /// The 1-based index of the document being read.
    document: usize,
    /// Documents handed to the sink (the input holds more than one).
    documents: usize,
}

/// Receives the items of a JSON list document.
pub(super) trait JsonItems {
    /// An item of `document` read by the positioned reader.
    fn node(&mut self, document: usize, index: usize, node: Node);
    /// An item (`index` in `document`'s list, or a whole document) to decode straight from
    /// `text` (which starts with it, at `line`:`column`, and may hold more after it), allowing
    /// `depth` levels of nesting: the number of bytes taken, or why not (then the positioned
    /// reader reads it and [`JsonItems::node`] or [`JsonItems::document`] gets it).
    fn text(
        &mut self,
        document: usize,
        index: Option<usize>,
        text: &str,
        at: (u32, u32),
        depth: usize,
    ) -> Result<usize, Undecoded>;
    /// A whole document read by the positioned reader (in an input of several), `streamed` of
    /// its `items` already handed on.
    fn document(&mut self, document: usize, root: Node, streamed: usize);
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
            // The common case: validated once, appended, nothing pending.
            Ok(text) => {
                self.buf.push_str(text);
                return true;
            }
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
        // Validated above up to `valid`: checked again only for a chunk that ends inside a
        // character.
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
                if streaming == Some(true) && self.text_item(Some(self.streamed)) {
                    self.streamed += 1;
                    self.drop_consumed();
                } else {
                    let item = self.value()?;
                    if *streaming.get_or_insert_with(|| starts_item_stream(&item, root_entries)) {
                        if let Some(sink) = self.sink.as_mut() {
                            sink.node(self.document, self.streamed, item);
                        }
                        self.streamed += 1;
                        self.drop_consumed();
                    } else {
                        items.push(item);
                    }
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

    /// Offers the item at `pos` (`index` in the list, or `None` for a whole document) to the
    /// sink as text; true when it took it (and `pos` is past it).
    fn text_item(&mut self, index: Option<usize>) -> bool {
        self.ws();
        if self.peek() != Some(b'{') {
            return false;
        }
        let (line, column) = self.here();
        let depth = self.max_depth.saturating_sub(self.depth);
        let Some(sink) = self.sink.take() else {
            return false;
        };
        let taken = loop {
            let text = &self.buf[self.pos..];
            match sink.text(self.document, index, text, (line, column), depth) {
                Ok(n) => break Some(n),
                // The item goes on past what was read: read more (the end of input or a read
                // error is the positioned reader's to report).
                Err(Undecoded::NeedMore) => {
                    if !self.refill() {
                        break None;
                    }
                }
                Err(Undecoded::Refused) => break None,
            }
        };
        self.sink = Some(sink);
        let Some(n) = taken else {
            return false;
        };
        let text = &self.buf.as_bytes()[self.pos..self.pos + n];
        if let Some(last) = memchr::memrchr(b'\n', text) {
            self.line += memchr::memchr_iter(b'\n', &text[..=last]).count() as u32;
            self.line_start = self.base + self.pos + last + 1;
        }
        self.pos += n;
        true
    }

    /// The input's value; when more objects follow it (one object per line, NDJSON, or
    /// concatenated), each is a document of its own, handed to the sink as it is read (the
    /// first ones read by the positioned reader, the rest offered as text first), and the
    /// result is `null`.
    fn documents(&mut self) -> Result<Node, (String, u32, u32)> {
        let first = self.value()?;
        self.ws();
        if self.peek().is_none() {
            return Ok(first);
        }
        if self.sink.is_none() || self.peek() != Some(b'{') {
            return Err(self.err("invalid JSON: trailing characters"));
        }
        self.hand_on(first);
        loop {
            self.document += 1;
            self.streamed = 0;
            self.drop_consumed();
            if self.text_item(None) {
                self.documents += 1;
            } else {
                let root = self.value()?;
                self.hand_on(root);
            }
            self.ws();
            match self.peek() {
                None => break,
                Some(b'{') => {}
                Some(_) => return Err(self.err("invalid JSON: trailing characters")),
            }
        }
        Ok(Node {
            value: Value::Null,
            line: 1,
            column: 1,
            yaml11_bool: None,
        })
    }

    /// Hands a document read by the positioned reader to the sink.
    fn hand_on(&mut self, root: Node) {
        if let Some(sink) = self.sink.as_mut() {
            sink.document(self.document, root, self.streamed);
        }
        self.documents += 1;
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
            // A root array of objects is a list: its elements stream like a list's `items`.
            Some(b'[') if self.depth == 0 && self.sink.is_some() => self.root_items(&[]),
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

/// Whether a file name says JSON: `*.json`, or `*.ndjson` and `*.jsonl` (one object per line).
pub(super) fn is_json_name(name: &str) -> bool {
    [".json", ".ndjson", ".jsonl"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

pub(super) fn looks_like_json(source: &Source, text: &str) -> bool {
    is_json_name(&source.name) || matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// The items of a JSON list handed to an [`ObjectSink`].
struct ListItems<'a> {
    f: &'a mut dyn ObjectSink,
    diags: &'a mut Diagnostics,
    source: &'a Arc<Source>,
}

impl JsonItems for ListItems<'_> {
    fn node(&mut self, document: usize, index: usize, node: Node) {
        if let Some(o) = make_object(node, self.source, document, Some(index), self.diags) {
            self.f.object(o);
        }
    }

    fn text(
        &mut self,
        document: usize,
        item: Option<usize>,
        text: &str,
        (line, column): (u32, u32),
        depth: usize,
    ) -> Result<usize, Undecoded> {
        let at = ItemAt {
            source: self.source,
            document,
            item,
            line,
            column,
        };
        self.f.json_item(text, &at, depth)
    }

    fn document(&mut self, document: usize, root: Node, streamed: usize) {
        let f = &mut *self.f;
        emit_objects(
            root,
            self.source,
            document,
            streamed,
            &mut |o| f.object(o),
            self.diags,
        );
    }
}

/// Parses JSON: `text`, then what `reader` still holds. Returns false when the text is not JSON
/// and may be YAML instead (never when `json_only`, e.g. for a `.json` file).
pub(super) fn parse_json(
    text: String,
    reader: Option<&mut dyn Read>,
    json_only: bool,
    source: &Arc<Source>,
    limits: &Limits,
    f: &mut dyn ObjectSink,
    diags: &mut Diagnostics,
) -> bool {
    let json_file = json_only || is_json_name(&source.name);
    // Items are streamed in `.json` files and in text that starts like JSON (`{"`); once some
    // were handed on, a later syntax error is reported as JSON rather than retried as YAML.
    let stream_items = json_file
        || text
            .trim_start()
            .strip_prefix('{')
            .is_some_and(|r| r.trim_start().starts_with('"'));
    let mut sink = ListItems { f, diags, source };
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
        document: 1,
        documents: 0,
    };
    if p.looking_at("\u{feff}") {
        p.pos += '\u{feff}'.len_utf8();
        p.line_start = p.pos;
    }
    let result = p.documents();
    let streamed = p.streamed;
    let handed_on = p.streamed + p.documents;
    let read_error = p.read_error.take();
    drop(p);
    let ListItems { f, diags, .. } = sink;
    if let Some(d) = read_error {
        diags.push(d);
        return true;
    }
    match result {
        Ok(root) => {
            match root.value {
                Value::Null => {}
                // A root array: its objects (those not streamed already), as a list's items.
                Value::Seq(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        if let Some(o) = make_object(item, source, 1, Some(i), diags) {
                            f.object(o);
                        }
                    }
                }
                _ => emit_objects(root, source, 1, streamed, &mut |o| f.object(o), diags),
            }
            true
        }
        // Not JSON after all (YAML may start with `{` too): let the YAML parser decide.
        Err(_) if !json_file && handed_on == 0 => false,
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
    parse_json(
        String::new(),
        Some(reader),
        true,
        source,
        limits,
        &mut Each(f),
        diags,
    );
}
