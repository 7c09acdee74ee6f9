//! A test-only model of PodSecurityPolicy admission as Kubernetes 1.24 implemented it, written
//! from the Kubernetes sources (never from polytrans' `src/eval.rs` or its IR) so that it cannot
//! share a misreading with the code under test. It uses only `std` and `serde_json`.
//!
//! Sources followed (kubernetes/kubernetes, PSP as of the 1.2x releases, removed in 1.25):
//! - `plugin/pkg/admission/security/podsecuritypolicy/admission.go`: `Admit`,
//!   `computeSecurityContext` (policy order), `assignSecurityContext`.
//! - `pkg/security/podsecuritypolicy/provider.go`: `MutatePod`, `mutateContainer`, `ValidatePod`,
//!   `validatePodVolumes`, `validateContainer`, `hasInvalidHostPort`, `validateRuntimeClassName`,
//!   `allowsVolumeType`.
//! - `pkg/security/podsecuritypolicy/factory.go`: `CreateStrategies` (which PSPs yield no provider).
//! - strategies: `user/{mustrunas,nonroot,runasany}.go`, `group/{mustrunas,mayrunas,runasany,
//!   helpers}.go`, `selinux/{mustrunas,runasany}.go`, `capabilities/mustrunas.go`,
//!   `sysctl/mustmatchpatterns.go`, `seccomp/strategy.go`, `apparmor/strategy.go`.
//! - `pkg/security/podsecuritypolicy/util/util.go`: `GetVolumeFSType`, `AllowsHostVolumePath`,
//!   `hasPathPrefix`, `IsOnlyServiceAccountTokenSources`.
//! - `pkg/securitycontext/accessors.go`: effective container values (container, else pod) for
//!   runAsUser, runAsGroup, runAsNonRoot and seLinuxOptions; setters that write the container
//!   only when the effective value differs.
//! - `pkg/apis/policy/validation/validation.go`: `ValidatePodSecurityPolicy` and helpers
//!   ([`validate_psp`]); `pkg/apis/policy/v1beta1/defaults.go` (`allowPrivilegeEscalation`
//!   defaults to `true`).
//!
//! Notes on what the Go code does that a reader may not expect:
//! - `MutatePod` *does* default `spec.runtimeClassName` from `runtimeClass.defaultRuntimeClassName`
//!   when the pod leaves it unset (provider.go `MutatePod`).
//! - The seccomp strategy (1.19+) reads the `seccompProfile` fields as well as the annotations;
//!   `docker/default` and `runtime/default` are the same profile when listed as allowed.
//! - A pod `spec.securityContext.supplementalGroups: []` is not `nil` in Go, so `MustRunAs` does
//!   not generate a group for it and then rejects the empty list.
//! - The `pods/ephemeralcontainers` subresource was ignored by PSP admission (`shouldIgnore`); a
//!   pod object that carries ephemeral containers has them validated like the others
//!   (`VisitContainersWithPath` visits init, regular, then ephemeral containers).

use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashSet};

// ------------------------------------------------------------------------------------------
// Small JSON helpers

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for k in path {
        cur = cur.as_object()?.get(*k)?;
    }
    Some(cur)
}

fn get_bool(v: &Value, path: &[&str]) -> Option<bool> {
    get(v, path).and_then(Value::as_bool)
}

fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

fn get_i64(v: &Value, path: &[&str]) -> Option<i64> {
    get(v, path).and_then(Value::as_i64)
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `obj[key]` as a mutable object, created (or replaced if not an object) when absent.
fn obj_mut<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    let m = v.as_object_mut().expect("object");
    let e = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !e.is_object() {
        *e = Value::Object(Map::new());
    }
    e.as_object_mut().unwrap()
}

/// Go's `%v` of an `[]IDRange`: `[{1 10} {20 30}]`.
fn go_ranges(r: &[(i64, i64)]) -> String {
    let parts: Vec<String> = r.iter().map(|(a, b)| format!("{{{a} {b}}}")).collect();
    format!("[{}]", parts.join(" "))
}

/// Go's `%#v` of an `[]int64`.
fn go_int_slice(v: &[i64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[]int64{{{}}}", parts.join(", "))
}

// field.Error renderings (k8s.io/apimachinery/pkg/util/validation/field `Error.Error`).
fn invalid(path: &str, value: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("{path}: Invalid value: {value}")
    } else {
        format!("{path}: Invalid value: {value}: {detail}")
    }
}
fn forbidden(path: &str, detail: &str) -> String {
    format!("{path}: Forbidden: {detail}")
}
fn required(path: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("{path}: Required value")
    } else {
        format!("{path}: Required value: {detail}")
    }
}
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

// ------------------------------------------------------------------------------------------
// The PSP

/// A strategy with a rule and ID ranges (runAsUser, runAsGroup, fsGroup, supplementalGroups).
#[derive(Debug, Clone, PartialEq)]
pub struct IdStrategy {
    pub rule: String,
    pub ranges: Vec<(i64, i64)>,
}

/// SELinux options as the pod and PSP spell them (`user`, `role`, `type`, `level`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeLinux {
    pub user: String,
    pub role: String,
    pub type_: String,
    pub level: String,
}

impl SeLinux {
    fn from(v: &Value) -> SeLinux {
        let s = |k: &str| get_str(v, &[k]).unwrap_or("").to_string();
        SeLinux {
            user: s("user"),
            role: s("role"),
            type_: s("type"),
            level: s("level"),
        }
    }
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in [
            ("user", &self.user),
            ("role", &self.role),
            ("type", &self.type_),
            ("level", &self.level),
        ] {
            if !v.is_empty() {
                m.insert(k.into(), Value::String(v.clone()));
            }
        }
        Value::Object(m)
    }
}

pub const SECCOMP_ALLOWED: &str = "seccomp.security.alpha.kubernetes.io/allowedProfileNames";
pub const SECCOMP_DEFAULT: &str = "seccomp.security.alpha.kubernetes.io/defaultProfileName";
pub const APPARMOR_ALLOWED: &str = "apparmor.security.beta.kubernetes.io/allowedProfileNames";
pub const APPARMOR_DEFAULT: &str = "apparmor.security.beta.kubernetes.io/defaultProfileName";
const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_CONTAINER: &str = "container.apparmor.security.beta.kubernetes.io/";

/// A PodSecurityPolicy (`policy/v1beta1` or `extensions/v1beta1`; same schema), read from its
/// JSON object with the API server's PSP defaulting applied (`allowPrivilegeEscalation` unset
/// means `true`: `SetDefaults_PodSecurityPolicySpec`).
#[derive(Debug, Clone)]
pub struct Psp {
    pub name: String,
    pub privileged: bool,
    pub host_network: bool,
    pub host_pid: bool,
    pub host_ipc: bool,
    pub host_ports: Vec<(i64, i64)>,
    pub volumes: Vec<String>,
    pub allowed_host_paths: Vec<(String, bool)>,
    pub allowed_flex_volumes: Vec<String>,
    pub allowed_csi_drivers: Vec<String>,
    pub default_add_capabilities: Vec<String>,
    pub required_drop_capabilities: Vec<String>,
    pub allowed_capabilities: Vec<String>,
    pub run_as_user: IdStrategy,
    /// `None`: the field is unset (factory.go `createRunAsGroupStrategy` uses RunAsAny).
    pub run_as_group: Option<IdStrategy>,
    pub supplemental_groups: IdStrategy,
    pub fs_group: IdStrategy,
    pub se_linux_rule: String,
    pub se_linux_options: Option<SeLinux>,
    pub read_only_root_filesystem: bool,
    pub default_allow_privilege_escalation: Option<bool>,
    pub allow_privilege_escalation: bool,
    pub allowed_proc_mount_types: Vec<String>,
    pub allowed_unsafe_sysctls: Vec<String>,
    pub forbidden_sysctls: Vec<String>,
    /// `runtimeClass`: allowed names and the default.
    pub runtime_class: Option<(Vec<String>, Option<String>)>,
    pub seccomp_default: String,
    /// The raw `allowedProfileNames` annotation (None: absent).
    pub seccomp_allowed: Option<String>,
    pub apparmor_default: String,
    pub apparmor_allowed: Option<String>,
    /// Why `CreateStrategies` fails for this PSP (it then yields no provider and is skipped).
    pub provider_error: Option<String>,
}

