//! One rule against one pod: each constraint's check, with the messages PSA and PSP print.

use super::*;

pub(super) const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
pub(super) const SECCOMP_CONTAINER: &str = "container.seccomp.security.alpha.kubernetes.io/";
pub(super) const APPARMOR_CONTAINER: &str = "container.apparmor.security.beta.kubernetes.io/";

/// Returns `(reason, detail)` when the rule is broken.
pub(super) fn check_rule(rule: &Rule, pod: &Pod) -> Option<(String, String)> {
    use Constraint::*;
    match &rule.constraint {
        Privileged { .. }
        | HostNamespace { .. }
        | HostPorts { .. }
        | HostProcess { .. }
        | ProbeHost { .. } => check_host(rule, pod),
        Volumes { .. } | HostPaths { .. } | FlexVolumeDrivers { .. } | CsiDrivers { .. } => {
            check_volumes(rule, pod)
        }
        _ => check_security_context(rule, pod),
    }
}

/// Host access: privileged containers, host namespaces, ports, processes, probes.
pub(super) fn check_host(rule: &Rule, pod: &Pod) -> Option<(String, String)> {
    let spec = &pod.spec;
    let check = rule.provenance.check.as_deref();
    let containers = || spec.all_containers().map(|(_, c)| c);
    let found = |reason: &str, detail: String| Some((reason.to_string(), detail));
    match &rule.constraint {
        Constraint::Privileged { allowed } => {
            if *allowed {
                return None;
            }
            let bad: Vec<&str> = containers()
                .filter(|c| sc(c).and_then(|s| s.privileged) == Some(true))
                .map(|c| c.name.as_str())
                .collect();
            (!bad.is_empty()).then(|| {
                (
                    "privileged".into(),
                    format!(
                        "{} must not set securityContext.privileged=true",
                        containers_phrase(&bad)
                    ),
                )
            })
        }
        Constraint::HostNamespace { namespace, allowed } => {
            let set = match namespace {
                HostNamespace::Network => spec.host_network,
                HostNamespace::Pid => spec.host_pid,
                HostNamespace::Ipc => spec.host_ipc,
            };
            (!allowed && set == Some(true)).then(|| {
                (
                    "host namespaces".into(),
                    format!("{}=true", namespace.pod_field()),
                )
            })
        }
        Constraint::HostPorts { allowed } => {
            let (bad, ports) = offenders(containers(), |c| {
                c.ports
                    .iter()
                    .map(|p| p.host_port.unwrap_or(0))
                    .filter(|&hp| hp != 0 && !in_ranges(allowed, hp))
                    .map(|hp| hp.to_string())
                    .collect()
            });
            if bad.is_empty() {
                return None;
            }
            let mut detail = format!(
                "{} {} {} {}",
                containers_phrase(&bad),
                plural("uses", "use", bad.len()),
                plural("hostPort", "hostPorts", ports.len()),
                ports.join(", ")
            );
            if check.is_none() {
                detail.push_str(&format!(
                    " (allowed host ports: {})",
                    format_ranges(allowed)
                ));
            }
            found("hostPort", detail)
        }
        Constraint::HostProcess { allowed } => {
            if *allowed {
                return None;
            }
            let hp = |s: Option<&crate::pod::WindowsOptions>| {
                s.and_then(|w| w.host_process) == Some(true)
            };
            let bad: Vec<&str> = containers()
                .filter(|c| hp(sc(c).and_then(|s| s.windows_options.as_ref())))
                .map(|c| c.name.as_str())
                .collect();
            let pod_bad = hp(spec
                .security_context
                .as_ref()
                .and_then(|s| s.windows_options.as_ref()));
            (pod_bad || !bad.is_empty()).then(|| {
                (
                    "hostProcess".into(),
                    format!(
                        "{} must not set securityContext.windowsOptions.hostProcess=true",
                        setters(pod_bad, &bad)
                    ),
                )
            })
        }
        Constraint::ProbeHost { allowed } => {
            if *allowed {
                return None;
            }
            let mut bad = BTreeSet::new();
            let mut hosts = BTreeSet::new();
            for c in containers() {
                let lifecycle = c.lifecycle.as_ref();
                let handlers = [
                    c.liveness_probe.as_deref(),
                    c.readiness_probe.as_deref(),
                    c.startup_probe.as_deref(),
                    lifecycle.and_then(|l| l.post_start.as_ref()),
                    lifecycle.and_then(|l| l.pre_stop.as_ref()),
                ];
                for h in handlers.into_iter().flatten() {
                    for host in [h.http_get.as_ref(), h.tcp_socket.as_ref()]
                        .into_iter()
                        .flatten()
                        .map(|f| &f.host)
                        .filter(|h| !h.is_empty())
                    {
                        bad.insert(c.name.as_str());
                        hosts.insert(host.clone());
                    }
                }
            }
            if bad.is_empty() {
                return None;
            }
            let bad: Vec<&str> = bad.into_iter().collect();
            let hosts: Vec<String> = hosts.into_iter().collect();
            found(
                "probe or lifecycle host",
                format!(
                    "{} {} {} {}",
                    containers_phrase(&bad),
                    plural("uses", "use", bad.len()),
                    plural(
                        "probe or lifecycle host",
                        "probe or lifecycle hosts",
                        hosts.len()
                    ),
                    join_quote(&hosts)
                ),
            )
        }
        other => unreachable!("{} is not a {} constraint", other.kind_name(), "check_host"),
    }
}

