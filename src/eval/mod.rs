//! The reference evaluator: does a policy admit a pod, and if not, why.
//!
//! [`admits`] applies the policy's defaulting constraints to a copy of the pod (as PSP admission
//! did) and then checks every validating rule. For a Pod Security Standards level the result is
//! exactly what Pod Security Admission reports: one [`Violation`] per failed check, in PSA's
//! order (baseline checks, then restricted, each by id), with PSA's reason and detail text.
//!
//! Every backend is tested against this evaluator.

use crate::ir::{
    Constraint, DefaultAction, Exemption, GroupField, HostNamespace, IdRange, NameSet, Policy,
    ProfileSource, Rule, Scope, pattern_matches,
};
use crate::pod::{Capabilities, Container, Pod, Profile, SecurityContext};
use serde::Serialize;
use std::collections::BTreeSet;

mod checks;
mod defaults;

pub use checks::path_has_prefix;
use checks::*;
pub use defaults::{apply_default, apply_defaults};

/// Why a pod is not admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The provenance field of the (first) rule that failed: a PSP field or a PSS check id.
    pub field: String,
    /// The PSS check id, for rules of a level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// PSA's `ForbiddenReason` (for levels), or a short reason.
    pub reason: String,
    /// PSA's `ForbiddenDetail` (for levels), or a sentence naming what to change.
    pub detail: String,
}

impl Violation {
    /// `reason (detail)`, as PSA joins them.
    pub fn message(&self) -> String {
        if self.detail.is_empty() {
            self.reason.clone()
        } else {
            format!("{} ({})", self.reason, self.detail)
        }
    }
}

/// Joins violation messages the way PSA does (`, `).
pub fn join_messages(violations: &[Violation]) -> String {
    let mut out = String::new();
    push_messages(&mut out, violations);
    out
}

/// [`join_messages`], appended to `out` (no string per violation).
pub fn push_messages(out: &mut String, violations: &[Violation]) {
    for (i, v) in violations.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&v.reason);
        if !v.detail.is_empty() {
            out.push_str(" (");
            out.push_str(&v.detail);
            out.push(')');
        }
    }
}

/// Judges `pod` against `policy`: defaulting first, then every rule. Empty means admitted.
pub fn admits(policy: &Policy, pod: &Pod) -> Vec<Violation> {
    if pod
        .metadata
        .namespace
        .as_ref()
        .is_some_and(|ns| policy.exempt_namespaces.contains(ns))
    {
        return vec![];
    }
    if policy.defaults.is_empty() && policy.exempt_images.is_empty() {
        return validate(policy, pod);
    }
    let mut p = pod.clone();
    if !policy.exempt_images.is_empty() {
        // Containers running an exempt image are not judged.
        let exempt = |c: &Container| {
            policy
                .exempt_images
                .iter()
                .any(|i| pattern_matches(i, &c.image))
        };
        p.spec.containers.retain(|c| !exempt(c));
        p.spec.init_containers.retain(|c| !exempt(c));
        p.spec.ephemeral_containers.retain(|c| !exempt(c));
    }
    apply_defaults(policy, &mut p);
    validate(policy, &p)
}

/// The containers with offending values (in order) and the offending values (sorted, unique):
/// the shape of most PSA messages.
fn offenders<'c>(
    containers: impl Iterator<Item = &'c Container>,
    bad_values: impl Fn(&Container) -> Vec<String>,
) -> (Vec<&'c str>, Vec<String>) {
    let mut names = Vec::new();
    let mut values = BTreeSet::new();
    for c in containers {
        let v = bad_values(c);
        if !v.is_empty() {
            names.push(c.name.as_str());
            values.extend(v);
        }
    }
    (names, values.into_iter().collect())
}