fn id_strategy(spec: &Value, key: &str) -> IdStrategy {
    let s = get(spec, &[key]).cloned().unwrap_or(Value::Null);
    IdStrategy {
        rule: get_str(&s, &["rule"]).unwrap_or("").to_string(),
        ranges: get(&s, &["ranges"])
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|r| {
                        (
                            get_i64(r, &["min"]).unwrap_or(0),
                            get_i64(r, &["max"]).unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl Psp {
    /// Reads a PSP object (JSON nulls read as unset).
    pub fn from_value(obj: &Value) -> Psp {
        let spec = get(obj, &["spec"]).cloned().unwrap_or(json!({}));
        let ann = |k: &str| get_str(obj, &["metadata", "annotations", k]).map(str::to_string);
        let b = |k: &str| get_bool(&spec, &[k]).unwrap_or(false);
        let mut psp = Psp {
            name: get_str(obj, &["metadata", "name"])
                .unwrap_or("")
                .to_string(),
            privileged: b("privileged"),
            host_network: b("hostNetwork"),
            host_pid: b("hostPID"),
            host_ipc: b("hostIPC"),
            host_ports: id_strategy(&json!({"x": {"ranges": spec.get("hostPorts")}}), "x").ranges,
            volumes: str_list(spec.get("volumes")),
            allowed_host_paths: spec
                .get("allowedHostPaths")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            (
                                get_str(p, &["pathPrefix"]).unwrap_or("").to_string(),
                                get_bool(p, &["readOnly"]).unwrap_or(false),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            allowed_flex_volumes: spec
                .get("allowedFlexVolumes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|p| get_str(p, &["driver"]).unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default(),
            allowed_csi_drivers: spec
                .get("allowedCSIDrivers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|p| get_str(p, &["name"]).unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default(),
            default_add_capabilities: str_list(spec.get("defaultAddCapabilities")),
            required_drop_capabilities: str_list(spec.get("requiredDropCapabilities")),
            allowed_capabilities: str_list(spec.get("allowedCapabilities")),
            run_as_user: id_strategy(&spec, "runAsUser"),
            run_as_group: spec
                .get("runAsGroup")
                .filter(|v| !v.is_null())
                .map(|_| id_strategy(&spec, "runAsGroup")),
            supplemental_groups: id_strategy(&spec, "supplementalGroups"),
            fs_group: id_strategy(&spec, "fsGroup"),
            se_linux_rule: get_str(&spec, &["seLinux", "rule"])
                .unwrap_or("")
                .to_string(),
            se_linux_options: get(&spec, &["seLinux", "seLinuxOptions"])
                .filter(|v| v.is_object())
                .map(SeLinux::from),
            read_only_root_filesystem: b("readOnlyRootFilesystem"),
            default_allow_privilege_escalation: get_bool(
                &spec,
                &["defaultAllowPrivilegeEscalation"],
            ),
            // v1beta1 defaults.go: unset means true.
            allow_privilege_escalation: get_bool(&spec, &["allowPrivilegeEscalation"])
                .unwrap_or(true),
            allowed_proc_mount_types: str_list(spec.get("allowedProcMountTypes")),
            allowed_unsafe_sysctls: str_list(spec.get("allowedUnsafeSysctls")),
            forbidden_sysctls: str_list(spec.get("forbiddenSysctls")),
            runtime_class: get(&spec, &["runtimeClass"])
                .filter(|v| v.is_object())
                .map(|rc| {
                    (
                        str_list(rc.get("allowedRuntimeClassNames")),
                        get_str(rc, &["defaultRuntimeClassName"]).map(str::to_string),
                    )
                }),
            seccomp_default: ann(SECCOMP_DEFAULT).unwrap_or_default(),
            seccomp_allowed: ann(SECCOMP_ALLOWED),
            apparmor_default: ann(APPARMOR_DEFAULT).unwrap_or_default(),
            apparmor_allowed: ann(APPARMOR_ALLOWED),
            provider_error: None,
        };
        psp.provider_error = psp.strategy_error();
        psp
    }

    /// factory.go `CreateStrategies`: the errors that leave a PSP without a provider.
    fn strategy_error(&self) -> Option<String> {
        let mut errs = Vec::new();
        // createUserStrategy; user.NewMustRunAs needs a range.
        match self.run_as_user.rule.as_str() {
            "MustRunAs" if self.run_as_user.ranges.is_empty() => {
                errs.push("MustRunAs requires at least one range".to_string())
            }
            "MustRunAs" | "MustRunAsNonRoot" | "RunAsAny" => {}
            r => errs.push(format!("Unrecognized RunAsUser strategy type {r}")),
        }
        // createRunAsGroupStrategy (nil options: RunAsAny).
        if let Some(g) = &self.run_as_group {
            errs.extend(group_strategy_error(g, "RunAsGroup"));
        }
        // createSELinuxStrategy; selinux.NewMustRunAs needs options.
        match self.se_linux_rule.as_str() {
            "MustRunAs" if self.se_linux_options.is_none() => {
                errs.push("MustRunAs requires SELinuxOptions".to_string())
            }
            "MustRunAs" | "RunAsAny" => {}
            r => errs.push(format!("Unrecognized SELinuxContext strategy type {r}")),
        }
        errs.extend(group_strategy_error(&self.fs_group, "FSGroup"));
        errs.extend(group_strategy_error(
            &self.supplemental_groups,
            "SupplementalGroups",
        ));
        (!errs.is_empty()).then(|| errs.join(", "))
    }

    fn seccomp(&self) -> Seccomp {
        Seccomp::new(self)
    }
}

/// createFSGroupStrategy / createSupplementalGroupStrategy / createRunAsGroupStrategy, with
/// group.NewMustRunAs / NewMayRunAs refusing empty ranges.
fn group_strategy_error(g: &IdStrategy, what: &str) -> Option<String> {
    match g.rule.as_str() {
        "MustRunAs" if g.ranges.is_empty() => Some("ranges must be supplied for MustRunAs".into()),
        "MayRunAs" if g.ranges.is_empty() => Some("ranges must be supplied for MayRunAs".into()),
        "MustRunAs" | "MayRunAs" | "RunAsAny" => None,
        r => Some(format!("Unrecognized {what} strategy type {r}")),
    }
}

// ------------------------------------------------------------------------------------------
// API server defaulting before admission

/// What the API server does to a pod before admission: decoding a JSON `null` as an unset
/// field; `SetDefaults_Volume` (a volume without a source is `emptyDir`); `SetDefaults_Pod`
/// (with `hostNetwork`, a container port's `hostPort` defaults to its `containerPort`, for
/// containers and init containers); `SetDefaults_ObjectFieldSelector` (`fieldRef.apiVersion`
/// defaults to `v1`, which decides whether a projected volume is a service-account token).
pub fn api_server_defaults(pod: &mut Value) {
    strip_nulls(pod);
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(vols) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in vols.iter_mut() {
            let Some(m) = v.as_object_mut() else { continue };
            // Keys the decoder does not know are dropped, so a volume with none of the
            // VolumeSource keys has no source.
            if !VOLUME_SOURCES.iter().any(|(k, _)| m.contains_key(*k)) {
                m.insert("emptyDir".into(), json!({}));
            }
            if let Some(sources) = m
                .get_mut("projected")
                .and_then(|p| p.get_mut("sources"))
                .and_then(Value::as_array_mut)
            {
                for s in sources {
                    if let Some(items) = s
                        .get_mut("downwardAPI")
                        .and_then(|d| d.get_mut("items"))
                        .and_then(Value::as_array_mut)
                    {
                        for it in items {
                            if let Some(fr) = it.get_mut("fieldRef").and_then(Value::as_object_mut)
                            {
                                fr.entry("apiVersion").or_insert_with(|| json!("v1"));
                            }
                        }
                    }
                }
            }
        }
    }
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for kind in ["containers", "initContainers"] {
            let Some(cs) = spec.get_mut(kind).and_then(Value::as_array_mut) else {
                continue;
            };
            for c in cs {
                let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) else {
                    continue;
                };
                for p in ports {
                    let Some(pm) = p.as_object_mut() else {
                        continue;
                    };
                    if pm.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                        if let Some(cp) = pm.get("containerPort").cloned() {
                            pm.insert("hostPort".into(), cp);
                        }
                    }
                }
            }
        }
    }
}

/// What the API server's validation of a pod (`pkg/apis/core/validation/validation.go`) refuses
/// before any validating admission runs (admission's mutating phase runs first, then
/// `rest.BeforeCreate` validates the object, then validating admission sees it). Only the parts
/// the generator can break are modelled:
/// - `ValidateSeccompPodAnnotations`: the pod and container seccomp annotations must hold a
///   valid profile (`ValidateSeccompProfile`: `runtime/default`, `docker/default`,
///   `unconfined`, or `localhost/<descending path>`; an empty value is invalid);
/// - `validateSeccompAnnotationsAndFields` / `validateSeccompAnnotationsAndFieldsMatch`: where a
///   seccomp annotation and the matching `seccompProfile` field are both set they must agree;
/// - `ValidateAppArmorPodAnnotations`: a container AppArmor annotation names an existing
///   container and holds `""`, `runtime/default`, `unconfined` or `localhost/...`
///   (`ValidateAppArmorProfileFormat`).
///
/// A pod refused here never reaches a webhook or a VAP, so the differential does not judge it.
pub fn validate_pod_object(pod: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let empty = Map::new();
    let anns = get(pod, &["metadata", "annotations"])
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let path = "metadata.annotations";
    for (k, v) in anns {
        let v = v.as_str().unwrap_or("");
        if (k == SECCOMP_POD || k.starts_with(SECCOMP_CONTAINER)) && !valid_seccomp_profile(v) {
            errs.push(format!(
                "{path}[{k}]: Invalid value: {v:?}: must be a valid seccomp profile"
            ));
        }
        if let Some(name) = k.strip_prefix(APPARMOR_CONTAINER) {
            let found = CONTAINER_KINDS.iter().any(|kind| {
                (0..container_count(pod, kind))
                    .any(|i| get_str(container(pod, kind, i), &["name"]) == Some(name))
            });
            if !found {
                errs.push(format!(
                    "{path}[{k}]: Invalid value: {name:?}: container not found"
                ));
            }
            if !valid_apparmor_profile(v) {
                errs.push(format!(
                    "{path}[{k}]: Invalid value: {v:?}: invalid AppArmor profile name"
                ));
            }
        }
    }
    if let (Some(f), Some(a)) = (
        get(pod, &["spec", "securityContext", "seccompProfile"]),
        anns.get(SECCOMP_POD).and_then(Value::as_str),
    ) {
        if let Some(e) = seccomp_field_mismatch(a, f) {
            errs.push(format!("spec.securityContext.seccompProfile{e}"));
        }
    }
    for kind in CONTAINER_KINDS {
        for i in 0..container_count(pod, kind) {
            let c = container(pod, kind, i);
            let Some(f) = get(c, &["securityContext", "seccompProfile"]) else {
                continue;
            };
            let key = format!("{SECCOMP_CONTAINER}{}", get_str(c, &["name"]).unwrap_or(""));
            if let Some(a) = anns.get(&key).and_then(Value::as_str) {
                if let Some(e) = seccomp_field_mismatch(a, f) {
                    errs.push(format!(
                        "spec.{kind}[{i}].securityContext.seccompProfile{e}"
                    ));
                }
            }
        }
    }
    errs
}

/// `validateSeccompAnnotationsAndFieldsMatch`: the error's path suffix and text, if any.
fn seccomp_field_mismatch(annotation: &str, field: &Value) -> Option<String> {
    let type_err =
        || Some(".type: Forbidden: seccomp type in annotation and field must match".into());
    match get_str(field, &["type"]).unwrap_or("") {
        "Unconfined" if annotation != "unconfined" => type_err(),
        "RuntimeDefault" if annotation != "runtime/default" && annotation != "docker/default" => {
            type_err()
        }
        "Localhost" => match annotation.strip_prefix("localhost/") {
            None => type_err(),
            Some(p) if get_str(field, &["localhostProfile"]) != Some(p) => Some(
                ".localhostProfile: Forbidden: seccomp profile in annotation and field must match"
                    .into(),
            ),
            Some(_) => None,
        },
        _ => None,
    }
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

// ------------------------------------------------------------------------------------------
// Admission

/// The outcome of admission.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Admitted by `psp`; `pod` is the mutated pod (with the `kubernetes.io/psp` annotation).
    Admitted { psp: String, pod: Value },
    /// Rejected; one message per field error. Each is prefixed with `provider <psp>: ` so that
    /// rejections by several PSPs stay readable (1.24's `computeSecurityContext` aggregates the
    /// bare field errors; older releases used this prefix).
    Rejected { messages: Vec<String> },
}

impl Verdict {
    pub fn admitted(&self) -> bool {
        matches!(self, Verdict::Admitted { .. })
    }
    pub fn messages(&self) -> &[String] {
        match self {
            Verdict::Admitted { .. } => &[],
            Verdict::Rejected { messages } => messages,
        }
    }
    /// `PodSecurityPolicy: unable to admit pod: [...]` as `Admit` reports it.
    pub fn message(&self) -> String {
        match self {
            Verdict::Admitted { psp, .. } => format!("admitted by {psp}"),
            Verdict::Rejected { messages } => {
                format!(
                    "PodSecurityPolicy: unable to admit pod: [{}]",
                    messages.join(", ")
                )
            }
        }
    }
}

/// admission.go `computeSecurityContext` with mutation allowed (a CREATE): PSPs sorted by name;
/// each is tried on a copy of the pod (`MutatePod` then `ValidatePod`); the first that admits the
/// pod unchanged wins, else the first (by name) that admits it after mutation. Every PSP given is
/// taken as usable by the requesting user or service account (RBAC is not modelled).
/// `pod` should have had [`api_server_defaults`] applied.
pub fn admit(psps: &[Psp], pod: &Value) -> Verdict {
    let mut order: Vec<&Psp> = psps.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let providers: Vec<&Psp> = order
        .into_iter()
        .filter(|p| p.provider_error.is_none())
        .collect();
    if providers.is_empty() {
        return Verdict::Rejected {
            messages: vec!["no providers available to validate pod request".into()],
        };
    }
    let mut first_mutated: Option<(String, Value)> = None;
    let mut errors = Vec::new();
    for psp in providers {
        let mut copy = pod.clone();
        mutate_pod(psp, &mut copy);
        let errs = validate_pod(psp, &copy);
        if !errs.is_empty() {
            errors.extend(
                errs.into_iter()
                    .map(|e| format!("provider {}: {e}", psp.name)),
            );
            continue;
        }
        if copy == *pod {
            return admitted(psp, copy);
        }
        if first_mutated.is_none() {
            first_mutated = Some((psp.name.clone(), copy));
        }
    }
    if let Some((name, pod)) = first_mutated {
        let psp = psps.iter().find(|p| p.name == name).unwrap();
        return admitted(psp, pod);
    }
    Verdict::Rejected { messages: errors }
}

/// `ValidatePod` alone on the pod as written, without `MutatePod`: whether some PSP accepts the
/// pod with nothing defaulted. This is what an audit-time detector (Falco) can judge: it sees the
/// pod as created and cannot change it. `pod` should have had [`api_server_defaults`] applied.
pub fn validate_as_written(psps: &[Psp], pod: &Value) -> Verdict {
    let mut order: Vec<&Psp> = psps.iter().filter(|p| p.provider_error.is_none()).collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    if order.is_empty() {
        return Verdict::Rejected {
            messages: vec!["no providers available to validate pod request".into()],
        };
    }
    let mut errors = Vec::new();
    for psp in order {
        let errs = validate_pod(psp, pod);
        if errs.is_empty() {
            return admitted(psp, pod.clone());
        }
        errors.extend(
            errs.into_iter()
                .map(|e| format!("provider {}: {e}", psp.name)),
        );
    }
    Verdict::Rejected { messages: errors }
}

fn admitted(psp: &Psp, mut pod: Value) -> Verdict {
    if !pod.is_object() {
        pod = json!({});
    }
    let meta = obj_mut(&mut pod, "metadata");
    let ann = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    ann.as_object_mut()
        .unwrap()
        .insert("kubernetes.io/psp".into(), Value::String(psp.name.clone()));
    Verdict::Admitted {
        psp: psp.name.clone(),
        pod,
    }
}

const CONTAINER_KINDS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

fn container_count(pod: &Value, kind: &str) -> usize {
    get(pod, &["spec", kind])
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

fn container<'a>(pod: &'a Value, kind: &str, i: usize) -> &'a Value {
    &pod["spec"][kind][i]
}

fn container_mut<'a>(pod: &'a mut Value, kind: &str, i: usize) -> &'a mut Value {
    &mut pod["spec"][kind][i]
}

