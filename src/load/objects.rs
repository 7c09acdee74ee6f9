//! From parsed documents to Kubernetes objects: `*List` kinds flattened into their items.

use super::*;

/// Whether a kind holds objects in `items` (`List`, `PodList`, …).
pub fn is_list_kind(kind: &str) -> bool {
    kind == "List" || kind.ends_with("List")
}

/// Whether the first element of a root `items` sequence starts streaming: it looks like an
/// object, and the root's `kind`, if already read, is a list kind (`kubectl` writes `items`
/// before `kind`, so the kind is often not known yet).
pub(super) fn starts_item_stream(first: &Node, root_entries: &[(String, Node)]) -> bool {
    let kind_ok = root_entries
        .iter()
        .find(|(k, _)| k == "kind")
        .is_none_or(|(_, v)| v.as_str().is_some_and(is_list_kind));
    kind_ok && first.get("kind").and_then(Node::as_str).is_some()
}

/// Called with each element of a list document's `items` as soon as it is parsed, so that a
/// `kubectl get -o yaml|json` dump of any size is judged object by object in flat memory.
pub(super) type ItemSink<'s> = &'s mut dyn FnMut(usize, Node);

pub(super) fn emit_objects(
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

pub(super) fn make_object(
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

/// Groups objects by kind, keeping input order (handy for later stages).
pub fn by_kind(objects: &[Object]) -> BTreeMap<&str, Vec<&Object>> {
    let mut m: BTreeMap<&str, Vec<&Object>> = BTreeMap::new();
    for o in objects {
        m.entry(o.kind.as_str()).or_default().push(o);
    }
    m
}
