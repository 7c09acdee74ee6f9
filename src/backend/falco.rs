//! `--to falco`: Falco rules that alert on pods a PSP would reject (issue #4).
//!
//! Two flavours. `legacy` reproduces the rules file `falcoctl convert psp` printed (k8s audit
//! rules over the old built-in `ka.*`/`jevt.*` fields plus syscall rules), byte for byte for the
//! fields the Falco PSP page shows. `modern` (the default) targets Falco ≥ 0.37 with the
//! `k8saudit` plugin: `required_plugin_versions`, `source: k8s_audit` rules over the plugin's
//! fields only, `X exists and not X in (…)` for "a value outside the allowed set", and no
//! `min:max` ranges (small id ranges are enumerated, larger ones are reported unsupported).
//!
//! Every string from input that lands in a condition (policy names, images, paths, capability,
//! volume and driver names) is checked against a conservative token alphabet and rejected with a
//! clear error otherwise: Falco list items and condition operands have no portable escaping.

use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile, fidelity_comment, k8s_name};
use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{Constraint, GroupField, HostNamespace, IdRange, NameSet, Policy, Rule};
use serde::Serialize;

/// Output flavour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Flavor {
    /// Falco ≥ 0.37 with the k8saudit plugin.
    #[default]
    Modern,
    /// The historical `falcoctl convert psp` output.
    Legacy,
}

impl Flavor {
    /// The names `--falco-flavor` takes.
    pub const NAMES: &[&str] = &["modern", "legacy"];

    /// Parses one of [`Flavor::NAMES`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "modern" => Some(Flavor::Modern),
            "legacy" => Some(Flavor::Legacy),
            _ => None,
        }
    }
}

/// Options of this backend.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rules flavour.
    pub flavor: Flavor,
    /// Rule priority.
    pub priority: String,
    /// Rule tags, comma separated.
    pub tags: String,
    /// Prefix of rule names (modern flavour).
    pub rule_prefix: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flavor: Flavor::Modern,
            priority: "WARNING".into(),
            tags: "k8s-psp".into(),
            rule_prefix: "PSP".into(),
        }
    }
}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[
    ("falco.yaml", &["--to", "falco"]),
    (
        "falco-legacy.yaml",
        &["--to", "falco", "--falco-flavor", "legacy"],
    ),
];

/// `required_engine_version` of today's k8saudit rules file.
pub const MODERN_ENGINE_VERSION: u32 = 15;
/// The k8saudit plugin version the modern rules need: the first with the `initContainers` and
/// `ephemeralContainers` fields; the same header as the plugin's own rules file at that version.
pub const K8SAUDIT_VERSION: &str = "0.18.0";
/// Largest id range enumerated into an `in (…)` list (Falco has no range syntax).
pub const MAX_ENUMERATED: i64 = 256;

const PRIORITIES: &[&str] = &[
    "EMERGENCY",
    "ALERT",
    "CRITICAL",
    "ERROR",
    "WARNING",
    "NOTICE",
    "INFORMATIONAL",
    "INFO",
    "DEBUG",
];

/// The legacy converter's field order.
const LEGACY_ORDER: &[&str] = &[
    "privileged",
    "hostPID",
    "hostIPC",
    "hostNetwork",
    "hostPorts",
    "volumes",
    "allowedHostPaths",
    "allowedFlexVolumes",
    "fsGroup",
    "runAsUser",
    "runAsGroup",
    "supplementalGroups",
    "allowPrivilegeEscalation",
    "allowedCapabilities",
    "readOnlyRootFilesystem",
    "allowedProcMountTypes",
];

/// Whether `s` can stand unquoted in a Falco list or condition: letters, digits and `._-/:@*+`
/// (no spaces, quotes, commas, parentheses, `%`, `=`, newlines).
pub fn is_safe_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@*+".contains(c))
}

fn reject(what: &str, value: &str, policy: &str) -> crate::Error {
    crate::Error::Input(Diagnostics(vec![
        Diagnostic::error(format!(
            "{what} `{}` of policy `{}` cannot be written into a falco rule",
            super::single_line(value).escape_debug(),
            super::single_line(policy).escape_debug()
        ))
        .with_help(
            "falco list items and condition operands may only hold letters, digits and `._-/:@*+`",
        ),
    ]))
}

fn token<'a>(what: &str, value: &'a str, policy: &str) -> Result<&'a str, crate::Error> {
    if is_safe_token(value) {
        Ok(value)
    } else {
        Err(reject(what, value, policy))
    }
}

fn tokens(what: &str, values: &[String], policy: &str) -> Result<String, crate::Error> {
    let mut out = Vec::new();
    for v in values {
        out.push(token(what, v, policy)?.to_string());
    }
    Ok(out.join(", "))
}

/// The PSP field a rule came from (`spec.hostPID` → `hostPID`).
fn psp_field(rule: &Rule) -> String {
    let f = rule.provenance.field.as_str();
    let f = f.strip_prefix("spec.").unwrap_or(f);
    f.split(['.', '[']).next().unwrap_or(f).to_string()
}

