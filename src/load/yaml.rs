//! The YAML event parser driver: documents, limits (depth, aliases), scalars resolved as the
//! YAML 1.2 core schema reads them.

use super::*;

pub(super) fn parse_yaml<I: Iterator<Item = char>>(
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

pub(super) type ParseError = (String, Marker);

/// Picks the message and `help:` line for a parse error.
pub(super) fn explain_parse_error(msg: String, limits: &Limits) -> (String, String) {
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
pub(super) fn next_document<I: Iterator<Item = char>>(
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

pub(super) enum Frame {
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

pub(super) struct Builder<'a, 's> {
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

pub(super) fn count_nodes(n: &Node) -> usize {
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
pub(super) fn resolve_scalar(s: String, style: TScalarStyle, tag: Option<&str>) -> Value {
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