/// The pod's annotations as a string map lookup.
fn annotation<'a>(pod: &'a Value, key: &str) -> Option<&'a str> {
    get_str(pod, &["metadata", "annotations", key])
}

fn set_annotation(pod: &mut Value, key: &str, value: &str) {
    let meta = obj_mut(pod, "metadata");
    let ann = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !ann.is_object() {
        *ann = Value::Object(Map::new());
    }
    ann.as_object_mut()
        .unwrap()
        .insert(key.into(), Value::String(value.into()));
}

fn pod_sc(pod: &Value) -> Option<&Value> {
    get(pod, &["spec", "securityContext"])
}

/// accessors.go effective container value: container's, else the pod's (runAsUser, runAsGroup,
/// runAsNonRoot, seLinuxOptions).
fn effective<'a>(pod: &'a Value, c: &'a Value, key: &str) -> Option<&'a Value> {
    get(c, &["securityContext", key]).or_else(|| pod_sc(pod).and_then(|sc| sc.get(key)))
}

/// accessors.go effective setter: writes the container only when the effective value differs.
fn set_effective(pod: &mut Value, kind: &str, i: usize, key: &str, value: Value) {
    let cur = effective(pod, container(pod, kind, i), key).cloned();
    if cur.as_ref() != Some(&value) {
        set_container_sc(pod, kind, i, key, value);
    }
}

