//! PodSecurityPolicy → IR: validation the way the API server did it, then lowering of every spec
//! field and the seccomp/AppArmor/`falco-rules-psp-images` annotations.
//!
//! PSP semantics that matter (see `domain-notes.md`):
//! - unset `privileged`/`hostNetwork`/`hostPID`/`hostIPC` mean **not allowed**; unset `hostPorts`
//!   means no host ports; empty `volumes` means none; unset `allowPrivilegeEscalation` means
//!   allowed;
//! - `MustRunAs` strategies default pods to the first range's `min`; `MustRunAsNonRoot`,
//!   `readOnlyRootFilesystem`, `default*` fields and `requiredDropCapabilities` mutate pods.
//!   Those become [`Defaulting`]s, kept apart from the validating [`Rule`]s.

use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{
    Constraint, DefaultAction, Defaulting, GroupField, HostNamespace, HostPathRule, IdRange,
    NameSet, Origin, Policy, ProfileSource, Provenance, Rule, Scope, SourceLocation,
    normalise_ranges, seccomp_profiles,
};
use crate::load::{Node, Object, Value};

/// The `apiVersion`s a PodSecurityPolicy may have.
pub const API_VERSIONS: &[&str] = &["policy/v1beta1", "extensions/v1beta1"];

pub const SECCOMP_ALLOWED: &str = "seccomp.security.alpha.kubernetes.io/allowedProfileNames";
pub const SECCOMP_DEFAULT: &str = "seccomp.security.alpha.kubernetes.io/defaultProfileName";
pub const APPARMOR_ALLOWED: &str = "apparmor.security.beta.kubernetes.io/allowedProfileNames";
pub const APPARMOR_DEFAULT: &str = "apparmor.security.beta.kubernetes.io/defaultProfileName";
pub const FALCO_IMAGES: &str = "falco-rules-psp-images";

/// Every field of `PodSecurityPolicySpec`.
pub const SPEC_FIELDS: &[&str] = &[
    "allowPrivilegeEscalation",
    "allowedCSIDrivers",
    "allowedCapabilities",
    "allowedFlexVolumes",
    "allowedHostPaths",
    "allowedProcMountTypes",
    "allowedUnsafeSysctls",
    "defaultAddCapabilities",
    "defaultAllowPrivilegeEscalation",
    "forbiddenSysctls",
    "fsGroup",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "hostPorts",
    "privileged",
    "readOnlyRootFilesystem",
    "requiredDropCapabilities",
    "runAsGroup",
    "runAsUser",
    "runtimeClass",
    "seLinux",
    "supplementalGroups",
    "volumes",
];

/// The names PSP's `volumes` accepts (`FSType`).
pub const VOLUME_TYPES: &[&str] = &[
    "*",
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephFS",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "iscsi",
    "nfs",
    "none",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
];

/// The sysctls kubelet treated as safe when PSP was removed (Kubernetes 1.24).
pub const PSP_SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
    "net.ipv4.tcp_syncookies",
];

/// Whether the object is a PodSecurityPolicy of any API version.
pub fn is_psp(o: &Object) -> bool {
    o.kind == "PodSecurityPolicy"
}

/// Validates and lowers every PodSecurityPolicy among `objects`. Errors of all PSPs are
/// reported together; warnings are returned alongside a successful result.
pub fn lower_all(objects: &[Object]) -> Result<(Vec<Policy>, Diagnostics), Diagnostics> {
    lower_all_with(objects, &Options::default())
}

/// Options of the PSP front end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Accept PSPs that lack a required strategy (`seLinux`, `runAsUser`, `supplementalGroups`,
    /// `fsGroup`), reading it as `RunAsAny` with a warning, as falcoctl did. The API server
    /// rejected such objects.
    pub lenient: bool,
}

/// [`lower_all`] with options.
pub fn lower_all_with(
    objects: &[Object],
    options: &Options,
) -> Result<(Vec<Policy>, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut policies: Vec<Policy> = Vec::new();
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    for o in objects.iter().filter(|o| is_psp(o)) {
        if let Some(p) = lower_with(o, options, &mut diags) {
            let here = o.short_location();
            if let Some(first) = seen.insert(p.name.clone(), here) {
                diags.push(
                    Diagnostic::error(format!(
                        "PodSecurityPolicy `{}` is defined twice (first at {first})",
                        p.name
                    ))
                    .at(o.location())
                    .with_help("PSP names are cluster-wide; rename or remove one"),
                );
                continue;
            }
            policies.push(p);
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    policies.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((policies, diags))
}

/// Validates and lowers one PodSecurityPolicy. Returns `None` when it has errors (pushed to
/// `diags`).
pub fn lower(object: &Object, diags: &mut Diagnostics) -> Option<Policy> {
    lower_with(object, &Options::default(), diags)
}

/// [`lower`] with options.
pub fn lower_with(object: &Object, options: &Options, diags: &mut Diagnostics) -> Option<Policy> {
    let mut l = Lowerer {
        o: object,
        options: *options,
        errors: 0,
        diags,
        rules: Vec::new(),
        defaults: Vec::new(),
    };
    l.run();
    let errors = l.errors;
    let (rules, defaults) = (l.rules, l.defaults);
    if errors > 0 {
        return None;
    }
    let images = annotation(object, FALCO_IMAGES)
        .map(|(v, _)| parse_image_list(v))
        .unwrap_or_default();
    Some(Policy {
        name: object.name.clone(),
        origin: Origin::Psp {
            api_version: object.api_version.clone(),
            location: source_location(object, &object.node),
        },
        images,
        exempt_namespaces: vec![],
        exempt_images: vec![],
        rules,
        defaults,
    })
}

/// `"[nginx, busybox]"` → `["nginx", "busybox"]`.
pub fn parse_image_list(v: &str) -> Vec<String> {
    let inner = v.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn source_location(o: &Object, n: &Node) -> SourceLocation {
    SourceLocation {
        file: o.source.name.clone(),
        document: o.document,
        line: n.line,
        column: n.column,
    }
}

fn annotation<'a>(o: &'a Object, key: &str) -> Option<(&'a str, &'a Node)> {
    let n = o.node.path(&["metadata", "annotations", key])?;
    n.as_str().map(|s| (s, n))
}

/// What a `{min, max}` range list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    /// `spec.hostPorts`: `int32` bounds, not validated by the API server.
    HostPorts,
    /// `ranges` of the id strategies: `int64` bounds, `0 <= min <= max`.
    Ids,
}

impl RangeKind {
    fn help(self) -> &'static str {
        match self {
            RangeKind::HostPorts => {
                "the API server does not validate host-port ranges (kops shipped `max: 65536`); pods can only use ports 1-65535"
            }
            RangeKind::Ids => {
                "the API server accepts any non-negative 64-bit id; pods can only use ids up to 2147483647"
            }
        }
    }
}