/// Volumes: types, host paths, flex and CSI drivers.
pub(super) fn check_volumes(rule: &Rule, pod: &Pod) -> Option<(String, String)> {
    let spec = &pod.spec;
    let check = rule.provenance.check.as_deref();
    let containers = || spec.all_containers().map(|(_, c)| c);
    let found = |reason: &str, detail: String| Some((reason.to_string(), detail));
    match &rule.constraint {
        Constraint::Volumes { allowed } => {
            let mut bad = Vec::new();
            let mut types = BTreeSet::new();
            for v in &spec.volumes {
                // PSP (provider.go `allowsVolumeType`): `secret` also covers the projected
                // service-account token volume.
                let token_as_secret = check.is_none()
                    && v.fs_type() == "projected"
                    && allowed.contains("secret")
                    && v.is_service_account_token_projection();
                if !allowed.contains(v.fs_type()) && !token_as_secret {
                    bad.push(v.name.clone());
                    types.insert(v.source_key().to_string());
                }
            }
            if bad.is_empty() {
                return None;
            }
            let vols = format!(
                "{} {}",
                plural("volume", "volumes", bad.len()),
                join_quote(&bad)
            );
            if check == Some("hostPathVolumes") {
                return found("hostPath volumes", vols);
            }
            let types: Vec<String> = types.into_iter().collect();
            let (reason, adjective) = if check.is_some() {
                ("restricted volume types", "restricted volume type")
            } else {
                ("volume types", "forbidden volume type")
            };
            let mut detail = format!(
                "{vols} {} {} {}",
                plural("uses", "use", bad.len()),
                if types.len() == 1 {
                    adjective.to_string()
                } else {
                    format!("{adjective}s")
                },
                join_quote(&types)
            );
            if check.is_none() {
                detail.push_str(&format!(" (allowed: {})", describe_set(allowed)));
            }
            found(reason, detail)
        }
        Constraint::HostPaths { allowed } => {
            let mut problems = Vec::new();
            for v in &spec.volumes {
                let Some(path) = v.host_path() else { continue };
                let matching: Vec<_> = allowed
                    .iter()
                    .filter(|a| path_has_prefix(path, &a.path_prefix))
                    .collect();
                if matching.is_empty() {
                    problems.push(format!(
                        "volume \"{}\" uses host path \"{}\", which is not under an allowed prefix",
                        v.name, path
                    ));
                    continue;
                }
                if matching.iter().all(|a| a.read_only) {
                    let writers: Vec<&str> = containers()
                        .filter(|c| {
                            c.volume_mounts
                                .iter()
                                .any(|m| m.name == v.name && m.read_only != Some(true))
                        })
                        .map(|c| c.name.as_str())
                        .collect();
                    if !writers.is_empty() {
                        problems.push(format!(
                            "{} must mount volume \"{}\" (host path \"{}\") with readOnly=true",
                            containers_phrase(&writers),
                            v.name,
                            path
                        ));
                    }
                }
            }
            (!problems.is_empty()).then(|| ("hostPath volumes".into(), problems.join("; ")))
        }
        Constraint::FlexVolumeDrivers { allowed } => {
            driver_check(spec, allowed, "flexVolume", |v| v.flex_driver())
        }
        Constraint::CsiDrivers { allowed } => {
            driver_check(spec, allowed, "csi", |v| v.csi_driver())
        }
        other => unreachable!(
            "{} is not a {} constraint",
            other.kind_name(),
            "check_volumes"
        ),
    }
}

