//! Test-only Falco engine for the Falco backend's output (`--to falco`): a parser for the
//! condition grammar (libsinsp's `and`/`or`/`not`, parentheses, macros and lists, field
//! comparisons with `=`, `!=`, `<`, `<=`, `>`, `>=`, `contains`, `startswith`, `endswith`, `glob`,
//! `pmatch`, `in`, `intersects`, `exists`; bare and quoted strings with libsinsp's escapes) and an
//! evaluator of k8s-audit conditions over audit events.
//!
//! Field values are extracted the way the k8saudit plugin (v0.18.0, `pkg/k8saudit/extract.go`)
//! extracts them, and compared with today's libsinsp semantics (every value a string; a missing
//! value makes every comparison false; `in` = every element of a list field is in the set,
//! `intersects` = one is; an empty list is missing). Read from upstream as reference, not copied.

use std::collections::BTreeMap;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Check {
        field: String,
        arg: Option<String>,
        op: String,
        values: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Word(String),
    Str(String),
    Op(String),
}

fn unescape(body: &str, quote: char) -> Result<String, String> {
    let mut out = String::new();
    let mut it = body.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(' ') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('"') if quote == '"' => out.push('"'),
            Some('\'') if quote == '\'' => out.push('\''),
            other => return Err(format!("unsupported string escape sequence: {other:?}")),
        }
    }
    Ok(out)
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == '"' || c == '\'' {
            let start = i + 1;
            let mut j = start;
            let mut raw = String::new();
            loop {
                if j >= chars.len() {
                    return Err(format!("unterminated string in `{s}`"));
                }
                if chars[j] == '\\' && j + 1 < chars.len() {
                    raw.push(chars[j]);
                    raw.push(chars[j + 1]);
                    j += 2;
                    continue;
                }
                if chars[j] == c {
                    break;
                }
                raw.push(chars[j]);
                j += 1;
            }
            out.push(Tok::Str(unescape(&raw, c)?));
            i = j + 1;
        } else if "=!<>".contains(c) {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = if ["==", "!=", "<=", ">="].contains(&two.as_str()) {
                two
            } else if c == '!' {
                return Err(format!("stray `!` in `{s}`"));
            } else {
                c.to_string()
            };
            i += op.len();
            out.push(Tok::Op(op));
        } else {
            // A word: a field (with an optional `[arg]`), an operator keyword, a bare value.
            let mut w = String::new();
            while i < chars.len() {
                let c = chars[i];
                if c == '[' {
                    // field argument, up to the closing bracket
                    while i < chars.len() && chars[i] != ']' {
                        w.push(chars[i]);
                        i += 1;
                    }
                    if i >= chars.len() {
                        return Err(format!("unterminated field argument in `{s}`"));
                    }
                    w.push(']');
                    i += 1;
                    continue;
                }
                if c.is_whitespace() || "(),=<>!\"'".contains(c) {
                    break;
                }
                w.push(c);
                i += 1;
            }
            if w.is_empty() {
                return Err(format!("unexpected `{c}` in `{s}`"));
            }
            out.push(Tok::Word(w));
        }
    }
    Ok(out)
}

const UNARY: &[&str] = &["exists"];
const BINARY_WORDS: &[&str] = &[
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
];
const LIST_OPS: &[&str] = &["in", "intersects", "pmatch"];

/// Macros and lists a condition may name.
#[derive(Debug, Default, Clone)]
pub struct Defs {
    pub macros: BTreeMap<String, Expr>,
    pub lists: BTreeMap<String, Vec<String>>,
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    defs: &'a Defs,
    src: &'a str,
}

