//! PSP's defaulting: what admission set on a pod before validating it.

use super::*;

/// Applies a policy's defaulting constraints, as PSP admission did before validating.
pub fn apply_defaults(policy: &Policy, pod: &mut Pod) {
    for d in &policy.defaults {
        apply_default(&d.action, pod);
    }
}

pub(super) fn container_sc(c: &mut Container) -> &mut SecurityContext {
    c.security_context.get_or_insert_with(Default::default)
}

/// Applies one defaulting action.
pub fn apply_default(action: &DefaultAction, pod: &mut Pod) {
    let pod_uid = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_user);
    let pod_nonroot = pod
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_non_root);
    match action {
        DefaultAction::AddCapabilities { capabilities } => {
            for c in pod.spec.all_containers_mut() {
                let caps = container_sc(c)
                    .capabilities
                    .get_or_insert_with(Default::default);
                for cap in capabilities {
                    if !caps.add.contains(cap) && !caps.drop.contains(cap) {
                        caps.add.push(cap.clone());
                    }
                }
            }
        }
        DefaultAction::DropCapabilities { capabilities } => {
            for c in pod.spec.all_containers_mut() {
                let caps = container_sc(c)
                    .capabilities
                    .get_or_insert_with(Default::default);
                for cap in capabilities {
                    if !caps.drop.contains(cap) {
                        caps.drop.push(cap.clone());
                    }
                }
            }
        }
        DefaultAction::AllowPrivilegeEscalation { value } => {
            for c in pod.spec.all_containers_mut() {
                container_sc(c)
                    .allow_privilege_escalation
                    .get_or_insert(*value);
            }
        }
        DefaultAction::ReadOnlyRootFilesystem => {
            for c in pod.spec.all_containers_mut() {
                container_sc(c)
                    .read_only_root_filesystem
                    .get_or_insert(true);
            }
        }
        DefaultAction::RunAsNonRoot => {
            for c in pod.spec.all_containers_mut() {
                let s = container_sc(c);
                if s.run_as_non_root.or(pod_nonroot).is_none()
                    && s.run_as_user.or(pod_uid).is_none()
                {
                    s.run_as_non_root = Some(true);
                }
            }
        }
        DefaultAction::RunAsUser { value } => {
            for c in pod.spec.all_containers_mut() {
                let s = container_sc(c);
                if s.run_as_user.or(pod_uid).is_none() {
                    s.run_as_user = Some(*value);
                }
            }
        }
        DefaultAction::GroupId { field, value } => {
            let psc = pod
                .spec
                .security_context
                .get_or_insert_with(Default::default);
            match field {
                GroupField::RunAsGroup => {
                    psc.run_as_group.get_or_insert(*value);
                }
                GroupField::FsGroup => {
                    psc.fs_group.get_or_insert(*value);
                }
                GroupField::SupplementalGroups => {
                    if psc.supplemental_groups.as_ref().is_none_or(Vec::is_empty) {
                        psc.supplemental_groups = Some(vec![*value]);
                    }
                }
            }
        }
        DefaultAction::SeLinuxOptions {
            user,
            role,
            type_,
            level,
        } => {
            let psc = pod
                .spec
                .security_context
                .get_or_insert_with(Default::default);
            if psc.se_linux_options.is_none() {
                psc.se_linux_options = Some(Box::new(crate::pod::SeLinuxOptions {
                    user: user.clone(),
                    role: role.clone(),
                    type_: type_.clone(),
                    level: level.clone(),
                }));
            }
        }
        DefaultAction::SeccompProfile { profile } => {
            let has_any = pod
                .spec
                .security_context
                .as_ref()
                .is_some_and(|s| s.seccomp_profile.is_some())
                || pod.metadata.annotations.contains_key(SECCOMP_POD);
            if !has_any {
                let psc = pod
                    .spec
                    .security_context
                    .get_or_insert_with(Default::default);
                psc.seccomp_profile = Some(profile_from_annotation(profile));
            }
        }
        DefaultAction::AppArmorProfile { profile } => {
            let names: Vec<String> = pod
                .spec
                .all_containers()
                .filter(|(_, c)| sc(c).and_then(|s| s.app_armor_profile.as_ref()).is_none())
                .map(|(_, c)| c.name.clone())
                .collect();
            for n in names {
                pod.metadata
                    .annotations
                    .entry(format!("{APPARMOR_CONTAINER}{n}"))
                    .or_insert_with(|| profile.clone());
            }
        }
        DefaultAction::RuntimeClass { name } => {
            pod.spec
                .runtime_class_name
                .get_or_insert_with(|| name.clone());
        }
    }
}