struct Lowerer<'a> {
    o: &'a Object,
    options: Options,
    errors: usize,
    diags: &'a mut Diagnostics,
    rules: Vec<Rule>,
    defaults: Vec<Defaulting>,
}

impl<'a> Lowerer<'a> {
    fn spec(&self) -> Option<&'a Node> {
        self.o.node.get("spec")
    }

    fn node(&self, path: &[&str]) -> Option<&'a Node> {
        self.spec()?.path(path)
    }

    fn error(&mut self, node: &Node, message: String, help: Option<String>) {
        self.errors += 1;
        let mut d = Diagnostic::error(message).at(self.o.loc(node));
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.diags.push(d);
    }

    fn warn(&mut self, node: &Node, message: String, help: Option<String>) {
        let mut d = Diagnostic::warning(message).at(self.o.loc(node));
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.diags.push(d);
    }

    fn prov(&self, field: &str, node: Option<&Node>) -> Provenance {
        Provenance {
            field: field.to_string(),
            check: None,
            location: node.map(|n| source_location(self.o, n)),
        }
    }

    fn rule(&mut self, constraint: Constraint, field: &str, node: Option<&Node>) {
        let provenance = self.prov(field, node);
        self.rules.push(Rule {
            constraint,
            provenance,
            unless: vec![],
        });
    }

    fn default(&mut self, action: DefaultAction, field: &str, node: Option<&Node>) {
        let provenance = self.prov(field, node);
        self.defaults.push(Defaulting { action, provenance });
    }

    fn type_error(&mut self, node: &Node, path: &str, expected: &str) {
        self.error(
            node,
            format!(
                "`{path}` must be {expected}, found {} {}",
                article(node.type_name()),
                node.type_name()
            ),
            None,
        );
    }

    fn bool_field(&mut self, name: &str) -> (Option<bool>, Option<&'a Node>) {
        match self.node(&[name]) {
            None => (None, None),
            Some(n) => (self.boolean(n, &format!("spec.{name}")), Some(n)),
        }
    }

    /// A boolean as `kubectl` read it: YAML 1.1 spellings (`yes`, `on`, …) with a warning.
    fn boolean(&mut self, n: &Node, path: &str) -> Option<bool> {
        match (&n.value, n.yaml11_bool) {
            (Value::Bool(b), _) => Some(*b),
            (Value::String(s), Some(b)) => {
                self.warn(
                    n,
                    format!("`{path}` is the YAML 1.1 boolean `{s}`; read as `{b}`"),
                    Some(format!(
                        "kubectl reads `{s}` as `{b}`, YAML 1.2 tools as a string; write `{b}`"
                    )),
                );
                Some(b)
            }
            (Value::String(s), None) if crate::load::yaml11_bool(s).is_some() => {
                let b = crate::load::yaml11_bool(s).unwrap_or_default();
                self.error(
                    n,
                    format!("`{path}` must be a boolean, found the quoted string `{s}`"),
                    Some(format!(
                        "quoted, `{s}` is a string to kubectl too, which the API server refused; write `{b}`"
                    )),
                );
                None
            }
            _ => {
                self.type_error(n, path, "a boolean");
                None
            }
        }
    }

    fn seq_field(&mut self, path: &str, node: Option<&'a Node>) -> Vec<&'a Node> {
        match node {
            None => vec![],
            Some(n) => match n.as_seq() {
                Some(items) => items.iter().collect(),
                None => {
                    self.type_error(n, path, "a list");
                    vec![]
                }
            },
        }
    }

    fn string_list(&mut self, name: &str) -> (Vec<(String, &'a Node)>, Option<&'a Node>) {
        let node = self.node(&[name]);
        let items = self.seq_field(&format!("spec.{name}"), node);
        let mut out = Vec::new();
        for (i, it) in items.into_iter().enumerate() {
            match it.as_str() {
                Some(s) => out.push((s.to_string(), it)),
                None => self.type_error(it, &format!("spec.{name}[{i}]"), "a string"),
            }
        }
        (out, node)
    }

    fn int(&mut self, node: &Node, path: &str) -> Option<i64> {
        match node.value {
            Value::Int(i) => Some(i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            Value::Float(f) if f.fract() == 0.0 || f.is_infinite() => {
                self.error(
                    node,
                    format!("`{path}` is out of range"),
                    Some("ids are 64-bit integers and host ports 32-bit ones".into()),
                );
                None
            }
            _ => {
                self.type_error(node, path, "an integer");
                None
            }
        }
    }

    fn run(&mut self) {
        let o = self.o;
        if !API_VERSIONS.contains(&o.api_version.as_str()) {
            let at = o.node.get("apiVersion").unwrap_or(&o.node);
            self.error(
                at,
                format!(
                    "`apiVersion` `{}` is not a PodSecurityPolicy version",
                    o.api_version
                ),
                Some("use `policy/v1beta1` (or the older `extensions/v1beta1`)".into()),
            );
        }
        if o.name.is_empty() {
            self.error(
                &o.node,
                "PodSecurityPolicy has no `metadata.name`".into(),
                None,
            );
        } else if !is_dns_subdomain(&o.name) {
            let at = o.node.path(&["metadata", "name"]).unwrap_or(&o.node);
            let message = format!(
                "`metadata.name` `{}` is not a valid object name",
                o.name.escape_debug()
            );
            let help = "names are lowercase letters, digits, `-` and `.`, at most 253 characters, starting and ending with a letter or digit";
            if self.options.lenient {
                self.warn(
                    at,
                    message,
                    Some(format!("{help}; accepted with `--lenient`")),
                );
            } else {
                self.error(at, message, Some(format!("{help}; `--lenient` accepts it")));
            }
        }
        let Some(spec) = self.spec() else {
            self.error(
                &o.node,
                "PodSecurityPolicy has no `spec`".into(),
                Some(
                    "`spec.seLinux`, `spec.runAsUser`, `spec.supplementalGroups` and `spec.fsGroup` are required"
                        .into(),
                ),
            );
            return;
        };
        let Some(entries) = spec.as_map() else {
            self.type_error(spec, "spec", "a mapping");
            return;
        };
        for (k, v) in entries {
            if !SPEC_FIELDS.contains(&k.as_str()) {
                let help = suggest(k, SPEC_FIELDS).map(|s| format!("did you mean `{s}`?"));
                self.warn(
                    v,
                    format!("unknown field `spec.{k}` is ignored"),
                    help.or(Some("PSP fields are case-sensitive".into())),
                );
            }
        }
        self.host_and_privileged();
        self.host_ports();
        self.volumes();
        self.capabilities();
        self.run_as_user();
        for field in [
            GroupField::RunAsGroup,
            GroupField::SupplementalGroups,
            GroupField::FsGroup,
        ] {
            self.group_strategy(field);
        }
        self.selinux();
        self.read_only_and_escalation();
        self.proc_mount();
        self.sysctls();
        self.runtime_class();
        self.seccomp();
        self.apparmor();
    }

    fn host_and_privileged(&mut self) {
        let (privileged, n) = self.bool_field("privileged");
        self.rule(
            Constraint::Privileged {
                allowed: privileged.unwrap_or(false),
            },
            "spec.privileged",
            n,
        );
        for ns in HostNamespace::ALL {
            let (v, n) = self.bool_field(ns.pod_field());
            self.rule(
                Constraint::HostNamespace {
                    namespace: ns,
                    allowed: v.unwrap_or(false),
                },
                &format!("spec.{}", ns.pod_field()),
                n,
            );
        }
    }

    /// Reads a list of `{min, max}` ranges the way the API server did: host-port ranges
    /// ([`RangeKind::HostPorts`], `int32`, never validated) are accepted whatever their bounds,
    /// with a warning where they reach beyond what a pod can use; id ranges
    /// ([`RangeKind::Ids`], `int64`) must satisfy `0 <= min <= max`.
    fn range_list(&mut self, path: &str, node: Option<&'a Node>, kind: RangeKind) -> Vec<IdRange> {
        let items = self.seq_field(path, node);
        let mut out = Vec::new();
        let (decodable, usable) = match kind {
            RangeKind::HostPorts => (i64::from(i32::MIN)..=i64::from(i32::MAX), 0..=65535),
            RangeKind::Ids => (i64::MIN..=i64::MAX, 0..=i64::from(i32::MAX)),
        };
        for (i, it) in items.into_iter().enumerate() {
            let p = format!("{path}[{i}]");
            if it.as_map().is_none() {
                self.type_error(it, &p, "a mapping with `min` and `max`");
                continue;
            }
            let mut get = |k: &str| -> Option<(i64, &'a Node)> {
                match it.get(k) {
                    None => {
                        self.error(it, format!("`{p}.{k}` is required"), None);
                        None
                    }
                    Some(n) => {
                        let v = self.int(n, &format!("{p}.{k}"))?;
                        if !decodable.contains(&v) {
                            self.error(
                                n,
                                format!("`{p}.{k}` is out of range"),
                                Some("host ports are 32-bit integers".into()),
                            );
                            return None;
                        }
                        if kind == RangeKind::Ids && v < 0 {
                            self.error(
                                n,
                                format!("`{p}.{k}` must not be negative, found {v}"),
                                None,
                            );
                            return None;
                        }
                        Some((v, n))
                    }
                }
            };
            let (Some((min, _)), Some((max, max_node))) = (get("min"), get("max")) else {
                continue;
            };
            if min > max {
                match kind {
                    RangeKind::Ids => self.error(
                        it,
                        format!("`{p}`: `min` ({min}) is greater than `max` ({max})"),
                        Some("swap the bounds".into()),
                    ),
                    RangeKind::HostPorts => self.warn(
                        it,
                        format!("`{p}`: `min` ({min}) is greater than `max` ({max}); the range allows no port"),
                        Some("the API server accepted it unchecked; swap the bounds if a range was meant".into()),
                    ),
                }
                continue;
            }
            let (lo, hi) = (*usable.start(), *usable.end());
            let clamped = IdRange {
                min: min.max(lo),
                max: max.min(hi),
            };
            if clamped.min > clamped.max {
                self.warn(
                    it,
                    format!(
                        "`{p}` (min {min}, max {max}) lies outside {lo}-{hi} and allows nothing"
                    ),
                    Some(kind.help().into()),
                );
                continue;
            }
            if (clamped.min, clamped.max) != (min, max) {
                let at = if clamped.max != max { max_node } else { it };
                self.warn(
                    at,
                    format!(
                        "`{p}` (min {min}, max {max}) reaches beyond {lo}-{hi}; read as {}-{}",
                        clamped.min, clamped.max
                    ),
                    Some(kind.help().into()),
                );
            }
            out.push(clamped);
        }
        normalise_ranges(out)
    }

    fn host_ports(&mut self) {
        let n = self.node(&["hostPorts"]);
        let ranges = self.range_list("spec.hostPorts", n, RangeKind::HostPorts);
        self.rule(
            Constraint::HostPorts { allowed: ranges },
            "spec.hostPorts",
            n,
        );
    }

    fn volumes(&mut self) {
        let (vols, n) = self.string_list("volumes");
        for (v, node) in &vols {
            if !VOLUME_TYPES.contains(&v.as_str()) {
                let help = suggest(v, VOLUME_TYPES)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        format!("volume types are {}", VOLUME_TYPES[1..].join(", "))
                    });
                self.error(
                    node,
                    format!("`spec.volumes` has unknown volume type `{v}`"),
                    Some(help),
                );
            }
        }
        let names: Vec<String> = vols
            .iter()
            .map(|(v, _)| v.clone())
            .filter(|v| v != "none")
            .collect();
        let allowed = NameSet::only(names.iter().cloned());
        self.rule(
            Constraint::Volumes {
                allowed: allowed.clone(),
            },
            "spec.volumes",
            n,
        );

        // allowedHostPaths
        let hp = self.node(&["allowedHostPaths"]);
        let items = self.seq_field("spec.allowedHostPaths", hp);
        let mut paths = Vec::new();
        for (i, it) in items.into_iter().enumerate() {
            let p = format!("spec.allowedHostPaths[{i}]");
            match it.get("pathPrefix") {
                None => self.error(
                    it,
                    format!("`{p}.pathPrefix` is required"),
                    Some("give an absolute path such as `/var/log`".into()),
                ),
                Some(pn) => match pn.as_str() {
                    None => self.type_error(pn, &format!("{p}.pathPrefix"), "a string"),
                    Some("") => self.error(
                        pn,
                        format!("`{p}.pathPrefix` must not be empty"),
                        Some("give an absolute path such as `/var/log`; the API server refuses an empty prefix".into()),
                    ),
                    Some(prefix) => {
                        if prefix.split('/').any(|seg| seg == "..") {
                            self.error(pn, format!("`{p}.pathPrefix` must not contain `..`"), None);
                            continue;
                        }
                        let read_only = match it.get("readOnly") {
                            None => false,
                            Some(r) => self.boolean(r, &format!("{p}.readOnly")).unwrap_or(false),
                        };
                        paths.push(HostPathRule {
                            path_prefix: prefix.to_string(),
                            read_only,
                        });
                    }
                },
            }
        }
        if !paths.is_empty() {
            paths.sort();
            paths.dedup();
            self.rule(
                Constraint::HostPaths { allowed: paths },
                "spec.allowedHostPaths",
                hp,
            );
        }
        for (field, key, make) in [
            (
                "allowedFlexVolumes",
                "driver",
                (|v| Constraint::FlexVolumeDrivers { allowed: v }) as fn(Vec<String>) -> Constraint,
            ),
            (
                "allowedCSIDrivers",
                "name",
                (|v| Constraint::CsiDrivers { allowed: v }) as fn(Vec<String>) -> Constraint,
            ),
        ] {
            let n = self.node(&[field]);
            let items = self.seq_field(&format!("spec.{field}"), n);
            let mut drivers = Vec::new();
            for (i, it) in items.into_iter().enumerate() {
                match it.get(key).and_then(Node::as_str) {
                    Some(d)
                        if field == "allowedCSIDrivers"
                            && !d.is_empty()
                            && (d.len() > 63 || !is_dns_subdomain(&d.to_lowercase())) =>
                    {
                        let at = it.get(key).unwrap_or(it);
                        self.error(
                            at,
                            format!("`spec.{field}[{i}].{key}` `{}` is not a CSI driver name", d.escape_debug()),
                            Some("CSI driver names are at most 63 characters of letters, digits, `-` and `.`, starting and ending with a letter or digit (like `csi.example.com`)".into()),
                        );
                    }
                    Some(d) if !d.is_empty() => drivers.push(d.to_string()),
                    _ => self.error(
                        it,
                        format!("`spec.{field}[{i}].{key}` is required and must be a string"),
                        None,
                    ),
                }
            }
            if !drivers.is_empty() {
                drivers.sort();
                drivers.dedup();
                self.rule(make(drivers), &format!("spec.{field}"), n);
            }
        }
    }

    fn capabilities(&mut self) {
        let (allowed, an) = self.string_list("allowedCapabilities");
        let (default_add, dn) = self.string_list("defaultAddCapabilities");
        let (drop, rn) = self.string_list("requiredDropCapabilities");
        for (field, list) in [
            ("allowedCapabilities", &allowed),
            ("defaultAddCapabilities", &default_add),
            ("requiredDropCapabilities", &drop),
        ] {
            for (c, node) in list.iter() {
                if c == "*" && field == "allowedCapabilities" {
                    continue;
                }
                if c.is_empty()
                    || !c
                        .chars()
                        .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_')
                {
                    let help = if c.starts_with("CAP_") || c.starts_with("cap_") {
                        format!(
                            "Kubernetes capability names have no `CAP_` prefix: `{}`",
                            c[4..].to_uppercase()
                        )
                    } else {
                        format!(
                            "capability names are upper case, e.g. `{}`",
                            c.to_uppercase()
                        )
                    };
                    self.warn(
                        node,
                        format!("`spec.{field}` entry `{c}` is not a Linux capability name and matches nothing"),
                        Some(help),
                    );
                } else if let Some(rest) = c.strip_prefix("CAP_") {
                    self.warn(
                        node,
                        format!("`spec.{field}` entry `{c}` has a `CAP_` prefix, which Kubernetes does not strip"),
                        Some(format!("write `{rest}`")),
                    );
                }
            }
        }
        // The API server refuses required drops next to a `*` in `allowedCapabilities`.
        if !drop.is_empty() {
            if let Some((_, star)) = allowed.iter().find(|(c, _)| c == "*") {
                self.error(
                    rn.unwrap_or(star),
                    "`spec.requiredDropCapabilities` must be empty when `spec.allowedCapabilities` allows every capability with `*`".into(),
                    Some("the API server refuses this combination; list the allowed capabilities, or drop nothing".into()),
                );
            }
        }
        // A capability cannot be both required-dropped and allowed/defaulted.
        for (c, node) in allowed.iter().chain(default_add.iter()) {
            if drop.iter().any(|(d, _)| d == c) {
                self.error(
                    node,
                    format!("capability `{c}` is both in `spec.requiredDropCapabilities` and allowed to be added"),
                    Some("remove it from one of the lists".into()),
                );
            }
        }
        let drops: Vec<String> = drop.iter().map(|(c, _)| c.clone()).collect();
        let adds = allowed
            .iter()
            .chain(default_add.iter())
            .map(|(c, _)| c.clone());
        let mut set = NameSet::only(adds);
        if set == NameSet::Any && !drops.is_empty() {
            set = NameSet::any_except(drops.iter().cloned());
        }
        let field = if an.is_some() || dn.is_none() {
            "spec.allowedCapabilities"
        } else {
            "spec.defaultAddCapabilities"
        };
        self.rule(
            Constraint::AddCapabilities { allowed: set },
            field,
            an.or(dn),
        );
        if !default_add.is_empty() {
            let mut caps: Vec<String> = default_add.iter().map(|(c, _)| c.clone()).collect();
            caps.sort();
            caps.dedup();
            self.default(
                DefaultAction::AddCapabilities { capabilities: caps },
                "spec.defaultAddCapabilities",
                dn,
            );
        }
        if !drops.is_empty() {
            let mut caps = drops;
            caps.sort();
            caps.dedup();
            self.default(
                DefaultAction::DropCapabilities { capabilities: caps },
                "spec.requiredDropCapabilities",
                rn,
            );
        }
    }

    /// Reads `spec.<name>.rule` and `.ranges`; reports a missing required strategy.
    fn strategy(
        &mut self,
        name: &str,
        rules: &[&str],
        required: bool,
    ) -> Option<(String, Vec<IdRange>, &'a Node)> {
        let path = format!("spec.{name}");
        let Some(n) = self.node(&[name]) else {
            if required && self.options.lenient {
                let at = self.spec().unwrap_or(&self.o.node);
                self.warn(
                    at,
                    format!("`{path}` is missing; read as `RunAsAny` (`--lenient`)"),
                    Some("the API server rejects a PSP without it".into()),
                );
            } else if required {
                let at = self.spec().unwrap_or(&self.o.node);
                self.error(
                    at,
                    format!("`{path}` is required"),
                    Some(format!(
                        "add `{name}: {{rule: RunAsAny}}` to allow any value, or `MustRunAs` with ranges; `--lenient` reads a missing strategy as `RunAsAny`"
                    )),
                );
            }
            return None;
        };
        if n.as_map().is_none() {
            self.type_error(n, &path, "a mapping");
            return None;
        }
        let Some(rn) = n.get("rule") else {
            self.error(
                n,
                format!("`{path}.rule` is required"),
                Some(format!("one of {}", quote_list(rules))),
            );
            return None;
        };
        let Some(rule) = rn.as_str() else {
            self.type_error(rn, &format!("{path}.rule"), "a string");
            return None;
        };
        if !rules.contains(&rule) {
            let help = suggest(rule, rules)
                .map(|s| format!("PSP rules are case-sensitive; did you mean `{s}`?"))
                .unwrap_or_else(|| format!("found `{rule}`"));
            self.error(
                rn,
                format!("`{path}.rule` must be one of {}", quote_list(rules)),
                Some(help),
            );
            return None;
        }
        let ranges = self.range_list(&format!("{path}.ranges"), n.get("ranges"), RangeKind::Ids);
        let no_ranges_given = n
            .get("ranges")
            .is_none_or(|r| r.as_seq().is_some_and(|s| s.is_empty()));
        if rule == "MustRunAs" && no_ranges_given {
            self.error(
                n,
                format!("`{path}.ranges` must not be empty when `rule` is `MustRunAs`"),
                Some("give at least one `{min: …, max: …}` range".into()),
            );
            return None;
        }
        Some((rule.to_string(), ranges, n))
    }

    fn run_as_user(&mut self) {
        let Some((rule, ranges, n)) = self.strategy(
            "runAsUser",
            &["MustRunAs", "MustRunAsNonRoot", "RunAsAny"],
            true,
        ) else {
            return;
        };
        match rule.as_str() {
            "MustRunAs" => {
                let first = ranges_first_min(&ranges);
                self.rule(
                    Constraint::RunAsUser {
                        ranges,
                        required: true,
                        scope: Scope::Effective,
                    },
                    "spec.runAsUser",
                    Some(n),
                );
                self.default(
                    DefaultAction::RunAsUser { value: first },
                    "spec.runAsUser",
                    Some(n),
                );
            }
            "MustRunAsNonRoot" => {
                self.rule(
                    Constraint::RunAsNonRoot {
                        nonzero_uid_suffices: true,
                        scope: Scope::Effective,
                    },
                    "spec.runAsUser",
                    Some(n),
                );
                self.default(DefaultAction::RunAsNonRoot, "spec.runAsUser", Some(n));
            }
            _ => {}
        }
    }

    fn group_strategy(&mut self, field: GroupField) {
        let name = field.as_str();
        let required = field != GroupField::RunAsGroup;
        let Some((rule, ranges, n)) =
            self.strategy(name, &["MustRunAs", "MayRunAs", "RunAsAny"], required)
        else {
            return;
        };
        let path = format!("spec.{name}");
        match rule.as_str() {
            "MustRunAs" => {
                let first = ranges_first_min(&ranges);
                self.rule(
                    Constraint::GroupIds {
                        field,
                        ranges,
                        required: true,
                    },
                    &path,
                    Some(n),
                );
                self.default(
                    DefaultAction::GroupId {
                        field,
                        value: first,
                    },
                    &path,
                    Some(n),
                );
            }
            "MayRunAs" => {
                let no_ranges_given = n
                    .get("ranges")
                    .is_none_or(|r| r.as_seq().is_some_and(|s| s.is_empty()));
                if no_ranges_given {
                    self.error(
                        n,
                        format!("`{path}.ranges` must not be empty when `rule` is `MayRunAs`"),
                        None,
                    );
                    return;
                }
                self.rule(
                    Constraint::GroupIds {
                        field,
                        ranges,
                        required: false,
                    },
                    &path,
                    Some(n),
                );
            }
            _ => {
                let ranges_given = n
                    .get("ranges")
                    .is_some_and(|r| r.as_seq().is_some_and(|s| !s.is_empty()));
                if field == GroupField::RunAsGroup && ranges_given {
                    self.error(
                        n.get("ranges").unwrap_or(n),
                        format!("`{path}.ranges` must be empty when `rule` is `RunAsAny`"),
                        Some("the API server refuses ranges under `runAsGroup: {rule: RunAsAny}`; remove them or use `MustRunAs`/`MayRunAs`".into()),
                    );
                }
            }
        }
    }

    fn selinux(&mut self) {
        let path = "spec.seLinux";
        let Some(n) = self.node(&["seLinux"]) else {
            let at = self.spec().unwrap_or(&self.o.node);
            if self.options.lenient {
                self.warn(
                    at,
                    format!("`{path}` is missing; read as `RunAsAny` (`--lenient`)"),
                    Some("the API server rejects a PSP without it".into()),
                );
            } else {
                self.error(
                    at,
                    format!("`{path}` is required"),
                    Some("add `seLinux: {rule: RunAsAny}` to allow any SELinux options; `--lenient` reads a missing strategy as `RunAsAny`".into()),
                );
            }
            return;
        };
        let rules = ["MustRunAs", "RunAsAny"];
        let Some(rule) = n.get("rule").and_then(Node::as_str) else {
            self.error(
                n,
                format!("`{path}.rule` is required"),
                Some(format!("one of {}", quote_list(&rules))),
            );
            return;
        };
        if !rules.contains(&rule) {
            let help = suggest(rule, &rules)
                .map(|s| format!("PSP rules are case-sensitive; did you mean `{s}`?"))
                .unwrap_or_else(|| format!("found `{rule}`"));
            self.error(
                n.get("rule").unwrap_or(n),
                format!("`{path}.rule` must be one of {}", quote_list(&rules)),
                Some(help),
            );
            return;
        }
        if rule == "RunAsAny" {
            return;
        }
        let Some(opts) = n.get("seLinuxOptions") else {
            self.error(
                n,
                format!("`{path}.seLinuxOptions` is required when `rule` is `MustRunAs`"),
                None,
            );
            return;
        };
        let part = |k: &str| opts.get(k).and_then(Node::as_str).unwrap_or("").to_string();
        let (user, role, type_, level) = (part("user"), part("role"), part("type"), part("level"));
        self.rule(
            Constraint::SeLinux {
                user: Some(vec![user.clone()]),
                role: Some(vec![role.clone()]),
                type_: Some(vec![type_.clone()]),
                level: Some(vec![level.clone()]),
                scope: Scope::Effective,
            },
            path,
            Some(n),
        );
        self.default(
            DefaultAction::SeLinuxOptions {
                user,
                role,
                type_,
                level,
            },
            path,
            Some(n),
        );
    }

    fn read_only_and_escalation(&mut self) {
        let (ro, n) = self.bool_field("readOnlyRootFilesystem");
        if ro == Some(true) {
            self.rule(
                Constraint::ReadOnlyRootFilesystem,
                "spec.readOnlyRootFilesystem",
                n,
            );
            self.default(
                DefaultAction::ReadOnlyRootFilesystem,
                "spec.readOnlyRootFilesystem",
                n,
            );
        }
        let (allow, an) = self.bool_field("allowPrivilegeEscalation");
        let (default, dn) = self.bool_field("defaultAllowPrivilegeEscalation");
        if allow == Some(false) && default == Some(true) {
            self.error(
                dn.or(an).unwrap_or(&self.o.node),
                "`spec.defaultAllowPrivilegeEscalation` cannot be `true` when `spec.allowPrivilegeEscalation` is `false`".into(),
                Some("set `defaultAllowPrivilegeEscalation: false` or allow escalation".into()),
            );
            return;
        }
        if allow == Some(false) {
            self.rule(
                Constraint::NoPrivilegeEscalation,
                "spec.allowPrivilegeEscalation",
                an,
            );
        }
        match default {
            Some(v) => self.default(
                DefaultAction::AllowPrivilegeEscalation { value: v },
                "spec.defaultAllowPrivilegeEscalation",
                dn,
            ),
            None if allow == Some(false) => self.default(
                DefaultAction::AllowPrivilegeEscalation { value: false },
                "spec.allowPrivilegeEscalation",
                an,
            ),
            None => {}
        }
    }

    fn proc_mount(&mut self) {
        let (types, n) = self.string_list("allowedProcMountTypes");
        for (t, node) in &types {
            if t != "Default" && t != "Unmasked" {
                let help =
                    suggest(t, &["Default", "Unmasked"]).map(|s| format!("did you mean `{s}`?"));
                self.error(
                    node,
                    "`spec.allowedProcMountTypes` entries must be one of `Default`, `Unmasked`"
                        .into(),
                    help.or(Some(format!("found `{t}`"))),
                );
            }
        }
        let mut names: Vec<String> = types.into_iter().map(|(t, _)| t).collect();
        names.push("Default".into());
        self.rule(
            Constraint::ProcMount {
                allowed: NameSet::only(names),
            },
            "spec.allowedProcMountTypes",
            n,
        );
    }

    fn sysctls(&mut self) {
        let (allowed, an) = self.string_list("allowedUnsafeSysctls");
        let (forbidden, fnode) = self.string_list("forbiddenSysctls");
        for (field, list) in [
            ("allowedUnsafeSysctls", &allowed),
            ("forbiddenSysctls", &forbidden),
        ] {
            for (s, node) in list.iter() {
                if !valid_sysctl_pattern(s) {
                    let help = if s.contains('/') {
                        "PSP sysctl names are dot-separated (`net.ipv4.conf.all.forwarding`); the API server refuses `/` here"
                    } else {
                        "a sysctl name like `net.core.somaxconn`, a prefix pattern like `kernel.msg*`, or `*`"
                    };
                    self.error(
                        node,
                        format!("`spec.{field}` entry `{s}` is not a sysctl name or pattern"),
                        Some(help.into()),
                    );
                }
            }
            if list.len() > 1 {
                if let Some((_, node)) = list.iter().find(|(s, _)| s == "*") {
                    self.error(
                        node,
                        format!("`spec.{field}` lists `*` together with other sysctls"),
                        Some("`*` already covers every sysctl; the API server refuses other entries next to it".into()),
                    );
                }
            }
        }
        for (a, node) in &allowed {
            if let Some((f, _)) = forbidden.iter().find(|(f, _)| sysctl_overlap(a, f)) {
                self.error(
                    node,
                    format!("sysctl `{a}` in `spec.allowedUnsafeSysctls` overlaps `{f}` in `spec.forbiddenSysctls`"),
                    Some("a sysctl cannot be both allowed and forbidden".into()),
                );
            }
        }
        if allowed.is_empty() && forbidden.is_empty() {
            // Only safe sysctls: still a constraint, unsafe ones are rejected.
        }
        let mut names: Vec<String> = PSP_SAFE_SYSCTLS.iter().map(|s| s.to_string()).collect();
        names.extend(allowed.iter().map(|(s, _)| s.clone()));
        let mut forb: Vec<String> = forbidden.iter().map(|(s, _)| s.clone()).collect();
        forb.sort();
        forb.dedup();
        let field = if an.is_some() || fnode.is_none() {
            "spec.allowedUnsafeSysctls"
        } else {
            "spec.forbiddenSysctls"
        };
        self.rule(
            Constraint::Sysctls {
                allowed: NameSet::only(names),
                forbidden: forb,
            },
            field,
            an.or(fnode),
        );
    }

    fn runtime_class(&mut self) {
        let Some(n) = self.node(&["runtimeClass"]) else {
            return;
        };
        let items = self.seq_field(
            "spec.runtimeClass.allowedRuntimeClassNames",
            n.get("allowedRuntimeClassNames"),
        );
        if n.get("allowedRuntimeClassNames").is_none() {
            self.warn(
                n,
                "`spec.runtimeClass.allowedRuntimeClassNames` is missing; read as empty: pods may not set `runtimeClassName`".into(),
                Some("the API server accepted it so; list the runtime class names pods may use, or `*`".into()),
            );
        }
        let mut names: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("spec.runtimeClass.allowedRuntimeClassNames[{i}]");
            let Some(name) = item.as_str() else {
                self.type_error(item, &path, "a string");
                continue;
            };
            if name != "*" && !is_dns_subdomain(name) {
                self.error(
                    item,
                    format!("`{path}` `{}` is not a RuntimeClass name", name.escape_debug()),
                    Some("RuntimeClass names are lowercase letters, digits, `-` and `.`, or `*` for any".into()),
                );
            }
            if names.iter().any(|n| n == name) {
                self.error(
                    item,
                    format!("`{path}` repeats `{}`", name.escape_debug()),
                    Some("the API server refuses duplicate RuntimeClass names; remove one".into()),
                );
            }
            names.push(name.to_string());
        }
        if names.len() > 1 && names.iter().any(|n| n == "*") {
            self.error(
                n.get("allowedRuntimeClassNames").unwrap_or(n),
                "`spec.runtimeClass.allowedRuntimeClassNames` lists `*` together with other names".into(),
                Some("`*` already allows every RuntimeClass; the API server refuses other names next to it".into()),
            );
        }
        let set = NameSet::only(names.iter().cloned());
        if let Some(dn) = n.get("defaultRuntimeClassName") {
            match dn.as_str() {
                Some(d) => {
                    if !is_dns_subdomain(d) {
                        self.error(
                            dn,
                            format!("`spec.runtimeClass.defaultRuntimeClassName` `{}` is not a RuntimeClass name", d.escape_debug()),
                            Some("RuntimeClass names are lowercase letters, digits, `-` and `.`".into()),
                        );
                    } else if !set.contains(d) {
                        self.error(
                            dn,
                            format!("`spec.runtimeClass.defaultRuntimeClassName` `{d}` is not in `allowedRuntimeClassNames`"),
                            None,
                        );
                    }
                    self.default(
                        DefaultAction::RuntimeClass {
                            name: d.to_string(),
                        },
                        "spec.runtimeClass.defaultRuntimeClassName",
                        Some(dn),
                    );
                }
                None => {
                    self.type_error(dn, "spec.runtimeClass.defaultRuntimeClassName", "a string")
                }
            }
        }
        self.rule(
            Constraint::RuntimeClass { allowed: set },
            "spec.runtimeClass.allowedRuntimeClassNames",
            Some(n),
        );
    }

    /// Reads a profile annotation as the API server validated it: an `allowedProfileNames` list
    /// is split on `,` without trimming (a space next to a comma is part of the name), a
    /// `defaultProfileName` is one profile, and `*` is allowed only in a seccomp list.
    fn profile_annotation(
        &mut self,
        key: &str,
        valid: fn(&str) -> bool,
        what: &str,
    ) -> Option<(Vec<String>, &'a Node)> {
        let (v, n) = annotation(self.o, key)?;
        if v.is_empty() {
            // The API server skips an empty value; PSP reads it as unset.
            return Some((vec![], n));
        }
        let list = key.ends_with("allowedProfileNames");
        let entries: Vec<&str> = if list {
            v.split(',').collect()
        } else {
            vec![v]
        };
        let seccomp = what == "seccomp";
        let mut names = Vec::new();
        for name in entries {
            // An empty AppArmor entry passes the API server's check (and matches nothing).
            if name.is_empty() && !seccomp {
                continue;
            }
            let ok = if name == "*" {
                seccomp && list
            } else {
                valid(name)
            };
            if !ok {
                let help = if name.trim() != name {
                    "the API server does not trim spaces around commas; write `a,b`".to_string()
                } else if name == "*" {
                    format!("`*` is allowed only in `{SECCOMP_ALLOWED}`")
                } else if seccomp {
                    "seccomp profiles are `runtime/default`, `docker/default`, `unconfined`, `localhost/<relative path>`, or `*` in the allowed list".into()
                } else {
                    "AppArmor profiles are `runtime/default`, `unconfined` or `localhost/<profile>`"
                        .into()
                };
                self.error(
                    n,
                    format!(
                        "annotation `{key}` has invalid {what} profile `{}`",
                        name.escape_debug()
                    ),
                    Some(help),
                );
            }
            names.push(name.to_string());
        }
        Some((names, n))
    }

    fn seccomp(&mut self) {
        let field = format!("metadata.annotations[{SECCOMP_ALLOWED}]");
        let allowed = self.profile_annotation(SECCOMP_ALLOWED, valid_seccomp, "seccomp");
        let default = self.profile_annotation(SECCOMP_DEFAULT, valid_seccomp, "seccomp");
        let (names, n) = match &allowed {
            Some((names, n)) => (names.clone(), Some(*n)),
            None => (vec![], None),
        };
        // `docker/default` and `runtime/default` are one profile to PSP (since 1.19).
        let set = seccomp_profiles(NameSet::only(names.iter().cloned()));
        // A pod that sets no profile gets the default (seccomp/strategy.go `Generate`) before
        // it is judged: when the default is not allowed, such a pod is rejected, so "unset" is
        // not allowed either (a backend that cannot default must not admit it). When the
        // default is allowed, "unset" stays refused where a list is given: the pod must carry
        // the profile PSP would have written, unless something (a mutating policy) writes it.
        let default_profile = default.as_ref().and_then(|(d, _)| d.first().cloned());
        let default_refused =
            default_profile.is_some_and(|p| set != NameSet::Any && !set.contains(&p));
        let unset_allowed = !default_refused && (names.is_empty() || set == NameSet::Any);
        self.rule(
            Constraint::Seccomp {
                allowed: set.clone(),
                unset_allowed,
                source: ProfileSource::Both,
                scope: Scope::Effective,
            },
            &field,
            n,
        );
        if let Some((d, dn)) = default {
            if let Some(p) = d.first() {
                if !names.is_empty() && !set.contains(p) {
                    self.warn(
                        dn,
                        format!("default seccomp profile `{p}` is not in `{SECCOMP_ALLOWED}`; pods defaulted to it are rejected"),
                        None,
                    );
                } else if names.is_empty() && valid_seccomp(p) {
                    self.warn(
                        dn,
                        format!("default seccomp profile `{p}` without `{SECCOMP_ALLOWED}`: PSP allows no profile, so every pod (defaulted to `{p}`) is rejected"),
                        Some(format!("add `{SECCOMP_ALLOWED}: {p}` to admit pods with the default profile")),
                    );
                }
                self.default(
                    DefaultAction::SeccompProfile { profile: p.clone() },
                    &format!("metadata.annotations[{SECCOMP_DEFAULT}]"),
                    Some(dn),
                );
            }
        }
    }

    fn apparmor(&mut self) {
        let allowed = self.profile_annotation(APPARMOR_ALLOWED, valid_apparmor, "AppArmor");
        let default = self.profile_annotation(APPARMOR_DEFAULT, valid_apparmor, "AppArmor");
        if let Some((names, n)) = allowed {
            let set = NameSet::only(names.iter().cloned());
            self.rule(
                // apparmor/strategy.go: once the annotation is present (even `""`, which splits
                // to `[""]`), a container without a profile is refused ("AppArmor profile must
                // be set").
                Constraint::AppArmor {
                    unset_allowed: false,
                    allowed: set,
                    scope: Scope::Effective,
                },
                &format!("metadata.annotations[{APPARMOR_ALLOWED}]"),
                Some(n),
            );
        }
        if let Some((d, dn)) = default {
            if let Some(p) = d.first() {
                self.default(
                    DefaultAction::AppArmorProfile { profile: p.clone() },
                    &format!("metadata.annotations[{APPARMOR_DEFAULT}]"),
                    Some(dn),
                );
            }
        }
    }
}