fn is_field_name(w: &str) -> bool {
    let name = w.split('[').next().unwrap_or(w);
    name.contains('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!(
            "{what} at token {} ({:?}) in `{}`",
            self.pos,
            self.peek(),
            self.src
        ))
    }
    fn kw(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w == k)
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut v = vec![self.and()?];
        while self.kw("or") {
            self.pos += 1;
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::Or(v)
        })
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut v = vec![self.not()?];
        while self.kw("and") {
            self.pos += 1;
            v.push(self.not()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::And(v)
        })
    }
    fn not(&mut self) -> Result<Expr, String> {
        if self.kw("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.atom()
    }
    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => Ok(w),
            _ => {
                self.pos -= 1;
                self.err("expected a value")
            }
        }
    }
    fn atom(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(e),
                    _ => self.err("expected `)`"),
                }
            }
            Some(Tok::Word(w)) if is_field_name(&w) => {
                let (field, arg) = match w.split_once('[') {
                    Some((f, rest)) => (f.to_string(), Some(rest.trim_end_matches(']').into())),
                    None => (w.clone(), None),
                };
                let op = match self.next() {
                    Some(Tok::Op(o)) => o,
                    Some(Tok::Word(o))
                        if UNARY.contains(&o.as_str())
                            || BINARY_WORDS.contains(&o.as_str())
                            || LIST_OPS.contains(&o.as_str()) =>
                    {
                        o
                    }
                    _ => {
                        self.pos -= 1;
                        return self.err(&format!("expected an operator after `{w}`"));
                    }
                };
                let op = if op == "==" { "=".to_string() } else { op };
                let values = if UNARY.contains(&op.as_str()) {
                    vec![]
                } else if LIST_OPS.contains(&op.as_str()) {
                    if self.next() != Some(Tok::LParen) {
                        self.pos -= 1;
                        return self.err("expected `(` after a list operator");
                    }
                    let mut vals = Vec::new();
                    if self.peek() == Some(&Tok::RParen) {
                        return self.err("empty list");
                    }
                    loop {
                        let v = self.value()?;
                        match self.defs.lists.get(&v) {
                            Some(items) => vals.extend(items.iter().cloned()),
                            None => vals.push(v),
                        }
                        match self.next() {
                            Some(Tok::Comma) => continue,
                            Some(Tok::RParen) => break,
                            _ => {
                                self.pos -= 1;
                                return self.err("expected `,` or `)` in a list");
                            }
                        }
                    }
                    vals
                } else {
                    vec![self.value()?]
                };
                Ok(Expr::Check {
                    field,
                    arg,
                    op,
                    values,
                })
            }
            Some(Tok::Word(w)) => match self.defs.macros.get(&w) {
                Some(m) => Ok(m.clone()),
                None => {
                    self.pos -= 1;
                    self.err(&format!("unknown macro or field `{w}`"))
                }
            },
            _ => {
                self.pos -= 1;
                self.err("expected a condition")
            }
        }
    }
}

/// Parses a condition, expanding macros and lists from `defs`.
pub fn parse(src: &str, defs: &Defs) -> Result<Expr, String> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        defs,
        src,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return p.err("trailing input");
    }
    Ok(e)
}

/// Every field check of an expression: (field, op).
pub fn checks(e: &Expr, out: &mut Vec<(String, Option<String>, String)>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| checks(x, out)),
        Expr::Not(x) => checks(x, out),
        Expr::Check { field, arg, op, .. } => out.push((field.clone(), arg.clone(), op.clone())),
    }
}

/// One rule of a rules file.
#[derive(Debug, Clone)]
pub struct FalcoRule {
    pub name: String,
    pub source: String,
    pub expr: Expr,
}

/// A parsed rules file.
#[derive(Debug, Default, Clone)]
pub struct RulesFile {
    pub defs: Defs,
    pub rules: Vec<FalcoRule>,
    pub required_engine_version: Option<u64>,
    pub plugins: Vec<(String, String)>,
}