fn set_container_sc(pod: &mut Value, kind: &str, i: usize, key: &str, value: Value) {
    let c = container_mut(pod, kind, i);
    obj_mut(c, "securityContext").insert(key.into(), value);
}

fn set_pod_sc(pod: &mut Value, key: &str, value: Value) {
    let spec = obj_mut(pod, "spec");
    let sc = spec
        .entry("securityContext")
        .or_insert_with(|| Value::Object(Map::new()));
    if !sc.is_object() {
        *sc = Value::Object(Map::new());
    }
    sc.as_object_mut().unwrap().insert(key.into(), value);
}

/// group.mustRunAs `Generate`/`GenerateSingle`: the first range's min; others generate nothing.
fn group_generate(g: Option<&IdStrategy>) -> Option<i64> {
    let g = g?;
    (g.rule == "MustRunAs").then(|| g.ranges[0].0)
}

/// provider.go `MutatePod`.
fn mutate_pod(psp: &Psp, pod: &mut Value) {
    if !pod.is_object() {
        *pod = json!({});
    }
    // SupplementalGroupStrategy.Generate when `SupplementalGroups() == nil` (an explicit empty
    // list is not nil in Go).
    if pod_sc(pod)
        .and_then(|s| s.get("supplementalGroups"))
        .is_none()
    {
        if let Some(g) = group_generate(Some(&psp.supplemental_groups)) {
            set_pod_sc(pod, "supplementalGroups", json!([g]));
        }
    }
    // FSGroupStrategy.GenerateSingle.
    if pod_sc(pod).and_then(|s| s.get("fsGroup")).is_none() {
        if let Some(g) = group_generate(Some(&psp.fs_group)) {
            set_pod_sc(pod, "fsGroup", json!(g));
        }
    }
    // SELinuxStrategy.Generate(pod, nil).
    if pod_sc(pod).and_then(|s| s.get("seLinuxOptions")).is_none()
        && psp.se_linux_rule == "MustRunAs"
    {
        let o = psp.se_linux_options.clone().unwrap_or_default();
        set_pod_sc(pod, "seLinuxOptions", o.to_json());
    }
    // SeccompStrategy.Generate: the pod annotation, else the pod field's annotation form, else
    // the PSP default; set as the pod annotation when not empty.
    let profile = psp.seccomp().generate(pod);
    if !profile.is_empty() {
        set_annotation(pod, SECCOMP_POD, &profile);
    }
    // RuntimeClass default.
    if let Some((_, Some(default))) = &psp.runtime_class {
        if get(pod, &["spec", "runtimeClassName"]).is_none() {
            obj_mut(pod, "spec").insert("runtimeClassName".into(), json!(default));
        }
    }
    // podutil.VisitContainers: init, regular, ephemeral.
    for kind in CONTAINER_KINDS {
        for i in 0..container_count(pod, kind) {
            mutate_container(psp, pod, kind, i);
        }
    }
}

/// provider.go `mutateContainer`.
fn mutate_container(psp: &Psp, pod: &mut Value, kind: &str, i: usize) {
    if !container(pod, kind, i).is_object() {
        return;
    }
    // RunAsUserStrategy.Generate (MustRunAs: first range's min).
    if effective(pod, container(pod, kind, i), "runAsUser").is_none()
        && psp.run_as_user.rule == "MustRunAs"
    {
        let uid = psp.run_as_user.ranges[0].0;
        set_effective(pod, kind, i, "runAsUser", json!(uid));
    }
    // RunAsGroupStrategy.GenerateSingle.
    if effective(pod, container(pod, kind, i), "runAsGroup").is_none() {
        if let Some(g) = group_generate(psp.run_as_group.as_ref()) {
            set_effective(pod, kind, i, "runAsGroup", json!(g));
        }
    }
    // SELinuxStrategy.Generate(pod, container).
    if effective(pod, container(pod, kind, i), "seLinuxOptions").is_none()
        && psp.se_linux_rule == "MustRunAs"
    {
        let o = psp.se_linux_options.clone().unwrap_or_default();
        set_effective(pod, kind, i, "seLinuxOptions", o.to_json());
    }
    // AppArmorStrategy.Generate: the default profile when the container has none (or "").
    let name = get_str(container(pod, kind, i), &["name"])
        .unwrap_or("")
        .to_string();
    let key = format!("{APPARMOR_CONTAINER}{name}");
    if annotation(pod, &key).unwrap_or("").is_empty() && !psp.apparmor_default.is_empty() {
        set_annotation(pod, &key, &psp.apparmor_default.clone());
    }
    // MustRunAsNonRoot marker.
    if effective(pod, container(pod, kind, i), "runAsNonRoot").is_none()
        && effective(pod, container(pod, kind, i), "runAsUser").is_none()
        && psp.run_as_user.rule == "MustRunAsNonRoot"
    {
        set_effective(pod, kind, i, "runAsNonRoot", json!(true));
    }
    // CapabilitiesStrategy.Generate (capabilities/mustrunas.go).
    let current = get(
        container(pod, kind, i),
        &["securityContext", "capabilities"],
    )
    .cloned();
    if let Some(new) = generate_capabilities(psp, current.as_ref()) {
        if Some(&new) != current.as_ref() {
            set_container_sc(pod, kind, i, "capabilities", new);
        }
    }
    // readOnlyRootFilesystem default.
    let sc = |pod: &Value, k: &str| get(container(pod, kind, i), &["securityContext", k]).cloned();
    if psp.read_only_root_filesystem && sc(pod, "readOnlyRootFilesystem").is_none() {
        set_container_sc(pod, kind, i, "readOnlyRootFilesystem", json!(true));
    }
    // defaultAllowPrivilegeEscalation, then allowPrivilegeEscalation=false as the default.
    if let Some(d) = psp.default_allow_privilege_escalation {
        if sc(pod, "allowPrivilegeEscalation").is_none() {
            set_container_sc(pod, kind, i, "allowPrivilegeEscalation", json!(d));
        }
    }
    if !psp.allow_privilege_escalation && sc(pod, "allowPrivilegeEscalation").is_none() {
        set_container_sc(pod, kind, i, "allowPrivilegeEscalation", json!(false));
    }
}

/// capabilities/mustrunas.go `Generate`: default adds (minus the container's drops) and required
/// drops merged into the container's lists (sorted); the original when nothing changes.
fn generate_capabilities(psp: &Psp, caps: Option<&Value>) -> Option<Value> {
    let cadd: BTreeSet<String> = str_list(caps.and_then(|c| c.get("add")))
        .into_iter()
        .collect();
    let cdrop: BTreeSet<String> = str_list(caps.and_then(|c| c.get("drop")))
        .into_iter()
        .collect();
    let default_add: BTreeSet<String> = psp
        .default_add_capabilities
        .iter()
        .filter(|c| !cdrop.contains(*c))
        .cloned()
        .collect();
    let add: BTreeSet<String> = default_add.union(&cadd).cloned().collect();
    let drop: BTreeSet<String> = psp
        .required_drop_capabilities
        .iter()
        .cloned()
        .chain(cdrop.iter().cloned())
        .collect();
    if add.len() == cadd.len() && drop.len() == cdrop.len() {
        return caps.cloned();
    }
    let mut m = Map::new();
    if !add.is_empty() {
        m.insert("add".into(), json!(add.into_iter().collect::<Vec<_>>()));
    }
    if !drop.is_empty() {
        m.insert("drop".into(), json!(drop.into_iter().collect::<Vec<_>>()));
    }
    Some(Value::Object(m))
}

// ------------------------------------------------------------------------------------------
// Validation