/// Enumerates ids of small ranges; `None` when too many.
fn enumerate(ranges: &[IdRange]) -> Option<Vec<String>> {
    let total: i64 = ranges
        .iter()
        .map(|r| r.max.saturating_sub(r.min).saturating_add(1))
        .fold(0i64, |a, b| a.saturating_add(b));
    if total > MAX_ENUMERATED {
        return None;
    }
    Some(
        ranges
            .iter()
            .flat_map(|r| r.min..=r.max)
            .map(|v| v.to_string())
            .collect(),
    )
}

fn ranges_text(ranges: &[IdRange]) -> String {
    ranges
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// One translated constraint: condition(s) and how faithful they are.
struct Translated {
    /// k8s audit condition (without the pod scope macro).
    ka: String,
    /// Short violation text for the output line.
    what: String,
    fidelity: Fidelity,
    note: String,
    /// Whether the approximation can fire on pods the constraint admits (rather than only miss
    /// some it rejects).
    overfires: bool,
}

fn exact(ka: String, what: &str) -> Option<Translated> {
    Some(Translated {
        ka,
        what: what.into(),
        fidelity: Fidelity::Exact,
        note: "k8s audit rule".into(),
        overfires: false,
    })
}

/// An approximation that only misses violations.
fn approx(ka: String, what: &str, note: &str) -> Option<Translated> {
    Some(Translated {
        ka,
        what: what.into(),
        fidelity: Fidelity::Approximated,
        note: note.into(),
        overfires: false,
    })
}

/// An approximation that can also fire on pods the constraint admits.
fn approx_over(ka: String, what: &str, note: &str) -> Option<Translated> {
    approx(ka, what, note).map(|t| Translated {
        overfires: true,
        ..t
    })
}

/// The pod's container lists, each with its own k8saudit fields (plugin ≥ 0.18.0).
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// `f(field)` for the field of every container list, or-ed: "some container …".
/// Ephemeral containers may not declare ports, and the plugin has no `host_port` field for them.
fn any_container(suffix: &str, f: impl Fn(&str) -> String) -> String {
    let parts: Vec<String> = CONTAINER_LISTS
        .iter()
        .filter(|l| !(suffix == "host_port" && **l == "ephemeralContainers"))
        .map(|l| f(&format!("ka.req.pod.{l}.{suffix}")))
        .collect();
    format!("({})", parts.join(" or "))
}

/// A Falco string literal: bare only for numbers and booleans, else double-quoted with libsinsp's
/// escapes (`\\`, `\"`, `\n`, `\r`, `\t`, `\b`, `\f`). Quoting every name keeps a value that
/// happens to be spelled like a keyword (`and`, `in`) or like a list defined in another loaded
/// rules file (Falco expands bare list items that name a list) a plain string. Other control
/// characters have no escape and are rejected.
pub fn literal(s: &str) -> Result<String, String> {
    if (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())) || s == "true" || s == "false" {
        return Ok(s.to_string());
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => {
                return Err(format!(
                    "control character U+{:04X} has no escape in a falco string",
                    c as u32
                ));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

fn literals(what: &str, values: &[String], policy: &str) -> Result<String, crate::Error> {
    let mut out = Vec::new();
    for v in values {
        out.push(literal(v).map_err(|why| reject_why(what, v, policy, &why))?);
    }
    Ok(out.join(", "))
}

fn reject_why(what: &str, value: &str, policy: &str, why: &str) -> crate::Error {
    crate::Error::Input(Diagnostics(vec![
        Diagnostic::error(format!(
            "{what} `{}` of policy `{}` cannot be written into a falco rule",
            super::single_line(value).escape_debug(),
            super::single_line(policy).escape_debug()
        ))
        .with_help(why),
    ]))
}

/// "a value outside `items`" on a (list) field, with today's semantics: a missing value is not
/// "not in", so the field must exist.
fn outside(field: &str, items: &str) -> String {
    if items.is_empty() {
        format!("{field} exists")
    } else {
        format!("({field} exists and not {field} in ({items}))")
    }
}

fn in_set(field: &str, items: &str) -> String {
    format!("{field} intersects ({items})")
}

/// The Linux capabilities (Kubernetes spelling), and `ALL`.
const LINUX_CAPABILITIES: &[&str] = &[
    "ALL",
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// PSP volume names as pod volume keys (the plugin reports keys): `cephFS` is `cephfs`.
fn pod_keys(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| crate::k8s::pod_volume_key(n).to_string())
        .collect()
}

/// The plugin renders each container's `capabilities.add` as the JSON text of the array
/// (`["NET_ADMIN"]`); these are the texts of the empty and the one-capability lists.
fn capability_texts(caps: &[String]) -> Vec<String> {
    std::iter::once("[]".to_string())
        .chain(
            caps.iter()
                .map(|c| serde_json::to_string(&[c]).unwrap_or_default()),
        )
        .collect()
}

/// `MustRunAs`-style id checks on a setting the pod and each container can carry
/// (`runAsUser`, `runAsGroup`): a container's own value is judged; the pod-level value (or its
/// absence, when one is required) only where a container list has no container setting one
/// (the plugin skips unset containers, so a list where only some set it is not seen).
fn id_condition(pod_field: &str, suffix: &str, ids: &str, required: bool) -> String {
    let unset_somewhere = any_container(suffix, |f| {
        let list = f.trim_end_matches(&format!(".{suffix}"));
        format!("({list}.name exists and not {f} exists)")
    });
    let mut cond = format!(
        "{} or ({} and {unset_somewhere})",
        any_container(suffix, |f| outside(f, ids)),
        outside(pod_field, ids),
    );
    if required {
        cond.push_str(&format!(
            " or (not {pod_field} exists and {unset_somewhere})"
        ));
    }
    cond
}

/// Translates one restrictive constraint for the modern flavour. `Ok(None)`: nothing to check.
/// `Err(note)`: not expressible.
fn translate(
    c: &Constraint,
    policy: &str,
    level: bool,
) -> Result<Result<Option<Translated>, String>, crate::Error> {
    let t = match c {
        Constraint::Privileged { allowed: true } => None,
        Constraint::Privileged { allowed: false } => exact(
            any_container("privileged", |f| format!("{f} intersects (true)")),
            "pod with privileged=true",
        ),
        Constraint::HostNamespace { allowed: true, .. } => None,
        Constraint::HostNamespace { namespace, .. } => {
            let (field, name) = match namespace {
                HostNamespace::Network => ("ka.req.pod.host_network", "hostNetwork"),
                HostNamespace::Pid => ("ka.req.pod.host_pid", "hostPID"),
                HostNamespace::Ipc => ("ka.req.pod.host_ipc", "hostIPC"),
            };
            exact(format!("{field}=true"), &format!("pod with {name}=true"))
        }
        Constraint::HostPorts { allowed } => {
            let note = "the plugin reports a port's containerPort where hostPort is unset, so a container port outside the allowed host ports fires too";
            if allowed.is_empty() {
                approx_over(
                    any_container("host_port", |f| format!("{f} exists")),
                    "pod with a hostPort",
                    note,
                )
            } else {
                match enumerate(allowed) {
                    Some(v) => approx_over(
                        any_container("host_port", |f| outside(f, &v.join(", "))),
                        "pod with a hostPort outside the allowed ranges",
                        note,
                    ),
                    None => {
                        return Ok(Err(format!(
                            "host port ranges {} too wide to enumerate (falco has no range syntax)",
                            ranges_text(allowed)
                        )));
                    }
                }
            }
        }
        Constraint::Volumes { allowed } => {
            let f = "ka.req.pod.volumes.volume_type";
            match allowed {
                NameSet::Any => None,
                NameSet::Only(v) => {
                    let cond = outside(f, &literals("volume type", &pod_keys(v), policy)?);
                    let what = "pod with a volume type not allowed";
                    if v.iter().any(|n| n == "emptyDir") {
                        exact(cond, what)
                    } else {
                        approx(
                            cond,
                            what,
                            "a volume with no source (defaulted to emptyDir by the API server) shows no type in the audit event",
                        )
                    }
                }
                NameSet::AnyExcept(v) => {
                    let cond = in_set(f, &literals("volume type", &pod_keys(v), policy)?);
                    let what = "pod with a forbidden volume type";
                    if v.iter().any(|n| n == "emptyDir") {
                        approx(
                            cond,
                            what,
                            "a volume with no source (defaulted to emptyDir by the API server) shows no type in the audit event",
                        )
                    } else {
                        exact(cond, what)
                    }
                }
            }
        }
        Constraint::HostPaths { allowed } => {
            let f = "ka.req.pod.volumes.hostpath";
            let mut paths: Vec<String> = Vec::new();
            for h in allowed {
                let p = h.path_prefix.trim_end_matches('/');
                let p = if p.is_empty() { "/" } else { p };
                paths.push(p.to_string());
                if p != "/" {
                    paths.push(format!("{p}/"));
                }
            }
            approx_over(
                outside(f, &literals("host path", &paths, policy)?),
                "pod with a hostPath volume outside allowedHostPaths",
                "list fields take no prefix operator: only the allowed paths themselves match, not paths below them; readOnly is not checked",
            )
        }
        Constraint::FlexVolumeDrivers { allowed } => exact(
            outside(
                "ka.req.pod.volumes.flexvolume_driver",
                &literals("flex volume driver", allowed, policy)?,
            ),
            "pod with a flexVolume driver not allowed",
        ),
        Constraint::AddCapabilities { allowed } => match allowed {
            NameSet::Any => None,
            NameSet::Only(v) => {
                let texts = literals("capability", &capability_texts(v), policy)?;
                let cond = any_container("add_capabilities", |f| outside(f, &texts));
                if v.is_empty() {
                    exact(cond, "pod adding a capability")
                } else if level {
                    // Only admits more: one-capability lists of a capability the level does
                    // not allow.
                    let forbidden: Vec<String> = LINUX_CAPABILITIES
                        .iter()
                        .filter(|c| !allowed.contains(c))
                        .map(|c| c.to_string())
                        .collect();
                    let texts: Vec<String> =
                        capability_texts(&forbidden).into_iter().skip(1).collect();
                    let texts = literals("capability", &texts, policy)?;
                    approx(
                        any_container("add_capabilities", |f| in_set(f, &texts)),
                        "pod adding a capability not allowed",
                        "the plugin gives each container's capabilities.add as one JSON text; only one-capability lists of a capability not allowed are matched",
                    )
                } else {
                    approx_over(
                        cond,
                        "pod adding a capability not allowed",
                        "the plugin gives each container's capabilities.add as one JSON text; the rule accepts the empty and one-capability lists, so a list of several allowed capabilities fires too",
                    )
                }
            }
            NameSet::AnyExcept(v) => {
                let texts: Vec<String> = capability_texts(v).into_iter().skip(1).collect();
                let texts = literals("capability", &texts, policy)?;
                approx(
                    any_container("add_capabilities", |f| in_set(f, &texts)),
                    "pod adding a forbidden capability",
                    "the plugin gives each container's capabilities.add as one JSON text; only one-capability lists are matched",
                )
            }
        },
        Constraint::RunAsUser {
            ranges, required, ..
        } => {
            let Some(v) = enumerate(ranges) else {
                return Ok(Err(format!(
                    "user id ranges {} too wide to enumerate (falco has no range syntax)",
                    ranges_text(ranges)
                )));
            };
            approx(
                id_condition(
                    "ka.req.pod.run_as_user",
                    "run_as_user",
                    &v.join(", "),
                    *required,
                ),
                "pod with runAsUser outside the allowed ranges",
                "the pod-level value (or its absence) is judged only where no container of a list sets one: the plugin skips unset containers (and its eff_run_as_user does not read securityContext)",
            )
        }
        Constraint::RunAsNonRoot { .. } => approx(
            format!(
                "{} or (ka.req.pod.run_as_user=0 and {})",
                any_container("run_as_user", |f| format!("{f} intersects (0)")),
                any_container("run_as_user", |f| {
                    let list = f.trim_end_matches(".run_as_user");
                    format!("({list}.name exists and not {f} exists)")
                })
            ),
            "pod running as root",
            "only an explicit uid 0 is detected; runAsNonRoot and image users are not visible",
        ),
        Constraint::GroupIds {
            field,
            ranges,
            required,
        } => {
            let Some(v) = enumerate(ranges) else {
                return Ok(Err(format!(
                    "group id ranges {} too wide to enumerate (falco has no range syntax)",
                    ranges_text(ranges)
                )));
            };
            let ids = v.join(", ");
            let what = format!("pod with {} outside the allowed ranges", field.as_str());
            let defaulted = "PSP would default an unset value (MustRunAs); the audit event shows the request before defaulting, so the rule flags it";
            match field {
                GroupField::RunAsGroup => approx(
                    id_condition("ka.req.pod.run_as_group", "run_as_group", &ids, *required),
                    &what,
                    "the pod-level value (or its absence) is judged only where no container of a list sets one: the plugin skips unset containers",
                ),
                GroupField::FsGroup | GroupField::SupplementalGroups => {
                    let f = if *field == GroupField::FsGroup {
                        "ka.req.pod.fs_group"
                    } else {
                        "ka.req.pod.supplemental_groups"
                    };
                    if *required {
                        approx_over(
                            format!("not {f} exists or {}", outside(f, &ids)),
                            &what,
                            defaulted,
                        )
                    } else {
                        exact(outside(f, &ids), &what)
                    }
                }
            }
        }
        Constraint::ReadOnlyRootFilesystem => approx(
            any_container("read_only_fs", |f| {
                let list = f.trim_end_matches(".read_only_fs");
                format!("({list}.name exists and not ({f} exists and {f} in (true)))")
            }),
            "pod without readOnlyRootFilesystem=true",
            "the plugin skips containers that leave readOnlyRootFilesystem unset, so one is missed when another container of its list sets true",
        ),
        Constraint::NoPrivilegeEscalation => approx(
            any_container("allow_privilege_escalation", |f| {
                let list = f.trim_end_matches(".allow_privilege_escalation");
                format!("({list}.name exists and not ({f} exists and {f} in (false)))")
            }),
            "pod allowing privilege escalation",
            "the plugin skips containers that leave allowPrivilegeEscalation unset, so one is missed when another container of its list sets false",
        ),
        Constraint::ProcMount { allowed } => match allowed {
            NameSet::Any => None,
            NameSet::Only(v) => {
                let items = literals("proc mount type", v, policy)?;
                let cond = any_container("proc_mount", |f| outside(f, &items));
                if v.iter().any(|n| n == "Default") {
                    exact(cond, "pod with a procMount type not allowed")
                } else {
                    approx(
                        cond,
                        "pod with a procMount type not allowed",
                        "an unset procMount (Default) is not visible in the audit event",
                    )
                }
            }
            NameSet::AnyExcept(v) => {
                let items = literals("proc mount type", v, policy)?;
                exact(
                    any_container("proc_mount", |f| in_set(f, &items)),
                    "pod with a forbidden procMount type",
                )
            }
        },
        other => {
            return Ok(Err(format!(
                "the k8saudit plugin has no field for `{}`",
                other.kind_name()
            )));
        }
    };
    Ok(Ok(t))
}

#[derive(Serialize)]
struct ModernRule {
    field: String,
    name: String,
    desc: String,
    condition: String,
    #[serde(skip)]
    parts: Vec<String>,
    output: String,
}

#[derive(Serialize)]
struct Plugin {
    name: &'static str,
    version: &'static str,
    alternatives: Vec<Alt>,
}

#[derive(Serialize)]
struct Alt {
    name: &'static str,
    version: &'static str,
}

fn plugins() -> Vec<Plugin> {
    let alt = |name, version| Alt { name, version };
    vec![
        Plugin {
            name: "k8saudit",
            version: K8SAUDIT_VERSION,
            alternatives: vec![
                alt("k8saudit-aks", "0.6.0"),
                alt("k8saudit-eks", "0.12.0"),
                alt("k8saudit-gke", "0.9.0"),
                alt("k8saudit-ovh", "0.6.0"),
            ],
        },
        Plugin {
            name: "json",
            version: "0.7.0",
            alternatives: vec![],
        },
    ]
}

/// An identifier for macros and lists (`no_privileged` → `psp_no_privileged`).
fn ident(name: &str) -> String {
    format!("psp_{}", k8s_name(name).replace('-', "_"))
}

fn check_options(args: &Options) -> Result<Vec<String>, crate::Error> {
    if !PRIORITIES.contains(&args.priority.as_str()) {
        return Err(crate::Error::Usage(format!(
            "unknown falco priority `{}`\nhelp: one of {}",
            super::single_line(&args.priority),
            PRIORITIES.join(", ")
        )));
    }
    let tags: Vec<String> = args
        .tags
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    for t in &tags {
        if !is_safe_token(t) {
            return Err(crate::Error::Usage(format!(
                "falco tag `{}` may only hold letters, digits and `._-/:@*+`",
                super::single_line(t).escape_debug()
            )));
        }
    }
    if !args
        .rule_prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " _-.".contains(c))
        || args.rule_prefix.trim().is_empty()
    {
        return Err(crate::Error::Usage(format!(
            "falco rule prefix `{}` may only hold letters, digits, spaces and `_-.`",
            super::single_line(&args.rule_prefix).escape_debug()
        )));
    }
    Ok(tags)
}

/// The policy name as it appears in rule names and output lines: letters, digits and `._-`, every
/// other character replaced by `_` (a level's `restricted:v1.37` becomes `restricted_v1.37`).
fn rule_name(p: &Policy) -> String {
    let n: String = p
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if n.is_empty() { "psp".into() } else { n }
}

/// Whether a rule comes from a field written in the PSP (the legacy converter only looked at
/// those).
fn explicit(r: &Rule) -> bool {
    r.provenance.location.is_some()
}

pub fn emit(input: &Input<'_>, args: &Options) -> Result<Emitted, crate::Error> {
    let tags = check_options(args)?;
    let env = crate::render::environment(input.common.templates.as_deref());
    let mut out = Emitted::default();
    let mut texts = Vec::new();
    for p in input.policies {
        let name = rule_name(p);
        let name = name.as_str();
        let mut fidelity = Vec::new();
        let content = match args.flavor {
            Flavor::Legacy => {
                let images = tokens("image", &p.images, name)?;
                legacy(&env, p, name, &images, args, &tags, &mut fidelity)?
            }
            Flavor::Modern => modern(&env, p, name, args, &tags, &mut fidelity)?,
        };
        out.files.push(OutputFile {
            name: format!("falco/{}.yaml", k8s_name(name)),
            content: content.clone(),
        });
        texts.push(content);
        out.fidelity.extend(fidelity);
    }
    out.stdout = texts.join("\n");
    Ok(out)
}

#[derive(Serialize)]
struct LegacyRule {
    name: String,
    desc: String,
    condition: String,
    output: String,
    source: &'static str,
}

#[derive(Serialize)]
struct Section {
    field: String,
    rules: Vec<LegacyRule>,
}

const KA_OUT: &str = "(user=%ka.user.name pod=%ka.resp.name ns=%ka.target.namespace images=%ka.req.pod.containers.image spec=%jevt.value[/requestObject/spec])";

/// The legacy (falcoctl) shape of one field's rules.
fn legacy_rules(
    field: &str,
    c: &Constraint,
    name: &str,
    policy: &str,
) -> Result<Option<(Vec<LegacyRule>, Fidelity, String)>, crate::Error> {
    let ka = |cond: String, what: &str| LegacyRule {
        name: format!("PSP Violation ({field}) K8s Audit"),
        desc: format!(
            ">\n    Detect a psp validation failure for a {field} pod using k8s audit logs"
        ),
        condition: format!("psp_ka_container and {cond}"),
        output: format!("Pod Security Policy {name} validation failure--pod {what} {KA_OUT}"),
        source: "k8s_audit",
    };
    let list = |v: &[String], what: &str| tokens(what, v, policy);
    let rules = match c {
        Constraint::Privileged { allowed: false } => vec![
            ka(
                "ka.req.pod.containers.privileged intersects (true)".into(),
                "with privileged=true",
            ),
            LegacyRule {
                name: format!("PSP Violation ({field}) System Activity"),
                desc: "Detect a psp validation failure for a privileged pod using syscalls".into(),
                condition: "psp_container and evt.type=container and container.privileged intersects (true)".into(),
                output: format!("Pod Security Policy {name} validation failure--container with privileged=true created (user=%user.name command=%proc.cmdline %container.info images=%container.image.repository:%container.image.tag)"),
                source: "syscall",
            },
        ],
        Constraint::HostNamespace {
            namespace,
            allowed: false,
        } => {
            let f = match namespace {
                HostNamespace::Network => "ka.req.pod.host_network",
                HostNamespace::Pid => "ka.req.pod.host_pid",
                HostNamespace::Ipc => "ka.req.pod.host_ipc",
            };
            vec![ka(format!("{f} intersects (true)"), &format!("with {field}=true"))]
        }
        Constraint::HostPorts { allowed } => {
            let r = allowed
                .iter()
                .map(|r| format!("{}:{}", r.min, r.max))
                .collect::<Vec<_>>()
                .join(", ");
            let cond = if r.is_empty() {
                "ka.req.pod.containers.host_port exists".to_string()
            } else {
                format!("not ka.req.pod.containers.host_port in ({r},\"<NA>\")")
            };
            vec![ka(cond, "with hostPort outside the allowed ranges")]
        }
        Constraint::Volumes { allowed: NameSet::Only(v) } => vec![ka(
            format!("not ka.req.pod.volumes.volume_type in ({},\"<NA>\")", list(v, "volume type")?),
            "with a volume type not allowed",
        )],
        Constraint::HostPaths { allowed } => {
            let p: Vec<String> = allowed.iter().map(|h| h.path_prefix.clone()).collect();
            vec![ka(
                format!("not ka.req.pod.volumes.hostpath pmatch ({},\"<NA>\")", list(&p, "host path")?),
                "with a hostPath volume outside allowedHostPaths",
            )]
        }
        Constraint::FlexVolumeDrivers { allowed } => vec![ka(
            format!(
                "not ka.req.pod.volumes.flexvolume_driver in ({},\"<NA>\")",
                list(allowed, "flex volume driver")?
            ),
            "with a flexVolume driver not allowed",
        )],
        Constraint::GroupIds { ranges, field: gf, required } => {
            let f = match gf {
                GroupField::RunAsGroup => "ka.req.pod.containers.eff_run_as_group",
                GroupField::SupplementalGroups => "ka.req.pod.supplemental_groups",
                GroupField::FsGroup => "ka.req.pod.fs_group",
            };
            let r = ranges
                .iter()
                .map(|r| format!("{}:{}", r.min, r.max))
                .collect::<Vec<_>>()
                .join(", ");
            // As falcoctl v0.0.4 (the version Falco's PSP suite ran): `MayRunAs` accepts an
            // unset value (`<NA>`).
            let cond = match (gf, required) {
                (_, true) => format!("not {f} in ({r})"),
                (GroupField::RunAsGroup, false) => format!(
                    "not {f} in ({r}) and not (ka.req.pod.containers.run_as_group in (\"<NA>\") and ka.req.pod.run_as_group=\"<NA>\")"
                ),
                (_, false) => format!("not {f} in ({r},\"<NA>\")"),
            };
            vec![ka(cond, &format!("with {field} outside the allowed ranges"))]
        }
        Constraint::RunAsUser { ranges, .. } => {
            let r = ranges
                .iter()
                .map(|r| format!("{}:{}", r.min, r.max))
                .collect::<Vec<_>>()
                .join(", ");
            vec![ka(
                format!("not ka.req.pod.containers.eff_run_as_user in ({r})"),
                "with runAsUser outside the allowed ranges",
            )]
        }
        Constraint::RunAsNonRoot { .. } => vec![ka(
            "ka.req.pod.containers.eff_run_as_user intersects (0)".into(),
            "running as root",
        )],
        Constraint::NoPrivilegeEscalation => vec![ka(
            "not ka.req.pod.containers.allow_privilege_escalation in (false)".into(),
            "allowing privilege escalation",
        )],
        Constraint::AddCapabilities { allowed: NameSet::Only(v) } => vec![ka(
            format!(
                "not ka.req.pod.containers.add_capabilities in ({},\"<NA>\")",
                list(v, "capability")?
            ),
            "adding a capability not allowed",
        )],
        Constraint::ReadOnlyRootFilesystem => vec![
            ka(
                "not ka.req.pod.containers.read_only_fs in (true)".into(),
                "without readOnlyRootFilesystem=true",
            ),
            LegacyRule {
                name: format!("PSP Violation ({field}) System Activity"),
                desc: ">\n    Detect a psp validation failure for a readOnlyRootFilesystem pod using syscalls".into(),
                condition: "psp_container and psp_open_write".into(),
                output: format!(">\n    Pod Security Policy {name} validation failure--write in container with readOnlyRootFilesystem=true\n    (user=%user.name command=%proc.cmdline file=%fd.name parent=%proc.pname container_id=%container.id images=%container.image.repository)"),
                source: "syscall",
            },
        ],
        Constraint::ProcMount { allowed: NameSet::Only(v) } => vec![ka(
            format!(
                "not ka.req.pod.containers.proc_mount in ({},\"<NA>\")",
                list(v, "proc mount type")?
            ),
            "with a procMount type not allowed",
        )],
        _ => return Ok(None),
    };
    Ok(Some((
        rules,
        Fidelity::Approximated,
        "legacy falcoctl semantics (built-in k8s audit fields, `not X in` also fires on a missing value); these rules do not load in today's falco".into(),
    )))
}

#[allow(clippy::too_many_arguments)]
fn legacy(
    env: &minijinja::Environment<'_>,
    p: &Policy,
    name: &str,
    images: &str,
    args: &Options,
    tags: &[String],
    fidelity: &mut Vec<FidelityEntry>,
) -> Result<String, crate::Error> {
    let mut sections: Vec<(usize, Section)> = Vec::new();
    for r in &p.rules {
        let field = psp_field(r);
        let pos = LEGACY_ORDER.iter().position(|f| *f == field);
        let translated = match pos {
            Some(_) if explicit(r) => legacy_rules(&field, &r.constraint, name, name)?,
            _ => None,
        };
        match (pos, translated) {
            (Some(i), Some((rules, fid, note))) => {
                fidelity.push(FidelityEntry {
                    policy: p.name.clone(),
                    field: field.clone(),
                    fidelity: fid,
                    note,
                });
                sections.push((i, Section { field, rules }));
            }
            _ => {
                if restrictive(&r.constraint) {
                    fidelity.push(FidelityEntry {
                        policy: p.name.clone(),
                        field,
                        fidelity: Fidelity::Unsupported,
                        note: if pos.is_some() {
                            "the legacy converter only read fields written in the psp".into()
                        } else {
                            "the legacy converter had no rule for this field".into()
                        },
                    });
                }
            }
        }
    }
    sections.sort_by_key(|(i, _)| *i);
    let sections: Vec<Section> = sections.into_iter().map(|(_, s)| s).collect();
    let (ka_clause, sys_clause) = if p.images.is_empty() {
        (String::new(), String::new())
    } else {
        (
            " and ka.req.pod.containers.image.repository in (psp_images)".to_string(),
            " and container.image.repository in (psp_images)".to_string(),
        )
    };
    crate::render::render(
        env,
        "falco/legacy.yaml.j2",
        minijinja::context! {
            images => images,
            ka_image_clause => ka_clause,
            sys_image_clause => sys_clause,
            sections => sections,
            priority => args.priority,
            tags => tags.join(", "),
        },
    )
}

/// Whether a constraint rejects anything at all.
fn restrictive(c: &Constraint) -> bool {
    !matches!(
        c,
        Constraint::Privileged { allowed: true }
            | Constraint::HostNamespace { allowed: true, .. }
            | Constraint::HostProcess { allowed: true }
            | Constraint::ProbeHost { allowed: true }
            | Constraint::Volumes {
                allowed: NameSet::Any
            }
            | Constraint::AddCapabilities {
                allowed: NameSet::Any
            }
            | Constraint::ProcMount {
                allowed: NameSet::Any
            }
            | Constraint::RuntimeClass {
                allowed: NameSet::Any
            }
    ) && !matches!(
        c,
        Constraint::Seccomp {
            allowed: NameSet::Any,
            unset_allowed: true,
            ..
        }
    ) && !matches!(
        c,
        Constraint::AppArmor {
            allowed: NameSet::Any,
            unset_allowed: true,
            ..
        }
    ) && !matches!(c, Constraint::Sysctls { allowed: NameSet::Any, forbidden } if forbidden.is_empty())
}

/// The name a fidelity entry and a rule use for an IR rule: the PSS check for levels, else the
/// PSP field (`metadata.annotations[…]` fields by their constraint, e.g. `seccomp`).
fn entry_field(r: &Rule) -> String {
    if let Some(c) = &r.provenance.check {
        return c.clone();
    }
    let f = psp_field(r);
    if f == "metadata" {
        r.constraint.kind_name().to_string()
    } else {
        f
    }
}

/// The guard that keeps a rule off the pods its PSS exemptions name (Windows pods, user-namespaced
/// pods), through the json plugin's view of the request.
fn unless_guard(unless: &[crate::ir::Exemption]) -> String {
    let mut out = String::new();
    for e in unless {
        out.push_str(match e {
            crate::ir::Exemption::WindowsPod => {
                " and not jevt.value[/requestObject/spec/os/name]=windows"
            }
            crate::ir::Exemption::UserNamespacePod => {
                " and not jevt.value[/requestObject/spec/hostUsers]=false"
            }
        });
    }
    out
}

/// `s` in parentheses, unless it already is one parenthesised group.
fn paren(s: &str) -> String {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && i + 1 < s.len() {
                    return format!("({s})");
                }
            }
            _ if depth == 0 => return format!("({s})"),
            _ => {}
        }
    }
    s.to_string()
}