impl RulesFile {
    /// Parses every YAML document of a backend's stdout (one rules file per policy, merged).
    pub fn from_text(text: &str) -> Result<RulesFile, String> {
        let mut out = RulesFile::default();
        let docs = polytrans::load::yaml_documents(text).map_err(|e| e.to_string())?;
        for doc in docs {
            let items = doc.as_array().ok_or("a rules file is a YAML sequence")?;
            for it in items {
                if let Some(v) = it.get("required_engine_version") {
                    out.required_engine_version = v.as_u64();
                } else if let Some(ps) = it.get("required_plugin_versions") {
                    for p in ps.as_array().ok_or("plugins")? {
                        out.plugins.push((
                            p["name"].as_str().unwrap_or_default().into(),
                            p["version"].as_str().unwrap_or_default().into(),
                        ));
                    }
                } else if let Some(l) = it.get("list") {
                    let items = it["items"]
                        .as_array()
                        .ok_or("list items")?
                        .iter()
                        .map(|x| match x {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    out.defs
                        .lists
                        .insert(l.as_str().ok_or("list name")?.into(), items);
                } else if let Some(m) = it.get("macro") {
                    let cond = it["condition"].as_str().ok_or("macro condition")?;
                    let e = parse(cond, &out.defs)?;
                    out.defs
                        .macros
                        .insert(m.as_str().ok_or("macro name")?.into(), e);
                } else if let Some(r) = it.get("rule") {
                    let cond = it["condition"].as_str().ok_or("rule condition")?;
                    let expr = parse(cond, &out.defs)?;
                    for k in ["desc", "output", "priority", "source"] {
                        if it.get(k).and_then(|v| v.as_str()).is_none() {
                            return Err(format!("rule `{r}` has no string `{k}`"));
                        }
                    }
                    out.rules.push(FalcoRule {
                        name: r.as_str().ok_or("rule name")?.into(),
                        source: it["source"].as_str().unwrap_or_default().into(),
                        expr,
                    });
                } else {
                    return Err(format!("unknown rules file item {it}"));
                }
            }
        }
        Ok(out)
    }

    /// The k8s_audit rules that fire on an audit event.
    pub fn fired(&self, event: &serde_json::Value) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| r.source == "k8s_audit" && eval(&r.expr, event))
            .map(|r| r.name.as_str())
            .collect()
    }
}

/// The k8saudit plugin's fields (name → is_list) plus the json plugin's, from the shared facts.
pub fn allowed_fields(shared: &std::path::Path) -> BTreeMap<String, bool> {
    let text =
        std::fs::read_to_string(shared.join("conformance/falco-fields/k8saudit_fields.json"))
            .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = BTreeMap::new();
    for f in v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["companion_json_plugin"]["fields"].as_array().unwrap())
    {
        out.insert(
            f["name"].as_str().unwrap().to_string(),
            f["is_list"].as_bool().unwrap_or(false),
        );
    }
    out
}

/// The syscall-source fields (libsinsp and container plugin).
pub fn syscall_fields(shared: &std::path::Path) -> BTreeMap<String, bool> {
    let text =
        std::fs::read_to_string(shared.join("conformance/falco-fields/syscall_fields_all.json"))
            .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let arr = v
        .get("fields")
        .and_then(|f| f.as_array())
        .cloned()
        .unwrap_or_default();
    arr.iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap_or_default().to_string(),
                f.get("is_list").and_then(|x| x.as_bool()).unwrap_or(false),
            )
        })
        .collect()
}