/// Security context: capabilities, users and groups, filesystems, profiles, sysctls, runtime class.
pub(super) fn check_security_context(rule: &Rule, pod: &Pod) -> Option<(String, String)> {
    let spec = &pod.spec;
    let check = rule.provenance.check.as_deref();
    let field = rule.provenance.field.as_str();
    let containers = || spec.all_containers().map(|(_, c)| c);
    let found = |reason: &str, detail: String| Some((reason.to_string(), detail));
    match &rule.constraint {
        Constraint::AddCapabilities { allowed } => {
            let (bad, names) = offenders(containers(), |c| {
                caps(c)
                    .map(|caps| {
                        caps.add
                            .iter()
                            .filter(|cap| !allowed.contains(cap))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default()
            });
            if bad.is_empty() {
                return None;
            }
            let reason = match check {
                Some("capabilities_baseline") => "non-default capabilities",
                Some(_) => "unrestricted capabilities",
                None => "capabilities",
            };
            found(
                reason,
                format!(
                    "{} must not include {} in securityContext.capabilities.add",
                    containers_phrase(&bad),
                    join_quote(&names)
                ),
            )
        }
        Constraint::DropCapabilities { required } => {
            let bad: Vec<&str> = containers()
                .filter(|c| {
                    let drop = caps(c).map(|k| k.drop.as_slice()).unwrap_or(&[]);
                    !required.iter().all(|r| drop.contains(r))
                })
                .map(|c| c.name.as_str())
                .collect();
            if bad.is_empty() {
                return None;
            }
            let list = serde_json::to_string(required).unwrap_or_default();
            found(
                if check.is_some() {
                    "unrestricted capabilities"
                } else {
                    "capabilities"
                },
                format!(
                    "{} must set securityContext.capabilities.drop={list}",
                    containers_phrase(&bad)
                ),
            )
        }
        Constraint::RunAsUser {
            ranges,
            required,
            scope,
        } => {
            let pod_uid = spec.security_context.as_ref().and_then(|s| s.run_as_user);
            match scope {
                Scope::EveryValue => {
                    let pod_bad = pod_uid.is_some_and(|u| !in_ranges(ranges, u));
                    let bad: Vec<&str> = containers()
                        .filter(|c| {
                            sc(c)
                                .and_then(|s| s.run_as_user)
                                .is_some_and(|u| !in_ranges(ranges, u))
                        })
                        .map(|c| c.name.as_str())
                        .collect();
                    if !pod_bad && bad.is_empty() {
                        return None;
                    }
                    if check == Some("runAsUser") {
                        found(
                            "runAsUser=0",
                            format!("{} must not set runAsUser=0", setters(pod_bad, &bad)),
                        )
                    } else {
                        found(
                            "runAsUser",
                            format!(
                                "{} must set runAsUser within {}",
                                setters(pod_bad, &bad),
                                format_ranges(ranges)
                            ),
                        )
                    }
                }
                Scope::Effective => {
                    let mut unset = Vec::new();
                    let mut outside = Vec::new();
                    for c in containers() {
                        match sc(c).and_then(|s| s.run_as_user).or(pod_uid) {
                            None if *required => unset.push(c.name.as_str()),
                            Some(u) if !in_ranges(ranges, u) => outside.push(c.name.as_str()),
                            _ => {}
                        }
                    }
                    let mut parts = Vec::new();
                    if !unset.is_empty() {
                        parts.push(format!(
                            "pod or {} must set securityContext.runAsUser",
                            containers_phrase(&unset)
                        ));
                    }
                    if !outside.is_empty() {
                        parts.push(format!(
                            "{} must run as a user id in {}",
                            containers_phrase(&outside),
                            format_ranges(ranges)
                        ));
                    }
                    (!parts.is_empty()).then(|| ("runAsUser".into(), parts.join("; ")))
                }
            }
        }
        Constraint::RunAsNonRoot {
            nonzero_uid_suffices,
            scope,
        } => check_non_root(pod, *nonzero_uid_suffices, *scope),
        Constraint::GroupIds {
            field,
            ranges,
            required,
        } => check_groups(pod, *field, ranges, *required),
        Constraint::ReadOnlyRootFilesystem => {
            let bad: Vec<&str> = containers()
                .filter(|c| sc(c).and_then(|s| s.read_only_root_filesystem) != Some(true))
                .map(|c| c.name.as_str())
                .collect();
            (!bad.is_empty()).then(|| {
                (
                    "readOnlyRootFilesystem != true".into(),
                    format!(
                        "{} must set securityContext.readOnlyRootFilesystem=true",
                        containers_phrase(&bad)
                    ),
                )
            })
        }
        Constraint::NoPrivilegeEscalation => {
            let bad: Vec<&str> = containers()
                .filter(|c| sc(c).and_then(|s| s.allow_privilege_escalation) != Some(false))
                .map(|c| c.name.as_str())
                .collect();
            (!bad.is_empty()).then(|| {
                (
                    "allowPrivilegeEscalation != false".into(),
                    format!(
                        "{} must set securityContext.allowPrivilegeEscalation=false",
                        containers_phrase(&bad)
                    ),
                )
            })
        }
        Constraint::ProcMount { allowed } => {
            let (bad, types) = offenders(containers(), |c| {
                sc(c)
                    .and_then(|s| s.proc_mount.as_ref())
                    .filter(|pm| !allowed.contains(pm))
                    .into_iter()
                    .cloned()
                    .collect()
            });
            (!bad.is_empty()).then(|| {
                (
                    "procMount".into(),
                    format!(
                        "{} must not set securityContext.procMount to {}",
                        containers_phrase(&bad),
                        join_quote(&types)
                    ),
                )
            })
        }
        Constraint::SeLinux {
            user,
            role,
            type_,
            level,
            scope,
        } => check_selinux(pod, [user, role, type_, level], *scope),
        Constraint::Seccomp {
            allowed,
            unset_allowed,
            source,
            scope,
        } => check_seccomp(pod, allowed, *unset_allowed, *source, *scope, field),
        Constraint::AppArmor {
            allowed,
            unset_allowed,
            scope,
        } => check_apparmor(pod, allowed, *unset_allowed, *scope),
        Constraint::Sysctls { allowed, forbidden } => {
            let bad: Vec<String> = spec
                .security_context
                .iter()
                .flat_map(|s| s.sysctls.iter())
                .filter(|s| {
                    !allowed.contains(&s.name)
                        || forbidden.iter().any(|f| pattern_matches(f, &s.name))
                })
                .map(|s| s.name.clone())
                .collect();
            (!bad.is_empty()).then(|| ("forbidden sysctls".into(), bad.join(", ")))
        }
        Constraint::RuntimeClass { allowed } => {
            let name = spec.runtime_class_name.as_deref()?;
            (!allowed.contains(name)).then(|| {
                (
                    "runtimeClassName".into(),
                    format!(
                        "runtimeClassName \"{name}\" is not allowed (allowed: {})",
                        describe_set(allowed)
                    ),
                )
            })
        }
        other => unreachable!(
            "{} is not a {} constraint",
            other.kind_name(),
            "check_security_context"
        ),
    }
}

/// PSP's host path prefix match: whole path components.
pub fn path_has_prefix(path: &str, prefix: &str) -> bool {
    let p = path.trim_end_matches('/');
    let pre = prefix.trim_end_matches('/');
    if pre.is_empty() {
        return path.starts_with('/') || prefix.is_empty();
    }
    p == pre || p.starts_with(&format!("{pre}/"))
}

pub(super) fn driver_check(
    spec: &crate::pod::PodSpec,
    allowed: &[String],
    kind: &str,
    driver: impl Fn(&crate::pod::Volume) -> Option<&str>,
) -> Option<(String, String)> {
    let bad: Vec<String> = spec
        .volumes
        .iter()
        .filter(|v| v.source_key() == kind)
        .filter(|v| !allowed.iter().any(|a| Some(a.as_str()) == driver(v)))
        .map(|v| format!("\"{}\" (driver \"{}\")", v.name, driver(v).unwrap_or("")))
        .collect();
    (!bad.is_empty()).then(|| {
        (
            format!("{kind} drivers"),
            format!(
                "{} {} {} drivers not in {}",
                plural("volume", "volumes", bad.len()),
                bad.join(", "),
                plural("uses", "use", bad.len()),
                join_quote(allowed)
            ),
        )
    })
}

pub(super) fn check_non_root(
    pod: &Pod,
    nonzero_uid_suffices: bool,
    scope: Scope,
) -> Option<(String, String)> {
    let spec = &pod.spec;
    let psc = spec.security_context.as_ref();
    let reason = "runAsNonRoot != true".to_string();
    match scope {
        Scope::EveryValue => {
            let mut pod_true = false;
            let mut pod_false = false;
            match psc.and_then(|s| s.run_as_non_root) {
                Some(false) => pod_false = true,
                Some(true) => pod_true = true,
                None => {}
            }
            let mut explicit = Vec::new();
            let mut implicit = Vec::new();
            for (_, c) in spec.all_containers() {
                match sc(c).and_then(|s| s.run_as_non_root) {
                    Some(false) => explicit.push(c.name.as_str()),
                    Some(true) => {}
                    None => {
                        let uid_ok = nonzero_uid_suffices
                            && sc(c)
                                .and_then(|s| s.run_as_user)
                                .or(psc.and_then(|s| s.run_as_user))
                                .is_some_and(|u| u != 0);
                        if !pod_true && !uid_ok {
                            implicit.push(c.name.as_str());
                        }
                    }
                }
            }
            if pod_false || !explicit.is_empty() {
                return Some((
                    reason,
                    format!(
                        "{} must not set securityContext.runAsNonRoot=false",
                        setters(pod_false, &explicit)
                    ),
                ));
            }
            (!implicit.is_empty()).then(|| {
                (
                    reason,
                    format!(
                        "pod or {} must set securityContext.runAsNonRoot=true",
                        containers_phrase(&implicit)
                    ),
                )
            })
        }
        Scope::Effective => {
            let mut explicit = Vec::new();
            let mut root = Vec::new();
            let mut implicit = Vec::new();
            for (_, c) in spec.all_containers() {
                let nonroot = sc(c)
                    .and_then(|s| s.run_as_non_root)
                    .or(psc.and_then(|s| s.run_as_non_root));
                let uid = sc(c)
                    .and_then(|s| s.run_as_user)
                    .or(psc.and_then(|s| s.run_as_user));
                if nonroot == Some(false) {
                    explicit.push(c.name.as_str());
                } else if uid == Some(0) {
                    root.push(c.name.as_str());
                } else if nonroot.is_none() && (uid.is_none() || !nonzero_uid_suffices) {
                    implicit.push(c.name.as_str());
                }
            }
            let mut parts = Vec::new();
            if !explicit.is_empty() {
                parts.push(format!(
                    "{} must not set securityContext.runAsNonRoot=false",
                    containers_phrase(&explicit)
                ));
            }
            if !root.is_empty() {
                parts.push(format!(
                    "{} must not run as root (runAsUser=0)",
                    containers_phrase(&root)
                ));
            }
            if !implicit.is_empty() {
                parts.push(format!(
                    "pod or {} must set securityContext.runAsNonRoot=true{}",
                    containers_phrase(&implicit),
                    if nonzero_uid_suffices {
                        " or a non-zero runAsUser"
                    } else {
                        ""
                    }
                ));
            }
            (!parts.is_empty()).then(|| (reason, parts.join("; ")))
        }
    }
}

pub(super) fn check_groups(
    pod: &Pod,
    field: GroupField,
    ranges: &[IdRange],
    required: bool,
) -> Option<(String, String)> {
    let spec = &pod.spec;
    let psc = spec.security_context.as_ref();
    let name = field.as_str();
    let mut parts = Vec::new();
    let outside = |v: i64| !in_ranges(ranges, v);
    match field {
        GroupField::RunAsGroup => {
            // PSP (provider.go `validateContainer`) judges each container's effective value:
            // a pod-level value every container overrides is not judged.
            let pod_val = psc.and_then(|s| s.run_as_group);
            let mut unset = Vec::new();
            let mut bad = Vec::new();
            for (_, c) in spec.all_containers() {
                let own = sc(c).and_then(|s| s.run_as_group);
                match own.or(pod_val) {
                    None if required => unset.push(c.name.as_str()),
                    Some(v) if outside(v) => bad.push(c.name.as_str()),
                    _ => {}
                }
            }
            if !bad.is_empty() {
                parts.push(format!(
                    "{} must set runAsGroup within {}",
                    containers_phrase(&bad),
                    format_ranges(ranges)
                ));
            }
            if !unset.is_empty() {
                parts.push(format!(
                    "pod or {} must set securityContext.runAsGroup",
                    containers_phrase(&unset)
                ));
            }
        }
        GroupField::FsGroup => match psc.and_then(|s| s.fs_group) {
            None if required => parts.push("pod must set securityContext.fsGroup".into()),
            Some(v) if outside(v) => parts.push(format!(
                "pod must set fsGroup within {} (found {v})",
                format_ranges(ranges)
            )),
            _ => {}
        },
        GroupField::SupplementalGroups => {
            let groups = psc
                .and_then(|s| s.supplemental_groups.clone())
                .unwrap_or_default();
            if groups.is_empty() && required {
                parts.push("pod must set securityContext.supplementalGroups".into());
            }
            let bad: Vec<String> = groups
                .iter()
                .filter(|g| outside(**g))
                .map(|g| g.to_string())
                .collect();
            if !bad.is_empty() {
                parts.push(format!(
                    "pod must set supplementalGroups within {} (found {})",
                    format_ranges(ranges),
                    bad.join(", ")
                ));
            }
        }
    }
    (!parts.is_empty()).then(|| (name.to_string(), parts.join("; ")))
}

/// selinux/mustrunas.go `equalLevels`: equal strings, or the same sensitivity and the same
/// categories in any order (`s0:c1,c2` = `s0:c2,c1`).
pub(super) fn equal_levels(expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    let (Some((es, ec)), Some((as_, ac))) = (expected.split_once(':'), actual.split_once(':'))
    else {
        return false;
    };
    let mut e: Vec<&str> = ec.split(',').collect();
    let mut a: Vec<&str> = ac.split(',').collect();
    e.sort_unstable();
    a.sort_unstable();
    es == as_ && e == a
}

pub(super) fn check_selinux(
    pod: &Pod,
    allowed: [&Option<Vec<String>>; 4],
    scope: Scope,
) -> Option<(String, String)> {
    let spec = &pod.spec;
    let pod_opts = spec
        .security_context
        .as_ref()
        .and_then(|s| s.se_linux_options.as_deref());
    let mut bad_parts: [BTreeSet<String>; 4] = Default::default();
    let mut judge = |o: &crate::pod::SeLinuxOptions| -> bool {
        let values = [&o.user, &o.role, &o.type_, &o.level];
        let mut ok = true;
        for i in 0..4 {
            if let Some(list) = allowed[i] {
                // Levels compare as PSP's `equalLevels`: the same sensitivity and categories in
                // any order.
                let ok_value = if i == 3 {
                    list.iter().any(|l| equal_levels(l, values[i]))
                } else {
                    list.contains(values[i])
                };
                if !ok_value {
                    ok = false;
                    bad_parts[i].insert(values[i].clone());
                }
            }
        }
        ok
    };
    let empty = crate::pod::SeLinuxOptions::default();
    let mut pod_bad = false;
    let mut bad = Vec::new();
    match scope {
        Scope::EveryValue => {
            if let Some(o) = pod_opts {
                pod_bad = !judge(o);
            }
            for (_, c) in spec.all_containers() {
                if let Some(o) = sc(c).and_then(|s| s.se_linux_options.as_ref()) {
                    if !judge(o) {
                        bad.push(c.name.as_str());
                    }
                }
            }
        }
        Scope::Effective => {
            // PSP's `ValidatePod` also judges the pod-level options (provider.go), which its
            // defaulting sets when they are unset: a pod `seLinuxOptions: {}` is judged as
            // written even when every container sets its own.
            if let Some(o) = pod_opts {
                pod_bad = !judge(o);
            }
            for (_, c) in spec.all_containers() {
                let o = sc(c)
                    .and_then(|s| s.se_linux_options.as_deref())
                    .or(pod_opts)
                    .unwrap_or(&empty);
                if !judge(o) {
                    bad.push(c.name.as_str());
                }
            }
        }
    }
    if !pod_bad && bad.is_empty() {
        return None;
    }
    let names = ["user", "role", "type", "level"];
    let mut data = Vec::new();
    // PSA order: types first, then user, then role.
    for i in [2usize, 0, 1, 3] {
        if bad_parts[i].is_empty() {
            continue;
        }
        let only_empty_allowed = allowed[i].as_ref().is_some_and(|l| l == &[String::new()]);
        if only_empty_allowed && i != 2 {
            data.push(format!("{} may not be set", names[i]));
        } else {
            let v: Vec<String> = bad_parts[i].iter().cloned().collect();
            data.push(format!(
                "{} {}",
                plural(names[i], &format!("{}s", names[i]), v.len()),
                join_quote(&v)
            ));
        }
    }
    Some((
        "seLinuxOptions".into(),
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters(pod_bad, &bad),
            data.join("; ")
        ),
    ))
}

pub(super) fn check_seccomp(
    pod: &Pod,
    allowed: &NameSet,
    unset_allowed: bool,
    source: ProfileSource,
    scope: Scope,
    field: &str,
) -> Option<(String, String)> {
    let spec = &pod.spec;
    let ann = &pod.metadata.annotations;
    let pod_field = spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref());
    let reason = "seccompProfile".to_string();
    match (source, scope) {
        (ProfileSource::Annotations, Scope::EveryValue) => {
            let mut forbidden = BTreeSet::new();
            if let Some(v) = ann.get(SECCOMP_POD) {
                if !allowed.contains(v) {
                    forbidden.insert(format!("{SECCOMP_POD}={}", go_quote(v)));
                }
            }
            let mut implicit = Vec::new();
            for (_, c) in spec.all_containers() {
                let key = format!("{SECCOMP_CONTAINER}{}", c.name);
                match ann.get(&key) {
                    Some(v) if !allowed.contains(v) => {
                        forbidden.insert(format!("{key}={}", go_quote(v)));
                    }
                    None if !unset_allowed && !ann.contains_key(SECCOMP_POD) => {
                        implicit.push(c.name.as_str())
                    }
                    _ => {}
                }
            }
            if !forbidden.is_empty() {
                let f: Vec<String> = forbidden.into_iter().collect();
                return Some((
                    reason,
                    format!(
                        "forbidden {} {}",
                        plural("annotation", "annotations", f.len()),
                        f.join(", ")
                    ),
                ));
            }
            (!implicit.is_empty()).then(|| {
                (
                    reason,
                    format!(
                        "pod or {} must set a seccomp profile annotation",
                        containers_phrase(&implicit)
                    ),
                )
            })
        }
        (_, Scope::EveryValue) => {
            // Fields (PSS from v1.19): explicit values anywhere, then unset containers.
            let mut bad_values = BTreeSet::new();
            let mut pod_bad = false;
            let mut pod_set = false;
            if let Some(p) = pod_field {
                if allowed.contains(&p.annotation_form()) {
                    pod_set = true;
                } else {
                    pod_bad = true;
                    bad_values.insert(p.type_.clone());
                }
            }
            let mut explicit = Vec::new();
            let mut implicit = Vec::new();
            for (_, c) in spec.all_containers() {
                match sc(c).and_then(|s| s.seccomp_profile.as_ref()) {
                    Some(p) => {
                        if !allowed.contains(&p.annotation_form()) {
                            explicit.push(c.name.as_str());
                            bad_values.insert(p.type_.clone());
                        }
                    }
                    None => {
                        if !pod_set && !unset_allowed {
                            implicit.push(c.name.as_str());
                        }
                    }
                }
            }
            if pod_bad || !explicit.is_empty() {
                let v: Vec<String> = bad_values.into_iter().collect();
                return Some((
                    reason,
                    format!(
                        "{} must not set securityContext.seccompProfile.type to {}",
                        setters(pod_bad, &explicit),
                        join_quote(&v)
                    ),
                ));
            }
            (!implicit.is_empty()).then(|| {
                (
                    reason,
                    format!(
                        "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                        containers_phrase(&implicit)
                    ),
                )
            })
        }
        (source, Scope::Effective) => {
            let use_fields = source != ProfileSource::Annotations;
            let use_ann = source != ProfileSource::Fields;
            let mut unset = Vec::new();
            let mut bad = Vec::new();
            let mut bad_values = BTreeSet::new();
            for (_, c) in spec.all_containers() {
                let profile = use_fields
                    .then(|| {
                        sc(c)
                            .and_then(|s| s.seccomp_profile.as_ref())
                            .map(Profile::annotation_form)
                    })
                    .flatten()
                    .or_else(|| {
                        use_ann
                            .then(|| ann.get(&format!("{SECCOMP_CONTAINER}{}", c.name)).cloned())
                            .flatten()
                    })
                    .or_else(|| {
                        use_fields
                            .then(|| pod_field.map(Profile::annotation_form))
                            .flatten()
                    })
                    .or_else(|| use_ann.then(|| ann.get(SECCOMP_POD).cloned()).flatten());
                match profile {
                    None if !unset_allowed => unset.push(c.name.as_str()),
                    Some(p) if !allowed.contains(&p) => {
                        bad.push(c.name.as_str());
                        bad_values.insert(p);
                    }
                    _ => {}
                }
            }
            let mut parts = Vec::new();
            // PSP also judged the pod-level profile on its own.
            let pod_profile = use_fields
                .then(|| pod_field.map(Profile::annotation_form))
                .flatten()
                .or_else(|| use_ann.then(|| ann.get(SECCOMP_POD).cloned()).flatten());
            match &pod_profile {
                None if !unset_allowed => parts.push(format!(
                    "pod must set a seccomp profile (allowed by {field}: {})",
                    describe_set(allowed)
                )),
                Some(p) if !allowed.contains(p) => parts.push(format!(
                    "pod must not use seccomp profile \"{p}\" (allowed by {field}: {})",
                    describe_set(allowed)
                )),
                _ => {}
            }
            parts.extend(profile_problems(
                "seccomp", &bad, bad_values, &unset, allowed,
            ));
            (!parts.is_empty()).then(|| (reason, parts.join("; ")))
        }
    }
}