/// provider.go `ValidatePod` (with `validatePodVolumes` and `validateContainer`).
fn validate_pod(psp: &Psp, pod: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let sc_path = "spec.securityContext";
    let psc = pod_sc(pod);
    let fs = psc
        .and_then(|s| s.get("fsGroup"))
        .and_then(Value::as_i64)
        .map(|g| vec![g])
        .unwrap_or_default();
    errs.extend(validate_groups(
        Some(&psp.fs_group),
        &format!("{sc_path}.fsGroup"),
        &fs,
    ));
    let sup: Vec<i64> = psc
        .and_then(|s| s.get("supplementalGroups"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    errs.extend(validate_groups(
        Some(&psp.supplemental_groups),
        &format!("{sc_path}.supplementalGroups"),
        &sup,
    ));
    errs.extend(psp.seccomp().validate_pod(pod));
    errs.extend(validate_selinux(
        psp,
        &format!("{sc_path}.seLinuxOptions"),
        psc.and_then(|s| s.get("seLinuxOptions")),
    ));
    let spec_b = |k: &str| get_bool(pod, &["spec", k]).unwrap_or(false);
    if !psp.host_network && spec_b("hostNetwork") {
        errs.push(invalid(
            &format!("{sc_path}.hostNetwork"),
            "true",
            "Host network is not allowed to be used",
        ));
    }
    if !psp.host_pid && spec_b("hostPID") {
        errs.push(invalid(
            &format!("{sc_path}.hostPID"),
            "true",
            "Host PID is not allowed to be used",
        ));
    }
    if !psp.host_ipc && spec_b("hostIPC") {
        errs.push(invalid(
            &format!("{sc_path}.hostIPC"),
            "true",
            "Host IPC is not allowed to be used",
        ));
    }
    errs.extend(validate_sysctls(psp, pod));
    errs.extend(validate_volumes(psp, pod));
    if let Some((allowed, _)) = &psp.runtime_class {
        // validateRuntimeClassName: unset is always allowed.
        if let Some(rc) = get_str(pod, &["spec", "runtimeClassName"]) {
            if !allowed.iter().any(|a| a == "*" || a == rc) {
                errs.push(invalid("spec.runtimeClassName", &quote(rc), ""));
            }
        }
    }
    for kind in CONTAINER_KINDS {
        for i in 0..container_count(pod, kind) {
            errs.extend(validate_container(
                psp,
                pod,
                container(pod, kind, i),
                &format!("spec.{kind}[{i}]"),
            ));
        }
    }
    errs
}

/// group/{mustrunas,mayrunas}.go `Validate` and helpers.go `ValidateGroupsInRanges`.
fn validate_groups(g: Option<&IdStrategy>, path: &str, groups: &[i64]) -> Vec<String> {
    let Some(g) = g else { return vec![] };
    let mut errs = Vec::new();
    match g.rule.as_str() {
        "MustRunAs" | "MayRunAs" => {
            if g.rule == "MustRunAs" && groups.is_empty() {
                errs.push(invalid(
                    path,
                    &go_int_slice(groups),
                    "unable to validate empty groups against required ranges",
                ));
            }
            for &x in groups {
                if !g.ranges.iter().any(|(a, b)| x >= *a && x <= *b) {
                    errs.push(invalid(
                        path,
                        &go_int_slice(groups),
                        &format!("group {x} must be in the ranges: {}", go_ranges(&g.ranges)),
                    ));
                }
            }
        }
        _ => {}
    }
    errs
}

/// selinux/mustrunas.go `Validate` (RunAsAny validates nothing).
fn validate_selinux(psp: &Psp, path: &str, opts: Option<&Value>) -> Vec<String> {
    if psp.se_linux_rule != "MustRunAs" {
        return vec![];
    }
    let want = psp.se_linux_options.clone().unwrap_or_default();
    let Some(opts) = opts else {
        return vec![required(path, "")];
    };
    let got = SeLinux::from(opts);
    let mut errs = Vec::new();
    if !equal_levels(&want.level, &got.level) {
        errs.push(invalid(
            &format!("{path}.level"),
            &quote(&got.level),
            &format!("must be {}", want.level),
        ));
    }
    for (k, w, g) in [
        ("role", &want.role, &got.role),
        ("type", &want.type_, &got.type_),
        ("user", &want.user, &got.user),
    ] {
        if w != g {
            errs.push(invalid(
                &format!("{path}.{k}"),
                &quote(g),
                &format!("must be {w}"),
            ));
        }
    }
    errs
}

/// selinux/mustrunas.go `equalLevels`: equal strings, or the same sensitivity and the same
/// categories in any order.
fn equal_levels(expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    let (Some((es, ec)), Some((as_, ac))) = (expected.split_once(':'), actual.split_once(':'))
    else {
        return false;
    };
    if es != as_ {
        return false;
    }
    let mut e: Vec<&str> = ec.split(',').collect();
    let mut a: Vec<&str> = ac.split(',').collect();
    e.sort();
    a.sort();
    e == a
}

/// The safe sysctls of 1.24 (`SafeSysctlAllowlist`).
pub const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];

fn sysctl_matches(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == p,
    })
}

/// sysctl/mustmatchpatterns.go `Validate`: forbidden first, then safe, then allowed unsafe.
fn validate_sysctls(psp: &Psp, pod: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(list) = get(pod, &["spec", "securityContext", "sysctls"]).and_then(Value::as_array)
    else {
        return errs;
    };
    for (i, s) in list.iter().enumerate() {
        let name = get_str(s, &["name"]).unwrap_or("");
        let path = format!("pod.spec.securityContext.sysctls[{i}]");
        if sysctl_matches(&psp.forbidden_sysctls, name) {
            errs.push(forbidden(
                &path,
                &format!("sysctl {} is not allowed", quote(name)),
            ));
        } else if SAFE_SYSCTLS.contains(&name) || sysctl_matches(&psp.allowed_unsafe_sysctls, name)
        {
        } else {
            errs.push(forbidden(
                &path,
                &format!("unsafe sysctl {} is not allowed", quote(name)),
            ));
        }
    }
    errs
}

