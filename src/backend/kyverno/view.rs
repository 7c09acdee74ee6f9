//! The view model `templates/kyverno/clusterpolicy.yaml.j2` lays out: one [`PolicyView`] per
//! ClusterPolicy, its rules, their conditions, validations and mutations. Every value is
//! computed here (names, messages, JMESPath keys, Kyverno-escaped strings); the template writes
//! the document structure. Pattern and patch trees, whose shape mirrors the pod's, are
//! [`Value`]s the template prints with the `to_yaml` filter.

use serde::Serialize;
use serde_json::Value;

/// One ClusterPolicy (`kyverno.io/v1`): the template's `policy`.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    /// `metadata.name`.
    pub name: String,
    /// `policies.kyverno.io/title`.
    pub title: String,
    /// `policies.kyverno.io/description`.
    pub description: String,
    /// `polytrans.dev/scope`: how the namespaces were chosen.
    pub scope: String,
    /// `pod-policies.kyverno.io/autogen-controllers`.
    pub autogen_controllers: &'static str,
    /// `spec.background`.
    pub background: bool,
    /// `spec.emitWarning` (`--mode warn`).
    pub emit_warning: bool,
    /// Where every rule applies (`match` and `exclude` of each rule).
    #[serde(rename = "match")]
    pub match_: MatchView,
    /// `spec.rules`, mutations first.
    pub rules: Vec<RuleView>,
}

/// Where a rule applies: Pods, in these namespaces, except those.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MatchView {
    /// `match.any[].resources.namespaces`; `None`: every namespace.
    pub namespaces: Option<Vec<String>>,
    /// `exclude.any[].resources.namespaces`; empty: no `exclude`.
    pub excluded_namespaces: Vec<String>,
}

/// One rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    pub name: String,
    pub preconditions: Option<Conditions>,
    pub validate: Option<Validate>,
    pub mutate: Option<Mutate>,
}

/// `any:` or `all:` over conditions (preconditions, `deny.conditions`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conditions {
    /// `any` or `all`.
    pub join: &'static str,
    pub conditions: Vec<Condition>,
}

impl Conditions {
    pub fn any(conditions: Vec<Condition>) -> Self {
        Conditions {
            join: "any",
            conditions,
        }
    }
    pub fn all(conditions: Vec<Condition>) -> Self {
        Conditions {
            join: "all",
            conditions,
        }
    }
}

/// `{key, operator, value}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub key: Value,
    pub operator: &'static str,
    pub value: Value,
}

impl Condition {
    pub fn new(key: impl Into<Value>, operator: &'static str, value: impl Into<Value>) -> Self {
        Condition {
            key: key.into(),
            operator,
            value: value.into(),
        }
    }
}

/// A `validate` rule: its action and message, and one way of judging the pod.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Validate {
    /// `failureAction`.
    pub failure_action: &'static str,
    pub message: String,
    /// `pattern` (a tree starting at the pod's `spec`).
    pub pattern: Option<Value>,
    /// `anyPattern` (trees).
    pub any_pattern: Vec<Value>,
    /// `deny.conditions`.
    pub deny: Option<Conditions>,
    /// `foreach` entries.
    pub foreach: Vec<ValidateForeach>,
    /// `podSecurity`.
    pub pod_security: Option<PodSecurity>,
}

impl Validate {
    pub fn pattern(pattern: Value) -> Self {
        Validate {
            pattern: Some(pattern),
            ..Validate::default()
        }
    }
    pub fn any_pattern(any_pattern: Vec<Value>) -> Self {
        Validate {
            any_pattern,
            ..Validate::default()
        }
    }
    pub fn deny(deny: Conditions) -> Self {
        Validate {
            deny: Some(deny),
            ..Validate::default()
        }
    }
    pub fn foreach(foreach: Vec<ValidateForeach>) -> Self {
        Validate {
            foreach,
            ..Validate::default()
        }
    }
}

/// One `validate.foreach` entry: a list, and a pattern or deny conditions per element.
#[derive(Debug, Clone, Serialize)]
pub struct ValidateForeach {
    pub list: String,
    pub pattern: Option<Value>,
    pub deny: Option<Conditions>,
}

/// `podSecurity`: a level at a pinned version, with exclusions.
#[derive(Debug, Clone, Serialize)]
pub struct PodSecurity {
    pub level: String,
    /// `v1.<minor>`.
    pub version: String,
    pub exclude: Vec<Exclude>,
}

/// One `podSecurity.exclude` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exclude {
    pub control_name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restricted_field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

/// A `mutate` rule: one patch, or a patch per element of lists.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Mutate {
    /// `patchStrategicMerge` (a tree starting at the pod's `spec`).
    pub patch_strategic_merge: Option<Value>,
    /// `foreach` entries.
    pub foreach: Vec<MutateForeach>,
}

/// One `mutate.foreach` entry.
#[derive(Debug, Clone, Serialize)]
pub struct MutateForeach {
    pub list: String,
    pub patch_strategic_merge: Value,
    pub preconditions: Option<Conditions>,
}