/// A Kubernetes object name (RFC 1123 DNS subdomain).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn ranges_first_min(r: &[IdRange]) -> i64 {
    r.first().map(|r| r.min).unwrap_or(0)
}

/// A seccomp profile the API server accepts (`ValidateSeccompProfile`): a local profile is a
/// relative path without `..`.
fn valid_seccomp(p: &str) -> bool {
    matches!(p, "runtime/default" | "docker/default" | "unconfined")
        || p.strip_prefix("localhost/")
            .is_some_and(|r| !r.starts_with('/') && !r.split('/').any(|seg| seg == ".."))
}

/// An AppArmor profile the API server accepts (`ValidateAppArmorProfileFormat`).
fn valid_apparmor(p: &str) -> bool {
    matches!(p, "runtime/default" | "unconfined") || p.starts_with("localhost/")
}

fn article(type_name: &str) -> &'static str {
    match type_name.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => "an",
        _ => "a",
    }
}

fn quote_list(items: &[&str]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    q.join(", ")
}

pub use crate::diag::suggest;

/// A sysctl name (`net.core.somaxconn`) or pattern (`kernel.msg*`, `*`).
pub fn valid_sysctl_pattern(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    // PSP's pattern has no `/` separator (pods' sysctl names gained it, PSP's never did), and a
    // name is at most 253 characters.
    if s.len() > 253 || s.contains('/') {
        return false;
    }
    let (body, pattern) = match s.strip_suffix('*') {
        Some(b) => (b, true),
        None => (s, false),
    };
    if body.is_empty() {
        return false;
    }
    let segs: Vec<&str> = body.split('.').collect();
    segs.iter().enumerate().all(|(i, seg)| {
        let last = i == segs.len() - 1;
        if seg.is_empty() {
            return pattern && last;
        }
        let ok_chars = seg
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        let alnum =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        ok_chars && alnum(seg.chars().next()) && (pattern && last || alnum(seg.chars().last()))
    })
}