/// The PSP-style problems of a profile rule: containers using a profile outside the set, and
/// containers without one where one is required.
pub(super) fn profile_problems(
    what: &str,
    bad: &[&str],
    bad_values: BTreeSet<String>,
    unset: &[&str],
    allowed: &NameSet,
) -> Vec<String> {
    let mut parts = Vec::new();
    if !bad.is_empty() {
        let v: Vec<String> = bad_values.into_iter().collect();
        parts.push(format!(
            "{} must not use {what} {} {} (allowed: {})",
            containers_phrase(bad),
            plural("profile", "profiles", v.len()),
            join_quote(&v),
            describe_set(allowed)
        ));
    }
    if !unset.is_empty() {
        parts.push(format!(
            "pod or {} must set a{} {what} profile (allowed: {})",
            containers_phrase(unset),
            if what.starts_with('A') { "n" } else { "" },
            describe_set(allowed)
        ));
    }
    parts
}

pub(super) fn check_apparmor(
    pod: &Pod,
    allowed: &NameSet,
    unset_allowed: bool,
    scope: Scope,
) -> Option<(String, String)> {
    let spec = &pod.spec;
    let ann = &pod.metadata.annotations;
    let pod_field = spec
        .security_context
        .as_ref()
        .and_then(|s| s.app_armor_profile.as_ref());
    match scope {
        Scope::EveryValue => {
            let mut setters_list = Vec::new();
            let mut bad_values = BTreeSet::new();
            if let Some(p) = pod_field {
                if !allowed.contains(&p.annotation_form()) {
                    setters_list.push("pod".to_string());
                    bad_values.insert(p.type_.clone());
                }
            }
            let mut bad = Vec::new();
            for (_, c) in spec.all_containers() {
                if let Some(p) = sc(c).and_then(|s| s.app_armor_profile.as_ref()) {
                    if !allowed.contains(&p.annotation_form()) {
                        bad.push(c.name.as_str());
                        bad_values.insert(p.type_.clone());
                    }
                }
            }
            if !bad.is_empty() {
                setters_list.push(containers_phrase(&bad));
            }
            let mut forbidden: Vec<String> = ann
                .iter()
                .filter(|(k, v)| k.starts_with(APPARMOR_CONTAINER) && !allowed.contains(v))
                .map(|(k, v)| format!("{k}={}", go_quote(v)))
                .collect();
            let mut values: Vec<String> = bad_values.into_iter().collect();
            if !forbidden.is_empty() {
                forbidden.sort();
                setters_list.push(plural("annotation", "annotations", forbidden.len()).to_string());
                values.extend(forbidden);
            }
            if setters_list.is_empty() {
                return None;
            }
            Some((
                plural(
                    "forbidden AppArmor profile",
                    "forbidden AppArmor profiles",
                    values.len(),
                )
                .to_string(),
                format!(
                    "{} must not set AppArmor profile type to {}",
                    setters_list.join(" and "),
                    join_quote(&values)
                ),
            ))
        }
        Scope::Effective => {
            let mut unset = Vec::new();
            let mut bad = Vec::new();
            let mut bad_values = BTreeSet::new();
            for (_, c) in spec.all_containers() {
                let profile = sc(c)
                    .and_then(|s| s.app_armor_profile.as_ref())
                    .or(pod_field)
                    .map(Profile::annotation_form)
                    .or_else(|| ann.get(&format!("{APPARMOR_CONTAINER}{}", c.name)).cloned())
                    .filter(|p| !p.is_empty());
                match profile {
                    None if !unset_allowed => unset.push(c.name.as_str()),
                    Some(p) if !allowed.contains(&p) => {
                        bad.push(c.name.as_str());
                        bad_values.insert(p);
                    }
                    _ => {}
                }
            }
            let parts = profile_problems("AppArmor", &bad, bad_values, &unset, allowed);
            (!parts.is_empty()).then(|| ("AppArmor profile".into(), parts.join("; ")))
        }
    }
}
