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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavor {
    /// Falco ≥ 0.37 with the k8saudit plugin.
    #[default]
    Modern,
    /// The historical `falcoctl convert psp` output.
    Legacy,
}

/// Options of this backend.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Falco options")]
pub struct FalcoArgs {
    /// Rules flavour: `modern` (Falco ≥ 0.37, k8saudit plugin) or `legacy` (falcoctl output).
    #[arg(long = "falco-flavor", value_enum, default_value_t = Flavor::Modern)]
    pub falco_flavor: Flavor,
    /// Rule priority.
    #[arg(long = "falco-priority", default_value = "WARNING")]
    pub falco_priority: String,
    /// Rule tags, comma separated.
    #[arg(long = "falco-tags", default_value = "k8s-psp")]
    pub falco_tags: String,
    /// Prefix of rule names (modern flavour).
    #[arg(long = "falco-rule-prefix", default_value = "PSP")]
    pub falco_rule_prefix: String,
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
/// Largest id range enumerated into an `in (…)` list (Falco has no range syntax).
pub const MAX_ENUMERATED: i64 = 64;

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
        .map(|r| format!("{}-{}", r.min, r.max))
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
}

fn exact(ka: String, what: &str) -> Option<Translated> {
    Some(Translated {
        ka,
        what: what.into(),
        fidelity: Fidelity::Exact,
        note: "k8s audit rule".into(),
    })
}

fn approx(ka: String, what: &str, note: &str) -> Option<Translated> {
    Some(Translated {
        ka,
        what: what.into(),
        fidelity: Fidelity::Approximated,
        note: note.into(),
    })
}

/// "a value outside `items`" on a (list) field, with today's semantics.
fn outside(field: &str, items: &str) -> String {
    if items.is_empty() {
        format!("{field} exists")
    } else {
        format!("{field} exists and not {field} in ({items})")
    }
}

fn in_set(field: &str, items: &str) -> String {
    format!("{field} intersects ({items})")
}

