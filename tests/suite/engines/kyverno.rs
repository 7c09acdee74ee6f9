//! A test-only evaluator of the Kyverno `ClusterPolicy` constructs (kyverno.io/v1), calibrated on
//! Kyverno's own test vectors and the kyverno/policies `kyverno test` suites
//! (`tests/suite/kyverno_engine.rs`).
//!
//! What it does, after Kyverno's Go code (pkg/engine): `validate.pattern` / `anyPattern` with
//! anchors (`=()`, `X()`, `^()`, `<()`, `()`), value patterns (`*`/`?`, `|`, `&`, `!`, `>`, `<`,
//! `>=`, `<=`, ranges `a-b` and `!a-b`, quantities), `deny.conditions` with every operator,
//! JMESPath (`{{ }}` substitution with `request.object`, `element`, `elementIndex`), `foreach`,
//! `preconditions`, `match`/`exclude`, `podSecurity` (delegated to polytrans' PSS catalogue and
//! IR evaluator), `mutate.patchStrategicMerge` with `+()` and conditional anchors, `foreach`
//! mutations, `patchesJson6902`, and rule auto-generation for pod controllers.
//!
//! Go decodes JSON numbers as float64; so does this engine (every number is an `f64`).

use serde_json::{Map, Value, json};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

// ------------------------------------------------------------------------------------------
// Go-like helpers