/// Checks that every field of every rule exists for its source and that list fields only use
/// the operators libsinsp accepts on them (`exists`, `in`, `intersects`).
pub fn check_fields(
    rules: &RulesFile,
    k8s: &BTreeMap<String, bool>,
    sys: &BTreeMap<String, bool>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for r in &rules.rules {
        let table = if r.source == "k8s_audit" { k8s } else { sys };
        let mut cs = Vec::new();
        checks(&r.expr, &mut cs);
        for (field, arg, op) in cs {
            let key = if table.contains_key(&field) {
                field.clone()
            } else if let Some((base, _)) = field
                .rsplit_once('.')
                .filter(|_| field.starts_with("evt.arg"))
            {
                base.to_string()
            } else {
                field.clone()
            };
            match table.get(&key) {
                None => problems.push(format!("{}: unknown field `{field}`", r.name)),
                Some(true) => {
                    if !["exists", "in", "intersects"].contains(&op.as_str()) {
                        problems.push(format!("{}: list field `{field}` used with `{op}`", r.name));
                    }
                }
                Some(false) => {}
            }
            let _ = arg;
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// Extraction (the k8saudit plugin's view of an audit event)

fn as_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn get<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a serde_json::Value> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    if cur.is_null() { None } else { Some(cur) }
}

/// The json plugin's `json.value[<pointer>]` (v0.7, `pkg/json/json.go` with fastjson): one
/// leading `/` is dropped, the rest split on `/`, each key unescaped (`~1` → `/`, then `~0` →
/// `~`) and looked up: an object by key, an array by a decimal index (Go's `strconv.Atoi`: an
/// optional sign, leading zeros allowed, in range). A string yields its text; any other value
/// (number, `true`/`false`, `null`, array, object) its compact JSON text. A missing value yields
/// nothing (every comparison false). The text of a container here is serde_json's; fastjson
/// re-emits the API server's own encoding (Go escapes `<`, `>`, `&` as `\u003c`…), which the
/// rules never depend on.
pub fn json_value(ev: &serde_json::Value, pointer: &str) -> Option<String> {
    if pointer.is_empty() {
        return None;
    }
    let pointer = pointer.strip_prefix('/').unwrap_or(pointer);
    let mut cur = ev;
    for key in pointer.split('/') {
        let key = key.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            serde_json::Value::Object(m) => m.get(&key)?,
            serde_json::Value::Array(a) => {
                let digits = key.strip_prefix(['+', '-']).unwrap_or(&key);
                if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                let n: i64 = key.trim_start_matches('+').parse().ok()?;
                a.get(usize::try_from(n).ok()?)?
            }
            _ => return None,
        };
    }
    Some(match cur {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// libsinsp's `glob` (`fnmatch(3)` without flags): `*` any run, `?` one character, `[...]` a
/// class (ranges `a-z`, `!` or `^` negates, `]` first is literal), `\\` escapes.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // p starts after `[`; returns (matched, chars consumed including `]`).
        let mut i = 0;
        let negate = matches!(p.first(), Some('!') | Some('^'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        while i < p.len() {
            if p[i] == ']' && !first {
                return Some((matched != negate, i + 1));
            }
            first = false;
            let lo = p[i];
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                if lo <= c && c <= p[i + 2] {
                    matched = true;
                }
                i += 3;
            } else {
                if lo == c {
                    matched = true;
                }
                i += 1;
            }
        }
        None
    }
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|k| go(&p[1..], &t[k..])),
            Some('?') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('[') => {
                let Some(&c) = t.first() else { return false };
                match class(&p[1..], c) {
                    Some((true, n)) => go(&p[1 + n..], &t[1..]),
                    Some((false, _)) => false,
                    // an unterminated class is a literal `[`
                    None => c == '[' && go(&p[1..], &t[1..]),
                }
            }
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(&c) => t.first() == Some(&c) && go(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// `None`: the field has no value (every comparison false). A list field with no element is
/// `None` as well.
pub fn extract(ev: &serde_json::Value, field: &str, arg: Option<&str>) -> Option<Vec<String>> {
    let one = |path: &[&str]| get(ev, path).map(|v| vec![as_text(v)]);
    let nonempty = |v: Vec<String>| if v.is_empty() { None } else { Some(v) };
    if field == "jevt.value" || field == "json.value" {
        return json_value(ev, arg?).map(|v| vec![v]);
    }
    if field == "jevt.rawtime" || field == "json.rawtime" {
        return Some(vec!["0".into()]);
    }
    if let Some(rest) = field.strip_prefix("ka.req.pod.") {
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            if let Some(sub) = rest.strip_prefix(&format!("{list}.")) {
                let arr = get(ev, &["requestObject", "spec", list])?.as_array()?;
                let arr: Vec<&serde_json::Value> = match arg.and_then(|a| a.parse::<usize>().ok()) {
                    Some(i) => vec![arr.get(i)?],
                    None => arr.iter().collect(),
                };
                let skip_nil = |path: &[&str]| {
                    nonempty(
                        arr.iter()
                            .filter_map(|c| get(c, path).map(as_text))
                            .collect(),
                    )
                };
                return match sub {
                    "image" | "name" => {
                        let v: Option<Vec<String>> =
                            arr.iter().map(|c| get(c, &[sub]).map(as_text)).collect();
                        nonempty(v?)
                    }
                    "image.repository" => {
                        let v: Option<Vec<String>> = arr
                            .iter()
                            .map(|c| {
                                get(c, &["image"]).map(|i| {
                                    let i = as_text(i);
                                    let i = i.split(':').next().unwrap_or("").to_string();
                                    i.split('@').next().unwrap_or("").to_string()
                                })
                            })
                            .collect();
                        nonempty(v?)
                    }
                    "privileged" => skip_nil(&["securityContext", "privileged"]),
                    "allow_privilege_escalation" => {
                        skip_nil(&["securityContext", "allowPrivilegeEscalation"])
                    }
                    "read_only_fs" => skip_nil(&["securityContext", "readOnlyRootFilesystem"]),
                    "run_as_user" => skip_nil(&["securityContext", "runAsUser"]),
                    "run_as_group" => skip_nil(&["securityContext", "runAsGroup"]),
                    "proc_mount" => skip_nil(&["securityContext", "procMount"]),
                    // the JSON text of each container's `add` array
                    "add_capabilities" => skip_nil(&["securityContext", "capabilities", "add"]),
                    "eff_run_as_user" | "eff_run_as_group" => {
                        // reads `spec.runAsUser` and the container's `runAsUser` (not the
                        // security contexts), defaulting to "0"
                        let key = if sub == "eff_run_as_user" {
                            "runAsUser"
                        } else {
                            "runAsGroup"
                        };
                        let pod = get(ev, &["requestObject", "spec", key])
                            .map(as_text)
                            .unwrap_or_else(|| "0".into());
                        nonempty(
                            arr.iter()
                                .map(|c| get(c, &[key]).map(as_text).unwrap_or(pod.clone()))
                                .collect(),
                        )
                    }
                    "host_port" => {
                        let mut out = Vec::new();
                        for c in &arr {
                            let Some(ports) = get(c, &["ports"]) else {
                                continue;
                            };
                            for p in ports.as_array()? {
                                if let Some(h) = get(p, &["hostPort"]) {
                                    out.push(as_text(h));
                                } else if let Some(cp) = get(p, &["containerPort"]) {
                                    out.push(as_text(cp));
                                }
                            }
                        }
                        nonempty(out)
                    }
                    other => panic!("extraction of `{field}` ({other}) not modelled"),
                };
            }
        }
    }
    let volumes = || -> Option<Vec<&serde_json::Value>> {
        Some(
            get(ev, &["requestObject", "spec", "volumes"])?
                .as_array()?
                .iter()
                .collect(),
        )
    };
    match field {
        "ka.verb" => one(&["verb"]),
        "ka.user.name" => one(&["user", "username"]),
        "ka.target.resource" => one(&["objectRef", "resource"]),
        "ka.target.subresource" => one(&["objectRef", "subresource"]),
        "ka.target.namespace" => one(&["objectRef", "namespace"]),
        "ka.target.name" => one(&["objectRef", "name"]),
        "ka.req.pod.host_network" => one(&["requestObject", "spec", "hostNetwork"]),
        "ka.req.pod.host_pid" => one(&["requestObject", "spec", "hostPID"]),
        "ka.req.pod.host_ipc" => one(&["requestObject", "spec", "hostIPC"]),
        "ka.req.pod.run_as_user" => one(&["requestObject", "spec", "securityContext", "runAsUser"]),
        "ka.req.pod.run_as_group" => {
            one(&["requestObject", "spec", "securityContext", "runAsGroup"])
        }
        "ka.req.pod.fs_group" => one(&["requestObject", "spec", "securityContext", "fsGroup"]),
        "ka.req.pod.supplemental_groups" => {
            let v = get(
                ev,
                &[
                    "requestObject",
                    "spec",
                    "securityContext",
                    "supplementalGroups",
                ],
            )?;
            nonempty(v.as_array()?.iter().map(as_text).collect())
        }
        "ka.req.pod.volumes.hostpath" => nonempty(
            volumes()?
                .iter()
                .filter_map(|v| get(v, &["hostPath", "path"]).map(as_text))
                .collect(),
        ),
        "ka.req.pod.volumes.flexvolume_driver" => nonempty(
            volumes()?
                .iter()
                .filter_map(|v| get(v, &["flexVolume", "driver"]).map(as_text))
                .collect(),
        ),
        "ka.req.pod.volumes.volume_type" => nonempty(
            volumes()?
                .iter()
                .filter_map(|v| v.as_object())
                .flat_map(|o| o.keys().filter(|k| *k != "name").cloned())
                .collect(),
        ),
        other => panic!("extraction of `{other}` not modelled"),
    }
}

/// Evaluates a k8s-audit condition over one audit event.
pub fn eval(e: &Expr, ev: &serde_json::Value) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|x| eval(x, ev)),
        Expr::Or(v) => v.iter().any(|x| eval(x, ev)),
        Expr::Not(x) => !eval(x, ev),
        Expr::Check {
            field,
            arg,
            op,
            values,
        } => {
            let Some(got) = extract(ev, field, arg.as_deref()) else {
                return false;
            };
            match op.as_str() {
                "exists" => true,
                "in" => got.iter().all(|g| values.contains(g)),
                "intersects" => got.iter().any(|g| values.contains(g)),
                "=" => got.iter().any(|g| g == &values[0]),
                "!=" => got.iter().any(|g| g != &values[0]),
                "startswith" => got.iter().any(|g| g.starts_with(&values[0])),
                "endswith" => got.iter().any(|g| g.ends_with(&values[0])),
                "contains" => got.iter().any(|g| g.contains(&values[0])),
                "glob" => got.iter().any(|g| glob_match(&values[0], g)),
                "pmatch" => got.iter().any(|g| {
                    values
                        .iter()
                        .any(|p| g == p || g.starts_with(&format!("{}/", p.trim_end_matches('/'))))
                }),
                // every k8saudit field is a string: `<`/`>` compare text
                "<" => got.iter().any(|g| g.as_str() < values[0].as_str()),
                "<=" => got.iter().any(|g| g.as_str() <= values[0].as_str()),
                ">" => got.iter().any(|g| g.as_str() > values[0].as_str()),
                ">=" => got.iter().any(|g| g.as_str() >= values[0].as_str()),
                other => panic!("operator `{other}` not modelled"),
            }
        }
    }
}