/// Whether two sysctl names/patterns can match a common sysctl.
fn sysctl_overlap(a: &str, b: &str) -> bool {
    let pa = a.strip_suffix('*');
    let pb = b.strip_suffix('*');
    match (pa, pb) {
        (None, None) => a == b,
        (Some(p), None) => b.starts_with(p),
        (None, Some(p)) => a.starts_with(p),
        (Some(p), Some(q)) => p.starts_with(q) || q.starts_with(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_patterns() {
        assert!(valid_sysctl_pattern("net.core.somaxconn"));
        assert!(valid_sysctl_pattern("kernel.msg*"));
        assert!(valid_sysctl_pattern("kernel.*"));
        assert!(valid_sysctl_pattern("*"));
        assert!(!valid_sysctl_pattern("Kernel.x"));
        assert!(!valid_sysctl_pattern("a..b"));
        assert!(!valid_sysctl_pattern(""));
        assert!(sysctl_overlap("kernel.*", "kernel.msgmax"));
        assert!(!sysctl_overlap("net.*", "kernel.msgmax"));
    }

    #[test]
    fn images() {
        assert_eq!(
            parse_image_list("[nginx, 'busybox']"),
            vec!["nginx", "busybox"]
        );
        assert!(parse_image_list("[]").is_empty());
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest(
                "mustrunasnonroot",
                &["MustRunAs", "MustRunAsNonRoot", "RunAsAny"]
            ),
            Some("MustRunAsNonRoot")
        );
        assert_eq!(suggest("hostpath", VOLUME_TYPES), Some("hostPath"));
    }
}