/// `fmt.Sprint` of a decoded JSON value.
pub fn go_sprint(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_float(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(go_sprint).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            format!(
                "map[{}]",
                keys.iter()
                    .map(|k| format!("{k}:{}", go_sprint(&m[*k])))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)` (what `%v` prints for a float64): shortest digits,
/// exponent form when the exponent is below -4 or at least 6.
pub fn go_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    if !(-4..6).contains(&exp) {
        return go_exp(mant, exp);
    }
    format!("{f}")
}

fn go_exp(mant: &str, exp: i32) -> String {
    format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// Kyverno's wildcard match: `*` any run, `?` one character.
pub fn wildcard(pattern: &str, s: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == s;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn contains_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// A Kubernetes resource quantity (`resource.ParseQuantity`), as a float.
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim_end();
    if s.is_empty() || s.starts_with(' ') {
        return None;
    }
    let suffixes: [(&str, f64); 14] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
    ];
    let (num, mult) = if let Some(n) = s.strip_suffix('E') {
        (n, 1e18)
    } else if let Some((n, m)) = suffixes
        .iter()
        .find_map(|(suf, m)| s.strip_suffix(suf).map(|n| (n, *m)))
    {
        (n, m)
    } else if let Some(i) = s.find(['e', 'E']) {
        // Decimal exponent: `1e3`.
        let (n, e) = (&s[..i], &s[i + 1..]);
        let e: i32 = e.parse().ok()?;
        (n, 10f64.powi(e))
    } else {
        (s, 1.0)
    };
    let body = num.strip_prefix(['+', '-']).unwrap_or(num);
    if body.is_empty()
        || !body.chars().all(|c| c.is_ascii_digit() || c == '.')
        || body.matches('.').count() > 1
        || body == "."
    {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    Some(v * mult)
}

/// Go's `time.ParseDuration`, in seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let mut rest = s;
    let neg = if let Some(r) = rest.strip_prefix('-') {
        rest = r;
        true
    } else {
        if let Some(r) = rest.strip_prefix('+') {
            rest = r;
        }
        false
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[u..];
        total += num * unit;
    }
    Some(if neg { -total } else { total })
}

fn go_parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t != s || t.is_empty() {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    t.parse().ok()
}

// ------------------------------------------------------------------------------------------
// Value patterns (pkg/engine/pattern)

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

fn op_of(p: &str) -> (Op, &str) {
    if p.len() < 2 {
        return (Op::Eq, p);
    }
    for (pre, op) in [
        (">=", Op::Ge),
        ("<=", Op::Le),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("!", Op::Ne),
    ] {
        if let Some(r) = p.strip_prefix(pre) {
            return (op, r);
        }
    }
    (Op::Eq, p)
}

/// `a-b` (in range) or `a!-b` (not in range) with numeric or quantity endpoints.
fn range_of(p: &str) -> Option<(bool, &str, &str)> {
    let is_num = |s: &str| {
        let s = s.trim();
        let b = s.strip_prefix('-').unwrap_or(s);
        !b.is_empty()
            && b.chars().next().is_some_and(|c| c.is_ascii_digit())
            && b.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
    };
    if let Some((a, b)) = p.split_once("!-") {
        if is_num(a) && is_num(b) {
            return Some((false, a, b));
        }
    }
    // The separator is the first `-` that is not a sign.
    let bytes = p.as_bytes();
    for i in 1..bytes.len() {
        if bytes[i] == b'-' && bytes[i - 1] != b'!' {
            let (a, b) = (&p[..i], &p[i + 1..]);
            if is_num(a) && is_num(b) {
                return Some((true, a, b));
            }
        }
    }
    None
}

fn cmp_result(ord: std::cmp::Ordering, op: Op) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => ord == Equal,
        Op::Ne => ord != Equal,
        Op::Gt => ord == Greater,
        Op::Lt => ord == Less,
        Op::Ge => ord != Less,
        Op::Le => ord != Greater,
    }
}

fn number_to_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("0".into()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(format!("{:.6}", n.as_f64().unwrap_or(0.0))),
        _ => None,
    }
}

fn validate_string(value: &Value, pattern: &str, op: Op) -> bool {
    // compareDuration / compareQuantity (both quantity-based upstream).
    if let (Some(p), Some(v)) = (
        parse_quantity(pattern),
        number_to_string(value).and_then(|s| parse_quantity(&s)),
    ) {
        if cmp_result(v.partial_cmp(&p).unwrap_or(std::cmp::Ordering::Less), op) {
            return true;
        }
    }
    if op == Op::Eq || op == Op::Ne {
        let s = match value {
            Value::Number(n) => go_exp_e(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            _ => return false,
        };
        let m = wildcard(pattern, &s);
        return if op == Op::Ne { !m } else { m };
    }
    false
}

/// `strconv.FormatFloat(v, 'E', -1, 64)`.
fn go_exp_e(f: f64) -> String {
    let e = format!("{f:E}");
    let (mant, exp) = e.split_once('E').unwrap();
    let exp: i32 = exp.parse().unwrap();
    format!("{mant}E{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

fn validate_string_pattern(value: &Value, pattern: &str) -> bool {
    if let Some((inside, a, b)) = range_of(pattern) {
        return if inside {
            validate_string_pattern(value, &format!(">= {a}"))
                && validate_string_pattern(value, &format!("<= {b}"))
        } else {
            validate_string_pattern(value, &format!("< {a}"))
                || validate_string_pattern(value, &format!("> {b}"))
        };
    }
    let (op, rest) = op_of(pattern);
    validate_string(value, rest.trim(), op)
}

/// `pattern.Validate`: does a scalar pattern accept a value.
pub fn value_matches(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(p) => value.as_bool() == Some(*p),
        Value::Number(n) => {
            let p = n.as_f64().unwrap_or(0.0);
            match value {
                Value::Number(v) => v.as_f64() == Some(p),
                Value::String(s) => {
                    if p.fract() == 0.0 && n.is_i64() {
                        s.parse::<i64>().ok().map(|x| x as f64) == Some(p)
                    } else {
                        go_parse_float(s) == Some(p)
                    }
                }
                _ => false,
            }
        }
        Value::Null => match value {
            Value::Number(v) => v.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            Value::Null => true,
            _ => false,
        },
        Value::Object(_) => value.is_object(),
        Value::String(p) => {
            if value.as_str() == Some(p.as_str()) {
                return true;
            }
            p.split('|').any(|alt| {
                alt.trim()
                    .split('&')
                    .all(|c| validate_string_pattern(value, c.trim()))
            })
        }
        Value::Array(_) => false,
    }
}

// ------------------------------------------------------------------------------------------
// Structural patterns (pkg/engine/validate, pkg/engine/anchor)

/// A pattern mismatch: the message and the anchor kinds it passed through.
#[derive(Debug, Clone, Default)]
pub struct PErr {
    pub msg: String,
    pub conditional: bool,
    pub global: bool,
}

impl PErr {
    fn plain(msg: impl Into<String>) -> PErr {
        PErr {
            msg: msg.into(),
            ..Default::default()
        }
    }
    /// A conditional or global anchor failed: the rule does not apply.
    pub fn skip(&self) -> bool {
        self.conditional || self.global
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Condition,
    Global,
    Existence,
    Equality,
    Negation,
    AddIfNotPresent,
}

/// `(k)`, `<(k)`, `^(k)`, `=(k)`, `X(k)`, `+(k)`.
pub fn parse_anchor(key: &str) -> Option<(Anchor, &str)> {
    fn inner<'a>(k: &'a str, pre: &str) -> Option<&'a str> {
        k.strip_prefix(pre)
            .and_then(|r| r.strip_suffix(')'))
            .filter(|r| !r.is_empty())
    }
    for (pre, a) in [
        ("<(", Anchor::Global),
        ("^(", Anchor::Existence),
        ("=(", Anchor::Equality),
        ("X(", Anchor::Negation),
        ("+(", Anchor::AddIfNotPresent),
        ("(", Anchor::Condition),
    ] {
        if let Some(k) = inner(key, pre) {
            return Some((a, k));
        }
    }
    None
}

fn has_nested_anchors(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| parse_anchor(k).is_some() || has_nested_anchors(v)),
        Value::Array(a) => a.iter().any(has_nested_anchors),
        _ => false,
    }
}

/// `validate.MatchPattern`: `Ok` when the resource matches, else the error (see [`PErr::skip`]).
pub fn match_pattern(resource: &Value, pattern: &Value) -> Result<(), PErr> {
    validate_element(resource, pattern, "/")
}

fn validate_element(resource: &Value, pattern: &Value, path: &str) -> Result<(), PErr> {
    match pattern {
        Value::Object(pm) => {
            let Value::Object(rm) = resource else {
                return Err(PErr::plain(format!(
                    "pattern and resource have different structures at {path}"
                )));
            };
            validate_map(rm, pm, path)
        }
        Value::Array(pa) => {
            let Value::Array(ra) = resource else {
                return Err(PErr::plain(format!(
                    "validation rule failed at path {path}, resource does not satisfy the expected overlay pattern"
                )));
            };
            validate_array(ra, pa, path)
        }
        _ => {
            let ok = match resource {
                Value::Array(items) => items.iter().all(|r| value_matches(r, pattern)),
                r => value_matches(r, pattern),
            };
            if ok {
                Ok(())
            } else {
                Err(PErr::plain(format!(
                    "resource value '{}' does not match '{}' at path {path}",
                    go_sprint(resource),
                    go_sprint(pattern)
                )))
            }
        }
    }
}

/// `wildcards.ExpandInMetadata`: wildcard keys of metadata labels/annotations become the
/// resource's matching keys.
fn expand_in_metadata(
    pm: &Map<String, Value>,
    rm: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    let key_of = |m: &Map<String, Value>, tag: &str| -> Option<String> {
        m.keys()
            .find(|k| *k == tag || parse_anchor(k).is_some_and(|(_, x)| x == tag))
            .cloned()
    };
    let mk = key_of(pm, "metadata")?;
    let pmeta = pm[&mk].as_object()?;
    let rmeta = rm.get("metadata")?.as_object()?;
    let mut new_meta = pmeta.clone();
    let mut changed = false;
    for tag in ["labels", "annotations"] {
        let Some(pk) = key_of(pmeta, tag) else {
            continue;
        };
        let Some(pdata) = pmeta[&pk].as_object() else {
            continue;
        };
        let Some(rdata) = key_of(rmeta, tag).and_then(|k| rmeta[&k].as_object().cloned()) else {
            continue;
        };
        let mut out = Map::new();
        for (k, v) in pdata {
            if contains_wildcard(k) {
                let (anchor, bare) = match parse_anchor(k) {
                    Some((a, b)) => (Some((a, k.clone())), b.to_string()),
                    None => (None, k.clone()),
                };
                let matched = rdata
                    .keys()
                    .find(|rk| wildcard(&bare, rk))
                    .cloned()
                    .unwrap_or(bare.clone());
                let nk = match anchor {
                    Some((_, orig)) => {
                        let pre = &orig[..orig.len() - bare.len() - 1];
                        format!("{pre}{matched})")
                    }
                    None => matched,
                };
                out.insert(nk, v.clone());
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
        new_meta.insert(pk, Value::Object(out));
        changed = true;
    }
    if !changed {
        return None;
    }
    let mut np = pm.clone();
    np.insert(mk, Value::Object(new_meta));
    Some(np)
}

fn validate_map(rm: &Map<String, Value>, pm: &Map<String, Value>, path: &str) -> Result<(), PErr> {
    let expanded = expand_in_metadata(pm, rm);
    let pm = expanded.as_ref().unwrap_or(pm);
    // Phase 1: anchors (conditions and globals first, so that a failed condition skips).
    let mut anchors: Vec<(&String, &Value)> = Vec::new();
    let mut plain: Vec<(&String, &Value)> = Vec::new();
    for (k, v) in pm {
        match parse_anchor(k) {
            Some((
                Anchor::Condition | Anchor::Global | Anchor::Existence | Anchor::Negation,
                _,
            )) => anchors.push((k, v)),
            _ => plain.push((k, v)),
        }
    }
    anchors.sort_by_key(|(k, _)| match parse_anchor(k) {
        Some((Anchor::Condition | Anchor::Global, _)) => 0,
        _ => 1,
    });
    for (k, v) in anchors {
        handle(k, v, rm, path)?;
    }
    // Phase 2: the rest, keys with nested anchors first. A key whose conditional anchors
    // select nothing (skip) does not decide the map unless every key skips (Kyverno's
    // `TestConditionalAnchorWithMultiplePatterns` test-46/test-50: a skipped `initContainers`
    // next to passing `containers` passes).
    plain.sort_by_key(|(_, v)| !has_nested_anchors(v));
    let mut applied = 0;
    let mut skipped: Option<PErr> = None;
    for (k, v) in plain {
        match handle(k, v, rm, path) {
            Ok(()) => applied += 1,
            Err(e) if e.skip() => {
                skipped.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    match skipped {
        Some(e) if applied == 0 => Err(e),
        _ => Ok(()),
    }
}

fn handle(key: &str, pattern: &Value, rm: &Map<String, Value>, path: &str) -> Result<(), PErr> {
    match parse_anchor(key) {
        Some((Anchor::Negation, k)) => {
            if rm.contains_key(k) {
                return Err(PErr::plain(format!("{path}{k}/ is not allowed")));
            }
            Ok(())
        }
        Some((Anchor::Equality, k)) | Some((Anchor::AddIfNotPresent, k)) => match rm.get(k) {
            Some(v) => validate_element(v, pattern, &format!("{path}{k}/")),
            None => Ok(()),
        },
        Some((Anchor::Condition, k)) => match rm.get(k) {
            Some(v) => validate_element(v, pattern, &format!("{path}{k}/")).map_err(|mut e| {
                e.conditional = true;
                e
            }),
            None => Err(PErr {
                msg: "conditional anchor key doesn't exist in the resource".into(),
                conditional: true,
                ..Default::default()
            }),
        },
        Some((Anchor::Global, k)) => match rm.get(k) {
            Some(v) => validate_element(v, pattern, &format!("{path}{k}/")).map_err(|mut e| {
                e.global = true;
                e
            }),
            None => Ok(()),
        },
        Some((Anchor::Existence, k)) => {
            let Some(v) = rm.get(k) else {
                return Ok(());
            };
            let cur = format!("{path}{k}/");
            let Value::Array(items) = v else {
                return Err(PErr::plain(format!(
                    "invalid resource type: Existence ^ () anchor can be used only on list/array type resource at {cur}"
                )));
            };
            let Value::Array(pats) = pattern else {
                return Err(PErr::plain("existence anchor pattern must be a list"));
            };
            for p in pats {
                if !p.is_object() {
                    return Err(PErr::plain("existence anchor pattern items must be maps"));
                }
                if !items
                    .iter()
                    .enumerate()
                    .any(|(i, r)| validate_element(r, p, &format!("{cur}{i}/")).is_ok())
                {
                    return Err(PErr::plain(format!(
                        "existence anchor validation failed at path {cur}"
                    )));
                }
            }
            Ok(())
        }
        None => {
            let cur = format!("{path}{key}/");
            let v = rm.get(key).unwrap_or(&Value::Null);
            if pattern.as_str() == Some("*") {
                return if v.is_null() {
                    Err(PErr::plain(format!("{path}/{key} not found")))
                } else {
                    Ok(())
                };
            }
            validate_element(v, pattern, &cur)
        }
    }
}

fn validate_array(ra: &[Value], pa: &[Value], path: &str) -> Result<(), PErr> {
    let Some(first) = pa.first() else {
        return Err(PErr::plain("pattern Array empty"));
    };
    match first {
        Value::Object(_) => {
            let mut applied = 0;
            let mut skips = Vec::new();
            for (i, r) in ra.iter().enumerate() {
                match validate_element(r, first, &format!("{path}{i}/")) {
                    Ok(()) => applied += 1,
                    Err(e) if e.skip() => skips.push(e),
                    Err(e) => return Err(e),
                }
            }
            if applied == 0 && !skips.is_empty() {
                let mut e = skips.remove(0);
                e.conditional = true;
                return Err(e);
            }
            Ok(())
        }
        Value::Array(_) => {
            if ra.len() < pa.len() {
                return Err(PErr::plain("validate Array failed, array length mismatch"));
            }
            let mut applied = 0;
            let mut skips = Vec::new();
            for (i, p) in pa.iter().enumerate() {
                match validate_element(&ra[i], p, &format!("{path}{i}/")) {
                    Ok(()) => applied += 1,
                    Err(e) if e.skip() => skips.push(e),
                    Err(e) => return Err(e),
                }
            }
            if applied == 0 && !skips.is_empty() {
                let mut e = skips.remove(0);
                e.conditional = true;
                return Err(e);
            }
            Ok(())
        }
        scalar => validate_element(&Value::Array(ra.to_vec()), scalar, path),
    }
}

// ------------------------------------------------------------------------------------------
// Conditions (pkg/engine/variables/operator)

fn equals(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(k) => value.as_bool() == Some(*k),
        Value::Number(k) => {
            let k = k.as_f64().unwrap();
            match value {
                Value::Number(v) => v.as_f64() == Some(k),
                Value::String(s) => go_parse_float(s) == Some(k),
                _ => false,
            }
        }
        Value::String(k) => {
            if let Some((a, b)) = durations(key, value) {
                return a == b;
            }
            if parse_quantity(k).is_some() {
                if let Value::String(v) = value {
                    return match parse_quantity(v) {
                        Some(b) => parse_quantity(k) == Some(b),
                        None => false,
                    };
                }
            }
            match value {
                Value::String(v) => wildcard(v, k),
                _ => false,
            }
        }
        Value::Object(_) | Value::Array(_) => deep_equal(key, value),
        Value::Null => false,
    }
}

fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        _ => a == b,
    }
}

/// `parseDuration(key, value)`: both durations (a number counts as seconds), at least one a
/// string duration.
fn durations(key: &Value, value: &Value) -> Option<(f64, f64)> {
    let d = |v: &Value| -> Option<(f64, bool)> {
        match v {
            Value::String(s) => parse_duration(s).map(|d| (d, true)),
            Value::Number(n) => n.as_f64().map(|f| (f, false)),
            _ => None,
        }
    };
    let (k, ks) = d(key)?;
    let (v, vs) = d(value)?;
    if !ks && !vs {
        return None;
    }
    // A plain number string such as "10" is not a duration in Go (missing unit), except "0".
    Some((k, v))
}

fn numeric(key: &Value, value: &Value, op: Op) -> bool {
    let cmp =
        |a: f64, b: f64| cmp_result(a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Less), op);
    let num_vs = |k: f64, value: &Value| -> bool {
        match value {
            Value::Number(v) => cmp(k, v.as_f64().unwrap()),
            Value::String(s) => {
                if let Some(d) = parse_duration(s) {
                    return cmp(k, d);
                }
                match go_parse_float(s) {
                    Some(v) => cmp(k, v),
                    None => false,
                }
            }
            _ => false,
        }
    };
    match key {
        Value::Number(k) => num_vs(k.as_f64().unwrap(), value),
        Value::String(k) => {
            if let Some((a, b)) = durations(key, value) {
                return cmp(a, b);
            }
            if let (Some(a), Value::String(v)) = (parse_quantity(k), value) {
                if let Some(b) = parse_quantity(v) {
                    return cmp(a, b);
                }
            }
            if let Some(f) = go_parse_float(k) {
                return num_vs(f, value);
            }
            if let (Some(a), Some(b)) = (semver(k), value.as_str().and_then(semver)) {
                return cmp_result(a.cmp(&b), op);
            }
            false
        }
        _ => false,
    }
}

fn semver(s: &str) -> Option<(u64, u64, u64)> {
    let core = s.split(['-', '+']).next()?;
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return None;
    }
    let p = |x: &str| {
        if x.len() > 1 && x.starts_with('0') {
            None
        } else {
            x.parse::<u64>().ok()
        }
    };
    Some((p(parts[0])?, p(parts[1])?, p(parts[2])?))
}

/// The values of an `In`-family operator as strings, or a range.
enum Values {
    List(Vec<String>),
    Range(String),
    Invalid,
}

fn values_of(value: &Value, single_match_key: Option<&str>) -> Values {
    match value {
        Value::Array(a) => Values::List(a.iter().map(go_sprint).collect()),
        Value::Number(_) => Values::List(vec![go_sprint(value)]),
        Value::String(s) => {
            if single_match_key == Some(s.as_str()) {
                return Values::List(vec![s.clone()]);
            }
            if range_of(s).is_some_and(|(inside, _, _)| inside) {
                return Values::Range(s.clone());
            }
            if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(s) {
                if a.iter().all(|x| x.is_string()) {
                    return Values::List(a.iter().map(go_sprint).collect());
                }
                return Values::Invalid;
            }
            if serde_json::from_str::<Value>(s).is_ok() {
                return Values::Invalid;
            }
            Values::List(vec![s.clone()])
        }
        _ => Values::Invalid,
    }
}

fn in_list(k: &str, list: &[String]) -> bool {
    list.iter().any(|v| wildcard(k, v) || wildcard(v, k))
}

fn in_range(k: &str, range: &str) -> bool {
    value_matches(&Value::String(k.into()), &Value::String(range.into()))
}

fn key_strings(key: &Value) -> Option<(Vec<String>, bool)> {
    match key {
        Value::Array(a) => Some((a.iter().map(go_sprint).collect(), true)),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some((vec![go_sprint(key)], false)),
        _ => None,
    }
}

/// Evaluates one condition; `Err` for an unknown operator.
pub fn condition(key: &Value, op: &str, value: &Value) -> Result<bool, String> {
    Ok(match op {
        "Equals" | "Equal" => equals(key, value),
        "NotEquals" | "NotEqual" => !equals(key, value),
        "GreaterThan" => numeric(key, value, Op::Gt),
        "GreaterThanOrEquals" => numeric(key, value, Op::Ge),
        "LessThan" => numeric(key, value, Op::Lt),
        "LessThanOrEquals" => numeric(key, value, Op::Le),
        "DurationGreaterThan"
        | "DurationGreaterThanOrEquals"
        | "DurationLessThan"
        | "DurationLessThanOrEquals" => {
            let o = match op {
                "DurationGreaterThan" => Op::Gt,
                "DurationGreaterThanOrEquals" => Op::Ge,
                "DurationLessThan" => Op::Lt,
                _ => Op::Le,
            };
            let d = |v: &Value| match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => parse_duration(s),
                _ => None,
            };
            match (d(key), d(value)) {
                (Some(a), Some(b)) => cmp_result(a.partial_cmp(&b).unwrap(), o),
                _ => false,
            }
        }
        "In" | "NotIn" => {
            let r = legacy_in(key, value);
            if op == "In" { r } else { !r }
        }
        "AnyIn" | "AllIn" | "AnyNotIn" | "AllNotIn" => {
            let Some((keys, is_list)) = key_strings(key) else {
                return Ok(false);
            };
            let single = if keys.len() == 1 && is_list {
                Some(keys[0].as_str())
            } else {
                None
            };
            let vals = if is_list {
                values_of(value, single)
            } else {
                // A scalar key against a string value: wildcard match, then range, then list.
                if let Value::String(s) = value {
                    if wildcard(s, &keys[0]) {
                        Values::List(vec![keys[0].clone()])
                    } else {
                        values_of(value, None)
                    }
                } else {
                    values_of(value, None)
                }
            };
            let member = |k: &str| -> Option<bool> {
                match &vals {
                    Values::List(l) => Some(in_list(k, l)),
                    Values::Range(r) => Some(in_range(k, r)),
                    Values::Invalid => None,
                }
            };
            let ms: Option<Vec<bool>> = keys.iter().map(|k| member(k)).collect();
            let Some(ms) = ms else {
                return Ok(false);
            };
            match op {
                "AnyIn" => ms.iter().any(|m| *m),
                "AllIn" => !ms.is_empty() && ms.iter().all(|m| *m),
                "AnyNotIn" => ms.iter().any(|m| !*m),
                _ => !ms.is_empty() && ms.iter().all(|m| !*m),
            }
        }
        other => return Err(format!("unknown operator `{other}`")),
    })
}

/// The deprecated `In`: a scalar key in the list, or every element of a list key.
fn legacy_in(key: &Value, value: &Value) -> bool {
    let list: Vec<String> = match value {
        Value::Array(a) => a.iter().map(go_sprint).collect(),
        Value::String(s) => match serde_json::from_str::<Vec<String>>(s) {
            Ok(v) => v,
            Err(_) => vec![s.clone()],
        },
        _ => return false,
    };
    match key {
        Value::Array(a) => a.iter().all(|k| list.iter().any(|v| v == &go_sprint(k))),
        Value::Null | Value::Object(_) => false,
        k => {
            let k = go_sprint(k);
            list.iter().any(|v| wildcard(v, &k))
        }
    }
}

// ------------------------------------------------------------------------------------------
// JMESPath and variables

thread_local! {
    static RUNTIME: &'static jmespath::Runtime = {
        let mut rt = jmespath::Runtime::new();
        rt.register_builtin_functions();
        register_kyverno_functions(&mut rt);
        Box::leak(Box::new(rt))
    };
    static COMPILED: RefCell<HashMap<String, Rc<jmespath::Expression<'static>>>> =
        RefCell::new(HashMap::new());
}

fn var_to_value(v: &jmespath::Variable) -> Value {
    use jmespath::Variable as V;
    match v {
        V::Null | V::Expref(_) => Value::Null,
        V::String(s) => Value::String(s.clone()),
        V::Bool(b) => Value::Bool(*b),
        V::Number(n) => Value::Number(n.clone()),
        V::Array(a) => Value::Array(a.iter().map(|x| var_to_value(x)).collect()),
        V::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), var_to_value(x)))
                .collect(),
        ),
    }
}

fn register_kyverno_functions(rt: &mut jmespath::Runtime) {
    use jmespath::functions::{ArgumentType as A, CustomFunction, Signature};
    use jmespath::{Rcvar, Variable};
    let s = |v: &Rcvar| v.as_string().cloned().unwrap_or_default();
    rt.register_function(
        "split",
        Box::new(CustomFunction::new(
            Signature::new(vec![A::String, A::String], None),
            Box::new(move |args, _| {
                let parts: Vec<Rcvar> = s(&args[0])
                    .split(s(&args[1]).as_str())
                    .map(|p| Rcvar::new(Variable::String(p.to_string())))
                    .collect();
                Ok(Rcvar::new(Variable::Array(parts)))
            }),
        )),
    );
    rt.register_function(
        "to_upper",
        Box::new(CustomFunction::new(
            Signature::new(vec![A::String], None),
            Box::new(move |args, _| Ok(Rcvar::new(Variable::String(s(&args[0]).to_uppercase())))),
        )),
    );
    rt.register_function(
        "to_lower",
        Box::new(CustomFunction::new(
            Signature::new(vec![A::String], None),
            Box::new(move |args, _| Ok(Rcvar::new(Variable::String(s(&args[0]).to_lowercase())))),
        )),
    );
    rt.register_function(
        "trim_prefix",
        Box::new(CustomFunction::new(
            Signature::new(vec![A::String, A::String], None),
            Box::new(move |args, _| {
                let a = s(&args[0]);
                let p = s(&args[1]);
                Ok(Rcvar::new(Variable::String(
                    a.strip_prefix(p.as_str()).unwrap_or(&a).to_string(),
                )))
            }),
        )),
    );
    // `items(object, keyName, valueName)`: a map as a list of `{keyName: k, valueName: v}`
    // sorted by key, an array as `{keyName: index, valueName: element}`.
    rt.register_function(
        "items",
        Box::new(CustomFunction::new(
            Signature::new(vec![A::Any, A::String, A::String], None),
            Box::new(move |args, _| {
                let (kn, vn) = (s(&args[1]), s(&args[2]));
                let item = |k: Rcvar, v: Rcvar| {
                    let mut m = std::collections::BTreeMap::new();
                    m.insert(kn.clone(), k);
                    m.insert(vn.clone(), v);
                    Rcvar::new(Variable::Object(m))
                };
                let out: Vec<Rcvar> = match &*args[0] {
                    Variable::Object(m) => m
                        .iter()
                        .map(|(k, v)| item(Rcvar::new(Variable::String(k.clone())), v.clone()))
                        .collect(),
                    Variable::Array(a) => a
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            item(
                                Rcvar::new(Variable::Number(serde_json::Number::from(i))),
                                v.clone(),
                            )
                        })
                        .collect(),
                    _ => vec![],
                };
                Ok(Rcvar::new(Variable::Array(out)))
            }),
        )),
    );
    rt.register_function(
        "regex_match",
        Box::new(CustomFunction::new(
            Signature::new(vec![A::String, A::Any], None),
            Box::new(move |args, _| {
                let v = go_sprint(&var_to_value(&args[1]));
                let ok = regex::Regex::new(&s(&args[0])).is_ok_and(|r| r.is_match(&v));
                Ok(Rcvar::new(Variable::Bool(ok)))
            }),
        )),
    );
    rt.register_function(
        "regex_replace_all_literal",
        Box::new(CustomFunction::new(
            Signature::new(vec![A::String, A::Any, A::String], None),
            Box::new(move |args, _| {
                let v = go_sprint(&var_to_value(&args[1]));
                let out = match regex::Regex::new(&s(&args[0])) {
                    Ok(r) => r
                        .replace_all(&v, regex::NoExpand(&s(&args[2])))
                        .into_owned(),
                    Err(_) => v,
                };
                Ok(Rcvar::new(Variable::String(out)))
            }),
        )),
    );
    rt.register_function(
        "pattern_match",
        Box::new(CustomFunction::new(
            Signature::new(vec![A::String, A::Any], None),
            Box::new(move |args, _| {
                let v = var_to_value(&args[1]);
                Ok(Rcvar::new(Variable::Bool(wildcard(
                    &s(&args[0]),
                    &go_sprint(&v),
                ))))
            }),
        )),
    );
}

/// Evaluates a JMESPath expression over `data`.
pub fn search(expr: &str, data: &jmespath::Rcvar) -> Result<Value, String> {
    let compiled = COMPILED.with(|c| -> Result<_, String> {
        if let Some(e) = c.borrow().get(expr) {
            return Ok(e.clone());
        }
        let rt = RUNTIME.with(|r| *r);
        let e = Rc::new(rt.compile(expr).map_err(|e| format!("{expr}: {e}"))?);
        c.borrow_mut().insert(expr.to_string(), e.clone());
        Ok(e)
    })?;
    let r = compiled.search(data).map_err(|e| format!("{expr}: {e}"))?;
    Ok(var_to_value(&r))
}

/// The evaluation context of a rule: `request` (with `object` and `operation`), and in
/// `foreach` `element` and `elementIndex`. Top-level variables are converted to JMESPath values
/// once; adding one shares the others.
#[derive(Clone)]
pub struct Ctx {
    vars: std::collections::BTreeMap<String, Rc<LazyVar>>,
}

/// A variable converted to a JMESPath value on first use.
struct LazyVar {
    value: Value,
    var: std::cell::OnceCell<jmespath::Rcvar>,
}

impl LazyVar {
    fn new(value: Value) -> Rc<LazyVar> {
        Rc::new(LazyVar {
            value,
            var: std::cell::OnceCell::new(),
        })
    }
    fn get(&self) -> jmespath::Rcvar {
        self.var
            .get_or_init(|| {
                jmespath::Rcvar::new(jmespath::Variable::try_from(&self.value).unwrap())
            })
            .clone()
    }
}

impl Ctx {
    pub fn new(data: Value) -> Ctx {
        let mut vars = std::collections::BTreeMap::new();
        if let Value::Object(m) = data {
            for (k, v) in m {
                vars.insert(k, LazyVar::new(v));
            }
        }
        Ctx { vars }
    }
    pub fn with(&self, name: &str, v: Value) -> Ctx {
        let mut c = self.clone();
        c.vars.insert(name.to_string(), LazyVar::new(v));
        c
    }
    /// The value of a top-level variable, unconverted.
    pub fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name).map(|v| &v.value)
    }
    pub fn query(&self, expr: &str) -> Result<Value, String> {
        let root = jmespath::Rcvar::new(jmespath::Variable::Object(
            self.vars
                .iter()
                .map(|(k, v)| (k.clone(), v.get()))
                .collect(),
        ));
        search(expr.trim(), &root)
    }
}

fn has_vars(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("\\$("),
        Value::Array(a) => a.iter().any(has_vars),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.contains("{{") || k.contains("\\$(") || has_vars(v)),
        _ => false,
    }
}

/// [`substitute`], borrowing when there is nothing to substitute.
pub fn substitute_cow<'a>(v: &'a Value, ctx: &Ctx) -> Result<std::borrow::Cow<'a, Value>, String> {
    if has_vars(v) {
        substitute(v, ctx).map(std::borrow::Cow::Owned)
    } else {
        Ok(std::borrow::Cow::Borrowed(v))
    }
}

/// Replaces `{{ expr }}` in strings (a string that is only a variable takes the value's type;
/// `\{{` escapes). Object keys are substituted too.
pub fn substitute(v: &Value, ctx: &Ctx) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => substitute_str(s, ctx)?,
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| substitute(x, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let k2 = match substitute_str(k, ctx)? {
                    Value::String(s) => s,
                    other => go_sprint(&other),
                };
                out.insert(k2, substitute(x, ctx)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Kyverno's escapes: `\$(` is a literal `$(` (not a reference).
fn unescape(s: &str) -> String {
    s.replace("\\$(", "$(")
}

/// Nested variables (`{{ a."{{element.name}}" }}`): Kyverno's variable regex matches only
/// innermost `{{…}}` and substitutes until none is left, so inner variables resolve first.
fn resolve_nested(s: &str, ctx: &Ctx) -> Result<String, String> {
    let mut s = s.to_string();
    'again: loop {
        let mut from = 0;
        while let Some(i) = s[from..].find("{{").map(|i| i + from) {
            from = i + 2;
            if i > 0 && s.as_bytes()[i - 1] == b'\\' {
                continue;
            }
            let Some(close) = s[i + 2..].find("}}").map(|c| c + i + 2) else {
                break;
            };
            if let Some(k) = s[i + 2..close].rfind("{{") {
                let open = i + 2 + k;
                let v = match ctx.query(&s[open + 2..close])? {
                    Value::String(x) => x,
                    Value::Null => {
                        return Err(format!("variable `{}` not resolved", &s[open + 2..close]));
                    }
                    other => other.to_string(),
                };
                s.replace_range(open..close + 2, &v);
                continue 'again;
            }
        }
        return Ok(s);
    }
}

fn substitute_str(s: &str, ctx: &Ctx) -> Result<Value, String> {
    if !s.contains("{{") {
        return Ok(Value::String(unescape(s)));
    }
    let resolved;
    let s = if s.matches("{{").count() > 1 {
        resolved = resolve_nested(s, ctx)?;
        resolved.as_str()
    } else {
        s
    };
    // Whole-string variable: keep the type.
    let t = s.trim();
    if let Some(inner) = t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
        if !inner.contains("{{") && !inner.contains("}}") && !s.starts_with("\\{{") {
            return ctx.query(inner);
        }
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        if i > 0 && rest.as_bytes()[i - 1] == b'\\' {
            out.push_str(&unescape(&rest[..i - 1]));
            out.push_str("{{");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&unescape(&rest[..i]));
        let Some(j) = rest[i..].find("}}") else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let expr = &rest[i + 2..i + j];
        let v = ctx.query(expr)?;
        match v {
            Value::String(x) => out.push_str(&x),
            Value::Null => return Err(format!("variable `{expr}` not resolved")),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[i + j + 2..];
    }
    out.push_str(&unescape(rest));
    Ok(Value::String(out))
}

/// `any`/`all` condition blocks (or a plain list, meaning `all`).
pub fn conditions(block: &Value, ctx: &Ctx) -> Result<bool, String> {
    let eval_one = |c: &Value| -> Result<bool, String> {
        let key = substitute_cow(c.get("key").unwrap_or(&Value::Null), ctx)?;
        let value = substitute_cow(c.get("value").unwrap_or(&Value::Null), ctx)?;
        let op = c["operator"].as_str().unwrap_or("Equals");
        condition(&key, op, &value)
    };
    match block {
        Value::Array(list) => {
            for c in list {
                if !eval_one(c)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Value::Object(m) => {
            if let Some(Value::Array(any)) = m.get("any") {
                let mut ok = any.is_empty();
                for c in any {
                    if eval_one(c)? {
                        ok = true;
                        break;
                    }
                }
                if !ok {
                    return Ok(false);
                }
            }
            if let Some(Value::Array(all)) = m.get("all") {
                for c in all {
                    if !eval_one(c)? {
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        }
        Value::Null => Ok(true),
        other => Err(format!("bad conditions: {other}")),
    }
}

// ------------------------------------------------------------------------------------------
// Mutation (patchStrategicMerge with anchors, patchesJson6902)

/// Merge keys of the pod lists strategic merge patch merges by.
fn merge_key(list: &str) -> Option<&'static str> {
    match list {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "volumeMounts"
        | "imagePullSecrets"
        | "hostAliases" => Some(match list {
            "volumeMounts" => "mountPath",
            "hostAliases" => "ip",
            _ => "name",
        }),
        "ports" => Some("containerPort"),
        _ => None,
    }
}

/// Does the resource satisfy the conditional anchors of a patch map (and its nested
/// conditional anchors)? `Err` distinguishes a failed global anchor.
fn patch_conditions(patch: &Map<String, Value>, res: &Map<String, Value>) -> Result<bool, ()> {
    for (k, p) in patch {
        let Some((anchor, key)) = parse_anchor(k) else {
            continue;
        };
        let value = res.get(key);
        let matches = |v: &Value| validate_element(v, p, "/").is_ok();
        match anchor {
            Anchor::Condition if !value.is_some_and(matches) => return Ok(false),
            Anchor::Equality if value.is_some_and(|v| !matches(v)) => return Ok(false),
            Anchor::Global if value.is_some_and(|v| !matches(v)) => return Err(()),
            Anchor::Negation if value.is_some() => return Ok(false),
            _ => {}
        }
    }
    Ok(true)
}

/// Does a patch hold anchors that can make (part of) it not apply?
fn has_condition_anchors(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            matches!(
                parse_anchor(k),
                Some((
                    Anchor::Condition | Anchor::Equality | Anchor::Global | Anchor::Negation,
                    _
                ))
            ) || has_condition_anchors(v)
        }),
        Value::Array(a) => a.iter().any(has_condition_anchors),
        _ => false,
    }
}

fn strip_anchors(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, x)| match parse_anchor(k) {
                    Some((Anchor::AddIfNotPresent, key)) => {
                        Some((key.to_string(), strip_anchors(x)))
                    }
                    Some(_) => None,
                    None => Some((k.clone(), strip_anchors(x))),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_anchors).collect()),
        other => other.clone(),
    }
}

/// Why Kyverno's preprocessing stopped on an element: a condition anchor (skip the element) or a
/// global anchor (skip the whole patch unless another element passes).
enum PreErr {
    Condition,
    Global,
}

/// Kyverno's `walkMap` (pkg/engine/mutate/patch/strategicPreprocessing.go) on a copy of a list
/// element's patch, against one resource element. It edits `pattern` in place: a `+(key)` is
/// dropped when the resource has `key` and unwrapped to `key` otherwise, so once the copy has
/// met the list's first element, that element's decision holds for every later one.
fn preprocess_map(pattern: &mut Value, resource: Option<&Value>) -> Result<(), PreErr> {
    let Value::Object(pm) = pattern else {
        return Ok(());
    };
    let res = resource.and_then(Value::as_object);
    let keys: Vec<String> = pm.keys().cloned().collect();
    for k in &keys {
        if let Some((Anchor::AddIfNotPresent, key)) = parse_anchor(k) {
            let v = pm.remove(k).unwrap();
            if !res.is_some_and(|r| r.contains_key(key)) {
                pm.insert(key.to_string(), v);
            }
        }
    }
    for want in [Anchor::Global, Anchor::Condition] {
        for (k, p) in pm.iter() {
            match parse_anchor(k) {
                Some((a, key)) if a == want => {
                    let ok = res
                        .and_then(|r| r.get(key))
                        .is_some_and(|v| validate_element(v, p, "/").is_ok());
                    if !ok {
                        return Err(if want == Anchor::Global {
                            PreErr::Global
                        } else {
                            PreErr::Condition
                        });
                    }
                }
                _ => {}
            }
        }
    }
    let plain: Vec<String> = pm
        .keys()
        .filter(|k| parse_anchor(k).is_none())
        .cloned()
        .collect();
    for k in plain {
        let child = res.and_then(|r| r.get(&k));
        match pm.get_mut(&k).unwrap() {
            v @ Value::Object(_) => preprocess_map(v, child)?,
            Value::Array(items) => {
                if let Some(generated) = preprocess_list(items, child)? {
                    items.extend(generated);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Kyverno's `processListOfMaps`: each patch element holding an anchor is matched against every
/// element of the resource list in turn, with ONE copy of it that [`preprocess_map`] edits as it
/// goes; each resource element that passes gets a copy of the edited patch under its own
/// `name` (whatever name the patch gave). The new elements are returned (Kyverno appends them);
/// the anchored originals are dropped later ([`drop_anchored_elements`]). `None` when the list
/// is not a list of maps.
fn preprocess_list(
    pattern: &[Value],
    resource: Option<&Value>,
) -> Result<Option<Vec<Value>>, PreErr> {
    if !pattern.first().is_some_and(Value::is_object) {
        return Ok(None);
    }
    let items: &[Value] = resource.and_then(Value::as_array).map_or(&[], |a| a);
    let mut generated = Vec::new();
    for p in pattern.iter().filter(|p| has_nested_anchors(p)) {
        let has_global = has_anchor_kind(p, Anchor::Global);
        let mut copy = p.clone();
        let (mut global_passed, mut global_failed) = (false, false);
        for item in items {
            match preprocess_map(&mut copy, Some(item)) {
                Err(PreErr::Condition) => continue,
                Err(PreErr::Global) => {
                    global_failed = true;
                    continue;
                }
                Ok(()) if has_global => global_passed = true,
                Ok(()) => {
                    let Some(name) = item.get("name").filter(|n| n.as_str() != Some("")) else {
                        continue;
                    };
                    let mut fresh = prune_empty(&strip_anchors(&copy));
                    if let Value::Object(m) = &mut fresh {
                        m.insert("name".into(), name.clone());
                        generated.push(fresh);
                    }
                }
            }
        }
        if resource.is_none() && preprocess_map(&mut copy, None).is_ok() && has_global {
            global_passed = true;
        }
        if !global_passed && global_failed {
            return Err(PreErr::Global);
        }
    }
    Ok(Some(generated))
}

fn has_anchor_kind(v: &Value, kind: Anchor) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            parse_anchor(k).is_some_and(|(a, _)| a == kind) || has_anchor_kind(v, kind)
        }),
        Value::Array(a) => a.iter().any(|v| has_anchor_kind(v, kind)),
        _ => false,
    }
}

/// Kyverno's `deleteAnchors` on a generated element: maps left empty are removed.
fn prune_empty(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), prune_empty(x)))
                .filter(|(_, x)| !x.as_object().is_some_and(|o| o.is_empty()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Kyverno's `deleteConditionElements`: list elements that still hold anchors (the originals
/// [`preprocess_list`] matched) leave the patch.
fn drop_anchored_elements(v: &mut Value) {
    match v {
        Value::Object(m) => m.values_mut().for_each(drop_anchored_elements),
        Value::Array(a) => {
            if a.first().is_some_and(Value::is_object) {
                a.retain(|e| !has_nested_anchors(e));
            }
            a.iter_mut().for_each(drop_anchored_elements);
        }
        _ => {}
    }
}

/// Kyverno's preprocessing of a strategic merge patch against the resource
/// (`PreProcessPattern`), for the lists of maps in it: anchored list elements become one plain
/// element per resource element that passes (see [`preprocess_list`]). `Err` when a global
/// anchor failed on every element (Kyverno then applies an empty patch). Map-level anchors are
/// left to [`apply_smp`].
pub fn preprocess_lists(patch: &Value, res: &Value) -> Result<Value, ()> {
    fn walk(p: &mut Value, r: Option<&Value>) -> Result<(), PreErr> {
        let Value::Object(pm) = p else {
            return Ok(());
        };
        let keys: Vec<String> = pm.keys().cloned().collect();
        for k in keys {
            let bare = parse_anchor(&k).map_or(k.as_str(), |(_, b)| b).to_string();
            let child = r.and_then(|r| r.get(&bare));
            match pm.get_mut(&k).unwrap() {
                v @ Value::Object(_) => walk(v, child)?,
                Value::Array(items) => {
                    if let Some(generated) = preprocess_list(items, child)? {
                        items.extend(generated);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
    if !has_nested_anchors(patch) {
        return Ok(patch.clone());
    }
    let mut p = patch.clone();
    match walk(&mut p, Some(res)) {
        Ok(()) => {}
        Err(PreErr::Global) => return Err(()),
        Err(PreErr::Condition) => return Ok(json!({})),
    }
    drop_anchored_elements(&mut p);
    Ok(p)
}

/// Applies a strategic merge patch with anchors to `res`. `Ok(false)` when a condition did not
/// hold (nothing applied at this level); `Err` on a failed global anchor.
pub fn apply_smp(res: &mut Value, patch: &Value, list_name: Option<&str>) -> Result<bool, ()> {
    match patch {
        Value::Object(pm) => {
            if !res.is_object() {
                *res = Value::Object(Map::new());
            }
            if !patch_conditions(pm, res.as_object().unwrap())? {
                return Ok(false);
            }
            // Work on a copy when a nested condition may drop this whole map's patch.
            let conditional = has_condition_anchors(patch);
            let mut owned;
            let work: &mut Value = if conditional {
                owned = res.clone();
                &mut owned
            } else {
                &mut *res
            };
            for (k, p) in pm {
                let rm = work.as_object_mut().unwrap();
                match parse_anchor(k) {
                    Some((Anchor::AddIfNotPresent, key)) => {
                        if !rm.contains_key(key) {
                            rm.insert(key.to_string(), strip_anchors(p));
                        }
                    }
                    Some(_) => {}
                    None => {
                        if p.is_null() {
                            rm.remove(k);
                            continue;
                        }
                        let existed = rm.contains_key(k);
                        let mut child = rm.get(k).cloned().unwrap_or(Value::Null);
                        match p {
                            Value::Object(_) => {
                                if !apply_smp(&mut child, p, None)? {
                                    return Ok(false);
                                }
                                rm.insert(k.clone(), child);
                            }
                            Value::Array(_) => {
                                if !existed {
                                    child = Value::Array(vec![]);
                                }
                                apply_smp(&mut child, p, Some(k))?;
                                let empty = child.as_array().is_some_and(|a| a.is_empty());
                                if existed || !empty {
                                    rm.insert(k.clone(), child);
                                }
                            }
                            scalar => {
                                rm.insert(k.clone(), scalar.clone());
                            }
                        }
                    }
                }
            }
            if conditional {
                *res = work.clone();
            }
            Ok(true)
        }
        Value::Array(pa) => {
            let mkey = list_name.and_then(merge_key);
            let all_maps = !pa.is_empty() && pa.iter().all(|p| p.is_object());
            if !all_maps || mkey.is_none() && !pa.iter().any(has_nested_anchors) {
                *res = strip_anchors(patch);
                return Ok(true);
            }
            let mkey = mkey.unwrap_or("name");
            let original = res.clone();
            if !res.is_array() {
                *res = Value::Array(vec![]);
            }
            for p in pa {
                let pm = p.as_object().unwrap();
                let anchored =
                    pm.keys().any(|k| parse_anchor(k).is_some()) || has_nested_anchors(p);
                let items = res.as_array_mut().unwrap();
                if anchored && !pm.contains_key(mkey) {
                    // Applies to every element that satisfies its conditions.
                    for item in items.iter_mut() {
                        let _ = apply_smp(item, p, None)?;
                    }
                    continue;
                }
                let Some(id) = pm.get(mkey) else {
                    items.push(strip_anchors(p));
                    continue;
                };
                match items.iter_mut().find(|i| i.get(mkey) == Some(id)) {
                    Some(item) => {
                        let _ = apply_smp(item, p, None)?;
                    }
                    None => {
                        let mut fresh = json!({});
                        if apply_smp(&mut fresh, p, None)? {
                            items.push(fresh);
                        }
                    }
                }
            }
            // Strategic merge order: patch items in patch order, server-only items merged in
            // by server order (apimachinery's `mergeSortedSlice`).
            let server: Vec<Value> = original.as_array().cloned().unwrap_or_default();
            let ids: Vec<&Value> = pa.iter().filter_map(|p| p.get(mkey)).collect();
            let items = res.as_array().unwrap().clone();
            let (left, right): (Vec<Value>, Vec<Value>) = {
                let mut left: Vec<Value> = ids
                    .iter()
                    .filter_map(|id| items.iter().find(|i| i.get(mkey) == Some(*id)).cloned())
                    .collect();
                left.dedup();
                let right: Vec<Value> = items
                    .iter()
                    .filter(|i| !i.get(mkey).is_some_and(|x| ids.contains(&x)))
                    .cloned()
                    .collect();
                (left, right)
            };
            let sidx = |v: &Value| {
                server
                    .iter()
                    .position(|s| s.get(mkey).is_some() && s.get(mkey) == v.get(mkey))
            };
            let (mut i, mut j) = (0, 0);
            let mut merged = Vec::new();
            while i < left.len() || j < right.len() {
                if i >= left.len() {
                    merged.push(right[j].clone());
                    j += 1;
                } else if j >= right.len() {
                    merged.push(left[i].clone());
                    i += 1;
                } else {
                    match (sidx(&left[i]), sidx(&right[j])) {
                        (Some(a), Some(b)) if a > b => {
                            merged.push(right[j].clone());
                            j += 1;
                        }
                        _ => {
                            merged.push(left[i].clone());
                            i += 1;
                        }
                    }
                }
            }
            *res = Value::Array(merged);
            Ok(true)
        }
        scalar => {
            *res = scalar.clone();
            Ok(true)
        }
    }
}

/// Applies RFC 6902 operations (`add`, `replace`, `remove`).
pub fn apply_json6902(res: &mut Value, ops: &[Value]) -> Result<(), String> {
    for op in ops {
        let path = op["path"].as_str().ok_or("patch without path")?;
        let parts: Vec<String> = path
            .split('/')
            .skip(1)
            .map(|p| p.replace("~1", "/").replace("~0", "~"))
            .collect();
        let (last, parents) = parts.split_last().ok_or("empty path")?;
        let adding = op["op"] == "add";
        let mut cur = &mut *res;
        for (n, p) in parents.iter().enumerate() {
            // Kyverno applies JSON patches with `EnsurePathExistsOnAdd`: missing parents of an
            // `add` are created.
            if adding {
                let next = parents.get(n + 1).unwrap_or(last);
                let fresh = if next == "-" || next.parse::<usize>().is_ok() {
                    json!([])
                } else {
                    json!({})
                };
                if let Value::Object(m) = cur {
                    if m.get(p).is_none_or(|v| v.is_null()) {
                        m.insert(p.clone(), fresh);
                    }
                }
            }
            cur = match cur {
                Value::Object(m) => m.get_mut(p).ok_or(format!("{path}: missing `{p}`"))?,
                Value::Array(a) => {
                    let i: usize = p.parse().map_err(|_| format!("{path}: bad index"))?;
                    a.get_mut(i)
                        .ok_or(format!("{path}: index {i} out of range"))?
                }
                _ => return Err(format!("{path}: not a container")),
            };
        }
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        match (op["op"].as_str().unwrap_or(""), cur) {
            ("add", Value::Object(m)) | ("replace", Value::Object(m)) => {
                m.insert(last.clone(), value);
            }
            ("add", Value::Array(a)) => {
                if last == "-" {
                    a.push(value);
                } else {
                    let i: usize = last.parse().map_err(|_| format!("{path}: bad index"))?;
                    if i > a.len() {
                        return Err(format!("{path}: index out of range"));
                    }
                    a.insert(i, value);
                }
            }
            ("replace", Value::Array(a)) => {
                let i: usize = last.parse().map_err(|_| format!("{path}: bad index"))?;
                *a.get_mut(i).ok_or(format!("{path}: index out of range"))? = value;
            }
            ("remove", Value::Object(m)) => {
                m.remove(last).ok_or(format!("{path}: missing"))?;
            }
            ("remove", Value::Array(a)) => {
                let i: usize = last.parse().map_err(|_| format!("{path}: bad index"))?;
                if i >= a.len() {
                    return Err(format!("{path}: index out of range"));
                }
                a.remove(i);
            }
            (o, _) => return Err(format!("{path}: unsupported op `{o}`")),
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Policies

/// A rule's outcome on a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail(String),
    Skip,
    Error(String),
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "fail",
            Verdict::Skip => "skip",
            Verdict::Error(_) => "error",
        }
    }
}

/// Pod controllers Kyverno generates rules for by default, and where their pod template is.
pub const CONTROLLERS: &[(&str, &[&str])] = &[
    ("DaemonSet", &["spec", "template"]),
    ("Deployment", &["spec", "template"]),
    ("Job", &["spec", "template"]),
    ("StatefulSet", &["spec", "template"]),
    ("ReplicaSet", &["spec", "template"]),
    ("ReplicationController", &["spec", "template"]),
    ("CronJob", &["spec", "jobTemplate", "spec", "template"]),
];

fn template_path(kind: &str) -> Option<&'static [&'static str]> {
    CONTROLLERS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, p)| *p)
}

/// A parsed policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub rules: Vec<Value>,
    /// Kinds autogen covers (`pod-policies.kyverno.io/autogen-controllers`).
    pub autogen: Vec<String>,
    pub namespace: Option<String>,
}

impl Policy {
    pub fn from_doc(doc: &Value) -> Policy {
        let ann =
            doc["metadata"]["annotations"]["pod-policies.kyverno.io/autogen-controllers"].as_str();
        let autogen = match ann {
            Some("none") => vec![],
            Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
            None => CONTROLLERS.iter().map(|(k, _)| k.to_string()).collect(),
        };
        Policy {
            name: doc["metadata"]["name"].as_str().unwrap_or("").to_string(),
            rules: doc["spec"]["rules"].as_array().cloned().unwrap_or_default(),
            autogen,
            namespace: if doc["kind"] == "Policy" {
                doc["metadata"]["namespace"].as_str().map(String::from)
            } else {
                None
            },
        }
    }

    /// Every `ClusterPolicy`/`Policy` in a YAML or JSON text.
    pub fn all_from_text(text: &str) -> Vec<Policy> {
        polytrans::load::yaml_documents(text)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .filter(|d| d["kind"] == "ClusterPolicy" || d["kind"] == "Policy")
            .map(|d| Policy::from_doc(&d))
            .collect()
    }
}

/// An admission request: the object, the operation, the namespace.
#[derive(Debug, Clone)]
pub struct Request {
    pub object: Value,
    pub operation: String,
}

impl Request {
    pub fn create(object: Value) -> Request {
        Request {
            object,
            operation: "CREATE".into(),
        }
    }
    fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or("")
    }
    fn namespace(&self) -> &str {
        self.object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    }
}

fn kind_matches(pattern: &str, kind: &str) -> bool {
    // `Pod`, `v1/Pod`, `*/Pod`, `apps/v1/Deployment`, `*`.
    let k = pattern.rsplit('/').next().unwrap_or(pattern);
    let k = k.split('.').next().unwrap_or(k);
    wildcard(k, kind)
}

/// Does one `resources`-style filter (`{resources: {...}, subjects, ...}`) select the request,
/// judged as `kind`?
fn filter_matches(f: &Value, req: &Request, kind: &str) -> bool {
    let r = &f["resources"];
    if let Some(kinds) = r["kinds"].as_array() {
        if !kinds
            .iter()
            .any(|k| k.as_str().is_some_and(|k| kind_matches(k, kind)))
        {
            return false;
        }
    }
    if let Some(ns) = r["namespaces"].as_array() {
        if !ns
            .iter()
            .any(|n| n.as_str().is_some_and(|n| wildcard(n, req.namespace())))
        {
            return false;
        }
    }
    if let Some(names) = r["names"].as_array() {
        let name = req.object["metadata"]["name"].as_str().unwrap_or("");
        if !names
            .iter()
            .any(|n| n.as_str().is_some_and(|n| wildcard(n, name)))
        {
            return false;
        }
    }
    if let Some(name) = r["name"].as_str() {
        if !wildcard(name, req.object["metadata"]["name"].as_str().unwrap_or("")) {
            return false;
        }
    }
    if let Some(ops) = r["operations"].as_array() {
        if !ops
            .iter()
            .any(|o| o.as_str() == Some(req.operation.as_str()))
        {
            return false;
        }
    }
    if let Some(sel) = r["selector"]["matchLabels"].as_object() {
        let labels = &req.object["metadata"]["labels"];
        if !sel.iter().all(|(k, v)| labels[k] == *v) {
            return false;
        }
    }
    if let Some(sel) = r["namespaceSelector"]["matchLabels"].as_object() {
        // No namespace objects here: only `kubernetes.io/metadata.name`.
        if !sel
            .iter()
            .all(|(k, v)| k == "kubernetes.io/metadata.name" && v.as_str() == Some(req.namespace()))
        {
            return false;
        }
    }
    true
}

/// `match` / `exclude` blocks: `any`, `all`, or the legacy inline form.
fn block_matches(block: &Value, req: &Request, kind: &str, empty: bool) -> bool {
    if block.is_null() {
        return empty;
    }
    if let Some(any) = block["any"].as_array() {
        if !any.is_empty() {
            return any.iter().any(|f| filter_matches(f, req, kind));
        }
    }
    if let Some(all) = block["all"].as_array() {
        if !all.is_empty() {
            return all.iter().all(|f| filter_matches(f, req, kind));
        }
    }
    if block.get("resources").is_some() {
        return filter_matches(block, req, kind);
    }
    empty
}

fn rule_kinds(rule: &Value) -> Vec<String> {
    let m = &rule["match"];
    let mut out = Vec::new();
    for f in m["any"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(m["all"].as_array().into_iter().flatten())
        .chain(std::iter::once(m))
    {
        for k in f["resources"]["kinds"].as_array().into_iter().flatten() {
            if let Some(k) = k.as_str() {
                out.push(k.rsplit('/').next().unwrap().to_string());
            }
        }
    }
    out
}

/// How a rule sees a resource: the object itself, or (autogen) the pod of a controller's
/// template, with where to write mutations back.
pub struct View<'a> {
    pub object: std::borrow::Cow<'a, Value>,
    pub template: Option<&'static [&'static str]>,
}

fn view_of<'a>(policy: &Policy, rule: &Value, req: &'a Request) -> Option<View<'a>> {
    // A namespaced `Policy` applies only to resources in its own namespace.
    if policy
        .namespace
        .as_deref()
        .is_some_and(|ns| ns != req.namespace())
    {
        return None;
    }
    let kind = req.kind();
    if block_matches(&rule["match"], req, kind, false) {
        if block_matches(&rule["exclude"], req, kind, false) {
            return None;
        }
        return Some(View {
            object: std::borrow::Cow::Borrowed(&req.object),
            template: None,
        });
    }
    // Autogen: a rule on Pods applies to the pod template of pod controllers.
    let kinds = rule_kinds(rule);
    if !kinds.iter().all(|k| k == "Pod") || kinds.is_empty() {
        return None;
    }
    if !policy.autogen.iter().any(|k| k == kind) {
        return None;
    }
    let path = template_path(kind)?;
    let mut t = &req.object;
    for p in path {
        t = t.get(*p)?;
    }
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod"});
    pod["metadata"] = t.get("metadata").cloned().unwrap_or(json!({}));
    if pod["metadata"]["namespace"].is_null() {
        if let Some(ns) = req.object["metadata"]["namespace"].as_str() {
            pod["metadata"]["namespace"] = ns.into();
        }
    }
    pod["spec"] = t.get("spec").cloned().unwrap_or(json!({}));
    let preq = Request {
        object: pod.clone(),
        operation: req.operation.clone(),
    };
    if !block_matches(&rule["match"], &preq, "Pod", false)
        || block_matches(&rule["exclude"], &preq, "Pod", false)
    {
        return None;
    }
    Some(View {
        object: std::borrow::Cow::Owned(pod),
        template: Some(path),
    })
}

/// The name Kyverno reports: `autogen-NAME` for a rule generated for pod controllers,
/// `autogen-cronjob-NAME` for CronJobs.
fn rule_name(rule: &Value, view: &View<'_>) -> String {
    let name = rule["name"].as_str().unwrap_or("");
    match view.template {
        None => name.to_string(),
        Some(p) if p.len() > 2 => format!("autogen-cronjob-{name}"),
        Some(_) => format!("autogen-{name}"),
    }
}

fn write_back(req_obj: &mut Value, view: &View) {
    match view.template {
        None => *req_obj = view.object.clone().into_owned(),
        Some(path) => {
            let mut t = &mut *req_obj;
            for p in path {
                t = &mut t[*p];
            }
            t["metadata"] = view.object["metadata"].clone();
            if let Some(m) = t["metadata"].as_object_mut() {
                if req_obj_ns_absent(m) {
                    m.remove("namespace");
                }
            }
            t["spec"] = view.object["spec"].clone();
        }
    }
}

fn req_obj_ns_absent(_m: &Map<String, Value>) -> bool {
    false
}

fn context_for(req: &Request, object: &Value) -> Ctx {
    Ctx::new(json!({
        "request": {
            "object": object,
            "operation": req.operation,
            "namespace": object["metadata"]["namespace"].as_str().unwrap_or("default"),
        },
    }))
}

/// What a policy does to a request: the mutated object and each rule's verdict (rules that do
/// not match the resource are left out).
pub struct Outcome {
    pub object: Value,
    pub results: Vec<(String, Verdict)>,
}

impl Outcome {
    /// No validate rule failed or errored.
    pub fn admitted(&self) -> bool {
        !self
            .results
            .iter()
            .any(|(_, v)| matches!(v, Verdict::Fail(_) | Verdict::Error(_)))
    }
    pub fn failures(&self) -> Vec<String> {
        self.results
            .iter()
            .filter_map(|(r, v)| match v {
                Verdict::Fail(m) | Verdict::Error(m) => Some(format!("{r}: {m}")),
                _ => None,
            })
            .collect()
    }
}

/// Applies the policies in order: every mutate rule of a policy runs before its validate
/// rules see the object (Kyverno mutates in the mutating webhook, then validates).
pub fn apply_all(policies: &[Policy], req: &Request) -> Outcome {
    let mut object = req.object.clone();
    let mut results = Vec::new();
    for p in policies {
        let r = Request {
            object: object.clone(),
            operation: req.operation.clone(),
        };
        let (o, res) = mutate(p, &r);
        object = o;
        results.extend(res);
    }
    for p in policies {
        let r = Request {
            object: object.clone(),
            operation: req.operation.clone(),
        };
        results.extend(validate(p, &r));
    }
    Outcome { object, results }
}

/// The mutate rules of a policy, in order.
pub fn mutate(policy: &Policy, req: &Request) -> (Value, Vec<(String, Verdict)>) {
    let mut cur = req.clone();
    let mut results = Vec::new();
    for rule in &policy.rules {
        let Some(m) = rule.get("mutate") else {
            continue;
        };
        let Some(view) = view_of(policy, rule, &cur) else {
            continue;
        };
        let name = rule_name(rule, &view);
        let template = view.template;
        // The JMESPath context costs a copy of the object: only when the rule reads variables.
        let needs_ctx =
            !rule["preconditions"].is_null() || has_vars(m) || m.get("foreach").is_some();
        let ctx = if needs_ctx {
            context_for(&cur, &view.object)
        } else {
            Ctx::new(Value::Null)
        };
        match conditions(&rule["preconditions"], &ctx) {
            Ok(true) => {}
            Ok(false) => {
                results.push((name, Verdict::Skip));
                continue;
            }
            Err(e) => {
                results.push((name, Verdict::Error(e)));
                continue;
            }
        }
        let v = if template.is_none() {
            // The object itself: mutate it in place.
            drop(view);
            mutate_view(m, &mut cur.object, &ctx)
        } else {
            let mut object = view.object.into_owned();
            let v = mutate_view(m, &mut object, &ctx);
            if v == Verdict::Pass {
                write_back(
                    &mut cur.object,
                    &View {
                        object: std::borrow::Cow::Owned(object),
                        template,
                    },
                );
            }
            v
        };
        results.push((name, v));
    }
    (cur.object, results)
}

/// Applies a mutate rule (or a `foreach` entry) to the object. A patch whose global anchor
/// fails leaves the object as it was and skips; otherwise the rule passes (changed or not).
fn mutate_view(m: &Value, obj: &mut Value, ctx: &Ctx) -> Verdict {
    if let Some(patch) = m.get("patchStrategicMerge") {
        let patch = match substitute_cow(patch, ctx) {
            Ok(p) => p,
            Err(e) => return Verdict::Error(e),
        };
        // Kyverno first rewrites anchored list elements against the resource
        // (`strategicPreprocessing.go`), then merges. `apply_smp` works on a copy when anchors
        // may drop the patch, so a failed global anchor leaves `obj` untouched.
        let Ok(patch) = preprocess_lists(&patch, obj) else {
            return Verdict::Skip;
        };
        if apply_smp(obj, &patch, None).is_err() {
            return Verdict::Skip;
        }
    }
    if let Some(ops) = m.get("patchesJson6902") {
        let ops = match substitute(ops, ctx) {
            Ok(Value::String(s)) => polytrans::load::yaml_documents(&s)
                .ok()
                .and_then(|mut d| d.pop())
                .unwrap_or(Value::Null),
            Ok(v) => v,
            Err(e) => return Verdict::Error(e),
        };
        if let Err(e) = apply_json6902(obj, ops.as_array().map(|a| &a[..]).unwrap_or(&[])) {
            return Verdict::Error(e);
        }
    }
    if let Some(Value::Array(each)) = m.get("foreach") {
        for fe in each {
            // The list is evaluated against the object as mutated so far.
            let base = ctx.with("request", {
                let mut r = ctx.var("request").cloned().unwrap_or(Value::Null);
                r["object"] = obj.clone();
                r
            });
            let list = match base.query(fe["list"].as_str().unwrap_or("")) {
                Ok(Value::Array(a)) => a,
                Ok(Value::Null) => vec![],
                Ok(other) => vec![other],
                Err(e) => return Verdict::Error(e),
            };
            for (i, el) in list.iter().enumerate() {
                let ectx = base
                    .with("element", el.clone())
                    .with("elementIndex", json!(i));
                match conditions(&fe["preconditions"], &ectx) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => return Verdict::Error(e),
                }
                let v = mutate_view(fe, obj, &ectx);
                if let Verdict::Error(_) = v {
                    return v;
                }
            }
        }
    }
    Verdict::Pass
}

/// The validate rules of a policy.
pub fn validate(policy: &Policy, req: &Request) -> Vec<(String, Verdict)> {
    let mut out = Vec::new();
    let mut cache: Vec<(Option<&'static [&'static str]>, Ctx)> = Vec::new();
    for rule in &policy.rules {
        let Some(v) = rule.get("validate") else {
            continue;
        };
        let Some(view) = view_of(policy, rule, req) else {
            continue;
        };
        let name = rule_name(rule, &view);
        // One context per view (the object, or a controller's pod template).
        let ctx = match cache.iter().find(|(t, _)| *t == view.template) {
            Some((_, c)) => c.clone(),
            None => {
                let c = context_for(req, &view.object);
                cache.push((view.template, c.clone()));
                c
            }
        };
        let verdict = match conditions(&rule["preconditions"], &ctx) {
            Ok(true) => validate_rule(v, &view.object, &ctx),
            Ok(false) => Verdict::Skip,
            Err(e) => Verdict::Error(e),
        };
        out.push((name, verdict));
    }
    out
}

fn pattern_verdict(pattern: &Value, obj: &Value, ctx: &Ctx) -> Verdict {
    let pattern = match substitute_cow(pattern, ctx) {
        Ok(p) => p,
        Err(e) => return Verdict::Error(e),
    };
    match match_pattern(obj, &pattern) {
        Ok(()) => Verdict::Pass,
        Err(e) if e.skip() => Verdict::Skip,
        Err(e) => Verdict::Fail(e.msg),
    }
}

fn validate_rule(v: &Value, obj: &Value, ctx: &Ctx) -> Verdict {
    if let Some(p) = v.get("pattern") {
        return pattern_verdict(p, obj, ctx);
    }
    if let Some(Value::Array(ps)) = v.get("anyPattern") {
        let mut skipped = 0;
        let mut errs = Vec::new();
        for p in ps {
            match pattern_verdict(p, obj, ctx) {
                Verdict::Pass => return Verdict::Pass,
                Verdict::Skip => skipped += 1,
                Verdict::Fail(m) | Verdict::Error(m) => errs.push(m),
            }
        }
        if skipped == ps.len() {
            return Verdict::Skip;
        }
        return Verdict::Fail(errs.join("; "));
    }
    if let Some(d) = v.get("deny") {
        return match conditions(&d["conditions"], ctx) {
            Ok(true) => Verdict::Fail("denied".into()),
            Ok(false) => Verdict::Pass,
            Err(e) => Verdict::Error(e),
        };
    }
    if let Some(Value::Array(each)) = v.get("foreach") {
        let mut applied = 0;
        for fe in each {
            let list = match ctx.query(fe["list"].as_str().unwrap_or("")) {
                Ok(Value::Array(a)) => a,
                Ok(Value::Null) => vec![],
                Ok(other) => vec![other],
                Err(e) => return Verdict::Error(e),
            };
            for (i, el) in list.iter().enumerate() {
                let ectx = ctx
                    .with("element", el.clone())
                    .with("elementIndex", json!(i));
                match conditions(&fe["preconditions"], &ectx) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => return Verdict::Error(e),
                }
                match validate_rule(fe, el, &ectx) {
                    Verdict::Pass => applied += 1,
                    Verdict::Skip => {}
                    other => return other,
                }
            }
        }
        return if applied == 0 {
            Verdict::Skip
        } else {
            Verdict::Pass
        };
    }
    if let Some(ps) = v.get("podSecurity") {
        return pod_security(ps, obj);
    }
    Verdict::Error(format!("unsupported validate rule: {v}"))
}

// ------------------------------------------------------------------------------------------
// podSecurity, delegated to polytrans' PSS catalogue

/// Kyverno's `controlName`s and the PSS check ids they cover.
pub const CONTROLS: &[(&str, &[&str])] = &[
    ("HostProcess", &["windowsHostProcess"]),
    ("Host Namespaces", &["hostNamespaces"]),
    ("Privileged Containers", &["privileged"]),
    (
        "Capabilities",
        &["capabilities_baseline", "capabilities_restricted"],
    ),
    ("HostPath Volumes", &["hostPathVolumes"]),
    ("Host Ports", &["hostPorts"]),
    ("AppArmor", &["appArmorProfile"]),
    ("SELinux", &["seLinuxOptions"]),
    ("/proc Mount Type", &["procMount", "procMount_restricted"]),
    (
        "Seccomp",
        &["seccompProfile_baseline", "seccompProfile_restricted"],
    ),
    ("Sysctls", &["sysctls"]),
    ("Volume Types", &["restrictedVolumes"]),
    ("Privilege Escalation", &["allowPrivilegeEscalation"]),
    ("Running as Non-root", &["runAsNonRoot"]),
    ("Running as Non-root user", &["runAsUser"]),
    (
        "Host Probes / Lifecycle Hooks",
        &["hostProbesAndHostLifecycle"],
    ),
];

fn pod_security(ps: &Value, obj: &Value) -> Verdict {
    use polytrans::ir::Level;
    use polytrans::pss::Version;
    let Some(level) = ps["level"].as_str().and_then(Level::parse) else {
        return Verdict::Error(format!("bad podSecurity level: {ps}"));
    };
    let version = match ps["version"].as_str().unwrap_or("latest") {
        "latest" => Version::Latest,
        v => match Version::parse(v) {
            Ok(v) => v,
            Err(e) => return Verdict::Error(e),
        },
    };
    // The object as sent (an API server would have defaulted it; callers pass defaulted pods).
    let pod: polytrans::pod::Pod = match serde_json::from_value(obj.clone()) {
        Ok(p) => p,
        Err(e) => return Verdict::Error(format!("pod: {e}")),
    };
    let base = polytrans::pss::level_policy(level, version);
    // Group the exclusions by PSS check.
    let mut by_check: HashMap<&str, Vec<&Value>> = HashMap::new();
    for ex in ps["exclude"].as_array().into_iter().flatten() {
        let name = ex["controlName"].as_str().unwrap_or("");
        let Some((_, ids)) = CONTROLS.iter().find(|(n, _)| *n == name) else {
            return Verdict::Error(format!("unknown controlName `{name}`"));
        };
        for id in *ids {
            by_check.entry(id).or_default().push(ex);
        }
    }
    let mut failures = Vec::new();
    let mut checks: Vec<&str> = base
        .rules
        .iter()
        .filter_map(|r| r.provenance.check.as_deref())
        .collect();
    checks.dedup();
    for check in checks {
        let mut p = base.clone();
        p.rules
            .retain(|r| r.provenance.check.as_deref() == Some(check));
        let mut judged = pod.clone();
        if let Some(exs) = by_check.get(check) {
            let mut images: Vec<String> = Vec::new();
            let mut pod_level = false;
            for ex in exs {
                let values: Vec<String> = ex["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect();
                if !values.is_empty() {
                    // `restrictedField` + `values`: these values are allowed.
                    let _ = polytrans::pss::apply_exceptions(
                        &mut p,
                        &[polytrans::pss::Exception {
                            check: check.to_string(),
                            values,
                        }],
                    );
                    continue;
                }
                match ex["images"].as_array() {
                    Some(imgs) => {
                        images.extend(imgs.iter().filter_map(|i| i.as_str().map(String::from)))
                    }
                    None => pod_level = true,
                }
            }
            if pod_level && images.iter().any(|i| i == "*") {
                continue;
            }
            let exempt =
                |c: &polytrans::pod::Container| images.iter().any(|i| wildcard(i, &c.image));
            judged.spec.containers.retain(|c| !exempt(c));
            judged.spec.init_containers.retain(|c| !exempt(c));
            judged.spec.ephemeral_containers.retain(|c| !exempt(c));
            if pod_level {
                // The pod-level fields of the control are excluded: judge the containers
                // without the pod's security context.
                judged.spec.security_context = None;
                judged.metadata.annotations.clear();
            }
        }
        let v = polytrans::eval::validate(&p, &judged);
        if !v.is_empty() {
            failures.push(polytrans::eval::join_messages(&v));
        }
    }
    if failures.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(failures.join(", "))
    }
}

/// Drops nulls and empty lists, as the API server's JSON (`omitempty`) would: what a webhook
/// sees of a typed pod serialised with every field.
pub fn api_json(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null() && !v.as_array().is_some_and(|a| a.is_empty()))
                .map(|(k, v)| (k.clone(), api_json(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(api_json).collect()),
        other => other.clone(),
    }
}

/// Does the output text (every ClusterPolicy in it) admit the pod object? Failing rules count
/// as rejections whatever their `failureAction`.
pub fn admits(policies: &[Policy], obj: &Value) -> Result<bool, String> {
    let out = apply_all(policies, &Request::create(api_json(obj)));
    let errors: Vec<String> = out
        .results
        .iter()
        .filter_map(|(r, v)| match v {
            Verdict::Error(e) => Some(format!("{r}: {e}")),
            _ => None,
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(out.admitted())
}