/// An audit event (`create` of a pod, stage `ResponseComplete`) carrying `pod` as the request
/// object, as the API server would log it.
pub fn audit_event(pod: &serde_json::Value) -> serde_json::Value {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    serde_json::json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": "00000000-0000-0000-0000-000000000000",
        "stage": "ResponseComplete",
        "requestURI": format!("/api/v1/namespaces/{ns}/pods"),
        "verb": "create",
        "user": {"username": "tester"},
        "objectRef": {"resource": "pods", "namespace": ns, "apiVersion": "v1"},
        "responseStatus": {"code": 201},
        "requestObject": pod,
        "stageTimestamp": "2020-01-01T00:00:00.000000Z",
    })
}

// ---------------------------------------------------------------------------------------------
// Legacy semantics (Falco <= 0.31's built-in k8s audit engine, what falcoctl's rules targeted),
// as far as the suite exercises them: an absent single value reads as `<NA>` (so `not X in (…)`
// fires on it), a container that leaves a setting unset contributes `<NA>`, list fields with no
// element are empty (`in` holds vacuously), `min:max` list items are numeric ranges, `pmatch`
// matches path prefixes and `eff_run_as_*` reads the security contexts.

const NA: &str = "<NA>";

fn legacy_extract(ev: &serde_json::Value, field: &str, arg: Option<&str>) -> Vec<String> {
    let na = || vec![NA.to_string()];
    let containers = || -> Vec<&serde_json::Value> {
        get(ev, &["requestObject", "spec", "containers"])
            .and_then(|c| c.as_array())
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    let per_container = |path: &[&str]| -> Vec<String> {
        containers()
            .iter()
            .map(|c| get(c, path).map(as_text).unwrap_or_else(|| NA.into()))
            .collect()
    };
    let pod_sc = |k: &str| get(ev, &["requestObject", "spec", "securityContext", k]).map(as_text);
    match field {
        "ka.req.pod.containers.privileged" => per_container(&["securityContext", "privileged"]),
        "ka.req.pod.containers.allow_privilege_escalation" => {
            per_container(&["securityContext", "allowPrivilegeEscalation"])
        }
        "ka.req.pod.containers.read_only_fs" => {
            per_container(&["securityContext", "readOnlyRootFilesystem"])
        }
        "ka.req.pod.containers.proc_mount" => per_container(&["securityContext", "procMount"]),
        "ka.req.pod.containers.add_capabilities" => containers()
            .iter()
            .flat_map(|c| {
                get(c, &["securityContext", "capabilities", "add"])
                    .and_then(|a| a.as_array())
                    .map(|a| a.iter().map(as_text).collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .collect(),
        "ka.req.pod.containers.host_port"
        | "ka.req.pod.volumes.volume_type"
        | "ka.req.pod.volumes.hostpath"
        | "ka.req.pod.volumes.flexvolume_driver" => extract(ev, field, arg).unwrap_or_else(na),
        "ka.req.pod.containers.eff_run_as_user" | "ka.req.pod.containers.eff_run_as_group" => {
            let key = if field.ends_with("user") {
                "runAsUser"
            } else {
                "runAsGroup"
            };
            let pod = pod_sc(key).unwrap_or_else(|| "0".into());
            containers()
                .iter()
                .map(|c| {
                    get(c, &["securityContext", key])
                        .map(as_text)
                        .unwrap_or(pod.clone())
                })
                .collect()
        }
        "ka.req.pod.fs_group" => pod_sc("fsGroup").map(|v| vec![v]).unwrap_or_else(na),
        "ka.req.pod.run_as_group" => pod_sc("runAsGroup").map(|v| vec![v]).unwrap_or_else(na),
        "ka.req.pod.run_as_user" => pod_sc("runAsUser").map(|v| vec![v]).unwrap_or_else(na),
        "ka.req.pod.containers.run_as_group" => per_container(&["securityContext", "runAsGroup"]),
        "ka.req.pod.containers.run_as_user" => per_container(&["securityContext", "runAsUser"]),
        "ka.req.pod.supplemental_groups" => match pod_sc("supplementalGroups") {
            None => na(),
            Some(_) => get(
                ev,
                &[
                    "requestObject",
                    "spec",
                    "securityContext",
                    "supplementalGroups",
                ],
            )
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(as_text).collect())
            .unwrap_or_default(),
        },
        "ka.req.pod.host_network" | "ka.req.pod.host_pid" | "ka.req.pod.host_ipc" => {
            extract(ev, field, arg).unwrap_or_else(na)
        }
        f if f.starts_with("ka.req.pod.volumes.")
            || f == "ka.req.pod.containers.host_port"
            || f == "ka.req.pod.containers.image.repository" =>
        {
            extract(ev, field, arg).unwrap_or_default()
        }
        _ => extract(ev, field, arg).unwrap_or_default(),
    }
}

fn legacy_in(v: &str, items: &[String]) -> bool {
    items.iter().any(|i| {
        if i == v {
            return true;
        }
        match (i.split_once(':'), v.parse::<i64>()) {
            (Some((lo, hi)), Ok(n)) => match (lo.parse::<i64>(), hi.parse::<i64>()) {
                (Ok(lo), Ok(hi)) => lo <= n && n <= hi,
                _ => false,
            },
            _ => false,
        }
    })
}

/// Evaluates a condition with the legacy engine's semantics.
pub fn eval_legacy(e: &Expr, ev: &serde_json::Value) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|x| eval_legacy(x, ev)),
        Expr::Or(v) => v.iter().any(|x| eval_legacy(x, ev)),
        Expr::Not(x) => !eval_legacy(x, ev),
        Expr::Check {
            field,
            arg,
            op,
            values,
        } => {
            if op == "exists" {
                return extract(ev, field, arg.as_deref()).is_some();
            }
            let got = legacy_extract(ev, field, arg.as_deref());
            match op.as_str() {
                "in" => got.iter().all(|g| legacy_in(g, values)),
                "intersects" => got.iter().any(|g| legacy_in(g, values)),
                "=" => got.first() == Some(&values[0]),
                "pmatch" => got.iter().all(|g| {
                    values
                        .iter()
                        .any(|p| g == p || g.starts_with(&format!("{}/", p.trim_end_matches('/'))))
                }),
                other => panic!("legacy operator `{other}` not modelled"),
            }
        }
    }
}

impl RulesFile {
    /// The k8s_audit rules that fire on an audit event under the legacy engine's semantics.
    pub fn fired_legacy(&self, event: &serde_json::Value) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| r.source == "k8s_audit" && eval_legacy(&r.expr, event))
            .map(|r| r.name.as_str())
            .collect()
    }
}