/// Checks the rules without applying any defaulting.
pub fn validate(policy: &Policy, pod: &Pod) -> Vec<Violation> {
    let mut out: Vec<Violation> = Vec::new();
    for rule in &policy.rules {
        if rule.unless.iter().any(|e| exempt(*e, pod)) {
            continue;
        }
        let Some((reason, detail)) = check_rule(rule, pod) else {
            continue;
        };
        // Rules of one PSS check (hostNamespaces, capabilities_restricted) merge into one result.
        if let (Some(check), Some(last)) = (&rule.provenance.check, out.last_mut()) {
            if last.check.as_deref() == Some(check.as_str()) {
                let sep = if check == "hostNamespaces" {
                    ", "
                } else {
                    "; "
                };
                last.detail = format!("{}{sep}{detail}", last.detail);
                continue;
            }
        }
        out.push(Violation {
            field: rule.provenance.field.clone(),
            check: rule.provenance.check.clone(),
            reason,
            detail,
        });
    }
    out
}

fn exempt(e: Exemption, pod: &Pod) -> bool {
    match e {
        Exemption::WindowsPod => pod.spec.is_windows(),
        Exemption::UserNamespacePod => pod.spec.host_users == Some(false),
    }
}

/// `"a", "b"` (PSA's joinQuote: no escaping).
pub fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::new();
    push_quoted(&mut out, items);
    out
}

/// [`join_quote`], appended to `out`.
fn push_quoted<S: AsRef<str>>(out: &mut String, items: &[S]) {
    for (i, item) in items.iter().enumerate() {
        out.push_str(if i == 0 { "\"" } else { "\", \"" });
        out.push_str(item.as_ref());
    }
    if !items.is_empty() {
        out.push('"');
    }
}

fn plural<'a>(one: &'a str, many: &'a str, n: usize) -> &'a str {
    if n == 1 { one } else { many }
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    let mut out = String::new();
    push_containers_phrase(&mut out, names);
    out
}

fn push_containers_phrase<S: AsRef<str>>(out: &mut String, names: &[S]) {
    out.push_str(plural("container ", "containers ", names.len()));
    push_quoted(out, names);
}

/// `pod and containers "a", "b"` style setter list.
fn setters<S: AsRef<str>>(pod: bool, containers: &[S]) -> String {
    let mut out = String::new();
    if pod {
        out.push_str("pod");
    }
    if !containers.is_empty() {
        if pod {
            out.push_str(" and ");
        }
        push_containers_phrase(&mut out, containers);
    }
    out
}

/// Go's `%q` for the strings PSA quotes with it (annotation values).
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `1-100, 200`, or `none`.
pub fn format_ranges(ranges: &[IdRange]) -> String {
    if ranges.is_empty() {
        return "none".into();
    }
    ranges
        .iter()
        .map(|r| {
            if r.min == r.max {
                r.min.to_string()
            } else {
                r.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn in_ranges(ranges: &[IdRange], v: i64) -> bool {
    ranges.iter().any(|r| r.contains(v))
}

fn sc(c: &Container) -> Option<&SecurityContext> {
    c.security_context.as_deref()
}

fn caps(c: &Container) -> Option<&Capabilities> {
    sc(c).and_then(|s| s.capabilities.as_ref())
}

fn describe_set(set: &NameSet) -> String {
    match set {
        NameSet::Any => "any".into(),
        NameSet::Only(v) if v.is_empty() => "none".into(),
        NameSet::Only(v) => join_quote(v),
        NameSet::AnyExcept(v) => format!("any but {}", join_quote(v)),
    }
}

/// Maps an annotation-form profile to a `seccompProfile` field.
pub fn profile_from_annotation(profile: &str) -> Profile {
    if let Some(path) = profile.strip_prefix("localhost/") {
        Profile {
            type_: "Localhost".into(),
            localhost_profile: Some(path.into()),
        }
    } else if profile == "unconfined" {
        Profile {
            type_: "Unconfined".into(),
            localhost_profile: None,
        }
    } else {
        Profile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_prefixes() {
        assert!(path_has_prefix("/foo", "/foo"));
        assert!(path_has_prefix("/foo/bar", "/foo"));
        assert!(path_has_prefix("/foo/bar", "/foo/"));
        assert!(!path_has_prefix("/foobar", "/foo"));
        assert!(path_has_prefix("/anything", "/"));
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }
}