/// Translates one restrictive constraint for the modern flavour. `Ok(None)`: nothing to check.
/// `Err(note)`: not expressible.
fn translate(
    c: &Constraint,
    policy: &str,
) -> Result<Result<Option<Translated>, String>, crate::Error> {
    let t = match c {
        Constraint::Privileged { allowed: true } => None,
        Constraint::Privileged { allowed: false } => exact(
            "ka.req.pod.containers.privileged intersects (true)".into(),
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
            if allowed.is_empty() {
                exact(
                    "ka.req.pod.containers.host_port exists".into(),
                    "pod with a hostPort",
                )
            } else {
                match enumerate(allowed) {
                    Some(v) => exact(
                        outside("ka.req.pod.containers.host_port", &v.join(", ")),
                        "pod with a hostPort outside the allowed ranges",
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
        Constraint::Volumes { allowed } => match allowed {
            NameSet::Any => None,
            NameSet::Only(v) => approx(
                outside("ka.req.pod.volumes.volume_type", &tokens("volume type", v, policy)?),
                "pod with a volume type not allowed",
                "plugin's volume_type names must match PSP volume names; inline CSI and ephemeral volumes as the plugin reports them",
            ),
            NameSet::AnyExcept(v) => approx(
                in_set("ka.req.pod.volumes.volume_type", &tokens("volume type", v, policy)?),
                "pod with a forbidden volume type",
                "plugin's volume_type names must match PSP volume names",
            ),
        },
        Constraint::HostPaths { allowed } => {
            let paths: Vec<String> = allowed.iter().map(|h| h.path_prefix.clone()).collect();
            let items = tokens("host path", &paths, policy)?;
            let cond = if items.is_empty() {
                "ka.req.pod.volumes.hostpath exists".to_string()
            } else {
                format!(
                    "ka.req.pod.volumes.hostpath exists and not ka.req.pod.volumes.hostpath pmatch ({items})"
                )
            };
            approx(
                cond,
                "pod with a hostPath volume outside allowedHostPaths",
                "readOnly of allowedHostPaths is not checked; pmatch matches path prefixes",
            )
        }
        Constraint::FlexVolumeDrivers { allowed } => exact(
            outside(
                "ka.req.pod.volumes.flexvolume_driver",
                &tokens("flex volume driver", allowed, policy)?,
            ),
            "pod with a flexVolume driver not allowed",
        ),
        Constraint::AddCapabilities { allowed } => match allowed {
            NameSet::Any => None,
            NameSet::Only(v) => exact(
                outside(
                    "ka.req.pod.containers.add_capabilities",
                    &tokens("capability", v, policy)?,
                ),
                "pod adding a capability not allowed",
            ),
            NameSet::AnyExcept(v) => exact(
                in_set(
                    "ka.req.pod.containers.add_capabilities",
                    &tokens("capability", v, policy)?,
                ),
                "pod adding a forbidden capability",
            ),
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
            let f = "ka.req.pod.containers.eff_run_as_user";
            let mut cond = outside(f, &v.join(", "));
            if *required {
                cond = format!("(not {f} exists) or ({cond})");
            }
            approx(
                cond,
                "pod with runAsUser outside the allowed ranges",
                "containers that leave runAsUser unset are judged by the plugin's effective value list",
            )
        }
        Constraint::RunAsNonRoot { .. } => approx(
            "ka.req.pod.containers.eff_run_as_user intersects (0)".into(),
            "pod running as root",
            "only an explicit uid 0 is detected; runAsNonRoot and image users are not visible",
        ),
        Constraint::GroupIds {
            field,
            ranges,
            required,
        } => {
            let f = match field {
                GroupField::RunAsGroup => "ka.req.pod.containers.eff_run_as_group",
                GroupField::SupplementalGroups => "ka.req.pod.supplemental_groups",
                GroupField::FsGroup => "ka.req.pod.fs_group",
            };
            let Some(v) = enumerate(ranges) else {
                return Ok(Err(format!(
                    "group id ranges {} too wide to enumerate (falco has no range syntax)",
                    ranges_text(ranges)
                )));
            };
            let mut cond = outside(f, &v.join(", "));
            if *required && *field != GroupField::SupplementalGroups {
                cond = format!("(not {f} exists) or ({cond})");
            }
            approx(
                cond,
                &format!("pod with {} outside the allowed ranges", field.as_str()),
                "PSP would default an unset value; the audit event shows the request before defaulting",
            )
        }
        Constraint::ReadOnlyRootFilesystem => approx(
            "not (ka.req.pod.containers.read_only_fs exists and ka.req.pod.containers.read_only_fs in (true))".into(),
            "pod without readOnlyRootFilesystem=true",
            "PSP defaulted unset readOnlyRootFilesystem to true; the rule flags every container not setting it",
        ),
        Constraint::NoPrivilegeEscalation => exact(
            "not (ka.req.pod.containers.allow_privilege_escalation exists and ka.req.pod.containers.allow_privilege_escalation in (false))".into(),
            "pod allowing privilege escalation",
        ),
        Constraint::ProcMount { allowed } => match allowed {
            NameSet::Any => None,
            NameSet::Only(v) => exact(
                outside(
                    "ka.req.pod.containers.proc_mount",
                    &tokens("proc mount type", v, policy)?,
                ),
                "pod with a procMount type not allowed",
            ),
            NameSet::AnyExcept(v) => exact(
                in_set(
                    "ka.req.pod.containers.proc_mount",
                    &tokens("proc mount type", v, policy)?,
                ),
                "pod with a forbidden procMount type",
            ),
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
    vec![
        Plugin {
            name: "k8saudit",
            version: "0.7.0",
            alternatives: vec![
                Alt {
                    name: "k8saudit-aks",
                    version: "0.1.0",
                },
                Alt {
                    name: "k8saudit-eks",
                    version: "0.4.0",
                },
                Alt {
                    name: "k8saudit-gke",
                    version: "0.1.0",
                },
                Alt {
                    name: "k8saudit-ovh",
                    version: "0.1.0",
                },
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

fn check_options(args: &FalcoArgs) -> Result<Vec<String>, crate::Error> {
    if !PRIORITIES.contains(&args.falco_priority.as_str()) {
        return Err(crate::Error::Usage(format!(
            "unknown falco priority `{}`\nhelp: one of {}",
            super::single_line(&args.falco_priority),
            PRIORITIES.join(", ")
        )));
    }
    let tags: Vec<String> = args
        .falco_tags
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
        .falco_rule_prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " _-.".contains(c))
        || args.falco_rule_prefix.trim().is_empty()
    {
        return Err(crate::Error::Usage(format!(
            "falco rule prefix `{}` may only hold letters, digits, spaces and `_-.`",
            super::single_line(&args.falco_rule_prefix).escape_debug()
        )));
    }
    Ok(tags)
}

fn check_name(p: &Policy) -> Result<&str, crate::Error> {
    if !p.name.is_empty()
        && p.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        Ok(&p.name)
    } else {
        Err(reject("name", &p.name, &p.name))
    }
}

/// Whether a rule comes from a field written in the PSP (the legacy converter only looked at
/// those).
fn explicit(r: &Rule) -> bool {
    r.provenance.location.is_some()
}

pub fn emit(input: &Input<'_>, args: &FalcoArgs) -> Result<Emitted, crate::Error> {
    let tags = check_options(args)?;
    let env = crate::render::environment(input.common.templates.as_deref());
    let mut out = Emitted::default();
    let mut texts = Vec::new();
    for p in input.policies {
        let name = check_name(p)?;
        let images = tokens("image", &p.images, name)?;
        let mut fidelity = Vec::new();
        let content = match args.falco_flavor {
            Flavor::Legacy => legacy(&env, p, name, &images, args, &tags, &mut fidelity)?,
            Flavor::Modern => modern(&env, p, name, &images, args, &tags, &mut fidelity)?,
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
                format!("not ka.req.pod.containers.host_port in ({r})")
            };
            vec![ka(cond, "with hostPort outside the allowed ranges")]
        }
        Constraint::Volumes { allowed: NameSet::Only(v) } => vec![ka(
            format!("not ka.req.pod.volumes.volume_type in ({})", list(v, "volume type")?),
            "with a volume type not allowed",
        )],
        Constraint::HostPaths { allowed } => {
            let p: Vec<String> = allowed.iter().map(|h| h.path_prefix.clone()).collect();
            vec![ka(
                format!("not ka.req.pod.volumes.hostpath pmatch ({})", list(&p, "host path")?),
                "with a hostPath volume outside allowedHostPaths",
            )]
        }
        Constraint::FlexVolumeDrivers { allowed } => vec![ka(
            format!(
                "not ka.req.pod.volumes.flexvolume_driver in ({})",
                list(allowed, "flex volume driver")?
            ),
            "with a flexVolume driver not allowed",
        )],
        Constraint::GroupIds { ranges, field: gf, .. } => {
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
            vec![ka(format!("not {f} in ({r})"), &format!("with {field} outside the allowed ranges"))]
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
                "not ka.req.pod.containers.add_capabilities in ({})",
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
                "not ka.req.pod.containers.proc_mount in ({})",
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
    args: &FalcoArgs,
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
            priority => args.falco_priority,
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

#[allow(clippy::too_many_arguments)]
fn modern(
    env: &minijinja::Environment<'_>,
    p: &Policy,
    name: &str,
    images: &str,
    args: &FalcoArgs,
    tags: &[String],
    fidelity: &mut Vec<FidelityEntry>,
) -> Result<String, crate::Error> {
    let id = ident(name);
    let mut rules = Vec::new();
    for r in &p.rules {
        let field = psp_field(r);
        match translate(&r.constraint, name)? {
            Ok(None) => {}
            Ok(Some(t)) => {
                fidelity.push(FidelityEntry {
                    policy: p.name.clone(),
                    field: field.clone(),
                    fidelity: t.fidelity,
                    note: t.note,
                });
                rules.push(ModernRule {
                    field: field.clone(),
                    name: format!(
                        "{} {name} Violation ({field})",
                        args.falco_rule_prefix.trim()
                    ),
                    desc: format!(
                        "Detect a pod that PodSecurityPolicy {name} rejects ({field}) using k8s audit logs"
                    ),
                    condition: format!("{id}_ka_pod_create and ({})", t.ka),
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
    // Several IR rules can come from one field (e.g. readOnlyRootFilesystem twice); keep one
    // rule per name, conditions or-ed.
    let mut merged: Vec<ModernRule> = Vec::new();
    for r in rules {
        if let Some(m) = merged.iter_mut().find(|m| m.name == r.name) {
            if m.condition != r.condition {
                let prefix = format!("{id}_ka_pod_create and ");
                let a = m.condition.trim_start_matches(&prefix).to_string();
                let b = r.condition.trim_start_matches(&prefix).to_string();
                m.condition = format!("{prefix}({a} or {b})");
            }
        } else {
            merged.push(r);
        }
    }
    fidelity.dedup_by(|a, b| a.field == b.field && a.note == b.note);
    let mut header = format!(
        "# Falco rules generated by polytrans from PodSecurityPolicy {name}\n# requires falco >= 0.37 with the k8saudit and json plugins\n"
    );
    header.push_str(&fidelity_comment(fidelity, "# "));
    let ka_clause = if p.images.is_empty() {
        String::new()
    } else {
        format!(" and ka.req.pod.containers.image.repository intersects ({id}_images)")
    };
    crate::render::render(
        env,
        "falco/modern.yaml.j2",
        minijinja::context! {
            header => header,
            engine_version => MODERN_ENGINE_VERSION,
            plugins => plugins(),
            id => id,
            images => images,
            ka_image_clause => ka_clause,
            rules => merged,
            priority => args.falco_priority,
            tags => tags.join(", "),
        },
    )
}
