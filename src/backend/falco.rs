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
    enumerate_upto(ranges, MAX_ENUMERATED)
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
    let mut whole = String::new();
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
        out.push_document(
            input,
            &mut whole,
            "\n",
            OutputFile {
                name: format!("falco/{}.yaml", k8s_name(name)),
                content,
            },
        )?;
        out.fidelity.extend(fidelity);
    }
    out.stdout = whole;
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

/// The rule name a default's checks and fidelity entry use: its PSP field
/// (`spec.runAsUser` → `runAsUser`, the profile annotations → `seccomp`/`apparmor`).
fn default_field(d: &crate::ir::Defaulting) -> String {
    let f = d.provenance.field.as_str();
    if f.starts_with("metadata") {
        return if f.contains("seccomp") {
            "seccomp".into()
        } else {
            "apparmor".into()
        };
    }
    let f = f.strip_prefix("spec.").unwrap_or(f);
    f.split(['.', '[']).next().unwrap_or(f).to_string()
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

// ---------------------------------------------------------------------------------------------
// Conditions over the json plugin's `json.value[<pointer>]` (modern flavour)
//
// The k8saudit plugin skips containers that leave a setting unset and has no field for seccomp,
// capability drops, sysctls, SELinux, CSI drivers or the runtime class. The json plugin reads any
// value of the audit event by JSON pointer, so those checks are written per container index (and
// per list index) up to the bounds below; a pod beyond a bound fires the `bounds` rule, so that
// nothing passes unjudged.

/// Containers judged per pod, by list (`containers`, `initContainers`, `ephemeralContainers`).
pub const MAX_CONTAINERS: [(&str, usize); 3] = [
    ("containers", 8),
    ("initContainers", 4),
    ("ephemeralContainers", 2),
];
/// Items judged per list inside a container or the pod: `ports`, `supplementalGroups`.
pub const MAX_ITEMS: usize = 8;
/// Sysctls judged per pod (Kubernetes 1.31's safe set alone has 11).
pub const MAX_SYSCTLS: usize = 16;
/// Capabilities judged per container's `capabilities.add` (PSA's own test pods add 13).
pub const MAX_ADDED_CAPABILITIES: usize = 16;
/// Volumes judged per pod (host paths and CSI drivers).
pub const MAX_VOLUMES: usize = 16;
/// Id ranges with at most this many ids are written as an `in (…)` list; wider ones as digit
/// globs with text comparisons.
const SMALL_RANGE: i64 = 16;

const SPEC: &str = "/requestObject/spec";
const POD_SC: &str = "/requestObject/spec/securityContext";
const ANNOTATIONS: &str = "/requestObject/metadata/annotations";
const SECCOMP_POD_ANNOTATION: &str =
    "/requestObject/metadata/annotations/seccomp.security.alpha.kubernetes.io~1pod";
const SECCOMP_CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_CONTAINER_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// A condition, simplified as it is built (`true`/`false` have no spelling in Falco).
#[derive(Debug, Clone, PartialEq)]
enum C {
    T,
    F,
    Atom(String),
    And(Vec<C>),
    Or(Vec<C>),
    Not(Box<C>),
}

fn all(v: Vec<C>) -> C {
    let mut out = Vec::new();
    for c in v {
        match c {
            C::T => {}
            C::F => return C::F,
            C::And(inner) => out.extend(inner),
            c => out.push(c),
        }
    }
    match out.len() {
        0 => C::T,
        1 => out.pop().unwrap_or(C::T),
        _ => C::And(out),
    }
}

fn any(v: Vec<C>) -> C {
    let mut out = Vec::new();
    for c in v {
        match c {
            C::F => {}
            C::T => return C::T,
            C::Or(inner) => out.extend(inner),
            c => out.push(c),
        }
    }
    match out.len() {
        0 => C::F,
        1 => out.pop().unwrap_or(C::F),
        _ => C::Or(out),
    }
}

fn not(c: C) -> C {
    match c {
        C::T => C::F,
        C::F => C::T,
        C::Not(x) => *x,
        c => C::Not(Box::new(c)),
    }
}

fn when(b: bool) -> C {
    if b { C::T } else { C::F }
}

impl C {
    fn render(&self) -> String {
        let group = |c: &C| match c {
            C::And(_) | C::Or(_) => format!("({})", c.render()),
            _ => c.render(),
        };
        match self {
            // never rendered: rules whose condition simplifies to a constant are not written
            C::T => "ka.verb exists".into(),
            C::F => "not ka.verb exists".into(),
            C::Atom(s) => s.clone(),
            C::And(v) => v.iter().map(group).collect::<Vec<_>>().join(" and "),
            C::Or(v) => v.iter().map(group).collect::<Vec<_>>().join(" or "),
            C::Not(x) => match **x {
                C::Atom(_) => format!("not {}", x.render()),
                _ => format!("not ({})", x.render()),
            },
        }
    }
}

/// `json.value[<pointer>]`.
fn jv(pointer: &str) -> String {
    format!("json.value[{pointer}]")
}

fn exists(f: &str) -> C {
    C::Atom(format!("{f} exists"))
}

/// A Falco operand from a string the backend chose or checked (never fails for those).
fn lit(s: &str, policy: &str) -> Result<String, crate::Error> {
    literal(s).map_err(|why| reject_why("value", s, policy, &why))
}

fn eq(f: &str, v: &str, policy: &str) -> Result<C, crate::Error> {
    Ok(C::Atom(format!("{f} = {}", lit(v, policy)?)))
}

fn one_of(f: &str, vs: &[String], policy: &str) -> Result<C, crate::Error> {
    if vs.is_empty() {
        return Ok(C::F);
    }
    let mut items = Vec::new();
    for v in vs {
        items.push(lit(v, policy)?);
    }
    Ok(C::Atom(format!("{f} in ({})", items.join(", "))))
}

fn op(f: &str, o: &str, v: &str, policy: &str) -> Result<C, crate::Error> {
    Ok(C::Atom(format!("{f} {o} {}", lit(v, policy)?)))
}

/// Names matched as IR names are (`prefix*` by prefix, else exactly).
fn matches_any(f: &str, patterns: &[String], policy: &str) -> Result<C, crate::Error> {
    let mut exact = Vec::new();
    let mut parts = Vec::new();
    for p in patterns {
        match p.strip_suffix('*') {
            Some("") => parts.push(exists(f)),
            Some(prefix) => parts.push(op(f, "startswith", prefix, policy)?),
            None => exact.push(p.clone()),
        }
    }
    parts.push(one_of(f, &exact, policy)?);
    Ok(any(parts))
}

fn in_name_set(f: &str, set: &NameSet, policy: &str) -> Result<C, crate::Error> {
    Ok(match set {
        NameSet::Any => C::T,
        NameSet::Only(v) => matches_any(f, v, policy)?,
        NameSet::AnyExcept(v) => not(matches_any(f, v, policy)?),
    })
}

/// Whether the (non-negative, canonical) integer text of `f` lies in `ranges`: small ranges as an
/// `in` list, wide ones by digit count (`glob`) and text order within one digit count (equal
/// lengths of digits compare as numbers).
fn in_ranges(f: &str, ranges: &[IdRange], policy: &str) -> Result<C, crate::Error> {
    if let Some(ids) = enumerate_upto(ranges, SMALL_RANGE) {
        return one_of(f, &ids, policy);
    }
    let mut parts = Vec::new();
    for r in ranges {
        let (lo, hi) = (r.min.max(0), r.max);
        if hi < lo {
            continue;
        }
        let (ls, hs) = (lo.to_string(), hi.to_string());
        for k in ls.len()..=hs.len() {
            let mut p = vec![C::Atom(format!(
                "{f} glob {}",
                lit(&"[0-9]".repeat(k), policy)?
            ))];
            if k == ls.len() && lo > 0 {
                p.push(op(f, ">=", &ls, policy)?);
            }
            if k == hs.len() {
                p.push(op(f, "<=", &hs, policy)?);
            }
            parts.push(all(p));
        }
    }
    Ok(any(parts))
}

fn enumerate_upto(ranges: &[IdRange], limit: i64) -> Option<Vec<String>> {
    let total: i64 = ranges
        .iter()
        .map(|r| r.max.saturating_sub(r.min).saturating_add(1).max(0))
        .fold(0i64, |a, b| a.saturating_add(b));
    if total > limit {
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

/// Which bounds the rules rely on (each adds a clause to the `bounds` rule).
#[derive(Default)]
struct Bounds {
    containers: bool,
    ports: bool,
    caps_add: bool,
    sysctls: bool,
    supplemental: bool,
    volumes: bool,
}

impl Bounds {
    fn condition(&self) -> C {
        let mut parts = Vec::new();
        let lists = || {
            MAX_CONTAINERS
                .iter()
                .flat_map(|(l, n)| (0..*n).map(move |i| format!("{SPEC}/{l}/{i}")))
        };
        if self.containers {
            for (l, n) in MAX_CONTAINERS {
                parts.push(exists(&jv(&format!("{SPEC}/{l}/{n}"))));
            }
        }
        if self.ports {
            parts.extend(lists().map(|b| exists(&jv(&format!("{b}/ports/{MAX_ITEMS}")))));
        }
        if self.caps_add {
            parts.extend(lists().map(|b| {
                exists(&jv(&format!(
                    "{b}/securityContext/capabilities/add/{MAX_ADDED_CAPABILITIES}"
                )))
            }));
        }
        if self.sysctls {
            parts.push(exists(&jv(&format!("{POD_SC}/sysctls/{MAX_SYSCTLS}"))));
        }
        if self.supplemental {
            parts.push(exists(&jv(&format!(
                "{POD_SC}/supplementalGroups/{MAX_ITEMS}"
            ))));
        }
        if self.volumes {
            parts.push(exists(&jv(&format!("{SPEC}/volumes/{MAX_VOLUMES}"))));
        }
        any(parts)
    }

    fn describe(&self) -> String {
        let mut what = Vec::new();
        if self.containers {
            what.push(format!(
                "the first {} containers, {} init containers and {} ephemeral containers",
                MAX_CONTAINERS[0].1, MAX_CONTAINERS[1].1, MAX_CONTAINERS[2].1
            ));
        }
        if self.caps_add {
            what.push(format!(
                "the first {MAX_ADDED_CAPABILITIES} items of capabilities.add"
            ));
        }
        if self.sysctls {
            what.push(format!("the first {MAX_SYSCTLS} sysctls"));
        }
        let mut items = Vec::new();
        if self.ports {
            items.push("ports");
        }
        if self.supplemental {
            items.push("supplementalGroups");
        }
        if !items.is_empty() {
            what.push(format!(
                "the first {MAX_ITEMS} items of {}",
                items.join(", ")
            ));
        }
        if self.volumes {
            what.push(format!("the first {MAX_VOLUMES} volumes"));
        }
        format!(
            "the json plugin's rules judge {}; a pod with more fires the bounds rule, also when it would be admitted",
            what.join(", ")
        )
    }
}

/// `f(base)` for each container slot (`/requestObject/spec/<list>/<i>`), or-ed, each guarded by
/// the container's presence.
fn each_container(
    bounds: &mut Bounds,
    f: impl Fn(&str) -> Result<C, crate::Error>,
) -> Result<C, crate::Error> {
    bounds.containers = true;
    let mut parts = Vec::new();
    for (l, n) in MAX_CONTAINERS {
        for i in 0..n {
            let base = format!("{SPEC}/{l}/{i}");
            let body = f(&base)?;
            if body == C::F {
                continue;
            }
            parts.push(all(vec![exists(&jv(&format!("{base}/name"))), body]));
        }
    }
    Ok(any(parts))
}

/// Some container's effective setting (its own, else the pod's: `runAsUser`, `runAsGroup`, …)
/// is bad: `bad(field)` on a value in effect, `unset` when neither is set. The pod's part is
/// written once: a container's own bad value, or the pod's value (or its absence) where some
/// container sets none.
fn effective_any(
    bounds: &mut Bounds,
    key: &str,
    bad: &dyn Fn(&str) -> Result<C, crate::Error>,
    unset: C,
) -> Result<C, crate::Error> {
    let pod = jv(&format!("{POD_SC}/{key}"));
    let own = |base: &str| jv(&format!("{base}/securityContext/{key}"));
    let pod_part = any(vec![
        all(vec![exists(&pod), bad(&pod)?]),
        all(vec![not(exists(&pod)), unset]),
    ]);
    Ok(any(vec![
        each_container(bounds, |base| {
            Ok(all(vec![exists(&own(base)), bad(&own(base))?]))
        })?,
        all(vec![
            pod_part,
            each_container(bounds, |base| Ok(not(exists(&own(base)))))?,
        ]),
    ]))
}

/// The SELinux level forms equal to `level` (selinux `equalLevels`: the same sensitivity and the
/// same categories in any order); up to 5 categories are permuted.
fn level_forms(level: &str) -> Vec<String> {
    let Some((sens, cats)) = level.split_once(':') else {
        return vec![level.to_string()];
    };
    let cats: Vec<&str> = cats.split(',').collect();
    if cats.len() > 5 {
        return vec![level.to_string()];
    }
    fn perms<'a>(v: &[&'a str]) -> Vec<Vec<&'a str>> {
        if v.len() <= 1 {
            return vec![v.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..v.len() {
            let mut rest = v.to_vec();
            let x = rest.remove(i);
            for mut p in perms(&rest) {
                p.insert(0, x);
                out.push(p);
            }
        }
        out
    }
    let mut out: Vec<String> = perms(&cats)
        .into_iter()
        .map(|p| format!("{sens}:{}", p.join(",")))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A seccomp profile field (`seccompProfile` object at `ptr`) in annotation form is in `set`
/// (`podutil.SeccompAnnotationForField`: `Unconfined` → `unconfined`, `RuntimeDefault` →
/// `runtime/default`, `Localhost` → `localhost/<localhostProfile>`, anything else → `""`).
fn seccomp_field_in(ptr: &str, set: &[String], policy: &str) -> Result<C, crate::Error> {
    let t = jv(&format!("{ptr}/type"));
    let lp = jv(&format!("{ptr}/localhostProfile"));
    let has = |p: &str| set.iter().any(|s| s == p);
    let localhost: Vec<String> = set
        .iter()
        .filter_map(|s| s.strip_prefix("localhost/"))
        .filter(|s| !s.ends_with('*'))
        .map(str::to_string)
        .collect();
    let localhost_prefixes: Vec<String> = set
        .iter()
        .filter_map(|s| s.strip_prefix("localhost/"))
        .filter_map(|s| s.strip_suffix('*'))
        .map(str::to_string)
        .collect();
    let mut lp_ok = vec![one_of(&lp, &localhost, policy)?];
    for p in &localhost_prefixes {
        lp_ok.push(if p.is_empty() {
            exists(&lp)
        } else {
            op(&lp, "startswith", p, policy)?
        });
    }
    let kinds: Vec<String> = ["Unconfined", "RuntimeDefault", "Localhost"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let empty = any(vec![
        not(one_of(&t, &kinds, policy)?),
        all(vec![eq(&t, "Localhost", policy)?, not(exists(&lp))]),
    ]);
    Ok(any(vec![
        all(vec![eq(&t, "Unconfined", policy)?, when(has("unconfined"))]),
        all(vec![
            eq(&t, "RuntimeDefault", policy)?,
            when(has("runtime/default")),
        ]),
        all(vec![eq(&t, "Localhost", policy)?, any(lp_ok)]),
        all(vec![empty, when(has(""))]),
    ]))
}

/// An annotation value (`f`, a profile in annotation form, `""` when absent) is in `set`.
fn profile_in(f: &str, set: &[String], policy: &str) -> Result<C, crate::Error> {
    Ok(any(vec![
        matches_any(
            f,
            &set.iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>(),
            policy,
        )?,
        all(vec![
            any(vec![not(exists(f)), eq(f, "", policy)?]),
            when(set.iter().any(String::is_empty)),
        ]),
    ]))
}

/// Whether the annotations' JSON text holds a key starting with `prefix` (the text of an object
/// has an unescaped `"` only around keys and values).
fn annotation_key_with_prefix(prefix: &str, policy: &str) -> Result<C, crate::Error> {
    op(&jv(ANNOTATIONS), "contains", &format!("\"{prefix}"), policy)
}

/// A required capability `cap` is in the JSON text of a `drop` list: `"CAP"` occurs in it and the
/// text holds no escape (with none, a `"` only delimits the list's strings).
fn dropped(drop: &str, cap: &str, policy: &str) -> Result<C, crate::Error> {
    Ok(all(vec![
        op(drop, "contains", &format!("\"{cap}\""), policy)?,
        not(op(drop, "contains", "\\", policy)?),
    ]))
}

/// The json-plugin translation of a constraint judged on each container's effective values (how
/// PSP validates the pod as written). `None`: not handled here (the k8saudit translation
/// applies).
fn translate_json(
    c: &Constraint,
    policy: &str,
    bounds: &mut Bounds,
) -> Result<Option<Option<Translated>>, crate::Error> {
    use crate::ir::Scope;
    let t = match c {
        Constraint::HostPorts { allowed } => {
            bounds.ports = true;
            let cond = each_container(bounds, |base| {
                if base.contains("/ephemeralContainers/") {
                    // the API server refuses ports on ephemeral containers
                    return Ok(C::F);
                }
                let mut parts = Vec::new();
                for j in 0..MAX_ITEMS {
                    let hp = jv(&format!("{base}/ports/{j}/hostPort"));
                    parts.push(all(vec![
                        exists(&hp),
                        not(eq(&hp, "0", policy)?),
                        not(in_ranges(&hp, allowed, policy)?),
                    ]));
                }
                Ok(any(parts))
            })?;
            exact_c(
                cond,
                if allowed.is_empty() {
                    "pod with a hostPort"
                } else {
                    "pod with a hostPort outside the allowed ranges"
                },
            )
        }
        Constraint::HostPaths { allowed } => {
            bounds.volumes = true;
            let mut parts = Vec::new();
            for k in 0..MAX_VOLUMES {
                let path = jv(&format!("{SPEC}/volumes/{k}/hostPath/path"));
                let mut ok = Vec::new();
                for h in allowed {
                    // util.go `hasPathPrefix`: one trailing `/` trimmed from each side.
                    let p = h.path_prefix.strip_suffix('/').unwrap_or(&h.path_prefix);
                    if !p.ends_with('/') {
                        ok.push(eq(&path, p, policy)?);
                    }
                    ok.push(op(&path, "startswith", &format!("{p}/"), policy)?);
                }
                parts.push(all(vec![exists(&path), not(any(ok))]));
            }
            let read_only = allowed.iter().any(|h| h.read_only);
            let cond = any(parts);
            if read_only {
                approx_c(
                    cond,
                    "pod with a hostPath volume outside allowedHostPaths",
                    "readOnly is not checked: mounts name their volume, and a rule cannot join a mount to a volume by name",
                )
            } else {
                exact_c(cond, "pod with a hostPath volume outside allowedHostPaths")
            }
        }
        Constraint::CsiDrivers { allowed } => {
            bounds.volumes = true;
            let mut parts = Vec::new();
            for k in 0..MAX_VOLUMES {
                let csi = jv(&format!("{SPEC}/volumes/{k}/csi"));
                let driver = jv(&format!("{SPEC}/volumes/{k}/csi/driver"));
                parts.push(all(vec![
                    exists(&csi),
                    not(one_of(&driver, allowed, policy)?),
                ]));
            }
            exact_c(any(parts), "pod with an inline CSI driver not allowed")
        }
        Constraint::AddCapabilities { allowed } => {
            if *allowed == NameSet::Any {
                return Ok(Some(None));
            }
            bounds.caps_add = true;
            let cond = each_container(bounds, |base| {
                let mut parts = Vec::new();
                for j in 0..MAX_ADDED_CAPABILITIES {
                    let a = jv(&format!("{base}/securityContext/capabilities/add/{j}"));
                    parts.push(all(vec![
                        exists(&a),
                        not(in_name_set(&a, allowed, policy)?),
                    ]));
                }
                Ok(any(parts))
            })?;
            exact_c(cond, "pod adding a capability not allowed")
        }
        Constraint::DropCapabilities { required } => {
            let cond = each_container(bounds, |base| {
                let drop = jv(&format!("{base}/securityContext/capabilities/drop"));
                let mut parts = Vec::new();
                for cap in required {
                    parts.push(not(dropped(&drop, cap, policy)?));
                }
                Ok(any(parts))
            })?;
            approx_c(
                cond,
                "pod not dropping a required capability",
                "a drop list holding an escaped character (a quote or backslash in a name) is read as not dropping",
            )
        }
        Constraint::RunAsUser {
            ranges,
            required,
            scope: Scope::Effective,
        } => exact_c(
            effective_any(
                bounds,
                "runAsUser",
                &|f| Ok(not(in_ranges(f, ranges, policy)?)),
                when(*required),
            )?,
            "pod with runAsUser outside the allowed ranges",
        ),
        Constraint::RunAsNonRoot {
            nonzero_uid_suffices,
            scope: Scope::Effective,
        } => {
            let uid_zero = effective_any(bounds, "runAsUser", &|f| eq(f, "0", policy), C::F)?;
            let cond = if *nonzero_uid_suffices {
                // user/nonroot.go: neither runAsNonRoot nor runAsUser in effect, an explicit
                // runAsNonRoot: false, or uid 0.
                let unset = |key: &str| not(exists(&jv(&format!("{POD_SC}/{key}"))));
                let both_unset = all(vec![
                    unset("runAsNonRoot"),
                    unset("runAsUser"),
                    each_container(bounds, |base| {
                        Ok(all(vec![
                            not(exists(&jv(&format!("{base}/securityContext/runAsNonRoot")))),
                            not(exists(&jv(&format!("{base}/securityContext/runAsUser")))),
                        ]))
                    })?,
                ]);
                let nr_false =
                    effective_any(bounds, "runAsNonRoot", &|f| eq(f, "false", policy), C::F)?;
                any(vec![both_unset, nr_false, uid_zero])
            } else {
                let nr_not_true = effective_any(
                    bounds,
                    "runAsNonRoot",
                    &|f| Ok(not(eq(f, "true", policy)?)),
                    C::T,
                )?;
                any(vec![nr_not_true, uid_zero])
            };
            exact_c(cond, "pod running as root")
        }
        Constraint::GroupIds {
            field,
            ranges,
            required,
        } => {
            let what = format!("pod with {} outside the allowed ranges", field.as_str());
            match field {
                GroupField::RunAsGroup => exact_c(
                    effective_any(
                        bounds,
                        "runAsGroup",
                        &|f| Ok(not(in_ranges(f, ranges, policy)?)),
                        when(*required),
                    )?,
                    &what,
                ),
                GroupField::FsGroup => {
                    let f = "ka.req.pod.fs_group";
                    exact_c(
                        any(vec![
                            all(vec![exists(f), not(in_ranges(f, ranges, policy)?)]),
                            all(vec![when(*required), not(exists(f))]),
                        ]),
                        &what,
                    )
                }
                GroupField::SupplementalGroups => {
                    // The plugin's list (unbounded) where the ids can be listed, else per index.
                    let f = "ka.req.pod.supplemental_groups";
                    let outside_ids = match enumerate(ranges) {
                        Some(ids) => C::Atom(outside(f, &literals("group id", &ids, policy)?)),
                        None => {
                            bounds.supplemental = true;
                            let mut parts = Vec::new();
                            for j in 0..MAX_ITEMS {
                                let g = jv(&format!("{POD_SC}/supplementalGroups/{j}"));
                                parts.push(all(vec![
                                    exists(&g),
                                    not(in_ranges(&g, ranges, policy)?),
                                ]));
                            }
                            any(parts)
                        }
                    };
                    exact_c(
                        any(vec![
                            outside_ids,
                            all(vec![when(*required), not(exists(f))]),
                        ]),
                        &what,
                    )
                }
            }
        }
        Constraint::ReadOnlyRootFilesystem => exact_c(
            each_container(bounds, |base| {
                Ok(not(eq(
                    &jv(&format!("{base}/securityContext/readOnlyRootFilesystem")),
                    "true",
                    policy,
                )?))
            })?,
            "pod without readOnlyRootFilesystem=true",
        ),
        Constraint::NoPrivilegeEscalation => exact_c(
            each_container(bounds, |base| {
                Ok(not(eq(
                    &jv(&format!("{base}/securityContext/allowPrivilegeEscalation")),
                    "false",
                    policy,
                )?))
            })?,
            "pod allowing privilege escalation",
        ),
        Constraint::ProcMount { allowed } => {
            if *allowed == NameSet::Any {
                return Ok(Some(None));
            }
            let cond = each_container(bounds, |base| {
                let pm = jv(&format!("{base}/securityContext/procMount"));
                Ok(any(vec![
                    all(vec![exists(&pm), not(in_name_set(&pm, allowed, policy)?)]),
                    all(vec![not(exists(&pm)), when(!allowed.contains("Default"))]),
                ]))
            })?;
            exact_c(cond, "pod with a procMount type not allowed")
        }
        Constraint::SeLinux {
            user,
            role,
            type_,
            level,
            scope: Scope::Effective,
        } => {
            let judge = |opts: &str| -> Result<C, crate::Error> {
                let mut bad = Vec::new();
                for (part, list) in [
                    ("user", user),
                    ("role", role),
                    ("type", type_),
                    ("level", level),
                ] {
                    let Some(list) = list else { continue };
                    let f = jv(&format!("{opts}/{part}"));
                    let mut forms: Vec<String> = if part == "level" {
                        list.iter().flat_map(|l| level_forms(l)).collect()
                    } else {
                        list.clone()
                    };
                    forms.sort();
                    forms.dedup();
                    bad.push(not(any(vec![
                        one_of(&f, &forms, policy)?,
                        all(vec![
                            not(exists(&f)),
                            when(list.iter().any(String::is_empty)),
                        ]),
                    ])));
                }
                Ok(any(bad))
            };
            let pod = format!("{POD_SC}/seLinuxOptions");
            let cond = any(vec![
                // selinux/mustrunas.go: the pod's options are required and judged
                not(exists(&jv(&pod))),
                judge(&pod)?,
                each_container(bounds, |base| {
                    let own = format!("{base}/securityContext/seLinuxOptions");
                    Ok(all(vec![exists(&jv(&own)), judge(&own)?]))
                })?,
            ]);
            exact_c(cond, "pod with seLinuxOptions not allowed")
        }
        Constraint::Seccomp {
            allowed,
            unset_allowed,
            source: crate::ir::ProfileSource::Both,
            scope: Scope::Effective,
        } => {
            let NameSet::Only(v) = allowed else {
                return Ok(if *allowed == NameSet::Any {
                    Some(None)
                } else {
                    None
                });
            };
            let mut set = v.clone();
            // Falco judges the pod as written: with no profile allowed at all, a pod that sets
            // none passes PSP's validation (`unset_allowed` is false there only because PSP would
            // first have defaulted it to a refused profile, which Falco cannot see).
            if *unset_allowed || v.is_empty() {
                set.push(String::new());
            }
            let pann = jv(SECCOMP_POD_ANNOTATION);
            let pfield = format!("{POD_SC}/seccompProfile");
            // seccomp/strategy.go `ValidatePod`: the pod annotation, else the pod field.
            let pod_ok = any(vec![
                all(vec![
                    exists(&pann),
                    not(eq(&pann, "", policy)?),
                    profile_in(&pann, &set, policy)?,
                ]),
                all(vec![
                    any(vec![not(exists(&pann)), eq(&pann, "", policy)?]),
                    seccomp_field_in(&pfield, &set, policy)?,
                ]),
            ]);
            let by_name = annotation_key_with_prefix(SECCOMP_CONTAINER_PREFIX, policy)?;
            // `ValidateContainer`: the container's field, else its annotation (keyed by its
            // name: not readable, so not judged), else the pod's field, else the pod's
            // annotation.
            let own = |base: &str| format!("{base}/securityContext/seccompProfile");
            let own_bad = each_container(bounds, |base| {
                Ok(all(vec![
                    exists(&jv(&own(base))),
                    not(seccomp_field_in(&own(base), &set, policy)?),
                ]))
            })?;
            let fallback_ok = any(vec![
                by_name,
                all(vec![
                    exists(&jv(&pfield)),
                    seccomp_field_in(&pfield, &set, policy)?,
                ]),
                all(vec![
                    not(exists(&jv(&pfield))),
                    profile_in(&pann, &set, policy)?,
                ]),
            ]);
            let containers = any(vec![
                own_bad,
                all(vec![
                    not(fallback_ok),
                    each_container(bounds, |base| Ok(not(exists(&jv(&own(base))))))?,
                ]),
            ]);
            approx_c(
                any(vec![not(pod_ok), containers]),
                "pod with a seccomp profile not allowed",
                "a container without its own seccompProfile field is not judged when the pod carries container.seccomp annotations: their key holds the container's name, which a rule cannot look up",
            )
        }
        Constraint::AppArmor {
            unset_allowed: false,
            scope: Scope::Effective,
            ..
        } => approx_c(
            not(annotation_key_with_prefix(
                APPARMOR_CONTAINER_PREFIX,
                policy,
            )?),
            "pod without an AppArmor profile",
            "only a pod with no container AppArmor annotation at all is detected: the annotation key holds the container's name, which a rule cannot look up, so the profiles themselves are not judged",
        ),
        Constraint::Sysctls { allowed, forbidden } => {
            bounds.sysctls = true;
            let mut parts = Vec::new();
            for j in 0..MAX_SYSCTLS {
                let item = jv(&format!("{POD_SC}/sysctls/{j}"));
                let name = jv(&format!("{POD_SC}/sysctls/{j}/name"));
                // sysctl/mustmatchpatterns.go: forbidden first, then safe or allowed.
                parts.push(all(vec![
                    exists(&item),
                    any(vec![
                        matches_any(&name, forbidden, policy)?,
                        not(in_name_set(&name, allowed, policy)?),
                    ]),
                ]));
            }
            exact_c(any(parts), "pod with a sysctl not allowed")
        }
        Constraint::RuntimeClass { allowed } => {
            if *allowed == NameSet::Any {
                return Ok(Some(None));
            }
            // validateRuntimeClassName: an unset runtimeClassName is always allowed.
            let rc = jv(&format!("{SPEC}/runtimeClassName"));
            exact_c(
                all(vec![exists(&rc), not(in_name_set(&rc, allowed, policy)?)]),
                "pod with a runtimeClassName not allowed",
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(t))
}

fn exact_c(c: C, what: &str) -> Option<Translated> {
    match c {
        C::F => None,
        c => exact(c.render(), what),
    }
}

fn approx_c(c: C, what: &str, note: &str) -> Option<Translated> {
    match c {
        C::F => None,
        c => approx(c.render(), what, note),
    }
}

/// What PSP's validation requires of a pod as written where PSP would have defaulted it, beyond
/// the constraints: capabilities/mustrunas.go `Validate` wants each container's `capabilities` set
/// when there are default adds or required drops, and every required drop in its `drop` list.
fn translate_default(
    d: &crate::ir::Defaulting,
    policy: &str,
    bounds: &mut Bounds,
) -> Result<Option<Translated>, crate::Error> {
    use crate::ir::DefaultAction;
    let (caps, what) = match &d.action {
        DefaultAction::AddCapabilities { .. } => {
            (&[][..], "pod without securityContext.capabilities")
        }
        DefaultAction::DropCapabilities { capabilities } => {
            (&capabilities[..], "pod not dropping a required capability")
        }
        _ => return Ok(None),
    };
    let cond = each_container(bounds, |base| {
        let set = jv(&format!("{base}/securityContext/capabilities"));
        let drop = jv(&format!("{base}/securityContext/capabilities/drop"));
        let mut parts = vec![not(exists(&set))];
        for cap in caps {
            parts.push(not(dropped(&drop, cap, policy)?));
        }
        Ok(any(parts))
    })?;
    let note = if caps.is_empty() {
        "flags a container that leaves securityContext.capabilities unset, which PSP would have filled with the default capabilities: Falco sees the pod as written and cannot default it".to_string()
    } else {
        format!(
            "flags a container that does not drop {} itself, which PSP would have added: Falco sees the pod as written and cannot default it; a drop list holding an escaped character (a quote or backslash) is read as not dropping",
            caps.join(", ")
        )
    };
    Ok(approx_c(cond, what, &note))
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
    let mut bounds = Bounds::default();
    let mut translated = Vec::new();
    for r in &p.rules {
        let t = match translate_json(&r.constraint, name, &mut bounds)? {
            Some(t) => Ok(t),
            None => translate(
                &r.constraint,
                name,
                matches!(p.origin, crate::ir::Origin::Level { .. }),
            )?,
        };
        translated.push((entry_field(r), r.unless.clone(), t));
    }
    // Falco sees the pod as written and cannot default it: where PSP's validation wants what its
    // defaulting would have set (capabilities), that is checked; every default is listed.
    for d in &p.defaults {
        let field = default_field(d);
        match translate_default(d, name, &mut bounds)? {
            Some(t) => translated.push((field, Vec::new(), Ok(Some(t)))),
            None => fidelity.push(FidelityEntry {
                policy: p.name.clone(),
                field,
                fidelity: Fidelity::Approximated,
                note: format!(
                    "flags a pod that leaves unset what PSP would have defaulted ({}): Falco sees the pod as written and cannot default it",
                    d.action.kind_name()
                ),
            }),
        }
    }
    let bound = bounds.condition();
    if bound != C::F {
        translated.push((
            "bounds".to_string(),
            Vec::new(),
            Ok(approx(
                bound.render(),
                "pod with more containers or list items than the rules judge",
                &bounds.describe(),
            )),
        ));
    }
    for (field, unless, t) in translated {
        match t {
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
                let guard = unless_guard(&unless);
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