/// util.go `GetVolumeFSType`: the first source present, in Go's order, as the PSP names it.
pub const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("hostPath", "hostPath"),
    ("emptyDir", "emptyDir"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("gitRepo", "gitRepo"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("flexVolume", "flexVolume"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("flocker", "flocker"),
    ("downwardAPI", "downwardAPI"),
    ("fc", "fc"),
    ("azureFile", "azureFile"),
    ("configMap", "configMap"),
    ("vsphereVolume", "vsphereVolume"),
    ("quobyte", "quobyte"),
    ("azureDisk", "azureDisk"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("portworxVolume", "portworxVolume"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
];

fn volume_fs_type(v: &Value) -> Option<&'static str> {
    VOLUME_SOURCES
        .iter()
        .find(|(k, _)| v.get(*k).is_some_and(|x| !x.is_null()))
        .map(|(_, t)| *t)
}

/// util.go `IsOnlyServiceAccountTokenSources`: the projected volume the ServiceAccount admission
/// plugin injects (token at `token` without audience, the `kube-root-ca.crt` config map, the
/// namespace through the downward API).
fn only_service_account_token_sources(projected: &Value) -> bool {
    let sources = projected
        .get("sources")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    sources.iter().all(|s| {
        let sat = s.get("serviceAccountToken");
        let cm = s.get("configMap");
        let dapi = s.get("downwardAPI");
        if sat.is_none() && cm.is_none() && dapi.is_none() {
            return false;
        }
        if let Some(t) = sat {
            if get_str(t, &["path"]).unwrap_or("") != "token"
                || !get_str(t, &["audience"]).unwrap_or("").is_empty()
            {
                return false;
            }
        }
        if let Some(c) = cm {
            if get_str(c, &["name"]).unwrap_or("") != "kube-root-ca.crt" {
                return false;
            }
        }
        if let Some(d) = dapi {
            for it in d
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if get_str(it, &["path"]).unwrap_or("") != "namespace"
                    || get(it, &["fieldRef"]).is_none()
                    || get_str(it, &["fieldRef", "apiVersion"]).unwrap_or("") != "v1"
                    || get_str(it, &["fieldRef", "fieldPath"]).unwrap_or("") != "metadata.namespace"
                {
                    return false;
                }
            }
        }
        true
    })
}

/// util.go `hasPathPrefix`: one trailing `/` trimmed from each, then a prefix ending at a path
/// segment boundary.
pub fn has_path_prefix(s: &str, prefix: &str) -> bool {
    let s = s.strip_suffix('/').unwrap_or(s);
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    if !s.starts_with(prefix) {
        return false;
    }
    s.len() == prefix.len() || s.as_bytes()[prefix.len()] == b'/'
}

/// util.go `AllowsHostVolumePath`: (allowed, must be read-only).
fn allows_host_path(psp: &Psp, path: &str) -> (bool, bool) {
    if psp.allowed_host_paths.is_empty() {
        return (true, false);
    }
    let mut allowed = false;
    let mut read_only = false;
    for (prefix, ro) in &psp.allowed_host_paths {
        if has_path_prefix(path, prefix) {
            if !ro {
                return (true, false);
            }
            allowed = true;
            read_only = true;
        }
    }
    (allowed, read_only)
}

/// provider.go `validatePodVolumes` (with `allowsVolumeType`).
fn validate_volumes(psp: &Psp, pod: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(vols) = get(pod, &["spec", "volumes"]).and_then(Value::as_array) else {
        return errs;
    };
    let all = psp.volumes.iter().any(|v| v == "*");
    let allowed: HashSet<&str> = psp.volumes.iter().map(String::as_str).collect();
    for (i, v) in vols.iter().enumerate() {
        let path = format!("spec.volumes[{i}]");
        let Some(fs) = volume_fs_type(v) else {
            errs.push(invalid(&path, "\"\"", "unknown volume type for volume"));
            continue;
        };
        let type_ok = allowed.contains(fs)
            || (allowed.contains("secret")
                && fs == "projected"
                && only_service_account_token_sources(&v["projected"]));
        if !all && !type_ok {
            errs.push(invalid(
                &path,
                &quote(fs),
                &format!("{fs} volumes are not allowed to be used"),
            ));
            continue;
        }
        match fs {
            "hostPath" => {
                let hp = get_str(v, &["hostPath", "path"]).unwrap_or("");
                let (ok, ro) = allows_host_path(psp, hp);
                if !ok {
                    errs.push(invalid(
                        &format!("{path}.hostPath.pathPrefix"),
                        &quote(hp),
                        "is not allowed to be used",
                    ));
                } else if ro {
                    let vname = get_str(v, &["name"]).unwrap_or("");
                    for kind in CONTAINER_KINDS {
                        for ci in 0..container_count(pod, kind) {
                            let c = container(pod, kind, ci);
                            let mounts = c.get("volumeMounts").and_then(Value::as_array);
                            for (mi, m) in mounts.into_iter().flatten().enumerate() {
                                if get_str(m, &["name"]) == Some(vname)
                                    && !get_bool(m, &["readOnly"]).unwrap_or(false)
                                {
                                    errs.push(invalid(
                                        &format!("spec.{kind}[{ci}].volumeMounts[{mi}].readOnly"),
                                        "false",
                                        "must be read-only",
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            "flexVolume" if !psp.allowed_flex_volumes.is_empty() => {
                let d = get_str(v, &["flexVolume", "driver"]).unwrap_or("");
                if !psp.allowed_flex_volumes.iter().any(|a| a == d) {
                    errs.push(invalid(
                        &format!("{path}.driver"),
                        &quote(d),
                        "Flexvolume driver is not allowed to be used",
                    ));
                }
            }
            "csi" if !psp.allowed_csi_drivers.is_empty() => {
                let d = get_str(v, &["csi", "driver"]).unwrap_or("");
                if !psp.allowed_csi_drivers.iter().any(|a| a == d) {
                    errs.push(invalid(
                        &format!("{path}.csi.driver"),
                        &quote(d),
                        "Inline CSI driver is not allowed to be used",
                    ));
                }
            }
            _ => {}
        }
    }
    errs
}

/// provider.go `validateContainer`.
fn validate_container(psp: &Psp, pod: &Value, c: &Value, cpath: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let scp = format!("{cpath}.securityContext");
    let csc = |k: &str| get(c, &["securityContext", k]);
    // RunAsUserStrategy.Validate(effective runAsNonRoot, effective runAsUser).
    let uid = effective(pod, c, "runAsUser").and_then(Value::as_i64);
    let non_root = effective(pod, c, "runAsNonRoot").and_then(Value::as_bool);
    match psp.run_as_user.rule.as_str() {
        // user/mustrunas.go
        "MustRunAs" => match uid {
            None => errs.push(required(&format!("{scp}.runAsUser"), "")),
            Some(u) => {
                if !psp
                    .run_as_user
                    .ranges
                    .iter()
                    .any(|(a, b)| u >= *a && u <= *b)
                {
                    errs.push(invalid(
                        &format!("{scp}.runAsUser"),
                        &u.to_string(),
                        &format!(
                            "must be in the ranges: {}",
                            go_ranges(&psp.run_as_user.ranges)
                        ),
                    ));
                }
            }
        },
        // user/nonroot.go
        "MustRunAsNonRoot" => {
            if non_root.is_none() && uid.is_none() {
                errs.push(required(&format!("{scp}.runAsNonRoot"), "must be true"));
            } else if non_root == Some(false) {
                errs.push(invalid(
                    &format!("{scp}.runAsNonRoot"),
                    "false",
                    "must be true",
                ));
            } else if uid == Some(0) {
                errs.push(invalid(
                    &format!("{scp}.runAsUser"),
                    "0",
                    "running with the root UID is forbidden",
                ));
            }
        }
        _ => {}
    }
    // RunAsGroupStrategy.Validate(effective runAsGroup).
    let gid: Vec<i64> = effective(pod, c, "runAsGroup")
        .and_then(Value::as_i64)
        .into_iter()
        .collect();
    errs.extend(validate_groups(psp.run_as_group.as_ref(), &scp, &gid));
    errs.extend(validate_selinux(
        psp,
        &format!("{scp}.seLinuxOptions"),
        effective(pod, c, "seLinuxOptions"),
    ));
    errs.extend(validate_apparmor(psp, pod, c));
    errs.extend(psp.seccomp().validate_container(pod, c));
    if !psp.privileged && csc("privileged").and_then(Value::as_bool) == Some(true) {
        errs.push(invalid(
            &format!("{scp}.privileged"),
            "true",
            "Privileged containers are not allowed",
        ));
    }
    let proc_mount = csc("procMount")
        .and_then(Value::as_str)
        .unwrap_or("Default");
    let allowed_pm: Vec<&str> = if psp.allowed_proc_mount_types.is_empty() {
        vec!["Default"]
    } else {
        psp.allowed_proc_mount_types
            .iter()
            .map(String::as_str)
            .collect()
    };
    if !allowed_pm.contains(&proc_mount) {
        errs.push(invalid(
            &format!("{scp}.procMount"),
            &quote(proc_mount),
            "ProcMountType is not allowed",
        ));
    }
    errs.extend(validate_capabilities(
        psp,
        &format!("{scp}.capabilities"),
        csc("capabilities"),
    ));
    // hasInvalidHostPort
    for p in c
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let hp = get_i64(p, &["hostPort"]).unwrap_or(0);
        if hp > 0 && !psp.host_ports.iter().any(|(a, b)| hp >= *a && hp <= *b) {
            let ranges: Vec<String> = psp
                .host_ports
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            errs.push(invalid(
                &format!("{cpath}.hostPort"),
                &hp.to_string(),
                &format!(
                    "Host port {hp} is not allowed to be used. Allowed ports: [{}]",
                    ranges.join(",")
                ),
            ));
        }
    }
    if psp.read_only_root_filesystem {
        match csc("readOnlyRootFilesystem").and_then(Value::as_bool) {
            None => errs.push(invalid(
                &format!("{scp}.readOnlyRootFilesystem"),
                "null",
                "ReadOnlyRootFilesystem may not be nil and must be set to true",
            )),
            Some(false) => errs.push(invalid(
                &format!("{scp}.readOnlyRootFilesystem"),
                "false",
                "ReadOnlyRootFilesystem must be set to true",
            )),
            Some(true) => {}
        }
    }
    let ape = csc("allowPrivilegeEscalation").and_then(Value::as_bool);
    if !psp.allow_privilege_escalation && ape != Some(false) {
        errs.push(invalid(
            &format!("{scp}.allowPrivilegeEscalation"),
            &ape.map_or("null".into(), |b| b.to_string()),
            "Allowing privilege escalation for containers is not allowed",
        ));
    }
    errs
}

/// capabilities/mustrunas.go `Validate` (on the container's own capabilities).
fn validate_capabilities(psp: &Psp, path: &str, caps: Option<&Value>) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(caps) = caps else {
        if !psp.default_add_capabilities.is_empty() || !psp.required_drop_capabilities.is_empty() {
            errs.push(invalid(
                path,
                "null",
                "required capabilities are not set on the securityContext",
            ));
        }
        return errs;
    };
    if psp.allowed_capabilities.iter().any(|c| c == "*") {
        return errs;
    }
    for cap in str_list(caps.get("add")) {
        if !psp.default_add_capabilities.contains(&cap) && !psp.allowed_capabilities.contains(&cap)
        {
            errs.push(invalid(
                &format!("{path}.add"),
                &quote(&cap),
                "capability may not be added",
            ));
        }
    }
    let drops = str_list(caps.get("drop"));
    for rd in &psp.required_drop_capabilities {
        if !drops.contains(rd) {
            errs.push(invalid(
                &format!("{path}.drop"),
                &format!("{drops:?}"),
                &format!("{rd} is required to be dropped but was not found"),
            ));
        }
    }
    errs
}

/// apparmor/strategy.go `Validate`.
fn validate_apparmor(psp: &Psp, pod: &Value, c: &Value) -> Vec<String> {
    let Some(raw) = &psp.apparmor_allowed else {
        return vec![];
    };
    let allowed: HashSet<&str> = raw.split(',').collect();
    let name = get_str(c, &["name"]).unwrap_or("");
    let key = format!("{APPARMOR_CONTAINER}{name}");
    let path = format!("pod.metadata.annotations[{key}]");
    let profile = annotation(pod, &key).unwrap_or("");
    if profile.is_empty() {
        if !allowed.is_empty() {
            return vec![forbidden(&path, "AppArmor profile must be set")];
        }
        return vec![];
    }
    if !allowed.contains(profile) {
        return vec![forbidden(
            &path,
            &format!(
                "{profile} is not an allowed profile. Allowed values: {}",
                quote(raw)
            ),
        )];
    }
    vec![]
}

/// seccomp/strategy.go (1.19+: fields as well as annotations).
struct Seccomp {
    default: String,
    allowed: HashSet<String>,
    allow_any: bool,
    raw: String,
}

/// `podutil.SeccompAnnotationForField`.
fn seccomp_annotation_for_field(f: &Value) -> String {
    match get_str(f, &["type"]).unwrap_or("") {
        "Unconfined" => "unconfined".into(),
        "RuntimeDefault" => "runtime/default".into(),
        "Localhost" => match get_str(f, &["localhostProfile"]) {
            Some(p) => format!("localhost/{p}"),
            None => String::new(),
        },
        _ => String::new(),
    }
}

impl Seccomp {
    /// `NewStrategy`: `*` allows any; `docker/default` and `runtime/default` allow each other.
    fn new(psp: &Psp) -> Seccomp {
        let mut allowed = HashSet::new();
        let mut allow_any = false;
        if let Some(raw) = &psp.seccomp_allowed {
            for p in raw.split(',') {
                if p == "*" {
                    allow_any = true;
                    continue;
                }
                if p == "docker/default" || p == "runtime/default" {
                    allowed.insert("docker/default".to_string());
                    allowed.insert("runtime/default".to_string());
                }
                allowed.insert(p.to_string());
            }
        }
        Seccomp {
            default: psp.seccomp_default.clone(),
            allowed,
            allow_any,
            raw: psp.seccomp_allowed.clone().unwrap_or_default(),
        }
    }

    /// `Generate`.
    fn generate(&self, pod: &Value) -> String {
        if let Some(a) = annotation(pod, SECCOMP_POD).filter(|a| !a.is_empty()) {
            return a.to_string();
        }
        if let Some(f) = get(pod, &["spec", "securityContext", "seccompProfile"]) {
            return seccomp_annotation_for_field(f);
        }
        self.default.clone()
    }

    fn profile_allowed(&self, profile: &str) -> bool {
        if self.allowed.is_empty() && profile.is_empty() {
            return true;
        }
        self.allow_any || self.allowed.contains(profile)
    }

    fn check(&self, path: &str, profile: &str) -> Vec<String> {
        if !self.allow_any && self.allowed.is_empty() && !profile.is_empty() {
            return vec![forbidden(path, "seccomp may not be set")];
        }
        if !self.profile_allowed(profile) {
            return vec![forbidden(
                path,
                &format!(
                    "{profile} is not an allowed seccomp profile. Valid values are {}",
                    self.raw
                ),
            )];
        }
        vec![]
    }

    fn pod_profile(pod: &Value) -> String {
        let a = annotation(pod, SECCOMP_POD).unwrap_or("");
        if !a.is_empty() {
            return a.to_string();
        }
        get(pod, &["spec", "securityContext", "seccompProfile"])
            .map(seccomp_annotation_for_field)
            .unwrap_or_default()
    }

    /// `ValidatePod`.
    fn validate_pod(&self, pod: &Value) -> Vec<String> {
        self.check(
            &format!("pod.metadata.annotations[{SECCOMP_POD}]"),
            &Self::pod_profile(pod),
        )
    }

    /// `ValidateContainer` with `profileForContainer`: the container field, else the container
    /// annotation, else the pod field, else the pod annotation.
    fn validate_container(&self, pod: &Value, c: &Value) -> Vec<String> {
        let name = get_str(c, &["name"]).unwrap_or("");
        let key = format!("{SECCOMP_CONTAINER}{name}");
        let profile = if let Some(f) = get(c, &["securityContext", "seccompProfile"]) {
            seccomp_annotation_for_field(f)
        } else if let Some(a) = annotation(pod, &key) {
            a.to_string()
        } else if let Some(f) = get(pod, &["spec", "securityContext", "seccompProfile"]) {
            seccomp_annotation_for_field(f)
        } else {
            annotation(pod, SECCOMP_POD).unwrap_or("").to_string()
        };
        self.check(&format!("pod.metadata.annotations[{key}]"), &profile)
    }
}

// ------------------------------------------------------------------------------------------
// API-server validation of a PSP

/// RFC 1123 DNS subdomain (`IsDNS1123Subdomain`).
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && l.as_bytes()[0].is_ascii_alphanumeric()
                && l.as_bytes()[l.len() - 1].is_ascii_alphanumeric()
        })
}

/// `IsValidSysctlPattern`: `^([a-z0-9]([-_a-z0-9]*[a-z0-9])?\.)*([a-z0-9][-_a-z0-9]*)?[a-z0-9*]$`,
/// at most 253 characters.
pub fn valid_sysctl_pattern(s: &str) -> bool {
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    let parts: Vec<&str> = s.split('.').collect();
    let seg_ok = |p: &str| {
        let b = p.as_bytes();
        !b.is_empty()
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
    };
    let last_ok = |p: &str| {
        let b = p.as_bytes();
        let Some((&end, head)) = b.split_last() else {
            return false;
        };
        if !(end.is_ascii_lowercase() || end.is_ascii_digit() || end == b'*') {
            return false;
        }
        head.is_empty()
            || ((head[0].is_ascii_lowercase() || head[0].is_ascii_digit())
                && head.iter().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_'
                }))
    };
    let (last, init) = parts.split_last().unwrap();
    init.iter().all(|p| seg_ok(p)) && last_ok(last)
}

/// `apivalidation.ValidateSeccompProfile` for the PSP annotations.
fn valid_seccomp_profile(p: &str) -> bool {
    match p {
        "runtime/default" | "docker/default" | "unconfined" => true,
        _ => p.strip_prefix("localhost/").is_some_and(|path| {
            !path.is_empty() && !path.starts_with('/') && !path.split('/').any(|s| s == "..")
        }),
    }
}

/// `apparmor.ValidateProfileFormat`.
fn valid_apparmor_profile(p: &str) -> bool {
    p.is_empty() || p == "runtime/default" || p == "unconfined" || p.starts_with("localhost/")
}

/// `ValidateCSIDriverName`.
fn valid_csi_driver_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// The volume types a PSP may list (`GetAllFSTypesAsSet`, `ephemeral`, and `*`).
pub fn psp_volume_types() -> Vec<&'static str> {
    let mut v: Vec<&str> = VOLUME_SOURCES.iter().map(|(_, t)| *t).collect();
    v.push("*");
    v
}

/// `ValidatePodSecurityPolicy` (name, `ValidatePodSecurityPolicySpecificAnnotations`,
/// `ValidatePodSecurityPolicySpec` and helpers) after the API server's PSP defaulting. Returns
/// one message per field error; empty means the API server accepted the object. Host-port
/// ranges are not validated (the Go code has no check for them).
pub fn validate_psp(obj: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let mut obj = obj.clone();
    strip_nulls(&mut obj);
    let psp = Psp::from_value(&obj);
    if !is_dns_subdomain(&psp.name) {
        errs.push(invalid(
            "metadata.name",
            &quote(&psp.name),
            "a lowercase RFC 1123 subdomain",
        ));
    }
    // ValidatePodSecurityPolicySpecificAnnotations
    let apath = "metadata.annotations";
    if !valid_apparmor_profile(&psp.apparmor_default) {
        errs.push(invalid(
            &format!("{apath}[{APPARMOR_DEFAULT}]"),
            &quote(&psp.apparmor_default),
            "invalid AppArmor profile name",
        ));
    }
    if let Some(raw) = psp.apparmor_allowed.as_ref().filter(|r| !r.is_empty()) {
        for p in raw.split(',') {
            if !valid_apparmor_profile(p) {
                errs.push(invalid(
                    &format!("{apath}[{APPARMOR_ALLOWED}]"),
                    &quote(raw),
                    &format!("invalid AppArmor profile name: {}", quote(p)),
                ));
            }
        }
    }
    if !psp.seccomp_default.is_empty() && !valid_seccomp_profile(&psp.seccomp_default) {
        errs.push(invalid(
            &format!("{apath}[{SECCOMP_DEFAULT}]"),
            &quote(&psp.seccomp_default),
            "must be a valid seccomp profile",
        ));
    }
    if let Some(raw) = psp.seccomp_allowed.as_ref().filter(|r| !r.is_empty()) {
        for p in raw.split(',') {
            if p != "*" && !valid_seccomp_profile(p) {
                errs.push(invalid(
                    &format!("{apath}[{SECCOMP_ALLOWED}]"),
                    &quote(p),
                    "must be a valid seccomp profile",
                ));
            }
        }
    }
    // ValidatePodSecurityPolicySpec
    let id_ranges = |errs: &mut Vec<String>, path: &str, ranges: &[(i64, i64)]| {
        // validateIDRanges
        for (i, (min, max)) in ranges.iter().enumerate() {
            let p = format!("{path}.ranges[{i}]");
            if *min < 0 {
                errs.push(invalid(
                    &format!("{p}.min"),
                    &min.to_string(),
                    "min cannot be negative",
                ));
            }
            if *max < 0 {
                errs.push(invalid(
                    &format!("{p}.max"),
                    &max.to_string(),
                    "max cannot be negative",
                ));
            }
            if min > max {
                errs.push(invalid(
                    &format!("{p}.min"),
                    &min.to_string(),
                    "min cannot be greater than max",
                ));
            }
        }
    };
    let not_supported = |path: &str, v: &str, allowed: &[&str]| {
        format!(
            "{path}: Unsupported value: {}: supported values: {}",
            quote(v),
            allowed
                .iter()
                .map(|a| quote(a))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    // validatePSPRunAsUser
    let rules = ["MustRunAs", "MustRunAsNonRoot", "RunAsAny"];
    if !rules.contains(&psp.run_as_user.rule.as_str()) {
        errs.push(not_supported(
            "spec.runAsUser.rule",
            &psp.run_as_user.rule,
            &rules,
        ));
    }
    id_ranges(&mut errs, "spec.runAsUser", &psp.run_as_user.ranges);
    // validatePSPRunAsGroup
    if let Some(g) = &psp.run_as_group {
        match g.rule.as_str() {
            "RunAsAny" => {
                if !g.ranges.is_empty() {
                    errs.push(invalid(
                        "spec.runAsGroup.ranges",
                        "[]",
                        "Ranges must be empty",
                    ));
                }
            }
            "MustRunAs" | "MayRunAs" => {
                if g.ranges.is_empty() {
                    errs.push(invalid(
                        "spec.runAsGroup.ranges",
                        "[]",
                        "must provide at least one range",
                    ));
                }
                id_ranges(&mut errs, "spec.runAsGroup", &g.ranges);
            }
            r => errs.push(not_supported(
                "spec.runAsGroup.rule",
                r,
                &["MustRunAs", "RunAsAny", "MayRunAs"],
            )),
        }
    }
    // validatePSPSELinux
    if !["MustRunAs", "RunAsAny"].contains(&psp.se_linux_rule.as_str()) {
        errs.push(not_supported(
            "spec.seLinux.rule",
            &psp.se_linux_rule,
            &["MustRunAs", "RunAsAny"],
        ));
    }
    // validatePSPSupplementalGroup / validatePSPFSGroup
    for (path, g) in [
        ("spec.supplementalGroups", &psp.supplemental_groups),
        ("spec.fsGroup", &psp.fs_group),
    ] {
        let rules = ["MayRunAs", "MustRunAs", "RunAsAny"];
        if !rules.contains(&g.rule.as_str()) {
            errs.push(not_supported(&format!("{path}.rule"), &g.rule, &rules));
        }
        id_ranges(&mut errs, path, &g.ranges);
    }
    // validatePodSecurityPolicyVolumes
    let types = psp_volume_types();
    for v in &psp.volumes {
        if !types.contains(&v.as_str()) {
            errs.push(not_supported("spec.volumes", v, &types));
        }
    }
    if !psp.required_drop_capabilities.is_empty()
        && psp.allowed_capabilities.iter().any(|c| c == "*")
    {
        errs.push(invalid(
            "requiredDropCapabilities",
            &format!("{:?}", psp.required_drop_capabilities),
            "must be empty when all capabilities are allowed by a wildcard",
        ));
    }
    // validatePSPCapsAgainstDrops
    for (field, list) in [
        ("defaultAddCapabilities", &psp.default_add_capabilities),
        ("allowedCapabilities", &psp.allowed_capabilities),
    ] {
        for c in list {
            if psp.required_drop_capabilities.contains(c) {
                errs.push(invalid(
                    field,
                    &quote(c),
                    &format!("capability is listed in {field} and requiredDropCapabilities"),
                ));
            }
        }
    }
    // validatePSPDefaultAllowPrivilegeEscalation (after defaulting allowPrivilegeEscalation)
    if psp.default_allow_privilege_escalation == Some(true) && !psp.allow_privilege_escalation {
        errs.push(invalid(
            "spec.defaultAllowPrivilegeEscalation",
            "true",
            "Cannot set DefaultAllowPrivilegeEscalation to true without also setting AllowPrivilegeEscalation to true",
        ));
    }
    // validatePSPAllowedProcMountTypes (ValidateProcMountType)
    for (i, t) in psp.allowed_proc_mount_types.iter().enumerate() {
        if t != "Default" && t != "Unmasked" {
            errs.push(not_supported(
                &format!("spec.allowedProcMountTypes[{i}]"),
                t,
                &["Default", "Unmasked"],
            ));
        }
    }
    // validatePSPAllowedHostPaths
    for (i, (prefix, _)) in psp.allowed_host_paths.iter().enumerate() {
        if prefix.is_empty() {
            errs.push(required(
                &format!("spec.allowedHostPaths[{i}]"),
                "is required",
            ));
            break;
        }
        if prefix.split('/').any(|s| s == "..") {
            errs.push(invalid(
                &format!("spec.allowedHostPaths[{i}]"),
                &quote(prefix),
                "must not contain '..'",
            ));
        }
    }
    // validatePSPAllowedFlexVolumes
    for (i, d) in psp.allowed_flex_volumes.iter().enumerate() {
        if d.is_empty() {
            errs.push(required(
                &format!("spec.allowedFlexVolumes.allowedFlexVolumes[{i}].driver"),
                "must specify a driver",
            ));
        }
    }
    // validatePSPAllowedCSIDrivers (ValidateCSIDriverName)
    for (i, d) in psp.allowed_csi_drivers.iter().enumerate() {
        if !valid_csi_driver_name(d) {
            errs.push(invalid(
                &format!("spec.allowedCSIDrivers.allowedCSIDriver[{i}].name"),
                &quote(d),
                "invalid CSI driver name",
            ));
        }
    }
    // validatePodSecurityPolicySysctls
    for (field, list) in [
        ("allowedUnsafeSysctls", &psp.allowed_unsafe_sysctls),
        ("forbiddenSysctls", &psp.forbidden_sysctls),
    ] {
        let mut covers_all = false;
        for (i, s) in list.iter().enumerate() {
            let p = format!("spec.{field}[{i}]");
            if s.is_empty() {
                errs.push(invalid(&p, "\"\"", "empty sysctl not allowed"));
            } else if !valid_sysctl_pattern(s) {
                errs.push(invalid(
                    &p,
                    &quote(s),
                    "must have at most 253 characters and match regex",
                ));
            } else if s.starts_with('*') {
                covers_all = true;
            }
        }
        if covers_all && list.len() > 1 {
            errs.push(forbidden(
                &format!("spec.{field}.items"),
                "if '*' is present, must not specify other sysctls",
            ));
        }
    }
    // validatePodSecurityPolicySysctlListsDoNotOverlap
    for (i, a) in psp.allowed_unsafe_sysctls.iter().enumerate() {
        for (j, f) in psp.forbidden_sysctls.iter().enumerate() {
            let ap = a.strip_suffix('*');
            let fp = f.strip_suffix('*');
            let overlap = match (ap, fp) {
                (Some(ap), Some(fp)) => {
                    if ap.starts_with(fp) {
                        Some(format!("spec.allowedUnsafeSysctls[{i}]"))
                    } else if fp.starts_with(ap) {
                        Some(format!("spec.forbiddenSysctls[{j}]"))
                    } else {
                        None
                    }
                }
                (Some(ap), None) => f
                    .starts_with(ap)
                    .then(|| format!("spec.forbiddenSysctls[{j}]")),
                (None, Some(fp)) => a
                    .starts_with(fp)
                    .then(|| format!("spec.allowedUnsafeSysctls[{i}]")),
                (None, None) => (a == f).then(|| format!("spec.allowedUnsafeSysctls[{i}]")),
            };
            if let Some(p) = overlap {
                errs.push(invalid(&p, &quote(a), &format!("sysctl overlaps with {f}")));
            }
        }
    }
    // validateRuntimeClassStrategy
    if let Some((allowed, default)) = &psp.runtime_class {
        let mut seen = HashSet::new();
        for (i, n) in allowed.iter().enumerate() {
            let p = format!("spec.runtimeClass.allowedRuntimeClassNames[{i}]");
            if n != "*" && !is_dns_subdomain(n) {
                errs.push(invalid(&p, &quote(n), "a lowercase RFC 1123 subdomain"));
            }
            if !seen.insert(n.as_str()) {
                errs.push(format!("{p}: Duplicate value: {}", quote(n)));
            }
        }
        if let Some(d) = default {
            if !is_dns_subdomain(d) {
                errs.push(invalid(
                    "spec.runtimeClass.defaultRuntimeClassName",
                    &quote(d),
                    "a lowercase RFC 1123 subdomain",
                ));
            }
            if !seen.contains(d.as_str()) && !seen.contains("*") {
                errs.push(required(
                    "spec.runtimeClass.allowedRuntimeClassNames",
                    &format!("default runtimeclass {} must be allowed", quote(d)),
                ));
            }
        }
        if seen.contains("*") && allowed.len() > 1 {
            errs.push(invalid(
                "spec.runtimeClass.allowedRuntimeClassNames",
                &format!("{allowed:?}"),
                "if '*' is present, must not specify other RuntimeClass names",
            ));
        }
    }
    errs
}