/// YAML for a one-line scalar: plain when it is unambiguous, else single-quoted, or double-quoted
/// (JSON escapes are valid YAML) when it holds control characters.
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || " _.-/()=,<>!%+".contains(c) || c == '[' || c == ']'
        })
        && !s.starts_with(|c: char| " -[]%!".contains(c))
        && !s.ends_with(' ');
    if plain {
        s.to_string()
    } else if !s.chars().any(|c| c.is_control()) {
        // single-quoted: only `'` needs escaping (doubled), so Falco's `"…"` stay readable
        format!("'{}'", s.replace('\'', "''"))
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn modern(
    env: &minijinja::Environment<'_>,
    p: &Policy,
    name: &str,
    args: &Options,
    tags: &[String],
    fidelity: &mut Vec<FidelityEntry>,
) -> Result<String, crate::Error> {
    let id = ident(name);
    let mut rules: Vec<ModernRule> = Vec::new();
    for r in &p.rules {
        let field = entry_field(r);
        match translate(
            &r.constraint,
            name,
            matches!(p.origin, crate::ir::Origin::Level { .. }),
        )? {
            Ok(None) => {}
            Ok(Some(t)) if t.overfires && matches!(p.origin, crate::ir::Origin::Level { .. }) => {
                // A level is what pods must satisfy; a rule that can reject admitted pods would
                // misstate it, so it is left out and listed.
                fidelity.push(FidelityEntry {
                    policy: p.name.clone(),
                    field,
                    fidelity: Fidelity::Unsupported,
                    note: format!("not enforced for levels: {}", t.note),
                });
            }
            Ok(Some(t)) => {
                fidelity.push(FidelityEntry {
                    policy: p.name.clone(),
                    field: field.clone(),
                    fidelity: t.fidelity,
                    note: t.note,
                });
                let guard = unless_guard(&r.unless);
                let cond = if guard.is_empty() {
                    paren(&t.ka)
                } else {
                    format!("({}{guard})", paren(&t.ka))
                };
                // Several IR rules can come from one field (e.g. readOnlyRootFilesystem twice):
                // one Falco rule per field, conditions or-ed.
                if let Some(m) = rules.iter_mut().find(|m| m.field == field) {
                    if !m.parts.contains(&cond) {
                        m.parts.push(cond);
                    }
                    continue;
                }
                rules.push(ModernRule {
                    field: field.clone(),
                    name: format!(
                        "{} {name} Violation ({field})",
                        args.rule_prefix.trim()
                    ),
                    desc: format!(
                        "Detect a pod that PodSecurityPolicy {name} rejects ({field}) using k8s audit logs"
                    ),
                    condition: String::new(),
                    parts: vec![cond],
                    output: format!(
                        "Pod Security Policy {name} validation failure--{} (user=%ka.user.name pod=%ka.resp.name ns=%ka.target.namespace images=%ka.req.pod.containers.image)",
                        t.what
                    ),
                });
            }
            Err(note) => fidelity.push(FidelityEntry {
                policy: p.name.clone(),
                field,
                fidelity: Fidelity::Unsupported,
                note,
            }),
        }
    }
    // Falco sees the pod as written: it cannot default, and the rules only judge values a pod
    // sets, so a pod that leaves unset what PSP defaulted goes unflagged.
    for d in &p.defaults {
        fidelity.push(FidelityEntry {
            policy: p.name.clone(),
            field: d.provenance.field.clone(),
            fidelity: Fidelity::Approximated,
            note: format!(
                "Falco detects and cannot default: a pod that leaves unset what PSP defaulted ({}) is not flagged",
                d.action.kind_name()
            ),
        });
    }
    for m in &mut rules {
        let body = if m.parts.len() == 1 {
            m.parts[0].clone()
        } else {
            format!("({})", m.parts.join(" or "))
        };
        m.condition = yaml_scalar(&format!("{id}_ka_pod_create and {body}"));
        m.name = yaml_scalar(&m.name);
        m.desc = yaml_scalar(&m.desc);
        m.output = yaml_scalar(&m.output);
    }
    if !p.exempt_images.is_empty() {
        fidelity.push(FidelityEntry {
            policy: p.name.clone(),
            field: "exemptImages".into(),
            fidelity: Fidelity::Approximated,
            note: "falco rules judge whole pods: containers of exempt images are judged too".into(),
        });
    }
    fidelity.dedup_by(|a, b| a.field == b.field && a.note == b.note);
    let what = match p.origin {
        crate::ir::Origin::Level { .. } => "Pod Security Standards level",
        crate::ir::Origin::Psp { .. } => "PodSecurityPolicy",
    };
    let mut header = format!(
        "# Falco rules generated by polytrans from {what} {}\n# requires falco >= 0.37 with the k8saudit (>= {K8SAUDIT_VERSION}) and json plugins\n",
        super::single_line(&p.name)
    );
    header.push_str(&fidelity_comment(fidelity, "# "));
    let mut scope = String::from(
        "ka.target.resource=pods and not ka.target.subresource exists and ka.verb=create",
    );
    if !p.images.is_empty() {
        let images = literals("image", &p.images, name)?;
        scope.push_str(&format!(
            " and {}",
            any_container("image.repository", |f| format!("{f} intersects ({images})"))
        ));
    }
    if !p.exempt_namespaces.is_empty() {
        let ns = literals("namespace", &p.exempt_namespaces, name)?;
        scope.push_str(&format!(" and not ka.target.namespace in ({ns})"));
    }
    crate::render::render(
        env,
        "falco/modern.yaml.j2",
        minijinja::context! {
            header => header,
            engine_version => MODERN_ENGINE_VERSION,
            plugins => plugins(),
            id => id,
            scope => yaml_scalar(&format!("({scope})")),
            rules => rules,
            priority => args.priority,
            tags => tags.join(", "),
        },
    )
}
